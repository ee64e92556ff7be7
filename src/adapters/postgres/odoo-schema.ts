import type { Pool } from 'pg';

/**
 * Odoo columns that exist only where an addon is installed (schemas/odoo/manifest.json, `conditional` and the
 * switchboard model). The SQL that reads them asks information_schema once per database handle and caches the
 * answer, so the pipeline works on a real Odoo 16 database without them:
 *
 * - `res_partner."block_contract_creation_in_OC"`: declared by `opencell_somconnexio`, the module this project
 *   replaces; Odoo drops it when that module is uninstalled. Absent, no partner is blocked (docs/behaviour.md W4's
 *   rule then never blocks).
 * - `contract_contract.switchboard_service_contract_info_id` and `switchboard_service_contract_info`
 *   (`switchboard_somconnexio`). Absent, no contract has switchboard info.
 */
export interface OdooOptionalColumns {
  readonly blockContractCreationInOC: boolean;
  readonly switchboardInfo: boolean;
}

type Queryable = Pick<Pool, 'query'>;

const PROBES = [
  ['res_partner', 'block_contract_creation_in_OC'],
  ['contract_contract', 'switchboard_service_contract_info_id'],
  ['switchboard_service_contract_info', 'phone_number'],
] as const;

const cache = new WeakMap<object, Promise<OdooOptionalColumns>>();

async function probe(db: Queryable): Promise<OdooOptionalColumns> {
  const r = await db.query<{ t: string; c: string }>(
    `SELECT table_name::text AS t, column_name::text AS c
       FROM information_schema.columns
      WHERE table_schema = current_schema()
        AND (table_name::text, column_name::text) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [PROBES.map(([t]) => t), PROBES.map(([, c]) => c)],
  );
  const has = (t: string, c: string) => r.rows.some((x) => x.t === t && x.c === c);
  return {
    blockContractCreationInOC: has('res_partner', 'block_contract_creation_in_OC'),
    switchboardInfo:
      has('contract_contract', 'switchboard_service_contract_info_id') &&
      has('switchboard_service_contract_info', 'phone_number'),
  };
}

/** Which optional Odoo columns this database has; asked once per `db` (a failed probe is asked again). */
export function optionalOdooColumns(db: Queryable): Promise<OdooOptionalColumns> {
  let p = cache.get(db);
  if (!p) {
    p = probe(db);
    cache.set(db, p);
    p.catch(() => cache.delete(db));
  }
  return p;
}

/**
 * `res_partner."block_contract_creation_in_OC"` of the partner aliased `alias`, false when the column does not
 * exist in this database.
 */
export function partnerBlockedSql(alias: string, optional: OdooOptionalColumns): string {
  return optional.blockContractCreationInOC
    ? `COALESCE(${alias}."block_contract_creation_in_OC", false)`
    : 'false';
}
