import { expect } from 'chai';
import { KafkaDeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { applyReset, partitionLags, planReset, targetOffsets } from '../../src/adapters/kafka/groups';
import { ensureTopics } from '../../src/adapters/kafka/kafka';
import { KeyedConsumer } from '../../src/adapters/kafka/keyed-consumer';
import { PgDeadLetterIndex } from '../../src/adapters/postgres/dead-letter-index';
import { SyncError } from '../../src/domain/errors';
import { readLastErrors } from '../../src/app/status';
import { eventually, stateDb, testKafka, uniqueSuffix } from './support/stack';

/**
 * Issue 19 §3 on the real stack: a replay of a group (`resync --to earliest`) that fails the same messages again
 * does not add second copies to the dead-letter topic — a dead letter is identified by its stage and source position
 * (table dead_letter) — while a dead letter that was replayed (`dlq replay`, table dlq_replay) and fails again is a
 * new one.
 */
describe('a replay of a group does not dead-letter the same event twice (real Kafka and PostgreSQL)', function () {
  this.timeout(120_000);
  const kafka = testKafka();
  const suffix = uniqueSuffix();
  const topic = `test.dlq-replay-${suffix}`;
  const dlq = `${topic}.dlq`;
  const groupId = `test-dlq-replay-${suffix}`;
  const otherGroup = `${groupId}-other`;
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const index = new PgDeadLetterIndex(stateDb());

  before(async () => {
    await admin.connect();
    await ensureTopics(admin, [
      { topic, numPartitions: 2, replicationFactor: 1 },
      { topic: dlq, numPartitions: 1, replicationFactor: 1 },
    ]);
    await producer.connect();
  });
  after(async () => {
    await producer.disconnect();
    await admin.deleteGroups([groupId, otherGroup]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
    await admin.disconnect();
    await stateDb().query(`DELETE FROM dead_letter WHERE source_topic = $1`, [topic]);
    await stateDb().query(`DELETE FROM dlq_replay WHERE dlq_topic = $1`, [dlq]);
  });

  async function dlqDepth(): Promise<number> {
    const offsets = await admin.fetchTopicOffsets(dlq);
    return offsets.reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
  }

  /** Runs the group until it has committed the end of the topic; every message fails as malformed. */
  async function runToEnd(group = groupId): Promise<void> {
    const kc = new KeyedConsumer({
      kafka,
      groupId: group,
      topics: [topic],
      stage: 'test-replay',
      concurrency: 4,
      retry: { initialMs: 10, maxMs: 20, multiplier: 2, maxAttempts: 2, jitter: 0 },
      deadLetters: new KafkaDeadLetterPublisher(producer, dlq, undefined, index),
      handler: async (m) => {
        throw new SyncError(
          'MALFORMED_EVENT',
          `event ${m.offset} is malformed: before.active: expected boolean`,
        );
      },
    });
    await kc.start();
    try {
      await eventually(
        async () => {
          const lags = await partitionLags(admin, group, [topic]);
          return lags.length > 0 && lags.every((l) => l.committed !== null && l.lag === 0) ? true : undefined;
        },
        60_000,
        'the group at the end of the topic',
      );
    } finally {
      await kc.stop();
    }
  }

  async function resetToEarliest(): Promise<void> {
    const rows = planReset(
      await partitionLags(admin, groupId, [topic]),
      await targetOffsets(admin, [topic], { kind: 'earliest' }),
    );
    await applyReset(kafka, admin, groupId, rows);
  }

  it('two replays leave one dead letter per event; a replayed dead letter that fails again is a new one', async () => {
    await producer.send({
      topic,
      messages: [
        { key: 'a', value: 'x', partition: 0 },
        { key: 'b', value: 'y', partition: 1 },
      ],
    });
    await runToEnd();
    expect(await dlqDepth()).to.equal(2);
    const shown = (await readLastErrors(stateDb())).filter((e) => e.aggregateKey.startsWith(`${topic}[`));
    expect(
      shown.map((e) => [e.stage, e.aggregateKey, e.errorCode, e.errorMessage]).sort(),
      "status's last errors show them, with the whole reason",
    ).to.deep.equal([
      [
        'test-replay',
        `${topic}[0]@0`,
        'MALFORMED_EVENT',
        'event 0 is malformed: before.active: expected boolean',
      ],
      [
        'test-replay',
        `${topic}[1]@0`,
        'MALFORMED_EVENT',
        'event 0 is malformed: before.active: expected boolean',
      ],
    ]);

    await resetToEarliest();
    await runToEnd();
    await resetToEarliest();
    await runToEnd();
    expect(await dlqDepth(), 'two replays: still 2 dead letters, not 6').to.equal(2);
    const rows = await stateDb().query(
      `SELECT source_partition, source_offset::text, code, reason, repeats, dlq_topic, dlq_offset
         FROM dead_letter WHERE source_topic = $1 ORDER BY source_partition`,
      [topic],
    );
    expect(
      rows.rows.map((r) => [r.source_partition, r.source_offset, r.code, r.repeats, r.dlq_topic]),
    ).to.deep.equal([
      [0, '0', 'MALFORMED_EVENT', 2, dlq],
      [1, '0', 'MALFORMED_EVENT', 2, dlq],
    ]);
    expect(rows.rows[0].reason).to.equal('event 0 is malformed: before.active: expected boolean');

    // `dlq replay` of the copy of partition 0 (recorded as the CLI records it), then the group replays again
    await stateDb().query(
      `INSERT INTO dlq_replay (dlq_topic, dlq_partition, dlq_offset, source_topic, source_partition)
       SELECT $1, 0, dlq_offset, source_topic, source_partition FROM dead_letter
        WHERE source_topic = $2 AND source_partition = 0`,
      [dlq, topic],
    );
    await resetToEarliest();
    await runToEnd();
    expect(await dlqDepth(), 'the replayed one failed again: a new dead letter').to.equal(3);
  });

  it("another consumer group reading the same source has dead letters of its own (regression: one group's copy hid another group's dead letter)", async () => {
    const before = await dlqDepth();
    expect(before, 'the first test left dead letters of the first group').to.be.greaterThan(0);
    await runToEnd(otherGroup);
    expect(await dlqDepth(), "the other group's own two dead letters").to.equal(before + 2);
    const rows = await stateDb().query(
      `SELECT consumer_group, count(*)::int AS n FROM dead_letter WHERE source_topic = $1 GROUP BY 1 ORDER BY 1`,
      [topic],
    );
    expect(rows.rows.map((r) => [r.consumer_group, r.n])).to.deep.equal([
      [groupId, 2],
      [otherGroup, 2],
    ]);
  });
});
