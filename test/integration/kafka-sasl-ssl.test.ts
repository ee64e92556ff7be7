import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { testPool } from '../support/pg';
import { createKafka, startGroupAtEnd } from '../../src/adapters/kafka/kafka';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { loadConfig, type Config } from '../../src/core/config';
import { subscribeEvents, type Subscription } from '../../src/flows/outbox/subscriber';
import { ensurePipelineTopics, routerTopics } from '../../src/flows/projection/stages';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import { startOpenCellSandbox } from '../../testkit/sandbox/opencell';
import type { SyncEvent } from '../../src/domain/outbox/events';
import type { Sandbox } from './support/pipeline';
import { sharedSecureStack } from './support/second-stack';
import { eventually, ROOT, uniqueSuffix } from './support/stack';

/**
 * Issue 16, "Security": Kafka SASL/SCRAM-SHA-512 over TLS for every Kafka client of the pipeline. A second stack
 * whose only client listener is SASL_SSL (`scripts/stack up --secure`: a CA of its own, SCRAM users made when the
 * storage is formatted; Kafka Connect and Debezium authenticate as user `connect`) carries the pipeline started as an
 * operator starts it — `odoo-opencell-sync run` with the settings the script wrote (KAFKA_SSL, KAFKA_SSL_CA,
 * KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD) — from an Odoo change to OpenCell and to a sync
 * event read back over SASL_SSL, the event schemas registered with and read from the stack's registry over HTTPS
 * (SCHEMA_REGISTRY_URL, SCHEMA_REGISTRY_CA); and a wrong password is refused with an error that says which settings to check
 * and carries no password.
 */
