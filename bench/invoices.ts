/**
 * Benchmark 5 — invoice load (issue 17 §3: `--invoices=100000`, a monthly billing run; 10,000 the quick default): `invoices` synthetic invoices from the OpenCell sandbox (generateInvoices over the
 * billing accounts of `customers` customers that exist in Odoo and OpenCell) → poller (one poll) → outbox (a state
 * database of the benchmark's own) → relay (Avro through the registry) → Kafka → invoice loader → production Odoo
 * JSON-RPC client → Odoo sandbox → Odoo's PostgreSQL. Figures: invoices/s of the loader (first to last load), of
 * the whole flow (poll start to last load), of the poll and of the relay, and — counted in Odoo's database — the
 * invoices present twice (must be 0) and lost (neither in Odoo nor dead-lettered; must be 0).
 *
 * Baseline, measured in the same run on the same sandbox: the same kind of moves (vals mapped from the run's own
 * events, other refs and dates) created straight through the production JSON-RPC client in lists of the loader's batch
 * size — the rate the loader could reach if Kafka, the state database and the lookups cost nothing — and the same
 * lists created by the sandbox's ORM in process (its SQL alone, no HTTP or JSON): the loader's rate is printed as a
 * ratio of the first, and the share of a JSON-RPC create that is the sandbox's SQL from the second.
 */
import os from 'node:os';
import { Client, Pool } from 'pg';
import { CATALOG, insertContract, insertContractGroup, insertPartner } from '../testkit/demo-seed';
import { loadConfig } from '../src/core/config';
import type { LoadOutcome, OdooRpc } from '../src/flows/invoices/loader';
import { OdooClient } from '../src/adapters/odoo/client';
import { odooInvoiceFromEvent } from '../src/domain/invoices/odoo-invoice';
import type { InvoiceIssuedEvent } from '../src/domain/outbox/events';
import { defaultPgSetupOptions } from '../src/app/pg-setup';
import { createMoves } from '../testkit/sandbox/odoo/account-batch';
import { createInvoiceLoader, ensureInvoiceTopics, startInvoicePoller } from '../src/flows/invoices/stages';
import { OpenCellClient } from '../src/adapters/opencell/client';
import { OutboxRelay } from '../src/flows/outbox/relay';
import { EventSchemas } from '../src/adapters/registry/schemas';
import { startOdooSandbox } from '../testkit/sandbox/odoo';
import { defaultCatalog, startOpenCellSandbox } from '../testkit/sandbox/opencell';
import { benchKafka, freshStateDb, ODOO_DATABASE_URL, RssSampler, suffix, waitFor } from './common';

export interface InvoiceOptions {
  invoices: number;
  customers?: number;
  /** invoices per account.move create (the loader's maxBatch; default 200) */
  batch?: number;
  /** invoices created by each baseline (default 2,000) */
  baselineInvoices?: number;
  /** invoices handled at once per partition by the loader's keyed consumer (default: the stage's, 100) */
  concurrency?: number;
  /** the poller's page size (default: config.invoicePoll.pageSize) and full reads in flight (default 4) */
  pageSize?: number;
  pollConcurrency?: number;
  /** lists in flight in the parallel rpc-create baseline (default: the loader's own peak, at least 2) */
  baselineParallel?: number;
}

/** Calls, time and (for account.move creates) lists in flight of the loader's Odoo client, per method. */
interface RpcStats {
  byMethod: Record<string, { calls: number; ms: number }>;
  moveCreates: { calls: number; moves: number; ms: number; inFlight: number; maxInFlight: number };
}

