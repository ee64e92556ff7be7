/**
 * The invoice loader: a keyed consumer group (`invoice-loader`) on the invoice events topic that creates each
 * invoice in Odoo through the production JSON-RPC client, exactly once, like the original `invoice_somconnexio`
 * process (docs/parity.md §7).
 *
 * Per event (key = invoice number, so one invoice's events are handled in order by one member):
 * 1. decode through the schema registry (a message that does not decode → dead letter);
 * 2. processed_event (consumer = the group, event id) recorded as done → no-op;
 * 3. a move (out_invoice / out_refund) with ref = the invoice number already in Odoo → the same invoice again
 *    (a replay, or a create whose answer was lost): its contract links are completed, the event is recorded, no-op;
 * 4. resolve the lookups (journal by XML id, group, first contract, accounts, taxes, products, contracts), map
 *    (odooInvoiceFromEvent — a missing or unknown code → ProjectionRejectedError → dead letter with the reason);
 * 5. the original's duplicate guard: another move with the same (invoice_date, contract_group_id, journal_id) →
 *    rejected (dead letter naming that move), never a second move;
 * 6. write ahead (processed_event row `pending` with the time the create is sent), create the draft move, link its
 *    lines to their contracts, record the event as done.
 *
 * Verify before retry (issue 15 §3): a create whose answer is lost (timeout, connection loss, 5xx from a proxy) or
 * whose process died may still commit in Odoo. A retry therefore always looks the move up by its ref first (step 3),
 * and while a pending create is younger than Odoo's request time limit (ODOO_REQUEST_LIMIT_MS) and the move (or a
 * contract link) is not there yet, it waits (retriable PRECONDITION_PENDING) instead of sending the create again.
 * An answered error (an Odoo error envelope) ends the request: the pending mark is dropped and the next try relies
 * on the lookup alone.
 *
 * Batches (issue 17 §3): the steps run for many invoices at once (one query or Odoo call per step, one account.move
 * create of a list); each invoice keeps its own outcome (see InvoiceLoader). Fencing (issue 15 §2): the write-ahead
 * and the outcome are written only while the invoice's partition is still this instance's (sync_fence).
 *
 * Failures: Odoo unavailable (5xx, timeouts, connection loss) and transient psycopg2 errors are retriable SyncErrors
 * (the keyed consumer retries them with backoff); a state-database error is wrapped as a retriable DATABASE error.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Pool } from 'pg';
import {
  FencedError,
  MalformedEventError,
  PreconditionPendingError,
  ProjectionRejectedError,
  SyncError,
} from '../../domain/errors';
import { OdooUnavailableError } from '../../domain/odoo/errors';
import { componentLogger, type Logger } from '../../core/log';
import {
  currentTrace,
  parseTraceparent,
  traceFromSeed,
  TRACEPARENT,
  withoutTrace,
  withTrace,
  type TraceContext,
} from '../../core/trace';
import { OdooClient } from '../../adapters/odoo/client';
import { m2oId, charOrNull, type Domain } from '../../domain/odoo/codecs';
import type { InvoiceIssuedEvent } from '../../domain/outbox/events';
import type { EventSchemas } from '../../adapters/registry/schemas';
import type { MessageContext } from '../../adapters/kafka/keyed-consumer';
import { awaitTakeoverGrace, withFencedWrite, type FenceToken } from '../../adapters/postgres/fence';
import { underLeases, type CallLease } from '../../core/call-lease';
import {
  INVOICE_JOURNAL_XMLID,
  invoiceCodes,
  odooInvoiceFromEvent,
  type ContractInfo,
  type InvoiceGroup,
  type InvoiceLookups,
  type InvoiceMappingRules,
  type OdooInvoicePlan,
} from '../../domain/invoices/odoo-invoice';

export const INVOICE_LOADER_GROUP = 'invoice-loader';
export const CONTRACT_LINK_MODEL = 'contract.account.invoice.line.relation';
/** The move types this loader creates: a move of either type with the invoice number as ref is that invoice. */
export const LOADED_MOVE_TYPES = ['out_invoice', 'out_refund'];

export type LoadOutcome =
  | { outcome: 'created'; moveId: number; lines: number; links: number; ms: number }
  | { outcome: 'existing'; moveId: number; linksRepaired: number }
  | { outcome: 'already_processed' };

export type OdooRpc = Pick<OdooClient, 'search' | 'searchRead' | 'create' | 'createMany' | 'read'>;

/** A small cache of positive lookups with a TTL (unknown codes are never cached: they may be created later). */
class TtlCache<V> {
  private readonly m = new Map<string, { v: V; at: number }>();
  constructor(private readonly ttlMs: number) {}
  get(k: string): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (Date.now() - e.at > this.ttlMs) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }
  set(k: string, v: V): void {
    this.m.set(k, { v, at: Date.now() });
  }
  clear(): void {
    this.m.clear();
  }
}

export interface InvoiceLookupResolverOptions {
  /** XML id of the journal (default invoice_somconnexio.customer_services_invoices_journal). */
  journalXmlId?: string;
  /** Look the partner up by ref when the group is unknown (INVOICE_PARTNER_BY_REF; default false). */
  partnerByRef?: boolean;
  /** TTL of the journal / account / tax / product caches (default 10 min). */
  cacheTtlMs?: number;
}

/** Resolves the lookups of an event through the Odoo client; batch queries for the cache misses. */
export class InvoiceLookupResolver {
  readonly journalXmlId: string;
  private readonly partnerByRef: boolean;
  private readonly journal: TtlCache<{ id: number; companyId: number | null }>;
  private readonly accounts: TtlCache<number>;
  private readonly taxes: TtlCache<number>;
  private readonly products: TtlCache<number>;

