/**
 * The OpenCell operation catalogue: every REST call this project knows, once — method, path (template), the
 * request-body schema, the response codec and the idempotency class. The production client
 * (src/adapters/opencell/client.ts) calls OpenCell only through these entries and the OpenCell sandbox
 * (testkit/sandbox/opencell/server.ts) routes exactly these entries, so the two cannot drift apart.
 *
 * Idempotency classes (what a retry after a lost answer — a timeout, a reset, a 502 after OpenCell applied the call —
 * may do to OpenCell's state; reviewed against /work/shared/reference/opencell-api.md §5–§7, issue 15 §3):
 * - `idempotent`: repeating the call leaves OpenCell as one call did, and the projector plans it from OpenCell's state
 *   read before each try. Reads; full-payload updates (`absent ⇒ unchanged`, §5.1); createOrUpdate (by code);
 *   terminations (§6.4: a repeat finds the subscription RESILIATED or its services not ACTIVE, changes nothing) and
 *   access deletes (a repeat finds nothing: 404).
 * - `verify-before-retry`: a repeat either adds a second effect or is refused with an answer that is not "done", and
 *   the first try's effect can be read back. Before retrying a try that may have reached OpenCell (its ledger row was
 *   written ahead, 'pending'), the executor runs the entry's `verify`: found → recorded as already present, not
 *   called again. Creates (a repeat is refused: ENTITY_ALREADY_EXISTS 403/409 by version, DUPLICATE_ACCESS 403/500,
 *   and a repeated user account is a 500 BUSINESS_API_EXCEPTION, §5.1), activateServices (a repeat is a 500 "already
 *   activated", or a second instance with multi-instantiation, §6.3), applyOneShotChargeInstance (a repeat is a
 *   second charge, §6.5).
 * - `unsafe`: a repeat adds a second effect that cannot be told apart from the first: no `verify`, never retried after
 *   a try that may have reached OpenCell (the executor refuses with a reason for an operator). instantiateServices
 *   (a repeat with multi-instantiation is a second INACTIVE instance; the pipeline does not call it).
 */
import * as t from 'io-ts';
import * as C from './codecs';
import type { ApplyOneShotChargeInstanceRequestDto } from './dto';
import { isInstanceOf } from './one-shot';
import {
  AccessSchema,
  ActivateServicesSchema,
  ApplyOneShotSchema,
  CRMAccountHierarchySchema,
  CustomerSchema,
  FetchPdfSchema,
  GenericPagingSchema,
  InstantiateServicesSchema,
  PagingSchema,
  SubscriptionSchema,
  TerminateServicesSchema,
  TerminateSubscriptionSchema,
  type Schema,
} from './request-schemas';

export type IdempotencyClass = 'idempotent' | 'verify-before-retry' | 'unsafe';

/** The reads a verification makes (the production client, src/adapters/opencell/client.ts, satisfies it). */
export interface VerifyReader {
  getCustomer(code: string): Promise<C.Customer | null>;
  getCustomerAccount(code: string): Promise<C.CustomerAccount | null>;
  getUserAccount(code: string): Promise<C.UserAccount | null>;
  getSubscription(code: string): Promise<C.Subscription | null>;
  listAccesses(subscriptionCode: string): Promise<C.Access[]>;
  /** Must throw on failure: an error read as "no instance" would charge twice (issue 15 §3). */
  listOneShotChargeInstances(subscriptionCode: string): Promise<C.OneShotChargeInstance[]>;
}

/**
 * How a verify-before-retry operation reads its effect back from OpenCell after a try whose answer was lost.
 * `read` returns how many instances of the call's effect OpenCell holds. `presence`: one is enough (the object
 * exists, every service of the call is active). `instances`: the effect can legitimately be there several times
 * (one-shots of the same charge from other lines): the lost try was applied when OpenCell holds more instances than
 * the ledger accounts for (its other effects of the same subscription and charge).
 */
