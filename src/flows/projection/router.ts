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
import type {
  ContractRoutePins,
  IntentTarget,
  RoutingReader,
  TriggerContext,
} from '../../domain/intents/kind';
import { INTENTS, type Intent } from '../../domain/intents/registry';
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

  products: RoutingReader['products'] = (ids) => this.odoo.products(ids);
  partnersWithContracts: RoutingReader['partnersWithContracts'] = (ids) =>
    this.odoo.partnersWithContracts(ids);
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
  /** the change already through the fast paths (the router stage's skip: `predecode`) */
  pre?: Predecoded,
): Promise<RouteResult> {
  const decoded = decodeRelevant(topic, partition, offset, key, value, pre);
  if ('messages' in decoded) return decoded;
  const relevant: Relevant = { i: 0, offset, change: decoded.change, fields: decoded.fields };
  const ctx = await readTriggerContext([relevant], reader, opts);
  return routeRelevant(relevant, ctx, reader, topic, partition);
}

/** A change through the fast paths, the typed decoding and the filter: filtered, or relevant with its fields. */
type Decoded = RouteResult | { change: RowChange; fields: string[] };

/**
 * What `predecode` leaves for the routing: the change decoded (filtered, or relevant with its fields), or its parsed
 * envelope when decoding it failed (routed one by one, the failure is met again and reported).
 */
export type Predecoded = Decoded | { parsed: unknown };

/**
 * The router stage's fast paths and decoding, run on each change as its batch is scheduled (the keyed consumer's
 * skip): undefined when the change certainly triggers nothing (finished at once), else what its routing starts from.
 * Decoding at once, rather than when the batch is routed, makes a change's parsed envelope garbage before the next
 * record is parsed instead of keeping a whole batch's envelopes alive until the batch is routed (issue 17 §2: 6 % less
 * CPU per relevant change, bench/interpretation.md "Session 18").
 */
export function predecode(
  topic: string,
  partition: number,
  offset: string,
  key: Buffer | null,
  value: Buffer | null,
): Predecoded | undefined {
  const pre = parseUnlessIrrelevant(topic, partition, offset, value);
  if (pre === null) return undefined;
  try {
    const d = decodeRelevant(topic, partition, offset, key, value, pre);
    return d === IRRELEVANT ? undefined : d;
  } catch {
    return pre;
  }
}

/** The synchronous part: fast paths, the typed decoding and the filter; a relevant row change with its fields. */
function decodeRelevant(
  topic: string,
  partition: number,
  offset: string,
  key: Buffer | null,
  value: Buffer | null,
  pre: Predecoded | undefined,
): Decoded {
  if (pre !== undefined && !('parsed' in pre)) return pre;
  const parsed = pre ?? parseUnlessIrrelevant(topic, partition, offset, value);
  if (parsed === null) return IRRELEVANT;
  const change = decodeParsedChange(topic, partition, offset, key, parsed.parsed);
  if (change.kind === 'truncate') {
    throw new SyncError(
      'PROJECTION_REJECTED',
      `TRUNCATE of ${change.table} cannot be projected row by row; resync with an incremental snapshot ` +
        `(odoo-opencell-sync snapshot ${change.table})`,
      { details: { table: change.table } },
    );
  }
  if (change.kind !== 'row') return NOT_A_ROW;
  const fields = changedWatchedFields(change);
  if (isIrrelevant(change, fields)) return IRRELEVANT;
  return { change, fields };
}

// shared, never modified: a filtered change costs no object of its own
const filteredResult = (filtered: RouteResult['filtered']): RouteResult =>
  Object.freeze({ messages: Object.freeze([]) as unknown as IntentMessage[], filtered });
const IRRELEVANT = filteredResult('irrelevant');
const NOT_A_ROW = filteredResult('not-a-row');
const NO_INTENT = filteredResult('no-intent');

/** A decoded change that may trigger intents: its index in the batch, its offset, the change and its watched fields. */
interface Relevant {
  i: number;
  offset: string;
  change: RowChange;
  fields: string[];
}

/**
 * A decoded change's intents and their messages. Synchronous while every target is known from the intent itself (a
 * customer's); a Promise from the first target that needs a read (a contract's pinned queue), its later intents'
 * targets then asked one after the other, as the first may pin what the next is routed by.
 */
