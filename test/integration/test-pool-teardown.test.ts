/**
 * Regression of the CI run that failed with 1,030 tests passed: the go-live scenario's `after` hook ended its pools
 * and at once dropped their databases `WITH (FORCE)`; a session pg-pool had only asked to end was terminated, the
 * FATAL message reached an idle client and became the pool's unhandled 'error' event ("terminating connection due
 * to administrator command" as an uncaught error, then "done() called multiple times in hook"). The tests' pools
 * (test/support/pg.ts) close every session before `end()` resolves and report a lost connection instead of throwing.
 * Runs on a scratch database of the stack's PostgreSQL, dropped at the end.
 */
import { expect } from 'chai';
import { Client, Pool, type PoolClient } from 'pg';
import { testPool } from '../support/pg';

const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

async function admin<T>(sql: string, args: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return (await c.query(sql, args)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Opens `n` sessions of the pool at once and returns them idle; their server pids. */
async function openSessions(pool: Pool, n: number): Promise<number[]> {
  const clients: PoolClient[] = await Promise.all(Array.from({ length: n }, () => pool.connect()));
  const pids = await Promise.all(
    clients.map(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid),
  );
  for (const c of clients) c.release();
  return pids;
}

describe('test pools: ended before their database is dropped, or losing a connection, they never end the run', function () {
  this.timeout(60_000);
  const db = `oosync_pooltest_${process.pid}`;
  const url = () => {
    const u = new URL(ADMIN_URL);
    u.pathname = `/${db}`;
    return u.toString();
  };

  beforeEach(async () => {
    await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin(`CREATE DATABASE ${db}`);
  });
  after(async () => {
    await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  });

  it("pg-pool's own end() resolves while its sessions are still open: the window the CI run fell into", async () => {
    // eslint-disable-next-line no-restricted-syntax -- the bare pool whose window this test shows
    const bare = new Pool({ connectionString: url(), max: 4 });
    let closed = 0;
    bare.on('remove', () => closed++);
    await openSessions(bare, 4);
    await bare.end();
    const closedAtEnd = closed;
    // let the server close them before the database is dropped (the test must not fall into the window itself)
    const deadline = Date.now() + 10_000;
    while (closed < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(closedAtEnd, 'sessions closed when end() resolved').to.equal(0);
    expect(closed, 'sessions closed afterwards').to.equal(4);
  });

  it('regression: a test pool ended right before DROP DATABASE … WITH (FORCE) has closed every session first', async () => {
    const pool = testPool({ connectionString: url(), max: 4, application_name: 'pooltest-end' });
    let closed = 0;
    pool.on('remove', () => closed++);
    await openSessions(pool, 4);
    await pool.end();
    expect(closed, 'sessions closed when end() resolved').to.equal(4);
    // nothing left for the FORCE to terminate: the drop cannot reach a client of this pool any more
    await admin(`DROP DATABASE ${db} WITH (FORCE)`);
  });

  it('regression: a test pool whose idle and checked-out connections are terminated reports them and goes on', async () => {
    const pool = testPool({ connectionString: url(), max: 4, application_name: 'pooltest-lost' });
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (String(chunk).startsWith('test pool (pooltest-lost)')) written.push(String(chunk));
      else return write(chunk, ...rest);
      return true;
    }) as typeof process.stderr.write;
    let held: PoolClient | undefined;
    try {
      const pids = await openSessions(pool, 4);
      held = await pool.connect();
      const heldPid = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      expect(pids, "the held client is one of the pool's four sessions").to.include(heldPid);
      const terminated = await admin<{ ok: boolean }>(
        `SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) pid`,
        [pids],
      );
      // the fault landed: every session of the pool was terminated by the server
      expect(terminated.filter((r) => r.ok).length, 'sessions terminated').to.equal(4);
      const deadline = Date.now() + 10_000;
      while (written.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(written.filter((w) => w.includes('while idle')).length, 'idle losses reported').to.equal(3);
      expect(
        written.filter((w) => w.includes('while checked out')).length,
        'checked-out loss reported',
      ).to.equal(1);
      const err = await held.query('SELECT 1').then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, 'the checked-out client fails its next query').to.be.instanceOf(Error);
      held.release(err);
      held = undefined;
      // the pool opens a new session when asked
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).to.equal(1);
    } finally {
      process.stderr.write = write;
      held?.release(true);
      await pool.end();
    }
  });
});
