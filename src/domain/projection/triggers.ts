import type { RowChange, RowChangeOf } from '../capture/envelope';
import type { Row } from '../capture/tables';
import {
  CONTRACT_EMAIL_REL_TABLE,
  PARTNER_ADDRESS_COLUMNS,
  PARTNER_IDENTITY_COLUMNS,
  changedWatchedFields,
  keyChanged,
} from './filter';
import { DEFAULT_TECHNOLOGY_SERVICE_CATEGORIES, productKind } from './products';
import { WATCHED_ISP_INFO_TABLES, toIsoDate } from './views';
import type { IsoDate, ProductView, WatchedIspInfoTable } from './views';

/**
 * Trigger detection: a decoded change → the list of intents (what must happen in OpenCell), per T1–T7 and W1–W2
 * of the reference plus the new rules. Pure: the facts that are not in the row (the line's product and
 * category, whether a partner has contracts) come from a context the runtime fills from Odoo.
 *
 * Decisions where the original is silent (see also the module docs):
 * - 'r' (snapshot read) is interpreted like 'c' (a diff from nothing) and every intent is flagged
 *   `snapshot: true`: the runtime applies such intents only when its ledger has no record of them
 *   (reconciliation), and every strategy skips what OpenCell already holds.
 * - 'c' of a contract already terminated also yields its termination; 'c' of a service line that already has
 *   `date_end` also yields its termination (the line "got" an end date).
 * - 'd' (row delete) and `active` true→false (archive) trigger nothing on any table: the original had no unlink
 *   handler, contract termination is `is_terminated`, a line's end is `date_end`, and `contract_line.active` is a
 *   related copy of the contract's. Relation-table deletes are the exception (an email removed from a contract).
 * - `update_customer` also fires for name / firstname / lastname / VAT / email / mobile / phone changes when
 *   `syncPartnerIdentity` is on (the original only reacted to the address).
 * - A line's `date_end` set or changed → terminate_service (carrying the new date); cleared → nothing. Only
 *   lines whose product is a service (a one-shot or other product has no service instance to terminate).
 */

export type Intent =
  | { kind: 'create_subscription'; contractId: number; snapshot?: true }
  | { kind: 'terminate_subscription'; contractId: number; date: IsoDate | null; snapshot?: true }
  | {
      kind: 'activate_service';
      contractId: number;
      lineId: number;
      productId: number;
      productCode: string | null;
      snapshot?: true;
    }
  | {
      kind: 'apply_one_shot';
      contractId: number;
      lineId: number;
      productId: number;
      productCode: string | null;
      snapshot?: true;
    }
  | {
      kind: 'terminate_service';
      contractId: number;
      lineId: number;
      productId: number;
      productCode: string | null;
      date: IsoDate;
      snapshot?: true;
    }
  | { kind: 'update_customer'; partnerId: number; fields: string[] }
  /** no longer routed (update_customer with address fields does it); still handled for intents already queued */
  | { kind: 'update_accounts_address'; partnerId: number }
  | {
      kind: 'update_phone_number';
      infoTable: WatchedIspInfoTable;
      infoId: number;
      phone: string;
      previousPhone: string | null;
    }
  | { kind: 'update_subscription'; contractId: number; field: 'email' | 'iban' };

export type IntentKind = Intent['kind'];

export interface TriggerContext {
  /** The `SYNC_PARTNER_IDENTITY` switch (Config.syncPartnerIdentity). */
  syncPartnerIdentity: boolean;
  /** The product of a contract line with its category; needed for contract_line events. */
  product?: (productId: number) => ProductView | undefined;
  /** `service.technology.service_product_category_id` XML ids; defaults to the known tariff categories. */
  technologyServiceCategories?: readonly string[];
  /** T6's condition: the partner has at least one contract. Needed for res_partner updates. */
  partnerHasContracts?: (partnerId: number) => boolean;
}

type ChangeOf<T extends RowChange['table']> = RowChangeOf<T>;

