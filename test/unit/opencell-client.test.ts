import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import {
  BadResponseError,
  OpenCellBusinessError,
  OpenCellUnavailableError,
  SyncError,
  isRetriable,
} from '../../src/domain/errors';
import {
  OpenCellClient,
  parseRetryAfter,
  type CallEvent,
  type CRMAccountHierarchyDto,
} from '../../src/adapters/opencell';
import { startOpenCellSandbox, type OpenCellSandbox } from '../../testkit/sandbox/opencell';

const PASSWORD = 'S3cr3t-p4ss!';
const USER = 'billing.bot';

function crmFor(customer: string, ca: string): CRMAccountHierarchyDto {
  return {
    crmAccountType: 'CA_UA',
    crmParentCode: customer,
    code: ca,
    description: 'Jane Doe',
    name: { firstName: 'Jane', lastName: 'Doe' },
    address: { address1: 'Carrer Major 1', zipCode: '08001', city: 'Barcelona', country: 'ES' },
    contactInformation: { email: 'jane@example.org', phone: '', mobile: '600111222', fax: '' },
    language: 'CAT',
    currency: 'EUR',
    country: 'SP',
    customerCategory: 'CLIENT',
    billingCycle: 'BC_SC_MONTHLY_1ST',
    electronicBilling: true,
    email: 'jane@example.org',
    mailingType: 'Manual',
    emailTemplate: 'EMAIL_TEMPLATE_TEST',
    methodOfPayment: [
      {
        paymentMethodType: 'DIRECTDEBIT',
        disabled: false,
        preferred: true,
        customerAccountCode: ca,
        alias: '12',
        mandateIdentification: '12',
        mandateDate: 1704067200000,
        bankCoordinates: {
          iban: 'ES9121000418450200051332',
          bic: 'CAIXESBBXXX',
          accountOwner: 'Jane Doe',
          bankName: 'CaixaBank',
        },
      },
    ],
  };
}

async function expectError<T extends Error>(
  p: Promise<unknown>,
  cls: new (...args: never[]) => T,
): Promise<T> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(cls);
    return e as T;
  }
  throw new Error(`expected ${cls.name}, but the call succeeded`);
}

