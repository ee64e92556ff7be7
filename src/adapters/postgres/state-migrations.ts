/**
 * The state database's migrations (schemas/state/*.sql): applied in name order, once each, each in one transaction,
 * and recorded in `schema_migrations`. One implementation for the local stack (src/app/pg-setup.ts, as a superuser
 * that then acts as `sync`) and for a production database (`odoo-opencell-sync migrate`, as the owner role of
 * STATE_DATABASE_URL), so both keep the same record (docs/operations.md, "Upgrading a schema").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientBase } from 'pg';
import { packageRoot } from '../../core/package-root';

export interface Migration {
  name: string;
  sql: string;
}

/** The migration files, in the order they apply (the package's schemas/state, also /app/schemas/state in the image). */
export function stateMigrations(dir = join(packageRoot(), 'schemas', 'state')): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(dir, name), 'utf8') }));
}

/** Two processes migrating at once (two operators, a job and a pod) take turns. */
const MIGRATION_LOCK = "hashtext('odoo-opencell-sync:state-migrations')";

/** The migrations not yet recorded in `schema_migrations` (all of them when the table does not exist yet); reads only. */
export async function pendingMigrations(
  c: Pick<ClientBase, 'query'>,
  all: readonly Migration[] = stateMigrations(),
): Promise<Migration[]> {
  const exists = (await c.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`))
    .rows[0].t;
  if (!exists) return [...all];
  const done = new Set(
    (await c.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
  );
  return all.filter((m) => !done.has(m.name));
}

/**
 * Applies the pending migrations, each in its own transaction with its record; returns the names applied. A failing
 * file is rolled back and named in the error; the ones before it stay applied.
 */
export async function applyMigrations(
  c: ClientBase,
  all: readonly Migration[] = stateMigrations(),
  onApply: (m: Migration) => void = () => undefined,
): Promise<string[]> {
  await c.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
  try {
    await c.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied: string[] = [];
    for (const m of await pendingMigrations(c, all)) {
      onApply(m);
      await c.query('BEGIN');
      try {
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations(name) VALUES ($1)', [m.name]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK');
        throw new Error(`schemas/state/${m.name}: ${(e as Error).message}`, { cause: e });
      }
      applied.push(m.name);
    }
    return applied;
  } finally {
    await c.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => undefined);
  }
}