/** The production client, counted: what each Odoo call of the loader costs, measured from the loader's side. */
function countedRpc(c: OdooClient, stats: RpcStats): OdooRpc {
  const wrap =
    <K extends keyof OdooRpc>(k: K) =>
    async (...args: unknown[]): Promise<unknown> => {
      const moveCreate = k === 'createMany' && args[0] === 'account.move';
      const m = moveCreate ? stats.moveCreates : undefined;
      if (m) m.maxInFlight = Math.max(m.maxInFlight, ++m.inFlight);
      const t0 = performance.now();
      try {
        return await (c[k] as (...a: unknown[]) => Promise<unknown>).apply(c, args);
      } finally {
        const ms = performance.now() - t0;
        const key = `${k} ${String(args[0])}`;
        const e = (stats.byMethod[key] ??= { calls: 0, ms: 0 });
        e.calls++;
        e.ms += ms;
        if (m) {
          m.inFlight--;
          m.calls++;
          m.moves += (args[1] as unknown[]).length;
          m.ms += ms;
        }
      }
    };
  return {
    search: wrap('search'),
    searchRead: wrap('searchRead'),
    create: wrap('create'),
    createMany: wrap('createMany'),
    read: wrap('read'),
  } as unknown as OdooRpc;
}

const LOADER_BATCH = 200;
const per = (n: number, ms: number) => (ms > 0 ? Math.round((n / (ms / 1000)) * 10) / 10 : null);

