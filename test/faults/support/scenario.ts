/**
 * The common ground of the fault scenarios that run pipeline processes (test/faults/pipeline-process.ts) on the shared
 * local stack: a state schema of their own, an OpenCell sandbox, the processes' environment (topics, consumer groups
 * and relay lock of the run, short session timeout and retries), the pipeline topics, the router group started at the
 * end of the Debezium topics, and the teardown. Each scenario adds what it observes and injects.
 */
import { execFileSync } from 'node:child_process';
import type { Admin, Kafka } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import { testPool } from '../../support/pg';
import { startGroupAtEnd } from '../../../src/adapters/kafka/kafka';
import { loadConfig, type Config } from '../../../src/core/config';
import { ensurePipelineTopics, routerTopics } from '../../../src/flows/projection/stages';
import { startOpenCellSandbox, type OpenCellSandboxOptions } from '../../../testkit/sandbox/opencell';
import type { Sandbox } from '../../integration/support/pipeline';
import {
  createStateSchema,
  eventually,
  odooDb,
  REGISTRY_URL,
  ROOT,
  stateDb,
  stateUrlFor,
  testKafka,
  uniqueSuffix,
} from '../../integration/support/stack';
import type { SecondStack } from '../../integration/support/second-stack';
import { WorkerSupervisor } from './harness';
import { stateProblems, type ExpectedContract } from './workload';

export interface FaultScenarioOptions {
  /** names the run's schema (`<name>_<suffix>`), topics (`test.<name>-…`) and groups (`test-<name>-…`) */
  name: string;
  /** the sandbox's options beyond port 0 and seed 11 */
  sandbox?: Omit<OpenCellSandboxOptions, 'port'>;
  /** settings of the pipeline processes beyond (or instead of) the defaults below; a function gets the run's names */
  env?: Record<string, string> | ((run: { sfx: string; stateUrl: string }) => Record<string, string>);
  /** the schema registry the processes use (default: the stack's) */
  registryUrl?: string;
}

export interface FaultScenario {
  sfx: string;
  schema: string;
  stateUrl: string;
  sandbox: Sandbox;
  /** a small pool on the run's state schema */
  state: Pool;
  /** a connection to Odoo's database, for the Workload */
  db: PoolClient;
  /** the pipeline processes' environment */
  env: Record<string, string>;
  config: Config;
  /** every process started (supervisors), in order */
  workers: WorkerSupervisor[];
  /** a new pipeline process, started and ready */
  startWorker(): Promise<WorkerSupervisor>;
  /** continues stopped processes, stops all, closes the sandbox and pools, drops the schema (unless `keepState`) */
  close(opts?: { keepState?: boolean }): Promise<void>;
}

/** Defaults of the processes: short session timeout (a kill -9 leaves a dead member that long), quick retries. */
const DEFAULT_ENV = {
  ODOO_PASSWORD: 'unused-here',
  RETRY_INITIAL_MS: '100',
  RETRY_MAX_MS: '1000',
  RETRY_MAX_ATTEMPTS: '40',
  OPENCELL_TIMEOUT_MS: '10000',
  FAULT_SESSION_TIMEOUT_MS: '6000',
  LOG_LEVEL: 'warn',
  NODE_ENV: 'test',
};

export async function startFaultScenario(opts: FaultScenarioOptions): Promise<FaultScenario> {
  const sfx = uniqueSuffix();
  const schema = `${opts.name}_${sfx}`;
  const stateUrl = stateUrlFor(schema);
  await createStateSchema(schema);
  const state = testPool({ connectionString: stateUrl, max: 3 });
  const sandbox = await startOpenCellSandbox({ seed: 11, ...opts.sandbox, port: 0 });
  const env: Record<string, string> = {
    ...DEFAULT_ENV,
    OPENCELL_BASEURL: sandbox.url,
    STATE_DATABASE_URL: stateUrl,
    OPENCELL_USER: sandbox.credentials.user,
    OPENCELL_PASSWORD: sandbox.credentials.password,
    SCHEMA_REGISTRY_URL: opts.registryUrl ?? REGISTRY_URL,
    INTENTS_TOPIC: `test.${opts.name}-intents-${sfx}`,
    DLQ_TOPIC: `test.${opts.name}-dlq-${sfx}`,
    SYNC_EVENTS_TOPIC: `test.${opts.name}-sync-events-${sfx}`,
    INVOICE_EVENTS_TOPIC: `test.${opts.name}-invoice-events-${sfx}`,
    FAULT_ROUTER_GROUP: `test-${opts.name}-router-${sfx}`,
    FAULT_PROJECTOR_GROUP: `test-${opts.name}-projector-${sfx}`,
    // the relay's advisory lock: one per run, as other runs share the database
    FAULT_RELAY_LOCK_KEY: String(Math.floor(Math.random() * 2 ** 40) + 1),
    ...(typeof opts.env === 'function' ? opts.env({ sfx, stateUrl }) : opts.env),
  };
  const config = loadConfig({ ...process.env, ...env });
  const kafka = testKafka();
  await ensurePipelineTopics(kafka, config);
  const admin = kafka.admin();
  await admin.connect();
  try {
    // the router starts at the end of the Debezium topics: only this run's Odoo changes (and others' made meanwhile)
    await startGroupAtEnd(kafka, admin, env.FAULT_ROUTER_GROUP, routerTopics(config.topics.prefix));
  } finally {
    await admin.disconnect();
  }
  const db = await odooDb().connect();
  const workers: WorkerSupervisor[] = [];
  return {
    sfx,
    schema,
    stateUrl,
    sandbox,
    state,
    db,
    env,
    config,
    workers,
    async startWorker() {
      const w = new WorkerSupervisor(env);
      workers.push(w);
      await w.start();
      return w;
    },
    async close(closing = {}) {
      for (const w of workers) {
        w.signal('SIGCONT');
        await w.shutdown().catch(() => undefined);
      }
      db.release();
      await sandbox.close().catch(() => undefined);
      await state.end().catch(() => undefined);
      if (closing.keepState) return;
      await stateDb()
        .query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
        .catch(() => undefined);
    },
  };
}