function lineProduct(
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

function contractIntents(change: ChangeOf<'contract_contract'>, fields: readonly string[]): Intent[] {
  const after = change.after;
  if (after === null || change.op === 'd') return [];
  const contractId = after.id;
  const out: Intent[] = [];
  if (change.op === 'c' || change.op === 'r') {
    out.push({ kind: 'create_subscription', contractId });
    if (after.is_terminated) {
      out.push({ kind: 'terminate_subscription', contractId, date: toIsoDate(after.terminate_date) });
    }
    return out;
  }
  // 'u'
  if (fields.includes('is_terminated') && after.is_terminated) {
    out.push({ kind: 'terminate_subscription', contractId, date: toIsoDate(after.terminate_date) });
  }
  if (fields.includes('mandate_id') && after.mandate_id !== null && !after.is_terminated) {
    out.push({ kind: 'update_subscription', contractId, field: 'iban' });
  }
  return out;
}

function lineIntents(
  change: ChangeOf<'contract_line'>,
  fields: readonly string[],
  ctx: TriggerContext,
): Intent[] {
  const after = change.after;
  if (after === null || change.op === 'd') return [];
  const lineId = after.id;
  const contractId = after.contract_id;
  const dateEnd = toIsoDate(after.date_end);
  if (change.op === 'c' || change.op === 'r') {
    const resolved = lineProduct(after, ctx);
    if (resolved === null) return [];
    const { product, kind } = resolved;
    const base = { contractId, lineId, productId: product.id, productCode: product.defaultCode };
    if (kind === 'one_shot') return [{ kind: 'apply_one_shot', ...base }];
    if (kind === 'service') {
      const out: Intent[] = [{ kind: 'activate_service', ...base }];
      if (dateEnd !== null) out.push({ kind: 'terminate_service', ...base, date: dateEnd });
      return out;
    }
    return [];
  }
  if (fields.includes('date_end') && dateEnd !== null) {
    const resolved = lineProduct(after, ctx);
    if (resolved === null || resolved.kind !== 'service') return [];
    const { product } = resolved;
    return [
      {
        kind: 'terminate_service',
        contractId,
        lineId,
        productId: product.id,
        productCode: product.defaultCode,
        date: dateEnd,
      },
    ];
  }
  return [];
}

function partnerIntents(
  change: ChangeOf<'res_partner'>,
  fields: readonly string[],
  ctx: TriggerContext,
): Intent[] {
  if (change.op !== 'u' || change.after === null) return [];
  const address = fields.filter((f) => (PARTNER_ADDRESS_COLUMNS as readonly string[]).includes(f));
  const identity = ctx.syncPartnerIdentity
    ? fields.filter((f) => (PARTNER_IDENTITY_COLUMNS as readonly string[]).includes(f))
    : [];
  if (address.length === 0 && identity.length === 0) return [];
  const partnerId = change.after.id;
  if (!ctx.partnerHasContracts)
    throw new Error('TriggerContext.partnerHasContracts is required for res_partner changes');
  if (!ctx.partnerHasContracts(partnerId)) return [];
  // One intent: with address fields, the projector also updates the customer accounts' address (T6b) from the
  // same reads (one customer GET, one ledger write), after the customer itself, as the original's two jobs did.
  return [{ kind: 'update_customer', partnerId, fields: [...address, ...identity] }];
}

function infoIntents(change: ChangeOf<WatchedIspInfoTable>, fields: readonly string[]): Intent[] {
  if (change.op !== 'u' || change.after === null || !fields.includes('phone_number')) return [];
  const phone = change.after.phone_number;
  if (phone === '') return [];
  const previous = change.before?.phone_number;
  return [
    {
      kind: 'update_phone_number',
      infoTable: change.table,
      infoId: change.after.id,
      phone,
      previousPhone: previous === undefined || previous === '' ? null : previous,
    },
  ];
}

function emailRelIntents(change: ChangeOf<typeof CONTRACT_EMAIL_REL_TABLE>): Intent[] {
  if (change.op === 'r') return []; // the contract's own snapshot carries its emails
  // A Many2many row has only key columns: an update that keeps them changes nothing.
  if (change.op === 'u' && !keyChanged(change)) return [];
  const ids = new Set<number>();
  for (const row of [change.before, change.after]) if (row !== null) ids.add(row.contract_contract_id);
  return [...ids].map((contractId) => ({ kind: 'update_subscription', contractId, field: 'email' }) as const);
}

const isWatchedInfoChange = (change: RowChange): change is ChangeOf<WatchedIspInfoTable> =>
  (WATCHED_ISP_INFO_TABLES as readonly string[]).includes(change.table);

/**
 * The intents a decoded change (capture's `decodeChange`: ISO dates, decimal strings, translation objects)
 * triggers, in the order they must be applied. `fields` defaults to `changedWatchedFields(change)`: capture's
 * `changedBillingFields` restricted to the watched columns of filter.ts.
 */
export function detectIntents(
  change: RowChange,
  ctx: TriggerContext,
  fields: readonly string[] = changedWatchedFields(change),
): Intent[] {
  let intents: Intent[];
  if (change.table === 'contract_contract') intents = contractIntents(change, fields);
  else if (change.table === 'contract_line') intents = lineIntents(change, fields, ctx);
  else if (change.table === 'res_partner') intents = partnerIntents(change, fields, ctx);
  else if (change.table === CONTRACT_EMAIL_REL_TABLE) intents = emailRelIntents(change);
  else if (isWatchedInfoChange(change)) intents = infoIntents(change, fields);
  else intents = [];
  if (change.op === 'r') {
    return intents.map((i) =>
      'contractId' in i && i.kind !== 'update_subscription' ? { ...i, snapshot: true as const } : i,
    );
  }
  return intents;
}

/**
 * The key that serialises intents (per-key queues / re-keyed topic): everything about one contract in one
 * queue, partner-level updates in the partner's queue, phone changes in the info record's queue.
 */
export function orderingKey(intent: Intent): string {
  switch (intent.kind) {
    case 'update_customer':
    case 'update_accounts_address':
      return `partner:${intent.partnerId}`;
    case 'update_phone_number':
      return `info:${intent.infoTable}:${intent.infoId}`;
    default:
      return `contract:${intent.contractId}`;
  }
}

/**
 * For intents that must happen at most once per Odoo record (the ledger's dedup key), the key; null for
 * updates, which are applied every time (their strategies skip what OpenCell already holds).
 */
export function onceKey(intent: Intent): string | null {
  switch (intent.kind) {
    case 'create_subscription':
      return `contract:${intent.contractId}:create`;
    case 'terminate_subscription':
      return `contract:${intent.contractId}:terminate`;
    case 'activate_service':
      return `line:${intent.lineId}:activate`;
    case 'apply_one_shot':
      return `line:${intent.lineId}:one_shot`;
    case 'terminate_service':
      return `line:${intent.lineId}:terminate`;
    default:
      return null;
  }
}
