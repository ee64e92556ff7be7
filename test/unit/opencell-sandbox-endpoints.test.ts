import { expect } from 'chai';
import fetch from 'node-fetch';
import { OpenCellClient } from '../../src/adapters/opencell/client';
import { startOpenCellSandbox, type OpenCellSandbox } from '../../testkit/sandbox/opencell';

/**
 * Walks the endpoint lists of /work/shared/reference/opencell-api.md (§5–§9, "the integration" rows) and of the
 * original client (original-module.md §1.1): each endpoint the integration may call answers in the sandbox with
 * the envelope OpenCell's sources give it (issue 14 §2, parity row K-sandbox).
 */
const USER = 'opencell.superadmin';
const PASSWORD = 'opencell.superadmin';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

interface Endpoint {
  /** where the reference lists it */
  ref: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** top-level keys of the success body besides actionStatus (an ActionStatus answer: none, `status` checked) */
  keys: string[];
  /** the first element of this array path must be an object with this key (checks the container shape) */
  item?: { at: string[]; key: string };
}

const sub = (over: Record<string, unknown> = {}) => ({
  code: 'S2',
  userAccount: 'P1',
  offerTemplate: 'OF_SC_TEMPLATE_MOB',
  subscriptionDate: '2024-01-01',
  ...over,
});