function routeRelevant(
  r: Relevant,
  ctx: TriggerContext,
  reader: RoutingReader,
  topic: string,
  partition: number,
): RouteResult | Promise<RouteResult> {
  const { change } = r;
  const intents = detectIntents(change, ctx, r.fields);
  if (intents.length === 0) return NO_INTENT;
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
    offset: r.offset,
  };
  const messages: IntentMessage[] = [];
  for (let k = 0; k < intents.length; k++) {
    const targets = INTENTS.spec(intents[k]).targets(intents[k], reader);
    if (targets instanceof Promise) return routeRest(targets, k);
    addMessages(messages, source, intents[k], targets);
  }
  return messages.length ? { messages } : NO_INTENT;

  async function routeRest(first: Promise<IntentTarget[]>, from: number): Promise<RouteResult> {
    addMessages(messages, source, intents[from], await first);
    for (let k = from + 1; k < intents.length; k++)
      addMessages(messages, source, intents[k], await INTENTS.spec(intents[k]).targets(intents[k], reader));
    return messages.length ? { messages } : NO_INTENT;
  }
}

function addMessages(
  messages: IntentMessage[],
  source: IntentMessage['source'],
  intent: Intent,
  targets: readonly IntentTarget[],
): void {
  for (const target of targets)
    messages.push({
      v: 1,
      intentId: intentIdOf(source, intent, messages.length),
      aggregateKey: `partner:${target.partnerId}`,
      partnerId: target.partnerId,
      contractId: target.contractId,
      intent,
      force: undefined,
      repair: undefined,
      source,
    });
}

/** One change of a fetched batch (routeBatch). */
export interface BatchChange {
  /** the key the change is ordered by (its record's key): a key's changes are routed one after the other */
  orderKey: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** the change already through the fast paths (`predecode`) */
  pre?: Predecoded;
}

/**
 * Routes a fetched batch's changes together (issue 17 §2), with no promise per change: the batch is decoded at once,
 * the Odoo facts its triggers need are read in one query per kind of read (readTriggerContext), and the intents are
 * derived synchronously. Only a target that needs a read (a contract's pinned queue) is awaited, and from it on its
 * key's changes are routed one after the other, in offset order: a change may pin the contract its key's next change
 * is routed by. A change whose routing threw is left undefined, and so are its key's later changes: routed again one
 * by one (the keyed consumer's handler), in order, they meet the failure again and it is reported, retried or
 * dead-lettered. When the batch's reads fail, every change they were for is left so.
 */
export async function routeBatch(
  topic: string,
  partition: number,
  changes: readonly BatchChange[],
  reader: RoutingReader,
  opts: RouteOptions,
): Promise<(RouteResult | undefined)[]> {
  const results: (RouteResult | undefined)[] = new Array(changes.length);
  /** key → the index of its first change that failed: it and the key's later changes go one by one */
  const stoppedAt = new Map<string, number>();
  const stop = (i: number) => {
    const k = changes[i].orderKey;
    const at = stoppedAt.get(k);
    if (at === undefined || i < at) stoppedAt.set(k, i);
  };
  const relevant: Relevant[] = [];
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i];
    const pre = c.pre;
    c.pre = undefined; // taken once: the routing result is what lives on
    if (stoppedAt.has(c.orderKey)) continue;
    try {
      const d = decodeRelevant(topic, partition, c.offset, c.key, c.value, pre);
      if ('messages' in d) results[i] = d;
      else relevant.push({ i, offset: c.offset, change: d.change, fields: d.fields });
    } catch {
      stop(i);
    }
  }
  if (relevant.length > 0) {
    let ctx: TriggerContext | undefined;
    try {
      ctx = await readTriggerContext(relevant, reader, opts);
    } catch {
      for (const r of relevant) stop(r.i);
    }
    if (ctx) await routeAll(relevant, ctx);
  }
  if (stoppedAt.size > 0)
    for (let i = 0; i < changes.length; i++) {
      const at = stoppedAt.get(changes[i].orderKey);
      if (at !== undefined && i >= at) results[i] = undefined;
    }
  return results;

  async function routeAll(list: readonly Relevant[], ctx: TriggerContext): Promise<void> {
    /** key → its changes from the first whose routing awaits a read (routed in order after it) */
    const chains = new Map<string, { first: Relevant; pending: Promise<RouteResult>; rest: Relevant[] }>();
    for (const r of list) {
      const k = changes[r.i].orderKey;
      const at = stoppedAt.get(k);
      if (at !== undefined && r.i >= at) continue; // after its key's failed change: left with it
      const chain = chains.get(k);
      if (chain) {
        chain.rest.push(r);
        continue;
      }
      try {
        const out = routeRelevant(r, ctx, reader, topic, partition);
        if (out instanceof Promise) chains.set(k, { first: r, pending: out, rest: [] });
        else results[r.i] = out;
      } catch {
        stop(r.i);
      }
    }
    if (chains.size === 0) return;
    await Promise.all(
      [...chains.values()].map(async ({ first, pending, rest }) => {
        try {
          results[first.i] = await pending;
        } catch {
          stop(first.i);
          return;
        }
        for (const r of rest) {
          try {
            results[r.i] = await routeRelevant(r, ctx, reader, topic, partition);
          } catch {
            stop(r.i);
            return;
          }
        }
      }),
    );
  }
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