export interface VerifySpec {
  read(body: unknown, reader: VerifyReader): Promise<number>;
  counts: 'presence' | 'instances';
}
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface OpenCellOperationSpec<R extends t.Mixed = t.Mixed> {
  /** Stable endpoint name (metrics, logs, call observers), e.g. `subscription.activateServices`. */
  endpoint: string;
  method: HttpMethod;
  /** Path under `/api/rest`; `{name}` segments are filled from path parameters (URI-encoded). */
  path: string;
  /** The request body's schema; null for calls without a body (query or path parameters only). */
  request: Schema | null;
  /** Decodes a successful answer. */
  response: R;
  idempotency: IdempotencyClass;
  /** verify-before-retry operations only: how a retry reads the lost try's effect back. */
  verify?: VerifySpec;
}

const op = <R extends t.Mixed>(spec: OpenCellOperationSpec<R>): OpenCellOperationSpec<R> => spec;

/** Answers this project only passes through (the sandbox serves them; the client does not call them). */
const Unread = t.UnknownRecord;

const field = (body: unknown, name: string): string => {
  const v = (body as Record<string, unknown> | null)?.[name];
  if (typeof v !== 'string') throw new Error(`verify: request body has no ${name}`);
  return v;
};
const present = (x: unknown): number => (x === null || x === undefined ? 0 : 1);
const LIVE = (s: C.ServiceInstance) =>
  !s.terminationDate && s.status !== 'TERMINATED' && s.status !== 'CANCELED' && s.status !== 'CLOSED';

/** Verifications of the verify-before-retry operations (each kept with its operation below). */
const VERIFY = {
  /** The customer exists. */
  customer: { counts: 'presence', read: async (b, r) => present(await r.getCustomer(field(b, 'code'))) },
  /**
   * The hierarchy's lowest level exists (the call is atomic, §5.1: all its levels share `code`): the user account for
   * the *_UA types the pipeline sends, else the customer account.
   */
  crmHierarchy: {
    counts: 'presence',
    read: async (b, r) =>
      /_UA$/.test(field(b, 'crmAccountType'))
        ? present(await r.getUserAccount(field(b, 'code')))
        : present(await r.getCustomerAccount(field(b, 'code'))),
  },
  subscription: {
    counts: 'presence',
    read: async (b, r) => present(await r.getSubscription(field(b, 'code'))),
  },
  access: {
    counts: 'presence',
    read: async (b, r) =>
      (await r.listAccesses(field(b, 'subscription'))).filter((a) => a.code === field(b, 'code')).length,
  },
  /** Every service of the call has a live ACTIVE instance (the call activates all of them or none). */
  activation: {
    counts: 'presence',
    read: async (b, r) => {
      const sub = await r.getSubscription(field(b, 'subscription'));
      const wanted = (
        (b as { servicesToActivate?: { service?: { code: string }[] } }).servicesToActivate?.service ?? []
      ).map((s) => s.code);
      const instances = sub?.services?.serviceInstance ?? [];
      const active = (code: string) =>
        instances.some((s) => s.code === code && LIVE(s) && s.status === 'ACTIVE');
      return wanted.length > 0 && wanted.every(active) ? 1 : 0;
    },
  },
  /**
   * Instances of the charge on the subscription (compared with the ledger's; a charge sent with its own amount is
   * told apart by amount and description, isInstanceOf).
   */
  oneShot: {
    counts: 'instances',
    read: async (b, r) => {
      const body = b as ApplyOneShotChargeInstanceRequestDto;
      return (await r.listOneShotChargeInstances(field(b, 'subscription'))).filter((i) =>
        isInstanceOf(body, i),
      ).length;
    },
  },
} satisfies Record<string, VerifySpec>;

