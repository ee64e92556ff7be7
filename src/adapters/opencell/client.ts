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
import { OpenCellHttp, type CallObserver, type OpenCellClientConfig } from './http';

export type { OpenCellClientConfig, CallObserver, CallEvent, CallOutcome } from './http';

export interface Page<T> {
  items: T[];
  /** totalNumberOfRecords as reported by OpenCell (falls back to the number of items). */
  total: number;
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

const OkStatus = C.ActionStatus;
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

  /** GET /{resource}/version: "Opencell Rest API version X commit Y". */
  async version(): Promise<string> {
    const s = await this.#http.request('version', 'GET', '/billing/subscription/version', OkStatus);
    return s.message ?? '';
  }

  // ---------------------------------------------------------------- customers & account hierarchy

  /** GET /account/customer?customerCode=…&includeCustomerAccounts=true; null when the customer does not exist. */
  getCustomer(code: string, opts: { includeCustomerAccounts?: boolean } = {}): Promise<C.Customer | null> {
    return orNull(
      this.#http
        .request('customer.get', 'GET', '/account/customer', C.GetCustomerResponse, {
          query: { customerCode: code, includeCustomerAccounts: opts.includeCustomerAccounts ?? true },
        })
        .then((r) => r.customer),
    );
  }

  createCustomer(dto: CustomerDto): Promise<ActionStatus> {
    return this.#http.request('customer.create', 'POST', '/account/customer', OkStatus, { body: dto });
  }

  updateCustomer(dto: CustomerDto): Promise<ActionStatus> {
    return this.#http.request('customer.update', 'PUT', '/account/customer', OkStatus, { body: dto });
  }

  getCustomerAccount(code: string): Promise<C.CustomerAccount | null> {
    return orNull(
      this.#http
        .request('customerAccount.get', 'GET', '/account/customerAccount', C.GetCustomerAccountResponse, {
          query: { customerAccountCode: code },
        })
        .then((r) => r.customerAccount),
    );
  }

  getBillingAccount(code: string): Promise<C.BillingAccount | null> {
    return orNull(
      this.#http
        .request('billingAccount.get', 'GET', '/account/billingAccount', C.GetBillingAccountResponse, {
          query: { billingAccountCode: code },
        })
        .then((r) => r.billingAccount),
    );
  }

  getUserAccount(code: string): Promise<C.UserAccount | null> {
    return orNull(
      this.#http
        .request('userAccount.get', 'GET', '/account/userAccount', C.GetUserAccountResponse, {
          query: { userAccountCode: code },
        })
        .then((r) => r.userAccount),
    );
  }

