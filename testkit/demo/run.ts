/**
 * The demo on the local stack (`npm run demo`): the whole pipeline on Som Connexió-like demo data.
 *
 * 1. starts the OpenCell sandbox, the router, the projector and the outbox relay (its own topics and groups, the
 *    router starting at the end of the Debezium topics, so only this run's changes are projected);
 * 2. seeds Odoo's database with partners, banks, mandates, contracts with lines and ISP info — real SQL, captured by
 *    Debezium — then changes some of them (address, phone number, tariff change, termination);
 * 3. shows what reached OpenCell (calls by endpoint, objects) and the sync events a subscriber decodes;
 * 4. invoices back: a billing run in OpenCell, the invoice poller, the relay and the Odoo loader.
 *
 * The terminal shows this story with progress lines; every log line goes to the file named at the start and at the
 * end (LOG_FILE, set by ./log-file before anything logs: keep that import first).
 *
 *   node --require tsx/cjs testkit/demo/run.ts [--partners N]
 */
import './log-file';
import { Pool } from 'pg';
import { captureTopics } from '../../src/domain/capture';
import { seedDemo } from '../demo-seed';
import { demoChanges } from './history';
import { loadConfig } from '../../src/core/config';
import { createOutboxRelay } from '../../src/flows/outbox/relay';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { subscribeEvents } from '../../src/flows/outbox/subscriber';
import type { SyncEvent } from '../../src/domain/outbox/events';
import { ProjectionPipeline } from '../../src/flows/projection/pipeline';
import { ensurePipelineTopics, routerTopics } from '../../src/flows/projection/stages';
import { startOpenCellSandbox } from '../sandbox/opencell';
import { createKafka, startGroupAtEnd } from '../../src/adapters/kafka/kafka';
import type { KeyedConsumerEvent } from '../../src/adapters/kafka/keyed-consumer';
import { runDemoInvoices } from './invoices';
import { odooOwnerUrl } from './odoo-owner';
import { componentLogger, logFile } from '../../src/core/log';
import { type PipelineCounts, progressLine, say, shownPath, ticker } from './story';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logs = logFile ? shownPath(logFile) : 'stderr';

// Node's own warnings go to the log file too.
process.removeAllListeners('warning');
process.on('warning', (w) => componentLogger('node').warn(`Node warning: ${w.name}: ${w.message}`));