export async function runInvoiceBench(o: InvoiceOptions, log: (s: string) => void = console.log) {
  const rss = new RssSampler();
  const sfx = suffix();
  const PASSWORD = `pw-${sfx}`;
  // 500 invoice dates at most: one invoice per customer and day (below)
  const customers = o.customers ?? Math.max(20, Math.ceil(o.invoices / 500));
  const batch = o.batch ?? LOADER_BATCH;
  const loadAtStart = os.loadavg()[0];
  // One invoice per customer and day: the original's duplicate guard (invoice_date, contract group, journal)
  // refuses a second invoice of a group on one day (docs/parity.md I-duplicate), so the invoices span `days` days.
  const days = Math.ceil(o.invoices / customers);
  const today = new Date().toISOString().slice(0, 10);
  const periodStart = (() => {
    const d = new Date(`${today}T00:00:00Z`);
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 10);
  })();
  const odooDb = new Pool({ connectionString: ODOO_DATABASE_URL, max: 4 });
  // Invoices of products and accounting codes Odoo knows (the synthetic generator picks among all the catalog's
  // service and one-shot templates; the others would only be dead-lettered, which the loader does correctly).
  const catalog = defaultCatalog();
  catalog.invoicing.numberPrefix = `B${sfx}-`;
  const accounts = new Set(
    (await odooDb.query<{ code: string }>(`SELECT code FROM account_account`)).rows.map((r) => r.code),
  );
  const products = new Set<string>(CATALOG.map((c) => c.code));
  const okSub = new Set(
    catalog.invoiceSubCategories.filter((s) => accounts.has(s.accountingCode)).map((s) => s.code),
  );
  catalog.serviceTemplates = catalog.serviceTemplates.filter(
    (t) => products.has(t.code) && okSub.has(t.invoiceSubCategory),
  );
  catalog.oneShotChargeTemplates = catalog.oneShotChargeTemplates.filter(
    (t) => products.has(t.code) && okSub.has((t as { invoiceSubCategory?: string }).invoiceSubCategory ?? ''),
  );
  const oc = await startOpenCellSandbox({ port: 0, catalog });
  const odoo = await startOdooSandbox({
    port: 0,
    databaseUrl: ODOO_DATABASE_URL,
    users: { 'billing-bot': PASSWORD },
  });
  // a state database of this run's stack (STATE_DB_NAME) so that two stacks' benchmarks do not share one
  const stateName = `invoices${process.env.STATE_DB_NAME ? `_${process.env.STATE_DB_NAME.replace(/\W/g, '_')}` : ''}`;
  const stateUrl = await freshStateDb(stateName);
  const state = new Pool({ connectionString: stateUrl, max: 8 });
  const config = loadConfig({
    ...process.env,
    OPENCELL_BASEURL: oc.url,
    OPENCELL_USER: oc.credentials.user,
    OPENCELL_PASSWORD: oc.credentials.password,
    ODOO_URL: odoo.url,
    ODOO_DB: odoo.db,
    ODOO_USER: 'billing-bot',
    ODOO_PASSWORD: PASSWORD,
    STATE_DATABASE_URL: stateUrl,
    INVOICE_EVENTS_TOPIC: `bench.invoice-events-${sfx}`,
    SYNC_EVENTS_TOPIC: `bench.invoice-sync-events-${sfx}`,
    DLQ_TOPIC: `bench.invoice-dlq-${sfx}`,
    RETRY_INITIAL_MS: '100',
    RETRY_MAX_MS: '2000',
    RETRY_MAX_ATTEMPTS: '8',
  });
  const kafka = benchKafka();
  const ocClient = new OpenCellClient(config.opencell);
  await ensureInvoiceTopics(kafka, config);
  const relay = new OutboxRelay({
    pool: state,
    kafka,
    registry: new EventSchemas({ registryUrl: config.registryUrl, topics: config.topics }),
    lockKey: Math.floor(Math.random() * 2 ** 40) + 1,
    pollMs: 100,
    batchSize: 500,
    metrics: {
      onPublished: (n) => {
        const now = Date.now();
        firstPublish ||= now;
        lastPublish = now;
        published += n;
      },
    },
  });
  let firstPublish = 0;
  let lastPublish = 0;
  let published = 0;
  const sample: InvoiceIssuedEvent[] = [];
  const baselineN = o.baselineInvoices ?? 2000;
  const loaded = new Map<string, LoadOutcome[]>();
  let firstLoad = 0;
  let lastLoad = 0;
  let deadLettered = 0;
  const rpcStats: RpcStats = {
    byMethod: {},
    moveCreates: { calls: 0, moves: 0, ms: 0, inFlight: 0, maxInFlight: 0 },
  };
  const loaderOdoo = new OdooClient(config.odoo);
  const loader = createInvoiceLoader(config, {
    kafka,
    pool: state,
    odoo: countedRpc(loaderOdoo, rpcStats),
    groupId: `bench-invoice-loader-${sfx}`,
    maxBatch: batch,
    concurrency: o.concurrency,
    onLoaded: (event, r) => {
      const now = Date.now();
      if (sample.length < baselineN && r.outcome === 'created') sample.push(event);
      firstLoad ||= now;
      lastLoad = now;
      loaded.set(event.invoiceNumber, [...(loaded.get(event.invoiceNumber) ?? []), r]);
    },
    onConsumerEvent: (e) => void (e.type === 'dead-letter' && deadLettered++),
  });
  const poller = startInvoicePoller(config, {
    pool: state,
    autoStart: false,
    options: {
      name: `bench-invoice-poller-${sfx}`,
      ...(o.pageSize ? { pageSize: o.pageSize } : {}),
      ...(o.pollConcurrency ? { concurrency: o.pollConcurrency } : {}),
      startDate: new Date(Date.parse(today) - (days + 5) * 86_400_000).toISOString().slice(0, 10),
    },
  });
  try {
    log(`invoices: preparing ${customers} customers (Odoo and OpenCell)…`);
    const baCodes: string[] = [];
    // each billing account's lines are rated on its contract, which Odoo knows: the loader links them to it
    const subscriptionCodes: Record<string, string> = {};
    for (let i = 0; i < customers; i++) {
      const ref = `BIV${sfx}${i}`;
      const groupCode = `${ref}_0`;
      const contractCode = `BIVC${sfx}${i}`;
      const c = await odooDb.connect();
      try {
        const partner = await insertPartner(c, {
          ref,
          firstname: 'Bench',
          lastname: `Invoices ${sfx} ${i}`,
          email: `biv-${sfx}-${i}@example.org`,
        });
        const group = await insertContractGroup(c, partner.id, groupCode);
        await insertContract(c, {
          partnerId: partner.id,
          kind: 'mobile',
          contractGroupId: group.id,
          code: contractCode,
        });
      } finally {
        c.release();
      }
      const crm = (over: Record<string, unknown>) => ({
        crmParentCode: 'SC',
        description: 'Invoice bench',
        name: { title: 'MS', firstName: 'Bench', lastName: `Invoices ${sfx}` },
        address: { address1: 'Carrer Major 1', zipCode: '08001', city: 'Barcelona', country: 'ES' },
        customerCategory: 'CLIENT',
        currency: 'EUR',
        language: 'ESP',
        country: 'SP',
        billingCycle: 'BC_SC_MONTHLY_1ST',
        electronicBilling: true,
        email: `biv-${sfx}@example.org`,
        methodOfPayment: [
          {
            paymentMethodType: 'DIRECTDEBIT',
            mandateIdentification: 'M1',
            mandateDate: '2024-01-15',
            bankCoordinates: { iban: 'ES9121000418450200051332', accountOwner: 'Bench' },
          },
        ],
        ...over,
      });
      await ocClient.createCrmAccountHierarchy(crm({ crmAccountType: 'C', code: ref }) as never);
      await ocClient.createCrmAccountHierarchy(
        crm({ crmAccountType: 'CA_UA', code: groupCode, crmParentCode: ref }) as never,
      );
      await ocClient.createSubscription({
        code: contractCode,
        userAccount: groupCode,
        offerTemplate: 'OF_SC_TEMPLATE_MOB',
        subscriptionDate: periodStart,
      } as never);
      baCodes.push(groupCode);
      subscriptionCodes[groupCode] = contractCode;
    }
    const numbers: string[] = [];
    for (let d = 0; d < days; d++) {
      const run = oc.generateInvoices({
        count: Math.min(baCodes.length, o.invoices - numbers.length),
        invoiceDate: new Date(Date.parse(today) - d * 86_400_000).toISOString().slice(0, 10),
        billingAccountCodes: baCodes,
        subscriptionCodes,
      });
      numbers.push(...run.invoiceNumbers);
    }
    log(`invoices: ${numbers.length} invoices generated in the sandbox; polling, relaying and loading…`);
    await relay.start();
    await loader.start();
    const t0 = Date.now();
    const poll = await poller.pollOnce();
    const pollSeconds = (Date.now() - t0) / 1000;
    log(`invoices: poll emitted ${poll.emitted} in ${pollSeconds.toFixed(1)} s; loading…`);
    await waitFor(
      () => (loaded.size + deadLettered >= numbers.length ? true : undefined),
      Math.max(300_000, o.invoices * 200),
      'the invoices loaded',
      500,
    ).catch((e) => log(`invoices: ${(e as Error).message} (${loaded.size} loaded)`));
    const end = Date.now();
    const dup = await odooDb.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT ref FROM account_move WHERE move_type IN ('out_invoice', 'out_refund') AND ref = ANY($1::text[]) GROUP BY ref HAVING count(*) > 1) d`,
      [numbers],
    );
    const inOdoo = await odooDb.query<{ n: string }>(
      `SELECT count(DISTINCT ref) AS n FROM account_move WHERE move_type IN ('out_invoice', 'out_refund') AND ref = ANY($1::text[])`,
      [numbers],
    );
    const loadAtEnd = os.loadavg()[0];
    log(`invoices: loaded; measuring the baselines (${sample.length} moves, lists of ${batch})…`);
    const parallel = o.baselineParallel ?? Math.max(2, rpcStats.moveCreates.maxInFlight);
    const baseline = await createBaselines(sample, batch, odoo, PASSWORD, loader.loader, sfx, parallel);
    log(`invoices: measuring bare Kafka with the run's events…`);
    const kafkaBare = await kafkaBaseline(kafka, config.topics.invoiceEvents, published, sfx).catch(
      (e: unknown) => ({ error: (e as Error).message }),
    );
    const created = [...loaded.values()].filter((rs) => rs.some((r) => r.outcome === 'created')).length;
    const loaderSeconds = (lastLoad - firstLoad) / 1000;
    const loaderRate = Math.round((loaded.size / loaderSeconds) * 10) / 10;
    const lost = numbers.length - Number(inOdoo.rows[0].n) - deadLettered;
    const ratio = (a: number | null | undefined, b: number | null | undefined) =>
      a && b ? Math.round((a / b) * 100) / 100 : null;
    const relayRate = per(published, lastPublish - firstPublish);
    const mc = rpcStats.moveCreates;
    const calls = Object.values(rpcStats.byMethod).reduce((n, e) => n + e.calls, 0);
    return {
      batch,
      concurrency: o.concurrency ?? 300,
      pageSize: o.pageSize ?? config.invoicePoll.pageSize,
      pollConcurrency: o.pollConcurrency ?? 4,
      loadAverage: { start: Math.round(loadAtStart * 10) / 10, end: Math.round(loadAtEnd * 10) / 10 },
      pollInvoicesPerSec: per(poll.emitted, pollSeconds * 1000),
      relayed: published,
      relayInvoicesPerSec: relayRate,
      lost: Math.max(0, lost),
      baseline,
      kafkaBare,
      loaderVsRpcCreate: ratio(loaderRate, baseline.rpcCreatePerSec),
      loaderVsRpcParallelCreate: ratio(loaderRate, baseline.rpcParallelCreatePerSec),
      relayVsBareProduce: 'producePerSec' in kafkaBare ? ratio(relayRate, kafkaBare.producePerSec) : null,
      /** the loader's Odoo calls, measured from its side: per invoice, and the account.move creates' lists */
      odooCalls: {
        perInvoice: ratio(calls, loaded.size),
        moveCreateLists: mc.calls,
        movesPerList: ratio(mc.moves, mc.calls),
        msPerList: mc.calls ? Math.round((mc.ms / mc.calls) * 10) / 10 : null,
        msPerMove: mc.moves ? Math.round((mc.ms / mc.moves) * 100) / 100 : null,
        maxListsInFlight: mc.maxInFlight,
        byMethod: Object.fromEntries(
          Object.entries(rpcStats.byMethod).map(([k, e]) => [
            k,
            { calls: e.calls, msPerCall: Math.round((e.ms / e.calls) * 10) / 10 },
          ]),
        ),
      },
      invoices: numbers.length,
      customers,
      pollEmitted: poll.emitted,
      pollSeconds: Math.round(pollSeconds * 10) / 10,
      loaded: loaded.size,
      created,
      deadLettered,
      inOdoo: Number(inOdoo.rows[0].n),
      loadedTwice: Number(dup.rows[0].n),
      loaderSeconds: Math.round(loaderSeconds * 10) / 10,
      loaderInvoicesPerSec: loaderRate,
      flowSeconds: Math.round(((end - t0) / 1000) * 10) / 10,
      flowInvoicesPerSec: Math.round((loaded.size / ((lastLoad - t0) / 1000)) * 10) / 10,
      peakRssMiB: rss.peakMiB(),
    };
  } finally {
    rss.stop();
    await loader.stop().catch(() => undefined);
    loaderOdoo.close();
    await poller.stop().catch(() => undefined);
    await relay.stop().catch(() => undefined);
    ocClient.close();
    await oc.close();
    await odoo.close();
    await state.end();
    await odooDb.end();
    const admin = new Client({ connectionString: defaultPgSetupOptions().adminUrl });
    await admin.connect();
    await admin
      .query(
        `DROP DATABASE IF EXISTS "${decodeURIComponent(new URL(stateUrl).pathname.slice(1))}" WITH (FORCE)`,
      )
      .catch(() => undefined);
    await admin.end();
    const kadmin = kafka.admin();
    await kadmin.connect();
    await kadmin
      .deleteTopics({ topics: [config.topics.invoiceEvents, config.topics.dlq] })
      .catch(() => undefined);
    await kadmin.disconnect();
  }
}

