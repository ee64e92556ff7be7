import { OutboxWakeup } from '../../src/adapters/postgres/outbox-wakeup';
import { expect } from 'chai';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Pool } from 'pg';
import { ensureTopics } from '../../src/adapters/kafka/kafka';
import { SyncError } from '../../src/domain/errors';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { OutboxRelay, OutboxRelayOptions } from '../../src/flows/outbox/relay';
import { appendOutbox } from '../../src/adapters/postgres/outbox-store';
import { subscribeEvents, EventMeta, Subscription } from '../../src/flows/outbox/subscriber';
import type { DecodedEvent } from '../../src/adapters/registry/schemas';
import type { OutboxEvent, SyncEvent } from '../../src/domain/outbox/events';
import { fullInvoiceEvent, fullSyncEvent } from '../../testkit/outbox';
import { REGISTRY_URL, eventually, stateDb, testKafka, uniqueSuffix } from './support/stack';
import { twoBrokerKafka, type TwoBrokerKafka } from '../support/two-broker-kafka';

interface Seen {
  decoded: DecodedEvent;
  meta: EventMeta;
}

/** topics of this run: their outbox rows are deleted at the end */
const usedTopics: string[] = [];

async function setup(registryUrl = REGISTRY_URL) {
  const sfx = uniqueSuffix();
  const topics = {
    syncEvents: `test.outbox-sync-events-${sfx}`,
    invoiceEvents: `test.outbox-invoice-events-${sfx}`,
  };
  usedTopics.push(topics.syncEvents, topics.invoiceEvents);
  const admin = testKafka().admin();
  await admin.connect();
  await ensureTopics(admin, [
    { topic: topics.syncEvents, numPartitions: 3 },
    { topic: topics.invoiceEvents, numPartitions: 1 },
  ]);
  await admin.disconnect();
  const schemas = new EventSchemas({ registryUrl, topics });
  return { sfx, topics, schemas, lockKey: Math.floor(Math.random() * 2 ** 40) + 1 };
}

function syncOutbox(topic: string, aggregateId: string, over: Partial<SyncEvent> = {}): OutboxEvent {
  return { type: 'SyncOutcome', topic, aggregateType: 'contract', aggregateId, payload: fullSyncEvent(over) };
}

const wakeups = new WeakMap<Pool, OutboxWakeup>();
const wakeupOf = (pool: Pool) => wakeups.get(pool) ?? wakeups.set(pool, new OutboxWakeup(pool)).get(pool)!;

async function inTransaction(pool: Pool, commit: boolean, events: OutboxEvent[]): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    for (const e of events) await appendOutbox(c, e);
    await c.query(commit ? 'COMMIT' : 'ROLLBACK');
    if (commit) wakeupOf(pool).poke(); // as the ledger and the invoice poller do after their commit
  } catch (e) {
    await c.query('ROLLBACK');
    throw e;
  } finally {
    c.release();
  }
}

async function tail(
  schemas: EventSchemas,
  topics: string[],
  sfx: string,
): Promise<{ seen: Seen[]; sub: Subscription }> {
  const seen: Seen[] = [];
  const sub = await subscribeEvents({
    kafka: testKafka(),
    registry: schemas,
    topic: topics,
    groupId: `test-outbox-${sfx}-${uniqueSuffix()}`,
    fromBeginning: true,
    onEvent: (decoded, meta) => {
      seen.push({ decoded, meta });
    },
  });
  return { seen, sub };
}

async function pendingIds(eventIds: string[]): Promise<string[]> {
  const { rows } = await stateDb().query<{ event_id: string }>(
    'SELECT event_id::text FROM outbox WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL ORDER BY id',
    [eventIds],
  );
  return rows.map((r) => r.event_id);
}