describe('OpenCell client against the OpenCell sandbox (contract)', () => {
  let sandbox: OpenCellSandbox;
  let client: OpenCellClient;
  const events: CallEvent[] = [];

  before(async () => {
    sandbox = await startOpenCellSandbox({ port: 0, user: USER, password: PASSWORD });
    client = new OpenCellClient(
      { baseUrl: sandbox.url, user: USER, password: PASSWORD, timeoutMs: 400, concurrency: 8 },
      { observer: (e) => events.push(e) },
    );
  });
  after(async () => {
    client.close();
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
    sandbox.setNow(null);
    events.length = 0;
  });

  /** Customer "42" with CA/BA/UA "42_0", subscription SUB-1 (mobile), access 600111222. */
  async function seedHierarchy(): Promise<void> {
    await client.createCustomer({
      code: '42',
      seller: 'SC',
      customerCategory: 'CLIENT',
      description: 'Jane Doe',
      name: { firstName: 'Jane', lastName: 'Doe' },
      vatNo: 'ES12345678Z',
      contactInformation: { email: 'jane@example.org', mobile: '600111222' },
    });
    await client.createCrmAccountHierarchy(crmFor('42', '42_0'));
    await client.createSubscription({
      code: 'SUB-1',
      description: '600111222',
      userAccount: '42_0',
      offerTemplate: 'OF_SC_TEMPLATE_MOB',
      subscriptionDate: '2024-01-01',
    });
    await client.createAccess({ code: '600111222', subscription: 'SUB-1' });
  }

  describe('customers and the CRM account hierarchy', () => {
    it('returns null for an unknown customer and the customer with its accounts once created', async () => {
      expect(await client.getCustomer('42')).to.equal(null);
      await seedHierarchy();
      const customer = await client.getCustomer('42');
      expect(customer?.code).to.equal('42');
      expect(customer?.seller).to.equal('SC');
      const cas = customer?.customerAccounts?.customerAccount ?? [];
      expect(cas.map((ca) => ca.code)).to.deep.equal(['42_0']);
      expect(cas[0]?.contactInformation?.email).to.equal('jane@example.org');
      expect(cas[0]?.methodOfPayment?.[0]?.bankCoordinates?.iban).to.equal('ES9121000418450200051332');
    });

    it('creates the same code on CA, BA and UA and reads each level', async () => {
      await seedHierarchy();
      expect((await client.getCustomerAccount('42_0'))?.customer).to.equal('42');
      const ba = await client.getBillingAccount('42_0');
      expect(ba?.customerAccount).to.equal('42_0');
      expect(ba?.email).to.equal('jane@example.org');
      expect((await client.getUserAccount('42_0'))?.billingAccount).to.equal('42_0');
    });

    it('updates a customer: absent fields unchanged, "" clears', async () => {
      await seedHierarchy();
      await client.updateCustomer({ code: '42', description: 'Jane D.', vatNo: '' });
      const c = await client.getCustomer('42', { includeCustomerAccounts: false });
      expect(c?.description).to.equal('Jane D.');
      expect(c?.vatNo).to.equal(undefined);
      expect(c?.name?.lastName).to.equal('Doe');
      expect(c?.customerAccounts).to.equal(undefined);
    });

    it('createOrUpdateCRMAccountHierarchy updates the invoice e-mail of an existing hierarchy', async () => {
      await seedHierarchy();
      const status = await client.createOrUpdateCrmAccountHierarchy({
        code: '42_0',
        crmAccountType: 'CA_UA',
        currency: 'EUR',
        language: 'CAT',
        email: 'new@example.org',
        ccedEmails: 'other@example.org',
        contactInformation: { email: 'new@example.org' },
      });
      expect(status.status).to.equal('SUCCESS');
      expect((await client.getBillingAccount('42_0'))?.email).to.equal('new@example.org');
      expect((await client.getCustomerAccount('42_0'))?.contactInformation?.email).to.equal(
        'new@example.org',
      );
    });

    it('updateCRMAccountHierarchy of a missing hierarchy is a 404 business error', async () => {
      const err = await expectError(
        client.updateCrmAccountHierarchy({ code: '9_0', crmAccountType: 'CA_UA', email: 'x@example.org' }),
        OpenCellBusinessError,
      );
      expect(err.errorCode).to.equal('ENTITY_DOES_NOT_EXISTS_EXCEPTION');
      expect(err.httpStatus).to.equal(404);
    });

    it('missing parent: a hierarchy under an unknown customer is rejected with 404 and not retriable', async () => {
      const err = await expectError(
        client.createCrmAccountHierarchy(crmFor('404', '404_0')),
        OpenCellBusinessError,
      );
      expect(err.errorCode).to.equal('ENTITY_DOES_NOT_EXISTS_EXCEPTION');
      expect(err.httpStatus).to.equal(404);
      expect(err.message).to.contain('Customer with code=404 does not exists.');
      expect(err.retriable).to.equal(false);
      expect(isRetriable(err)).to.equal(false);
    });

    it('unknown code: an unknown billing cycle is a 404 and nothing of the hierarchy is stored', async () => {
      await seedHierarchy();
      const err = await expectError(
        client.createCrmAccountHierarchy({ ...crmFor('42', '42_1'), billingCycle: 'BC_NOPE' }),
        OpenCellBusinessError,
      );
      expect(err.errorCode).to.equal('ENTITY_DOES_NOT_EXISTS_EXCEPTION');
      expect(err.message).to.contain('BillingCycle with code=BC_NOPE does not exists.');
      expect(await client.getCustomerAccount('42_1')).to.equal(null);
    });

    it('duplicate: creating an existing hierarchy is ENTITY_ALREADY_EXISTS (409)', async () => {
      await seedHierarchy();
      const err = await expectError(
        client.createCrmAccountHierarchy(crmFor('42', '42_0')),
        OpenCellBusinessError,
      );
      expect(err.errorCode).to.equal('ENTITY_ALREADY_EXISTS_EXCEPTION');
      expect(err.httpStatus).to.equal(409);
      expect(err.code).to.equal('OPENCELL_BUSINESS');
    });

    it('invalid field: an unknown JSON property is INVALID_PARAMETER (400)', async () => {
      const dto = { ...crmFor('42', '42_0'), phoneNumber: '600' } as unknown as CRMAccountHierarchyDto;
      const err = await expectError(client.createCrmAccountHierarchy(dto), OpenCellBusinessError);
      expect(err.errorCode).to.equal('INVALID_PARAMETER');
      expect(err.httpStatus).to.equal(400);
      expect(err.message).to.contain('Unrecognized field "phoneNumber"');
    });
  });

  describe('subscriptions', () => {
    it('gets, lists and updates a subscription', async () => {
      await seedHierarchy();
      const sub = await client.getSubscription('SUB-1');
      expect(sub?.status).to.equal('CREATED');
      expect(sub?.userAccount).to.equal('42_0');
      expect(sub?.subscriptionDate).to.equal(Date.UTC(2024, 0, 1));
      expect(sub?.accesses?.access?.map((a) => a.code)).to.deep.equal(['600111222']);
      expect(await client.getSubscription('NOPE')).to.equal(null);

      await client.createSubscription({
        code: 'SUB-2',
        userAccount: '42_0',
        offerTemplate: 'OF_SC_TEMPLATE_BA',
      });
      const page = await client.listSubscriptions({ userAccountCode: '42_0' });
      expect(page.items.map((s) => s.code)).to.deep.equal(['SUB-1', 'SUB-2']);
      expect(page.total).to.equal(2);

      await client.updateSubscription({
        code: 'SUB-1',
        description: '600999888',
        subscriptionDate: sub!.subscriptionDate!,
      });
      expect((await client.getSubscription('SUB-1'))?.description).to.equal('600999888');
    });

    it('filters the subscription list by status (the module query userAccount.code + status:ACTIVE)', async () => {
      await seedHierarchy();
      await client.activateServices({
        subscription: 'SUB-1',
        servicesToActivate: {
          service: [{ code: 'SE_SC_REC_MOBILE_T_150_1024', quantity: 1, subscriptionDate: '2024-01-01' }],
        },
      });
      await client.createSubscription({
        code: 'SUB-2',
        userAccount: '42_0',
        offerTemplate: 'OF_SC_TEMPLATE_MOB',
      });
      const active = await client.listSubscriptions({
        userAccountCode: '42_0',
        filters: { status: 'ACTIVE' },
      });
      expect(active.items.map((s) => s.code)).to.deep.equal(['SUB-1']);
      const none = await client.listSubscriptions({ userAccountCode: 'UNKNOWN' });
      expect(none.items).to.deep.equal([]);
      expect(none.total).to.equal(0);
    });

    it('update without subscriptionDate is MISSING_PARAMETER (400)', async () => {
      await seedHierarchy();
      const err = await expectError(
        client.updateSubscription({ code: 'SUB-1', description: 'x' }),
        OpenCellBusinessError,
      );
      expect(err.errorCode).to.equal('MISSING_PARAMETER');
      expect(err.httpStatus).to.equal(400);
      expect(err.message).to.contain('subscriptionDate.');
    });

    it('unknown offer and missing user account are 404 business errors', async () => {
      await seedHierarchy();
      const offer = await expectError(
        client.createSubscription({ code: 'S2', userAccount: '42_0', offerTemplate: 'OF_NOPE' }),
        OpenCellBusinessError,
      );
      expect(offer.errorCode).to.equal('ENTITY_DOES_NOT_EXISTS_EXCEPTION');
      expect(offer.message).to.contain('OfferTemplate with code=OF_NOPE');
      const ua = await expectError(
        client.createSubscription({ code: 'S2', userAccount: 'NOPE', offerTemplate: 'OF_SC_TEMPLATE_MOB' }),
        OpenCellBusinessError,
      );
      expect(ua.message).to.contain('UserAccount with code=NOPE does not exists.');
    });

    it('activates services (CREATED → ACTIVE) and rejects unknown or repeated services', async () => {
      await seedHierarchy();
      await client.activateServices({
        subscription: 'SUB-1',
        servicesToActivate: {
          service: [{ code: 'SE_SC_REC_MOBILE_T_UNL_20480', quantity: 1, subscriptionDate: '2024-01-01' }],
        },
      });
      const sub = await client.getSubscription('SUB-1');
      expect(sub?.status).to.equal('ACTIVE');
      expect(sub?.services?.serviceInstance?.map((s) => [s.code, s.status])).to.deep.equal([
        ['SE_SC_REC_MOBILE_T_UNL_20480', 'ACTIVE'],
      ]);

      const unknown = await expectError(
        client.activateServices({
          subscription: 'SUB-1',
          servicesToActivate: { service: [{ code: 'SE_NOPE', quantity: 1, subscriptionDate: '2024-01-01' }] },
        }),
        OpenCellBusinessError,
      );
      expect(unknown.errorCode).to.equal('BUSINESS_API_EXCEPTION');
      expect(unknown.httpStatus).to.equal(500);
      expect(unknown.retriable).to.equal(false);

      const again = await expectError(
        client.activateServices({
          subscription: 'SUB-1',
          servicesToActivate: {
            service: [{ code: 'SE_SC_REC_MOBILE_T_UNL_20480', quantity: 1, subscriptionDate: '2024-01-01' }],
          },
        }),
        OpenCellBusinessError,
      );
      expect(again.httpStatus).to.equal(500);
      expect(again.message).to.contain('is already activated');
    });

    it('terminates services and the subscription (past date: RESILIATED, access end-dated)', async () => {
      await seedHierarchy();
      await client.activateServices({
        subscription: 'SUB-1',
        servicesToActivate: {
          service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', quantity: 1, subscriptionDate: '2024-01-01' }],
        },
      });
      await client.terminateServices({
        subscriptionCode: 'SUB-1',
        terminationDate: '2024-02-01',
        terminationReason: 'CC_TERMINATION',
        services: ['SE_SC_REC_MOBILE_T_0_0'],
      });
      let sub = await client.getSubscription('SUB-1');
      const si = sub?.services?.serviceInstance?.[0];
      expect(si?.status).to.equal('TERMINATED');
      expect(si?.terminationDate).to.equal(Date.UTC(2024, 1, 1));

      await client.terminateSubscription({
        subscriptionCode: 'SUB-1',
        terminationDate: '2024-03-01',
        terminationReason: 'CC_TERMINATION',
      });
      sub = await client.getSubscription('SUB-1');
      expect(sub?.status).to.equal('RESILIATED');
      expect(sub?.accesses?.access?.[0]?.endDate).to.equal(Date.UTC(2024, 2, 1));
      const again = await expectError(
        client.terminateSubscription({
          subscriptionCode: 'SUB-1',
          terminationDate: '2024-03-01',
          terminationReason: 'CC_TERMINATION',
        }),
        OpenCellBusinessError,
      );
      expect(again.message).to.contain('already RESILIATED');
    });

    it('terminating today or later only schedules the end (status unchanged, subscribedTillDate set)', async () => {
      await seedHierarchy();
      const today = new Date(sandbox.now()).toISOString().slice(0, 10);
      await client.terminateSubscription({
        subscriptionCode: 'SUB-1',
        terminationDate: today,
        terminationReason: 'CC_TERMINATION',
      });
      const sub = await client.getSubscription('SUB-1');
      expect(sub?.status).to.equal('CREATED');
      expect(sub?.subscribedTillDate).to.equal(Date.parse(today));
    });

    it('applies one-shot charges; an unknown charge is a 404', async () => {
      await seedHierarchy();
      const ok = await client.applyOneShotChargeInstance({
        subscription: 'SUB-1',
        oneShotCharge: 'CH_SC_OSO_COMPENSATION',
        amountWithoutTax: -3.5,
        description: 'Compensation',
        operationDate: '2024-01-15',
      });
      expect(ok.status).to.equal('SUCCESS');
      expect(
        sandbox.state.subscriptions.get('SUB-1')?.oneShots.map((o) => [o.code, o.amountWithoutTax]),
      ).to.deep.equal([['CH_SC_OSO_COMPENSATION', -3.5]]);
      const err = await expectError(
        client.applyOneShotChargeInstance({ subscription: 'SUB-1', oneShotCharge: 'CH_NOPE' }),
        OpenCellBusinessError,
      );
      expect(err.errorCode).to.equal('ENTITY_DOES_NOT_EXISTS_EXCEPTION');
      expect(err.message).to.contain('OneShotChargeTemplate with code=CH_NOPE does not exists.');
    });

    it('lists the one-shot charges applied to a subscription (what a retry checks before charging again)', async () => {
      await seedHierarchy();
      expect(await client.listOneShotChargeInstances('SUB-1')).to.deep.equal([]);
      await client.applyOneShotChargeInstance({
        subscription: 'SUB-1',
        oneShotCharge: 'CH_SC_OSO_COMPENSATION',
        amountWithoutTax: -2,
      });
      await client.applyOneShotChargeInstance({
        subscription: 'SUB-1',
        oneShotCharge: 'CH_SC_OSO_COMPENSATION',
        amountWithoutTax: -3,
      });
      const listed = await client.listOneShotChargeInstances('SUB-1');
      expect(listed.map((i) => [i.code, i.amountWithoutTax])).to.deep.equal([
        ['CH_SC_OSO_COMPENSATION', -2],
        ['CH_SC_OSO_COMPENSATION', -3],
      ]);
      const err = await expectError(client.listOneShotChargeInstances('SUB-NOPE'), OpenCellBusinessError);
      expect(err.errorCode).to.equal('ENTITY_DOES_NOT_EXISTS_EXCEPTION');
    });
  });

  describe('access points', () => {
    it('creates, gets, lists and deletes an access', async () => {
      await seedHierarchy();
      expect((await client.getAccess('600111222', 'SUB-1'))?.subscription).to.equal('SUB-1');
      expect((await client.listAccesses('SUB-1')).map((a) => a.code)).to.deep.equal(['600111222']);
      await client.deleteAccess('600111222', 'SUB-1');
      expect(await client.getAccess('600111222', 'SUB-1')).to.equal(null);
      const err = await expectError(client.deleteAccess('600111222', 'SUB-1'), OpenCellBusinessError);
      expect(err.httpStatus).to.equal(404);
    });

    it('duplicate: the same number on another subscription in the same period is DUPLICATE_ACCESS (403)', async () => {
      await seedHierarchy();
      await client.createSubscription({
        code: 'SUB-2',
        userAccount: '42_0',
        offerTemplate: 'OF_SC_TEMPLATE_MOB',
      });
      const err = await expectError(
        client.createAccess({ code: '600111222', subscription: 'SUB-2' }),
        OpenCellBusinessError,
      );
      expect(err.errorCode).to.equal('DUPLICATE_ACCESS');
      expect(err.httpStatus).to.equal(403);
      expect(err.retriable).to.equal(false);
    });

    it('missing parent: an access on an unknown subscription is a 404', async () => {
      const err = await expectError(
        client.createAccess({ code: '600', subscription: 'NOPE' }),
        OpenCellBusinessError,
      );
      expect(err.message).to.contain('Subscription with code=NOPE does not exists.');
    });
  });

  describe('catalog reads', () => {
    it('reads offers (11.x flattened shape) with their services, services and one-shot charges', async () => {
      const offer = await client.getOfferTemplate('OF_SC_TEMPLATE_MOB');
      expect(offer?.code).to.equal('OF_SC_TEMPLATE_MOB');
      expect(offer?.offerServiceTemplate?.map((o) => o.serviceTemplate.code)).to.include(
        'SE_SC_REC_MOBILE_T_UNL_20480',
      );
      expect(await client.getOfferTemplate('OF_NOPE')).to.equal(null);
      const offers = await client.listOfferTemplates();
      expect(offers.items.map((o) => o.code)).to.include.members([
        'OF_SC_TEMPLATE_BA',
        'OF_SC_TEMPLATE_CT',
        'OF_SC_TEMPLATE_CV',
      ]);
      expect((await client.getServiceTemplate('SE_SC_REC_BA_F_600'))?.description).to.be.a('string');
      expect(await client.getServiceTemplate('SE_NOPE')).to.equal(null);
      const services = await client.listServiceTemplates({ limit: 5 });
      expect(services.items).to.have.length(5);
      expect(services.total).to.be.greaterThan(5);
      expect(
        (await client.getOneShotChargeTemplate('CH_SC_OSO_COMPENSATION'))?.oneShotChargeTemplateType,
      ).to.equal('OTHER');
      const oneShots = await client.listOneShotChargeTemplates();
      expect(oneShots.items.map((o) => o.code)).to.include.members([
        'CH_SC_OSO_SIM',
        'CH_SC_OSO_ROUTER_RETURN',
      ]);
    });

    it('also reads the ≤10.x wrapped offer shape', async () => {
      const v10 = await startOpenCellSandbox({ port: 0, profile: 'v10', user: USER, password: PASSWORD });
      const c = new OpenCellClient({
        baseUrl: v10.url,
        user: USER,
        password: PASSWORD,
        timeoutMs: 1000,
        concurrency: 1,
      });
      try {
        expect((await c.getOfferTemplate('OF_SC_TEMPLATE_BA'))?.offerServiceTemplate?.length).to.equal(6);
      } finally {
        c.close();
        await v10.close();
      }
    });
  });

  describe('invoices', () => {
    it('lists a billing run by date range and gets an invoice by number with its PDF', async () => {
      await seedHierarchy();
      await client.activateServices({
        subscription: 'SUB-1',
        servicesToActivate: {
          service: [{ code: 'SE_SC_REC_MOBILE_T_UNL_20480', quantity: 1, subscriptionDate: '2024-01-01' }],
        },
      });
      const run = sandbox.billingRun({ invoiceDate: '2024-02-01' });
      expect(run.invoiceCount).to.equal(1);
      const page = await client.listInvoices({
        from: '2024-02-01',
        to: '2024-03-01',
        includeTransactions: true,
      });
      expect(page.total).to.equal(1);
      const inv = page.items[0]!;
      expect(inv.billingAccountCode).to.equal('42_0');
      expect(inv.amountWithoutTax).to.equal(14.88);
      expect(inv.amountWithTax).to.equal(18);
      const sub = inv.categoryInvoiceAgregate?.[0]?.subCategoryInvoiceAgregateDto?.[0];
      expect(sub?.accountingCode).to.equal('705000');
      expect(sub?.ratedTransaction?.[0]?.subscriptionCode).to.equal('SUB-1');
      expect(inv.taxAggregate?.[0]?.taxCode).to.equal('TAX_HIGH');
      // toRange is exclusive
      expect((await client.listInvoices({ from: '2024-01-01', to: '2024-02-01' })).total).to.equal(0);

      const byNumber = await client.getInvoiceByNumber(inv.invoiceNumber!, { includePdf: true });
      expect(Buffer.from(byNumber!.pdf!, 'base64').subarray(0, 5).toString()).to.equal('%PDF-');
      expect((await client.getInvoicePdf(inv.invoiceNumber!))?.subarray(0, 5).toString()).to.equal('%PDF-');
      expect(await client.getInvoiceByNumber('SC-2099-0000001')).to.equal(null);
    });

    it('reads the billing run of invoices through the API v2 generic search (InvoiceDto has none), 100 ids a call', async () => {
      const first = sandbox.generateInvoices({
        count: 3,
        invoiceDate: '2024-06-01',
        billingAccountCodes: ['7_0'],
      });
      const second = sandbox.generateInvoices({
        count: 120,
        invoiceDate: '2024-06-02',
        billingAccountCodes: ['8_0'],
      });
      const ids = [...first.invoiceNumbers, ...second.invoiceNumbers].map(
        (n) => sandbox.state.invoicesByNumber.get(`COM|${n}`)!.invoiceId,
      );
      const before = sandbox.journal.entries({ path: '/v2/generic/all/invoice' }).length;
      const runs = await client.invoiceBillingRuns(ids);
      expect(runs.size).to.equal(123);
      expect(runs.get(ids[0]!)).to.equal(String(first.billingRunId));
      expect(runs.get(ids[122]!)).to.equal(String(second.billingRunId));
      expect(sandbox.journal.entries({ path: '/v2/generic/all/invoice' }).length - before).to.equal(2);
      expect((await client.invoiceBillingRuns([987654321])).size).to.equal(0);
    });

    it('pages through a large range', async () => {
      sandbox.generateInvoices({
        count: 250,
        invoiceDate: '2024-05-01',
        billingAccountCodes: ['1_0', '2_0'],
      });
      const first = await client.listInvoices({ from: '2024-05-01', to: '2024-05-02', limit: 100 });
      expect(first.total).to.equal(250);
      expect(first.items).to.have.length(100);
      const numbers: string[] = [];
      for await (const inv of client.iterateInvoices({ from: '2024-05-01', to: '2024-05-02', limit: 100 })) {
        numbers.push(inv.invoiceNumber!);
      }
      expect(new Set(numbers).size).to.equal(250);
      const ba = await client.listInvoices({
        from: '2024-05-01',
        to: '2024-05-02',
        billingAccountCode: '2_0',
        limit: 500,
      });
      expect(ba.total).to.equal(125);
    });

    it('a list without totalNumberOfRecords (issue 15 §5): every page is read, until a short page', async () => {
      sandbox.generateInvoices({ count: 250, invoiceDate: '2024-06-01', billingAccountCodes: ['1_0'] });
      sandbox.state.omitListTotal = true;
      try {
        const first = await client.listInvoices({ from: '2024-06-01', to: '2024-06-02', limit: 100 });
        expect(first.total).to.equal(undefined);
        expect(first.items).to.have.length(100);
        const numbers: string[] = [];
        for await (const inv of client.iterateInvoices({ from: '2024-06-01', to: '2024-06-02', limit: 100 }))
          numbers.push(inv.invoiceNumber!);
        expect(new Set(numbers).size).to.equal(250);
        // exactly a multiple of the page size: the empty page after the last full one ends the range
        const exact: string[] = [];
        for await (const inv of client.iterateInvoices({ from: '2024-06-01', to: '2024-06-02', limit: 50 }))
          exact.push(inv.invoiceNumber!);
        expect(new Set(exact).size).to.equal(250);
      } finally {
        sandbox.state.omitListTotal = false;
      }
    });
  });

  describe('error classification', () => {
    it('5xx is OPENCELL_UNAVAILABLE and retriable; the call succeeds once the fault is spent', async () => {
      sandbox.faults.add({ kind: 'error', status: 503, path: '^/account/customer$', count: 1 });
      const err = await expectError(client.getCustomer('42'), OpenCellUnavailableError);
      expect(err.code).to.equal('OPENCELL_UNAVAILABLE');
      expect(err.httpStatus).to.equal(503);
      expect(err.retriable).to.equal(true);
      expect(await client.getCustomer('42')).to.equal(null);
    });

    it('a 500 text/plain exception chain is retriable too', async () => {
      sandbox.faults.add({ kind: 'error', status: 500, count: 1 });
      const err = await expectError(client.getSubscription('X'), OpenCellUnavailableError);
      expect(err.code).to.equal('OPENCELL_UNAVAILABLE');
      expect(err.httpStatus).to.equal(500);
    });

    it('429 is OPENCELL_RATE_LIMITED with retryAfterMs from Retry-After (seconds and HTTP date)', async () => {
      sandbox.faults.add({ kind: 'rateLimit', retryAfterSeconds: 2, count: 1 });
      const err = await expectError(client.getSubscription('X'), OpenCellUnavailableError);
      expect(err.code).to.equal('OPENCELL_RATE_LIMITED');
      expect(err.httpStatus).to.equal(429);
      expect(err.retryAfterMs).to.equal(2000);
      expect(err.retriable).to.equal(true);

      sandbox.faults.add({ kind: 'rateLimit', retryAfterSeconds: 30, retryAfterHttpDate: true, count: 1 });
      const dated = await expectError(client.getSubscription('X'), OpenCellUnavailableError);
      expect(dated.retryAfterMs).to.be.within(27_000, 30_000);
    });

    it('a hanging request is OPENCELL_TIMEOUT after timeoutMs, retriable', async () => {
      sandbox.faults.add({ kind: 'timeout', count: 1 });
      const started = Date.now();
      const err = await expectError(client.getSubscription('X'), OpenCellUnavailableError);
      expect(err.code).to.equal('OPENCELL_TIMEOUT');
      expect(err.retriable).to.equal(true);
      expect(Date.now() - started).to.be.within(350, 2000);
    });

    it('a dropped connection and a refused connection are NETWORK, retriable', async () => {
      sandbox.faults.add({ kind: 'reset', count: 1 });
      const reset = await expectError(client.getSubscription('X'), OpenCellUnavailableError);
      expect(reset.code).to.equal('NETWORK');
      const dead = new OpenCellClient({
        baseUrl: 'http://127.0.0.1:1/opencell',
        user: USER,
        password: PASSWORD,
        timeoutMs: 1000,
        concurrency: 1,
      });
      const refused = await expectError(dead.getSubscription('X'), OpenCellUnavailableError);
      dead.close();
      expect(refused.code).to.equal('NETWORK');
      expect(refused.retriable).to.equal(true);
    });

    it('HTTP 200 with status FAIL / errorCode is a business error', async () => {
      sandbox.faults.add({ kind: 'fail200', errorCode: 'BUSINESS_API_EXCEPTION', message: 'nope', count: 1 });
      const err = await expectError(
        client.createAccess({ code: '1', subscription: 'S' }),
        OpenCellBusinessError,
      );
      expect(err.httpStatus).to.equal(200);
      expect(err.errorCode).to.equal('BUSINESS_API_EXCEPTION');
      expect(err.message).to.contain('nope');
      expect(err.retriable).to.equal(false);
    });

    it('a legacy server answering every failure with HTTP 200 + FAIL is still understood', async () => {
      const legacy = await startOpenCellSandbox({ port: 0, legacy200: true, user: USER, password: PASSWORD });
      const c = new OpenCellClient({
        baseUrl: legacy.url,
        user: USER,
        password: PASSWORD,
        timeoutMs: 1000,
        concurrency: 1,
      });
      try {
        const err = await expectError(
          c.createSubscription({ code: 'S', userAccount: 'NOPE', offerTemplate: 'X' }),
          OpenCellBusinessError,
        );
        expect(err.httpStatus).to.equal(200);
        expect(err.errorCode).to.equal('ENTITY_DOES_NOT_EXISTS_EXCEPTION');
        expect(await c.getSubscription('S')).to.equal(null);
      } finally {
        c.close();
        await legacy.close();
      }
    });

    it('a response committed before the fault: the retry sees ENTITY_ALREADY_EXISTS', async () => {
      await seedHierarchy();
      sandbox.faults.add({
        kind: 'error',
        status: 502,
        phase: 'after',
        path: '^/billing/subscription$',
        method: 'POST',
        count: 1,
      });
      const dto = { code: 'SUB-9', userAccount: '42_0', offerTemplate: 'OF_SC_TEMPLATE_MOB' };
      await expectError(client.createSubscription(dto), OpenCellUnavailableError);
      const err = await expectError(client.createSubscription(dto), OpenCellBusinessError);
      expect(err.errorCode).to.equal('ENTITY_ALREADY_EXISTS_EXCEPTION');
    });

    it('bad credentials: 401 business error; the password never appears in errors', async () => {
      const wrong = new OpenCellClient({
        baseUrl: sandbox.url,
        user: USER,
        password: 'Wr0ng-Passw0rd',
        timeoutMs: 1000,
        concurrency: 1,
      });
      try {
        const err = await expectError(wrong.getCustomer('42'), OpenCellBusinessError);
        expect(err.httpStatus).to.equal(401);
        expect(err.errorCode).to.equal('AUTHENTICATION_AUTHORIZATION_EXCEPTION');
        const dump = `${err.message} ${err.stack} ${JSON.stringify(err)} ${JSON.stringify(wrong)}`;
        expect(dump).not.to.contain('Wr0ng-Passw0rd');
        expect(dump).not.to.contain(Buffer.from(`${USER}:Wr0ng-Passw0rd`).toString('base64'));
      } finally {
        wrong.close();
      }
    });

    it('the password is scrubbed even when the server echoes it back', async () => {
      sandbox.faults.add({ kind: 'fail200', message: `invalid password ${PASSWORD}`, count: 1 });
      sandbox.faults.add({ kind: 'error', status: 503, message: `down for ${PASSWORD}`, count: 1 });
      const errors: SyncError[] = [
        await expectError(client.getSubscription('X'), OpenCellBusinessError),
        await expectError(client.getSubscription('X'), OpenCellUnavailableError),
      ];
      for (const e of errors) {
        expect(`${e.message} ${JSON.stringify(e)}`).not.to.contain(PASSWORD);
        expect(e.message).to.contain('[redacted]');
      }
    });

    it('a body of the wrong shape is OPENCELL_BAD_RESPONSE, not retriable', async () => {
      const server = http.createServer((req, res) => {
        res.writeHead(200, {
          'Content-Type': req.url?.includes('subscription') ? 'text/html' : 'application/json',
        });
        res.end(
          req.url?.includes('subscription')
            ? '<html>proxy</html>'
            : JSON.stringify({ actionStatus: { status: 'SUCCESS' }, customer: { id: 'x' } }),
        );
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const c = new OpenCellClient({
        baseUrl: `http://127.0.0.1:${port}/opencell`,
        user: USER,
        password: PASSWORD,
        timeoutMs: 1000,
        concurrency: 1,
      });
      try {
        const shape = await expectError(c.getCustomer('42'), BadResponseError);
        expect(shape.code).to.equal('OPENCELL_BAD_RESPONSE');
        expect(shape.retriable).to.equal(false);
        expect(shape.message).to.contain('customer.code');
        const html = await expectError(c.getSubscription('S'), BadResponseError);
        expect(html.message).to.contain('not JSON');
      } finally {
        c.close();
        await new Promise((r) => server.close(r));
      }
    });
  });

  describe('observer and transport', () => {
    it('reports endpoint, outcome and duration for every call', async () => {
      await client.getCustomer('42');
      sandbox.faults.add({ kind: 'rateLimit', count: 1 });
      await client.getSubscription('S').catch(() => undefined);
      expect(events.map((e) => [e.endpoint, e.outcome])).to.deep.equal([
        ['customer.get', 'business_error'],
        ['subscription.get', 'rate_limited'],
      ]);
      expect(events[0]!.errorCode).to.equal('ENTITY_DOES_NOT_EXISTS_EXCEPTION');
      expect(events[0]!.httpStatus).to.equal(404);
      for (const e of events) expect(e.durationMs).to.be.a('number').and.at.least(0);
      const extra: CallEvent[] = [];
      const off = client.onCall((e) => extra.push(e));
      await client.listAccesses('X').catch(() => undefined);
      off();
      await client.listAccesses('X').catch(() => undefined);
      expect(extra.map((e) => e.endpoint)).to.deep.equal(['access.list']);
    });

    it('sends Basic auth and JSON to {baseUrl}/api/rest/...', async () => {
      await client.createAccess({ code: '1', subscription: 'S' }).catch(() => undefined);
      const [entry] = sandbox.journal.entries({ method: 'POST', path: '/account/access' });
      expect(entry?.body).to.deep.equal({ code: '1', subscription: 'S' });
      expect(entry?.status).to.equal(404);
    });

    it('carries 200 concurrent calls over the keep-alive pool (at most its concurrency of connections)', async () => {
      await seedHierarchy();
      // A client of its own with a generous timeout: the assertion is on connections reused, not on time, so a loaded
      // machine cannot fail it.
      const pooled = new OpenCellClient({
        baseUrl: sandbox.url,
        user: USER,
        password: PASSWORD,
        timeoutMs: 30_000,
        concurrency: 8,
      });
      try {
        const before = sandbox.connectionsAccepted();
        const results = await Promise.all(Array.from({ length: 200 }, () => pooled.getSubscription('SUB-1')));
        expect(results.every((s) => s?.code === 'SUB-1')).to.equal(true);
        const opened = sandbox.connectionsAccepted() - before;
        expect(opened).to.be.at.least(1).and.at.most(8);
      } finally {
        pooled.close();
      }
    });

    it('parseRetryAfter reads delta-seconds and HTTP dates', () => {
      const now = Date.UTC(2024, 0, 1, 12, 0, 0);
      expect(parseRetryAfter('3', now)).to.equal(3000);
      expect(parseRetryAfter(new Date(now + 10_000).toUTCString(), now)).to.equal(10_000);
      expect(parseRetryAfter(new Date(now - 10_000).toUTCString(), now)).to.equal(0);
      expect(parseRetryAfter('soon', now)).to.equal(undefined);
      expect(parseRetryAfter(null, now)).to.equal(undefined);
    });
  });
});
