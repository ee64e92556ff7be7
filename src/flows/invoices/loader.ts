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
 * Failures: Odoo unavailable (5xx, timeouts, connection loss) and transient psycopg2 errors are retriable SyncErrors
 * (the keyed consumer retries them with backoff); a state-database error is wrapped as a retriable DATABASE error.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Pool } from 'pg';
import {
  MalformedEventError,
  PreconditionPendingError,
  ProjectionRejectedError,
  SyncError,
} from '../../domain/errors';
import { OdooUnavailableError } from '../../domain/odoo/errors';
import { componentLogger, type Logger } from '../../core/log';
import { parseTraceparent, TRACEPARENT, withTrace } from '../../core/trace';
import { OdooClient } from '../../adapters/odoo/client';
import { m2oId, charOrNull, type Domain } from '../../domain/odoo/codecs';
import type { InvoiceIssuedEvent } from '../../domain/outbox/events';
import type { EventSchemas } from '../../adapters/registry/schemas';
import type { MessageContext } from '../../adapters/kafka/keyed-consumer';
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
    const codes = invoiceCodes(event);
    const journal = await this.journalRef();
    const [group, accounts, taxes, products] = await Promise.all([
      this.group(codes.groupCode),
      this.byCode(this.accounts, 'account.account', 'code', codes.accountingCodes),
      // as the original: the tax with that oc_code in the company (here: the journal's company)
      this.byCode(
        this.taxes,
        'account.tax',
        'oc_code',
        codes.taxCodes,
        journal?.companyId ? [['company_id', '=', journal.companyId]] : [],
        'sequence, id',
      ),
      this.byCode(this.products, 'product.product', 'default_code', codes.productCodes),
    ]);
    let partnerByRef: InvoiceLookups['partnerByRef'] = null;
    if (!group && this.partnerByRef && codes.customerCode) {
      const rows = await this.odoo.searchRead('res.partner', [['ref', '=', codes.customerCode]], {
        fields: ['ref'],
        limit: 1,
        order: 'id',
      });
      if (rows[0]) partnerByRef = { id: rows[0].id, ref: codes.customerCode };
    }
    const contracts = await this.contracts(codes.subscriptionCodes);
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
   * The group by code and its first contract: `contract_ids[0]` — Odoo reads a one2many in the comodel's order
   * (OCA contract: `code, name`), active contracts only. Not cached: contracts come and go.
   */
  private async group(code: string): Promise<InvoiceGroup | null> {
    const [r] = await this.odoo.searchRead('contract.group', [['code', '=', code]], {
      fields: ['code', 'partner_id', 'contract_ids'],
      limit: 1,
      order: 'id',
    });
    if (!r) return null;
    const contractIds = Array.isArray(r.contract_ids) ? (r.contract_ids as number[]) : [];
    let firstContract: InvoiceGroup['firstContract'] = null;
    if (contractIds[0] !== undefined) {
      const [c] = await this.odoo.read('contract.contract', [contractIds[0]], ['code', 'payment_mode_id']);
      if (c)
        firstContract = {
          id: c.id,
          code: charOrNull(c.code as never),
          paymentModeId: m2oId(c.payment_mode_id as never),
        };
    }
    return { id: r.id, code, partnerId: m2oId(r.partner_id as never), firstContract };
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
      limit: 200,
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

/** The loader's per-message logic (the keyed consumer around it, its stage, lives in stages.ts). */
export class InvoiceLoader {
  private readonly log: Logger;
  readonly consumer: string;
  readonly resolver: InvoiceLookupResolver;
  private readonly limitMs: number;
  private readonly now: () => number;

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
    await this.load(decoded.event as InvoiceIssuedEvent);
  }

  /** Loads one invoice event into Odoo, exactly once. */
  async load(event: InvoiceIssuedEvent): Promise<LoadOutcome> {
    const t0 = this.now();
    const state = await this.processedState(event.eventId);
    if (state?.done) {
      const r: LoadOutcome = { outcome: 'already_processed' };
      this.o.onLoaded?.(event, r);
      return r;
    }
    // A create sent less than Odoo's request limit ago with no recorded outcome may still commit.
    const doubt =
      state && !state.done && state.sentAt !== null && t0 - state.sentAt < this.limitMs
        ? { sentAt: state.sentAt, call: state.call }
        : null;
    const [existing] = await this.o.odoo.search(
      'account.move',
      [
        ['ref', '=', event.invoiceNumber],
        ['move_type', 'in', LOADED_MOVE_TYPES],
      ],
      { limit: 1, order: 'id' },
    );
    if (existing !== undefined) {
      // The move is there: only a links create can still be in flight.
      const repaired = await this.repairLinks(event, existing, doubt?.call === 'links' ? doubt.sentAt : null);
      await this.markProcessed(event, { moveId: existing, existing: true, linksRepaired: repaired });
      const r: LoadOutcome = { outcome: 'existing', moveId: existing, linksRepaired: repaired };
      this.log.info(`invoice ${event.invoiceNumber} already in Odoo (move ${existing}); not created again`);
      this.o.onLoaded?.(event, r);
      return r;
    }
    if (doubt) throw this.stillInDoubt(event, doubt.sentAt, 'the move');
    const lookups = await this.resolver.resolve(event);
    const plan = odooInvoiceFromEvent(event, lookups, this.o.rules);
    if (plan.unknownContracts.length > 0) {
      this.log.warn(
        `invoice ${event.invoiceNumber}: no Odoo contract for ${plan.unknownContracts.join(', ')}; those lines are not linked`,
      );
    }
    await this.duplicateGuard(event, plan);
    // tracking disabled on create, as the original did (no chatter mail)
    const moveId = await this.sendAhead(event, 'move', () =>
      this.o.odoo.create('account.move', plan.vals, {
        context: { tracking_disable: true, mail_create_nolog: true, mail_notrack: true },
      }),
    );
    const links = await this.createLinks(event, moveId, plan, new Set());
    await this.markProcessed(event, { moveId, lines: plan.keptLines, links, moveType: plan.moveType });
    const r: LoadOutcome = { outcome: 'created', moveId, lines: plan.keptLines, links, ms: this.now() - t0 };
    this.log.debug(`invoice ${event.invoiceNumber} → account.move ${moveId}`, {
      lines: plan.keptLines,
      links,
    });
    this.o.onLoaded?.(event, r);
    return r;
  }

  /**
   * The original's guard: another move in the journal with the same invoice date and contract group is a duplicate
   * (the original raised a UserError, "Duplicated invoice for group … and date …"). Our own earlier create of this
   * invoice was found by its ref before, so what is found here is another invoice: rejected, nothing created.
   */
  private async duplicateGuard(event: InvoiceIssuedEvent, plan: OdooInvoicePlan): Promise<void> {
    const key = plan.duplicateKey;
    if (!key) return;
    const [other] = await this.o.odoo.searchRead(
      'account.move',
      [
        ['invoice_date', '=', key.invoiceDate],
        ['contract_group_id', '=', key.groupId],
        ['journal_id', '=', key.journalId],
      ],
      { fields: ['ref', 'name', 'move_type'], limit: 1, order: 'id' },
    );
    if (!other) return;
    const groupCode = event.customerAccountCode ?? event.billingAccountCode;
    const otherRef = charOrNull(other.ref as never);
    throw new ProjectionRejectedError(
      `invoice ${event.invoiceNumber} cannot be loaded into Odoo: duplicated invoice for contract group "${groupCode}" ` +
        `and date ${key.invoiceDate}: account.move ${other.id}${otherRef ? ` (ref "${otherRef}")` : ''} is already in ` +
        `that journal, and the original import refuses a second one`,
      {
        invoiceNumber: event.invoiceNumber,
        eventId: event.eventId,
        duplicateOf: other.id,
        duplicateRef: otherRef,
      },
    );
  }

  private stillInDoubt(event: InvoiceIssuedEvent, sentAt: number, what: string): PreconditionPendingError {
    return new PreconditionPendingError(
      `invoice ${event.invoiceNumber}: a create sent at ${new Date(sentAt).toISOString()} got no answer and ` +
        `${what} is not in Odoo yet; not sent again before Odoo's request time limit (${this.limitMs} ms) has passed`,
      { invoiceNumber: event.invoiceNumber, sentAt, limitMs: this.limitMs },
    );
  }

  /**
   * Sends an unsafe Odoo call written ahead: the processed_event row is marked pending with the send time first, so
   * that a retry (or another instance after a crash) knows a create may be in flight. An answered error ends the
   * request (the mark is dropped); a lost answer keeps it, with the time of the failure.
   */
  private async sendAhead<T>(
    event: InvoiceIssuedEvent,
    what: PendingCall,
    call: () => Promise<T>,
  ): Promise<T> {
    await this.markPending(event, this.now(), what);
    try {
      return await call();
    } catch (e) {
      if (answerLost(e)) await this.markPending(event, this.now(), what).catch(() => undefined);
      else await this.clearPending(event).catch(() => undefined);
      throw e;
    }
  }

  /** Links each created invoice line to its contracts; `done` = "lineId:contractId" pairs already linked. */
  private async createLinks(
    event: InvoiceIssuedEvent,
    moveId: number,
    plan: OdooInvoicePlan,
    done: Set<string>,
    inDoubtSince: number | null = null,
  ): Promise<number> {
    if (!plan.lineContracts.some((c) => c.length > 0)) return 0;
    const [move] = await this.o.odoo.read('account.move', [moveId], ['invoice_line_ids']);
    const lineIds = ((move?.invoice_line_ids as number[] | undefined) ?? []).slice().sort((a, b) => a - b);
    if (lineIds.length !== plan.lineContracts.length) {
      this.log.warn(
        `move ${moveId} has ${lineIds.length} invoice lines, expected ${plan.lineContracts.length}; contract links skipped`,
      );
      return 0;
    }
    const vals: Array<Record<string, unknown>> = [];
    plan.lineContracts.forEach((contracts, i) => {
      for (const c of contracts) {
        if (!done.has(`${lineIds[i]}:${c}`))
          vals.push({ account_invoice_line_id: lineIds[i], contract_id: c });
      }
    });
    if (vals.length === 0) return 0;
    if (inDoubtSince !== null) throw this.stillInDoubt(event, inDoubtSince, 'a contract link');
    await this.sendAhead(event, 'links', () => this.o.odoo.createMany(CONTRACT_LINK_MODEL, vals));
    return vals.length;
  }

  /** After a crash or a lost answer between the create and the links: add the links that are missing. */
  private async repairLinks(
    event: InvoiceIssuedEvent,
    moveId: number,
    inDoubtSince: number | null,
  ): Promise<number> {
    let plan: OdooInvoicePlan;
    try {
      plan = odooInvoiceFromEvent(event, await this.resolver.resolve(event), this.o.rules);
    } catch (e) {
      if (e instanceof SyncError && !e.retriable) return 0;
      throw e;
    }
    if (!plan.lineContracts.some((c) => c.length > 0)) return 0;
    const [move] = await this.o.odoo.read('account.move', [moveId], ['invoice_line_ids']);
    const lineIds = (move?.invoice_line_ids as number[] | undefined) ?? [];
    const existing = lineIds.length
      ? await this.o.odoo.searchRead(CONTRACT_LINK_MODEL, [['account_invoice_line_id', 'in', lineIds]], {
          fields: ['account_invoice_line_id', 'contract_id'],
        })
      : [];
    const done = new Set(
      existing.map((r) => `${m2oId(r.account_invoice_line_id as never)}:${m2oId(r.contract_id as never)}`),
    );
    return this.createLinks(event, moveId, plan, done, inDoubtSince);
  }

  private async processedState(eventId: string): Promise<ProcessedState | null> {
    try {
      const r = await this.o.pool.query<{ result: Record<string, unknown> | null }>(
        'SELECT result FROM processed_event WHERE consumer = $1 AND event_id = $2',
        [this.consumer, eventId],
      );
      const row = r.rows[0];
      if (!row) return null;
      if (row.result?.pending !== true) return { done: true };
      const sentAt = Date.parse(String(row.result.sentAt));
      return {
        done: false,
        sentAt: Number.isNaN(sentAt) ? null : sentAt,
        call: row.result.call === 'links' ? 'links' : 'move',
      };
    } catch (e) {
      throw dbError(e, 'reading processed_event');
    }
  }

  private async markPending(event: InvoiceIssuedEvent, sentAt: number, call: PendingCall): Promise<void> {
    try {
      await this.o.pool.query(
        `INSERT INTO processed_event (consumer, event_id, result) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (consumer, event_id) DO UPDATE SET result = EXCLUDED.result
         WHERE processed_event.result->>'pending' = 'true'`,
        [
          this.consumer,
          event.eventId,
          JSON.stringify({
            invoiceNumber: event.invoiceNumber,
            pending: true,
            call,
            sentAt: new Date(sentAt).toISOString(),
          }),
        ],
      );
    } catch (e) {
      throw dbError(e, 'writing processed_event (pending)');
    }
  }

  private async clearPending(event: InvoiceIssuedEvent): Promise<void> {
    await this.o.pool.query(
      `DELETE FROM processed_event WHERE consumer = $1 AND event_id = $2 AND result->>'pending' = 'true'`,
      [this.consumer, event.eventId],
    );
  }

  private async markProcessed(event: InvoiceIssuedEvent, result: Record<string, unknown>): Promise<void> {
    try {
      await this.o.pool.query(
        `INSERT INTO processed_event (consumer, event_id, result) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (consumer, event_id) DO UPDATE SET result = EXCLUDED.result, processed_at = now()
         WHERE processed_event.result->>'pending' = 'true'`,
        [this.consumer, event.eventId, JSON.stringify({ invoiceNumber: event.invoiceNumber, ...result })],
      );
    } catch (e) {
      throw dbError(e, 'writing processed_event');
    }
  }
}
