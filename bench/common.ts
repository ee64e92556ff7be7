/**
 * Shared pieces of the benchmarks: machine facts, peak memory (this process and the stack's JVMs), percentiles,
 * the real projection pipeline against an in-process OpenCell sandbox with bench-only topics and groups, and small
 * Kafka / Odoo helpers. Nothing here is a mock: Kafka, Connect (Debezium), PostgreSQL are the running local stack.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { Admin, Kafka } from 'kafkajs';
import { Client, Pool } from 'pg';
import { loadConfig, Config } from '../src/core/config';
import { defaultPgSetupOptions, setupStateDatabase } from '../src/app/pg-setup';
import { CRMAccountHierarchyDto } from '../src/domain/opencell/dto';
import { OpenCellClient } from '../src/adapters/opencell/client';
import { ProjectionPipeline, Role } from '../src/flows/projection/pipeline';
import { ensurePipelineTopics, routerTopics } from '../src/flows/projection/stages';
import { startOpenCellSandbox, type OpenCellSandbox, type JournalEntry } from '../testkit/sandbox/opencell';
import { createKafka } from '../src/adapters/kafka/kafka';
import { insertPartner } from '../testkit/demo-seed';
import type { KeyedConsumerEvent } from '../src/adapters/kafka/keyed-consumer';

export const ROOT = join(__dirname, '..');
export const ODOO_DATABASE_URL = process.env.ODOO_DATABASE_URL ?? 'postgresql://odoo@127.0.0.1:5432/odoo';
export const STATE_DATABASE_URL =
  process.env.STATE_DATABASE_URL ?? 'postgresql://sync@127.0.0.1:5432/odoo_opencell_sync';
export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

export const suffix = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let kafka: Kafka | undefined;
export function benchKafka(): Kafka {
  kafka ??= createKafka({ brokers: KAFKA_BROKERS }, 'bench');
  return kafka;
}

// ---------------------------------------------------------------------------------------------------------------
// Machine, memory

export function machine() {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** Samples this process's RSS every 100 ms; `peak()` in MiB. */
export class RssSampler {
  private max = process.memoryUsage().rss;
  private readonly timer: NodeJS.Timeout;
  constructor() {
    this.timer = setInterval(() => (this.max = Math.max(this.max, process.memoryUsage().rss)), 100);
    this.timer.unref();
  }
  peakMiB(): number {
    this.max = Math.max(this.max, process.memoryUsage().rss);
    return Math.round(this.max / 2 ** 20);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** VmHWM / VmRSS (MiB) of the stack's JVMs (.run/*.pid). VmHWM is the peak since the JVM started. */
export function jvmMemory(): Record<string, { pid: number; hwmMiB: number; rssMiB: number } | null> {
  const dir = process.env.STACK_RUN ?? join(ROOT, '.run');
  const out: Record<string, { pid: number; hwmMiB: number; rssMiB: number } | null> = {};
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.pid'))) {
    const name = f.replace(/\.pid$/, '');
    try {
      const pid = Number(readFileSync(join(dir, f), 'utf8').trim());
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      out[name] = { pid, hwmMiB: Math.round(kb('VmHWM') / 1024), rssMiB: Math.round(kb('VmRSS') / 1024) };
    } catch {
      out[name] = null;
    }
  }
  return out;
}

export function versions(): Record<string, string> {
  const pkg = (name: string) => {
    try {
      return (
        JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    } catch {
      return 'unknown';
    }
  };
  return { node: process.version, kafkajs: pkg('kafkajs'), pg: pkg('pg'), typescript: pkg('typescript7') };
}

export async function stackVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  try {
    const pool = new Pool({ connectionString: ODOO_DATABASE_URL, max: 1 });
    out.postgresql = String((await pool.query('SHOW server_version')).rows[0].server_version);
    await pool.end();
  } catch {
    /* ignore */
  }
  try {
    const r = await fetch(`${process.env.CONNECT_URL ?? 'http://127.0.0.1:8083'}/`);
    out.kafkaConnect = String(((await r.json()) as { version?: string }).version);
    const p = await fetch(`${process.env.CONNECT_URL ?? 'http://127.0.0.1:8083'}/connector-plugins`);
    const plugins = (await p.json()) as { class: string; version: string }[];
    out.debezium = plugins.find((x) => x.class.includes('PostgresConnector'))?.version ?? 'unknown';
  } catch {
    /* ignore */
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summary(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  return {
    count: s.length,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1] : NaN,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The pipeline under test

export interface BenchPipeline {
  sandbox: OpenCellSandbox;
  /** the settings the pipeline's config was loaded from (for a pipeline process of its own: bench/child-process.ts) */
  env: Record<string, string | undefined>;
  pipeline: ProjectionPipeline;
  config: Config;
  groups: { router: string; projector: string };
  consumerEvents: { stage: string; e: KeyedConsumerEvent }[];
  /** processed messages per stage, with the times of the first and the last */
  counters: Record<string, { processed: number; first: number; last: number }>;
  startPipeline(roles?: Role[]): Promise<void>;
  stopPipeline(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A state database of the benchmark's own (ledger, outbox), dropped and migrated afresh: the shared one is used by
 * every engineer's pipeline, and the ledger is keyed by deterministic intent ids, so another pipeline applying the
 * same Odoo change first would make ours skip it.
 */
export async function freshStateDb(
  name: string,
  /** a state database to copy (CREATE DATABASE … TEMPLATE): its ledger, pins and outbox as they are */
  template?: string,
): Promise<string> {
  // named after the stack's state database (STATE_DB_NAME), so that a second stack's benchmarks have their own
  const opts = {
    ...defaultPgSetupOptions(),
    stateDb: `${process.env.STATE_DB_NAME ?? 'odoo_opencell_sync'}_bench_${name}`,
  };
  const c = new Client({ connectionString: opts.adminUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${opts.stateDb} WITH (FORCE)`);
    if (template) {
      // owned as the template is (PostgreSQL 15's public schema belongs to the database owner)
      const owner = (
        await c.query<{ owner: string }>(
          `SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`,
          [template],
        )
      ).rows[0]?.owner;
      if (!owner) throw new Error(`no database ${template} to copy`);
      await c.query(`CREATE DATABASE ${opts.stateDb} TEMPLATE ${template} OWNER "${owner}"`);
    }
  } finally {
    await c.end();
  }
  await setupStateDatabase(opts);
  const u = new URL(STATE_DATABASE_URL);
  u.pathname = `/${opts.stateDb}`;
  return u.toString();
}

export async function startBenchPipeline(opts: {
  name: string;
  overrides?: Record<string, string>;
  onRequest?: (e: JournalEntry) => void;
  /** router group starts at the end of the Debezium topics (default) or at the earliest offset */
  routerFrom?: 'latest' | 'earliest';
  start?: boolean;
  roles?: Role[];
  /** runs after the sandbox is up and before the router's offsets are set (preparation not to be routed) */
  before?: (sandbox: OpenCellSandbox, config: Config) => Promise<void>;
  keepEvents?: boolean;
  /** the state database is a copy of this one (freshStateDb's template) */
  stateTemplate?: string;
  /** every consumer event of both stages, as it happens */
  onConsumerEvent?: (stage: string, e: KeyedConsumerEvent) => void;
}): Promise<BenchPipeline> {
  const sandbox = await startOpenCellSandbox({ port: 0, onRequest: opts.onRequest, journalLimit: 2_000_000 });
  const sfx = suffix();
  const stateUrl = await freshStateDb(opts.name, opts.stateTemplate);
  const env: Record<string, string | undefined> = {
    ...process.env,
    OPENCELL_BASEURL: sandbox.url,
    OPENCELL_USER: sandbox.credentials.user,
    OPENCELL_PASSWORD: sandbox.credentials.password,
    ODOO_PASSWORD: 'unused-here',
    INTENTS_TOPIC: `bench.intents-${opts.name}-${sfx}`,
    DLQ_TOPIC: `bench.dlq-${opts.name}-${sfx}`,
    SYNC_EVENTS_TOPIC: `bench.sync-events-${opts.name}-${sfx}`,
    HTTP_PORT: '0',
    STATE_DATABASE_URL: stateUrl,
    ...opts.overrides,
  };
  const config = loadConfig(env);
  const groups = {
    router: `bench-router-${opts.name}-${sfx}`,
    projector: `bench-projector-${opts.name}-${sfx}`,
  };
  const k = benchKafka();
  await ensurePipelineTopics(k, config);
  if (opts.before) await opts.before(sandbox, config);
  await setRouterOffsets(groups.router, config, opts.routerFrom ?? 'latest');
  const consumerEvents: { stage: string; e: KeyedConsumerEvent }[] = [];
  const counters: BenchPipeline['counters'] = {};
  const onConsumerEvent = (stage: string, e: KeyedConsumerEvent) => {
    opts.onConsumerEvent?.(stage, e);
    if (opts.keepEvents) consumerEvents.push({ stage, e });
    if (e.type === 'retry' || e.type === 'paused') {
      const k = `${stage}:${e.type}`;
      const c = (counters[k] ??= { processed: 0, first: Date.now(), last: Date.now() });
      c.processed++;
      c.last = Date.now();
      return;
    }
    if (
      e.type !== 'processed' &&
      e.type !== 'dead-letter' &&
      e.type !== 'skipped' &&
      e.type !== 'batch-handled'
    )
      return;
    const now = Date.now();
    const c = (counters[stage] ??= { processed: 0, first: now, last: now });
    c.processed += e.type === 'skipped' || e.type === 'batch-handled' ? e.messages : 1;
    c.last = now;
  };
  const make = () =>
    new ProjectionPipeline(config, {
      kafka: k,
      groups,
      hooks: { onConsumerEvent },
    });
  let running: ProjectionPipeline | undefined;
  const bp: BenchPipeline = {
    sandbox,
    env,
    get pipeline() {
      running ??= make();
      return running;
    },
    config,
    groups,
    consumerEvents,
    counters,
    async startPipeline(roles?: Role[]) {
      running = new ProjectionPipeline(config, {
        kafka: k,
        groups,
        roles,
        hooks: { onConsumerEvent },
      });
      await running.start();
    },
    async stopPipeline() {
      await running?.stop();
      running = undefined;
    },
    async stop() {
      await running?.stop();
      running = undefined;
      await sandbox.close();
    },
  } as BenchPipeline;
  if (opts.start !== false) await bp.startPipeline(opts.roles);
  return bp;
}

/** Sets a router group's offsets on every router topic to their end (latest) or their start (earliest). */
export async function setRouterOffsets(
  groupId: string,
  config: Config,
  from: 'latest' | 'earliest',
): Promise<void> {
  const admin = benchKafka().admin();
  await admin.connect();
  try {
    // Explicit offsets: resetOffsets({earliest:false}) commits -1, which a consumer subscribed with fromBeginning
    // reads as "no offset" and starts at the EARLIEST offset.
    for (const topic of routerTopics(config.topics.prefix)) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: ends.map((p) => ({
          partition: p.partition,
          offset: from === 'earliest' ? p.low : p.high,
        })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * `n` Odoo partners with one active contract row each (the router routes address changes of partners with
 * contracts) and their customer hierarchies created in the sandbox directly, so that each street update becomes one
 * update_customer intent with a target. Returns them in order.
 */
export async function prepareContractPartners(
  db: Pool,
  client: OpenCellClient,
  n: number,
  runId: string,
  tag: string,
): Promise<{ id: number; ref: string }[]> {
  const ids = await pool(
    Array.from({ length: n }, (_, i) => i),
    4,
    async (i) => {
      const c = await db.connect();
      try {
        const p = await insertPartner(c, { email: `bench-${tag}-${runId}-${i}@example.org`, lang: 'ca_ES' });
        return { id: p.id, ref: p.ref! };
      } finally {
        c.release();
      }
    },
  );
  await db.query(
    `INSERT INTO contract_contract (name, code, partner_id, invoice_partner_id, company_id, active, date_start,
                                    service_technology_id, service_supplier_id)
     SELECT 'bench ${tag} ' || p, 'B${tag.toUpperCase()}-${runId}-' || p, p, p, 1, true, CURRENT_DATE, 1, 1
       FROM unnest($1::int[]) AS p`,
    [ids.map((x) => x.id)],
  );
  await pool(ids, 8, (p) => createSandboxCustomer(client, p.ref, `${tag} ${p.id}`));
  return ids;
}

/** Consumer-group lag on a topic (committed offsets vs high watermarks). */
export async function groupLag(admin: Admin, groupId: string, topics: string[]): Promise<number> {
  let lag = 0;
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const t of committed) {
    const ends = await admin.fetchTopicOffsets(t.topic);
    for (const p of ends) {
      const c = Number(t.partitions.find((x) => x.partition === p.partition)?.offset ?? '-1');
      lag += Number(p.high) - (c < 0 ? Number(p.low) : c);
    }
  }
  return lag;
}

export async function topicSize(admin: Admin, topic: string): Promise<number> {
  const o = await admin.fetchTopicOffsets(topic);
  return o.reduce((s, x) => s + Number(x.high) - Number(x.low), 0);
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`,
  );
}

/** OpenCell's list endpoints are POSTs that read. */
export function isStateChanging(e: { method: string; path: string }): boolean {
  return e.method !== 'GET' && !/\/list$/.test(e.path);
}

/** Calls that create something in OpenCell (a replay must make none). */
export function isCreate(e: { method: string; path: string }): boolean {
  return (
    e.method === 'POST' &&
    /^\/(account\/customer|account\/accountHierarchy\/createCRMAccountHierarchy|billing\/subscription|account\/access|billing\/subscription\/activateServices|billing\/subscription\/instantiateServices|billing\/subscription\/applyOneShotChargeInstance)$/.test(
      e.path,
    )
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Odoo-side preparation

/**
 * Waits until Debezium has streamed everything committed so far: writes a marker (an unwatched-column update of one
 * partner) and waits for it on the res_partner topic.
 */
export async function debeziumBarrier(db: Pool, prefix = 'odoo', timeoutMs = 120_000): Promise<void> {
  const k = benchKafka();
  const topic = `${prefix}.public.res_partner`;
  // A bench-owned partner without contracts: its name changes route nothing.
  let row = await db.query<{ id: number }>(`SELECT id FROM res_partner WHERE ref = 'BENCH-BARRIER' LIMIT 1`);
  if (!row.rowCount)
    row = await db.query<{ id: number }>(
      `INSERT INTO res_partner (name, ref, active, lang) VALUES ('bench barrier', 'BENCH-BARRIER', true, 'ca_ES') RETURNING id`,
    );
  const id = row.rows[0].id;
  const marker = `bench-barrier-${suffix()}`;
  const c = k.consumer({ groupId: `bench-barrier-${suffix()}`, maxWaitTimeInMs: 100 });
  let seen = false;
  await c.connect();
  await c.subscribe({ topic, fromBeginning: false });
  const joined = new Promise<void>((resolve) => c.on(c.events.GROUP_JOIN, () => resolve()));
  await c.run({
    eachMessage: async ({ message }) => {
      if (message.value && message.value.includes(marker)) seen = true;
    },
  });
  await joined;
  await sleep(1000);
  try {
    await db.query(`UPDATE res_partner SET name = $2 WHERE id = $1`, [id, marker]);
    await waitFor(() => (seen ? true : undefined), timeoutMs, 'the Debezium barrier marker');
  } finally {
    await c.disconnect();
  }
}

/** The customer hierarchy (C) of a partner created in the sandbox directly, so that updates have a target. */
export async function createSandboxCustomer(
  client: OpenCellClient,
  ref: string,
  name: string,
): Promise<void> {
  const dto = {
    crmAccountType: 'C',
    code: ref,
    crmParentCode: 'SC',
    description: name,
    name: { title: 'MS', firstName: 'Bench', lastName: name },
    address: { address1: 'Carrer Major 1', zipCode: '08001', city: 'Barcelona', country: 'ES' },
    customerCategory: 'CLIENT',
    currency: 'EUR',
    language: 'CAT',
    country: 'SP',
    billingCycle: 'BC_SC_MONTHLY_1ST',
    email: `${ref.toLowerCase()}@example.org`,
  };
  await client.createCrmAccountHierarchy(dto as unknown as CRMAccountHierarchyDto);
}

/** Runs `fn` over `items` with at most `n` at once. */
export async function pool<T, R>(items: T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}
