/**
 * Operations end to end, as an operator drives them: `run` is a spawned CLI process (router + projector) against the
 * real stack (Odoo's PostgreSQL, Debezium, Kafka) and an OpenCell sandbox; `dlq`, `reconcile` and `resync` are
 * spawned CLI commands too. The checks of issue E that need the whole loop:
 * - SIGTERM during a burst of changes loses nothing and applies nothing twice (after a restart);
 * - `dlq replay` re-processes a dead letter once its cause is fixed (in Odoo, or in OpenCell's catalog);
 * - `reconcile` finds drift planted in OpenCell and `reconcile --fix` repairs it;
 * - `resync --to …` then `run` replays everything without a second OpenCell effect.
 *
 * The state database is shared with every other pipeline on this stack and intent ids derive from the Odoo change,
 * so the workers get a ledger of their own (a schema selected by search_path). Topics and consumer groups are the
 * test's own; the router group starts at the current end of the Debezium topics. Other engineers' concurrent Odoo
 * changes flow through this pipeline too: every assertion is about the test's own partners and contracts.
 *
 * The tests run in order on one sandbox and share the `run` process (restarted where a test stops it); the resync
 * at the end replays everything the earlier tests produced. E2E_TRACE=1 prints timings.
 */
import { expect } from 'chai';
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { type Pool, PoolClient } from 'pg';
import { testPool } from '../support/pg';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertPartner,
  productIdByCode,
  UNKNOWN_PRODUCT_CODE,
} from '../../testkit/demo-seed';
import { loadConfig } from '../../src/core/config';
import { ensurePipelineTopics, routerTopics } from '../../src/flows/projection/stages';
import { startOpenCellSandbox } from '../../testkit/sandbox/opencell';
import { readTopic } from '../../src/app/dlq-admin';
import { CatalogIndex } from '../../testkit/sandbox/opencell/sandbox-catalog';
import { isStateChanging, type JournalEntry } from '../../testkit/sandbox/opencell/journal';
import {
  createStateSchema,
  eventually,
  odooDb,
  ROOT,
  stateDb,
  startGroupAtEnds,
  stateUrlFor,
  testKafka,
  uniqueSuffix,
} from './support/stack';

const CLI = join(ROOT, 'src', 'app', 'cli.ts');
const TARIFF = 'SE_SC_REC_MOBILE_T_UNL_20480';
const PACK = 'SE_SC_REC_MOBILE_PACK_UNL_1024';
const SIM = 'CH_SC_OSO_SIM';
const MOBILE_OFFER = 'OF_SC_TEMPLATE_MOB';

type Sandbox = Awaited<ReturnType<typeof startOpenCellSandbox>>;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Customer {
  partnerId: number;
  ref: string;
  contractId: number;
  code: string;
  phone: string;
  lineIds: number[];
}

/** A spawned `run` process: started, watched, stopped with a signal. */
class RunProcess {
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (d) => (this.stderr += d));
    child.stdout!.resume();
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  static async start(args: string[], env: NodeJS.ProcessEnv): Promise<RunProcess> {
    const p = new RunProcess(
      spawn(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const early = p.exited.then((code) => {
      throw new Error(`run exited early (${code}):\n${p.stderr}`);
    });
    early.catch(() => undefined);
    await Promise.race([
      eventually(
        async () => (p.stderr.includes('[run] running') ? true : undefined),
        90_000,
        `run to start (stderr: ${p.stderr})`,
      ),
      early,
    ]);
    return p;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM and the exit code (throws when the process does not leave in time). */
  async sigterm(timeoutMs = 60_000): Promise<number | null> {
    this.child.kill('SIGTERM');
    const code = await Promise.race([
      this.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs)),
    ]);
    if (code === 'timeout')
      throw new Error(`run did not stop within ${timeoutMs} ms of SIGTERM:\n${this.stderr}`);
    return code;
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }
}

