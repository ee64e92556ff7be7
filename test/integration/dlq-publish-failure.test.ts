import { expect } from 'chai';
import { KafkaDeadLetterPublisher, type DeadLetter } from '../../src/adapters/kafka/dlq';
import { partitionLags } from '../../src/adapters/kafka/groups';
import { ensureTopics } from '../../src/adapters/kafka/kafka';
import { KeyedConsumer, type KeyedConsumerEvent } from '../../src/adapters/kafka/keyed-consumer';
import { PgDeadLetterIndex } from '../../src/adapters/postgres/dead-letter-index';
import { SyncError } from '../../src/domain/errors';
import { eventually, stateDb, testKafka, uniqueSuffix } from './support/stack';

/**
 * Issue 15 §7 on the real stack: the dead-letter topic cannot be written for a while (the producer fails every send,
 * as with brokers unavailable: kafkajs gives up with KafkaJSNumberOfRetriesExceeded). The partition pauses with a
 * growing backoff — no hot loop —, commits nothing past the message that waits for its dead letter, and once the
 * topic is writable again every dead letter is there once and every other message was handled once.
 */
describe('a dead-letter topic that fails for a while (issue 15 §7, real Kafka and PostgreSQL)', function () {
  this.timeout(120_000);
  const kafka = testKafka();
  const sfx = uniqueSuffix();
  const topic = `test.dlq-outage-${sfx}`;
  const dlq = `${topic}.dlq`;
  const groupId = `test-dlq-outage-${sfx}`;
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

  before(async () => {
    await admin.connect();
    await ensureTopics(admin, [
      { topic, numPartitions: 1, replicationFactor: 1 },
      { topic: dlq, numPartitions: 1, replicationFactor: 1 },
    ]);
    await producer.connect();
  });
  after(async () => {
    await producer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
    await admin.disconnect();
    await stateDb().query(`DELETE FROM dead_letter WHERE source_topic = $1`, [topic]);
  });

  it('pauses with backoff, commits nothing past the waiting message, and afterwards every message arrives once', async () => {
    // 30 messages on one partition; every 10th (offsets 4, 14, 24) is malformed
    await producer.send({
      topic,
      messages: Array.from({ length: 30 }, (_, i) => ({
        key: `k${i % 5}`,
        value: `${i % 10 === 4 ? 'bad' : 'ok'}-${i}`,
      })),
    });
    let outage = true;
    let refused = 0;
    const inner = new KafkaDeadLetterPublisher(producer, dlq, undefined, new PgDeadLetterIndex(stateDb()));
    const publisher = {
      publish: async (d: DeadLetter) => {
        if (outage) {
          refused++;
          throw Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), {
            name: 'KafkaJSNumberOfRetriesExceeded',
          });
        }
        return inner.publish(d);
      },
    };
    const handled = new Map<string, number>();
    const events: KeyedConsumerEvent[] = [];
    const kc = new KeyedConsumer({
      kafka,
      groupId,
      topics: [topic],
      stage: 'test-dlq-outage',
      concurrency: 4,
      retry: { initialMs: 200, maxMs: 1600, multiplier: 2, maxAttempts: 3, jitter: 0 },
      deadLetters: publisher,
      onEvent: (e) => events.push(e),
      handler: async (m) => {
        handled.set(m.offset, (handled.get(m.offset) ?? 0) + 1);
        if (m.value?.toString().startsWith('bad'))
          throw new SyncError('MALFORMED_EVENT', `event ${m.offset} is malformed`);
      },
    });
    await kc.start();
    try {
      await eventually(async () => (refused >= 4 ? true : undefined), 60_000, 'four refused dead letters');
      const lags = await partitionLags(admin, groupId, [topic]);
      const committed =
        lags[0]?.committed === null || lags[0]?.committed === undefined ? 0n : BigInt(lags[0].committed);
      expect(committed <= 4n, `committed ${committed}: nothing past the waiting message (offset 4)`).to.equal(
        true,
      );
      const delays = events.flatMap((e) => (e.type === 'dead-letter-failed' ? [e.delayMs] : []));
      expect(delays.slice(0, 4), 'the backoff grows').to.deep.equal([200, 400, 800, 1600]);
      expect(handled.get('4'), 'the handler of the waiting message ran once').to.equal(1);
      outage = false; // the topic is back
      await eventually(
        async () => {
          const l = await partitionLags(admin, groupId, [topic]);
          return l.length > 0 && l.every((x) => x.committed !== null && x.lag === 0) ? true : undefined;
        },
        60_000,
        'the group at the end of the topic',
      );
    } finally {
      await kc.stop();
    }
    const ends = await admin.fetchTopicOffsets(dlq);
    const inDlq = ends.reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
    expect(inDlq, 'each dead letter once in the topic').to.equal(3);
    expect(
      events.filter((e) => e.type === 'dead-letter').map((e) => (e.type === 'dead-letter' ? e.offset : '')),
    ).to.deep.equal(['4', '14', '24']);
    expect([...handled.keys()].length, 'every message handled').to.equal(30);
    expect(
      ['4', '14', '24'].map((o) => handled.get(o)),
      'no dead-lettered message handled twice',
    ).to.deep.equal([1, 1, 1]);
  });
});
