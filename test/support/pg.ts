import { Pool, type PoolClient, type PoolConfig } from 'pg';

/**
 * The tests' PostgreSQL pools. Two defects of a bare `new Pool` crashed a whole CI run (the go-live scenario's
 * `after` hook, "terminating connection due to administrator command", then "done() called multiple times"):
 *   - pg-pool resolves `end()` as soon as it has *asked* each idle client to end, before the server has closed the
 *     sessions; a `DROP DATABASE … WITH (FORCE)` (or `scripts/stack reset`) right after it can still terminate them,
 *     and the FATAL message arrives on a client with no query to fail;
 *   - such an error on an idle client is re-emitted as the pool's 'error' event, which, with no listener, is an
 *     uncaught exception that ends the mocha process.
 * A test pool's `end()` resolves only once every session it had is closed, and a connection's loss is
 * reported on stderr (the test that needs the connection fails on its next query), never thrown. The pipeline's own
 * pools have their listeners in src/adapters/postgres/pool.ts.
 */
export function testPool(config: PoolConfig): Pool {
  const pool = new Pool(config);
  const lost = (when: string) => (err: Error) => {
    if (!pool.ending)
      process.stderr.write(
        `test pool (${config.application_name ?? 'tests'}): a connection ${when} was lost: ${err.message}\n`,
      );
  };
  pool.on('error', lost('while idle'));
  // a checked-out client (a test's `db = await pool.connect()`) has no listener of pg-pool's
  pool.on('connect', (client: PoolClient) => {
    let reported = false; // the FATAL message, then the socket's end: one loss
    client.on('error', (err: Error) => {
      if (client.listenerCount('error') === 1 && !reported) lost('while checked out')(err);
      reported = true;
    });
  });
  const end = pool.end.bind(pool) as () => Promise<void>;
  Object.assign(pool, {
    end: async (): Promise<void> => {
      const closing = closedSessions(pool);
      await end();
      await closing;
    },
  });
  return pool;
}

/** Resolves when every client the pool holds now has closed its connection (pg-pool emits 'remove' then). */
function closedSessions(pool: Pool, ms = 10_000): Promise<void> {
  let open = pool.totalCount;
  if (open === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    pool.on('remove', () => {
      if (--open <= 0) done();
    });
    function done() {
      clearTimeout(timer);
      resolve();
    }
  });
}
