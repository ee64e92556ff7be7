/**
 * The router: Debezium change events → intents, re-keyed by customer (`partner:<id>`) onto the intents topic.
 *
 * It decodes (malformed → dead letter), keeps only changes of watched billing columns (the connector already drops
 * updates of unwatched columns; Odoo's several UPDATEs of one action reduce to the ones that change a watched
 * value), detects the intents with the pure trigger rules, and resolves the customer each intent belongs to so
 * that the projector sees every intent of one customer on one partition, in order.
 */
import { decodeParsedChange, DecodedChange, RowChange } from '../../domain/capture';
import { SyncError } from '../../domain/errors';
import {
  CONTRACT_EMAIL_REL_TABLE,
  changedWatchedFields,
  isIrrelevant,
  parseUnlessIrrelevant,
} from '../../domain/projection/filter';
import { detectIntents } from '../../domain/projection/triggers';
import type { ProductView } from '../../domain/projection/views';
import type { ContractRoutePins, RoutingReader, TriggerContext } from '../../domain/intents/kind';
import { INTENTS } from '../../domain/intents/registry';
import { IntentMessage, intentIdOf } from '../../domain/intents/message';

export type { ContractRoutePins, RoutingReader } from '../../domain/intents/kind';

/** The Odoo reads of routing (OdooViews); the pinned queues come from ContractRoutePins. */
export type OdooRoutingReader = Omit<RoutingReader, 'routePartnerOfContract'>;

/**
 * Routing with pinned contract queues (issue 15 §8): a contract's intents are keyed by the partner it was first
 * routed under, so a partner change in Odoo does not split the contract's intents across two queues (and lose their
 * order); its OpenCell subscription stays in the customer it was created in (docs/behaviour.md "Not watched").
 */
export class PinnedRoutingReader implements RoutingReader {
  constructor(
    private readonly odoo: OdooRoutingReader,
    private readonly pins: ContractRoutePins,
  ) {}

  product: RoutingReader['product'] = (id) => this.odoo.product(id);
  partnerHasContracts: RoutingReader['partnerHasContracts'] = (id) => this.odoo.partnerHasContracts(id);
  partnerIdOfContract: RoutingReader['partnerIdOfContract'] = (id) => this.odoo.partnerIdOfContract(id);
  contractIdsOfInfo: RoutingReader['contractIdsOfInfo'] = (t, id) => this.odoo.contractIdsOfInfo(t, id);
  contractsInCreation: RoutingReader['contractsInCreation'] = (ids) => this.odoo.contractsInCreation(ids);
  get technologyServiceCategories(): RoutingReader['technologyServiceCategories'] {
    const odoo = this.odoo;
    return odoo.technologyServiceCategories ? () => odoo.technologyServiceCategories!() : undefined;
  }

  async routePartnerOfContract(contractId: number, eventPartnerId?: number | null): Promise<number | null> {
    const pinned = await this.pins.pinned(contractId);
    if (pinned !== null) return pinned;
    const partnerId = eventPartnerId ?? (await this.odoo.partnerIdOfContract(contractId));
    return partnerId === null ? null : this.pins.pin(contractId, partnerId);
  }
}

export interface RouteResult {
  /** the decoded change; null when the raw fast path already knew it was irrelevant */
  change: DecodedChange | null;
  messages: IntentMessage[];
  /** why nothing was routed (for metrics: filtered) */
  filtered?: 'not-a-row' | 'irrelevant' | 'no-intent';
}

/**
 * The trigger switches of Config (SYNC_PARTNER_IDENTITY, SYNC_EMAIL_IBAN_AT_CREATION, SYNC_TERMINATION_AT_CREATION,
 * PHONE_PLACEHOLDER_IS_NO_NUMBER).
 */
export interface RouteOptions {
  syncPartnerIdentity: boolean;
  syncEmailIbanAtCreation?: boolean;
  syncTerminationAtCreation?: boolean;
  phonePlaceholderIsNoNumber?: boolean;
}

