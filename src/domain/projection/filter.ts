import { changedBillingFields } from '../capture/diff';
import { parseChangeValue, peekOp, tableOfTopic, type RowChange } from '../capture/envelope';
import { TABLES, specOf } from '../capture/tables';
import type { Row, TableName } from '../capture/tables';
import { WATCHED_ISP_INFO_TABLES } from './views';

/**
 * What each captured change can trigger. The captured tables and columns themselves (Debezium's include lists,
 * the row codecs, the billing columns compared by `changedBillingFields`) live in ONE place:
 * src/domain/capture/tables.ts. This module only says, per table, which of those billing columns are *watched* — a
 * change of them can trigger an intent (triggers.ts) — and why. A unit test checks that every watched column is
 * a billing column of the capture registry.
 *
 * Anything else (write_date, display_name, computed churn of Odoo's multi-UPDATE transactions) is never captured
 * or never compared, so it cannot cause an OpenCell call.
 */

/** Why a watched column matters (documentation and metrics; the trigger rules live in triggers.ts). */
export type WatchReason =
  | 'termination' // contract_contract.is_terminated (docs/behaviour.md T2)
  | 'iban' // contract_contract.mandate_id (docs/behaviour.md W2, Odoo 12 listener)
  | 'unsynced' // contract_contract.partner_id / active: no listener in the original, reported (unsynced_change)
  | 'creation' // contract / contract_line created (docs/behaviour.md T1, T3, T4): the whole row, not a column
  | 'line_end' // contract_line.date_end (docs/behaviour.md T5)
  | 'line_write' // other contract_line columns a write changes: T5 fires on any write of a line that has date_end
  | 'address' // res_partner address columns (docs/behaviour.md T6)
  | 'identity' // res_partner name / VAT / email / mobile … (new, switchable)
  | 'phone' // ISP info phone_number (docs/behaviour.md T7)
  | 'email'; // contract email relation rows (docs/behaviour.md W1)

/** Watched columns of one table: column → reason. Columns are typed against the capture registry's rows. */
export type WatchedColumns<T extends TableName> = Readonly<
  Partial<Record<keyof Row<T> & string, WatchReason>>
>;

export type WatchSpec = { readonly [T in TableName]?: WatchedColumns<T> };

export const CONTRACT_EMAIL_REL_TABLE = 'contract_contract_res_partner_rel' satisfies TableName;

export const PARTNER_ADDRESS_COLUMNS = [
  'street',
  'street2',
  'zip',
  'city',
  'state_id',
  'country_id',
] as const satisfies readonly (keyof Row<'res_partner'>)[];

/** Columns shown on invoices through the Customer payload (name, VAT, email, mobile and what they derive from). */
export const PARTNER_IDENTITY_COLUMNS = [
  'name',
  'firstname',
  'lastname',
  'vat',
  'email',
  'mobile',
  'phone',
] as const satisfies readonly (keyof Row<'res_partner'>)[];

const phoneWatch: WatchedColumns<'mobile_service_contract_info'> = { phone_number: 'phone' };

/** The watched columns per table (a subset of each table's billing columns in src/domain/capture/tables.ts). */
export const WATCHED: WatchSpec = {
  res_partner: Object.fromEntries([
    ...PARTNER_ADDRESS_COLUMNS.map((c) => [c, 'address'] as const),
    ...PARTNER_IDENTITY_COLUMNS.map((c) => [c, 'identity'] as const),
  ]) as WatchedColumns<'res_partner'>,
  contract_contract: {
    is_terminated: 'termination',
    mandate_id: 'iban',
    partner_id: 'unsynced',
    active: 'unsynced',
  },
  // docs/behaviour.md T5 reacts to any write of a line that has an end date: every captured column a write() sets
  // (not `active`, a stored related field Odoo recomputes without a write, hence without the original's listener).
  contract_line: {
    date_end: 'line_end',
    contract_id: 'line_write',
    product_id: 'line_write',
    name: 'line_write',
    quantity: 'line_write',
    date_start: 'line_write',
    is_canceled: 'line_write',
    automatic_price: 'line_write',
    specific_price: 'line_write',
  },
  ...(Object.fromEntries(WATCHED_ISP_INFO_TABLES.map((t) => [t, phoneWatch])) as {
    [T in (typeof WATCHED_ISP_INFO_TABLES)[number]]: WatchedColumns<T>;
  }),
};