/** The run's `sync_intents_already_finished_total`, all tables (its HTTP port from its "[run] running" line). */
async function alreadyFinished(run: RunProcess | undefined): Promise<number> {
  const port = /\[run\] running .*http on :(\d+)/.exec(run?.stderr ?? '')?.[1];
  if (!port) throw new Error(`no HTTP port in the run's output:\n${run?.stderr}`);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^sync_intents_already_finished_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

/** OpenCell's list endpoints are POSTs that read. */
const T0 = Date.now();
const stamp = (what: string) =>
  process.env.E2E_TRACE && console.log(`  [${((Date.now() - T0) / 1000).toFixed(1)}s] ${what}`);
const body = (e: JournalEntry) => (e.body ?? {}) as Record<string, unknown>;

describe('operations end to end: spawned `run`, CLI commands, real CDC, OpenCell sandbox', function () {
  this.timeout(240_000);
  const sfx = uniqueSuffix();
  const topics = {
    intents: `test.e2e-intents-${sfx}`,
    dlq: `test.e2e-dlq-${sfx}`,
    events: `test.e2e-events-${sfx}`,
  };
  const groups = { router: `test-e2e-router-${sfx}`, projector: `test-e2e-projector-${sfx}` };
  const stateSchema = `ops_e2e_${sfx}`;
  const stateUrl = stateUrlFor(stateSchema);
  const runArgs = [
    'run',
    '--only',
    'router,projector',
    '--group',
    `router=${groups.router}`,
    '--group',
    `projector=${groups.projector}`,
  ];
  let startedAt = '';
  let sandbox: Sandbox;
  let env: NodeJS.ProcessEnv;
  let db: PoolClient;
  let ledger: Pool;
  let admin: Admin;
  let run: RunProcess | undefined;
  const customers: Customer[] = [];
  /** contracts whose line with UNKNOWN_PRODUCT_CODE is dead-lettered: fixed in Odoo / fixed in OpenCell's catalog */
  let fixInOdoo: Customer;
  let fixInCatalog: Customer;
  const burst: Customer[] = [];
  let repaired: Customer | undefined;
  /** every effect of a burst contract, once */
  const burstEffects = {
    'POST /account/customer': 1,
    'POST /account/accountHierarchy/createCRMAccountHierarchy': 1,
    'POST /billing/subscription': 1,
    'POST /account/access': 1,
    [`activate ${TARIFF}`]: 1,
    [`activate ${PACK}`]: 1,
    [`oneShot ${SIM}`]: 1,
  };

  const cli = (args: string[], timeoutMs = 90_000): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`cli ${args.join(' ')} timed out\n${stderr}`));
      }, timeoutMs);
      child.on('exit', (code) => {
        clearTimeout(timer);
        setImmediate(() => resolve({ code, stdout, stderr }));
      });
    });

  /** Successful state-changing calls about one subscription (by its code) or one customer (by its ref). */
  const writesFor = (c: Customer, sinceSeq = 0) =>
    sandbox.journal.entries().filter((e) => {
      if (e.seq <= sinceSeq || e.status >= 300 || !isStateChanging(e)) return false;
      const b = body(e);
      return (
        b.subscription === c.code ||
        b.code === c.code ||
        b.code === c.ref ||
        b.crmParentCode === c.ref ||
        e.path.includes(`/${c.code}/`)
      );
    });

  /** Per-contract count of each effect (path, plus the product for activations and one-shots). */
  const effectCounts = (c: Customer, sinceSeq = 0) => {
    const out: Record<string, number> = {};
    const bump = (k: string) => (out[k] = (out[k] ?? 0) + 1);
    for (const e of writesFor(c, sinceSeq)) {
      const b = body(e);
      if (e.path.endsWith('/activateServices')) {
        for (const s of (b.servicesToActivate as { service?: { code: string }[] } | undefined)?.service ?? [])
          bump(`activate ${s.code}`);
      } else if (e.path.endsWith('/applyOneShotChargeInstance')) bump(`oneShot ${String(b.oneShotCharge)}`);
      else bump(`${e.method} ${e.path}`);
    }
    return out;
  };

  const subOf = (c: Customer) => sandbox.state.subscriptions.get(c.code);
  const liveServices = (c: Customer) =>
    (subOf(c)?.services ?? [])
      .filter((s) => s.status === 'ACTIVE')
      .map((s) => s.code)
      .sort();
  const accessesOf = (c: Customer) =>
    (sandbox.state.accessesBySubscription.get(c.code) ?? []).map((a) => a.code);
  /** The whole contract in OpenCell: customer, subscription, access, both services, the SIM charge. */
  const complete = (c: Customer) =>
    sandbox.state.customers.has(c.ref) &&
    subOf(c)?.status === 'ACTIVE' &&
    accessesOf(c).includes(c.phone) &&
    JSON.stringify(liveServices(c)) === JSON.stringify([PACK, TARIFF].sort()) &&
    (subOf(c)?.oneShots ?? []).some((o) => o.code === SIM);

  async function newCustomer(lines: string[]): Promise<Customer> {
    const partner = await insertPartner(db, { email: `e2e-${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
      lines,
    });
    const c = {
      partnerId: partner.id,
      ref: partner.ref!,
      contractId: contract.id,
      code: contract.code,
      phone: contract.phoneNumber,
      lineIds: contract.lineIds,
    };
    customers.push(c);
    return c;
  }

  async function deadLettered(lineId: number): Promise<void> {
    await eventually(
      async () => {
        const r = await ledger.query(
          `SELECT 1 FROM ledger_intent WHERE odoo_model = 'contract.line' AND odoo_id = $1 AND outcome = 'dead_lettered' AND error_code = 'UNKNOWN_PRODUCT'`,
          [lineId],
        );
        return r.rowCount ? true : undefined;
      },
      90_000,
      `the dead letter of line ${lineId}`,
    );
  }

  async function deadLetterIdOf(c: Customer): Promise<string> {
    const r = await cli(['dlq', 'list', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const mine = (
      JSON.parse(r.stdout).deadLetters as {
        id: string;
        key: string;
        code: string;
        stage: string;
        message: string;
        replayed: unknown;
      }[]
    ).filter((d) => d.key === `partner:${c.partnerId}`);
    expect(mine, JSON.stringify(mine)).to.have.length(1);
    expect(mine[0]).to.include({ code: 'UNKNOWN_PRODUCT', stage: 'projector', replayed: null });
    expect(mine[0].message).to.include(UNKNOWN_PRODUCT_CODE);
    return mine[0].id;
  }

  before(async function () {
    this.timeout(180_000);
    startedAt = new Date().toISOString();
    await createStateSchema(stateSchema);
    ledger = testPool({ connectionString: stateUrl, max: 2 });
    sandbox = await startOpenCellSandbox({ port: 0 });
    env = {
      ...process.env,
      OPENCELL_BASEURL: sandbox.url,
      OPENCELL_USER: sandbox.credentials.user,
      OPENCELL_PASSWORD: sandbox.credentials.password,
      ODOO_PASSWORD: 'x',
      STATE_DATABASE_URL: stateUrl,
      INTENTS_TOPIC: topics.intents,
      DLQ_TOPIC: topics.dlq,
      SYNC_EVENTS_TOPIC: topics.events,
      HTTP_PORT: '0',
      // force-create below repairs a contract with its lines (opt-in; the original's forced creation sent none)
      FORCE_CREATE_WITH_LINES: 'true',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      RETRY_INITIAL_MS: '50',
      RETRY_MAX_MS: '500',
    };
    const kafka = testKafka();
    await ensurePipelineTopics(kafka, loadConfig(env));
    admin = kafka.admin();
    await admin.connect();
    await startGroupAtEnds(groups.router, routerTopics('odoo'));
    db = await odooDb().connect();
    stamp('before: setup done');
    run = await RunProcess.start(runArgs, env);
    stamp('before: run started');
  });

  after(async function () {
    this.timeout(60_000);
    if (run?.alive) await run.sigterm(20_000).catch(() => run?.kill());
    db?.release();
    await ledger?.end().catch(() => undefined);
    await sandbox?.close().catch(() => undefined);
    if (admin) {
      await admin.deleteGroups([groups.router, groups.projector]).catch(() => undefined);
      await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
      await admin.disconnect();
    }
    await stateDb()
      .query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE`)
      .catch(() => undefined);
  });

  it('dlq replay: a line dead-lettered for an unknown product reaches OpenCell after its product is fixed in Odoo', async () => {
    fixInOdoo = await newCustomer([TARIFF, UNKNOWN_PRODUCT_CODE]);
    const badLine = fixInOdoo.lineIds[1];
    await deadLettered(badLine);
    await eventually(
      async () => (liveServices(fixInOdoo).includes(TARIFF) ? true : undefined),
      60_000,
      'the rest of the contract applied',
    );
    const id = await deadLetterIdOf(fixInOdoo);
    const shown = await cli(['dlq', 'show', id]);
    expect(shown.code, shown.stderr).to.equal(0);
    expect(shown.stdout).to.include(UNKNOWN_PRODUCT_CODE).and.include(`${topics.intents} partition`);

    // The fix: the line gets a product OpenCell knows. A product changed in place is no trigger of the original;
    // it gives an `unsynced_change` report (docs/parity.md NW-line-product), not an activation.
    await db.query(`UPDATE contract_line SET product_id = $2, write_date = now() WHERE id = $1`, [
      badLine,
      await productIdByCode(db, PACK),
    ]);
    const before = sandbox.journal.lastSeq;
    const r = await cli(['dlq', 'replay', '--id', id, '--yes']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include(`replayed ${id} → ${topics.intents}[`);
    await eventually(
      async () => (liveServices(fixInOdoo).includes(PACK) ? true : undefined),
      60_000,
      'the replayed activation in OpenCell',
    );
    await eventually(
      async () => {
        const x = await ledger.query(
          `SELECT outcome FROM ledger_intent
            WHERE odoo_model = 'contract.line' AND odoo_id = $1 AND kind = 'activate_service'`,
          [badLine],
        );
        return x.rows[0]?.outcome === 'applied' ? true : undefined;
      },
      30_000,
      'the ledger to record the replayed intent as applied',
    );
    expect(effectCounts(fixInOdoo, before)).to.deep.equal({ [`activate ${PACK}`]: 1 });
    const listed = JSON.parse((await cli(['dlq', 'list', '--json'])).stdout).deadLetters.find(
      (d: { id: string }) => d.id === id,
    );
    expect(listed.replayed).to.have.property('at');
  });

  it('SIGTERM during a burst of changes loses nothing; after a restart every change is applied once', async () => {
    // slow OpenCell down so that the burst is still being projected when the signal arrives
    const latency = sandbox.faults.add({ kind: 'latency', latencyMs: 120 });
    for (let i = 0; i < 8; i++) burst.push(await newCustomer([TARIFF, PACK, SIM]));
    await eventually(
      async () => (burst.filter((c) => subOf(c)).length >= 2 ? true : undefined),
      60_000,
      'the burst to be partly projected',
    );
    const first = run!;
    const code = await first.sigterm();
    const doneAtStop = burst.filter(complete).length;
    stamp(
      `SIGTERM: exit ${code}; at the stop ${burst.filter((c) => subOf(c)).length}/${burst.length} subscriptions, ${doneAtStop} complete`,
    );
    expect(code, first.stderr).to.equal(0);
    expect(first.stderr).to.include('[run] stopped');
    expect(doneAtStop, 'the signal came while the burst was being projected').to.be.lessThan(burst.length);
    sandbox.faults.remove(latency.id);

    run = await RunProcess.start(runArgs, env);
    await eventually(
      async () => (burst.every(complete) ? true : undefined),
      90_000,
      `the whole burst in OpenCell (${burst.filter(complete).length}/${burst.length})`,
    );
    await new Promise((r) => setTimeout(r, 1500));
    for (const c of burst) {
      expect(effectCounts(c), c.code).to.deep.equal(burstEffects);
      expect(
        subOf(c)!
          .services.map((s) => s.code)
          .sort(),
        c.code,
      ).to.deep.equal([PACK, TARIFF].sort());
      expect(
        subOf(c)!.oneShots.map((o) => o.code),
        c.code,
      ).to.deep.equal([SIM]);
      expect(accessesOf(c), c.code).to.deep.equal([c.phone]);
    }
    const lost = await ledger.query(
      `SELECT intent_id, kind, outcome, error_code FROM ledger_intent WHERE aggregate_key = ANY($1) AND outcome NOT IN ('applied', 'skipped')`,
      [burst.map((c) => `partner:${c.partnerId}`)],
    );
    expect(lost.rows).to.deep.equal([]);
  });

  it('dlq replay: a line dead-lettered for an unknown product reaches OpenCell after the product is added to the catalog', async () => {
    fixInCatalog = await newCustomer([TARIFF, UNKNOWN_PRODUCT_CODE]);
    await deadLettered(fixInCatalog.lineIds[1]);
    await eventually(
      async () => (liveServices(fixInCatalog).includes(TARIFF) ? true : undefined),
      60_000,
      'the rest of the contract applied',
    );
    const id = await deadLetterIdOf(fixInCatalog);
    expect(liveServices(fixInCatalog)).to.deep.equal([TARIFF]);
    // The fix: OpenCell's catalog gets the product (a service template, offered by the mobile offer).
    const catalog = sandbox.state.catalog;
    catalog.serviceTemplates.push({
      code: UNKNOWN_PRODUCT_CODE,
      description: 'Unknown extra X',
      monthlyPrice: 0.8182,
      invoiceSubCategory: 'SC_MOBILE',
    });
    catalog.offerTemplates
      .find((o) => o.code === MOBILE_OFFER)!
      .services.push({ code: UNKNOWN_PRODUCT_CODE });
    sandbox.state.index = new CatalogIndex(catalog);
    // A live projector re-reads OpenCell's catalog on an unknown code at most every 30 s (CatalogCache), and unknown
    // codes keep coming (other engineers' poison inputs flow through this pipeline too): restart it, as an operator
    // would after a catalog change, so that the replay meets a catalog read after the fix.
    expect(await run!.sigterm(), run!.stderr).to.equal(0);
    run = await RunProcess.start(runArgs, env);
    const before = sandbox.journal.lastSeq;
    const r = await cli(['dlq', 'replay', '--id', id, '--yes']);
    expect(r.code, r.stderr).to.equal(0);
    await eventually(
      async () => (liveServices(fixInCatalog).includes(UNKNOWN_PRODUCT_CODE) ? true : undefined),
      60_000,
      'the replayed activation in OpenCell',
    );
    await new Promise((r2) => setTimeout(r2, 1000));
    expect(effectCounts(fixInCatalog, before)).to.deep.equal({ [`activate ${UNKNOWN_PRODUCT_CODE}`]: 1 });
    expect(liveServices(fixInCatalog)).to.deep.equal([TARIFF, UNKNOWN_PRODUCT_CODE].sort());
  });

  it('reconcile finds drift planted in OpenCell (service instance missing, access deleted) and --fix repairs it', async () => {
    const c = burst.find((x) => complete(x))!;
    expect(c, 'a complete contract to damage').to.not.equal(undefined);
    repaired = c;
    // A service instance OpenCell does not hold (an activation lost) and an access deleted directly in OpenCell. (A
    // service terminated in OpenCell is never re-activated by --fix: service_ended_in_opencell, test/unit/ops-reconcile.)
    const services = subOf(c)!.services;
    const pack = services.findIndex((s) => s.code === PACK && s.status === 'ACTIVE');
    expect(pack, `an active ${PACK} instance on ${c.code}`).to.be.greaterThan(-1);
    services.splice(pack, 1);
    sandbox.state.removeAccess(
      sandbox.state.accessesBySubscription.get(c.code)!.find((a) => a.code === c.phone)!,
    );

    const report = await cli(['reconcile', '--contract', c.code, '--json']);
    expect(report.code, report.stderr).to.equal(0);
    const found = JSON.parse(report.stdout) as {
      partners: number;
      drift: { kind: string; fix: { kind: string } | null }[];
      fixed: unknown[];
    };
    expect(found.drift.map((d) => [d.kind, d.fix?.kind ?? null]).sort()).to.deep.equal([
      ['access_missing', 'update_phone_number'],
      ['service_missing', 'activate_service'],
    ]);
    expect(found.fixed).to.deep.equal([]);
    const table = await cli(['reconcile', '--partner', c.ref]);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.include('service_missing').and.include('access_missing').and.include(c.code);

    const before = sandbox.journal.lastSeq;
    const fix = await cli(['reconcile', '--contract', c.code, '--fix', '--json', '--yes']);
    expect(fix.code, fix.stderr).to.equal(0);
    const fixed = JSON.parse(fix.stdout).fixed as { kind: string }[];
    expect(fixed.map((f) => f.kind).sort()).to.deep.equal(['activate_service', 'update_phone_number']);
    await eventually(
      async () => (liveServices(c).includes(PACK) && accessesOf(c).includes(c.phone) ? true : undefined),
      60_000,
      'the repair in OpenCell',
    );
    const repairs = await ledger.query(
      `SELECT kind, outcome FROM ledger_intent WHERE source_table = 'ops:reconcile' AND aggregate_key = $1 ORDER BY kind`,
      [`partner:${c.partnerId}`],
    );
    expect(repairs.rows).to.deep.equal([
      { kind: 'activate_service', outcome: 'applied' },
      { kind: 'update_phone_number', outcome: 'applied' },
    ]);
    expect(effectCounts(c, before)).to.deep.equal({ [`activate ${PACK}`]: 1, 'POST /account/access': 1 });
    const again = await cli(['reconcile', '--contract', c.code]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.include('no drift');
  });

  it('resync (router to the start of the test, projector to earliest) then run replays with no second OpenCell effect', async () => {
    stamp('resync: start');
    const code = await run!.sigterm();
    stamp('resync: stopped');
    expect(code, run!.stderr).to.equal(0);
    const stateBefore = JSON.stringify(customers.map((c) => [subOf(c), accessesOf(c)]));
    const intentsBefore = (await ledger.query(`SELECT count(*)::int AS n FROM ledger_intent`)).rows[0]
      .n as number;
    const mark = sandbox.journal.lastSeq;

    const routerPlan = await cli(['resync', groups.router, '--to', startedAt, '--json', '--yes']);
    expect(routerPlan.code, routerPlan.stderr).to.equal(0);
    const rp = JSON.parse(routerPlan.stdout) as {
      partitions: { topic: string; partition: number; target: string }[];
      totals: { replayed: number };
    };
    expect([...new Set(rp.partitions.map((p) => p.topic))].sort()).to.deep.equal(
      [...routerTopics('odoo')].sort(),
    );
    expect(rp.totals.replayed).to.be.greaterThan(0);
    const routerAt = await admin.fetchOffsets({ groupId: groups.router, topics: routerTopics('odoo') });
    for (const p of rp.partitions)
      expect(
        routerAt.find((t) => t.topic === p.topic)?.partitions.find((x) => x.partition === p.partition)
          ?.offset,
        `${p.topic}:${p.partition}`,
      ).to.equal(p.target);
    stamp('resync: router reset');
    const projectorPlan = await cli(['resync', groups.projector, '--to', 'earliest', '--json', '--yes']);
    expect(projectorPlan.code, projectorPlan.stderr).to.equal(0);
    const pp = JSON.parse(projectorPlan.stdout) as {
      partitions: { topic: string; current: string; target: string }[];
      totals: { replayed: number };
    };
    expect([...new Set(pp.partitions.map((p) => p.topic))]).to.deep.equal([topics.intents]);
    expect(pp.totals.replayed).to.be.greaterThan(0);
    const committed = await admin.fetchOffsets({ groupId: groups.projector, topics: [topics.intents] });
    const lows = await admin.fetchTopicOffsets(topics.intents);
    expect(committed[0].partitions.map((p) => p.offset).sort()).to.deep.equal(lows.map((p) => p.low).sort());

    // the ends the replay must reach: the router's now, the projector's once the router has re-routed everything
    const routerEnds = new Map<string, string>();
    for (const t of routerTopics('odoo'))
      for (const p of await admin.fetchTopicOffsets(t)) routerEnds.set(`${t}:${p.partition}`, p.high);
    const reached = async (groupId: string, ends: Map<string, string>) => {
      const c = await admin.fetchOffsets({
        groupId,
        topics: [...new Set([...ends.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))],
      });
      return [...ends].every(([k, high]) => {
        const [t, p] = [k.slice(0, k.lastIndexOf(':')), Number(k.slice(k.lastIndexOf(':') + 1))];
        const o = c.find((x) => x.topic === t)?.partitions.find((x) => x.partition === p)?.offset ?? '-1';
        return Number(o) >= Number(high);
      });
    };
    stamp('resync: projector reset');
    const intentsHigh = (await admin.fetchTopicOffsets(topics.intents)).reduce(
      (n, p) => n + Number(p.high),
      0,
    );
    run = await RunProcess.start(runArgs, env);
    stamp('resync: run started');
    await eventually(
      async () => ((await reached(groups.router, routerEnds)) ? true : undefined),
      90_000,
      'the router to replay up to the ends',
    );
    const intentEnds = new Map(
      (await admin.fetchTopicOffsets(topics.intents)).map((p) => [
        `${topics.intents}:${p.partition}`,
        p.high,
      ]),
    );
    stamp('resync: router caught up');
    // A replayed batch's intents that the ledger has finished are left out (issue 17 §2), the others produced again:
    // the run's metric counts the former.
    const leftOut = await alreadyFinished(run);
    const routedAgain = [...intentEnds.values()].reduce((n, h) => n + Number(h), 0) - intentsHigh;
    stamp(`resync: ${routedAgain} intents routed again, ${leftOut} left out as finished`);
    expect(routedAgain + leftOut, 'the router routed the replayed changes again').to.be.greaterThan(0);
    await eventually(
      async () => ((await reached(groups.projector, intentEnds)) ? true : undefined),
      90_000,
      'the projector to replay up to the ends',
    );
    stamp('resync: projector caught up');

    // the router re-routed the test's changes: the same intent ids again (deterministic), skipped as finished
    const ours = new Set(customers.map((c) => `partner:${c.partnerId}`));
    const seen = new Map<string, number>();
    for (const { message } of await readTopic(testKafka(), admin, topics.intents)) {
      if (
        !ours.has(message.key?.toString() ?? '') ||
        String(message.headers?.source_table ?? '').startsWith('ops:') ||
        message.headers?.replayed_from
      )
        continue;
      const id = String(message.headers?.intent_id);
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    expect(seen.size).to.be.greaterThan(customers.length * 3);
    expect(
      [...seen.values()].filter((n) => n < 2).length,
      `intents of the test neither routed again nor left out as finished (${leftOut} left out)`,
    ).to.be.at.most(leftOut);

    // none twice, over the whole test: the repair re-did exactly what reconcile found missing
    for (const c of burst) {
      const twice = c === repaired ? { [`activate ${PACK}`]: 2, 'POST /account/access': 2 } : {};
      expect(effectCounts(c), c.code).to.deep.equal({ ...burstEffects, ...twice });
    }
    expect(effectCounts(fixInOdoo)).to.deep.include({
      [`activate ${TARIFF}`]: 1,
      [`activate ${PACK}`]: 1,
      'POST /billing/subscription': 1,
    });
    expect(effectCounts(fixInCatalog)).to.deep.include({
      [`activate ${TARIFF}`]: 1,
      [`activate ${UNKNOWN_PRODUCT_CODE}`]: 1,
      'POST /billing/subscription': 1,
    });
    const again = customers.flatMap((c) => writesFor(c, mark).map((e) => `${c.code}: ${e.method} ${e.path}`));
    expect(again, 'no state-changing OpenCell call for the replayed changes').to.deep.equal([]);
    expect(JSON.stringify(customers.map((c) => [subOf(c), accessesOf(c)]))).to.equal(stateBefore);
    const intentsAfter = (await ledger.query(`SELECT count(*)::int AS n FROM ledger_intent`)).rows[0]
      .n as number;
    expect(intentsAfter).to.be.at.least(intentsBefore);
    const mine = await ledger.query(
      `SELECT kind, outcome, count(*)::int AS n FROM ledger_intent WHERE aggregate_key = ANY($1) AND outcome NOT IN ('applied', 'skipped') GROUP BY 1, 2`,
      [customers.map((c) => `partner:${c.partnerId}`)],
    );
    expect(
      mine.rows,
      'every intent of the test ends applied or skipped (the fixed dead letters included)',
    ).to.deep.equal([]);
  });

  it('a half-created hierarchy (customer without accounts, not created by this pipeline): its contracts are refused as the original does, and `reconcile --fix` and `force-create` repair it (issue 19 §1)', async () => {
    // Not in `customers`: the resync test above does not account for these.
    const planted = async () => {
      const partner = await insertPartner(db, { email: `e2e-half-${uniqueSuffix()}@example.org` });
      // the customer exists in OpenCell without any account, created by someone else (no ledger record of ours)
      const r = await fetch(`${sandbox.apiUrl}/account/customer`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${sandbox.credentials.user}:${sandbox.credentials.password}`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          code: partner.ref,
          seller: 'SC',
          customerCategory: 'CLIENT',
          description: 'half-created',
          name: { firstName: 'Half', lastName: 'Created' },
        }),
      });
      expect(r.status).to.equal(200);
      const mandate = await insertBankAccountAndMandate(db, partner.id);
      const contract = await insertContract(db, {
        partnerId: partner.id,
        mandateId: mandate.mandateId,
        kind: 'mobile',
        lines: [TARIFF, PACK, SIM],
      });
      const c: Customer = {
        partnerId: partner.id,
        ref: partner.ref!,
        contractId: contract.id,
        code: contract.code,
        phone: contract.phoneNumber,
        lineIds: contract.lineIds,
      };
      await eventually(
        async () => {
          const q = await ledger.query(
            `SELECT 1 FROM ledger_intent WHERE kind = 'create_subscription' AND odoo_id = $1 AND outcome = 'dead_lettered'
               AND error_message LIKE '%found with no customer accounts associated%'`,
            [c.contractId],
          );
          return q.rowCount ? true : undefined;
        },
        90_000,
        `the original's refusal of ${c.code}`,
      );
      return c;
    };
    const viaReconcile = await planted();
    const viaForce = await planted();
    expect(subOf(viaReconcile)).to.equal(undefined);

    const fix = await cli(['reconcile', '--partner', viaReconcile.ref, '--fix', '--json', '--yes']);
    expect(fix.code, fix.stderr).to.equal(0);
    expect((JSON.parse(fix.stdout).fixed as { kind: string }[]).map((f) => f.kind)).to.include(
      'create_subscription',
    );
    await eventually(
      async () => (accessesOf(viaReconcile).includes(viaReconcile.phone) ? true : undefined),
      60_000,
      'reconcile --fix: account, subscription and access',
    );
    expect(subOf(viaReconcile)?.userAccount).to.equal(`${viaReconcile.ref}_0`);
    // the services follow with a second pass (reconcile compares services once the subscription exists)
    const fix2 = await cli(['reconcile', '--partner', viaReconcile.ref, '--fix', '--json', '--yes']);
    expect(fix2.code, fix2.stderr).to.equal(0);
    await eventually(
      async () =>
        JSON.stringify(liveServices(viaReconcile)) === JSON.stringify([PACK, TARIFF].sort())
          ? true
          : undefined,
      60_000,
      'reconcile --fix: the services',
    );

    const forced = await cli(['force-create', viaForce.code, '--yes']);
    expect(forced.code, forced.stderr).to.equal(0);
    await eventually(
      async () => (complete(viaForce) ? true : undefined),
      60_000,
      'force-create: account, subscription, access, services and one-shot',
    );
    expect(subOf(viaForce)?.userAccount).to.equal(`${viaForce.ref}_0`);
    for (const c of [viaReconcile, viaForce]) {
      const counts = effectCounts(c);
      expect(counts['POST /account/customer'], `${c.code}: only the planted customer`).to.equal(1);
      expect(counts['POST /account/accountHierarchy/createCRMAccountHierarchy'], c.code).to.equal(1);
      expect(counts['POST /billing/subscription'], c.code).to.equal(1);
      expect(counts['POST /account/access'], c.code).to.equal(1);
    }
  });
});
