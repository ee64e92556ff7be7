import { expect } from 'chai';
import { isStateChanging } from '../../testkit/sandbox/opencell/journal';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import { testPool } from '../support/pg';
import { applyReset } from '../../src/adapters/kafka/groups';
import { createKafka, startGroupAtEnd } from '../../src/adapters/kafka/kafka';
import { loadConfig, type Config } from '../../src/core/config';
import { captureTopics } from '../../src/domain/capture';
import { ensurePipelineTopics, routerTopics } from '../../src/flows/projection/stages';
import { snapshotTables } from '../../src/app/snapshot';
import { defaultPgSetupOptions, setupStateDatabase } from '../../src/app/pg-setup';
import { seedDemo } from '../../testkit/demo-seed';
import { demoChanges } from '../../testkit/demo/history';
import { startOpenCellSandbox } from '../../testkit/sandbox/opencell';
import type { Sandbox } from '../integration/support/pipeline';
import { SecondStack } from '../integration/support/second-stack';
import { eventually, ROOT, uniqueSuffix } from '../integration/support/stack';
import { runCli } from '../support/cli-process';
import { sleep, WorkerSupervisor } from './support/harness';
import {
  headCommit,
  outboxDrained,
  routerAfterInitialSnapshot,
  secondStackPipelineEnv,
} from './support/scenario';

/**
 * Issue 15 §4, "How it is checked": a snapshot of every captured table after the demo's history — the operator's
 * `snapshot --all` and a fresh connector's `snapshot.mode=initial` (go-live, a new connector name, a lost offset) —
 * makes no state-changing OpenCell call. A second local stack (one broker, ports +400, its own Odoo database, state
 * database and slot) so that both snapshots read every row of an Odoo database that holds only this history, with
 * nothing restricted by `--where`:
 *   1. the pipeline (router, projector, outbox relay: test/faults/pipeline-process.ts) projects the demo's seed and
 *      its changes (testkit/demo: customers, mobile / fiber / 4G contracts, SIM one-shots, an address, a phone
 *      number, a tariff change, a termination) into an OpenCell sandbox;
 *   2. `odoo-opencell-sync snapshot --all --wait --yes` (spawned CLI): Debezium re-reads every captured table;
 *   3. go-live, as when this pipeline replaces the original module over an OpenCell that already holds the history:
 *      a new deployment (an empty state database, so an empty ledger; new intent and sync-event topics; new groups),
 *      and the connector deleted, its slot dropped, and a connector of a new name created on the same topics with
 *      `snapshot.mode=initial`: it has no offsets, so it re-reads every table before streaming.
 * Each phase counts the `op: r` events per topic against the table's rows (the fault landed) and the snapshot
 * intents the projector recorded, then asserts no state-changing call reached OpenCell and nothing was applied.
 * Figures go to bench/golive-snapshot.md.
 */
const stack = new SecondStack({
  name: 'golive',
  brokers: 1,
  portOffset: Number(process.env.FAULT_GOLIVE_PORT_OFFSET ?? 400),
});
const PARTNERS = Number(process.env.FAULT_GOLIVE_PARTNERS ?? 12);

interface PhaseFigures {
  /** table → [rows in Odoo, op r events on its topic] */
  tables: Record<string, [number, number]>;
  readEvents: number;
  snapshotIntents: Record<string, number>;
  stateChangingCalls: number;
  seconds: number;
}

