import type * as t from 'io-ts';
import { OpenCellBusinessError } from '../../domain/errors';
import * as C from '../../domain/opencell/codecs';
import type {
  AccessDto,
  ActivateServicesRequestDto,
  ApplyOneShotChargeInstanceRequestDto,
  CRMAccountHierarchyDto,
  CustomerDto,
  OcDateIn,
  PagingAndFilteringDto,
  SubscriptionDto,
  TerminateSubscriptionRequestDto,
  TerminateSubscriptionServicesRequestDto,
} from '../../domain/opencell/dto';
import {
  fillPath,
  OPENCELL_OPERATIONS,
  type OpenCellOperationName,
  type OpenCellOperations,
  type OpenCellOperationSpec,
} from '../../domain/opencell/operations';
import { OpenCellHttp, type CallObserver, type OpenCellClientConfig, type Query } from './http';

export type { OpenCellClientConfig, CallObserver, CallEvent, CallOutcome } from './http';

export interface Page<T> {
  items: T[];
  /**
   * totalNumberOfRecords as reported by OpenCell; undefined when the response has none (some versions omit it).
   * Never a stop condition: read until a short or empty page.
   */
  total?: number;
  offset: number;
  limit: number;
}

export interface InvoiceQuery {
  /** Inclusive start of the invoiceDate range ("yyyy-MM-dd", epoch ms or a Date). */
  from: OcDateIn | Date;
  /** Exclusive end of the invoiceDate range. */
  to: OcDateIn | Date;
  billingAccountCode?: string;
  offset?: number;
  /** Page size; OpenCell's default is 100. */
  limit?: number;
  sortBy?: string;
  sortOrder?: 'ASCENDING' | 'DESCENDING';
  /** Adds `fields=pdf` so each listed invoice carries its base64 PDF (heavy). */
  includePdf?: boolean;
  /** Adds `fields=transactions` (rated transactions inside the sub-category aggregates). */
  includeTransactions?: boolean;
}

export interface SubscriptionQuery {
  /** Filters on `userAccount.code`. */
  userAccountCode?: string;
  /** Extra equality filters on JPA field names, e.g. `{ status: 'ACTIVE' }`. */
  filters?: Record<string, string>;
  offset?: number;
  limit?: number;
  sortBy?: string;
  sortOrder?: 'ASCENDING' | 'DESCENDING';
}

export type ActionStatus = C.ActionStatus;

/** "yyyy-MM-dd" (UTC) for a Date; other inputs are passed through. */
export function toOcDate(d: OcDateIn | Date): OcDateIn {
  return d instanceof Date ? d.toISOString().slice(0, 10) : d;
}