/**
 * The baselines: the sample's moves (vals mapped by the loader's own resolver, refs `RAW…`, dates moved 50 years on)
 * created in lists of `batch` (1) through the production JSON-RPC client, (2) by the sandbox's ORM in process, in one
 * transaction per list (its SQL and model logic, no HTTP or JSON). Both sequential: one list at a time.
 */
async function createBaselines(
  sample: InvoiceIssuedEvent[],
  batch: number,
  odoo: Awaited<ReturnType<typeof startOdooSandbox>>,
  password: string,
  loader: { resolver: { resolveMany(e: InvoiceIssuedEvent[]): Promise<unknown[]> } },
  sfx: string,
  parallel: number,
) {
  const client = new OdooClient({ url: odoo.url, db: odoo.db, user: 'billing-bot', password });
  const pool = new Pool({ connectionString: ODOO_DATABASE_URL, max: 2 });
  try {
    const shifted = (e: InvoiceIssuedEvent, tag: string, i: number): InvoiceIssuedEvent => ({
      ...e,
      invoiceNumber: `RAW${tag}${sfx}-${i}`,
      invoiceDate: `${Number(e.invoiceDate.slice(0, 4)) + 50}${e.invoiceDate.slice(4)}`,
    });
    const valsOf = async (tag: string) => {
      const evs = sample.map((e, i) => shifted(e, tag, i));
      const lookups = (await loader.resolver.resolveMany(evs)) as Parameters<
        typeof odooInvoiceFromEvent
      >[1][];
      return evs.map((e, i) => odooInvoiceFromEvent(e, lookups[i]!).vals);
    };
    const lists = <T>(xs: T[]) =>
      Array.from({ length: Math.ceil(xs.length / batch) }, (_, i) => xs.slice(i * batch, (i + 1) * batch));
    const context = { tracking_disable: true, mail_create_nolog: true, mail_notrack: true };
    const rpcVals = await valsOf('R');
    let t0 = Date.now();
    for (const l of lists(rpcVals)) await client.createMany('account.move', l, { context });
    const rpcMs = Date.now() - t0;
    // the same, `parallel` lists in flight (Odoo serves concurrent requests in several workers; the sandbox on a pool)
    const inParallel = async (tag: string, k: number) => {
      const ls = lists(await valsOf(tag));
      const started = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: k }, async () => {
          while (next < ls.length) await client.createMany('account.move', ls[next++]!, { context });
        }),
      );
      return per(ls.flat().length, Date.now() - started);
    };
    const rpcParallelCreatePerSec = await inParallel('P', parallel);
    // how the sandbox's create rate grows with lists in flight on this machine (its ceiling)
    const curve: Array<{ lists: number; perSec: number | null }> = [];
    for (const k of [2, 4, 8].filter((k) => k !== parallel))
      curve.push({ lists: k, perSec: await inParallel(`C${k}`, k) });
    const ormVals = await valsOf('O');
    let statements = 0;
    const uid = (await pool.query<{ id: number }>(`SELECT id FROM res_users WHERE login = 'billing-bot'`))
      .rows[0]?.id;
    t0 = Date.now();
    for (const l of lists(ormVals)) {
      const db = await pool.connect();
      try {
        await db.query('BEGIN');
        // every statement the sandbox sends for these moves counted (its round trips to PostgreSQL per move)
        const counted = new Proxy(db, {
          get: (target, prop, receiver) =>
            prop === 'query'
              ? (...a: unknown[]) => (
                  statements++,
                  (target.query as (...x: unknown[]) => unknown).apply(target, a)
                )
              : (Reflect.get(target, prop, receiver) as unknown),
        });
        // one list as the sandbox's create serves it (set-based: testkit/sandbox/odoo/account-batch.ts)
        await createMoves({ db: counted, uid: uid ?? 1, lang: 'en_US', context }, l);
        await db.query('COMMIT');
      } finally {
        db.release();
      }
    }
    const ormMs = Date.now() - t0;
    const rpcCreatePerSec = per(rpcVals.length, rpcMs);
    const inProcessCreatePerSec = per(ormVals.length, ormMs);
    return {
      invoices: sample.length,
      batch,
      rpcCreatePerSec,
      rpcMsPerList: lists(rpcVals).length ? Math.round((rpcMs / lists(rpcVals).length) * 10) / 10 : null,
      inProcessCreatePerSec,
      /** the sandbox's own cost of one account.move create with its lines (its SQL and model logic, in process) */
      statementsPerMove: ormVals.length ? Math.round((statements / ormVals.length) * 10) / 10 : null,
      linesPerMove: ormVals.length
        ? Math.round(
            (ormVals.reduce(
              (n, v) => n + ((v as { invoice_line_ids?: unknown[] }).invoice_line_ids?.length ?? 0),
              0,
            ) /
              ormVals.length) *
              10,
          ) / 10
        : null,
      inProcessMsPerMove: ormVals.length ? Math.round((ormMs / ormVals.length) * 100) / 100 : null,
      rpcMsPerMove: rpcVals.length ? Math.round((rpcMs / rpcVals.length) * 100) / 100 : null,
      parallel,
      rpcParallelCreatePerSec,
      rpcParallelCurve: [
        { lists: 1, perSec: rpcCreatePerSec },
        { lists: parallel, perSec: rpcParallelCreatePerSec },
        ...curve,
      ].sort((x, y) => x.lists - y.lists),
      /** the share of a JSON-RPC create that is the sandbox's SQL and model logic (the rest: HTTP, JSON, the client) */
      sqlShareOfRpcCreate: rpcMs > 0 ? Math.round((ormMs / rpcMs) * 100) / 100 : null,
    };
  } finally {
    client.close();
    await pool.end();
  }
}