describe('go-live: a snapshot of every captured table after the demo history changes nothing in OpenCell', function () {
  this.timeout(900_000);
  const sfx = uniqueSuffix();
  // set when the scenario starts (mocha loads every file of the suite before it runs the first)
  let t0 = Date.now();
  let sandbox: Sandbox;
  let worker: WorkerSupervisor;
  let odoo: Pool;
  let state: Pool;
  let db: PoolClient;
  let kafka: Kafka;
  let admin: Admin;
  let config: Config;
  let env: Record<string, string>;
  const superuserQuery = async (sql: string, args: unknown[] = []) => {
    const c = testPool({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres', max: 1 });
    try {
      await c.query(sql, args);
    } finally {
      await c.end();
    }
  };
  /** the consumer groups of the deployment under test (its env's) */
  let groups = { router: '', projector: '' };
  /** the go-live deployment's own state database (phase 3), dropped at the end */
  const goLiveStateDb = `${stack.env.STATE_DB_NAME}_new`;

  before(async () => {
    t0 = Date.now();
    await stack.up();
    odoo = testPool({ connectionString: stack.odooDatabaseUrl, max: 2 });
    state = testPool({ connectionString: stack.stateDatabaseUrl, max: 2 });
    sandbox = await startOpenCellSandbox({ port: 0, password: 'golive-oc', seed: 15 });
    env = secondStackPipelineEnv(stack, sandbox, { name: 'golive', sfx, password: 'golive-oc' });
    groups = { router: env.FAULT_ROUTER_GROUP, projector: env.FAULT_PROJECTOR_GROUP };
    config = loadConfig({ ...process.env, ...env });
    kafka = createKafka({ brokers: stack.brokers }, 'golive-test');
    admin = kafka.admin();
    await admin.connect();
    await ensurePipelineTopics(kafka, config);
    await routerAfterInitialSnapshot(kafka, admin, groups.router, config.topics.prefix);
    worker = new WorkerSupervisor(env);
    await worker.start();
    db = await odoo.connect();
  });

  after(async () => {
    await worker?.shutdown().catch(() => undefined);
    db?.release();
    await admin?.disconnect().catch(() => undefined);
    await sandbox?.close().catch(() => undefined);
    await odoo?.end().catch(() => undefined);
    await state?.end().catch(() => undefined);
    await superuserQuery(`DROP DATABASE IF EXISTS ${goLiveStateDb} WITH (FORCE)`).catch(() => undefined);
    if (!process.env.FAULT_KEEP_STACK) await stack.reset().catch(() => undefined);
  });

  const writes = () => sandbox.journal.entries().filter(isStateChanging);

  /** Messages not yet consumed by `group` on `topics`. */
  async function lag(group: string, topics: string[]): Promise<number> {
    const committed = await admin.fetchOffsets({ groupId: group, topics });
    let n = 0;
    for (const t of topics) {
      const ends = await admin.fetchTopicOffsets(t);
      const done = committed.find((c) => c.topic === t)?.partitions ?? [];
      for (const p of ends) {
        const c = Number(done.find((d) => d.partition === p.partition)?.offset ?? -1);
        n += Math.max(0, Number(p.high) - Math.max(c, Number(p.low)));
      }
    }
    return n;
  }

  /** Waits until the router and the projector consumed everything and nothing moved for 6 s. */
  async function settled(what: string, ms = 240_000): Promise<void> {
    const capture = routerTopics(config.topics.prefix);
    const progress = async () =>
      `${writes().length}/${(await state.query<{ n: number }>(`SELECT count(*)::int AS n FROM ledger_intent`)).rows[0].n}`;
    let seen = '';
    let quietSince = Date.now();
    await eventually(
      async () => {
        const busy =
          (await lag(groups.router, capture)) + (await lag(groups.projector, [config.topics.intents]));
        const now = await progress();
        if (busy > 0 || now !== seen) {
          seen = now;
          quietSince = Date.now();
          return undefined;
        }
        return Date.now() - quietSince >= 6000 ? true : undefined;
      },
      ms,
      what,
    );
    await outboxDrained(state, config.topics.syncEvents, 60_000);
  }

  /** Rows of each captured table that has any, now. */
  async function rowCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const table of snapshotTables()) {
      const n = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM public.${table}`)).rows[0].n;
      if (n > 0) out[table] = n;
    }
    return out;
  }

  /** The end offsets of the capture topics that exist (Debezium creates a table's topic with its first event). */
  async function ends(): Promise<{ topic: string; partition: number; target: string }[]> {
    const existing = new Set(await admin.listTopics());
    const out: { topic: string; partition: number; target: string }[] = [];
    for (const topic of captureTopics().filter((t) => existing.has(t)))
      for (const p of await admin.fetchTopicOffsets(topic))
        out.push({ topic, partition: p.partition, target: p.high });
    return out;
  }

  /** Counts `op: r` events per table after `from`, until every table has `rows` of them (then 2 s more). */
  async function readEvents(
    from: { topic: string; partition: number; target: string }[],
    rows: Record<string, number>,
  ): Promise<Record<string, number>> {
    const groupId = `golive-reads-${uniqueSuffix()}`;
    await applyReset(kafka, admin, groupId, from);
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    const reads: Record<string, number> = {};
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [...new Set(from.map((f) => f.topic))], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, message }) => {
          if (!message.value) return;
          const v = JSON.parse(message.value.toString()) as { op?: string };
          const table = topic.replace(/^odoo\.public\./, '');
          if (v.op === 'r') reads[table] = (reads[table] ?? 0) + 1;
        },
      });
      const missing = () => Object.entries(rows).filter(([t, n]) => (reads[t] ?? 0) < n);
      await eventually(
        async () => (missing().length === 0 ? true : undefined),
        // a snapshot's chunk windows close on the connector's heartbeat while another session holds a transaction
        // open on the server (docs/decisions/0002-snapshot-signals.md): minutes on a busy shared server
        420_000,
        'an op r event for every row of every captured table',
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}: ${missing()
            .map(([t, n]) => `${t} ${reads[t] ?? 0}/${n}`)
            .join(', ')}`,
          { cause: e },
        );
      });
      await sleep(2000);
    } finally {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return reads;
  }

  /** Ledger intents recorded since `since`: `source_table kind outcome` → count, and their reasons. */
  async function intentsSince(since: Date): Promise<{ byKind: Record<string, number>; rows: LedgerRow[] }> {
    const rows = (
      await state.query<LedgerRow>(
        `SELECT kind, outcome, source_table, error_message FROM ledger_intent WHERE created_at >= $1`,
        [since],
      )
    ).rows;
    const byKind: Record<string, number> = {};
    for (const r of rows) {
      const k = `${r.source_table} ${r.kind} ${r.outcome}`;
      byKind[k] = (byKind[k] ?? 0) + 1;
    }
    return { byKind, rows };
  }

  /** One snapshot phase: `start` makes Debezium re-read every table; then the pipeline must change nothing. */
  async function phase(name: string, start: () => Promise<void>): Promise<PhaseFigures> {
    const t = Date.now();
    const since = new Date((await state.query<{ now: Date }>('SELECT now()')).rows[0].now);
    const before = writes().length;
    const from = await ends();
    const rows = await rowCounts();
    for (const table of Object.keys(rows))
      expect(
        from.some((f) => f.topic === `odoo.public.${table}`),
        `${table}'s topic`,
      ).to.equal(true);
    await start();
    const reads = await readEvents(from, rows);
    await settled(`the pipeline settled after ${name}`);
    const { byKind, rows: intents } = await intentsSince(since);
    const figures: PhaseFigures = {
      tables: Object.fromEntries(Object.entries(rows).map(([table, n]) => [table, [n, reads[table] ?? 0]])),
      readEvents: Object.values(reads).reduce((a, b) => a + b, 0),
      snapshotIntents: byKind,
      stateChangingCalls: writes().length - before,
      seconds: Math.round((Date.now() - t) / 1000),
    };
    console.log(`      ${name}: ${JSON.stringify(figures)}`);
    // the fault landed: every row of every captured table was read again, and its intents reached the projector
    for (const [table, n] of Object.entries(rows))
      expect(reads[table] ?? 0, `${name}: op r events of ${table}`).to.be.at.least(n);
    expect(
      intents.filter((r) => r.source_table === 'contract_contract').length,
      `${name}: contract snapshot intents`,
    ).to.be.at.least(rows.contract_contract);
    expect(
      intents.filter((r) => r.kind === 'apply_one_shot').length,
      `${name}: one-shot intents`,
    ).to.be.above(0);
    // the result: nothing applied, nothing sent
    expect(
      writes()
        .slice(before)
        .map((e) => `${e.method} ${e.path}`),
      `${name}: state-changing OpenCell calls`,
    ).to.deep.equal([]);
    expect(
      intents.filter((r) => r.outcome !== 'skipped').map((r) => `${r.kind} ${r.outcome} ${r.error_message}`),
      `${name}: every snapshot intent skipped`,
    ).to.deep.equal([]);
    for (const r of intents) expect(r.error_message, `${name}: ${r.kind}'s reason`).to.match(/^snapshot: /);
    return figures;
  }

  it('history projected; snapshot --all and a fresh connector with snapshot.mode=initial: 0 state-changing calls', async () => {
    // --- 1. the demo's history -----------------------------------------------------------------------------------
    const seed = Math.floor(Date.now() / 1000) % 1_000_000;
    const seeded = await seedDemo(db, { partners: PARTNERS, seed });
    await settled('the demo seed projected');
    const changes = await demoChanges(db, seed);
    await settled('the demo changes projected');
    const history = writes();
    const byOp: Record<string, number> = {};
    for (const e of history) byOp[`${e.method} ${e.path}`] = (byOp[`${e.method} ${e.path}`] ?? 0) + 1;
    const subscriptions = sandbox.state.subscriptions.size;
    const oneShots = [...sandbox.state.subscriptions.values()].reduce(
      (n, s) => n + (s.oneShots?.length ?? 0),
      0,
    );
    console.log(
      `      history: ${seeded.partners} partners, ${seeded.contracts} contracts, ${seeded.lines} lines; ${history.length} state-changing calls ${JSON.stringify(byOp)}`,
    );
    expect(subscriptions, 'subscriptions in OpenCell after the history').to.be.above(0);
    expect(oneShots, 'one-shots charged by the history').to.be.above(0);
    expect(changes.terminatedContract, 'the demo terminated a contract').to.not.equal(null);
    const historyLedger = (
      await state.query<{ outcome: string; n: number }>(
        `SELECT outcome, count(*)::int AS n FROM ledger_intent GROUP BY outcome`,
      )
    ).rows;
    expect(historyLedger.find((r) => r.outcome === 'applied')?.n ?? 0).to.be.above(0);

    // --- 2. the operator's snapshot of every captured table --------------------------------------------------------
    let cliReport: { rowsEmitted?: number; completed?: boolean } = {};
    const all = await phase('snapshot --all', async () => {
      const r = await runCli(
        ['snapshot', '--all', '--wait', '--json', '--yes', '--timeout', '180'],
        env,
        300_000,
      );
      expect(r.code, `snapshot --all: ${r.stderr}`).to.equal(0);
      cliReport = JSON.parse(r.stdout) as typeof cliReport;
      expect(cliReport.completed).to.equal(true);
    });
    expect(cliReport.rowsEmitted, 'rows the command reported').to.equal(
      Object.values(all.tables).reduce((n, [rows]) => n + rows, 0),
    );

    // --- 3. go-live: a new deployment (an empty state database, new intent and sync-event topics, new groups) and
    // a fresh connector (new name, no offsets, snapshot.mode=initial) on the same Debezium topics, over an Odoo whose
    // history OpenCell already holds — as when this pipeline replaces the original module
    await worker.shutdown();
    await setupStateDatabase({
      ...defaultPgSetupOptions({ ...process.env, ...env }),
      stateDb: goLiveStateDb,
    });
    await state.end();
    const goLiveStateUrl = stack.stateDatabaseUrl.replace(/[^/]+$/, goLiveStateDb);
    state = testPool({ connectionString: goLiveStateUrl, max: 2 });
    expect(
      (await state.query<{ n: number }>(`SELECT count(*)::int AS n FROM ledger_intent`)).rows[0].n,
      'the go-live ledger is empty',
    ).to.equal(0);
    groups = { router: `golive-router-new-${sfx}`, projector: `golive-projector-new-${sfx}` };
    env = {
      ...env,
      STATE_DATABASE_URL: goLiveStateUrl,
      INTENTS_TOPIC: `test.golive-intents-new-${sfx}`,
      SYNC_EVENTS_TOPIC: `test.golive-sync-events-new-${sfx}`,
      FAULT_ROUTER_GROUP: groups.router,
      FAULT_PROJECTOR_GROUP: groups.projector,
      FAULT_RELAY_LOCK_KEY: String(Math.floor(Math.random() * 2 ** 40) + 1),
    };
    config = loadConfig({ ...process.env, ...env });
    await ensurePipelineTopics(kafka, config);
    await startGroupAtEnd(kafka, admin, groups.router, routerTopics(config.topics.prefix));
    worker = new WorkerSupervisor(env);
    await worker.start();
    const oldName = 'odoo-billing';
    const newName = `odoo-billing-golive-${sfx}`;
    const connect = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${stack.connectUrl}${path}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : undefined,
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (!res.ok && res.status !== 404) throw new Error(`Connect ${method} ${path}: ${res.status} ${text}`);
      return text ? (JSON.parse(text) as unknown) : undefined;
    };
    const slot = stack.env.DEBEZIUM_SLOT_NAME;
    const initial = await phase(
      'go-live: new deployment, fresh connector (snapshot.mode=initial)',
      async () => {
        const cfg = (await connect('GET', `/connectors/${oldName}/config`)) as Record<string, string>;
        expect(cfg['snapshot.mode']).to.equal('initial');
        await connect('DELETE', `/connectors/${oldName}`);
        await eventually(
          async () =>
            (
              await db.query<{ active: boolean }>(
                `SELECT active FROM pg_replication_slots WHERE slot_name = $1`,
                [slot],
              )
            ).rows[0]?.active === false
              ? true
              : undefined,
          60_000,
          'the old connector released its slot',
        );
        // the connector's role may not drop slots: the server's superuser does, as scripts/stack reset does
        const superuser = testPool({
          connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres',
          max: 1,
        });
        try {
          await superuser.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
        } finally {
          await superuser.end();
        }
        await connect('PUT', `/connectors/${newName}/config`, { ...cfg, name: newName });
        await eventually(
          async () => {
            const s = (await connect('GET', `/connectors/${newName}/status`)) as
              { connector?: { state: string }; tasks?: { state: string }[] } | undefined;
            return s?.connector?.state === 'RUNNING' && s.tasks?.[0]?.state === 'RUNNING' ? true : undefined;
          },
          60_000,
          'the fresh connector running',
        );
      },
    );

    const report = {
      generatedAt: new Date().toISOString(),
      commit: headCommit(),
      seconds: Math.round((Date.now() - t0) / 1000),
      history: {
        partners: seeded.partners,
        contracts: seeded.contracts,
        lines: seeded.lines,
        stateChangingCalls: history.length,
        byOperation: byOp,
        oneShots,
      },
      phases: {
        'snapshot --all (the running deployment)': all,
        'go-live: a new deployment (empty ledger) and a fresh connector (snapshot.mode=initial)': initial,
      },
    };
    writeFileSync(join(ROOT, 'bench', 'golive-snapshot.md'), renderReport(report));
  });
});