  constructor(
    private readonly odoo: OdooRpc,
    opts: InvoiceLookupResolverOptions = {},
  ) {
    this.journalXmlId = opts.journalXmlId ?? INVOICE_JOURNAL_XMLID;
    this.partnerByRef = opts.partnerByRef ?? false;
    const ttl = opts.cacheTtlMs ?? 600_000;
    this.journal = new TtlCache(ttl);
    this.accounts = new TtlCache(ttl);
    this.taxes = new TtlCache(ttl);
    this.products = new TtlCache(ttl);
  }

  clearCaches(): void {
    for (const c of [this.journal, this.accounts, this.taxes, this.products]) c.clear();
  }

  async resolve(event: InvoiceIssuedEvent): Promise<InvoiceLookups> {
    return (await this.resolveMany([event]))[0]!;
  }

  /**
   * The lookups of several events with one query per kind (groups, their first contracts, accounts, taxes, products,
   * contracts and their emails by `in` domains): a batch costs about as many Odoo calls as one event.
   */
  async resolveMany(events: readonly InvoiceIssuedEvent[]): Promise<InvoiceLookups[]> {
    const codes = events.map(invoiceCodes);
    const all = (f: (c: (typeof codes)[number]) => string[]) => [...new Set(codes.flatMap(f))];
    const journal = await this.journalRef();
    const [groups, accounts, taxes, products, contracts] = await Promise.all([
      this.groups(all((c) => [c.groupCode])),
      this.byCode(
        this.accounts,
        'account.account',
        'code',
        all((c) => c.accountingCodes),
      ),
      // as the original: the tax with that oc_code in the company (here: the journal's company)
      this.byCode(
        this.taxes,
        'account.tax',
        'oc_code',
        all((c) => c.taxCodes),
        journal?.companyId ? [['company_id', '=', journal.companyId]] : [],
        'sequence, id',
      ),
      this.byCode(
        this.products,
        'product.product',
        'default_code',
        all((c) => c.productCodes),
      ),
      this.contracts(all((c) => c.subscriptionCodes)),
    ]);
    return Promise.all(
      codes.map(async (c) => {
        const group = groups.get(c.groupCode) ?? null;
        let partnerByRef: InvoiceLookups['partnerByRef'] = null;
        if (!group && this.partnerByRef && c.customerCode) {
          const rows = await this.odoo.searchRead('res.partner', [['ref', '=', c.customerCode]], {
            fields: ['ref'],
            limit: 1,
            order: 'id',
          });
          if (rows[0]) partnerByRef = { id: rows[0].id, ref: c.customerCode };
        }
        return {
          journalId: journal?.id ?? null,
          journalXmlId: this.journalXmlId,
          group,
          partnerByRef,
          accounts,
          taxes,
          products,
          contracts,
        };
      }),
    );
  }

  /** The journal by XML id, through ir.model.data as `env.ref` resolves it, and its company. */
  private async journalRef(): Promise<{ id: number; companyId: number | null } | null> {
    const hit = this.journal.get(this.journalXmlId);
    if (hit !== undefined) return hit;
    const dot = this.journalXmlId.indexOf('.');
    const [module, name] = [this.journalXmlId.slice(0, dot), this.journalXmlId.slice(dot + 1)];
    const [ref] = await this.odoo.searchRead(
      'ir.model.data',
      [
        ['module', '=', module],
        ['name', '=', name],
      ],
      { fields: ['model', 'res_id'], limit: 1 },
    );
    if (!ref || ref.model !== 'account.journal' || typeof ref.res_id !== 'number') return null;
    const [journal] = await this.odoo.searchRead('account.journal', [['id', '=', ref.res_id]], {
      fields: ['company_id'],
      limit: 1,
    });
    if (!journal) return null;
    const out = { id: journal.id, companyId: m2oId(journal.company_id as never) };
    this.journal.set(this.journalXmlId, out);
    return out;
  }

  /**
   * The groups by code and their first contract: `contract_ids[0]` — Odoo reads a one2many in the comodel's order
   * (OCA contract: `code, name`), active contracts only. Not cached: contracts come and go. A code held by several
   * groups: the first by id, as `search(limit=1, order='id')`.
   */
  private async groups(codes: string[]): Promise<Map<string, InvoiceGroup>> {
    const out = new Map<string, InvoiceGroup>();
    if (codes.length === 0) return out;
    const rows = await this.odoo.searchRead('contract.group', [['code', 'in', codes]], {
      fields: ['code', 'partner_id', 'contract_ids'],
      order: 'id',
    });
    const firsts = new Map<string, { row: (typeof rows)[number]; first: number | undefined }>();
    for (const r of rows) {
      const code = charOrNull(r.code as never);
      if (!code || firsts.has(code)) continue;
      const contractIds = Array.isArray(r.contract_ids) ? (r.contract_ids as number[]) : [];
      firsts.set(code, { row: r, first: contractIds[0] });
    }
    const firstIds = [
      ...new Set([...firsts.values()].flatMap((f) => (f.first === undefined ? [] : [f.first]))),
    ];
    const contracts = new Map<number, NonNullable<InvoiceGroup['firstContract']>>();
    if (firstIds.length > 0) {
      for (const c of await this.odoo.read('contract.contract', firstIds, ['code', 'payment_mode_id']))
        contracts.set(c.id, {
          id: c.id,
          code: charOrNull(c.code as never),
          paymentModeId: m2oId(c.payment_mode_id as never),
        });
    }
    for (const [code, { row, first }] of firsts)
      out.set(code, {
        id: row.id,
        code,
        partnerId: m2oId(row.partner_id as never),
        firstContract: (first !== undefined && contracts.get(first)) || null,
      });
    return out;
  }