export async function routeMessage(
  topic: string,
  partition: number,
  offset: string,
  key: Buffer | null,
  value: Buffer | null,
  reader: RoutingReader,
  opts: RouteOptions,
  /** the value already through the fast paths and parsed (the router stage's skip) */
  preParsed?: { parsed: unknown },
): Promise<RouteResult> {
  const pre = preParsed ?? parseUnlessIrrelevant(topic, partition, offset, value);
  if (pre === null) return { change: null, messages: [], filtered: 'irrelevant' };
  const change = decodeParsedChange(topic, partition, offset, key, pre.parsed);
  if (change.kind === 'truncate') {
    throw new SyncError(
      'PROJECTION_REJECTED',
      `TRUNCATE of ${change.table} cannot be projected row by row; resync with an incremental snapshot ` +
        `(odoo-opencell-sync snapshot ${change.table})`,
      { details: { table: change.table } },
    );
  }
  if (change.kind !== 'row') return { change, messages: [], filtered: 'not-a-row' };
  if (isIrrelevant(change)) return { change, messages: [], filtered: 'irrelevant' };
  const fields = changedWatchedFields(change);
  const ctx = await triggerContext(change, fields, reader, opts);
  const intents = detectIntents(change, ctx, fields);
  if (intents.length === 0) return { change, messages: [], filtered: 'no-intent' };

  const source: IntentMessage['source'] = {
    table: change.table,
    op: change.op,
    rowId: rowIdOf(change),
    lsn: change.source.lsn,
    txId: change.source.txId,
    tsMs: change.source.tsMs,
    snapshot: change.source.isSnapshot,
    topic,
    partition,
    offset,
  };
  const messages: IntentMessage[] = [];
  let index = 0;
  for (const intent of intents) {
    for (const target of await INTENTS.spec(intent).targets(intent, reader)) {
      messages.push({
        v: 1,
        intentId: intentIdOf(source, intent, index++),
        aggregateKey: `partner:${target.partnerId}`,
        partnerId: target.partnerId,
        contractId: target.contractId,
        intent,
        force: undefined,
        repair: undefined,
        source,
      });
    }
  }
  return { change, messages, filtered: messages.length ? undefined : 'no-intent' };
}

function rowIdOf(change: RowChange): number | null {
  const row = (change.after ?? change.before) as Record<string, unknown> | null;
  const id = row?.id ?? row?.contract_contract_id;
  return typeof id === 'number' ? id : null;
}

/** The contracts whose mandate (contract_contract update) or email links (relation rows) a change touches. */
function contractIdsOfLinkChange(change: RowChange, fields: readonly string[]): number[] {
  const ids = new Set<number>();
  if (
    change.table === 'contract_contract' &&
    change.op === 'u' &&
    change.after &&
    fields.includes('mandate_id')
  )
    ids.add((change.after as { id: number }).id);
  if (change.table === CONTRACT_EMAIL_REL_TABLE && change.op !== 'r')
    for (const row of [change.before, change.after])
      if (row) ids.add((row as { contract_contract_id: number }).contract_contract_id);
  return [...ids];
}

async function triggerContext(
  change: RowChange,
  fields: readonly string[],
  reader: RoutingReader,
  opts: RouteOptions,
): Promise<TriggerContext> {
  const ctx: TriggerContext = {
    syncPartnerIdentity: opts.syncPartnerIdentity,
    syncEmailIbanAtCreation: opts.syncEmailIbanAtCreation === true,
    syncTerminationAtCreation: opts.syncTerminationAtCreation === true,
    phonePlaceholderIsNoNumber: opts.phonePlaceholderIsNoNumber === true,
  };
  // W1 / W2 (update_subscription): was the contract's mandate or email link written by its creation?
  if (!opts.syncEmailIbanAtCreation) {
    const ids = contractIdsOfLinkChange(change, fields);
    if (ids.length) {
      const inCreation = await reader.contractsInCreation(ids);
      ctx.contractInCreation = (id) => inCreation.has(id);
    }
  }
  if (change.table === 'contract_line') {
    // the product before and after (a product changed in place: unsynced_change names both)
    const ids = new Set<number>();
    for (const row of [change.before, change.after] as ({ product_id?: unknown } | null)[])
      if (typeof row?.product_id === 'number') ids.add(row.product_id);
    const products = new Map<number, ProductView>();
    for (const id of ids) {
      const p = await reader.product(id);
      if (p) products.set(id, p);
    }
    ctx.product = (id) => products.get(id);
    if (reader.technologyServiceCategories)
      ctx.technologyServiceCategories = await reader.technologyServiceCategories();
  }
  if (change.table === 'res_partner' && change.after) {
    const id = (change.after as { id: number }).id;
    const has = await reader.partnerHasContracts(id);
    ctx.partnerHasContracts = (pid) => (pid === id ? has : false);
  }
  return ctx;
}
