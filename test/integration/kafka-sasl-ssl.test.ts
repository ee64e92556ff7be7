import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Pool } from 'pg';
import { createKafka, startGroupAtEnd } from '../../src/adapters/kafka/kafka';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { loadConfig, type Config } from '../../src/core/config';
import { subscribeEvents, type Subscription } from '../../src/flows/outbox/subscriber';
import { ensurePipelineTopics, routerTopics } from '../../src/flows/projection/stages';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import { startOpenCellSandbox } from '../../testkit/sandbox/opencell';
import type { SyncEvent } from '../../src/domain/outbox/events';
import type { Sandbox } from './support/pipeline';
import { SecondStack } from './support/second-stack';
import { eventually, REGISTRY_URL, ROOT, uniqueSuffix } from './support/stack';

/**
 * Issue 16, "Security": Kafka SASL/SCRAM-SHA-512 over TLS for every Kafka client of the pipeline. A second stack
 * whose only client listener is SASL_SSL (`scripts/stack up --secure`: a CA of its own, SCRAM users made when the
 * storage is formatted; Kafka Connect and Debezium authenticate as user `connect`) carries the pipeline started as an
 * operator starts it — `odoo-opencell-sync run` with the settings the script wrote (KAFKA_SSL, KAFKA_SSL_CA,
 * KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD) — from an Odoo change to OpenCell and to a sync
 * event read back over SASL_SSL; and a wrong password is refused with an error that says which settings to check
 * and carries no password.
 */
const CLI = join(ROOT, 'src', 'app', 'cli.ts');
const stack = new SecondStack({ name: 'secure', brokers: 1, secure: true, portOffset: 300 });

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
    await stack.up();
    client = stack.clientEnv();
    sandbox = await startOpenCellSandbox({ port: 0, password: 'secure-oc-pw' });
    odoo = new Pool({ connectionString: stack.odooDatabaseUrl, max: 2 });
    env = {
      ...client,
      CONNECT_URL: stack.connectUrl,
      ODOO_DATABASE_URL: stack.odooDatabaseUrl,
      STATE_DATABASE_URL: stack.stateDatabaseUrl,
      SCHEMA_REGISTRY_URL: REGISTRY_URL,
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
    if (!process.env.KEEP_SECOND_STACK) await stack.reset().catch(() => undefined);
  });

  it('an Odoo contract reaches OpenCell and its sync event is read back, every Kafka client on SASL_SSL', async () => {
    expect(config.kafka.sasl).to.include({ mechanism: 'scram-sha-512', username: 'sync' });
    expect(config.kafka.ssl?.ca?.[0]).to.contain('BEGIN CERTIFICATE');
    // the broker has no plaintext client listener: the status line says so
    expect(await stack.status()).to.match(/kafka\s+healthy .*SASL_SSL 127\.0\.0\.1:9392/);

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
    await startGroupAtEnd(admin, groups.router, routerTopics(config.topics.prefix));
    await admin.disconnect();

    const received: { action: string; outcome: string; contractId: number }[] = [];
    let sub: Subscription | undefined;
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
        registry: new EventSchemas({ registryUrl: REGISTRY_URL, topics: config.topics }),
        topic: config.topics.syncEvents,
        groupId: `secure-subscriber-${sfx}`,
        fromBeginning: true,
        onEvent: (d) => {
          if (d.type !== 'SyncOutcome') return;
          const e = d.event as SyncEvent;
          received.push({ action: e.action, outcome: e.outcome, contractId: e.odoo.id });
        },
      });
      const db = await odoo.connect();
      let code: string;
      let contractId: number;
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
      } finally {
        db.release();
      }
      await eventually(
        async () => (sandbox.state.subscriptions.get(code) ? true : undefined),
        90_000,
        `subscription ${code} in OpenCell (pipeline output: ${run.out.stderr.slice(-500)})`,
      );
      await eventually(
        async () =>
          received.some(
            (e) =>
              e.action === 'create_subscription' && e.contractId === contractId && e.outcome === 'applied',
          )
            ? true
            : undefined,
        120_000,
        `a sync event for contract ${contractId} read over SASL_SSL (received: ${JSON.stringify(received.slice(0, 20))}; pipeline output: ${run.out.stderr.slice(-1500)})`,
      );
    } finally {
      await sub?.stop();
      expect(await run.stop(), `run's exit code (output: ${run.out.stderr.slice(-800)})`).to.equal(0);
    }
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
      /^error: could not start router: Kafka refused the credentials of user "sync" \(SCRAM-SHA-512\) at 127\.0\.0\.1:9392/,
    );
    expect(lastLine).to.contain('check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
    const output = run.out.stdout + run.out.stderr;
    expect(output, 'the wrong password').not.to.contain(wrong);
    expect(output, 'the right password').not.to.contain(client.KAFKA_SASL_PASSWORD);
  });
});
