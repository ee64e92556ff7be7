import type { Pool } from 'pg';

/**
 * The function the connector's `heartbeat.action.query` calls (connectors/odoo-billing.json, created by
 * src/app/pg-setup.ts and by the DBA in production, README "Database roles"). Without it, or without EXECUTE for the
 * connector's role, Debezium logs an error per heartbeat and goes on streaming, but a read-only incremental snapshot
 * waits for the next Odoo write to release each chunk: on a quiet database it stalls
 * (docs/decisions/0002-snapshot-signals.md). Any role may read the catalog and ask another role's privilege, so the
 * pipeline's read-only Odoo role is enough.
 */
export interface HeartbeatFunctionHealth {
  /** the function's signature, e.g. `public.odoo_opencell_sync_heartbeat()` */
  fn: string;
  present: boolean;
  /** runs as its owner (who may write the signal row), not as the connector role (which may not) */
  securityDefiner: boolean;
  /** the connector's role (`DEBEZIUM_DB_USER`) */
  role: string;
  roleExists: boolean;
  /** the role may EXECUTE the function */
  canExecute: boolean;
}

export async function heartbeatFunctionHealth(
  db: Pick<Pool, 'query'>,
  fn: string,
  role: string,
): Promise<HeartbeatFunctionHealth> {
  const r = await db.query<{ present: boolean; secdef: boolean; role_exists: boolean; can_execute: boolean }>(
    `SELECT p.oid IS NOT NULL AS present,
            coalesce(p.prosecdef, false) AS secdef,
            r.oid IS NOT NULL AS role_exists,
            CASE WHEN p.oid IS NOT NULL AND r.oid IS NOT NULL
                 THEN has_function_privilege(r.oid, p.oid, 'EXECUTE') ELSE false END AS can_execute
       FROM (SELECT 1) one
       LEFT JOIN pg_proc p ON p.oid = to_regprocedure($1)
       LEFT JOIN pg_roles r ON r.rolname = $2`,
    [fn, role],
  );
  const x = r.rows[0];
  return {
    fn,
    present: x.present,
    securityDefiner: x.secdef,
    role,
    roleExists: x.role_exists,
    canExecute: x.can_execute,
  };
}

/** What an operator must fix: the function missing, not SECURITY DEFINER, or not executable by the connector role. */
export function heartbeatWarnings(h: HeartbeatFunctionHealth): string[] {
  const stall = `the connector's heartbeat.action.query fails and incremental snapshots stall on a quiet Odoo database (README "Database roles")`;
  if (!h.present) return [`heartbeat function ${h.fn} is missing: ${stall}`];
  const out: string[] = [];
  if (!h.roleExists)
    out.push(
      `the connector's role ${h.role} (DEBEZIUM_DB_USER) does not exist on the Odoo database server, so the heartbeat function's EXECUTE privilege cannot be checked`,
    );
  else if (!h.canExecute)
    out.push(`the connector's role ${h.role} may not execute heartbeat function ${h.fn}: ${stall}`);
  if (!h.securityDefiner)
    out.push(
      `heartbeat function ${h.fn} is not SECURITY DEFINER: it runs as the connector's role, which may not write the signal table: ${stall}`,
    );
  return out;
}
