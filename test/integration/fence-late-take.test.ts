import { expect } from 'chai';
import type { Pool } from 'pg';
import { testPool } from '../support/pg';
import { KafkaDeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { ensureTopics } from '../../src/adapters/kafka/kafka';
import { KeyedConsumer, KeyedConsumerEvent } from '../../src/adapters/kafka/keyed-consumer';
import { checkFence, PgPartitionFence } from '../../src/adapters/postgres/fence';
import { FencedError } from '../../src/domain/errors';
import {
  createStateSchema,
  eventually,
  stateDb,
  stateUrlFor,
  testKafka,
  uniqueSuffix,
} from './support/stack';

/**
 * Issue 15, the fence-take race: a process assigned a partition in an earlier generation whose take commits late (it
 * was slow or paused between its join and its take) holds a newer epoch than the partition's current owner, which is
 * then fenced although the group still assigns the partition to it. Nothing else would take it before the next
 * rebalance. The owner proves it is still in its generation (two heartbeats answered) and takes it again. Real
 * broker, real state database.
 */
describe('fencing: a late take of an earlier assignment does not stall the partition (real Kafka and PostgreSQL)', function () {
  this.timeout(120_000);
  const kafka = testKafka();
  const schema = `fence_late_${uniqueSuffix()}`;
  let pool: Pool;

  before(async () => {
    await createStateSchema(schema);
    pool = testPool({ connectionString: stateUrlFor(schema), max: 4 });
  });
  after(async () => {
    await pool?.end();
    await stateDb().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('the owner fenced by the late take takes the partition again after two answered heartbeats and handles every message once', async () => {
    const topic = `test.fence-late-${uniqueSuffix()}`;
    const groupId = `test-fence-late-${uniqueSuffix()}`;
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [
      { topic, numPartitions: 1, replicationFactor: 1 },
      { topic: `${topic}.dlq`, numPartitions: 1, replicationFactor: 1 },
    ]);
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    const handled: { offset: string; epoch: string }[] = [];
    let fenced = 0;
    const events: KeyedConsumerEvent[] = [];
    const kc = new KeyedConsumer({
      kafka,
      groupId,
      topics: [topic],
      handler: async (m, ctx) => {
        try {
          await checkFence(pool, ctx.fence!);
        } catch (e) {
          if (e instanceof FencedError) fenced++;
          throw e;
        }
        handled.push({ offset: m.offset, epoch: ctx.fence!.epoch });
      },
      deadLetters: new KafkaDeadLetterPublisher(producer, `${topic}.dlq`),
      stage: 'test',
      retry: { initialMs: 20, maxMs: 200, multiplier: 2, maxAttempts: 5, jitter: 0 },
      concurrency: 4,
      heartbeatInterval: 500,
      onEvent: (e) => events.push(e),
      fence: new PgPartitionFence(pool, groupId, 'owner', 0),
    });
    try {
      await kc.start();
      await producer.send({ topic, messages: [{ key: 'a', value: 'before' }] });
      await eventually(
        async () => (handled.length === 1 ? true : undefined),
        60_000,
        'the first message handled',
      );
      const ours = handled[0].epoch;

      // the late take: another process's take of the same partition, for an assignment it no longer has
      const late = new PgPartitionFence(pool, groupId, 'late', 0);
      late.assigned({ [topic]: [0] });
      const lateEpoch = (await late.token(topic, 0)).epoch;
      expect(BigInt(lateEpoch) > BigInt(ours), 'the late take holds the newer epoch').to.equal(true);

      const t0 = Date.now();
      await producer.send({ topic, messages: [{ key: 'a', value: 'after' }] });
      await eventually(
        async () => (handled.length === 2 ? true : undefined),
        60_000,
        'the second message handled',
      );
      const recoveredMs = Date.now() - t0;
      const row = await pool.query<{ epoch: string; owner: string }>(
        'SELECT epoch::text AS epoch, owner FROM sync_fence WHERE group_id = $1',
        [groupId],
      );
      console.log(
        `      late take ${lateEpoch} over ${ours}: fenced ${fenced}×, partition paused ${events.filter((e) => e.type === 'paused').length}×, retaken with epoch ${row.rows[0].epoch}, handled again after ${recoveredMs} ms`,
      );
      expect(fenced, 'the late take fenced the owner (the fault landed)').to.be.greaterThan(0);
      expect(row.rows[0].owner).to.equal('owner');
      expect(BigInt(row.rows[0].epoch) > BigInt(lateEpoch), 'retaken with a newer epoch').to.equal(true);
      expect(handled[1]).to.deep.equal({ offset: '1', epoch: row.rows[0].epoch });
      // nothing handled twice, nothing dead-lettered
      expect(handled.map((h) => h.offset)).to.deep.equal(['0', '1']);
      expect(events.filter((e) => e.type === 'dead-letter')).to.have.length(0);
    } finally {
      await kc.stop();
      await producer.disconnect();
    }
  });
});
