/**
 * The one way the pipeline opens a PostgreSQL pool (the state database, Odoo's database), so that a lost connection
 * never ends the process.
 *
 * A PostgreSQL restart, a failover or `pg_terminate_backend` ends every session. node-postgres then:
 * - rejects the query in flight on it (SQLSTATE 57P01 "terminating connection due to administrator command", or
 *   "Connection terminated unexpectedly"): the caller's error, which the error catalogue classifies as retriable
 *   (src/domain/errors.ts, isTransientDatabaseError), so the keyed consumer retries the message after its backoff;
 * - emits 'error' on the pool for an idle client (pg-pool removes it first) and 'error' on a checked-out client
 *   (one held across awaits: a transaction, the relay's session). An 'error' event without a listener is thrown by
 *   Node's EventEmitter and ends the process — so both get one here: the event is logged, the pool opens a new
 *   connection at its next checkout, and a checked-out client's owner sees the failure on its next query (pg-pool
 *   also discards such a client on release: it is no longer queryable).
 */
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { componentLogger, redactString } from '../../core/log';

const log = componentLogger('postgres');

export interface PipelinePoolConfig extends PoolConfig {
  /** shown in pg_stat_activity and in the log lines of this pool (a connection string's own value wins) */
  application_name: string;
}

/** A connection loss, for the log: the server's SQLSTATE and message (never the connection string). */
function describe(err: Error & { code?: string }): { error: string; code?: string } {
  return { error: redactString(err.message), ...(err.code ? { code: err.code } : {}) };
}

export function createPool(config: PipelinePoolConfig): Pool {
  const pool = new Pool(config);
  const name = config.application_name;
  pool.on('error', (err: Error) => {
    log.warn(`postgres connection lost while idle (${name}); the pool opens a new one when needed`, {
      pool: name,
      ...describe(err),
    });
  });
  pool.on('connect', (client: PoolClient) => {
    // Also while checked out, when pg-pool has no listener of its own on the client. The owner's next query fails
    // with the retriable error and its release discards the client; this only keeps the event from being uncaught.
    client.on('error', (err: Error) => {
      if (client.listenerCount('error') > 1) return; // pg-pool's idle listener (or the owner's) reports it
      log.warn(`postgres connection lost while in use (${name}); the work in progress is retried`, {
        pool: name,
        ...describe(err),
      });
    });
  });
  return pool;
}
