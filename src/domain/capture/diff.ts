import { valuesEqual } from './columns';
import { missingColumnsOf, Row, specOf, TableName } from './tables';

/**
 * The billing-relevant columns of `table` whose decoded values differ between `before` and `after`
 * (exact comparison: decimals numerically — "17.360" equals "17.36" —, translations key by key, dates and
 * timestamps as their ISO strings, booleans with NULL read as false). Key columns and everything outside
 * the registry (write_date, write_uid, display_name…) are never reported.
 *
 * When one side is missing (a create, a delete, or an update without a before-image) every billing column
 * is reported, since nothing can be assumed unchanged. So is a column missing from either image (the event lacked
 * it, `missingColumnsOf`): a trigger that watches it then reads it and fails with `MissingColumnError`.
 */
export function changedBillingFields<T extends TableName>(
  table: T,
  before: Partial<Row<T>> | Record<string, unknown> | null | undefined,
  after: Partial<Row<T>> | Record<string, unknown> | null | undefined,
  /** only these billing columns are compared (the router's watched ones); default: every billing column */
  among?: readonly (keyof Row<T> & string)[],
): (keyof Row<T> & string)[] {
  const spec = specOf(table);
  const cols = among ?? (spec.billing as (keyof Row<T> & string)[]);
  if (!before || !after) return [...cols];
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const mb = missingColumnsOf(before);
  const ma = missingColumnsOf(after);
  return cols.filter(
    (c) => mb.includes(c) || ma.includes(c) || !valuesEqual(spec.columns[c].kind, b[c], a[c]),
  );
}

/**
 * true when at least one of `fields` changed (convenience for trigger rules such as docs/behaviour.md T6's address
 * fields).
 */
export function anyChanged<T extends TableName>(
  table: T,
  before: Partial<Row<T>> | null | undefined,
  after: Partial<Row<T>> | null | undefined,
  fields: readonly (keyof Row<T> & string)[],
): boolean {
  const changed = changedBillingFields(table, before, after);
  return fields.some((f) => changed.includes(f));
}
