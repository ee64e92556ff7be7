/**
 * Helpers the kinds' triggers share (pure): typed access to one table's change, and a contract line's product with
 * its kind (service / one-shot) from the trigger context.
 */
import type { RowChange, RowChangeOf } from '../capture/envelope';
import type { Row } from '../capture/tables';
import { DEFAULT_TECHNOLOGY_SERVICE_CATEGORIES, productKind } from '../projection/products';
import { toIsoDate, type IsoDate, type ProductView } from '../projection/views';
import type { TriggerContext } from './kind';

export type ChangeOf<T extends RowChange['table']> = RowChangeOf<T>;

export function isChangeOf<T extends RowChange['table']>(
  change: RowChange,
  table: T,
): change is Extract<RowChange, { table: T }> {
  return change.table === table;
}

export function lineProduct(
  row: Row<'contract_line'>,
  ctx: TriggerContext,
): { product: ProductView; kind: ReturnType<typeof productKind> } | null {
  // A line without a product (a section / note line) has nothing to send.
  if (row.product_id === null) return null;
  if (!ctx.product) throw new Error('TriggerContext.product is required for contract_line changes');
  const product = ctx.product(row.product_id);
  if (!product) throw new Error(`product ${row.product_id} of contract line ${row.id} was not provided`);
  return {
    product,
    kind: productKind(product, ctx.technologyServiceCategories ?? DEFAULT_TECHNOLOGY_SERVICE_CATEGORIES),
  };
}

/** A contract line created (or read by a snapshot) with a product of `kind`: the fields its line intents carry. */
export function createdLineOfKind(
  change: RowChange,
  ctx: TriggerContext,
  kind: 'service' | 'one_shot',
): {
  contractId: number;
  lineId: number;
  productId: number;
  productCode: string | null;
  dateEnd: IsoDate | null;
} | null {
  if (!isChangeOf(change, 'contract_line')) return null;
  const after = change.after;
  if (after === null || (change.op !== 'c' && change.op !== 'r')) return null;
  const resolved = lineProduct(after, ctx);
  if (resolved === null || resolved.kind !== kind) return null;
  return {
    contractId: after.contract_id,
    lineId: after.id,
    productId: resolved.product.id,
    productCode: resolved.product.defaultCode,
    dateEnd: toIsoDate(after.date_end),
  };
}