/**
 * Tables whose row creations (and, for the relation, deletions) trigger intents on their own, whatever the columns:
 * a contract (docs/behaviour.md T1), a contract line (T3/T4), a contract email relation row (W1, a Many2many row
 * has only key columns).
 */
export const ROW_TRIGGER_TABLES: Readonly<Partial<Record<TableName, WatchReason>>> = {
  contract_contract: 'creation',
  contract_line: 'creation',
  [CONTRACT_EMAIL_REL_TABLE]: 'email',
};

/**
 * Whether a change of this op on this table can trigger anything, known from the op alone: on a table that is not a
 * row-trigger table, only an update can (its watched columns are triggers of writes: docs/behaviour.md T5–T7; a
 * creation, a snapshot read or a delete of a partner or an ISP info record triggers nothing — a customer is created
 * with its first contract, T1). A unit test runs every kind's trigger over such changes. Truncates, messages and
 * unknown ops are never decided here (the full decoder judges them).
 */
export function opMayTrigger(table: TableName, op: string): boolean {
  if (op !== 'c' && op !== 'r' && op !== 'd') return true;
  return ROW_TRIGGER_TABLES[table] !== undefined;
}

/**
 * The router's first check, on the record's bytes before any parsing: true when the change certainly triggers
 * nothing — a table nothing watches, or an op that cannot trigger on its table (opMayTrigger; the op read by
 * capture's `peekOp`). false means "parse it and look" (rawIrrelevant, then the full decoder).
 */
export function bytesIrrelevant(table: string, value: Buffer): boolean {
  if (!(table in TABLES)) return false;
  const t = table as TableName;
  if (ROW_TRIGGER_TABLES[t] === undefined && watchedColumns(t).length === 0) return true;
  const op = peekOp(value);
  return op !== undefined && !opMayTrigger(t, op);
}

/** The watched columns of each table, listed once (the router asks for every change it reads). */
const WATCHED_COLUMNS = new Map<string, readonly string[]>(
  (Object.keys(TABLES) as TableName[]).map((t) => [t, Object.freeze(Object.keys(WATCHED[t] ?? {}))]),
);

/** The watched columns of a table (empty for a table nothing watches). */
export function watchedColumns(table: TableName): readonly string[] {
  return WATCHED_COLUMNS.get(table) ?? [];
}

/** Every table whose changes can trigger something (watched columns or row triggers). */
export function triggeringTables(): TableName[] {
  return (Object.keys(TABLES) as TableName[]).filter(
    (t) => watchedColumns(t).length > 0 || ROW_TRIGGER_TABLES[t] !== undefined,
  );
}

/**
 * The watched columns this change touches ("written fields", rebuilt from the before/after images): capture's
 * `changedBillingFields` restricted to the table's watched columns. A create, snapshot read or delete (one image
 * missing), and an update without a before-image (REPLICA IDENTITY not FULL), report every watched column:
 * correctness over call economy; strategies are idempotent.
 */
export function changedWatchedFields(change: RowChange): string[] {
  const watched = WATCHED_BILLING.get(change.table) ?? [];
  if (watched.length === 0) return [];
  return changedBillingFields(change.table, change.before, change.after, watched as never);
}

/** The watched columns of each table that are billing columns (all of them: key columns are never watched). */
const WATCHED_BILLING = new Map<string, readonly string[]>(
  (Object.keys(TABLES) as TableName[]).map((t) => {
    const billing: readonly string[] = specOf(t).billing;
    return [t, Object.freeze(watchedColumns(t).filter((c) => billing.includes(c)))];
  }),
);