  createCrmAccountHierarchy(dto: CRMAccountHierarchyDto): Promise<ActionStatus> {
    return this.#http.request(
      'crmAccountHierarchy.create',
      'POST',
      '/account/accountHierarchy/createCRMAccountHierarchy',
      OkStatus,
      { body: dto },
    );
  }

  updateCrmAccountHierarchy(dto: CRMAccountHierarchyDto): Promise<ActionStatus> {
    return this.#http.request(
      'crmAccountHierarchy.update',
      'POST',
      '/account/accountHierarchy/updateCRMAccountHierarchy',
      OkStatus,
      { body: dto },
    );
  }

  createOrUpdateCrmAccountHierarchy(dto: CRMAccountHierarchyDto): Promise<ActionStatus> {
    return this.#http.request(
      'crmAccountHierarchy.createOrUpdate',
      'POST',
      '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy',
      OkStatus,
      { body: dto },
    );
  }

  // ---------------------------------------------------------------- subscriptions

  /** GET /billing/subscription?subscriptionCode=…; null when it does not exist. */
  getSubscription(code: string): Promise<C.Subscription | null> {
    return orNull(
      this.#http
        .request('subscription.get', 'GET', '/billing/subscription', C.GetSubscriptionResponse, {
          query: { subscriptionCode: code },
        })
        .then((r) => r.subscription),
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
    const r = await this.#http.request(
      'subscription.list',
      'POST',
      '/billing/subscription/list',
      C.SubscriptionListResponse,
      {
        body,
      },
    );
    const items = r.subscriptions?.subscription ?? [];
    return {
      items,
      total: r.paging?.totalNumberOfRecords ?? r.subscriptions?.listSize ?? items.length,
      offset: r.paging?.offset ?? body.offset ?? 0,
      limit: r.paging?.limit ?? body.limit ?? 100,
    };
  }

  createSubscription(dto: SubscriptionDto): Promise<ActionStatus> {
    return this.#http.request('subscription.create', 'POST', '/billing/subscription', OkStatus, {
      body: dto,
    });
  }

  /** PUT /billing/subscription. OpenCell requires `subscriptionDate` and overwrites description/endAgreementDate. */
  updateSubscription(dto: SubscriptionDto): Promise<ActionStatus> {
    return this.#http.request('subscription.update', 'PUT', '/billing/subscription', OkStatus, { body: dto });
  }

  activateServices(dto: ActivateServicesRequestDto): Promise<ActionStatus> {
    return this.#http.request(
      'subscription.activateServices',
      'POST',
      '/billing/subscription/activateServices',
      OkStatus,
      {
        body: dto,
      },
    );
  }

  terminateSubscription(dto: TerminateSubscriptionRequestDto): Promise<ActionStatus> {
    return this.#http.request('subscription.terminate', 'POST', '/billing/subscription/terminate', OkStatus, {
      body: dto,
    });
  }

  terminateServices(dto: TerminateSubscriptionServicesRequestDto): Promise<ActionStatus> {
    return this.#http.request(
      'subscription.terminateServices',
      'POST',
      '/billing/subscription/terminateServices',
      OkStatus,
      {
        body: dto,
      },
    );
  }

  /** The one-shot charges applied to a subscription (GET listOneshotChargeOthers?subscriptionCode=…). */
  async listOneShotChargeInstances(subscriptionCode: string): Promise<C.OneShotChargeInstance[]> {
    const r = await this.#http.request(
      'subscription.listOneShotChargeInstances',
      'GET',
      '/billing/subscription/listOneshotChargeOthers',
      C.OneShotChargeInstancesResponse,
      { query: { subscriptionCode } },
    );
    return r.oneshotChargeInstances ?? [];
  }

  applyOneShotChargeInstance(dto: ApplyOneShotChargeInstanceRequestDto): Promise<ActionStatus> {
    return this.#http.request(
      'subscription.applyOneShotChargeInstance',
      'POST',
      '/billing/subscription/applyOneShotChargeInstance',
      OkStatus,
      { body: dto },
    );
  }

  // ---------------------------------------------------------------- access points

  createAccess(dto: AccessDto): Promise<ActionStatus> {
    return this.#http.request('access.create', 'POST', '/account/access', OkStatus, { body: dto });
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
    const seg = (d: OcDateIn | Date | undefined) =>
      encodeURIComponent(d === undefined ? 'null' : String(toOcDate(d)));
    const path = `/account/access/${encodeURIComponent(code)}/${encodeURIComponent(subscriptionCode)}/${seg(period.startDate)}/${seg(period.endDate)}`;
    return this.#http.request('access.delete', 'DELETE', path, OkStatus);
  }

  /** GET /account/access?accessCode=…&subscriptionCode=…; null when not found. */
  getAccess(
    code: string,
    subscriptionCode: string,
    opts: { usageDate?: OcDateIn | Date } = {},
  ): Promise<C.Access | null> {
    return orNull(
      this.#http
        .request('access.get', 'GET', '/account/access', C.GetAccessResponse, {
          query: {
            accessCode: code,
            subscriptionCode,
            usageDate: opts.usageDate === undefined ? undefined : String(toOcDate(opts.usageDate)),
          },
        })
        .then((r) => r.access),
    );
  }

  async listAccesses(subscriptionCode: string): Promise<C.Access[]> {
    const r = await this.#http.request('access.list', 'GET', '/account/access/list', C.AccessListResponse, {
      query: { subscriptionCode },
    });
    return r.accesses?.access ?? [];
  }

  // ---------------------------------------------------------------- catalog

  /** GET /catalog/offerTemplate (reads both the 11.x flattened and the ≤10.x wrapped shapes). */
  getOfferTemplate(code: string): Promise<C.OfferTemplate | null> {
    return orNull(
      this.#http.request('catalog.offerTemplate.get', 'GET', '/catalog/offerTemplate', C.OfferTemplateRead, {
        query: { offerTemplateCode: code, loadOfferServiceTemplate: true },
      }),
    );
  }

  async listOfferTemplates(paging: PagingAndFilteringDto = {}): Promise<Page<C.OfferTemplate>> {
    const body: PagingAndFilteringDto = { offset: 0, limit: 100, ...paging };
    const r = await this.#http.request(
      'catalog.offerTemplate.list',
      'POST',
      '/catalog/offerTemplate/list',
      C.OfferTemplateListResponse,
      {
        body,
      },
    );
    return toPage(r.offerTemplate ?? [], r.paging, body);
  }

  getServiceTemplate(code: string): Promise<C.ServiceTemplate | null> {
    return orNull(
      this.#http
        .request(
          'catalog.serviceTemplate.get',
          'GET',
          '/catalog/serviceTemplate',
          C.GetServiceTemplateResponse,
          {
            query: { serviceTemplateCode: code },
          },
        )
        .then((r) => r.serviceTemplate),
    );
  }

  async listServiceTemplates(paging: PagingAndFilteringDto = {}): Promise<Page<C.ServiceTemplate>> {
    const body: PagingAndFilteringDto = { offset: 0, limit: 100, ...paging };
    const r = await this.#http.request(
      'catalog.serviceTemplate.list',
      'POST',
      '/catalog/serviceTemplate/list',
      C.ServiceTemplateListResponse,
      { body },
    );
    return toPage(r.listServiceTemplate ?? [], r.paging, body);
  }

  getOneShotChargeTemplate(code: string): Promise<C.OneShotChargeTemplate | null> {
    return orNull(
      this.#http
        .request(
          'catalog.oneShotChargeTemplate.get',
          'GET',
          '/catalog/oneShotChargeTemplate',
          C.GetOneShotChargeTemplateResponse,
          {
            query: { oneShotChargeTemplateCode: code },
          },
        )
        .then((r) => r.oneShotChargeTemplate),
    );
  }

  async listOneShotChargeTemplates(
    opts: { offset?: number; limit?: number } = {},
  ): Promise<Page<C.OneShotChargeTemplate>> {
    const query = { offset: opts.offset ?? 0, limit: opts.limit ?? 100 };
    const r = await this.#http.request(
      'catalog.oneShotChargeTemplate.list',
      'GET',
      '/catalog/oneShotChargeTemplate/listGetAll',
      C.OneShotChargeTemplateListResponse,
      { query },
    );
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
    const r = await this.#http.request('invoice.list', 'POST', '/invoice/list', C.InvoiceListResponse, {
      body,
    });
    return toPage(r.invoices ?? [], r.paging, body);
  }

  /** Every invoice of the range, page after page (stable order by id). */
  async *iterateInvoices(q: Omit<InvoiceQuery, 'offset'>): AsyncGenerator<C.Invoice> {
    const limit = q.limit ?? 100;
    let offset = 0;
    for (;;) {
      const page = await this.listInvoices({ ...q, offset, limit, sortBy: q.sortBy ?? 'id' });
      for (const inv of page.items) yield inv;
      offset += page.items.length;
      if (page.items.length === 0 || page.items.length < limit || offset >= page.total) return;
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
      this.#http
        .request('invoice.get', 'GET', '/invoice', C.GetInvoiceResponse, {
          query: {
            invoiceNumber,
            invoiceType: opts.invoiceType ?? 'COM',
            includePdf: opts.includePdf ?? false,
            includeTransactions: opts.includeTransactions ? true : undefined,
          },
        })
        .then((r) => r.invoice),
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
    total: paging?.totalNumberOfRecords ?? items.length,
    offset: paging?.offset ?? req.offset ?? 0,
    limit: paging?.limit ?? req.limit ?? 100,
  };
}
