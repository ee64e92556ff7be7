/**
 * `run`: starts the chosen roles in this process, with the HTTP endpoints (/healthz, /readyz,
 * /metrics) and the sampled gauges (consumer lag, outbox backlog, the replication slot). Roles scale as separate processes: run
 * `run --only projector` on N instances and the group spreads the intents topic's partitions over them.
 *
 * ROLE_STARTERS is the registry of roles: a starter gets the shared RunContext and returns a running role that
 * can stop gracefully (stop fetching, finish in-flight work, commit, disconnect). Roles not yet built (poller,
 * loader) are registered by their modules with `registerRole`.
 */
import fetch from 'node-fetch';
import type { Admin, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { createPool } from '../adapters/postgres/pool';
import type { Config, SecretSetting } from '../core/config';
import { componentLogger } from '../core/log';
import { createOutboxRelay } from '../flows/outbox/relay';
import { ProjectionPipeline } from '../flows/projection/pipeline';
import { PROJECTOR_GROUP, ROUTER_GROUP, routerTopics } from '../flows/projection/stages';
import { createKafka } from '../adapters/kafka/kafka';
import { ConnectClient } from '../adapters/kafka-connect/client';
import { basicAuthHeaders } from '../adapters/basic-auth';
import { httpsAgent, untrustedCertificate } from '../adapters/rest-tls';
import { partitionLags } from '../adapters/kafka/groups';
import { replicationSlots } from '../adapters/postgres/replication-slots';
import { startOpsServer, InvoicePdfRoute, OpsServer, ReadinessCheck } from './http';
import { Metrics } from './metrics';
import { outboxBacklog } from './status';

import { OpenCellClient } from '../adapters/opencell/client';
import { createInvoiceLoader, INVOICE_LOADER_GROUP, startInvoicePoller } from '../flows/invoices';
import { startHeldIntentScheduler } from '../flows/projection/held-intents';

const log = componentLogger('run');

export const ALL_ROLES = ['router', 'projector', 'relay', 'poller', 'loader', 'scheduler'] as const;
export type RoleName = (typeof ALL_ROLES)[number];

/**
 * What every role reads of the secret settings: the state database, Kafka, and the registry and Connect, which every
 * process's /readyz checks (commonChecks); each role adds its own. `run` demands these (src/app/cli.ts), and each
 * Deployment of deploy/kubernetes takes them from a Secret (test/unit/deploy-manifests.test.ts).
 */
const COMMON_SECRETS = [
  'STATE_DATABASE_URL',
  'KAFKA_SASL_PASSWORD',
  'SCHEMA_REGISTRY_URL',
  'SCHEMA_REGISTRY_PASSWORD',
  'CONNECT_PASSWORD',
] as const satisfies readonly SecretSetting[];
export const ROLE_SECRETS: Record<RoleName, readonly SecretSetting[]> = {
  router: [...COMMON_SECRETS, 'ODOO_DATABASE_URL'],
  projector: [...COMMON_SECRETS, 'ODOO_DATABASE_URL', 'OPENCELL_PASSWORD'],
  relay: COMMON_SECRETS,
  poller: [...COMMON_SECRETS, 'OPENCELL_PASSWORD'],
  loader: [...COMMON_SECRETS, 'ODOO_PASSWORD'],
  scheduler: COMMON_SECRETS,
};

export interface RunContext {
  config: Config;
  kafka: Kafka;
  metrics: Metrics;
  /** consumer group override per role (tests, canaries) */
  groups: Partial<Record<string, string>>;
}

export interface RunningRole {
  role: string;
  /** consumer groups this role's lag is sampled for, with their topics */
  groups?: { groupId: string; topics: string[] }[];
  /** readiness checks specific to the role (merged into /readyz) */
  checks?: Record<string, ReadinessCheck>;
  /** gauges of the role's own, sampled with the lag */
  sample?: () => Promise<void>;
  /** graceful: stop fetching, finish in-flight work, commit, disconnect */
  stop(): Promise<void>;
}

export type RoleStarter = (ctx: RunContext) => Promise<RunningRole>;

function projectionStarter(role: 'router' | 'projector'): RoleStarter {
  return async (ctx) => {
    const groupId = ctx.groups[role] ?? (role === 'router' ? ROUTER_GROUP : PROJECTOR_GROUP);
    const pipeline = new ProjectionPipeline(ctx.config, {
      roles: [role],
      kafka: ctx.kafka,
      hooks: ctx.metrics.stageHooks(),
      groups: { [role]: groupId },
    });
    pipeline.client.onCall(ctx.metrics.onOpenCellCall);
    await pipeline.start();
    const topics = role === 'router' ? routerTopics(ctx.config.topics.prefix) : [ctx.config.topics.intents];
    const checks: Record<string, ReadinessCheck> = {
      [`postgres-odoo`]: async () => void (await pipeline.odooPool.query('SELECT 1')),
    };
    if (role === 'projector') {
      checks.opencell = async () => (await pipeline.client.version()) || 'ok';
      // The seed data every customer creation names (original-module.md §1.2): a missing category fails them all.
      checks['opencell-customer-category'] = async () => {
        const code = pipeline.opencellSettings.customerCategory;
        if (!(await pipeline.client.getCustomerCategory(code)))
          throw new Error(
            `OpenCell has no customer category ${code} (OPENCELL_CUSTOMER_CATEGORY, or Odoo's opencell_somconnexio.opencell_customer_category_code)`,
          );
        return code;
      };
    }
    // The router reads what the slot's connector writes: it alone reports the slot, so one series per slot.
    const sample =
      role === 'router'
        ? async () =>
            ctx.metrics.observeSlots(await replicationSlots(pipeline.odooPool), ctx.config.slotWarnBytes)
        : undefined;
    return { role, groups: [{ groupId, topics }], checks, sample, stop: () => pipeline.stop() };
  };
}

/** The role registry; the invoice side adds `poller` and `loader` with registerRole. */
export const ROLE_STARTERS: Partial<Record<string, RoleStarter>> = {
  router: projectionStarter('router'),
  projector: projectionStarter('projector'),
  relay: async (ctx) => {
    const pool = createPool({
      connectionString: ctx.config.stateDatabaseUrl,
      max: 2,
      application_name: 'odoo-opencell-sync-relay',
    });
    const relay = createOutboxRelay(
      ctx.config,
      { pool, kafka: ctx.kafka },
      { metrics: ctx.metrics.relayMetrics() },
    );
    await relay.start();
    return {
      role: 'relay',
      checks: {
        relay: async () => {
          if (relay.state === 'failed' || relay.state === 'crashed')
            throw new Error(
              `relay ${relay.state}: ${String((relay.fatalError as Error | undefined)?.message ?? '')}`,
            );
          return `${relay.state}${relay.isLeader ? ' (leader)' : ' (standby)'}`;
        },
      },
      stop: async () => {
        await relay.stop();
        await pool.end();
      },
    };
  },
};

// The invoice side: the OpenCell poller (outbox rows) and the Odoo loader (consumer group invoice-loader).
ROLE_STARTERS.poller = async (ctx) => {
  const pool = createPool({
    connectionString: ctx.config.stateDatabaseUrl,
    max: 2,
    application_name: 'odoo-opencell-sync-poller',
  });
  const opencell = new OpenCellClient(ctx.config.opencell);
  opencell.onCall(ctx.metrics.onOpenCellCall);
  const poller = startInvoicePoller(ctx.config, {
    pool,
    opencell,
    options: { onPoll: ctx.metrics.onInvoicePoll },
  });
  return {
    role: 'poller',
    checks: { opencell: async () => (await opencell.version()) || 'ok' },
    stop: async () => {
      await poller.stop();
      opencell.close();
      await pool.end();
    },
  };
};
ROLE_STARTERS.loader = async (ctx) => {
  const pool = createPool({
    connectionString: ctx.config.stateDatabaseUrl,
    max: 4,
    application_name: 'odoo-opencell-sync-loader',
  });
  const groupId = ctx.groups.loader ?? INVOICE_LOADER_GROUP;
  const loader = createInvoiceLoader(ctx.config, {
    kafka: ctx.kafka,
    pool,
    groupId,
    onLoaded: (_e, r) => ctx.metrics.invoiceLoads.inc({ outcome: r.outcome }),
    onConsumerEvent: (e) => ctx.metrics.onConsumerEvent('invoice-loader', e),
  });
  await loader.start();
  return {
    role: 'loader',
    groups: [{ groupId, topics: [ctx.config.topics.invoiceEvents] }],
    stop: async () => {
      await loader.stop();
      await pool.end();
    },
  };
};

// The scheduler: held terminations back onto the intents topic when due (docs/operations.md "Held terminations").
ROLE_STARTERS.scheduler = async (ctx) => {
  const pool = createPool({
    connectionString: ctx.config.stateDatabaseUrl,
    max: 2,
    application_name: 'odoo-opencell-sync-scheduler',
  });
  const scheduler = await startHeldIntentScheduler(ctx.config, { pool, kafka: ctx.kafka });
  return {
    role: 'scheduler',
    checks: {
      'held-intents': async () => {
        const r = await pool.query<{ n: string; due: string }>(
          `SELECT count(*) AS n, count(*) FILTER (WHERE not_before <= now()) AS due FROM held_intent WHERE topic = $1`,
          [ctx.config.topics.intents],
        );
        return `${r.rows[0].n} held, ${r.rows[0].due} due, ${scheduler.released} released`;
      },
    },
    stop: async () => {
      await scheduler.stop();
      await pool.end();
    },
  };
};

export function registerRole(role: string, starter: RoleStarter): void {
  ROLE_STARTERS[role] = starter;
}

export interface RunOptions {
  groups?: Partial<Record<string, string>>;
  metrics?: Metrics;
  kafka?: Kafka;
  /** HTTP port; defaults to config.httpPort (0 = random); null disables the server */
  httpPort?: number | null;
  /** how often lag and backlog gauges are sampled (ms) */
  sampleMs?: number;
}

export interface RunningProcess {
  roles: string[];
  http: OpsServer | undefined;
  metrics: Metrics;
  /** graceful stop of every role (reverse start order), the sampler and the HTTP server */
  stop(): Promise<void>;
}

/** Common readiness checks: Kafka, the registry, the state database, Kafka Connect tasks. Exported for tests. */
export function commonChecks(config: Config, admin: Admin, statePool: Pool): Record<string, ReadinessCheck> {
  return {
    kafka: async () => {
      const c = await admin.describeCluster();
      return `${c.brokers.length} broker(s)`;
    },
    registry: async () => {
      const url = `${config.registryUrl}/subjects`;
      const res = await fetch(url, {
        timeout: 2000,
        headers: basicAuthHeaders(config.registryAuth),
        agent: httpsAgent(url, config.registryCa),
      }).catch((e: unknown) => {
        throw (
          untrustedCertificate(e, 'the schema registry', url, 'SCHEMA_REGISTRY_CA', config.registryCa) ?? e
        );
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      await res.text();
    },
    'postgres-state': async () => void (await statePool.query('SELECT 1')),
    connect: async () => {
      const connect = new ConnectClient(config.connectUrl, config.connectAuth, config.connectCa);
      const names = await connect.list();
      const bad: string[] = [];
      for (const n of names) {
        const s = await connect.status(n);
        if (!s || s.connector.state !== 'RUNNING' || s.tasks.some((t) => t.state !== 'RUNNING')) {
          bad.push(
            `${n}: ${s ? [s.connector.state, ...s.tasks.map((t) => `${t.id}:${t.state}`)].join(' ') : 'missing'}`,
          );
        }
      }
      if (bad.length) throw new Error(`not running: ${bad.join('; ')}`);
      return `${names.length} connector(s) running`;
    },
  };
}

export async function runRoles(
  config: Config,
  roles: readonly string[],
  opts: RunOptions = {},
): Promise<RunningProcess> {
  const unknown = roles.filter((r) => !ROLE_STARTERS[r]);
  if (unknown.length) throw new Error(`role(s) not available in this build: ${unknown.join(', ')}`);
  const metrics = opts.metrics ?? new Metrics({ labels: { roles: roles.join(',') } });
  const kafka = opts.kafka ?? createKafka(config.kafka, config.kafka.clientId);
  const ctx: RunContext = { config, kafka, metrics, groups: opts.groups ?? {} };
  const admin = kafka.admin();
  await admin.connect();
  const statePool = createPool({
    connectionString: config.stateDatabaseUrl,
    max: 2,
    application_name: 'odoo-opencell-sync-ops',
  });
  const started: RunningRole[] = [];
  let http: OpsServer | undefined;
  let pdfClient: OpenCellClient | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;

  const stop = () =>
    (stopping ??= (async () => {
      if (sampler) clearInterval(sampler);
      for (const w of started.splice(0).reverse()) {
        try {
          await w.stop();
          log.info(`${w.role} stopped`);
        } catch (e) {
          log.error(`${w.role} did not stop cleanly: ${(e as Error).message}`);
        }
      }
      await http?.close();
      pdfClient?.close();
      await admin.disconnect().catch(() => undefined);
      await statePool.end().catch(() => undefined);
    })());

  try {
    for (const role of roles) {
      const starter = ROLE_STARTERS[role] as RoleStarter;
      started.push(await starter(ctx));
      log.info(`${role} started`);
    }
    const checks: Record<string, ReadinessCheck> = { ...commonChecks(config, admin, statePool) };
    for (const w of started) Object.assign(checks, w.checks ?? {});
    // roles with a consumer group: degraded while one of their partitions is blocked (an outage waited out)
    if (started.some((w) => w.groups?.length)) checks['blocked-partitions'] = metrics.blockedCheck();
    const port = opts.httpPort === undefined ? config.httpPort : opts.httpPort;
    if (port !== null) {
      let invoicePdf: InvoicePdfRoute | undefined;
      if (config.invoicePdf.enabled) {
        pdfClient = new OpenCellClient(config.opencell);
        pdfClient.onCall(metrics.onOpenCellCall);
        const client = pdfClient;
        invoicePdf = {
          token: config.invoicePdf.token,
          fetchPdf: (n) => client.getInvoicePdf(n),
          onError: (e) => log.warn(`invoice PDF request failed: ${e.message}`),
        };
      }
      http = await startOpsServer({
        port,
        host: config.httpHost,
        registry: metrics.registry,
        checks,
        info: { roles: [...roles], pid: process.pid },
        invoicePdf,
      });
      log.info(`http endpoints on ${config.httpHost}:${http.port} (/healthz /readyz /metrics)`);
    }
    const sample = async () => {
      for (const w of started)
        for (const g of w.groups ?? []) {
          const lags = await partitionLags(admin, g.groupId, g.topics).catch(() => []);
          for (const l of lags)
            metrics.consumerLag.set(
              { group: g.groupId, topic: l.topic, partition: String(l.partition) },
              l.lag,
            );
        }
      for (const w of started) await w.sample?.().catch(() => undefined);
      const b = await outboxBacklog(statePool).catch(() => undefined);
      if (b) {
        metrics.outboxBacklog.set(b.backlog);
        metrics.outboxParked.set(b.parked);
      }
    };
    sampler = setInterval(() => void sample().catch(() => undefined), opts.sampleMs ?? 15_000);
    sampler.unref();
    void sample().catch(() => undefined);
  } catch (e) {
    await stop();
    throw e;
  }
  return { roles: [...roles], http, metrics, stop };
}

/**
 * Runs until SIGTERM / SIGINT: the first signal stops gracefully (exit code 0, or 1 when a role does not stop
 * cleanly), a second one exits at once with 130.
 */
export async function runUntilSignal(
  running: RunningProcess,
  exit: (code: number) => void = (c) => process.exit(c),
): Promise<number> {
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn(`second ${sig}: exiting now`);
        exit(130);
        return;
      }
      log.info(`${sig}: stopping (finishing in-flight work, committing); send it again to exit at once`);
      running.stop().then(
        () => resolve(0),
        (e) => {
          log.error(`shutdown failed: ${(e as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
