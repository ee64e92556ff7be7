/**
 * Issue 15 defect 1, "rebalance dead-letters successes": a heartbeat that fails during a rebalance must not turn a
 * message whose handler succeeded into a failure (no retry, no dead letter, no ledger write of `dead_lettered`); it
 * stops the batch, and the partition's next owner resumes after the committed watermark. Scripted kafkajs batch, no
 * broker (like stream-keyed-consumer-commits.test.ts).
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { KeyedConsumer, KeyedConsumerEvent, MessageHandler } from '../../src/adapters/kafka/keyed-consumer';
import type { DeadLetter, DeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { outcomeMayReplace, type IntentOutcome } from '../../src/adapters/postgres/ledger';
import { kafkaMessage } from './support/kafka-batch';

class RebalanceInProgress extends Error {
  readonly type = 'REBALANCE_IN_PROGRESS';
  readonly retriable = false;
  constructor() {
    super('The group is rebalancing, so a rejoin is needed');
    this.name = 'KafkaJSProtocolError';
  }
}

/** A batch whose heartbeats fail from the `failFrom`-th call on (a rebalance started), commits answer at once. */
function rebalancingPayload(messages: KafkaMessage[], failFrom: number) {
  const commits: string[] = [];
  let heartbeats = 0;
  const payload = {
    batch: { topic: 't', partition: 0, messages },
    resolveOffset: () => undefined,
    heartbeat: async () => {
      heartbeats++;
      if (heartbeats >= failFrom) throw new RebalanceInProgress();
    },
    isRunning: () => true,
    isStale: () => false,
    commitOffsetsIfNecessary: async (o: { topics: { partitions: { offset: string }[] }[] }) => {
      commits.push(o.topics[0].partitions[0].offset);
    },
  } as unknown as EachBatchPayload;
  return { payload, commits, heartbeats: () => heartbeats };
}

