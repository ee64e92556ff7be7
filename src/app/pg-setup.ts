/**
 * Prepares PostgreSQL for the pipeline (run by `scripts/stack up`; safe to run again):
 * - roles: `odoo` (owns the Odoo database), `debezium` (LOGIN REPLICATION, SELECT on captured tables only, the
 *   signal table included: the connector's incremental snapshots are read-only),
 *   the pipeline's read-only role named by ODOO_DATABASE_URL (`sync_reader`: SELECT on the captured Odoo tables,
 *   read-only transactions), the `snapshot` signal role named by ODOO_SIGNAL_DATABASE_URL (`sync_ops`: SELECT and
 *   INSERT on the signal table only), each with the URL's password, and `sync` (owns the pipeline's own state
 *   database);
 * - the Odoo database from schemas/odoo/*.sql (only when it is created; a changed schema asks for a reset);
 * - REPLICA IDENTITY FULL on every captured table and the publication Debezium reads; the heartbeat function the
 *   connector calls to keep incremental snapshots going on a quiet database (EXECUTE only);
 * - the state database and its migrations from schemas/state/*.sql.
 * Connects as the superuser given by PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
 */
import { OPENCELL_SETTINGS_FUNCTION, OPENCELL_SETTINGS_KEYS } from '../adapters/postgres/odoo-settings';
import { applyMigrations, stateMigrations } from '../adapters/postgres/state-migrations';
import { Client } from 'pg';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicationTables } from '../domain/capture/tables';
import { SIGNAL_TABLE } from './snapshot';
import { componentLogger } from '../core/log';
import { packageRoot } from '../core/package-root';
import { loadConfig, pgUrlCredentials } from '../core/config';

const log = componentLogger('pg-setup');
const ROOT = packageRoot();

export interface PgSetupOptions {
  adminUrl: string;
  odooDb: string;
  stateDb: string;
  debeziumPassword: string;
  publication: string;
  /** the pipeline's read-only role (user and password of ODOO_DATABASE_URL) */
  reader: { user: string; password: string };
  /** the role `snapshot` inserts its signal with (user and password of ODOO_SIGNAL_DATABASE_URL) */
  signaller: { user: string; password: string };
}

export function defaultPgSetupOptions(env = process.env): PgSetupOptions {
  const config = loadConfig(env, []);
  return {
    adminUrl: env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    odooDb: env.ODOO_DB_NAME ?? 'odoo',
    stateDb: env.STATE_DB_NAME ?? 'odoo_opencell_sync',
    debeziumPassword: env.DEBEZIUM_DB_PASSWORD ?? 'debezium',
    publication: env.DEBEZIUM_PUBLICATION ?? 'odoo_billing_pub',
    // the roles the pipeline connects as are the ones its config names: one place for their names and passwords
    reader: pgUrlCredentials(config.odooDatabaseUrl),
    signaller: pgUrlCredentials(config.odooSignalDatabaseUrl),
  };
}

function sqlFiles(dir: string): { name: string; sql: string }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(dir, name), 'utf8') }));
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  // a session ended by the server between two statements fails the next one; the event itself must not be uncaught
  c.on('error', (e: Error) => log.warn(`pg-setup: connection lost: ${e.message}`));
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function dbUrl(adminUrl: string, db: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

async function ensureRole(c: Client, name: string, attrs: string, password?: string): Promise<void> {
  const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  const pw = password === undefined ? '' : ` PASSWORD ${literal(password)}`;
  await c.query(`${exists.rowCount ? 'ALTER' : 'CREATE'} ROLE ${ident(name)} WITH ${attrs}${pw}`);
}

async function ensureDatabase(c: Client, name: string, owner: string): Promise<boolean> {
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount) return false;
  await c.query(`CREATE DATABASE ${ident(name)} OWNER ${ident(owner)} ENCODING 'UTF8' TEMPLATE template0`);
  return true;
}

export function odooSchemaHash(): string {
  const h = createHash('sha256');
  for (const f of sqlFiles(join(ROOT, 'schemas', 'odoo'))) h.update(f.name).update(f.sql);
  return h.digest('hex').slice(0, 16);
}

