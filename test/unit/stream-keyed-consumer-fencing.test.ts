/**
 * Issue 15 defect 2, "zombies": the keyed consumer's side of fencing. Every assignment takes the partitions' epochs;
 * each batch hands its partition's token to the handler; a handler that finds the partition taken by another
 * instance (FencedError) stops the batch — the message is neither retried nor dead-lettered nor committed. Scripted
 * kafkajs batch, no broker (like stream-keyed-consumer-rebalance.test.ts).
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { KeyedConsumer, KeyedConsumerEvent, MessageHandler } from '../../src/adapters/kafka/keyed-consumer';
import type { FenceToken, PartitionFence } from '../../src/adapters/postgres/fence';
import { FencedError } from '../../src/domain/errors';
import { batchPayload, kafkaMessage } from './support/kafka-batch';

function payloadOf(messages: KafkaMessage[]) {
  const commits: string[] = [];
  return { payload: batchPayload(messages, commits, 3), commits };
}

class FakeFence implements PartitionFence {
  readonly assignments: Record<string, number[]>[] = [];
  epoch = 7;
  failTakes = 0;
  retakes: string[] = [];
  assigned(a: Record<string, number[]>): void {
    this.assignments.push(a);
    this.epoch++;
  }
  async token(topic: string, partition: number): Promise<FenceToken> {
    if (this.failTakes > 0) {
      this.failTakes--;
      throw new Error('state database unavailable');
    }
    return { groupId: 'g', topic, partition, epoch: String(this.epoch) };
  }
  retake(topic: string, partition: number, stale: FenceToken): Promise<FenceToken> | undefined {
    if (stale.epoch !== String(this.epoch)) return undefined;
    this.retakes.push(stale.epoch);
    this.epoch += 10;
    return this.token(topic, partition);
  }
}

function fencedConsumer(handler: MessageHandler, fence: PartitionFence) {
  const events: KeyedConsumerEvent[] = [];
  const deadLettered: string[] = [];
  const kc = new KeyedConsumer({
    kafka: {} as Kafka,
    groupId: 'g',
    topics: ['t'],
    handler,
    deadLetters: { publish: async (d) => void deadLettered.push(d.message.offset) },
    stage: 'unit',
    retry: { initialMs: 1, maxMs: 2, multiplier: 2, maxAttempts: 3, jitter: 0 },
    concurrency: 4,
    onEvent: (e) => events.push(e),
    fence,
  });
  const paused: number[] = [];
  (kc as unknown as { consumer: unknown }).consumer = {
    pause: () => paused.push(1),
    seek: () => undefined,
    resume: () => undefined,
  };
  const onBatch = (payload: EachBatchPayload) =>
    (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(payload);
  /** a heartbeat the coordinator answered (kafkajs' HEARTBEAT instrumentation event) */
  const heartbeat = () => (kc as unknown as { heartbeats: number }).heartbeats++;
  const join = (a: Record<string, number[]>) => {
    (kc as unknown as { fencedSeen: Map<string, unknown> }).fencedSeen.clear();
    fence.assigned(a);
  };
  return { onBatch, events, deadLettered, paused, heartbeat, join };
}