/** In walk order: writes come before the reads that find what they made. */
const ENDPOINTS: Endpoint[] = [
  { ref: '§1.1 version', method: 'GET', path: '/billing/subscription/version', keys: [] },
  {
    ref: '§5.2 customer category (seed check)',
    method: 'GET',
    path: '/account/customer/category/CLIENT',
    keys: ['customerCategory'],
  },
  {
    ref: '§5.2 GET customer',
    method: 'GET',
    path: '/account/customer?customerCode=P1&includeCustomerAccounts=true',
    keys: ['customer'],
    item: { at: ['customer', 'customerAccounts', 'customerAccount'], key: 'code' },
  },
  { ref: '§5.2 GET customer/{code}', method: 'GET', path: '/account/customer/P1', keys: ['customer'] },
  {
    ref: '§5.2 GET customer/list',
    method: 'GET',
    path: '/account/customer/list?query=code:P1',
    keys: ['paging', 'customers'],
    item: { at: ['customers', 'customer'], key: 'customerCategory' },
  },
  {
    ref: '§5.2 POST customer/list',
    method: 'POST',
    path: '/account/customer/list',
    body: { filters: { code: 'P1' } },
    keys: ['paging', 'customers'],
    item: { at: ['customers', 'customer'], key: 'code' },
  },
  {
    ref: '§5.2 PUT customer (original: Customer.update)',
    method: 'PUT',
    path: '/account/customer',
    body: { code: 'P1', description: 'Jane Doe Roe' },
    keys: [],
  },
  {
    ref: '§5.1 createOrUpdateCRMAccountHierarchy (original: CRMAccountHierarchy.update)',
    method: 'POST',
    path: '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy',
    body: { crmAccountType: 'CA_UA', crmParentCode: 'P1', code: 'P1', email: 'new@example.org' },
    keys: [],
  },
  {
    ref: '§5.3 GET customerAccount',
    method: 'GET',
    path: '/account/customerAccount?customerAccountCode=P1',
    keys: ['customerAccount'],
  },
  {
    ref: '§5.3 GET customerAccount/list',
    method: 'GET',
    path: '/account/customerAccount/list?customerCode=P1',
    keys: ['customerAccounts'],
    item: { at: ['customerAccounts', 'customerAccount'], key: 'methodOfPayment' },
  },
  {
    ref: '§5.4 GET billingAccount (11.x: flattened members beside billingAccount)',
    method: 'GET',
    path: '/account/billingAccount?billingAccountCode=P1',
    keys: ['billingAccount', 'invoices', 'userAccounts', 'isCompany', 'tags'],
  },
  {
    ref: '§5.4 GET billingAccount/list',
    method: 'GET',
    path: '/account/billingAccount/list?customerAccountCode=P1',
    keys: ['billingAccounts'],
    item: { at: ['billingAccounts', 'billingAccount'], key: 'billingCycle' },
  },
  {
    ref: '§5.5 GET userAccount',
    method: 'GET',
    path: '/account/userAccount?userAccountCode=P1',
    keys: ['userAccount'],
  },
  {
    ref: '§5.5 GET userAccount/list',
    method: 'GET',
    path: '/account/userAccount/list?billingAccountCode=P1',
    keys: ['userAccounts'],
    item: { at: ['userAccounts', 'userAccount'], key: 'code' },
  },
  { ref: '§6.1 POST subscription', method: 'POST', path: '/billing/subscription', body: sub(), keys: [] },
  {
    ref: '§6.1 PUT subscription',
    method: 'PUT',
    path: '/billing/subscription',
    body: { code: 'S2', description: 'Mobile 600222333', subscriptionDate: '2024-01-01' },
    keys: [],
  },
  {
    ref: '§6.1 createOrUpdate subscription',
    method: 'POST',
    path: '/billing/subscription/createOrUpdate',
    body: sub({ code: 'S3' }),
    keys: [],
  },
  {
    ref: '§6.3 instantiateServices',
    method: 'POST',
    path: '/billing/subscription/instantiateServices',
    body: {
      subscription: 'S3',
      servicesToInstantiate: {
        service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', quantity: 1, subscriptionDate: '2024-01-01' }],
      },
    },
    keys: [],
  },
  {
    ref: '§6.3 activateServices',
    method: 'POST',
    path: '/billing/subscription/activateServices',
    body: {
      subscription: 'S2',
      servicesToActivate: {
        service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', quantity: 1, subscriptionDate: '2024-01-01' }],
      },
    },
    keys: [],
  },
  {
    ref: '§6.5 applyOneShotChargeInstance',
    method: 'POST',
    path: '/billing/subscription/applyOneShotChargeInstance',
    body: { subscription: 'S2', oneShotCharge: 'CH_SC_OSO_SIM', operationDate: '2024-01-02' },
    keys: [],
  },
  {
    ref: '§6.1 GET subscription',
    method: 'GET',
    path: '/billing/subscription?subscriptionCode=S2',
    keys: ['subscription'],
    item: { at: ['subscription', 'services', 'serviceInstance'], key: 'status' },
  },
  {
    ref: '§6.1 GET subscription/list (original: SubscriptionList.get)',
    method: 'GET',
    path: '/billing/subscription/list?query=userAccount.code:P1|status:ACTIVE&limit=10&offset=0',
    keys: ['paging', 'subscriptions'],
    item: { at: ['subscriptions', 'subscription'], key: 'code' },
  },
  {
    ref: '§6.1 POST subscription/list',
    method: 'POST',
    path: '/billing/subscription/list',
    body: { filters: { 'userAccount.code': 'P1' } },
    keys: ['paging', 'subscriptions'],
  },
  {
    ref: '§6.1 findByCustomer (10.x+: no paging block)',
    method: 'GET',
    path: '/billing/subscription/findByCustomer?customerCode=P1',
    keys: ['subscriptions'],
    item: { at: ['subscriptions', 'subscription'], key: 'userAccount' },
  },
  {
    ref: '§6.1 listOneshotChargeOthers',
    method: 'GET',
    path: '/billing/subscription/listOneshotChargeOthers?subscriptionCode=S2',
    keys: ['oneshotChargeInstances'],
    item: { at: ['oneshotChargeInstances'], key: 'code' },
  },
  {
    ref: '§7 POST access',
    method: 'POST',
    path: '/account/access',
    body: { code: '600222333', subscription: 'S2' },
    keys: [],
  },
  {
    ref: '§7 GET access',
    method: 'GET',
    path: '/account/access?accessCode=600222333&subscriptionCode=S2',
    keys: ['access'],
  },
  {
    ref: '§7 GET access/list',
    method: 'GET',
    path: '/account/access/list?subscriptionCode=S2',
    keys: ['accesses'],
    item: { at: ['accesses', 'access'], key: 'subscription' },
  },
  {
    ref: '§6.4 terminateServices',
    method: 'POST',
    path: '/billing/subscription/terminateServices',
    body: {
      subscriptionCode: 'S2',
      terminationReason: 'CC_TERMINATION',
      terminationDate: '2024-01-20',
      services: ['SE_SC_REC_MOBILE_T_0_0'],
    },
    keys: [],
  },
  {
    ref: '§6.4 terminate (PUT, 10.x+)',
    method: 'PUT',
    path: '/billing/subscription/terminate',
    body: { subscriptionCode: 'S3', terminationReason: 'CC_TERMINATION', terminationDate: '2024-01-20' },
    keys: [],
  },
  {
    ref: '§6.4 terminate',
    method: 'POST',
    path: '/billing/subscription/terminate',
    body: { subscriptionCode: 'S2', terminationReason: 'CC_TERMINATION', terminationDate: '2024-01-21' },
    keys: [],
  },
  {
    ref: '§6.4 terminationReason/list',
    method: 'GET',
    path: '/terminationReason/list',
    keys: ['terminationReason'],
  },
  {
    ref: '§7 DELETE access (8.x+ four segments, open bounds)',
    method: 'DELETE',
    path: '/account/access/600222333/S2/null/null',
    keys: [],
  },
  {
    ref: '§8.1 GET offerTemplate (11.x: flattened)',
    method: 'GET',
    path: '/catalog/offerTemplate?offerTemplateCode=OF_SC_TEMPLATE_MOB',
    keys: ['code'],
  },
  {
    ref: '§8.1 GET offerTemplate/list',
    method: 'GET',
    path: '/catalog/offerTemplate/list',
    keys: ['paging', 'offerTemplate'],
    item: { at: ['offerTemplate'], key: 'code' },
  },
  {
    ref: '§8.1 POST offerTemplate/list',
    method: 'POST',
    path: '/catalog/offerTemplate/list',
    body: { limit: 5 },
    keys: ['paging', 'offerTemplate'],
  },
  {
    ref: '§8.2 GET serviceTemplate',
    method: 'GET',
    path: '/catalog/serviceTemplate?serviceTemplateCode=SE_SC_REC_MOBILE_T_0_0',
    keys: ['serviceTemplate'],
  },
  {
    ref: '§8.2 POST serviceTemplate/list',
    method: 'POST',
    path: '/catalog/serviceTemplate/list',
    body: {},
    keys: ['paging', 'listServiceTemplate'],
  },
  {
    ref: '§8.3 GET oneShotChargeTemplate',
    method: 'GET',
    path: '/catalog/oneShotChargeTemplate?oneShotChargeTemplateCode=CH_SC_OSO_SIM',
    keys: ['oneShotChargeTemplate'],
  },
  {
    ref: '§8.3 GET oneShotChargeTemplate/listGetAll',
    method: 'GET',
    path: '/catalog/oneShotChargeTemplate/listGetAll',
    keys: ['paging', 'oneShotChargeTemplates'],
  },
  {
    ref: '§9.1 GET invoice/list (original: pyopencell by invoiceDate)',
    method: 'GET',
    path: '/invoice/list?query=invoiceDate:2024-02-01&limit=10&offset=0',
    keys: ['paging', 'invoices'],
    item: { at: ['invoices'], key: 'invoiceNumber' },
  },
  {
    ref: '§9.1 POST invoice/list',
    method: 'POST',
    path: '/invoice/list',
    body: { filters: { 'billingAccount.code': 'P1' } },
    keys: ['paging', 'invoices'],
  },
  {
    ref: '§9.1 GET invoice (original: includePdf)',
    method: 'GET',
    path: '/invoice?invoiceNumber={n}&invoiceType=COM&includePdf=true',
    keys: ['invoice'],
  },
  {
    ref: '§9.1 fetchPdfInvoice',
    method: 'POST',
    path: '/invoice/fetchPdfInvoice',
    body: { invoiceNumber: '{n}', invoiceType: 'COM' },
    keys: ['pdfContent'],
  },
  {
    ref: '§9.1 getPdfInvoice',
    method: 'GET',
    path: '/invoice/getPdfInvoice?invoiceNumber={n}',
    keys: ['pdfContent'],
  },
  {
    ref: '§9.1 getPdfInvoiceWithType',
    method: 'GET',
    path: '/invoice/getPdfInvoiceWithType?invoiceNumber={n}&invoiceType=COM',
    keys: ['pdfContent'],
  },
  {
    ref: '§9.1 listInvoiceByCustomerAccount (capital C)',
    method: 'GET',
    path: '/invoice/listInvoiceByCustomerAccount?customerAccountCode=P1',
    keys: ['CustomerInvoiceDtoList'],
    item: { at: ['CustomerInvoiceDtoList'], key: 'billingAccountCode' },
  },
];