  private async byCode(
    cache: TtlCache<number>,
    model: string,
    field: string,
    codes: string[],
    extra: Domain = [],
    order = 'id',
  ): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const missing: string[] = [];
    for (const c of codes) {
      const hit = cache.get(c);
      if (hit !== undefined) out.set(c, hit);
      else missing.push(c);
    }
    if (missing.length > 0) {
      const rows = await this.odoo.searchRead(model, [[field, 'in', missing], ...extra], {
        fields: [field],
        order,
      });
      for (const r of rows) {
        const code = r[field];
        if (typeof code === 'string' && !out.has(code)) {
          out.set(code, r.id);
          cache.set(code, r.id);
        }
      }
    }
    return out;
  }

  /** The invoice's contracts by code (links, mandate, emails); not cached (they change). */
  private async contracts(codes: string[]): Promise<Map<string, ContractInfo>> {
    const out = new Map<string, ContractInfo>();
    if (codes.length === 0) return out;
    const rows = await this.odoo.searchRead('contract.contract', [['code', 'in', codes]], {
      fields: ['code', 'contract_group_id', 'mandate_id', 'payment_mode_id', 'email_ids'],
    });
    const emailIds = [
      ...new Set(rows.flatMap((r) => (Array.isArray(r.email_ids) ? (r.email_ids as number[]) : []))),
    ];
    const emails = new Map<number, string>();
    if (emailIds.length > 0) {
      for (const p of await this.odoo.read('res.partner', emailIds, ['email'])) {
        const e = charOrNull(p.email as never);
        if (e) emails.set(p.id, e);
      }
    }
    for (const r of rows) {
      const code = charOrNull(r.code as never);
      if (!code || out.has(code)) continue;
      out.set(code, {
        id: r.id,
        code,
        groupId: m2oId(r.contract_group_id as never),
        mandateId: m2oId(r.mandate_id as never),
        paymentModeId: m2oId(r.payment_mode_id as never),
        emails: ((r.email_ids as number[] | undefined) ?? [])
          .map((id) => emails.get(id))
          .filter((e): e is string => Boolean(e)),
      });
    }
    return out;
  }
}

export interface InvoiceLoaderOptions {
  /** Default: componentLogger('invoice-loader'). */
  log?: Logger;
  odoo: OdooRpc;
  /** state database (processed_event) */
  pool: Pool;
  /** decodes the messages (any EventSchemas bound to the registry) */
  schemas: EventSchemas;
  /** processed_event consumer name (default 'invoice-loader', normally the consumer group) */
  consumer?: string;
  resolver?: InvoiceLookupResolver;
  journalXmlId?: string;
  /** config.invoiceImport.partnerByRef / creditNoteTypes */
  rules?: InvoiceMappingRules;
  /** How long a create whose answer was lost may still commit in Odoo (config.invoiceImport.odooRequestLimitMs). */
  odooRequestLimitMs?: number;
  onLoaded?: (event: InvoiceIssuedEvent, r: LoadOutcome) => void;
  now?: () => number;
  /** Most invoices created by one `account.move` create call (default 200). */
  maxBatch?: number;
  /** How long the first invoice of a batch waits for others (ms, default 5). */
  lingerMs?: number;
  /**
   * Most batches in flight at once (default 4): while that many run, new invoices wait and join the next batch, so
   * invoices that arrive a few at a time still go in large lists instead of many small ones (each list costs about ten
   * Odoo calls besides its create, and one Odoo worker).
   */
  maxInFlight?: number;
}

function dbError(e: unknown, what: string): SyncError {
  if (e instanceof SyncError) return e;
  return new SyncError('DATABASE', `invoice loader: ${what}: ${(e as Error).message}`, {
    retriable: true,
    cause: e,
  });
}