/** true when the key columns of the before and after images differ (a relation row "moved"). */
export function keyChanged(change: RowChange): boolean {
  if (change.before === null || change.after === null) return true;
  const b = change.before as Readonly<Record<string, unknown>>;
  const a = change.after as Readonly<Record<string, unknown>>;
  return specOf(change.table).key.some((k) => b[k] !== a[k]);
}

/**
 * True when the change can trigger nothing: a table nothing watches, or an update of no watched column (for a
 * relation table: an update that leaves its key columns as they were).
 */
export function isIrrelevant(
  change: RowChange,
  /** the change's changedWatchedFields, when the caller has them already */
  fields?: readonly string[],
): boolean {
  const rowTrigger = ROW_TRIGGER_TABLES[change.table] !== undefined;
  if (!rowTrigger && watchedColumns(change.table).length === 0) return true;
  if (change.op !== 'u') return !opMayTrigger(change.table, change.op);
  if (change.table === CONTRACT_EMAIL_REL_TABLE) return !keyChanged(change);
  return (fields ?? changedWatchedFields(change)).length === 0;
}

/**
 * Fast path on the raw (parsed, not yet decoded) Debezium envelope: true when the change certainly triggers
 * nothing, so the router can skip decoding its rows. Certain means: a table nothing watches, or an update whose
 * watched columns are identical in the raw before and after images (raw-equal implies decoded-equal; a raw
 * difference such as "17.36" vs "17.360" falls through to the exact decoded comparison). Anything unexpected
 * (missing images, truncates and other ops, a relation table) returns false, and the full decoder judges it —
 * including a malformed event, which it reports with topic, offset and field. A creation, snapshot read or delete
 * that cannot trigger on its table (opMayTrigger) is irrelevant too.
 */
export function rawIrrelevant(table: string, raw: unknown): boolean {
  if (!(table in TABLES)) return false;
  const t = table as TableName;
  const rowTrigger = ROW_TRIGGER_TABLES[t] !== undefined;
  const watched = watchedColumns(t);
  if (!rowTrigger && watched.length === 0) return true;
  if (rowTrigger && t === CONTRACT_EMAIL_REL_TABLE) return false;
  if (typeof raw !== 'object' || raw === null) return false;
  const env = raw as { op?: unknown; before?: unknown; after?: unknown };
  if (env.op !== 'u') return typeof env.op === 'string' && !opMayTrigger(t, env.op);
  const b = env.before as Record<string, unknown> | null | undefined;
  const a = env.after as Record<string, unknown> | null | undefined;
  if (typeof b !== 'object' || b === null || typeof a !== 'object' || a === null) return false;
  for (const c of watched) {
    if (!(c in b) || !(c in a)) return false;
    const x = b[c];
    const y = a[c];
    if (
      x !== y &&
      !(typeof x === 'object' && typeof y === 'object' && JSON.stringify(x) === JSON.stringify(y))
    )
      return false;
  }
  return true;
}

/**
 * The router's checks before the typed decode, in order: the record's bytes (bytesIrrelevant), then the parsed
 * envelope (rawIrrelevant). null when the change certainly triggers nothing; else its parsed value (null for a
 * tombstone), for decodeParsedChange. A value that is not JSON throws capture's MalformedEventError.
 */
export function parseUnlessIrrelevant(
  topic: string,
  partition: number,
  offset: string,
  value: Buffer | null,
): { parsed: unknown } | null {
  if (value === null || value.length === 0) return { parsed: null };
  const table = tableOfTopic(topic);
  if (bytesIrrelevant(table, value)) return null;
  const parsed = parseChangeValue(topic, partition, offset, value);
  return rawIrrelevant(table, parsed) ? null : { parsed };
}
