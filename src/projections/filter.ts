import { WATCHED_ISP_INFO_TABLES } from './views';

/**
 * The declarative filter: for every captured Odoo table, the columns the pipeline captures (Debezium's
 * `column.include.list`) and, among them, the billing-relevant columns whose change triggers something (the
 * consumer's before/after diff). Anything else (write_date, display_name, computed churn of Odoo's multi-UPDATE
 * transactions) is never captured or never compared, so it cannot cause an OpenCell call.
 */

/** Why a watched column matters (documentation and metrics; the trigger rules live in triggers.ts). */
export type WatchReason =
  | 'termination' // contract_contract.is_terminated (T2)
  | 'iban' // contract_contract.mandate_id (W2, Odoo 12 listener)
  | 'line_end' // contract_line.date_end (T5)
  | 'address' // res_partner address columns (T6)
  | 'identity' // res_partner name / VAT / email / mobile … (new, switchable)
  | 'phone' // ISP info phone_number (T7)
  | 'email'; // contract email relation rows (W1)

export interface TableSpec {
  readonly table: string;
  /** Primary key columns. */
  readonly key: readonly string[];
  /** Every captured column (watched ones included). */
  readonly columns: readonly string[];
  /** Watched column → reason. */
  readonly watched: Readonly<Record<string, WatchReason>>;
}

export const CONTRACT_EMAIL_REL_TABLE = 'contract_contract_res_partner_rel';

export const PARTNER_ADDRESS_COLUMNS = [
  'street',
  'street2',
  'zip',
  'city',
  'state_id',
  'country_id',
] as const;
/** Columns shown on invoices through the Customer payload (name, VAT, email, mobile and what they derive from). */
export const PARTNER_IDENTITY_COLUMNS = [
  'name',
  'firstname',
  'lastname',
  'vat',
  'email',
  'mobile',
  'phone',
] as const;

function spec(table: string, key: string[], data: string[], watched: Record<string, WatchReason>): TableSpec {
  const columns = [...new Set([...key, ...data, ...Object.keys(watched)])];
  return { table, key, columns, watched };
}

const ispInfoSpecs = Object.fromEntries(
  WATCHED_ISP_INFO_TABLES.map((t) => [t, spec(t, ['id'], [], { phone_number: 'phone' })]),
);

export const CAPTURED_TABLES: Readonly<Record<string, TableSpec>> = {
  res_partner: spec(
    'res_partner',
    ['id'],
    ['ref', 'parent_id'],
    Object.fromEntries([
      ...PARTNER_ADDRESS_COLUMNS.map((c) => [c, 'address'] as const),
      ...PARTNER_IDENTITY_COLUMNS.map((c) => [c, 'identity'] as const),
    ]),
  ),
  contract_contract: spec('contract_contract', ['id'], ['code', 'partner_id', 'terminate_date', 'date_end'], {
    is_terminated: 'termination',
    mandate_id: 'iban',
  }),
  contract_line: spec('contract_line', ['id'], ['contract_id', 'product_id', 'date_start', 'is_canceled'], {
    date_end: 'line_end',
  }),
  [CONTRACT_EMAIL_REL_TABLE]: spec(CONTRACT_EMAIL_REL_TABLE, ['contract_contract_id', 'res_partner_id'], [], {
    contract_contract_id: 'email',
    res_partner_id: 'email',
  }),
  ...ispInfoSpecs,
};

/** Debezium `table.include.list` for these tables. */
export function connectorTableIncludeList(schema = 'public'): string {
  return Object.keys(CAPTURED_TABLES)
    .map((t) => `${schema}.${t}`)
    .join(',');
}

/**
 * Debezium `column.include.list` (regular expressions matched against `schema.table.column`; dots escaped).
 * Column names keep their case (e.g. Odoo quotes `block_contract_creation_in_OC`).
 */
export function connectorColumnIncludeList(schema = 'public'): string {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return Object.values(CAPTURED_TABLES)
    .flatMap((s) => s.columns.map((c) => `${esc(schema)}\\.${esc(s.table)}\\.${esc(c)}`))
    .join(',');
}

export type Row = Readonly<Record<string, unknown>>;

/** A decoded Debezium change: rows are plain objects keyed by Odoo column names. */
export interface RowChange {
  table: string;
  op: 'c' | 'u' | 'd' | 'r';
  before: Row | null;
  after: Row | null;
}

function sameValue(a: unknown, b: unknown): boolean {
  const x = a === undefined ? null : a;
  const y = b === undefined ? null : b;
  if (x === y) return true;
  if (typeof x === 'object' && typeof y === 'object' && x !== null && y !== null) {
    return JSON.stringify(x) === JSON.stringify(y);
  }
  return false;
}

/**
 * The watched columns this change touches ("written fields", rebuilt from before/after images):
 * - 'u': watched columns whose value differs. If `before` is missing (REPLICA IDENTITY not FULL) every watched
 *   column present in `after` counts as changed: correctness over call economy; strategies are idempotent.
 * - 'c' / 'r': watched columns with a non-null value in `after`.
 * - 'd': watched columns with a non-null value in `before`.
 * Uncaptured tables give [].
 */
export function changedBillingFields(change: RowChange): string[] {
  const s = CAPTURED_TABLES[change.table];
  if (!s) return [];
  const watched = Object.keys(s.watched);
  const present = (row: Row | null, c: string) => row !== null && row[c] !== null && row[c] !== undefined;
  switch (change.op) {
    case 'c':
    case 'r':
      return watched.filter((c) => present(change.after, c));
    case 'd':
      return watched.filter((c) => present(change.before, c));
    case 'u':
      if (change.after === null) return [];
      if (change.before === null) return watched.filter((c) => change.after !== null && c in change.after);
      return watched.filter((c) => !sameValue(change.before?.[c], change.after?.[c]));
  }
}

/** True when the change can trigger nothing (uncaptured table, or an update of no watched column). */
export function isIrrelevant(change: RowChange): boolean {
  if (!CAPTURED_TABLES[change.table]) return true;
  return change.op === 'u' && changedBillingFields(change).length === 0;
}
