/**
 * The invoice loader: a keyed consumer group (`invoice-loader`) on the invoice events topic that creates each
 * invoice in Odoo through the production JSON-RPC client, exactly once.
 *
 * Per event (key = invoice number, so one invoice's events are handled in order by one member):
 * 1. decode through the schema registry (a message that does not decode → dead letter);
 * 2. processed_event (consumer = the group, event id) already there → done;
 * 3. an out_invoice with ref = the invoice number already in Odoo → its contract links are completed if a crash
 *    interrupted them, the event is recorded as processed, done (this guard covers a crash between the Odoo create
 *    and the processed_event insert, and a lost processed_event table);
 * 4. resolve the lookups (journal, group / partner, accounts, taxes, products, contracts; small TTL caches for the
 *    stable ones), map (odooInvoiceFromEvent — unknown codes → ProjectionRejectedError → dead letter with the
 *    reason, the partition moves on), create the draft move, link its lines to their contracts, record the event.
 *
 * Failures: Odoo unavailable (5xx, timeouts, connection loss) and transient psycopg2 errors are retriable SyncErrors
 * (the keyed consumer retries them with backoff); a state-database error is wrapped as a retriable DATABASE error.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Pool } from 'pg';
import { MalformedEventError, SyncError } from '../../domain/errors';
import { componentLogger, type Logger } from '../../core/log';
import { OdooClient } from '../../adapters/odoo/client';
import { m2oId, charOrNull, type Domain } from '../../domain/odoo/codecs';
import type { InvoiceIssuedEvent } from '../../domain/outbox/events';
import type { EventSchemas } from '../../adapters/registry/schemas';
import type { MessageContext } from '../../adapters/kafka/keyed-consumer';
import {
  invoiceCodes,
  odooInvoiceFromEvent,
  type ContractInfo,
  type InvoiceLookups,
  type OdooInvoicePlan,
} from '../../domain/invoices/odoo-invoice';

export const INVOICE_LOADER_GROUP = 'invoice-loader';
/** The journal of the original process (invoice_somconnexio.customer_services_invoices_journal). */
export const DEFAULT_INVOICE_JOURNAL_CODE = 'SERV';
export const CONTRACT_LINK_MODEL = 'contract.account.invoice.line.relation';

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
  journalCode?: string;
  /** TTL of the journal / account / tax / product / group caches (default 10 min). */
  cacheTtlMs?: number;
}

/** Resolves the lookups of an event through the Odoo client; batch queries for the cache misses. */
export class InvoiceLookupResolver {
  readonly journalCode: string;
  private readonly journal: TtlCache<number>;
  private readonly accounts: TtlCache<number>;
  private readonly taxes: TtlCache<number>;
  private readonly products: TtlCache<number>;
  private readonly groups: TtlCache<{ id: number; code: string; partnerId: number | null }>;

  constructor(
    private readonly odoo: OdooRpc,
    opts: InvoiceLookupResolverOptions = {},
  ) {
    this.journalCode = opts.journalCode ?? DEFAULT_INVOICE_JOURNAL_CODE;
    const ttl = opts.cacheTtlMs ?? 600_000;
    this.journal = new TtlCache(ttl);
    this.accounts = new TtlCache(ttl);
    this.taxes = new TtlCache(ttl);
    this.products = new TtlCache(ttl);
    this.groups = new TtlCache(ttl);
  }

  clearCaches(): void {
    for (const c of [this.journal, this.accounts, this.taxes, this.products, this.groups]) c.clear();
  }

  async resolve(event: InvoiceIssuedEvent): Promise<InvoiceLookups> {
    const codes = invoiceCodes(event);
    const [journalId, group, accounts, taxes, products] = await Promise.all([
      this.journalId(),
      this.group(codes.groupCode),
      this.byCode(this.accounts, 'account.account', 'code', codes.accountingCodes),
      this.byCode(this.taxes, 'account.tax', 'oc_code', codes.taxCodes, [['type_tax_use', '=', 'sale']]),
      this.byCode(this.products, 'product.product', 'default_code', codes.productCodes),
    ]);
    let partnerByRef: InvoiceLookups['partnerByRef'] = null;
    if (!group && codes.customerCode) {
      const rows = await this.odoo.searchRead('res.partner', [['ref', '=', codes.customerCode]], {
        fields: ['ref'],
        limit: 1,
        order: 'id',
      });
      if (rows[0]) partnerByRef = { id: rows[0].id, ref: codes.customerCode };
    }
    const contracts = await this.contracts(codes.subscriptionCodes, group?.id ?? null);
    return {
      journalId,
      journalCode: this.journalCode,
      group,
      partnerByRef,
      accounts,
      taxes,
      products,
      contracts,
    };
  }

  private async journalId(): Promise<number | null> {
    const hit = this.journal.get(this.journalCode);
    if (hit !== undefined) return hit;
    const ids = await this.odoo.search(
      'account.journal',
      [
        ['code', '=', this.journalCode],
        ['type', '=', 'sale'],
      ],
      { limit: 1 },
    );
    if (ids[0] !== undefined) this.journal.set(this.journalCode, ids[0]);
    return ids[0] ?? null;
  }

  private async group(code: string): Promise<InvoiceLookups['group']> {
    const hit = this.groups.get(code);
    if (hit) return hit;
    const rows = await this.odoo.searchRead('contract.group', [['code', '=', code]], {
      fields: ['code', 'partner_id'],
      limit: 1,
      order: 'id',
    });
    const r = rows[0];
    if (!r) return null;
    const g = { id: r.id, code, partnerId: m2oId(r.partner_id as never) };
    this.groups.set(code, g);
    return g;
  }

