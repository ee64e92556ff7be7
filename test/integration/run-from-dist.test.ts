/**
 * The production build runs the pipeline (issue 16, "Build and ship"): `tsc -p tsconfig.build.json` compiles src/
 * into a folder of its own inside the package (where the compiled code finds connectors/ and schemas/, as from
 * dist/), and `node <build>/src/app/cli.js run` — plain Node, NODE_OPTIONS empty, so no tsx — carries an Odoo
 * contract through Debezium, the router and the projector to the OpenCell sandbox, and answers /healthz. The build
 * holds no test kit or sandbox code.
 *
 * As in operations-e2e.test.ts: a ledger of its own (a state schema by search_path), topics and groups of its own,
 * the router group starting at the current end of the Debezium topics.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import type { PoolClient } from 'pg';
import { loadConfig } from '../../src/core/config';
import { ensurePipelineTopics, routerTopics } from '../../src/flows/projection/stages';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import { startOpenCellSandbox } from '../../testkit/sandbox/opencell';
import type { Sandbox } from './support/pipeline';
import {
  createStateSchema,
  eventually,
  odooDb,
  ROOT,
  startGroupAtEnds,
  stateDb,
  stateUrlFor,
  testKafka,
  uniqueSuffix,
} from './support/stack';

const OUT = join(ROOT, '.cache', `build-run-${process.pid}`);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [relative(OUT, p)];
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('the compiled build runs the pipeline: `node <build>/src/app/cli.js run`, no tsx', function () {
  this.timeout(180_000);
  const sfx = uniqueSuffix();
  const topics = { intents: `test.dist-intents-${sfx}`, dlq: `test.dist-dlq-${sfx}` };
  const groups = { router: `test-dist-router-${sfx}`, projector: `test-dist-projector-${sfx}` };
  const stateSchema = `dist_run_${sfx}`;
  let sandbox: Sandbox;
  let db: PoolClient;
  let env: NodeJS.ProcessEnv;

  before(async function () {
    this.timeout(180_000);
    rmSync(OUT, { recursive: true, force: true });
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript7', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', OUT],
      { cwd: ROOT, stdio: 'pipe' },
    );
    await createStateSchema(stateSchema);
    sandbox = await startOpenCellSandbox({ port: 0 });
    env = {
      ...process.env,
      // plain node: no tsx (NODE_OPTIONS could carry --require tsx/cjs)
      NODE_OPTIONS: '',
      OPENCELL_BASEURL: sandbox.url,
      OPENCELL_USER: sandbox.credentials.user,
      OPENCELL_PASSWORD: sandbox.credentials.password,
      STATE_DATABASE_URL: stateUrlFor(stateSchema),
      INTENTS_TOPIC: topics.intents,
      DLQ_TOPIC: topics.dlq,
      HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
    };
    await ensurePipelineTopics(testKafka(), loadConfig(env, []));
    await startGroupAtEnds(groups.router, routerTopics('odoo'));
    db = await odooDb().connect();
  });

  after(async function () {
    this.timeout(60_000);
    db?.release();
    await sandbox?.close().catch(() => undefined);
    const admin = testKafka().admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteGroups([groups.router, groups.projector]).catch(() => undefined);
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await stateDb()
      .query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE`)
      .catch(() => undefined);
    rmSync(OUT, { recursive: true, force: true });
  });

  it('holds src/ only: no test kit, sandbox, tests or benchmarks, and nothing that loads them', () => {
    const out = files(OUT);
    expect(out).to.include(join('src', 'app', 'cli.js'));
    expect(out.filter((f) => !f.startsWith(`src/`))).to.deep.equal([]);
    const loads = out
      .filter((f) => f.endsWith('.js'))
      .filter((f) =>
        /require\(["'][^"']*(testkit|sandbox|\/test\/|\/bench\/)/.test(readFileSync(join(OUT, f), 'utf8')),
      );
    expect(loads, 'compiled modules that require test code').to.deep.equal([]);
  });

  it('carries an Odoo contract to OpenCell and answers /healthz, then stops on SIGTERM with exit 0', async () => {
    const child = spawn(
      process.execPath,
      [
        join(OUT, 'src', 'app', 'cli.js'),
        'run',
        '--only',
        'router,projector',
        '--group',
        `router=${groups.router}`,
        '--group',
        `projector=${groups.projector}`,
      ],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`run exited (${child.exitCode})`);
          return stderr.includes('[run] running router, projector') ? true : undefined;
        },
        90_000,
        'the compiled run to start',
      ).catch((e: Error) => {
        throw new Error(`${e.message}; output: ${stderr.slice(-1500)}`);
      });
      const health = await httpGet(Number(env.HTTP_PORT), '/healthz');
      expect(health.status, health.body).to.equal(200);

      const partner = await insertPartner(db, { email: `dist${sfx}@example.org` });
      const mandate = await insertBankAccountAndMandate(db, partner.id);
      const contract = await insertContract(db, {
        partnerId: partner.id,
        mandateId: mandate.mandateId,
        kind: 'mobile',
      });
      await eventually(
        async () => (sandbox.state.subscriptions.get(contract.code) ? true : undefined),
        90_000,
        `subscription ${contract.code} in OpenCell`,
      ).catch((e: Error) => {
        throw new Error(`${e.message}; output: ${stderr.slice(-1500)}`);
      });
      expect(sandbox.state.customers.has(partner.ref as string)).to.equal(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    expect(await exited, `exit code (output: ${stderr.slice(-800)})`).to.equal(0);
  });
});