describe('zombies: fencing in the keyed consumer (issue 15 defect 2)', () => {
  it("every handler run gets its batch's partition token", async () => {
    const seen: (FenceToken | undefined)[] = [];
    const fence = new FakeFence();
    const kc = fencedConsumer(async (_m, ctx) => void seen.push(ctx.fence), fence);
    await kc.onBatch(payloadOf([kafkaMessage(0, 'a'), kafkaMessage(1, 'b')]).payload);
    expect(seen).to.deep.equal([
      { groupId: 'g', topic: 't', partition: 3, epoch: '7' },
      { groupId: 'g', topic: 't', partition: 3, epoch: '7' },
    ]);
  });

  it('a fenced handler stops the batch: not retried, not dead-lettered, nothing of it or after it committed', async () => {
    const handled: string[] = [];
    const fence = new FakeFence();
    const kc = fencedConsumer(async (m, ctx) => {
      handled.push(m.offset);
      if (m.offset === '1') throw new FencedError('taken', { ...ctx.fence });
    }, fence);
    // one key: each message starts after the previous one finished
    const { payload, commits } = payloadOf([
      kafkaMessage(0, 'a'),
      kafkaMessage(1, 'a'),
      kafkaMessage(2, 'a'),
    ]);
    await kc.onBatch(payload);
    expect(handled, 'the fenced message ran once, the next one never started').to.deep.equal(['0', '1']);
    expect(kc.deadLettered, 'nothing dead-lettered').to.deep.equal([]);
    expect(
      kc.events.filter((e) => e.type === 'retry'),
      'no retry',
    ).to.have.length(0);
    expect(kc.events.filter((e) => e.type === 'processed')).to.have.length(1);
    expect(
      commits.every((c) => c === '1'),
      `no commit covers the fenced message (${commits.join(',')})`,
    ).to.equal(true);
  });

  it('the take of the epoch failing (state database down): the batch runs nothing and the partition pauses', async () => {
    const handled: string[] = [];
    const fence = new FakeFence();
    fence.failTakes = 1;
    const kc = fencedConsumer(async (m) => void handled.push(m.offset), fence);
    const { payload, commits } = payloadOf([kafkaMessage(0, 'a')]);
    await kc.onBatch(payload);
    expect(handled).to.deep.equal([]);
    expect(commits).to.deep.equal([]);
    expect(kc.events.filter((e) => e.type === 'paused')).to.have.length(1);
  });

  describe('a late take of an earlier assignment (issue 15: the fence-take race)', () => {
    // epoch 7 is ours; the handler finds epoch 8 (taken late by a process of an earlier generation) until we retake
    function lateTaken() {
      const fence = new FakeFence();
      const handled: string[] = [];
      const kc = fencedConsumer(async (m, ctx) => {
        if (ctx.fence!.epoch === '7') throw new FencedError('taken late', { ...ctx.fence });
        handled.push(`${m.offset}@${ctx.fence!.epoch}`);
      }, fence);
      return { fence, handled, kc };
    }

    it('a member still in its generation (two heartbeats answered after the fence) takes the partition again and goes on', async () => {
      const { fence, handled, kc } = lateTaken();
      await kc.onBatch(payloadOf([kafkaMessage(0, 'a')]).payload);
      expect(
        kc.events.filter((e) => e.type === 'paused'),
        'the fenced partition pauses',
      ).to.have.length(1);
      kc.heartbeat();
      await kc.onBatch(payloadOf([kafkaMessage(0, 'a')]).payload);
      expect(fence.retakes, 'one heartbeat is not proof: no retake yet').to.deep.equal([]);
      expect(handled).to.deep.equal([]);
      kc.heartbeat();
      const { payload, commits } = payloadOf([kafkaMessage(0, 'a'), kafkaMessage(1, 'b')]);
      await kc.onBatch(payload);
      expect(fence.retakes, 'retaken once, from the stale epoch').to.deep.equal(['7']);
      expect(handled, 'the batch ran under the new epoch').to.deep.equal(['0@17', '1@17']);
      expect(commits.at(-1)).to.equal('2');
    });

    it('a zombie (its heartbeats refused) never takes the partition again', async () => {
      const { fence, handled, kc } = lateTaken();
      for (let i = 0; i < 5; i++) await kc.onBatch(payloadOf([kafkaMessage(0, 'a')]).payload);
      expect(kc.events.filter((e) => e.type === 'paused')).to.have.length(5);
      expect(fence.retakes).to.deep.equal([]);
      expect(handled).to.deep.equal([]);
    });

    it('a new assignment replaces the fenced token: no retake, the batch runs under the new take', async () => {
      const { fence, handled, kc } = lateTaken();
      await kc.onBatch(payloadOf([kafkaMessage(0, 'a')]).payload);
      kc.join({ t: [3] });
      kc.heartbeat();
      kc.heartbeat();
      await kc.onBatch(payloadOf([kafkaMessage(0, 'a')]).payload);
      expect(fence.retakes).to.deep.equal([]);
      expect(handled).to.deep.equal(['0@8']);
    });
  });
});
