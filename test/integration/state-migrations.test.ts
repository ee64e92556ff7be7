/**
 * `migrate` (issue 16, "Run it on your cluster"): an operator brings the state database of a cluster deployment up
 * to date as its owner role, without the local stack's superuser setup. Runs on a scratch database owned by `sync`
 * on the stack's PostgreSQL, dropped afterwards.
 */
import { expect } from 'chai';
import { Client } from 'pg';
import { main, type CliIo } from '../../src/app/cli';
import { stateMigrations } from '../../src/adapters/postgres/state-migrations';
import { STATE_DATABASE_URL } from './support/stack';

const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

function io(env: Record<string, string | undefined>): CliIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    isTTY: false,
    stdout: () => out,
    stderr: () => err,
  };
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('migrate: the state database brought up to date by its owner role', function () {
  this.timeout(60_000);
  const db = `oosync_migrate_${process.pid}`;
  const url = new URL(STATE_DATABASE_URL);
  url.pathname = `/${db}`;
  const env = { STATE_DATABASE_URL: url.toString() };

  before(() => admin((c) => c.query(`CREATE DATABASE ${db} OWNER ${url.username || 'sync'}`)));
  after(() => admin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)));

  it('lists what is pending, refuses without --yes, applies each file once with --yes, then has nothing to do', async () => {
    const files = stateMigrations().map((m) => m.name);
    expect(files.length).to.be.greaterThan(5);

    const dry = io(env);
    expect(await main(['migrate', '--dry-run'], dry)).to.equal(0);
    expect(dry.stdout()).to.include(`${files.length} of ${files.length} migration(s) not applied yet`);
    for (const f of files) expect(dry.stdout()).to.include(f);

    const refused = io(env);
    expect(await main(['migrate'], refused)).to.equal(2);
    expect(refused.stderr()).to.include('add --yes');

    const check = new Client({ connectionString: url.toString() });
    await check.connect();
    try {
      const table = async (name: string) =>
        (await check.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name])).rows[0].t;
      expect(await table('schema_migrations'), 'nothing written without --yes').to.equal(null);

      const run = io(env);
      expect(await main(['migrate', '--yes', '--json'], run)).to.equal(0);
      expect(JSON.parse(run.stdout())).to.deep.equal({ dryRun: false, pending: [], applied: files });
      const recorded = await check.query<{ name: string }>(
        'SELECT name FROM schema_migrations ORDER BY name',
      );
      expect(recorded.rows.map((r) => r.name)).to.deep.equal(files);
      expect(await table('ledger_intent'), 'the ledger exists').to.equal('ledger_intent');
      const owner = await check.query<{ o: string }>(
        `SELECT tableowner AS o FROM pg_tables WHERE tablename = 'ledger_intent'`,
      );
      expect(owner.rows[0].o, 'made by the owner role, not a superuser').to.equal(url.username || 'sync');

      const again = io(env);
      expect(await main(['migrate', '--yes'], again)).to.equal(0);
      expect(again.stdout()).to.include(`state database up to date (${files.length} migrations)`);
    } finally {
      await check.end();
    }
  });
});