  private async byCode(
    cache: TtlCache<number>,
    model: string,
    field: string,
    codes: string[],
    extra: Domain = [],
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
        order: 'id',
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

  /** The invoice's contracts by code, plus the group's first contract (payment mode); not cached (they change). */
  private async contracts(codes: string[], groupId: number | null): Promise<Map<string, ContractInfo>> {
    const out = new Map<string, ContractInfo>();
    if (codes.length === 0 && groupId === null) return out;
    const domain: Domain =
      groupId === null
        ? [['code', 'in', codes]]
        : codes.length === 0
          ? [['contract_group_id', '=', groupId]]
          : ['|', ['code', 'in', codes], ['contract_group_id', '=', groupId]];
    const rows = await this.odoo.searchRead('contract.contract', domain, {
      fields: ['code', 'contract_group_id', 'mandate_id', 'payment_mode_id', 'email_ids'],
      order: 'id',
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
      if (!code) continue;
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
  journalCode?: string;
  onLoaded?: (event: InvoiceIssuedEvent, r: LoadOutcome) => void;
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

/** The loader's per-message logic (the keyed consumer around it, its stage, lives in stages.ts). */
export class InvoiceLoader {
  private readonly log: Logger;
  readonly consumer: string;
  readonly resolver: InvoiceLookupResolver;

  constructor(private readonly o: InvoiceLoaderOptions) {
    this.log = o.log ?? componentLogger('invoice-loader');
    this.consumer = o.consumer ?? INVOICE_LOADER_GROUP;
    this.resolver = o.resolver ?? new InvoiceLookupResolver(o.odoo, { journalCode: o.journalCode });
  }

  /** KeyedConsumer handler: decode, then load. */
  async handleMessage(message: KafkaMessage, ctx: MessageContext): Promise<void> {
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
    const t0 = Date.now();
    if (await this.isProcessed(event.eventId)) {
      const r: LoadOutcome = { outcome: 'already_processed' };
      this.o.onLoaded?.(event, r);
      return r;
    }
    const [existing] = await this.o.odoo.search(
      'account.move',
      [
        ['move_type', '=', 'out_invoice'],
        ['ref', '=', event.invoiceNumber],
      ],
      { limit: 1, order: 'id' },
    );
    if (existing !== undefined) {
      const repaired = await this.repairLinks(event, existing);
      await this.markProcessed(event, { moveId: existing, existing: true, linksRepaired: repaired });
      const r: LoadOutcome = { outcome: 'existing', moveId: existing, linksRepaired: repaired };
      this.log.info(`invoice ${event.invoiceNumber} already in Odoo (move ${existing}); not created again`);
      this.o.onLoaded?.(event, r);
      return r;
    }
    const lookups = await this.resolver.resolve(event);
    const plan = odooInvoiceFromEvent(event, lookups);
    if (plan.unknownContracts.length > 0) {
      this.log.warn(
        `invoice ${event.invoiceNumber}: no Odoo contract for ${plan.unknownContracts.join(', ')}; those lines are not linked`,
      );
    }
    // tracking disabled on create, as the original did (no chatter mail)
    const moveId = await this.o.odoo.create('account.move', plan.vals, {
      context: { tracking_disable: true, mail_create_nolog: true, mail_notrack: true },
    });
    const links = await this.createLinks(moveId, plan, new Set());
    await this.markProcessed(event, { moveId, lines: plan.keptLines, links });
    const r: LoadOutcome = { outcome: 'created', moveId, lines: plan.keptLines, links, ms: Date.now() - t0 };
    this.log.debug(`invoice ${event.invoiceNumber} → account.move ${moveId}`, {
      lines: plan.keptLines,
      links,
    });
    this.o.onLoaded?.(event, r);
    return r;
  }

  /** Links each created invoice line to its contracts; `done` = "lineId:contractId" pairs already linked. */
  private async createLinks(moveId: number, plan: OdooInvoicePlan, done: Set<string>): Promise<number> {
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
    if (vals.length > 0) await this.o.odoo.createMany(CONTRACT_LINK_MODEL, vals);
    return vals.length;
  }

  /** After a crash between the create and the links: add the links that are missing (best effort). */
  private async repairLinks(event: InvoiceIssuedEvent, moveId: number): Promise<number> {
    let plan: OdooInvoicePlan;
    try {
      plan = odooInvoiceFromEvent(event, await this.resolver.resolve(event));
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
    return this.createLinks(moveId, plan, done);
  }

  private async isProcessed(eventId: string): Promise<boolean> {
    try {
      const r = await this.o.pool.query(
        'SELECT 1 FROM processed_event WHERE consumer = $1 AND event_id = $2',
        [this.consumer, eventId],
      );
      return (r.rowCount ?? 0) > 0;
    } catch (e) {
      throw dbError(e, 'reading processed_event');
    }
  }

  private async markProcessed(event: InvoiceIssuedEvent, result: Record<string, unknown>): Promise<void> {
    try {
      await this.o.pool.query(
        `INSERT INTO processed_event (consumer, event_id, result) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (consumer, event_id) DO NOTHING`,
        [this.consumer, event.eventId, JSON.stringify({ invoiceNumber: event.invoiceNumber, ...result })],
      );
    } catch (e) {
      throw dbError(e, 'writing processed_event');
    }
  }
}