/**
 * Endpoints of the reference the sandbox does not serve, and why: neither this project nor the original client
 * calls them. The sandbox answers them as the real 11.x server answers an unknown path (404, empty body), and
 * this list keeps that claim true.
 */
const NOT_SERVED: { method: string; path: string; why: string }[] = [
  {
    method: 'DELETE',
    path: '/account/access/600222333/S2',
    why: "the original client's inferred two-segment delete: 5.x–7.x only; 8.x+ answers 404 (§7)",
  },
  {
    method: 'POST',
    path: '/account/customerAccount',
    why: 'single-level account writes: the CRM call is used',
  },
  { method: 'POST', path: '/account/billingAccount/createOrUpdate', why: 'single-level account writes' },
  { method: 'PUT', path: '/account/userAccount', why: 'single-level account writes' },
  { method: 'PUT', path: '/billing/subscription/suspend', why: 'suspension is not part of the sync' },
  { method: 'PUT', path: '/account/access', why: 'accesses are created and deleted, never updated (§7)' },
  {
    method: 'GET',
    path: '/PdfInvoice?invoiceNumber=X&customerAccountCode=P1',
    why: 'fetchPdfInvoice is used',
  },
];

describe('OpenCell sandbox: every endpoint the integration may call answers with the real envelope', () => {
  let sb: OpenCellSandbox;
  let invoiceNumber = '';

  async function call(method: string, path: string, body?: unknown) {
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: AUTH };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${sb.apiUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  before(async () => {
    sb = await startOpenCellSandbox({ port: 0, user: USER, password: PASSWORD });
    const crm = await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', {
      crmAccountType: 'C_UA',
      crmParentCode: 'SC',
      code: 'P1',
      description: 'Jane Doe',
      name: { firstName: 'Jane', lastName: 'Doe' },
      address: { address1: 'Carrer Major 1', zipCode: '08001', city: 'Barcelona', country: 'ES' },
      customerCategory: 'CLIENT',
      currency: 'EUR',
      language: 'ESP',
      country: 'SP',
      billingCycle: 'BC_SC_MONTHLY_1ST',
      electronicBilling: true,
      email: 'jane@example.org',
      methodOfPayment: [
        {
          paymentMethodType: 'DIRECTDEBIT',
          mandateIdentification: 'M1',
          mandateDate: '2024-01-15',
          bankCoordinates: { iban: 'ES9121000418450200051332', accountOwner: 'Jane Doe' },
        },
      ],
    });
    expect(crm.status, crm.text).to.equal(200);
    const s1 = await call('POST', '/billing/subscription', sub({ code: 'S1' }));
    expect(s1.status, s1.text).to.equal(200);
    const a1 = await call('POST', '/billing/subscription/activateServices', {
      subscription: 'S1',
      servicesToActivate: {
        service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', quantity: 1, subscriptionDate: '2024-01-01' }],
      },
    });
    expect(a1.status, a1.text).to.equal(200);
    invoiceNumber = sb.billingRun({ invoiceDate: '2024-02-01' }).invoiceNumbers[0]!;
    expect(invoiceNumber).to.be.a('string');
  });
  after(() => sb.close());

  it(`walks ${ENDPOINTS.length} endpoints in order: each is a success with its envelope's keys`, async () => {
    const fill = (s: string) => s.replace('{n}', invoiceNumber);
    for (const e of ENDPOINTS) {
      const body = e.body === undefined ? undefined : JSON.parse(fill(JSON.stringify(e.body)));
      const r = await call(e.method, fill(e.path), body);
      expect(r.status, `${e.ref}: ${r.text}`).to.equal(200);
      expect(r.body, e.ref).not.to.have.property('errorCode');
      if (e.keys.length === 0) {
        expect(r.body.status, `${e.ref}: a bare ActionStatus`).to.equal('SUCCESS');
        continue;
      }
      expect((r.body.actionStatus as { status?: string } | undefined)?.status, e.ref).to.equal('SUCCESS');
      expect(r.body, e.ref).to.include.keys(e.keys);
      if (e.item) {
        const list = e.item.at.reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], r.body);
        expect(list, `${e.ref}: ${e.item.at.join('.')}`)
          .to.be.an('array')
          .with.length.above(0);
        expect((list as Record<string, unknown>[])[0], e.ref).to.have.property(e.item.key);
      }
    }
  });

  it('GET /account/customer/category/{code}: {actionStatus, customerCategory:{code, description, exoneratedFromTaxes}}; unknown → 404 with the OpenCell message', async () => {
    const ok = await call('GET', '/account/customer/category/CLIENT');
    expect(ok.body).to.deep.equal({
      actionStatus: { status: 'SUCCESS', message: '' },
      customerCategory: { code: 'CLIENT', description: 'Client', exoneratedFromTaxes: false },
    });
    const miss = await call('GET', '/account/customer/category/NOPE');
    expect(miss.status).to.equal(404);
    expect(miss.body).to.deep.equal({
      status: 'FAIL',
      errorCode: 'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
      message: 'CustomerCategory with code=NOPE does not exists.',
    });
  });

  it('the client reads the category (null when OpenCell has none), as the projector readiness check does', async () => {
    const client = new OpenCellClient({
      baseUrl: sb.url,
      user: USER,
      password: PASSWORD,
      timeoutMs: 2000,
      concurrency: 2,
    });
    try {
      expect(await client.getCustomerCategory('CLIENT')).to.include({ code: 'CLIENT' });
      expect(await client.getCustomerCategory('NOPE')).to.equal(null);
    } finally {
      client.close();
    }
  });

  it('unknown customer, customer account: findByCustomer and listInvoiceByCustomerAccount → 404', async () => {
    const a = await call('GET', '/billing/subscription/findByCustomer?customerCode=NOPE');
    expect([a.status, a.body.message]).to.deep.equal([404, 'Customer with code=NOPE does not exists.']);
    const b = await call('GET', '/invoice/listInvoiceByCustomerAccount?customerAccountCode=NOPE');
    expect([b.status, b.body.message]).to.deep.equal([
      404,
      'CustomerAccount with code=NOPE does not exists.',
    ]);
  });

  for (const n of NOT_SERVED) {
    it(`not served (${n.why}): ${n.method} ${n.path} → 404 with an empty body, as 11.x for an unknown path`, async () => {
      const r = await call(n.method, n.path, n.method === 'GET' || n.method === 'DELETE' ? undefined : {});
      expect([r.status, r.text]).to.deep.equal([404, '']);
    });
  }
});
