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
  return { onBatch, events, deadLettered, paused };
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
});