function header(m: KafkaMessage, name: string): string | undefined {
  const v = m.headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

/** What a pending processed_event row says was sent: the move's create, or its contract links' create. */
type PendingCall = 'move' | 'links';
/** The processed_event row of an event: done, or a create sent at `sentAt` whose outcome is not recorded. */
type ProcessedState = { done: true } | { done: false; sentAt: number | null; call: PendingCall };

/** Odoo may still apply a call whose answer never came (timeout, connection loss, a proxy's 5xx). */
const answerLost = (e: unknown) => e instanceof OdooUnavailableError;

/** One invoice waiting in the loader's batch: its event, its partition's fencing token, its caller. */
interface Queued {
  event: InvoiceIssuedEvent;
  fence?: FenceToken;
  t0: number;
  /** the invoice's trace (its event's `traceparent`), if it had one */
  trace?: TraceContext;
  /** the trace of the Odoo calls its batch shares with invoices of other traces (set by `flush`) */
  batchTrace?: TraceContext;
  resolve: (r: LoadOutcome) => void;
  reject: (e: unknown) => void;
}

/** A queued invoice mapped to the move to create. */
interface Planned {
  q: Queued;
  plan: OdooInvoicePlan;
}

const dupKey = (k: NonNullable<OdooInvoicePlan['duplicateKey']>) =>
  `${k.invoiceDate}/${k.groupId}/${k.journalId}`;
const fenceKey = (f: FenceToken | undefined) =>
  f ? `${f.groupId}/${f.topic}/${f.partition}/${f.epoch}` : '';

/**
 * The leases of the invoices' partitions (src/core/call-lease.ts): a create leaves only while the write-ahead's fence
 * check of each is within its lease; refused (FenceLeaseExpiredError, retriable), it was not sent and is retried.
 */
function leasesOf(qs: readonly { fence?: FenceToken }[]): CallLease[] {
  return [...new Set(qs.flatMap((q) => (q.fence?.lease ? [q.fence.lease] : [])))];
}

/** Groups items by their fencing token (one fenced write per partition). */
function byFence<T extends { fence?: FenceToken }>(items: T[]): T[][] {
  const m = new Map<string, T[]>();
  for (const i of items) {
    const k = fenceKey(i.fence);
    const g = m.get(k);
    if (g) g.push(i);
    else m.set(k, [i]);
  }
  return [...m.values()];
}

/**
 * The loader's per-message logic (the keyed consumer around it, its stage, lives in stages.ts).
 *
 * Batching (issue 17 §3): each `load` joins a batch that is flushed when it holds `maxBatch` invoices or `lingerMs`
 * after its first one; a flush makes one query or one Odoo call per step for the whole batch — processed_event rows,
 * moves by ref (`ref in […]`), lookups, the duplicate guard, the write-ahead, one `account.move` create of a list of
 * vals (one Odoo transaction), one read of their lines, one create of their contract links, the outcomes — and
 * settles each invoice's own promise: a bad invoice is rejected alone (the keyed consumer dead-letters it), the others
 * are loaded. Odoo creates a list in one transaction, so an answered error fails the whole list: after a refusal
 * (not retriable) the flush creates its invoices one at a time, so that only the bad one fails; a transient error
 * (retriable) fails each invoice of the list, retried by the keyed consumer. A list whose answer was lost keeps every
 * invoice's pending mark: their retries look each one up by ref and wait (PRECONDITION_PENDING) for those not found.
 *
 * Fencing (issue 15 §2): an invoice handled for a partition carries that partition's epoch; the write-ahead before the
 * create and the outcome after it are written only while the epoch is the partition's (withFencedWrite), so a zombie
 * whose partition moved sends no create and records nothing (FencedError: its batch stops, commits nothing).
 */
export class InvoiceLoader {
  private readonly log: Logger;
  readonly consumer: string;
  readonly resolver: InvoiceLookupResolver;
  private readonly limitMs: number;
  private readonly now: () => number;
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** duplicate keys (invoice date, group, journal) whose create is in flight in a flush */
  private readonly inFlightKeys = new Set<string>();
  /** invoices that wait for another invoice of their duplicate key to finish */
  private deferred: Queued[] = [];

  constructor(private readonly o: InvoiceLoaderOptions) {
    this.log = o.log ?? componentLogger('invoice-loader');
    this.consumer = o.consumer ?? INVOICE_LOADER_GROUP;
    this.resolver =
      o.resolver ??
      new InvoiceLookupResolver(o.odoo, {
        journalXmlId: o.journalXmlId,
        partnerByRef: o.rules?.partnerByRef,
      });
    this.limitMs = o.odooRequestLimitMs ?? 120_000;
    this.now = o.now ?? Date.now;
    this.maxBatch = Math.max(1, o.maxBatch ?? 200);
    this.lingerMs = Math.max(0, o.lingerMs ?? 5);
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 4);
  }

  /** KeyedConsumer handler: decode, then load. */
  async handleMessage(message: KafkaMessage, ctx: MessageContext): Promise<void> {
    // the invoice event's trace (set by the poller, sent by the relay): the loader's logs and Odoo calls carry it
    const tp = message.headers?.[TRACEPARENT];
    return withTrace(parseTraceparent(Array.isArray(tp) ? tp[0] : tp), () => this.loadMessage(message, ctx));
  }

  private async loadMessage(message: KafkaMessage, ctx: MessageContext): Promise<void> {
    if (!message.value)
      throw new MalformedEventError(
        ctx.topic,
        ctx.partition,
        message.offset,
        'value',
        'empty value (tombstone)',
      );
    const decoded = await this.o.schemas.decode(message.value, header(message, 'event_type'), {
      topic: ctx.topic,
      partition: ctx.partition,
      offset: message.offset,
    });
    if (decoded.type !== 'InvoiceIssued') {
      throw new MalformedEventError(
        ctx.topic,
        ctx.partition,
        message.offset,
        'event_type',
        `expected InvoiceIssued, got ${decoded.type}`,
      );
    }
    // a partition taken from another owner: what that owner may still create has landed before the guard reads
    await awaitTakeoverGrace(ctx.fence);
    await this.load(decoded.event as InvoiceIssuedEvent, ctx.fence);
  }

  /**
   * Loads one invoice event into Odoo, exactly once; `fence`: the epoch of the partition it came from (its create
   * and its outcome are refused once another instance took the partition).
   */
  load(event: InvoiceIssuedEvent, fence?: FenceToken): Promise<LoadOutcome> {
    return new Promise<LoadOutcome>((resolve, reject) => {
      this.queue.push({ event, fence, t0: this.now(), trace: currentTrace(), resolve, reject });
      // the batch's timer is no single invoice's: it must not run the batch in the first invoice's trace
      withoutTrace(() => this.schedule());
    });
  }

  private schedule(): void {
    // at the bound, the next batch leaves when one in flight ends (flushNow's finally)
    if (this.inFlight >= this.maxInFlight) return;
    if (this.queue.length >= this.maxBatch) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.flushNow();
    } else this.timer ??= setTimeout(() => ((this.timer = undefined), this.flushNow()), this.lingerMs);
  }

  private flushNow(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        // invoices that waited for one of this batch's duplicate keys go with the next batch
        if (this.deferred.length > 0) {
          this.queue.unshift(...this.deferred);
          this.deferred = [];
        }
        // the invoices that queued while the bound was reached have waited long enough: they leave now
        if (this.queue.length === 0) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.flushNow();
      });
    }
  }

  private settle(q: Queued, r: LoadOutcome): void {
    if (r.outcome === 'created')
      withTrace(q.trace, () =>
        this.log.info(
          `invoice ${q.event.invoiceNumber} created in Odoo: move ${r.moveId}, ${r.lines} line(s), ${r.links} contract link(s)`,
        ),
      );
    this.o.onLoaded?.(q.event, r);
    q.resolve(r);
  }

  /**
   * Runs `fn` (Odoo calls for these invoices) in their trace. Invoices of several traces share one call, which can carry
   * only one `traceparent`: the batch's own trace (derived from its invoices), which a log line of `flush` ties to
   * theirs, so an invoice's trace id still leads to the call that created its move.
   */
  private inTrace<T>(qs: Queued[], fn: () => Promise<T>): Promise<T> {
    const ids = new Set(qs.map((q) => q.trace?.traceId));
    const trace = ids.size === 1 ? qs[0]?.trace : qs[0]?.batchTrace;
    return trace ? withTrace(trace, fn) : withoutTrace(fn);
  }

  /** One batch, step by step; every invoice of it is settled (resolved or rejected) exactly once. */
  private async flush(batch: Queued[]): Promise<void> {
    const traces = [...new Set(batch.flatMap((q) => (q.trace ? [q.trace.traceId] : [])))];
    for (const q of batch) q.batchTrace = undefined;
    if (new Set(batch.map((q) => q.trace?.traceId)).size > 1) {
      const shared = traceFromSeed(`invoice-batch|${batch.map((q) => q.event.eventId).join(',')}`);
      for (const q of batch) q.batchTrace = shared;
      withTrace(shared, () =>
        this.log.info(`${batch.length} invoices loaded together: their Odoo calls carry this trace`, {
          links: traces,
          invoices: batch.map((q) => q.event.invoiceNumber),
        }),
      );
    }
    return withoutTrace(() => this.inTrace(batch, () => this.flushBatch(batch)));
  }

  private async flushBatch(batch: Queued[]): Promise<void> {
    let states: Map<string, ProcessedState>;
    let existing: Map<string, number>;
    try {
      states = await this.processedStates(batch.map((q) => q.event.eventId));
      const live = batch.filter((q) => !states.get(q.event.eventId)?.done);
      for (const q of batch)
        if (states.get(q.event.eventId)?.done) this.settle(q, { outcome: 'already_processed' });
      batch = live;
      existing = await this.movesByRef(batch.map((q) => q.event.invoiceNumber));
    } catch (e) {
      for (const q of batch) q.reject(e);
      return;
    }
    const fresh: Queued[] = [];
    const others: Promise<void>[] = [];
    for (const q of batch) {
      const state = states.get(q.event.eventId);
      // A create sent less than Odoo's request limit ago with no recorded outcome may still commit.
      const doubt =
        state && !state.done && state.sentAt !== null && q.t0 - state.sentAt < this.limitMs
          ? { sentAt: state.sentAt, call: state.call }
          : null;
      const moveId = existing.get(q.event.invoiceNumber);
      if (moveId !== undefined)
        others.push(
          withTrace(q.trace, () =>
            this.loadExisting(q, moveId, doubt?.call === 'links' ? doubt.sentAt : null),
          ).then((r) => this.settle(q, r), q.reject),
        );
      else if (doubt) q.reject(this.stillInDoubt(q.event, doubt.sentAt, 'the move'));
      else fresh.push(q);
    }
    await Promise.all([...others, this.createFresh(fresh)]);
  }

  /** The move is there (a replay, or a create whose answer was lost): only a links create can still be in flight. */
  private async loadExisting(
    q: Queued,
    moveId: number,
    linksInDoubtSince: number | null,
  ): Promise<LoadOutcome> {
    const { event } = q;
    const repaired = await this.repairLinks(q, moveId, linksInDoubtSince);
    await this.markProcessedMany([{ q, result: { moveId, existing: true, linksRepaired: repaired } }]);
    this.log.info(`invoice ${event.invoiceNumber} already in Odoo (move ${moveId}); not created again`);
    return { outcome: 'existing', moveId, linksRepaired: repaired };
  }

  /** Invoices not in Odoo: lookups, mapping, duplicate guard, then the creates. */
  private async createFresh(fresh: Queued[]): Promise<void> {
    if (fresh.length === 0) return;
    return this.inTrace(fresh, () => this.createFreshInTrace(fresh));
  }

  private async createFreshInTrace(fresh: Queued[]): Promise<void> {
    let lookups: InvoiceLookups[];
    try {
      lookups = await this.resolver.resolveMany(fresh.map((q) => q.event));
    } catch (e) {
      for (const q of fresh) q.reject(e);
      return;
    }
    const planned: Planned[] = [];
    fresh.forEach((q, i) => {
      try {
        const plan = odooInvoiceFromEvent(q.event, lookups[i]!, this.o.rules);
        if (plan.unknownContracts.length > 0)
          withTrace(q.trace, () =>
            this.log.warn(
              `invoice ${q.event.invoiceNumber}: no Odoo contract for ${plan.unknownContracts.join(', ')}; those lines are not linked`,
            ),
          );
        planned.push({ q, plan });
      } catch (e) {
        q.reject(e);
      }
    });
    // one invoice per duplicate key at a time (in this batch and across batches): the others wait for its outcome
    const go: Planned[] = [];
    const held: string[] = [];
    for (const p of planned) {
      const keys = [`ref:${p.q.event.invoiceNumber}`];
      if (p.plan.duplicateKey) keys.push(dupKey(p.plan.duplicateKey));
      if (keys.some((k) => this.inFlightKeys.has(k))) {
        this.deferred.push(p.q);
        continue;
      }
      for (const k of keys) {
        this.inFlightKeys.add(k);
        held.push(k);
      }
      go.push(p);
    }
    try {
      const guarded = await this.duplicateGuard(go);
      await this.createMoves(guarded);
    } finally {
      for (const k of held) this.inFlightKeys.delete(k);
    }
  }

  /**
   * The original's guard: another move in the journal with the same invoice date and contract group is a duplicate
   * (the original raised a UserError, "Duplicated invoice for group … and date …"). Our own earlier create of this
   * invoice was found by its ref before, so what is found here is another invoice: rejected, nothing created. One
   * search for the whole batch; the invoices that pass are returned.
   */
  private async duplicateGuard(planned: Planned[]): Promise<Planned[]> {
    const keyed = planned.filter((p) => p.plan.duplicateKey);
    if (keyed.length === 0) return planned;
    const uniq = <T>(xs: T[]) => [...new Set(xs)];
    const keys = keyed.map((p) => p.plan.duplicateKey!);
    let rows: Awaited<ReturnType<OdooRpc['searchRead']>>;
    try {
      rows = await this.o.odoo.searchRead(
        'account.move',
        [
          ['invoice_date', 'in', uniq(keys.map((k) => k.invoiceDate))],
          ['contract_group_id', 'in', uniq(keys.map((k) => k.groupId))],
          ['journal_id', 'in', uniq(keys.map((k) => k.journalId))],
        ],
        { fields: ['ref', 'invoice_date', 'contract_group_id', 'journal_id'], order: 'id' },
      );
    } catch (e) {
      for (const p of keyed) p.q.reject(e);
      return planned.filter((p) => !p.plan.duplicateKey);
    }
    const found = new Map<string, (typeof rows)[number]>();
    for (const r of rows) {
      const groupId = m2oId(r.contract_group_id as never);
      const journalId = m2oId(r.journal_id as never);
      if (typeof r.invoice_date !== 'string' || groupId === null || journalId === null) continue;
      const k = dupKey({ invoiceDate: r.invoice_date, groupId, journalId });
      if (!found.has(k)) found.set(k, r);
    }
    return planned.filter((p) => {
      const key = p.plan.duplicateKey;
      const other = key && found.get(dupKey(key));
      if (!other) return true;
      const { event } = p.q;
      const groupCode = event.customerAccountCode ?? event.billingAccountCode;
      const otherRef = charOrNull(other.ref as never);
      p.q.reject(
        new ProjectionRejectedError(
          `invoice ${event.invoiceNumber} cannot be loaded into Odoo: duplicated invoice for contract group "${groupCode}" ` +
            `and date ${key.invoiceDate}: account.move ${other.id}${otherRef ? ` (ref "${otherRef}")` : ''} is already in ` +
            `that journal, and the original import refuses a second one`,
          {
            invoiceNumber: event.invoiceNumber,
            eventId: event.eventId,
            duplicateOf: other.id,
            duplicateRef: otherRef,
          },
        ),
      );
      return false;
    });
  }

  /**
   * Written ahead, one create of the list of moves (tracking disabled on create, as the original did: no chatter
   * mail), their contract links, their outcomes. An answered error fails Odoo's whole transaction: after a refusal
   * the invoices are created one by one, so that only a bad one fails; after a transient error each is retried.
   */
  private async createMoves(planned: Planned[]): Promise<void> {
    if (planned.length === 0) return;
    return this.inTrace(
      planned.map((p) => p.q),
      () => this.createMovesInTrace(planned),
    );
  }

  private async createMovesInTrace(planned: Planned[]): Promise<void> {
    const sent = await this.markPendingMany(
      planned.map((p) => p.q),
      'move',
    );
    planned = planned.filter((p) => sent.has(p.q));
    if (planned.length === 0) return;
    let ids: number[];
    try {
      ids = await underLeases(leasesOf(planned.map((p) => p.q)), () =>
        this.o.odoo.createMany(
          'account.move',
          planned.map((p) => p.plan.vals),
          { context: { tracking_disable: true, mail_create_nolog: true, mail_notrack: true } },
        ),
      );
      if (ids.length !== planned.length)
        throw new SyncError(
          'INTERNAL',
          `account.move create of ${planned.length} moves answered ${ids.length} ids`,
        );
    } catch (e) {
      const qs = planned.map((p) => p.q);
      if (answerLost(e)) {
        await this.markPendingMany(qs, 'move').catch(() => undefined);
        for (const q of qs) q.reject(e);
        return;
      }
      await this.clearPendingMany(qs).catch(() => undefined);
      // a transient error (a serialization failure, …) is the whole list's: each invoice is retried (and batched
      // again); a refusal may be one invoice's: created one by one, only that one fails
      if (planned.length === 1 || (e instanceof SyncError && e.retriable)) {
        for (const q of qs) q.reject(e);
        return;
      }
      for (const p of planned) await this.createMoves([p]);
      return;
    }
    const created = planned.map((p, i) => ({ ...p, moveId: ids[i]! }));
    const links = await this.createLinksMany(created);
    await this.markProcessedMany(
      created.flatMap((c) => {
        const n = links.get(c.q);
        if (n === undefined) return []; // rejected by the links step
        return [
          {
            q: c.q,
            result: { moveId: c.moveId, lines: c.plan.keptLines, links: n, moveType: c.plan.moveType },
            outcome: {
              outcome: 'created' as const,
              moveId: c.moveId,
              lines: c.plan.keptLines,
              links: n,
              ms: this.now() - c.q.t0,
            },
          },
        ];
      }),
    );
  }

  /**
   * Links each created invoice line to its contracts, for every move of the batch at once (one read of their lines,
   * one create). Returns the links created per invoice; an invoice whose links failed is rejected (its retry finds
   * the move by ref and repairs the links).
   */
  private async createLinksMany(created: Array<Planned & { moveId: number }>): Promise<Map<Queued, number>> {
    return this.inTrace(
      created.map((c) => c.q),
      () => this.createLinksManyInTrace(created),
    );
  }

  private async createLinksManyInTrace(
    created: Array<Planned & { moveId: number }>,
  ): Promise<Map<Queued, number>> {
    const out = new Map<Queued, number>();
    const need = created.filter((c) => c.plan.lineContracts.some((l) => l.length > 0));
    for (const c of created) if (!need.includes(c)) out.set(c.q, 0);
    if (need.length === 0) return out;
    let lines: Map<number, number[]>;
    try {
      lines = await this.lineIds(need.map((c) => c.moveId));
    } catch (e) {
      for (const c of need) c.q.reject(e);
      return out;
    }
    const vals = new Map<Queued, Array<Record<string, unknown>>>();
    for (const c of need) {
      const v = this.linkVals(c.moveId, c.plan, lines.get(c.moveId) ?? [], new Set());
      if (v.length === 0) out.set(c.q, 0);
      else vals.set(c.q, v);
    }
    if (vals.size === 0) return out;
    const sent = await this.markPendingMany([...vals.keys()], 'links');
    const qs = [...vals.keys()].filter((q) => sent.has(q));
    if (qs.length === 0) return out;
    try {
      await underLeases(leasesOf(qs), () =>
        this.o.odoo.createMany(
          CONTRACT_LINK_MODEL,
          qs.flatMap((q) => vals.get(q)!),
        ),
      );
    } catch (e) {
      if (answerLost(e)) await this.markPendingMany(qs, 'links').catch(() => undefined);
      else await this.clearPendingMany(qs).catch(() => undefined);
      for (const q of qs) q.reject(e);
      return out;
    }
    for (const q of qs) out.set(q, vals.get(q)!.length);
    return out;
  }

  /** The invoice line ids of each move, in id order. */
  private async lineIds(moveIds: number[]): Promise<Map<number, number[]>> {
    const rows = await this.o.odoo.read('account.move', moveIds, ['invoice_line_ids']);
    return new Map(
      rows.map((r) => [
        r.id,
        ((r.invoice_line_ids as number[] | undefined) ?? []).slice().sort((a, b) => a - b),
      ]),
    );
  }

  /** The contract links of a move's lines still to create; `done` = "lineId:contractId" pairs already linked. */
  private linkVals(
    moveId: number,
    plan: OdooInvoicePlan,
    lineIds: number[],
    done: Set<string>,
  ): Array<Record<string, unknown>> {
    if (lineIds.length !== plan.lineContracts.length) {
      this.log.warn(
        `move ${moveId} has ${lineIds.length} invoice lines, expected ${plan.lineContracts.length}; contract links skipped`,
      );
      return [];
    }
    const vals: Array<Record<string, unknown>> = [];
    plan.lineContracts.forEach((contracts, i) => {
      for (const c of contracts) {
        if (!done.has(`${lineIds[i]}:${c}`))
          vals.push({ account_invoice_line_id: lineIds[i], contract_id: c });
      }
    });
    return vals;
  }

  private stillInDoubt(event: InvoiceIssuedEvent, sentAt: number, what: string): PreconditionPendingError {
    return new PreconditionPendingError(
      `invoice ${event.invoiceNumber}: a create sent at ${new Date(sentAt).toISOString()} got no answer and ` +
        `${what} is not in Odoo yet; not sent again before Odoo's request time limit (${this.limitMs} ms) has passed`,
      { invoiceNumber: event.invoiceNumber, sentAt, limitMs: this.limitMs },
    );
  }

  /** After a crash or a lost answer between the create and the links: add the links that are missing. */
  private async repairLinks(q: Queued, moveId: number, inDoubtSince: number | null): Promise<number> {
    const { event } = q;
    let plan: OdooInvoicePlan;
    try {
      plan = odooInvoiceFromEvent(event, await this.resolver.resolve(event), this.o.rules);
    } catch (e) {
      if (e instanceof SyncError && !e.retriable) return 0;
      throw e;
    }
    if (!plan.lineContracts.some((c) => c.length > 0)) return 0;
    const lineIds = (await this.lineIds([moveId])).get(moveId) ?? [];
    const existing = lineIds.length
      ? await this.o.odoo.searchRead(CONTRACT_LINK_MODEL, [['account_invoice_line_id', 'in', lineIds]], {
          fields: ['account_invoice_line_id', 'contract_id'],
        })
      : [];
    const done = new Set(
      existing.map((r) => `${m2oId(r.account_invoice_line_id as never)}:${m2oId(r.contract_id as never)}`),
    );
    const vals = this.linkVals(moveId, plan, lineIds, done);
    if (vals.length === 0) return 0;
    if (inDoubtSince !== null) throw this.stillInDoubt(event, inDoubtSince, 'a contract link');
    const sent = await this.markPendingMany([q], 'links');
    if (!sent.has(q)) throw new SyncError('INTERNAL', 'unreachable: a rejected write-ahead');
    try {
      await underLeases(leasesOf([q]), () => this.o.odoo.createMany(CONTRACT_LINK_MODEL, vals));
    } catch (e) {
      if (answerLost(e)) await this.markPendingMany([q], 'links').catch(() => undefined);
      else await this.clearPendingMany([q]).catch(() => undefined);
      throw e;
    }
    return vals.length;
  }

  /** The moves (out_invoice / out_refund) by ref: the first by id of each invoice number. */
  private async movesByRef(refs: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (refs.length === 0) return out;
    const rows = await this.o.odoo.searchRead(
      'account.move',
      [
        ['ref', 'in', refs],
        ['move_type', 'in', LOADED_MOVE_TYPES],
      ],
      { fields: ['ref'], order: 'id' },
    );
    for (const r of rows) {
      const ref = charOrNull(r.ref as never);
      if (ref && !out.has(ref)) out.set(ref, r.id);
    }
    return out;
  }

  private async processedStates(eventIds: string[]): Promise<Map<string, ProcessedState>> {
    const out = new Map<string, ProcessedState>();
    if (eventIds.length === 0) return out;
    try {
      const r = await this.o.pool.query<{ event_id: string; result: Record<string, unknown> | null }>(
        'SELECT event_id, result FROM processed_event WHERE consumer = $1 AND event_id = ANY($2::text[])',
        [this.consumer, eventIds],
      );
      for (const row of r.rows) {
        if (row.result?.pending !== true) {
          out.set(row.event_id, { done: true });
          continue;
        }
        const sentAt = Date.parse(String(row.result.sentAt));
        out.set(row.event_id, {
          done: false,
          sentAt: Number.isNaN(sentAt) ? null : sentAt,
          call: row.result.call === 'links' ? 'links' : 'move',
        });
      }
      return out;
    } catch (e) {
      throw dbError(e, 'reading processed_event');
    }
  }

  /**
   * The write-ahead of an unsafe Odoo call: each invoice's processed_event row is marked pending with the send time,
   * so that a retry (or another instance after a crash) knows a create may be in flight. Fenced: written only while
   * the invoice's partition is still this instance's; an invoice whose mark could not be written is rejected (a
   * zombie's with FencedError) and must not be sent. Returns the invoices that may be sent.
   */
  private async markPendingMany(qs: Queued[], call: PendingCall): Promise<Set<Queued>> {
    const sent = new Set<Queued>();
    const sentAt = new Date(this.now()).toISOString();
    for (const group of byFence(qs)) {
      try {
        await withFencedWrite(this.o.pool, group[0]!.fence, (db) =>
          db.query(
            `INSERT INTO processed_event (consumer, event_id, result)
             SELECT $1, e, r FROM unnest($2::text[], $3::jsonb[]) AS t(e, r)
             ON CONFLICT (consumer, event_id) DO UPDATE SET result = EXCLUDED.result
             WHERE processed_event.result->>'pending' = 'true'`,
            [
              this.consumer,
              group.map((q) => q.event.eventId),
              group.map((q) =>
                JSON.stringify({ invoiceNumber: q.event.invoiceNumber, pending: true, call, sentAt }),
              ),
            ],
          ),
        );
        for (const q of group) sent.add(q);
      } catch (e) {
        const err = e instanceof FencedError ? e : dbError(e, 'writing processed_event (pending)');
        for (const q of group) q.reject(err);
      }
    }
    return sent;
  }

  private async clearPendingMany(qs: Queued[]): Promise<void> {
    await this.o.pool.query(
      `DELETE FROM processed_event WHERE consumer = $1 AND event_id = ANY($2::text[]) AND result->>'pending' = 'true'`,
      [this.consumer, qs.map((q) => q.event.eventId)],
    );
  }

  /**
   * Records the outcomes (fenced like the write-ahead: a zombie records nothing and its invoices fail with
   * FencedError). Each recorded invoice is settled with `outcome` when given; a caller without one settles it.
   */
  private async markProcessedMany(
    items: Array<{ q: Queued; result: Record<string, unknown>; outcome?: LoadOutcome }>,
  ): Promise<void> {
    for (const group of byFence(items.map((i) => ({ ...i, fence: i.q.fence })))) {
      try {
        await withFencedWrite(this.o.pool, group[0]!.fence, (db) =>
          db.query(
            `INSERT INTO processed_event (consumer, event_id, result)
             SELECT $1, e, r FROM unnest($2::text[], $3::jsonb[]) AS t(e, r)
             ON CONFLICT (consumer, event_id) DO UPDATE SET result = EXCLUDED.result, processed_at = now()
             WHERE processed_event.result->>'pending' = 'true'`,
            [
              this.consumer,
              group.map((i) => i.q.event.eventId),
              group.map((i) => JSON.stringify({ invoiceNumber: i.q.event.invoiceNumber, ...i.result })),
            ],
          ),
        );
      } catch (e) {
        const err = e instanceof FencedError ? e : dbError(e, 'writing processed_event');
        if (group.some((i) => !i.outcome)) throw err;
        for (const i of group) i.q.reject(err);
        continue;
      }
      for (const i of group) if (i.outcome) this.settle(i.q, i.outcome);
    }
  }
}
