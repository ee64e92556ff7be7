/**
 * The OpenCell operation catalogue: every REST call this project knows, once — method, path (template), the
 * request-body schema, the response codec and the idempotency class. The production client
 * (src/adapters/opencell/client.ts) calls OpenCell only through these entries and the OpenCell sandbox
 * (testkit/sandbox/opencell/server.ts) routes exactly these entries, so the two cannot drift apart.
 *
 * Idempotency classes (what a retry after a lost answer may do to OpenCell's state):
 * - `idempotent`: repeating the call leaves OpenCell as one call did. Reads; full-payload updates; createOrUpdate;
 *   creates (a repeat is refused with ENTITY_ALREADY_EXISTS, which the executor counts as present); terminations
 *   and deletes (a repeat finds the object already terminated / gone).
 * - `verify-before-retry`: a repeat adds a second effect, but the first one is visible in OpenCell, so a retry must
 *   first read OpenCell (and the ledger) to see whether the lost try went through: a second activation is a second
 *   service instance, a second one-shot is a second charge (the executor's write-ahead check).
 * - `unsafe`: a repeat adds a second effect that cannot be told apart from the first; never retried blindly.
 */
import * as t from 'io-ts';
import * as C from './codecs';
import {
  AccessSchema,
  ActivateServicesSchema,
  ApplyOneShotSchema,
  CRMAccountHierarchySchema,
  CustomerSchema,
  FetchPdfSchema,
  InstantiateServicesSchema,
  PagingSchema,
  SubscriptionSchema,
  TerminateServicesSchema,
  TerminateSubscriptionSchema,
  type Schema,
} from './request-schemas';

export type IdempotencyClass = 'idempotent' | 'verify-before-retry' | 'unsafe';
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
}

const op = <R extends t.Mixed>(spec: OpenCellOperationSpec<R>): OpenCellOperationSpec<R> => spec;

/** Answers this project only passes through (the sandbox serves them; the client does not call them). */
const Unread = t.UnknownRecord;

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
    idempotency: 'idempotent',
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
    idempotency: 'idempotent',
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
    idempotency: 'idempotent',
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
    idempotency: 'idempotent',
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
