/**
 * The router: Debezium change events → intents, re-keyed by customer (`partner:<id>`) onto the intents topic.
 *
 * It decodes (malformed → dead letter), keeps only changes of watched billing columns (the connector already drops
 * updates of unwatched columns; Odoo's several UPDATEs of one action reduce to the ones that change a watched
 * value), detects the intents with the pure trigger rules, and resolves the customer each intent belongs to so
 * that the projector sees every intent of one customer on one partition, in order.
 */
import { decodeParsedChange, RowChange } from '../../domain/capture';
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
  const decoded = decodeRelevant(topic, partition, offset, key, value, preParsed);
  if ('messages' in decoded) return decoded;
  // only the decoded change lives on while its reads are in flight (a batch's parsed envelopes can go)
  return routeChange(decoded.change, decoded.fields, reader, opts, topic, partition, offset);
}

/** The synchronous part: fast paths, the typed decoding and the filter; a relevant row change with its fields. */
function decodeRelevant(
  topic: string,
  partition: number,
  offset: string,
  key: Buffer | null,
  value: Buffer | null,
  preParsed: { parsed: unknown } | undefined,
): RouteResult | { change: RowChange; fields: string[] } {
  const pre = preParsed ?? parseUnlessIrrelevant(topic, partition, offset, value);
  if (pre === null) return { messages: [], filtered: 'irrelevant' };
  const change = decodeParsedChange(topic, partition, offset, key, pre.parsed);
  if (change.kind === 'truncate') {
    throw new SyncError(
      'PROJECTION_REJECTED',
      `TRUNCATE of ${change.table} cannot be projected row by row; resync with an incremental snapshot ` +
        `(odoo-opencell-sync snapshot ${change.table})`,
      { details: { table: change.table } },
    );
  }
  if (change.kind !== 'row') return { messages: [], filtered: 'not-a-row' };
  const fields = changedWatchedFields(change);
  if (isIrrelevant(change, fields)) return { messages: [], filtered: 'irrelevant' };
  return { change, fields };
}

async function routeChange(
  change: RowChange,
  fields: string[],
  reader: RoutingReader,
  opts: RouteOptions,
  topic: string,
  partition: number,
  offset: string,
): Promise<RouteResult> {
  const ctx = await triggerContext(change, fields, reader, opts);
  const intents = detectIntents(change, ctx, fields);
  if (intents.length === 0) return { messages: [], filtered: 'no-intent' };

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
  return { messages, filtered: messages.length ? undefined : 'no-intent' };
}

/** One change of a fetched batch (routeBatch). */
export interface BatchChange {
  /** the key the change is ordered by (its record's key): a key's changes are routed one after the other */
  orderKey: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  preParsed?: { parsed: unknown };
}

/**
 * Routes a fetched batch's changes together (issue 17 §2): the changes of different keys at once, so that their
 * reads share queries (OdooViews and PgContractRoutes coalesce what is asked in one turn of the event loop); a key's
 * changes one after the other, in offset order (a change may pin the contract its key's next change is routed by).
 * A change whose routing threw is left undefined, and so are its key's later changes: routed again one by one (the
 * keyed consumer's handler), in order, they meet the failure again and it is reported, retried or dead-lettered.
 */
export async function routeBatch(
  topic: string,
  partition: number,
  changes: readonly BatchChange[],
  reader: RoutingReader,
  opts: RouteOptions,
): Promise<(RouteResult | undefined)[]> {
  const results: (RouteResult | undefined)[] = new Array(changes.length);
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < changes.length; i++) {
    const list = byKey.get(changes[i].orderKey);
    if (list) list.push(i);
    else byKey.set(changes[i].orderKey, [i]);
  }
  // each key's chain runs on as soon as its previous change is routed (no barrier between keys)
  await Promise.all(
    [...byKey.values()].map(async (queue) => {
      for (const i of queue) {
        const c = changes[i];
        const preParsed = c.preParsed;
        c.preParsed = undefined; // routeMessage keeps what it needs of it
        try {
          results[i] = await routeMessage(
            topic,
            partition,
            c.offset,
            c.key,
            c.value,
            reader,
            opts,
            preParsed,
          );
        } catch {
          return; // this change and the key's later ones are left to the one-by-one path
        }
      }
    }),
  );
  return results;
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
  // The reads are independent: asked at once, they share their round trip (and, over a batch, their queries).
  const reads: Promise<void>[] = [];
  // W1 / W2 (update_subscription): was the contract's mandate or email link written by its creation?
  if (!opts.syncEmailIbanAtCreation) {
    const ids = contractIdsOfLinkChange(change, fields);
    if (ids.length)
      reads.push(
        reader.contractsInCreation(ids).then((inCreation) => {
          ctx.contractInCreation = (id) => inCreation.has(id);
        }),
      );
  }
  if (change.table === 'contract_line') {
    // the product before and after (a product changed in place: unsynced_change names both)
    const ids = new Set<number>();
    for (const row of [change.before, change.after] as ({ product_id?: unknown } | null)[])
      if (typeof row?.product_id === 'number') ids.add(row.product_id);
    const products = new Map<number, ProductView>();
    ctx.product = (id) => products.get(id);
    for (const id of ids)
      reads.push(
        reader.product(id).then((p) => {
          if (p) products.set(id, p);
        }),
      );
    if (reader.technologyServiceCategories)
      reads.push(
        reader.technologyServiceCategories().then((cats) => {
          ctx.technologyServiceCategories = cats;
        }),
      );
  }
  if (change.table === 'res_partner' && change.after && reads.length === 0) {
    // a partner's change has this one read: awaited alone (no callback, no Promise.all per change)
    const id = (change.after as { id: number }).id;
    const has = await reader.partnerHasContracts(id);
    ctx.partnerHasContracts = (pid) => (pid === id ? has : false);
    return ctx;
  }
  if (reads.length === 1) await reads[0];
  else if (reads.length > 1) await Promise.all(reads);
  return ctx;
}