async function main(): Promise<void> {
  const partners = arg('partners', 12);
  if (process.env.DEMO_LOG_FILE_SHOWN !== '1') say(`Log lines of every component: ${logs}`);
  const run = Date.now().toString(36);
  const sandbox = await startOpenCellSandbox({ port: Number(process.env.OPENCELL_SANDBOX_PORT ?? 0) });
  const config = loadConfig({
    ...process.env,
    OPENCELL_BASEURL: sandbox.url,
    OPENCELL_USER: sandbox.credentials.user,
    OPENCELL_PASSWORD: sandbox.credentials.password,
    ODOO_PASSWORD: process.env.ODOO_PASSWORD ?? 'billing-bot',
    INTENTS_TOPIC: `demo.intents-${run}`,
    SYNC_EVENTS_TOPIC: `demo.sync-events-${run}`,
    INVOICE_EVENTS_TOPIC: `demo.invoice-events-${run}`,
    DLQ_TOPIC: `demo.dead-letter-${run}`,
  });
  say(`OpenCell sandbox: ${sandbox.url} (journal and state under ${sandbox.adminUrl ?? '/__sandbox'})`);

  const kafka = createKafka(config.kafka, 'demo');
  await ensurePipelineTopics(kafka, config);
  const groups = { router: `demo-router-${run}`, projector: `demo-projector-${run}` };
  const admin = kafka.admin();
  await admin.connect();
  await startGroupAtEnd(kafka, admin, groups.router, routerTopics(config.topics.prefix));
  await admin.disconnect();

  const counts: PipelineCounts = { changes: 0, intents: 0, projected: 0, calls: 0, events: 0 };
  const hooks = {
    onConsumerEvent: (stage: string, e: KeyedConsumerEvent) => {
      const n =
        e.type === 'processed' || e.type === 'dead-letter' ? 1 : e.type === 'batch-handled' ? e.messages : 0;
      if (n === 0) return;
      if (stage === 'router') counts.changes += n;
      else if (stage === 'projector') counts.projected += n;
    },
    onRouted: (_table: string, routed: number) => {
      counts.intents += routed;
    },
  };
  const current = (): PipelineCounts => ({
    ...counts,
    calls: sandbox.journal.entries().length,
    events: events.length,
  });
  say('Starting the router, the projector, the outbox relay and a sync-event subscriber…');
  const starting = ticker((ms) => `   still starting (joining consumer groups)… ${Math.round(ms / 1000)} s`);
  const pipeline = new ProjectionPipeline(config, { kafka, groups, hooks });
  await pipeline.start();
  const events: SyncEvent[] = [];
  const relay = createOutboxRelay(config, { pool: pipeline.statePool, kafka }, { pollMs: 250 });
  await relay.start();
  const subscriber = await subscribeEvents({
    kafka,
    registry: new EventSchemas({
      registryUrl: config.registryUrl,
      topics: { syncEvents: config.topics.syncEvents, invoiceEvents: config.topics.invoiceEvents },
    }),
    topic: config.topics.syncEvents,
    groupId: `demo-subscriber-${run}`,
    fromBeginning: true,
    onEvent: (d) => {
      if (d.type !== 'SyncOutcome') return;
      const e = d.event as SyncEvent;
      events.push(e);
      if (events.length <= 25)
        say(
          `  sync event  ${e.outcome.padEnd(13)} ${e.action.padEnd(24)} ${e.odoo.model}#${e.odoo.id} → ${e.opencell.entity} ${e.opencell.code ?? ''}${e.calls.length ? `  [${e.calls.join(', ')}]` : ''}${e.errorCode ? `  ${e.errorCode}` : ''}`,
        );
    },
  });

  starting.stop();
  // the demo plays Odoo: it writes as the database's owner, never through the pipeline's read-only role
  const odoo = new Pool({ connectionString: odooOwnerUrl(config), max: 2 });
  const db = await odoo.connect();
  const seed = Math.floor(Date.now() / 1000) % 1_000_000;
  say(`\n1) seeding Odoo with ${partners} partners (real SQL into Odoo 16 tables, captured by Debezium)…`);
  const seeded = await seedDemo(db, { partners, seed });
  say(
    `   ${seeded.partners} partners, ${seeded.contracts} contracts, ${seeded.lines} contract lines${seeded.skipped ? ` (${seeded.skipped} skipped)` : ''}`,
  );
  await waitForPipeline(current, 4000, 90_000);

  say('\n2) changing Odoo: an address, a phone number, a tariff change and a termination…');
  await demoChanges(db, seed);
  await waitForPipeline(current, 5000, 60_000);
  db.release();
  await odoo.end();

  const writes = sandbox.journal.entries().filter((e) => e.method !== 'GET' && !e.path.endsWith('/list'));
  const byPath = new Map<string, number>();
  for (const e of writes)
    byPath.set(
      `${e.method} ${e.path} → ${e.status}`,
      (byPath.get(`${e.method} ${e.path} → ${e.status}`) ?? 0) + 1,
    );
  say(`\n3) OpenCell received ${writes.length} state-changing calls:`);
  for (const [k, n] of [...byPath.entries()].sort()) say(`   ${String(n).padStart(4)}  ${k}`);
  await sleep(1500);
  const outcomes = new Map<string, number>();
  for (const e of events) outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1);
  say(
    `   sync events decoded by a subscriber: ${events.length} (${[...outcomes.entries()].map(([k, n]) => `${k} ${n}`).join(', ')})`,
  );
  const table = new Map<string, number>();
  for (const e of events)
    table.set(
      `${e.action} ${e.outcome}${e.errorCode ? ` (${e.errorCode})` : ''}`,
      (table.get(`${e.action} ${e.outcome}${e.errorCode ? ` (${e.errorCode})` : ''}`) ?? 0) + 1,
    );
  for (const [k, n] of [...table.entries()].sort()) say(`   ${String(n).padStart(4)}  ${k}`);

  await runDemoInvoices(config, sandbox, kafka, pipeline.statePool).catch((e) =>
    say(`\n4) invoices failed: ${(e as Error).message}`),
  );

  await subscriber.stop();
  await relay.stop();
  await pipeline.stop();
  await sandbox.close();
  say(
    `\ndone. Topics of this run: ${config.topics.intents}, ${config.topics.syncEvents}, ${config.topics.dlq}; Debezium topics: ${captureTopics().length} × odoo.public.<table>.`,
  );
  say(`Log lines of every component: ${logs}`);
}

/**
 * Waits until the pipeline has caught up with what was just written to Odoo — the router read new changes, the
 * projector finished every intent and nothing moved for `quietMs` — at most `maxMs`, printing progress meanwhile.
 */
async function waitForPipeline(counts: () => PipelineCounts, quietMs: number, maxMs: number): Promise<void> {
  const start = counts();
  const progress = ticker((ms) => progressLine(counts(), ms));
  const deadline = Date.now() + maxMs;
  let last = '';
  let since = Date.now();
  try {
    while (Date.now() < deadline) {
      const c = counts();
      const key = JSON.stringify(c);
      if (key !== last) {
        last = key;
        since = Date.now();
      } else if (c.changes > start.changes && c.projected >= c.intents && Date.now() - since >= quietMs)
        return;
      await sleep(250);
    }
  } finally {
    progress.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`demo failed: ${(e as Error).message} (log lines: ${logs})`);
    process.exit(1);
  },
);