function isNotFound(err: unknown): boolean {
  return err instanceof OpenCellBusinessError && err.errorCode === 'ENTITY_DOES_NOT_EXISTS_EXCEPTION';
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Production client for OpenCell's classic REST API (`{baseUrl}/api/rest/...`), one method per call the
 * integration makes. It never retries: errors are SyncErrors whose `retriable` / `retryAfterMs` drive the
 * pipeline's retry policy. Single-entity reads return `null` when OpenCell answers ENTITY_DOES_NOT_EXISTS.
 */
export class OpenCellClient {
  readonly #http: OpenCellHttp;

  constructor(config: OpenCellClientConfig, opts: { observer?: CallObserver } = {}) {
    this.#http = new OpenCellHttp(config);
    if (opts.observer) this.#http.observe(opts.observer);
  }

  /** Adds a per-call observer (endpoint, outcome, duration); returns the unsubscribe function. */
  onCall(observer: CallObserver): () => void {
    return this.#http.observe(observer);
  }

  /** Closes the keep-alive sockets. */
  close(): void {
    this.#http.close();
  }

  toJSON(): Record<string, unknown> {
    return this.#http.toJSON();
  }

  /** One call of the operation catalogue: its method, path, response codec and endpoint name come from there. */
  #call<K extends OpenCellOperationName>(
    name: K,
    opts: { query?: Query; body?: unknown; params?: Record<string, string> } = {},
  ): Promise<t.TypeOf<OpenCellOperations[K]['response']>> {
    const spec: OpenCellOperationSpec = OPENCELL_OPERATIONS[name];
    return this.#http.request(spec.endpoint, spec.method, fillPath(spec.path, opts.params), spec.response, {
      query: opts.query,
      body: opts.body,
    });
  }

  /** GET /{resource}/version: "Opencell Rest API version X commit Y". */
  async version(): Promise<string> {
    const s = await this.#call('version');
    return s.message ?? '';
  }

  // ---------------------------------------------------------------- customers & account hierarchy

  /** GET /account/customer?customerCode=…&includeCustomerAccounts=true; null when the customer does not exist. */
  getCustomer(code: string, opts: { includeCustomerAccounts?: boolean } = {}): Promise<C.Customer | null> {
    return orNull(
      this.#call('getCustomer', {
        query: { customerCode: code, includeCustomerAccounts: opts.includeCustomerAccounts ?? true },
      }).then((r) => r.customer),
    );
  }

  /**
   * GET /account/customer/category/{code}; null when OpenCell has no such category. The projector's readiness
   * check reads the configured category (OPENCELL_CUSTOMER_CATEGORY): without it every customer creation fails.
   */
  getCustomerCategory(code: string): Promise<C.CustomerCategory | null> {
    return orNull(this.#call('getCustomerCategory', { params: { code } }).then((r) => r.customerCategory));
  }

  createCustomer(dto: CustomerDto): Promise<ActionStatus> {
    return this.#call('createCustomer', { body: dto });
  }

  updateCustomer(dto: CustomerDto): Promise<ActionStatus> {
    return this.#call('updateCustomer', { body: dto });
  }

  getCustomerAccount(code: string): Promise<C.CustomerAccount | null> {
    return orNull(
      this.#call('getCustomerAccount', {
        query: { customerAccountCode: code },
      }).then((r) => r.customerAccount),
    );
  }

  getBillingAccount(code: string): Promise<C.BillingAccount | null> {
    return orNull(
      this.#call('getBillingAccount', {
        query: { billingAccountCode: code },
      }).then((r) => r.billingAccount),
    );
  }

  getUserAccount(code: string): Promise<C.UserAccount | null> {
    return orNull(
      this.#call('getUserAccount', {
        query: { userAccountCode: code },
      }).then((r) => r.userAccount),
    );
  }

  createCrmAccountHierarchy(dto: CRMAccountHierarchyDto): Promise<ActionStatus> {
    return this.#call('createCrmAccountHierarchy', { body: dto });
  }

  updateCrmAccountHierarchy(dto: CRMAccountHierarchyDto): Promise<ActionStatus> {
    return this.#call('updateCrmAccountHierarchy', { body: dto });
  }

  createOrUpdateCrmAccountHierarchy(dto: CRMAccountHierarchyDto): Promise<ActionStatus> {
    return this.#call('createOrUpdateCrmAccountHierarchy', { body: dto });
  }

  // ---------------------------------------------------------------- subscriptions

  /** GET /billing/subscription?subscriptionCode=…; null when it does not exist. */
  getSubscription(code: string): Promise<C.Subscription | null> {
    return orNull(
      this.#call('getSubscription', {
        query: { subscriptionCode: code },
      }).then((r) => r.subscription),
    );
  }

  /** POST /billing/subscription/list with equality filters (e.g. `userAccount.code` + `status: ACTIVE`). */
  async listSubscriptions(q: SubscriptionQuery = {}): Promise<Page<C.Subscription>> {
    const filters: Record<string, string> = { ...(q.filters ?? {}) };
    if (q.userAccountCode !== undefined) filters['userAccount.code'] = q.userAccountCode;
    const body: PagingAndFilteringDto = {
      filters,
      offset: q.offset ?? 0,
      limit: q.limit ?? 100,
      sortBy: q.sortBy ?? 'code',
      sortOrder: q.sortOrder ?? 'ASCENDING',
    };
    const r = await this.#call('listSubscriptions', {
      body,
    });
    const items = r.subscriptions?.subscription ?? [];
    return {
      items,
      total: r.paging?.totalNumberOfRecords ?? r.subscriptions?.listSize ?? items.length,
      offset: r.paging?.offset ?? body.offset ?? 0,
      limit: r.paging?.limit ?? body.limit ?? 100,
    };
  }

  createSubscription(dto: SubscriptionDto): Promise<ActionStatus> {
    return this.#call('createSubscription', {
      body: dto,
    });
  }

  /** PUT /billing/subscription. OpenCell requires `subscriptionDate` and overwrites description/endAgreementDate. */
  updateSubscription(dto: SubscriptionDto): Promise<ActionStatus> {
    return this.#call('updateSubscription', { body: dto });
  }

  activateServices(dto: ActivateServicesRequestDto): Promise<ActionStatus> {
    return this.#call('activateServices', {
      body: dto,
    });
  }

  terminateSubscription(dto: TerminateSubscriptionRequestDto): Promise<ActionStatus> {
    return this.#call('terminateSubscription', {
      body: dto,
    });
  }

  terminateServices(dto: TerminateSubscriptionServicesRequestDto): Promise<ActionStatus> {
    return this.#call('terminateServices', {
      body: dto,
    });
  }

  /** The one-shot charges applied to a subscription (GET listOneshotChargeOthers?subscriptionCode=…). */
  async listOneShotChargeInstances(subscriptionCode: string): Promise<C.OneShotChargeInstance[]> {
    const r = await this.#call('listOneShotChargeInstances', { query: { subscriptionCode } });
    return r.oneshotChargeInstances ?? [];
  }

  applyOneShotChargeInstance(dto: ApplyOneShotChargeInstanceRequestDto): Promise<ActionStatus> {
    return this.#call('applyOneShotChargeInstance', { body: dto });
  }

  // ---------------------------------------------------------------- access points

  createAccess(dto: AccessDto): Promise<ActionStatus> {
    return this.#call('createAccess', { body: dto });
  }

  /**
   * DELETE /account/access/{code}/{subscriptionCode}/{startDate}/{endDate} (8.x+ form). Absent dates are sent as
   * open bounds, which match any access with that code on the subscription.
   */
  deleteAccess(
    code: string,
    subscriptionCode: string,
    period: { startDate?: OcDateIn | Date; endDate?: OcDateIn | Date } = {},
  ): Promise<ActionStatus> {
    const seg = (d: OcDateIn | Date | undefined) => (d === undefined ? 'null' : String(toOcDate(d)));
    return this.#call('deleteAccess', {
      params: { code, subscriptionCode, startDate: seg(period.startDate), endDate: seg(period.endDate) },
    });
  }

  /** GET /account/access?accessCode=…&subscriptionCode=…; null when not found. */
  getAccess(
    code: string,
    subscriptionCode: string,
    opts: { usageDate?: OcDateIn | Date } = {},
  ): Promise<C.Access | null> {
    return orNull(
      this.#call('getAccess', {
        query: {
          accessCode: code,
          subscriptionCode,
          usageDate: opts.usageDate === undefined ? undefined : String(toOcDate(opts.usageDate)),
        },
      }).then((r) => r.access),
    );
  }

  async listAccesses(subscriptionCode: string): Promise<C.Access[]> {
    const r = await this.#call('listAccesses', {
      query: { subscriptionCode },
    });
    return r.accesses?.access ?? [];
  }

  // ---------------------------------------------------------------- catalog

  /** GET /catalog/offerTemplate (reads both the 11.x flattened and the ≤10.x wrapped shapes). */
  getOfferTemplate(code: string): Promise<C.OfferTemplate | null> {
    return orNull(
      this.#call('getOfferTemplate', {
        query: { offerTemplateCode: code, loadOfferServiceTemplate: true },
      }),
    );
  }

  async listOfferTemplates(paging: PagingAndFilteringDto = {}): Promise<Page<C.OfferTemplate>> {
    const body: PagingAndFilteringDto = { offset: 0, limit: 100, ...paging };
    const r = await this.#call('listOfferTemplates', {
      body,
    });
    return toPage(r.offerTemplate ?? [], r.paging, body);
  }

  getServiceTemplate(code: string): Promise<C.ServiceTemplate | null> {
    return orNull(
      this.#call('getServiceTemplate', {
        query: { serviceTemplateCode: code },
      }).then((r) => r.serviceTemplate),
    );
  }

  async listServiceTemplates(paging: PagingAndFilteringDto = {}): Promise<Page<C.ServiceTemplate>> {
    const body: PagingAndFilteringDto = { offset: 0, limit: 100, ...paging };
    const r = await this.#call('listServiceTemplates', { body });
    return toPage(r.listServiceTemplate ?? [], r.paging, body);
  }

  getOneShotChargeTemplate(code: string): Promise<C.OneShotChargeTemplate | null> {
    return orNull(
      this.#call('getOneShotChargeTemplate', {
        query: { oneShotChargeTemplateCode: code },
      }).then((r) => r.oneShotChargeTemplate),
    );
  }

  async listOneShotChargeTemplates(
    opts: { offset?: number; limit?: number } = {},
  ): Promise<Page<C.OneShotChargeTemplate>> {
    const query = { offset: opts.offset ?? 0, limit: opts.limit ?? 100 };
    const r = await this.#call('listOneShotChargeTemplates', { query });
    return toPage(r.oneShotChargeTemplates?.oneShotChargeTemplates ?? [], r.paging, query);
  }

  // ---------------------------------------------------------------- invoices

  /** POST /invoice/list with `fromRange invoiceDate` (inclusive) / `toRange invoiceDate` (exclusive). One page. */
  async listInvoices(q: InvoiceQuery): Promise<Page<C.Invoice>> {
    const filters: Record<string, unknown> = {
      'fromRange invoiceDate': toOcDate(q.from),
      'toRange invoiceDate': toOcDate(q.to),
    };
    if (q.billingAccountCode !== undefined) filters['billingAccount.code'] = q.billingAccountCode;
    const fields = [
      q.includePdf ? 'pdf' : undefined,
      q.includeTransactions ? 'transactions' : undefined,
    ].filter(Boolean);
    const body: PagingAndFilteringDto = {
      filters,
      offset: q.offset ?? 0,
      limit: q.limit ?? 100,
      sortBy: q.sortBy ?? 'id',
      sortOrder: q.sortOrder ?? 'ASCENDING',
      ...(fields.length ? { fields: fields.join(',') } : {}),
    };
    const r = await this.#call('listInvoices', {
      body,
    });
    return toPage(r.invoices ?? [], r.paging, body);
  }

  /**
   * The billing run of each invoice (by OpenCell invoice id), which InvoiceDto does not carry: API v2 generic search
   * on the Invoice entity (`inList id`, fields id and billingRun), 100 ids a call. Invoice id → billing run id.
   */
  async invoiceBillingRuns(invoiceIds: number[]): Promise<Map<number, string | null>> {
    const out = new Map<number, string | null>();
    for (let i = 0; i < invoiceIds.length; i += 100) {
      const ids = invoiceIds.slice(i, i + 100);
      const r = await this.#call('listInvoiceBillingRuns', {
        body: {
          filters: { 'inList id': ids },
          genericFields: ['id', 'billingRun'],
          offset: 0,
          limit: ids.length,
        },
      });
      for (const row of r.data) {
        const run = row.billingRun;
        out.set(
          row.id,
          run === null || run === undefined ? null : String(typeof run === 'number' ? run : run.id),
        );
      }
    }
    return out;
  }

  /** Every invoice of the range, page after page (stable order by id). */
  async *iterateInvoices(q: Omit<InvoiceQuery, 'offset'>): AsyncGenerator<C.Invoice> {
    const limit = q.limit ?? 100;
    let offset = 0;
    for (;;) {
      const page = await this.listInvoices({ ...q, offset, limit, sortBy: q.sortBy ?? 'id' });
      for (const inv of page.items) yield inv;
      offset += page.items.length;
      if (page.items.length < limit) return; // a full page may be followed by more, whatever the total says
    }
  }

  /**
   * GET /invoice?invoiceNumber=…&invoiceType=COM[&includePdf=true]; null when not found. 11.x needs the type;
   * with `includePdf` the base64 PDF is in `invoice.pdf`.
   */
  getInvoiceByNumber(
    invoiceNumber: string,
    opts: { includePdf?: boolean; invoiceType?: string; includeTransactions?: boolean } = {},
  ): Promise<C.Invoice | null> {
    return orNull(
      this.#call('getInvoice', {
        query: {
          invoiceNumber,
          invoiceType: opts.invoiceType ?? 'COM',
          includePdf: opts.includePdf ?? false,
          includeTransactions: opts.includeTransactions ? true : undefined,
        },
      }).then((r) => r.invoice),
    );
  }

  /** The invoice's PDF bytes, or null when the invoice does not exist or has no PDF yet. */
  async getInvoicePdf(invoiceNumber: string, invoiceType = 'COM'): Promise<Buffer | null> {
    const inv = await this.getInvoiceByNumber(invoiceNumber, { includePdf: true, invoiceType });
    return inv?.pdf ? Buffer.from(inv.pdf, 'base64') : null;
  }
}

function toPage<T>(
  items: T[],
  paging: C.Paging | null | undefined,
  req: { offset?: number; limit?: number },
): Page<T> {
  return {
    items,
    total: paging?.totalNumberOfRecords ?? undefined,
    offset: paging?.offset ?? req.offset ?? 0,
    limit: paging?.limit ?? req.limit ?? 100,
  };
}