interface LedgerRow {
  kind: string;
  outcome: string;
  source_table: string | null;
  error_message: string | null;
}

function renderReport(r: {
  generatedAt: string;
  commit: string;
  seconds: number;
  history: {
    partners: number;
    contracts: number;
    lines: number;
    stateChangingCalls: number;
    oneShots: number;
  };
  phases: Record<string, PhaseFigures>;
}): string {
  const rows = Object.entries(r.phases).map(([name, p]) => {
    const tables = Object.values(p.tables);
    const rowsRead = tables.reduce((n, [rows]) => n + rows, 0);
    const intents = Object.values(p.snapshotIntents).reduce((a, b) => a + b, 0);
    return `| ${name} | ${tables.length} | ${rowsRead} | ${p.readEvents} | ${intents} | ${p.stateChangingCalls} | ${p.seconds} |`;
  });
  const kinds = Object.entries(r.phases).map(
    ([name, p]) =>
      `- ${name}: ${Object.entries(p.snapshotIntents)
        .sort()
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}`,
  );
  return `Scenario "go-live: a snapshot of every captured table after the demo history changes nothing in OpenCell"
(\`test/faults/golive-snapshot.test.ts\`, part of \`npm run test:faults\`): a second local stack (one broker, its own
Odoo database holding only the demo's history, its own state database and slot). The pipeline projects the demo's
seed and changes (\`testkit/demo\`): ${r.history.partners} partners, ${r.history.contracts} contracts, ${r.history.lines} lines, then an address, a
phone number, a tariff change and a termination — ${r.history.stateChangingCalls} state-changing OpenCell calls, ${r.history.oneShots} one-shots charged.
Then two snapshots of every captured table: the operator's \`snapshot --all --wait\` under the running deployment; and
go-live, as when this pipeline replaces the original module over an OpenCell that already holds the history: a new
deployment (an empty state database, so an empty ledger; new intent and sync-event topics and groups) and a fresh
connector (the old one deleted and its slot dropped; a new connector name, so no offsets, \`snapshot.mode=initial\`)
on the same Debezium topics.

| snapshot | tables | rows in Odoo | \`op: r\` events counted | snapshot intents in the ledger | state-changing OpenCell calls | s |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Snapshot intents by table, kind and outcome:
${kinds.join('\n')}

Result (${r.generatedAt.slice(0, 16).replace('T', ' ')}, ${r.commit}, 2 cores): every row of every captured table read again by
each snapshot, every snapshot intent \`skipped\` with a \`snapshot: …\` reason, **0 state-changing OpenCell calls**
after the history, no one-shot charged again. ${r.seconds} s for the scenario, the stack's start included.
`;
}