/**
 * Bare Kafka with the run's own events: a plain kafkajs consumer (new group, no decoding, no work) reads the invoice
 * topic from the start, then a plain producer (acks=all, one request in flight, as the relay) writes the same
 * messages (key, value, headers) to a scratch topic in sends of `sendSize`. The ceiling Kafka and kafkajs leave the
 * relay and the loader on this machine.
 */
async function kafkaBaseline(
  kafka: ReturnType<typeof benchKafka>,
  topic: string,
  expected: number,
  sfx: string,
  sendSize = 500,
): Promise<{
  messages: number;
  consumePerSec: number | null;
  producePerSec: number | null;
  avgBytes: number | null;
}> {
  const msgs: Array<{ key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown> }> = [];
  const consumer = kafka.consumer({ groupId: `bench-invoice-bare-${sfx}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let first = 0;
  let last = 0;
  await consumer.run({
    eachBatch: async ({ batch }) => {
      first ||= Date.now();
      for (const m of batch.messages)
        msgs.push({ key: m.key, value: m.value, headers: m.headers as Record<string, unknown> });
      last = Date.now();
    },
  });
  await waitFor(() => (msgs.length >= expected ? true : undefined), 120_000, 'the bare consume', 50).catch(
    () => undefined,
  );
  await consumer.disconnect();
  const scratch = `${topic}-bare`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: scratch, numPartitions: 3 }] }).catch(() => undefined);
  const producer = kafka.producer({ maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  const t0 = Date.now();
  for (let i = 0; i < msgs.length; i += sendSize)
    await producer.send({
      topic: scratch,
      acks: -1,
      messages: msgs.slice(i, i + sendSize) as never,
    });
  const produceMs = Date.now() - t0;
  await producer.disconnect();
  await admin.deleteTopics({ topics: [scratch] }).catch(() => undefined);
  await admin.disconnect();
  const bytes = msgs.reduce((n, m) => n + (m.value?.length ?? 0), 0);
  return {
    messages: msgs.length,
    consumePerSec: per(msgs.length, last - first),
    producePerSec: per(msgs.length, produceMs),
    avgBytes: msgs.length ? Math.round(bytes / msgs.length) : null,
  };
}