function keyedConsumer(handler: MessageHandler, concurrency = 1) {
  const events: KeyedConsumerEvent[] = [];
  const deadLettered: DeadLetter[] = [];
  const ledgerDeadLetters: string[] = [];
  const deadLetters: DeadLetterPublisher = { publish: async (d) => void deadLettered.push(d) };
  const kc = new KeyedConsumer({
    kafka: {} as Kafka,
    groupId: 'g',
    topics: ['t'],
    handler,
    deadLetters,
    stage: 'unit',
    retry: { initialMs: 1, maxMs: 2, multiplier: 2, maxAttempts: 2, jitter: 0 },
    concurrency,
    onEvent: (e) => events.push(e),
    onDeadLettered: async (m) => void ledgerDeadLetters.push(m.offset),
  });
  const onBatch = (payload: EachBatchPayload) =>
    (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(payload);
  return { onBatch, events, deadLettered, ledgerDeadLetters };
}

describe('rebalance dead-letters successes (issue 15 defect 1)', () => {
  it('a heartbeat failing after a successful handler neither retries nor dead-letters the message', async () => {
    const handled: string[] = [];
    const kc = keyedConsumer(async (m) => void handled.push(m.offset));
    const { payload, commits } = rebalancingPayload([kafkaMessage(0, 'a')], 1);
    await kc.onBatch(payload);
    expect(handled, 'handled once, not retried').to.deep.equal(['0']);
    expect(kc.deadLettered, 'nothing dead-lettered').to.have.length(0);
    expect(kc.ledgerDeadLetters, 'no dead_lettered ledger record').to.have.length(0);
    expect(kc.events.filter((e) => e.type === 'retry')).to.have.length(0);
    expect(
      kc.events.filter((e) => e.type === 'processed').map((e) => 'offset' in e && e.offset),
    ).to.deep.equal(['0']);
    expect(commits.at(-1), 'the success is committed').to.equal('1');
  });

  it('a failed heartbeat stops the batch: later messages are left to the next owner, unfinished', async () => {
    const handled: string[] = [];
    const kc = keyedConsumer(async (m) => void handled.push(m.offset));
    const { payload, commits } = rebalancingPayload(
      [kafkaMessage(0, 'a'), kafkaMessage(1, 'a'), kafkaMessage(2, 'a'), kafkaMessage(3, 'a')],
      2,
    );
    await kc.onBatch(payload);
    expect(handled, 'the batch stopped after the failing heartbeat').to.deep.equal(['0', '1']);
    expect(kc.deadLettered).to.have.length(0);
    expect(kc.ledgerDeadLetters).to.have.length(0);
    expect(commits.at(-1), 'committed up to the last success; the next owner resumes at 2').to.equal('2');
  });

  it('a heartbeat failing after a dead letter does not crash the batch or dead-letter again', async () => {
    const kc = keyedConsumer(async () => {
      throw Object.assign(new Error('bad input'), { code: 'MALFORMED_EVENT' });
    });
    const { payload } = rebalancingPayload([kafkaMessage(5, 'a'), kafkaMessage(6, 'a')], 1);
    await kc.onBatch(payload);
    expect(
      kc.deadLettered.map((d) => d.message.offset),
      'the real failure is dead-lettered once; 6 waits for the next owner',
    ).to.deep.equal(['5']);
    expect(
      kc.events.filter((e) => e.type === 'paused'),
      'not treated as a crashed handler',
    ).to.have.length(0);
  });

  it('ledger outcomes are monotonic: applied is final (applied > skipped > dead_lettered > failed)', () => {
    const all: IntentOutcome[] = ['failed', 'dead_lettered', 'skipped', 'applied'];
    for (const next of all) expect(outcomeMayReplace('applied', next), `applied → ${next}`).to.equal(false);
    expect(outcomeMayReplace('skipped', 'dead_lettered')).to.equal(false);
    expect(outcomeMayReplace('dead_lettered', 'applied')).to.equal(true);
    expect(
      outcomeMayReplace('dead_lettered', 'dead_lettered'),
      'a later dead letter records its attempt',
    ).to.equal(true);
    expect(outcomeMayReplace('failed', 'skipped')).to.equal(true);
  });
});

describe('heartbeats while a batch runs (session timeout 10 s)', () => {
  function slowConsumer(handlerMs: number, maxIdleMs: number) {
    const kc = new KeyedConsumer({
      kafka: {} as Kafka,
      groupId: 'g',
      topics: ['t'],
      handler: () => new Promise((r) => setTimeout(r, handlerMs)),
      deadLetters: { publish: async () => undefined },
      stage: 'unit',
      retry: { initialMs: 1, maxMs: 2, multiplier: 2, maxAttempts: 2, jitter: 0 },
      concurrency: 1,
      heartbeatInterval: 10,
      maxIdleMs,
    });
    return (payload: EachBatchPayload) =>
      (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(payload);
  }

  it('keeps heartbeating during one long handler run, not only after each finished message', async () => {
    const { payload, heartbeats } = rebalancingPayload([kafkaMessage(0, 'a')], Infinity);
    await slowConsumer(120, 60_000)(payload);
    expect(heartbeats(), 'ticker heartbeats during the 120 ms handler, plus the one after it').to.be.at.least(
      5,
    );
  });

  it('falls silent when nothing finished for maxIdleMs (the broker then hands the partition on)', async () => {
    const { payload, heartbeats } = rebalancingPayload([kafkaMessage(0, 'a')], Infinity);
    await slowConsumer(150, 30)(payload);
    expect(
      heartbeats(),
      'about 30 ms of ticker heartbeats, then only the one after the message',
    ).to.be.at.most(4);
  });

  it('a ticker heartbeat that fails stops the batch without failing the running message', async () => {
    const handled: string[] = [];
    const deadLettered: string[] = [];
    const kc = new KeyedConsumer({
      kafka: {} as Kafka,
      groupId: 'g',
      topics: ['t'],
      handler: async (m) => {
        await new Promise((r) => setTimeout(r, 60));
        handled.push(m.offset);
      },
      deadLetters: { publish: async (d) => void deadLettered.push(d.message.offset) },
      stage: 'unit',
      retry: { initialMs: 1, maxMs: 2, multiplier: 2, maxAttempts: 2, jitter: 0 },
      concurrency: 1,
      heartbeatInterval: 10,
    });
    const { payload, commits } = rebalancingPayload([kafkaMessage(0, 'a'), kafkaMessage(1, 'a')], 2);
    await (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(payload);
    expect(handled, 'the running message finished; the next one was left').to.deep.equal(['0']);
    expect(deadLettered).to.deep.equal([]);
    expect(commits.at(-1)).to.equal('1');
  });
});