/** The short commit the figures were measured on ('unknown' outside a git checkout). */
export function headCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Waits until OpenCell (the sandbox) holds what `contracts` must look like; on a timeout the error lists the first
 * differences, and `onTimeout` (e.g. writing the processes' log) may add to its message.
 */
export async function convergeOn(
  sandbox: Sandbox,
  contracts: readonly ExpectedContract[],
  ms: number,
  what: string,
  onTimeout?: () => string | Promise<string>,
): Promise<void> {
  let last: string[] = [];
  await eventually(
    async () => {
      last = stateProblems(sandbox, contracts);
      return last.length === 0 ? true : undefined;
    },
    ms,
    what,
  ).catch(async (e: unknown) => {
    const more = onTimeout ? `; ${await onTimeout()}` : '';
    throw new Error(
      `${(e as Error).message}: ${last.length} problems: ${last.slice(0, 8).join('; ')}${more}`,
      {
        cause: e,
      },
    );
  });
}

/** Waits until every outbox row of `topic` is published. */
export async function outboxDrained(state: Pick<Pool, 'query'>, topic: string, ms: number): Promise<void> {
  await eventually(
    async () =>
      (
        await state.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM outbox WHERE topic = $1 AND published_at IS NULL`,
          [topic],
        )
      ).rows[0].n === 0
        ? true
        : undefined,
    ms,
    'every sync event published',
  );
}

/**
 * A second stack's connector snapshots its reference data when it starts (products, categories, countries): not a
 * scenario's load. Waits until that snapshot is written (the router topics' end offsets stop moving), then starts the
 * router group at the end of those topics.
 */
export async function routerAfterInitialSnapshot(
  kafka: Kafka,
  admin: Admin,
  group: string,
  prefix: string,
): Promise<void> {
  let last = '';
  await eventually(
    async () => {
      const ends = JSON.stringify(
        await Promise.all(routerTopics(prefix).map((t) => admin.fetchTopicOffsets(t))),
      );
      const stable = ends === last;
      last = ends;
      await new Promise((r) => setTimeout(r, 1500));
      return stable ? true : undefined;
    },
    60_000,
    'the initial snapshot of the reference data written',
  );
  await startGroupAtEnd(kafka, admin, group, routerTopics(prefix));
}

/**
 * The pipeline processes' environment on a second stack (its brokers, Kafka Connect, Odoo and state databases; the
 * shared registry) with the run's topics, consumer groups (`<name>-router-<sfx>`, `<name>-projector-<sfx>`) and relay
 * lock, and short retries; `extra` adds or overrides settings.
 */
export function secondStackPipelineEnv(
  stack: SecondStack,
  sandbox: Sandbox,
  o: { name: string; sfx: string; password: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    KAFKA_BROKERS: stack.brokers.join(','),
    CONNECT_URL: stack.connectUrl,
    ODOO_DATABASE_URL: stack.odooDatabaseUrl,
    ODOO_SIGNAL_DATABASE_URL: stack.odooDatabaseUrl,
    STATE_DATABASE_URL: stack.stateDatabaseUrl,
    SCHEMA_REGISTRY_URL: REGISTRY_URL,
    OPENCELL_BASEURL: sandbox.url,
    OPENCELL_USER: sandbox.credentials.user,
    OPENCELL_PASSWORD: o.password,
    ODOO_PASSWORD: 'unused',
    SYNC_EVENTS_TOPIC: `test.${o.name}-sync-events-${o.sfx}`,
    INVOICE_EVENTS_TOPIC: `test.${o.name}-invoice-events-${o.sfx}`,
    RETRY_INITIAL_MS: '100',
    RETRY_MAX_MS: '2000',
    FAULT_ROUTER_GROUP: `${o.name}-router-${o.sfx}`,
    FAULT_PROJECTOR_GROUP: `${o.name}-projector-${o.sfx}`,
    FAULT_RELAY_LOCK_KEY: String(Math.floor(Math.random() * 2 ** 40) + 1),
    FAULT_SESSION_TIMEOUT_MS: '10000',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'test',
    ...extra,
  };
}