export const OPENCELL_OPERATIONS = {
  version: op({
    endpoint: 'version',
    method: 'GET',
    path: '/billing/subscription/version',
    request: null,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),

  // ---------------------------------------------------------------- customers & account hierarchy
  getCustomer: op({
    endpoint: 'customer.get',
    method: 'GET',
    path: '/account/customer',
    request: null,
    response: C.GetCustomerResponse,
    idempotency: 'idempotent',
  }),
  getCustomerByCode: op({
    endpoint: 'customer.get',
    method: 'GET',
    path: '/account/customer/{code}',
    request: null,
    response: C.GetCustomerResponse,
    idempotency: 'idempotent',
  }),
  getCustomerCategory: op({
    endpoint: 'customer.category.get',
    method: 'GET',
    path: '/account/customer/category/{code}',
    request: null,
    response: C.GetCustomerCategoryResponse,
    idempotency: 'idempotent',
  }),
  listCustomersByQuery: op({
    endpoint: 'customer.list',
    method: 'GET',
    path: '/account/customer/list',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),
  listCustomers: op({
    endpoint: 'customer.list',
    method: 'POST',
    path: '/account/customer/list',
    request: PagingSchema,
    response: Unread,
    idempotency: 'idempotent',
  }),
  createCustomer: op({
    endpoint: 'customer.create',
    method: 'POST',
    path: '/account/customer',
    request: CustomerSchema,
    response: C.ActionStatus,
    idempotency: 'verify-before-retry',
    verify: VERIFY.customer,
  }),
  updateCustomer: op({
    endpoint: 'customer.update',
    method: 'PUT',
    path: '/account/customer',
    request: CustomerSchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),
  createOrUpdateCustomer: op({
    endpoint: 'customer.createOrUpdate',
    method: 'POST',
    path: '/account/customer/createOrUpdate',
    request: CustomerSchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),
  getCustomerAccount: op({
    endpoint: 'customerAccount.get',
    method: 'GET',
    path: '/account/customerAccount',
    request: null,
    response: C.GetCustomerAccountResponse,
    idempotency: 'idempotent',
  }),
  getCustomerAccountByCode: op({
    endpoint: 'customerAccount.get',
    method: 'GET',
    path: '/account/customerAccount/{code}',
    request: null,
    response: C.GetCustomerAccountResponse,
    idempotency: 'idempotent',
  }),
  listCustomerAccounts: op({
    endpoint: 'customerAccount.list',
    method: 'GET',
    path: '/account/customerAccount/list',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),
  getBillingAccount: op({
    endpoint: 'billingAccount.get',
    method: 'GET',
    path: '/account/billingAccount',
    request: null,
    response: C.GetBillingAccountResponse,
    idempotency: 'idempotent',
  }),
  getBillingAccountByCode: op({
    endpoint: 'billingAccount.get',
    method: 'GET',
    path: '/account/billingAccount/{code}',
    request: null,
    response: C.GetBillingAccountResponse,
    idempotency: 'idempotent',
  }),
  listBillingAccounts: op({
    endpoint: 'billingAccount.list',
    method: 'GET',
    path: '/account/billingAccount/list',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),
  getUserAccount: op({
    endpoint: 'userAccount.get',
    method: 'GET',
    path: '/account/userAccount',
    request: null,
    response: C.GetUserAccountResponse,
    idempotency: 'idempotent',
  }),
  getUserAccountByCode: op({
    endpoint: 'userAccount.get',
    method: 'GET',
    path: '/account/userAccount/{code}',
    request: null,
    response: C.GetUserAccountResponse,
    idempotency: 'idempotent',
  }),
  listUserAccounts: op({
    endpoint: 'userAccount.list',
    method: 'GET',
    path: '/account/userAccount/list',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),
  createCrmAccountHierarchy: op({
    endpoint: 'crmAccountHierarchy.create',
    method: 'POST',
    path: '/account/accountHierarchy/createCRMAccountHierarchy',
    request: CRMAccountHierarchySchema,
    response: C.ActionStatus,
    idempotency: 'verify-before-retry',
    verify: VERIFY.crmHierarchy,
  }),
  updateCrmAccountHierarchy: op({
    endpoint: 'crmAccountHierarchy.update',
    method: 'POST',
    path: '/account/accountHierarchy/updateCRMAccountHierarchy',
    request: CRMAccountHierarchySchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),
  createOrUpdateCrmAccountHierarchy: op({
    endpoint: 'crmAccountHierarchy.createOrUpdate',
    method: 'POST',
    path: '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy',
    request: CRMAccountHierarchySchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),

  // ---------------------------------------------------------------- subscriptions
  getSubscription: op({
    endpoint: 'subscription.get',
    method: 'GET',
    path: '/billing/subscription',
    request: null,
    response: C.GetSubscriptionResponse,
    idempotency: 'idempotent',
  }),
  listSubscriptionsByQuery: op({
    endpoint: 'subscription.list',
    method: 'GET',
    path: '/billing/subscription/list',
    request: null,
    response: C.SubscriptionListResponse,
    idempotency: 'idempotent',
  }),
  listSubscriptions: op({
    endpoint: 'subscription.list',
    method: 'POST',
    path: '/billing/subscription/list',
    request: PagingSchema,
    response: C.SubscriptionListResponse,
    idempotency: 'idempotent',
  }),
  findSubscriptionsByCustomer: op({
    endpoint: 'subscription.findByCustomer',
    method: 'GET',
    path: '/billing/subscription/findByCustomer',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),
  createSubscription: op({
    endpoint: 'subscription.create',
    method: 'POST',
    path: '/billing/subscription',
    request: SubscriptionSchema,
    response: C.ActionStatus,
    idempotency: 'verify-before-retry',
    verify: VERIFY.subscription,
  }),
  updateSubscription: op({
    endpoint: 'subscription.update',
    method: 'PUT',
    path: '/billing/subscription',
    request: SubscriptionSchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),
  createOrUpdateSubscription: op({
    endpoint: 'subscription.createOrUpdate',
    method: 'POST',
    path: '/billing/subscription/createOrUpdate',
    request: SubscriptionSchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),
  activateServices: op({
    endpoint: 'subscription.activateServices',
    method: 'POST',
    path: '/billing/subscription/activateServices',
    request: ActivateServicesSchema,
    response: C.ActionStatus,
    idempotency: 'verify-before-retry',
    verify: VERIFY.activation,
  }),
  instantiateServices: op({
    endpoint: 'subscription.instantiateServices',
    method: 'POST',
    path: '/billing/subscription/instantiateServices',
    request: InstantiateServicesSchema,
    response: C.ActionStatus,
    idempotency: 'unsafe',
  }),
  terminateSubscription: op({
    endpoint: 'subscription.terminate',
    method: 'POST',
    path: '/billing/subscription/terminate',
    request: TerminateSubscriptionSchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),
  terminateSubscriptionPut: op({
    endpoint: 'subscription.terminate',
    method: 'PUT',
    path: '/billing/subscription/terminate',
    request: TerminateSubscriptionSchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),
  terminateServices: op({
    endpoint: 'subscription.terminateServices',
    method: 'POST',
    path: '/billing/subscription/terminateServices',
    request: TerminateServicesSchema,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),
  applyOneShotChargeInstance: op({
    endpoint: 'subscription.applyOneShotChargeInstance',
    method: 'POST',
    path: '/billing/subscription/applyOneShotChargeInstance',
    request: ApplyOneShotSchema,
    response: C.ActionStatus,
    idempotency: 'verify-before-retry',
    verify: VERIFY.oneShot,
  }),
  listOneShotChargeInstances: op({
    endpoint: 'subscription.listOneShotChargeInstances',
    method: 'GET',
    path: '/billing/subscription/listOneshotChargeOthers',
    request: null,
    response: C.OneShotChargeInstancesResponse,
    idempotency: 'idempotent',
  }),

  // ---------------------------------------------------------------- access points
  createAccess: op({
    endpoint: 'access.create',
    method: 'POST',
    path: '/account/access',
    request: AccessSchema,
    response: C.ActionStatus,
    idempotency: 'verify-before-retry',
    verify: VERIFY.access,
  }),
  getAccess: op({
    endpoint: 'access.get',
    method: 'GET',
    path: '/account/access',
    request: null,
    response: C.GetAccessResponse,
    idempotency: 'idempotent',
  }),
  listAccesses: op({
    endpoint: 'access.list',
    method: 'GET',
    path: '/account/access/list',
    request: null,
    response: C.AccessListResponse,
    idempotency: 'idempotent',
  }),
  deleteAccess: op({
    endpoint: 'access.delete',
    method: 'DELETE',
    path: '/account/access/{code}/{subscriptionCode}/{startDate}/{endDate}',
    request: null,
    response: C.ActionStatus,
    idempotency: 'idempotent',
  }),

  // ---------------------------------------------------------------- catalog
  getOfferTemplate: op({
    endpoint: 'catalog.offerTemplate.get',
    method: 'GET',
    path: '/catalog/offerTemplate',
    request: null,
    response: C.OfferTemplateRead,
    idempotency: 'idempotent',
  }),
  listOfferTemplatesByQuery: op({
    endpoint: 'catalog.offerTemplate.list',
    method: 'GET',
    path: '/catalog/offerTemplate/list',
    request: null,
    response: C.OfferTemplateListResponse,
    idempotency: 'idempotent',
  }),
  listOfferTemplates: op({
    endpoint: 'catalog.offerTemplate.list',
    method: 'POST',
    path: '/catalog/offerTemplate/list',
    request: PagingSchema,
    response: C.OfferTemplateListResponse,
    idempotency: 'idempotent',
  }),
  getServiceTemplate: op({
    endpoint: 'catalog.serviceTemplate.get',
    method: 'GET',
    path: '/catalog/serviceTemplate',
    request: null,
    response: C.GetServiceTemplateResponse,
    idempotency: 'idempotent',
  }),
  listServiceTemplates: op({
    endpoint: 'catalog.serviceTemplate.list',
    method: 'POST',
    path: '/catalog/serviceTemplate/list',
    request: PagingSchema,
    response: C.ServiceTemplateListResponse,
    idempotency: 'idempotent',
  }),
  getOneShotChargeTemplate: op({
    endpoint: 'catalog.oneShotChargeTemplate.get',
    method: 'GET',
    path: '/catalog/oneShotChargeTemplate',
    request: null,
    response: C.GetOneShotChargeTemplateResponse,
    idempotency: 'idempotent',
  }),
  listOneShotChargeTemplates: op({
    endpoint: 'catalog.oneShotChargeTemplate.list',
    method: 'GET',
    path: '/catalog/oneShotChargeTemplate/listGetAll',
    request: null,
    response: C.OneShotChargeTemplateListResponse,
    idempotency: 'idempotent',
  }),
  listTerminationReasons: op({
    endpoint: 'terminationReason.list',
    method: 'GET',
    path: '/terminationReason/list',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),

  // ---------------------------------------------------------------- invoices
  listInvoicesByQuery: op({
    endpoint: 'invoice.list',
    method: 'GET',
    path: '/invoice/list',
    request: null,
    response: C.InvoiceListResponse,
    idempotency: 'idempotent',
  }),
  listInvoices: op({
    endpoint: 'invoice.list',
    method: 'POST',
    path: '/invoice/list',
    request: PagingSchema,
    response: C.InvoiceListResponse,
    idempotency: 'idempotent',
  }),
  getInvoice: op({
    endpoint: 'invoice.get',
    method: 'GET',
    path: '/invoice',
    request: null,
    response: C.GetInvoiceResponse,
    idempotency: 'idempotent',
  }),
  fetchPdfInvoice: op({
    endpoint: 'invoice.fetchPdf',
    method: 'POST',
    path: '/invoice/fetchPdfInvoice',
    request: FetchPdfSchema,
    response: Unread,
    idempotency: 'idempotent',
  }),
  /** The billing run of invoices (InvoiceDto has none): API v2 generic search on the Invoice entity, 7.x+. */
  listInvoiceBillingRuns: op({
    endpoint: 'generic.invoice.list',
    method: 'POST',
    path: '/v2/generic/all/invoice',
    request: GenericPagingSchema,
    response: C.GenericInvoiceList,
    idempotency: 'idempotent',
  }),
  getPdfInvoice: op({
    endpoint: 'invoice.getPdf',
    method: 'GET',
    path: '/invoice/getPdfInvoice',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),
  getPdfInvoiceWithType: op({
    endpoint: 'invoice.getPdfWithType',
    method: 'GET',
    path: '/invoice/getPdfInvoiceWithType',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),
  listInvoicesByCustomerAccount: op({
    endpoint: 'invoice.listByCustomerAccount',
    method: 'GET',
    path: '/invoice/listInvoiceByCustomerAccount',
    request: null,
    response: Unread,
    idempotency: 'idempotent',
  }),
} as const;

export type OpenCellOperations = typeof OPENCELL_OPERATIONS;
export type OpenCellOperationName = keyof OpenCellOperations;

/** The names of a path template's parameters, in order (`{code}` → `code`). */
export function pathParams(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
}

/** Fills a path template; every parameter is URI-encoded as one segment. */
export function fillPath(template: string, params: Readonly<Record<string, string>> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`path ${template}: parameter ${name} missing`);
    return encodeURIComponent(v);
  });
}

/** A regular expression matching the template, one capture group per parameter (for routing). */
export function pathPattern(template: string): RegExp {
  const escaped = template
    .split(/\{\w+\}/)
    .map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('([^/]+)');
  return new RegExp(`^${escaped}$`);
}