describe('outbox relay on the real stack', () => {
  const relays: OutboxRelay[] = [];
  const subs: Subscription[] = [];
  const relay = (o: Omit<OutboxRelayOptions, 'pool' | 'kafka'>) => {
    const r = new OutboxRelay({
      pool: stateDb(),
      kafka: testKafka(),
      pollMs: 500,
      retryInitialMs: 100,
      retryMaxMs: 1000,
      ...o,
    });
    relays.push(r);
    return r;
  };
  after(async () => {
    await stateDb().query('DELETE FROM outbox WHERE topic = ANY($1::text[])', [usedTopics]);
  });
  afterEach(async () => {
    for (const r of relays.splice(0)) await r.stop();
    for (const s of subs.splice(0)) await s.stop();
  });

  it('publishes committed rows in order per aggregate with event id headers, never rolled-back ones; woken by NOTIFY', async () => {
    const { sfx, topics, schemas, lockKey } = await setup();
    const published: number[] = [];
    // a long poll interval: only the writer's NOTIFY after its commit can make this fast
    await relay({
      registry: schemas,
      lockKey,
      pollMs: 60_000,
      metrics: { onPublished: (n) => published.push(n) },
    }).start();
    const { seen, sub } = await tail(schemas, [topics.syncEvents, topics.invoiceEvents], sfx);
    subs.push(sub);

    const rolledBack = [
      syncOutbox(topics.syncEvents, 'contract:1'),
      syncOutbox(topics.syncEvents, 'contract:2'),
    ];
    await inTransaction(stateDb(), false, rolledBack);
    const committed: OutboxEvent[] = [];
    for (let i = 0; i < 4; i++) {
      committed.push(syncOutbox(topics.syncEvents, 'contract:1', { attempt: i + 1, action: `step_${i}` }));
      committed.push(syncOutbox(topics.syncEvents, 'contract:2', { attempt: i + 1, action: `step_${i}` }));
    }
    const inv = fullInvoiceEvent({ invoiceNumber: `F-${sfx}` });
    committed.push({
      type: 'InvoiceIssued',
      topic: topics.invoiceEvents,
      aggregateType: 'invoice',
      aggregateId: inv.invoiceNumber,
      payload: inv,
    });
    const t0 = Date.now();
    await inTransaction(stateDb(), true, committed.slice(0, 4));
    await inTransaction(stateDb(), true, committed.slice(4));

    await eventually(
      async () => (seen.length >= committed.length ? true : undefined),
      30_000,
      'all committed events',
    );
    expect(Date.now() - t0, 'published on NOTIFY, well before the 60 s poll').to.be.lessThan(20_000);
    await new Promise((r) => setTimeout(r, 1000));
    const ids = seen.map((s) => s.decoded.event.eventId);
    expect(new Set(ids).size).to.equal(committed.length);
    for (const rb of rolledBack) expect(ids).to.not.include(rb.payload.eventId);
    for (const agg of ['contract:1', 'contract:2']) {
      const order = seen.filter((s) => s.meta.key === agg).map((s) => s.decoded.event.eventId);
      expect(order).to.deep.equal(
        committed.filter((c) => c.aggregateId === agg).map((c) => c.payload.eventId),
      );
      expect(new Set(seen.filter((s) => s.meta.key === agg).map((s) => s.meta.partition)).size).to.equal(1);
    }
    for (const s of seen) expect(s.meta.eventId).to.equal(s.decoded.event.eventId);
    const invSeen = seen.find((s) => s.decoded.type === 'InvoiceIssued');
    expect(invSeen?.decoded.event).to.deep.equal(inv);
    expect(invSeen?.meta.key).to.equal(inv.invoiceNumber);
    const first = seen.find((s) => s.decoded.event.eventId === committed[0]?.payload.eventId);
    expect(first?.decoded.event).to.deep.equal(committed[0]?.payload);
    expect(await pendingIds(committed.map((c) => c.payload.eventId))).to.deep.equal([]);
    expect(published.reduce((a, b) => a + b, 0)).to.equal(committed.length);
  });

  it('decodes with a plain @kafkajs/confluent-schema-registry client (what another service does)', async () => {
    const { topics, schemas, lockKey } = await setup();
    await relay({ registry: schemas, lockKey }).start();
    const ev = syncOutbox(topics.syncEvents, 'partner:812', {
      outcome: 'failed',
      errorCode: 'OPENCELL_BUSINESS',
      errorMessage: 'nope',
    });
    await inTransaction(stateDb(), true, [ev]);
    const consumer = testKafka().consumer({ groupId: `test-plain-${uniqueSuffix()}` });
    const got: unknown[] = [];
    const headers: Record<string, string> = {};
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: topics.syncEvents, fromBeginning: true });
      const plain = new SchemaRegistry({ host: REGISTRY_URL });
      await consumer.run({
        eachMessage: async ({ message }) => {
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          got.push(JSON.parse(JSON.stringify(await plain.decode(message.value as Buffer))));
        },
      });
      await eventually(async () => (got.length ? true : undefined), 30_000, 'the event');
    } finally {
      await consumer.disconnect();
    }
    expect(got[0]).to.deep.equal(ev.payload);
    expect(headers).to.include({
      event_id: ev.payload.eventId,
      event_type: 'SyncOutcome',
      aggregate_type: 'contract',
    });
  });

  it('a crash between publish and mark repeats at most the same event ids; none is lost', async () => {
    const { sfx, topics, schemas, lockKey } = await setup();
    const events: OutboxEvent[] = [];
    for (let i = 0; i < 5; i++) events.push(syncOutbox(topics.syncEvents, 'contract:7', { attempt: i + 1 }));
    await inTransaction(stateDb(), true, events);
    const eventIds = events.map((e) => e.payload.eventId);

    const crashing = relay({
      registry: schemas,
      lockKey,
      batchSize: 3,
      testHooks: { crashAfterPublish: true },
    });
    await crashing.start();
    await eventually(
      async () => (crashing.state === 'crashed' ? true : undefined),
      30_000,
      'the simulated crash',
    );
    expect(await pendingIds(eventIds), 'nothing marked by the crashed relay').to.deep.equal(eventIds);

    await relay({ registry: schemas, lockKey, batchSize: 3 }).start();
    await eventually(
      async () => ((await pendingIds(eventIds)).length === 0 ? true : undefined),
      30_000,
      'rows marked',
    );
    const { seen, sub } = await tail(schemas, [topics.syncEvents], sfx);
    subs.push(sub);
    await eventually(async () => (seen.length >= 8 ? true : undefined), 30_000, '5 events + 3 repeats');
    await new Promise((r) => setTimeout(r, 1000));
    const ids = seen.map((s) => s.decoded.event.eventId);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.keys()].sort()).to.deep.equal([...eventIds].sort());
    for (const [, n] of counts) expect(n).to.be.at.most(2);
    expect(ids.length).to.equal(8);
    const deduped = ids.filter((id, i) => ids.indexOf(id) === i);
    expect(deduped, 'per-aggregate order holds after dedupe by event id').to.deep.equal(eventIds);
  });

  it('only one relay publishes at a time (advisory lock); the standby takes over when it stops', async () => {
    const { topics, schemas, lockKey } = await setup();
    const a = await relay({ registry: schemas, lockKey }).start();
    await eventually(async () => (a.isLeader ? true : undefined), 10_000, 'a leads');
    const b = await relay({ registry: schemas, lockKey }).start();
    await new Promise((r) => setTimeout(r, 1500));
    expect(b.isLeader).to.equal(false);
    await a.stop();
    await eventually(async () => (b.isLeader ? true : undefined), 10_000, 'b takes over');
    const ev = syncOutbox(topics.syncEvents, 'contract:9');
    await inTransaction(stateDb(), true, [ev]);
    await eventually(
      async () => ((await pendingIds([ev.payload.eventId])).length === 0 ? true : undefined),
      20_000,
      'published by b',
    );
    expect(b.publishedCount).to.equal(1);
  });

  it('survives losing its database session: the lock is retaken and pending rows are published', async () => {
    const { topics, schemas, lockKey } = await setup();
    const r = await relay({ registry: schemas, lockKey }).start();
    await eventually(async () => (r.isLeader ? true : undefined), 10_000, 'leadership');
    const { rows } = await stateDb().query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
          AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295)`,
      [lockKey],
    );
    expect(rows).to.have.length(1);
    await stateDb().query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    const ev = syncOutbox(topics.syncEvents, 'contract:11');
    await inTransaction(stateDb(), true, [ev]);
    await eventually(
      async () => ((await pendingIds([ev.payload.eventId])).length === 0 ? true : undefined),
      30_000,
      'published after reconnect',
    );
    expect(r.state).to.equal('running');
    expect(r.isLeader).to.equal(true);
  });

  it('rejects a malformed payload in the writer transaction; a poison row already in the table is parked and holds back only its aggregate', async () => {
    const { topics, schemas, lockKey } = await setup();
    const bad = syncOutbox(topics.syncEvents, 'contract:bad', { outcome: 'done' as SyncEvent['outcome'] });
    let err: unknown;
    try {
      await inTransaction(stateDb(), true, [bad]);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SyncError);
    expect((err as SyncError).code).to.equal('MALFORMED_EVENT');
    expect(await pendingIds([bad.payload.eventId])).to.deep.equal([]);

    // bypass appendOutbox, as a buggy writer could
    await stateDb().query(
      `INSERT INTO outbox (event_id, topic, aggregate_type, aggregate_id, event_type, payload) VALUES ($1, $2, 'contract', 'contract:bad', 'SyncOutcome', $3)`,
      [bad.payload.eventId, topics.syncEvents, JSON.stringify(bad.payload)],
    );
    const behind = syncOutbox(topics.syncEvents, 'contract:bad');
    const other = syncOutbox(topics.syncEvents, 'contract:good');
    await inTransaction(stateDb(), true, [behind, other]);
    const parked: string[] = [];
    await relay({ registry: schemas, lockKey, metrics: { onParked: (id) => parked.push(id) } }).start();
    await eventually(
      async () => ((await pendingIds([other.payload.eventId])).length === 0 ? true : undefined),
      20_000,
      'other aggregate published',
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(parked).to.deep.equal([bad.payload.eventId]);
    expect(await pendingIds([bad.payload.eventId, behind.payload.eventId])).to.deep.equal([
      bad.payload.eventId,
      behind.payload.eventId,
    ]);
    const { rows } = await stateDb().query('SELECT last_error FROM outbox WHERE event_id = $1', [
      bad.payload.eventId,
    ]);
    expect(String(rows[0]?.last_error)).to.contain('outcome');
  });
  it('parked rows are never retried (issue 15 §7): a parked row is tried again with backoff and, once it encodes, published in its place, once', async () => {
    const { sfx, topics, schemas, lockKey } = await setup();
    const bad = syncOutbox(topics.syncEvents, 'contract:parked', { outcome: 'done' as SyncEvent['outcome'] });
    await stateDb().query(
      `INSERT INTO outbox (event_id, topic, aggregate_type, aggregate_id, event_type, payload) VALUES ($1, $2, 'contract', 'contract:parked', 'SyncOutcome', $3)`,
      [bad.payload.eventId, topics.syncEvents, JSON.stringify(bad.payload)],
    );
    const behind = syncOutbox(topics.syncEvents, 'contract:parked', { attempt: 2 });
    await inTransaction(stateDb(), true, [behind]);
    const retries: Array<{ outcome: string; at: number }> = [];
    const parkedCounts: number[] = [];
    await relay({
      registry: schemas,
      lockKey,
      pollMs: 100,
      parkedRetryInitialMs: 300,
      parkedRetryMaxMs: 1200,
      metrics: {
        onParkedRetry: (_id, outcome) => void retries.push({ outcome, at: Date.now() }),
        onParkedCount: (n) => void parkedCounts.push(n),
      },
    }).start();
    const { seen, sub } = await tail(schemas, [topics.syncEvents], sfx);
    subs.push(sub);
    await eventually(
      async () => (retries.filter((r) => r.outcome === 'parked').length >= 3 ? true : undefined),
      20_000,
      'three failed retries of the parked row',
    );
    const gaps = retries.slice(1).map((r, i) => r.at - retries[i]!.at);
    expect(gaps[0], `backoff between tries ${gaps.join(',')}`).to.be.at.least(500); // 600 ms after 2 attempts
    expect(gaps[1]).to.be.at.least(1000); // capped at 1200 ms
    expect(parkedCounts).to.include(1); // visible while parked
    expect(await pendingIds([bad.payload.eventId, behind.payload.eventId])).to.have.length(2);
    // an operator repairs the payload: the next try unparks it
    await stateDb().query('UPDATE outbox SET payload = $2 WHERE event_id = $1', [
      bad.payload.eventId,
      JSON.stringify({ ...bad.payload, outcome: 'applied' }),
    ]);
    await eventually(
      async () => (seen.length >= 2 ? true : undefined),
      20_000,
      'the unparked row and the one behind it',
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(retries.filter((r) => r.outcome === 'unparked')).to.have.length(1);
    expect(seen.map((x) => x.decoded.event.eventId)).to.deep.equal([
      bad.payload.eventId,
      behind.payload.eventId,
    ]);
    expect(await pendingIds([bad.payload.eventId, behind.payload.eventId])).to.deep.equal([]);
    expect(parkedCounts[parkedCounts.length - 1]).to.equal(0);
  });

  /**
   * kafkajs #1303 (bench/three-brokers.md): a send retried inside kafkajs could resolve without a partition whose
   * leader moved to a broker that had answered; the relay would have marked those rows published. Kafka is the fake
   * two-broker cluster of test/support/two-broker-kafka.ts, driven through kafkajs's own send path.
   */
  const relayOver = async (fake: TwoBrokerKafka, errors: unknown[]) => {
    const { topics, schemas, lockKey } = await setup();
    const events = Array.from({ length: 12 }, (_, i) => syncOutbox(topics.syncEvents, `contract:${i}`));
    await inTransaction(stateDb(), true, events);
    const eventIds = events.map((e) => e.payload.eventId);
    const r = new OutboxRelay({
      pool: stateDb(),
      kafka: fake.kafka,
      registry: schemas,
      lockKey,
      pollMs: 200,
      retryInitialMs: 100,
      retryMaxMs: 500,
      metrics: { onError: (e) => void errors.push(e) },
    });
    relays.push(r);
    await r.start();
    await eventually(
      async () => ((await pendingIds(eventIds)).length === 0 ? true : undefined),
      30_000,
      'every row marked published',
    );
    const written = new Set(fake.written.map((w) => String(w.headers?.event_id)));
    return { eventIds, written };
  };

  it('a send whose partition moved to a broker that had answered, after request timeouts, loses no row: each row marked published was written', async () => {
    const fake = twoBrokerKafka({
      failFirst: 2,
      failWith: () =>
        Object.assign(new Error('Request timed out'), {
          name: 'KafkaJSRequestTimeoutError',
          retriable: true,
        }),
    });
    const { eventIds, written } = await relayOver(fake, []);
    expect(
      fake.failures.map((f) => f.error),
      'the faults landed: two timeouts, broker 2 closed',
    ).to.deep.equal(['Request timed out', 'Request timed out', 'Connection closed']);
    expect(
      eventIds.filter((id) => !written.has(id)),
      'rows marked published but never written',
    ).to.deep.equal([]);
    expect(new Set(fake.written.map((w) => w.partition)), 'rows on both partitions').to.deep.equal(
      new Set([0, 1]),
    );
  });

  it('a send that fails for good fails the cycle: its rows stay unpublished and the next cycle sends them again, none lost', async () => {
    const fake = twoBrokerKafka({
      failFirst: 2,
      failWith: () => Object.assign(new Error('broker refused the request'), { retriable: false }),
    });
    const errors: unknown[] = [];
    const { eventIds, written } = await relayOver(fake, errors);
    expect(fake.failures.length, 'the faults landed: sends failed').to.be.at.least(2);
    expect(errors.length, 'relay cycles that failed on the send').to.be.at.least(1);
    expect(
      eventIds.filter((id) => !written.has(id)),
      'rows marked published but never written',
    ).to.deep.equal([]);
  });
});
