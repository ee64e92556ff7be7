/**
 * The outbox relay's latency, for docs/decisions/0006-own-outbox-relay.md: writers commit one outbox row per
 * transaction at a steady rate (and poke the relay after commit, as the ledger and the invoice poller do); the relay
 * (production settings: 1 s poll, NOTIFY wake-ups) publishes them; a consumer reads them. Reported: commit
 * acknowledged → Kafka record timestamp (the same measure as `debeziumLagMs` of bench/e2e.ts, Debezium's hop, which
 * the Outbox Event Router would take) and commit → the consumer has the event. Real stack (state database, Kafka,
 * registry); its own topics; its rows are deleted at the end. Run under the stack lock:
 *   npx tsx bench/relay-latency.ts [ratePerSecond] [seconds]
 */
import './env';
import { Pool } from 'pg';
import { ensureTopics } from '../src/adapters/kafka/kafka';
import { appendOutbox } from '../src/adapters/postgres/outbox-store';
import { OutboxWakeup } from '../src/adapters/postgres/outbox-wakeup';
import { EventSchemas } from '../src/adapters/registry/schemas';
import { OutboxRelay } from '../src/flows/outbox/relay';
import { fullSyncEvent } from '../testkit/outbox';
import { benchKafka, sleep, STATE_DATABASE_URL, suffix } from './common';

const RATE = Number(process.argv[2] ?? 100);
const SECONDS = Number(process.argv[3] ?? 20);
const REGISTRY_URL = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';

function summary(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]);
  return { count: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: Math.round(s[s.length - 1]) };
}

async function main() {
  const sfx = suffix();
  const topics = { syncEvents: `bench.relay-sync-${sfx}`, invoiceEvents: `bench.relay-invoice-${sfx}` };
  const kafka = benchKafka();
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [
    { topic: topics.syncEvents, numPartitions: 3 },
    { topic: topics.invoiceEvents, numPartitions: 1 },
  ]);
  await admin.disconnect();
  const pool = new Pool({ connectionString: STATE_DATABASE_URL, max: 8, application_name: 'bench-relay' });
  const wakeup = new OutboxWakeup(pool);
  const relay = new OutboxRelay({
    pool,
    kafka,
    registry: new EventSchemas({ registryUrl: REGISTRY_URL, topics }),
    lockKey: Math.floor(Math.random() * 2 ** 40) + 1,
  });
  const committed = new Map<string, number>();
  const toRecord: number[] = [];
  const toConsumer: number[] = [];
  const consumer = kafka.consumer({ groupId: `bench-relay-${sfx}` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.syncEvents, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const now = Date.now();
      const at = committed.get(message.headers?.event_id?.toString() ?? '');
      if (at === undefined) return;
      toRecord.push(Number(message.timestamp) - at);
      toConsumer.push(now - at);
    },
  });
  await relay.start();
  await sleep(5000); // the consumer's group join, so the first events are not timed waiting for it
  try {
    const total = RATE * SECONDS;
    const t0 = Date.now();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / RATE;
      if (due > Date.now()) await sleep(due - Date.now());
      const event = fullSyncEvent();
      writes.push(
        (async () => {
          const c = await pool.connect();
          try {
            await c.query('BEGIN');
            await appendOutbox(c, {
              type: 'SyncOutcome',
              topic: topics.syncEvents,
              aggregateType: 'contract',
              aggregateId: `contract:${i % 50}`,
              payload: event,
            });
            await c.query('COMMIT');
            committed.set(event.eventId, Date.now());
            wakeup.poke();
          } finally {
            c.release();
          }
        })(),
      );
    }
    await Promise.all(writes);
    const deadline = Date.now() + 30_000;
    while (toRecord.length < total && Date.now() < deadline) await sleep(100);
    console.log(
      JSON.stringify(
        {
          rate: RATE,
          seconds: SECONDS,
          events: total,
          received: toRecord.length,
          commitToRecordTimestampMs: summary(toRecord),
          commitToConsumerMs: summary(toConsumer),
        },
        null,
        2,
      ),
    );
  } finally {
    await relay.stop();
    await consumer.disconnect();
    await pool.query('DELETE FROM outbox WHERE topic = ANY($1::text[])', [Object.values(topics)]);
    await pool.end();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
