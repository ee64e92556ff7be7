/**
 * The demo on the local stack: seeds Odoo's database with realistic Som Connexió data and shows the billing
 * changes Debezium captures, live, decoded with the production codecs.
 *   node -r ts-node/register/transpile-only src/ops/demo.ts [--partners N] [--seconds S]
 */
import { Client } from 'pg';
import { decodeChange, captureTopics, RowChange } from '../capture';
import { seedDemo } from '../capture/demo-seed';
import { createKafka, ensureTopics } from '../stream/kafka';
import { loadConfig } from '../config';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

function describeRow(c: RowChange): string {
  const row = (c.after ?? c.before) as Record<string, unknown>;
  const label = ['ref', 'code', 'default_code', 'phone_number', 'name']
    .map((k) => row[k])
    .find((v) => typeof v === 'string' && v.length > 0);
  return `${c.op} ${c.table.padEnd(34)} id=${String(row.id ?? '').padEnd(6)} ${label ?? ''}`;
}

async function main(): Promise<void> {
  const cfg = loadConfig(process.env, []);
  const partners = arg('partners', 12);
  const seconds = arg('seconds', 25);
  const started = Date.now();
  const kafka = createKafka(cfg.kafka.brokers, 'demo');
  const admin = kafka.admin();
  await admin.connect();
  const topics = captureTopics(cfg.topics.prefix);
  await ensureTopics(admin, topics.map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })));
  await admin.disconnect();

  const counts = new Map<string, number>();
  let shown = 0;
  const consumer = kafka.consumer({ groupId: `demo-${started}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const c = decodeChange(topic, partition, message.offset, message.key, message.value);
      if (c.kind !== 'row' || c.source.tsMs < started - 1000) return;
      const k = `${c.table} ${c.op}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (shown++ < 60) console.log(`  captured ${describeRow(c)}`);
    },
  });

  const db = new Client({ connectionString: cfg.odooDatabaseUrl });
  await db.connect();
  const seed = Math.floor(started / 1000) % 1_000_000;
  console.log(`seeding Odoo with ${partners} partners (seed ${seed}) — contracts, lines, banks, mandates, ISP info…`);
  const r = await seedDemo(db, { partners, seed });
  await db.end();
  console.log(`seeded: ${JSON.stringify(r)}; watching captured changes for ${seconds}s\n`);
  await new Promise((res) => setTimeout(res, seconds * 1000));
  await consumer.disconnect();
  console.log(`\ncaptured billing-relevant changes by table and op (c=create, u=update, d=delete):`);
  for (const [k, n] of [...counts.entries()].sort()) console.log(`  ${k.padEnd(44)} ${n}`);
}

main().catch((e) => {
  console.error(`demo failed: ${(e as Error).message}`);
  process.exit(1);
});