const CLI = join(ROOT, 'src', 'app', 'cli.ts');
const { stack, up } = sharedSecureStack();
const BROKER = stack.brokers[0].replace(/\./g, '\\.');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns the CLI; resolves when it exits, or on demand (`stop`: SIGTERM). */
function startCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    out,
    exited,
    async stop(): Promise<number | null> {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('Kafka SASL/SCRAM over TLS (issue 16): the pipeline on a broker that accepts only SASL_SSL', function () {
  this.timeout(300_000);
  const sfx = uniqueSuffix();
  let client: Record<string, string>;
  let env: Record<string, string>;
  let config: Config;
  let sandbox: Sandbox;
  let odoo: Pool;

  before(async () => {
    await up();
    client = stack.clientEnv();
    sandbox = await startOpenCellSandbox({ port: 0, password: 'secure-oc-pw' });
    odoo = testPool({ connectionString: stack.odooDatabaseUrl, max: 2 });
    env = {
      ...client,
      ODOO_DATABASE_URL: stack.odooDatabaseUrl,
      STATE_DATABASE_URL: stack.stateDatabaseUrl,
      OPENCELL_BASEURL: sandbox.url,
      OPENCELL_USER: sandbox.credentials.user,
      OPENCELL_PASSWORD: 'secure-oc-pw',
      ODOO_PASSWORD: 'unused',
      SYNC_EVENTS_TOPIC: `test.secure-sync-events-${sfx}`,
      LOG_LEVEL: 'warn',
    };
    config = loadConfig({ ...process.env, ...env });
  });

  after(async () => {
    await sandbox?.close().catch(() => undefined);
    await odoo?.end().catch(() => undefined);
  });

  it('an Odoo contract reaches OpenCell and its sync events are read back, every Kafka client on SASL_SSL', async () => {
    expect(config.kafka.sasl).to.include({ mechanism: 'scram-sha-512', username: 'sync' });
    expect(config.kafka.ssl?.ca?.[0]).to.contain('BEGIN CERTIFICATE');
    expect(config.registryUrl).to.match(/^https:/);
    expect(config.registryCa).to.contain('BEGIN CERTIFICATE');
    // the broker has no plaintext client listener: the status line says so
    expect(await stack.status()).to.match(new RegExp(`kafka\\s+healthy .*SASL_SSL ${BROKER}`));

    const kafka = createKafka(config.kafka, 'secure-test');
    await ensurePipelineTopics(kafka, config);
    const admin = kafka.admin();
    await admin.connect();
    // the router starts at the end of the Debezium topics (after the initial snapshot of the reference data)
    let last = '';
    await eventually(
      async () => {
        const ends = JSON.stringify(
          await Promise.all(routerTopics(config.topics.prefix).map((t) => admin.fetchTopicOffsets(t))),
        );
        const stable = ends === last;
        last = ends;
        await new Promise((r) => setTimeout(r, 1000));
        return stable ? true : undefined;
      },
      60_000,
      'the initial snapshot written',
    );
    const groups = { router: `secure-router-${sfx}`, projector: `secure-projector-${sfx}` };
    await startGroupAtEnd(kafka, admin, groups.router, routerTopics(config.topics.prefix));

    const received: { action: string; outcome: string; odooId: number; calls: string[] }[] = [];
    const diagnose = async (): Promise<string> => {
      const state = testPool({ connectionString: stack.stateDatabaseUrl, max: 1 });
      try {
        const ledger = await state.query(
          `SELECT kind, odoo_id, outcome, calls, attempts, error_code FROM ledger_intent ORDER BY created_at DESC LIMIT 10`,
        );
        const outbox = await state.query(
          `SELECT topic, count(*)::int AS n, count(published_at)::int AS published, max(last_error) AS last_error
             FROM outbox GROUP BY topic`,
        );
        const ends = await admin.fetchTopicOffsets(config.topics.syncEvents).catch((x: Error) => x.message);
        return `received ${JSON.stringify(received.slice(-20))}; ledger ${JSON.stringify(ledger.rows)}; outbox ${JSON.stringify(outbox.rows)}; topic ends ${JSON.stringify(ends)}`;
      } catch (x) {
        return `diagnosis failed: ${(x as Error).message}`;
      } finally {
        await state.end();
      }
    };
    let sub: Subscription | undefined;
    let exitCode: number | null;
    const run = startCli(
      [
        'run',
        '--only',
        'router,projector,relay',
        '--group',
        `router=${groups.router}`,
        '--group',
        `projector=${groups.projector}`,
      ],
      { ...env, HTTP_PORT: String(await freePort()) },
    );
    try {
      sub = await subscribeEvents({
        kafka,
        registry: new EventSchemas({
          registryUrl: config.registryUrl,
          topics: config.topics,
          ca: config.registryCa,
        }),
        topic: config.topics.syncEvents,
        groupId: `secure-subscriber-${sfx}`,
        fromBeginning: true,
        onEvent: (d) => {
          if (d.type !== 'SyncOutcome') return;
          const e = d.event as SyncEvent;
          received.push({ action: e.action, outcome: e.outcome, odooId: e.odoo.id, calls: e.calls });
        },
      });
      const db = await odoo.connect();
      let code: string;
      let contractId: number;
      let lineId: number;
      try {
        const partner = await insertPartner(db, { email: `secure${sfx}@example.org` });
        const mandate = await insertBankAccountAndMandate(db, partner.id);
        const contract = await insertContract(db, {
          partnerId: partner.id,
          mandateId: mandate.mandateId,
          kind: 'mobile',
        });
        code = contract.code;
        contractId = contract.id;
        lineId = contract.lineIds[0];
      } finally {
        db.release();
      }
      await eventually(
        async () => (sandbox.state.subscriptions.get(code) ? true : undefined),
        90_000,
        `subscription ${code} in OpenCell`,
      ).catch((e: Error) => {
        throw new Error(`${e.message}; pipeline output: ${run.out.stderr.slice(-1500)}`);
      });
      // The contract's row and its tariff line reach the router on two Debezium topics whose partitions it routes
      // concurrently, so either intent may come first: the first creates the subscription (activate_service does so
      // as its precondition), the other finds it there ("skipped"). Both events are read back; exactly one of them
      // carries the create calls (as test/integration/sync-events.test.ts).
      const events = () =>
        received.filter(
          (e) =>
            (e.action === 'create_subscription' && e.odooId === contractId) ||
            (e.action === 'activate_service' && e.odooId === lineId),
        );
      await eventually(
        async () => {
          const seen = events().filter((e) => e.outcome === 'applied' || e.outcome === 'skipped');
          return new Set(seen.map((e) => e.action)).size === 2 ? true : undefined;
        },
        120_000,
        `the sync events of contract ${contractId} and its line ${lineId} read over SASL_SSL`,
      ).catch(async (e: Error) => {
        // what was seen when the wait ran out (not when it began): the ledger, the outbox, the topic
        throw new Error(`${e.message}; ${await diagnose()}; pipeline output: ${run.out.stderr.slice(-1500)}`);
      });
      const calls = events().flatMap((e) => e.calls);
      expect(calls.filter((c) => c === 'createSubscription')).to.have.length(1);
      expect(calls).to.include('activateServices');
    } finally {
      await sub?.stop();
      await admin.disconnect();
      exitCode = await run.stop();
    }
    expect(exitCode, `run's exit code (output: ${run.out.stderr.slice(-800)})`).to.equal(0);
    const output = run.out.stdout + run.out.stderr;
    expect(output).not.to.contain(client.KAFKA_SASL_PASSWORD);
  });

  it('a wrong password is refused: exit 1 with an error naming the user and the settings to check, no password anywhere', async () => {
    const wrong = `Wrong-${uniqueSuffix()}-pw`;
    const run = startCli(['run', '--only', 'router'], {
      ...env,
      KAFKA_SASL_PASSWORD: wrong,
      HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'debug',
    });
    const code = await Promise.race([
      run.exited,
      new Promise<string>((r) => setTimeout(() => r('still running after 60 s'), 60_000)),
    ]);
    if (code === 'still running after 60 s') await run.stop();
    expect(code, run.out.stderr.slice(-1500)).to.equal(1);
    const lastLine = run.out.stderr.trim().split('\n').pop() ?? '';
    expect(lastLine).to.match(
      new RegExp(
        `^error: could not start router: Kafka refused the credentials of user "sync" \\(SCRAM-SHA-512\\) at ${BROKER}`,
      ),
    );
    expect(lastLine).to.contain('check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
    const output = run.out.stdout + run.out.stderr;
    expect(output, 'the wrong password').not.to.contain(wrong);
    expect(output, 'the right password').not.to.contain(client.KAFKA_SASL_PASSWORD);
  });
});