export async function setupOdooDatabase(opts: PgSetupOptions): Promise<void> {
  const hash = odooSchemaHash();
  const created = await withClient(opts.adminUrl, async (c) => {
    await ensureRole(c, 'odoo', 'LOGIN');
    await ensureRole(c, 'debezium', 'LOGIN REPLICATION', opts.debeziumPassword);
    return ensureDatabase(c, opts.odooDb, 'odoo');
  });
  await withClient(dbUrl(opts.adminUrl, opts.odooDb), async (c) => {
    if (created) {
      log.info(`creating the Odoo schema in database ${opts.odooDb}`);
      await c.query('BEGIN');
      await c.query('SET ROLE odoo');
      for (const f of sqlFiles(join(ROOT, 'schemas', 'odoo'))) {
        try {
          await c.query(f.sql);
        } catch (e) {
          await c.query('ROLLBACK');
          throw new Error(`schemas/odoo/${f.name}: ${(e as Error).message}`, { cause: e });
        }
      }
      await c.query('RESET ROLE');
      await c.query(`COMMENT ON DATABASE ${ident(opts.odooDb)} IS ${literal(`odoo-schema:${hash}`)}`);
      await c.query('COMMIT');
    } else {
      const r = await c.query('SELECT shobj_description(oid, $2) AS d FROM pg_database WHERE datname = $1', [
        opts.odooDb,
        'pg_database',
      ]);
      const current = String(r.rows[0]?.d ?? '');
      if (current !== `odoo-schema:${hash}`) {
        log.warn(
          `database ${opts.odooDb} was created from another version of schemas/odoo (${current || 'unknown'}); ` +
            'run `scripts/stack reset` then `scripts/stack up` to recreate it',
        );
      }
    }
    // CDC prerequisites: full before-images, the publication, least-privilege grants for Debezium.
    const tables = publicationTables().map((q) => q.split('.') as [string, string]);
    const missing = await c.query<{ t: string }>(
      `SELECT t FROM unnest($1::text[]) t WHERE to_regclass(t) IS NULL`,
      [publicationTables()],
    );
    if (missing.rowCount)
      throw new Error(
        `captured tables missing from the Odoo schema: ${missing.rows.map((r) => r.t).join(', ')}`,
      );
    const qualified = tables.map(([schema, table]) => `${ident(schema)}.${ident(table)}`).join(', ');
    for (const [schema, table] of tables)
      await c.query(`ALTER TABLE ${ident(schema)}.${ident(table)} REPLICA IDENTITY FULL`);
    const pub = await c.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [opts.publication]);
    await c.query(
      pub.rowCount
        ? `ALTER PUBLICATION ${ident(opts.publication)} SET TABLE ${qualified}`
        : `CREATE PUBLICATION ${ident(opts.publication)} FOR TABLE ${qualified}`,
    );
    await c.query(`GRANT CONNECT ON DATABASE ${ident(opts.odooDb)} TO debezium`);
    await c.query('GRANT USAGE ON SCHEMA public TO debezium');
    await c.query(`GRANT SELECT ON ${qualified} TO debezium`);
    // Read-only: the connector runs with read.only=true (watermarks from pg_current_snapshot(), no writes to the
    // signal table; docs/decisions/0002-snapshot-signals.md). Take back any write grant given by hand.
    await c.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ${qualified} FROM debezium`);
    await setupSnapshotHeartbeat(c);
    await setupOpenCellSettingsFunction(c);
  });
  await setupPipelineRoles(opts);
}

/**
 * The connector's heartbeat.action.query (connectors/odoo-billing.json) calls this function every heartbeat. It
 * rewrites one row of the signal table, a streamed change with a transaction id newer than any chunk's high
 * watermark: Debezium's read-only incremental snapshot releases a buffered chunk only on such an event, so without it
 * a snapshot waits for the next Odoo write whenever another transaction was open on the server during a chunk
 * (docs/decisions/0002-snapshot-signals.md, "Closing the chunk window on a quiet database"). The function runs as the
 * signal table's owner (SECURITY DEFINER) and touches that one row only: the connector role gets EXECUTE on it and
 * keeps no write privilege on any table. The row is a `log` signal, so re-creating it after the signal rows were
 * deleted only makes Debezium log one line; updates of signal rows are no signals.
 */
export const SNAPSHOT_HEARTBEAT_FUNCTION = 'public.odoo_opencell_sync_heartbeat';
export const SNAPSHOT_HEARTBEAT_SIGNAL_ID = 'odoo-opencell-sync-heartbeat';

async function setupSnapshotHeartbeat(c: Client): Promise<void> {
  const owner = await c.query<{ o: string }>(
    `SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = to_regclass($1)`,
    [SIGNAL_TABLE],
  );
  const fn = `${SNAPSHOT_HEARTBEAT_FUNCTION}()`;
  await c.query(`CREATE OR REPLACE FUNCTION ${fn} RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$
      INSERT INTO ${SIGNAL_TABLE} (id, type, data)
      VALUES ('${SNAPSHOT_HEARTBEAT_SIGNAL_ID}', 'log', json_build_object('message', 'odoo-opencell-sync heartbeat', 'at', now())::text)
      ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data
    $$`);
  await c.query(`ALTER FUNCTION ${fn} OWNER TO ${ident(String(owner.rows[0]?.o))}`);
  await c.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
  await c.query(`GRANT EXECUTE ON FUNCTION ${fn} TO debezium`);
}

/**
 * The original module's two settings in Odoo's ir.config_parameter, read by the pipeline at start when
 * OPENCELL_SELLER / OPENCELL_CUSTOMER_CATEGORY are unset (src/adapters/postgres/odoo-settings.ts). The table also
 * holds Odoo's own secrets (database.secret), so the read-only role gets no SELECT on it: this function, running as
 * the table's owner, returns those two keys only, and the role may only EXECUTE it.
 */
export async function setupOpenCellSettingsFunction(c: Client): Promise<void> {
  const owner = await c.query<{ o: string }>(
    `SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = to_regclass('public.ir_config_parameter')`,
  );
  if (!owner.rows[0]) return; // not an Odoo database (no base module): the pipeline then keeps SC / CLIENT
  const fn = `${OPENCELL_SETTINGS_FUNCTION}()`;
  await c.query(`CREATE OR REPLACE FUNCTION ${fn} RETURNS TABLE (key varchar, value text) LANGUAGE sql STABLE
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
      SELECT p.key, p.value FROM public.ir_config_parameter p
       WHERE p.key IN (${OPENCELL_SETTINGS_KEYS.map((k) => `'${k}'`).join(', ')})
    $$`);
  await c.query(`ALTER FUNCTION ${fn} OWNER TO ${ident(String(owner.rows[0].o))}`);
  await c.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
}

/** The owner and the superuser are no read-only role: granting to them would change nothing and prove nothing. */
const PRIVILEGED = new Set(['odoo', 'postgres', 'debezium', 'sync']);

/**
 * The pipeline's roles on the Odoo database (README "Database roles"): the reader may only SELECT the captured Odoo
 * tables (all the views and the router read, src/adapters/postgres/odoo-views.ts) and its sessions are read-only;
 * the signaller may only read and insert `snapshot`'s signal rows. Any other grant is taken back.
 */
export async function setupPipelineRoles(opts: PgSetupOptions): Promise<void> {
  const odooTables = publicationTables().filter((q) => q !== SIGNAL_TABLE);
  const q = (list: string[]) => list.map((x) => x.split('.').map(ident).join('.')).join(', ');
  for (const [role, what] of [
    [opts.reader, 'ODOO_DATABASE_URL'],
    [opts.signaller, 'ODOO_SIGNAL_DATABASE_URL'],
  ] as const) {
    if (!role.user || PRIVILEGED.has(role.user))
      throw new Error(`${what} must name a role of the pipeline's own, not "${role.user || '(none)'}"`);
    if (!role.password) throw new Error(`${what} must carry the role's password (roles have passwords)`);
  }
  await withClient(opts.adminUrl, async (c) => {
    await ensureRole(
      c,
      opts.reader.user,
      'LOGIN NOREPLICATION NOCREATEDB NOCREATEROLE',
      opts.reader.password,
    );
    await ensureRole(
      c,
      opts.signaller.user,
      'LOGIN NOREPLICATION NOCREATEDB NOCREATEROLE',
      opts.signaller.password,
    );
  });
  await withClient(dbUrl(opts.adminUrl, opts.odooDb), async (c) => {
    const all = q(publicationTables());
    for (const role of [opts.reader.user, opts.signaller.user]) {
      await c.query(`GRANT CONNECT ON DATABASE ${ident(opts.odooDb)} TO ${ident(role)}`);
      await c.query(`GRANT USAGE ON SCHEMA public TO ${ident(role)}`);
      await c.query(`REVOKE ALL ON ${all} FROM ${ident(role)}`);
    }
    await c.query(`GRANT SELECT ON ${q(odooTables)} TO ${ident(opts.reader.user)}`);
    if ((await c.query(`SELECT to_regprocedure($1) AS f`, [`${OPENCELL_SETTINGS_FUNCTION}()`])).rows[0].f)
      await c.query(
        `GRANT EXECUTE ON FUNCTION ${OPENCELL_SETTINGS_FUNCTION}() TO ${ident(opts.reader.user)}`,
      );
    await c.query(
      `ALTER ROLE ${ident(opts.reader.user)} IN DATABASE ${ident(opts.odooDb)} SET default_transaction_read_only = on`,
    );
    await c.query(`GRANT SELECT, INSERT ON ${q([SIGNAL_TABLE])} TO ${ident(opts.signaller.user)}`);
  });
}

export async function setupStateDatabase(opts: PgSetupOptions): Promise<void> {
  await withClient(opts.adminUrl, async (c) => {
    await ensureRole(c, 'sync', 'LOGIN');
    await ensureDatabase(c, opts.stateDb, 'sync');
  });
  await withClient(dbUrl(opts.adminUrl, opts.stateDb), async (c) => {
    await c.query('SET ROLE sync');
    await applyMigrations(c, stateMigrations(join(ROOT, 'schemas', 'state')), (m) =>
      log.info(`state database: applying ${m.name}`),
    );
  });
}

async function main(): Promise<void> {
  const opts = defaultPgSetupOptions();
  await setupOdooDatabase(opts);
  await setupStateDatabase(opts);
  log.info(`PostgreSQL ready: ${opts.odooDb} (publication ${opts.publication}), ${opts.stateDb}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`[pg-setup] ${(e as Error).message}`);
    process.exit(1);
  });
}