/**
 * The facts the triggers of these changes need that are not in their rows (TriggerContext), read from Odoo in one
 * query per kind of read for all of them: which updated partners hold contracts, the products of the contract lines
 * (before and after: a product changed in place names both), the technology categories, and which contracts whose
 * mandate or email links changed are still unwritten since their creation. Each change's triggers ask only about
 * their own rows, so one context serves the batch.
 */
export async function readTriggerContext(
  changes: readonly { change: RowChange; fields: readonly string[] }[],
  reader: Pick<
    RoutingReader,
    'partnersWithContracts' | 'products' | 'technologyServiceCategories' | 'contractsInCreation'
  >,
  opts: RouteOptions,
): Promise<TriggerContext> {
  const ctx: TriggerContext = {
    syncPartnerIdentity: opts.syncPartnerIdentity,
    syncEmailIbanAtCreation: opts.syncEmailIbanAtCreation === true,
    syncTerminationAtCreation: opts.syncTerminationAtCreation === true,
    phonePlaceholderIsNoNumber: opts.phonePlaceholderIsNoNumber === true,
  };
  const partnerIds: number[] = [];
  const productIds = new Set<number>();
  const linkContractIds = new Set<number>();
  let lines = false;
  for (const { change, fields } of changes) {
    if (change.table === 'res_partner') {
      if (change.after) partnerIds.push((change.after as { id: number }).id);
    } else if (change.table === 'contract_line') {
      lines = true;
      for (const row of [change.before, change.after] as ({ product_id?: unknown } | null)[])
        if (typeof row?.product_id === 'number') productIds.add(row.product_id);
    } else if (!opts.syncEmailIbanAtCreation) {
      // W1 / W2 (update_subscription): was the contract's mandate or email link written by its creation?
      for (const id of contractIdsOfLinkChange(change, fields)) linkContractIds.add(id);
    }
  }
  // the reads are independent: asked at once, they share their round trip
  const reads: Promise<void>[] = [];
  if (partnerIds.length > 0)
    reads.push(
      reader.partnersWithContracts(partnerIds).then((withContracts) => {
        ctx.partnerHasContracts = (id) => withContracts.has(id);
      }),
    );
  if (lines) {
    ctx.product = () => undefined;
    if (productIds.size > 0)
      reads.push(
        reader.products([...productIds]).then((products) => {
          ctx.product = (id) => products.get(id);
        }),
      );
    if (reader.technologyServiceCategories)
      reads.push(
        reader.technologyServiceCategories().then((cats) => {
          ctx.technologyServiceCategories = cats;
        }),
      );
  }
  if (linkContractIds.size > 0)
    reads.push(
      reader.contractsInCreation([...linkContractIds]).then((inCreation) => {
        ctx.contractInCreation = (id) => inCreation.has(id);
      }),
    );
  if (reads.length === 1) await reads[0];
  else if (reads.length > 1) await Promise.all(reads);
  return ctx;
}
