import { expect } from 'chai';
import type { Pool, PoolClient } from 'pg';
import { createPool } from '../../src/adapters/postgres/pool';
import { PgPartitionFence, withFencedWrite } from '../../src/adapters/postgres/fence';
import { isRetriable } from '../../src/domain/errors';
import { createStateSchema, eventually, stateDb, stateUrlFor, uniqueSuffix } from './support/stack';

/**
 * Issue 15: the state database drops the pipeline's sessions (a PostgreSQL restart, a failover, here
 * `pg_terminate_backend` on the sessions of this pool's application name only — other work shares the server). An
 * 'error' event nobody listens to would be thrown by Node and end the process (mocha reports it as an uncaught
 * error of the test); a query the loss interrupts fails with an error the catalogue classifies retriable; the
 * fencing epoch is a row, not a session, so the write that lost its session is retried with the same token.
 */
describe('a PostgreSQL session ended under the pipeline ends no process and fails only retriably', function () {
  this.timeout(60_000);
  const schema = `connloss_${uniqueSuffix()}`;
  const app = `test-connloss-${uniqueSuffix()}`;
  let pool: Pool;

  before(async () => {
    await createStateSchema(schema);
    pool = createPool({ connectionString: stateUrlFor(schema), max: 4, application_name: app });
  });
  after(async () => {
    await pool?.end().catch(() => undefined);
    await stateDb().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  /** Ends every session of this pool's application on the server; returns how many it ended. */
  const terminateAll = async (): Promise<number> =>
    (
      await stateDb().query<{ n: number }>(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE application_name = $1`,
        [app],
      )
    ).rows[0].n;
  const failureOf = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as Error,
    );

  it('idle connections ended: the pool drops them without an uncaught error and opens new ones', async () => {
    const held: PoolClient[] = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    for (const c of held) c.release();
    expect(pool.idleCount).to.equal(3);
    expect(await terminateAll(), 'sessions ended').to.equal(3);
    await eventually(
      async () => (pool.totalCount === 0 ? true : undefined),
      10_000,
      'the ended clients dropped',
    );
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).to.equal(1);
  });

  it('a query in flight fails with a retriable error; the next one runs on a new session', async () => {
    const sleeping = failureOf(pool.query('SELECT pg_sleep(30)'));
    await eventually(
      async () =>
        (
          await stateDb().query(
            `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'`,
            [app],
          )
        ).rowCount
          ? true
          : undefined,
      10_000,
      'the query running',
    );
    expect(await terminateAll()).to.be.at.least(1);
    const err = await sleeping;
    expect(err, 'the query failed').to.be.instanceOf(Error);
    expect(isRetriable(err), `${err?.message} (${(err as { code?: string }).code}) is retriable`).to.equal(
      true,
    );
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).to.equal(1);
  });

  it('a client checked out in a transaction, ended between two statements: no uncaught error, the next statement fails retriably', async () => {
    const c = await pool.connect();
    await c.query('BEGIN');
    await c.query('SELECT 1');
    expect(await terminateAll()).to.be.at.least(1);
    // the server's notice of the ended session arrives while nobody queries: an 'error' event on the client
    await new Promise((r) => setTimeout(r, 300));
    const err = await failureOf(c.query('SELECT 2'));
    expect(err, 'the statement failed').to.be.instanceOf(Error);
    expect(isRetriable(err), `${err?.message} is retriable`).to.equal(true);
    c.release(err);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).to.equal(1);
  });

  it('a fenced write whose session ends mid-transaction fails retriably, commits nothing, and its retry commits with the same epoch', async () => {
    await pool.query('CREATE TABLE conn_loss_probe (k text PRIMARY KEY)');
    const fence = new PgPartitionFence(pool, `test-connloss-${uniqueSuffix()}`, 'me');
    fence.assigned({ intents: [0] });
    const token = await fence.token('intents', 0);
    let release!: () => void;
    const inside = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const first = failureOf(
      withFencedWrite(pool, token, async (q) => {
        await q.query(`INSERT INTO conn_loss_probe VALUES ('a')`);
        started();
        await inside;
        await q.query(`INSERT INTO conn_loss_probe VALUES ('b')`);
      }),
    );
    await running;
    expect(await terminateAll()).to.be.at.least(1);
    await new Promise((r) => setTimeout(r, 300));
    release();
    const err = await first;
    expect(err, 'the write failed').to.be.instanceOf(Error);
    expect(isRetriable(err), `${err?.message} is retriable`).to.equal(true);
    expect((await pool.query('SELECT k FROM conn_loss_probe')).rowCount, 'nothing committed').to.equal(0);
    // the retry: same token, the partition's epoch did not move with the session
    expect(await fence.token('intents', 0)).to.deep.equal(token);
    await withFencedWrite(pool, token, async (q) => {
      await q.query(`INSERT INTO conn_loss_probe VALUES ('a'), ('b')`);
    });
    expect((await pool.query('SELECT k FROM conn_loss_probe ORDER BY k')).rows.map((r) => r.k)).to.deep.equal(
      ['a', 'b'],
    );
  });
});
