/**
 * The keyed consumer's batch handling with a scripted kafkajs batch payload (no broker): offset commits run beside
 * the handlers, not in their path. The broker-backed behaviour (order, dead letters, retries, resume after a crash)
 * is in test/integration/keyed-consumer.test.ts.
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { KeyedConsumer, KeyedConsumerEvent, MessageHandler } from '../../src/adapters/kafka/keyed-consumer';
import type { DeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { kafkaMessage } from './support/kafka-batch';

interface Commit {
  offset: string;
  release: () => void;
  fail: (e: Error) => void;
}

/** A batch payload whose commits stay in flight until the test releases or fails them. */
function scriptedPayload(messages: KafkaMessage[]) {
  const commits: Commit[] = [];
  const payload = {
    batch: { topic: 't', partition: 0, messages },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
    commitOffsetsIfNecessary: (o: { topics: { partitions: { offset: string }[] }[] }) =>
      new Promise<void>((resolve, reject) => {
        commits.push({ offset: o.topics[0].partitions[0].offset, release: resolve, fail: reject });
      }),
  } as unknown as EachBatchPayload;
  return { payload, commits };
}

function keyedConsumer(handler: MessageHandler, events: KeyedConsumerEvent[]) {
  const deadLetters: DeadLetterPublisher = {
    publish: async () => undefined,
  } as unknown as DeadLetterPublisher;
  const kc = new KeyedConsumer({
    kafka: {} as Kafka,
    groupId: 'g',
    topics: ['t'],
    handler,
    deadLetters,
    stage: 'unit',
    retry: { initialMs: 10, maxMs: 100, multiplier: 2, maxAttempts: 3, jitter: 0 },
    concurrency: 4,
    onEvent: (e) => events.push(e),
  });
  return (payload: EachBatchPayload) =>
    (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(payload);
}

const tick = () => new Promise((r) => setImmediate(r));

describe('keyed consumer commits (scripted batch, no broker)', () => {
  it("finishes a key's later messages while an offset commit is still in flight", async () => {
    const handled: string[] = [];
    const events: KeyedConsumerEvent[] = [];
    const onBatch = keyedConsumer(async (m) => void handled.push(m.offset), events);
    const { payload, commits } = scriptedPayload([
      kafkaMessage(0, 'a'),
      kafkaMessage(1, 'a'),
      kafkaMessage(2, 'a'),
      kafkaMessage(3, 'b'),
    ]);
    const done = onBatch(payload);
    for (let i = 0; i < 20 && (handled.length < 4 || commits.length < 1); i++) await tick();
    expect(handled, 'every message handled before the first commit was answered').to.deep.equal([
      '0',
      '3',
      '1',
      '2',
    ]);
    expect(commits.length, 'a commit was sent').to.be.at.least(1);
    expect(commits[0].offset).to.equal('1');
    commits[0].release();
    for (let i = 0; i < 20 && commits.length < 2; i++) await tick();
    expect(commits[1].offset, 'the final commit covers the whole batch').to.equal('4');
    commits[1].release();
    await done;
    expect(events.filter((e) => e.type === 'processed')).to.have.length(4);
    const batches = events.filter((e) => e.type === 'batch');
    expect(batches).to.have.length(1);
    expect(batches[0]).to.include({ topic: 't', partition: 0, messages: 4 });
  });

  it("the commits of several partitions' batches asked meanwhile leave as one OffsetCommit request (issue 17)", async () => {
    const requests: { topic: string; partitions: { partition: number; offset: string }[] }[][] = [];
    const kc = new KeyedConsumer({
      kafka: {} as Kafka,
      groupId: 'g',
      topics: ['t', 'u'],
      handler: async () => undefined,
      deadLetters: { publish: async () => undefined } as unknown as DeadLetterPublisher,
      stage: 'unit',
      retry: { initialMs: 10, maxMs: 100, multiplier: 2, maxAttempts: 3, jitter: 0 },
      concurrency: 4,
    });
    const onBatch = (p: EachBatchPayload) =>
      (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(p);
    const payload = (topic: string, partition: number, messages: KafkaMessage[]) =>
      ({
        batch: { topic, partition, messages },
        resolveOffset: () => undefined,
        heartbeat: async () => undefined,
        isRunning: () => true,
        isStale: () => false,
        commitOffsetsIfNecessary: async (o: { topics: (typeof requests)[number] }) =>
          void requests.push(o.topics),
      }) as unknown as EachBatchPayload;
    await Promise.all([
      onBatch(payload('t', 0, [kafkaMessage(5, 'a')])),
      onBatch(payload('t', 1, [kafkaMessage(7, 'b'), kafkaMessage(8, 'c')])),
      onBatch(payload('u', 2, [kafkaMessage(1, 'd')])),
    ]);
    const committed = requests.flatMap((r) =>
      r.flatMap((t) => t.partitions.map((p) => `${t.topic}[${p.partition}]@${p.offset}`)),
    );
    expect(requests.length, 'fewer requests than partitions').to.be.lessThan(3);
    expect([...new Set(committed)].sort()).to.deep.equal(['t[0]@6', 't[1]@9', 'u[2]@2']);
  });

  it('commits at the end of the batch after an earlier commit failed', async () => {
    const events: KeyedConsumerEvent[] = [];
    const onBatch = keyedConsumer(async () => undefined, events);
    const { payload, commits } = scriptedPayload([kafkaMessage(10, 'a'), kafkaMessage(11, 'b')]);
    const done = onBatch(payload);
    for (let i = 0; i < 20 && commits.length < 1; i++) await tick();
    commits[0].fail(new Error('coordinator not available'));
    for (let i = 0; i < 20 && commits.length < 2; i++) await tick();
    expect(
      commits.map((c) => c.offset),
      'the failed commit is sent again at the end',
    ).to.deep.equal(['12', '12']);
    commits[1].release();
    await done;
  });
});
