import { expect } from 'chai';
import fetch from 'node-fetch';
import { defaultCatalog, startOpenCellSandbox, type OpenCellSandbox } from '../../testkit/sandbox/opencell';

const AUTH = `Basic ${Buffer.from('opencell.superadmin:opencell.superadmin').toString('base64')}`;

interface Res {
  status: number;
  text: string;
  body: Record<string, unknown>;
  contentType: string;
}

describe('OpenCell sandbox: contract and validations', () => {
  let sb: OpenCellSandbox;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    opts: { auth?: string | null; contentType?: string; raw?: string; base?: string } = {},
  ): Promise<Res> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (opts.auth !== null) headers.Authorization = opts.auth ?? AUTH;
    const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    if (payload !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
    const r = await fetch(`${opts.base ?? sb.apiUrl}${path}`, { method, headers, body: payload });
    const text = await r.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = {};
    }
    return { status: r.status, text, body: parsed, contentType: r.headers.get('content-type') ?? '' };
  }

  function expectFail(
    r: Res,
    status: number,
    errorCode: string | undefined,
    message?: string | RegExp,
  ): void {
    expect(r.status, r.text).to.equal(status);
    expect(r.body.status).to.equal('FAIL');
    if (errorCode === undefined) expect(r.body).not.to.have.property('errorCode');
    else expect(r.body.errorCode).to.equal(errorCode);
    if (typeof message === 'string') expect(r.body.message).to.equal(message);
    else if (message) expect(String(r.body.message)).to.match(message);
  }

  const crm = (over: Record<string, unknown> = {}) => ({
    crmAccountType: 'C_UA',
    crmParentCode: 'SC',
    code: 'P1',
    description: 'Jane Doe',
    name: { title: 'MS', firstName: 'Jane', lastName: 'Doe' },
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
    ...over,
  });

  async function hierarchy(code = 'P1'): Promise<void> {
    const r = await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', crm({ code }));
    expect(r.status, r.text).to.equal(200);
  }

  async function subscription(code = 'S1', ua = 'P1', date = '2024-01-01'): Promise<void> {
    const r = await call('POST', '/billing/subscription', {
      code,
      userAccount: ua,
      offerTemplate: 'OF_SC_TEMPLATE_MOB',
      subscriptionDate: date,
    });
    expect(r.status, r.text).to.equal(200);
  }

  async function activate(sub: string, service: string, date = '2024-01-01'): Promise<Res> {
    return call('POST', '/billing/subscription/activateServices', {
      subscription: sub,
      servicesToActivate: { service: [{ code: service, quantity: 1, subscriptionDate: date }] },
    });
  }

  before(async () => {
    sb = await startOpenCellSandbox({ port: 0 });
  });
  after(() => sb.close());
  beforeEach(() => {
    sb.reset();
    sb.setNow(null);
  });

  describe('transport, auth and serialization', () => {
    it('starts on a free port and serves under /opencell/api/rest', async () => {
      const other = await startOpenCellSandbox({ port: 0 });
      expect(other.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/opencell$/);
      const r = await call('GET', '/billing/subscription/version', undefined, { base: other.apiUrl });
      expect(r.body).to.deep.include({ status: 'SUCCESS' });
      await other.close();
    });

    it('401 with a non-JSON body for missing or bad credentials; any Bearer token is accepted', async () => {
      const none = await call('GET', '/billing/subscription?subscriptionCode=X', undefined, { auth: null });
      expect(none.status).to.equal(401);
      expect(none.contentType).to.contain('text/html');
      const bad = await call('GET', '/billing/subscription?subscriptionCode=X', undefined, {
        auth: `Basic ${Buffer.from('opencell.superadmin:nope').toString('base64')}`,
      });
      expect(bad.status).to.equal(401);
      const bearer = await call('GET', '/billing/subscription?subscriptionCode=X', undefined, {
        auth: 'Bearer abc.def',
      });
      expect(bearer.status).to.equal(404);
    });

    it('unknown path or wrong method → 404 with an empty body (11.x)', async () => {
      const unknown = await call('GET', '/account/nothing');
      expect(unknown.status).to.equal(404);
      expect(unknown.text).to.equal('');
      const wrongMethod = await call('DELETE', '/billing/subscription');
      expect(wrongMethod.status).to.equal(404);
      const twoSegmentDelete = await call('DELETE', '/account/access/600/S1');
      expect(twoSegmentDelete.status).to.equal(404);
    });

    it('unknown properties, bad dates, bad enums and malformed JSON are 400 INVALID_PARAMETER', async () => {
      expectFail(
        await call('POST', '/account/access', { code: 'A', subscription: 'S', foo: 1 }),
        400,
        'INVALID_PARAMETER',
        /^Unrecognized field "foo" \(class org\.meveo\.api\.dto\.account\.AccessDto\), not marked as ignorable/,
      );
      expectFail(
        await call('POST', '/account/access', { code: 'A', subscription: 'S', startDate: 'tomorrow' }),
        400,
        'INVALID_PARAMETER',
        /Cannot deserialize value of type `java\.util\.Date` from String "tomorrow"/,
      );
      expectFail(
        await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', crm({ caStatus: 'OPEN' })),
        400,
        'INVALID_PARAMETER',
        /CustomerAccountStatusEnum/,
      );
      expectFail(
        await call('POST', '/account/access', undefined, { raw: '{"code":' }),
        400,
        'INVALID_PARAMETER',
      );
      expectFail(
        await call('POST', '/account/access', { code: 'A', subscription: 'S', disabled: 'maybe' }),
        400,
        'INVALID_PARAMETER',
        /java\.lang\.Boolean/,
      );
    });

    it('accepts epoch ms, ISO date-times, numeric strings and "true"; answers with epoch ms and no nulls', async () => {
      await hierarchy();
      const r = await call('POST', '/billing/subscription', {
        code: 'S1',
        userAccount: 'P1',
        offerTemplate: 'OF_SC_TEMPLATE_MOB',
        subscriptionDate: '2024-02-01T10:00:00Z',
        endAgreementDate: Date.UTC(2025, 0, 1),
        renewed: 'true',
        description: null,
      });
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.include({ status: 'SUCCESS', entityCode: 'S1' });
      const got = await call('GET', '/billing/subscription?subscriptionCode=S1');
      const sub = got.body.subscription as Record<string, unknown>;
      expect(sub.subscriptionDate).to.equal(Date.UTC(2024, 1, 1, 10));
      expect(sub.endAgreementDate).to.equal(Date.UTC(2025, 0, 1));
      expect(sub.renewed).to.equal(true);
      expect(sub).not.to.have.property('description');
      expect(got.text).not.to.contain('null');
      expect(sub.services).to.deep.equal({ serviceInstance: [] });
    });

    it('a body without a JSON content type is a 500 text/plain (JAX-RS catch-all)', async () => {
      const r = await call('POST', '/account/access', undefined, {
        raw: 'code=1',
        contentType: 'application/x-www-form-urlencoded',
      });
      expect(r.status).to.equal(500);
      expect(r.contentType).to.contain('text/plain');
    });
  });

  describe('CRM account hierarchy', () => {
    it('C_UA creates customer, CA, BA and UA with the same code and a PRINCIPAL-walleted UA; answers {"status":"SUCCESS"}', async () => {
      const r = await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', crm());
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.equal({ status: 'SUCCESS' });
      const s = sb.state;
      expect(s.customers.get('P1')?.seller).to.equal('SC');
      expect(s.customerAccounts.get('P1')?.customer).to.equal('P1');
      expect(s.billingAccounts.get('P1')?.customerAccount).to.equal('P1');
      expect(s.userAccounts.get('P1')?.billingAccount).to.equal('P1');
      expect(s.userAccounts.get('P1')?.wallet).to.equal('PRINCIPAL');
      const ba = await call('GET', '/account/billingAccount?billingAccountCode=P1');
      expect(ba.body).to.include.keys('actionStatus', 'billingAccount', 'invoices', 'isCompany', 'tags');
      const ca = await call('GET', '/account/customerAccount?customerAccountCode=P1');
      const mop = (ca.body.customerAccount as { methodOfPayment: Array<Record<string, unknown>> })
        .methodOfPayment;
      expect(mop).to.have.length(1);
      expect(mop[0]).to.include({
        paymentMethodType: 'DIRECTDEBIT',
        preferred: true,
        mandateDate: Date.UTC(2024, 0, 15),
      });
    });

    it('missing crmAccountType → 400; an unknown type → 500 without errorCode', async () => {
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ crmAccountType: undefined }),
        ),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: crmAccountType.',
      );
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ crmAccountType: 'XX' }),
        ),
        500,
        undefined,
        'Account type does not match any BAM or AccountHierarchyTypeEnum',
      );
    });

    it('one 400 lists every missing field of the level; title without lastName is reported', async () => {
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ customerCategory: '', name: { title: 'MR' } }),
        ),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: customerCategory, name.lastName.',
      );
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ currency: undefined, language: undefined }),
        ),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: currency, language.',
      );
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ email: undefined, mailingType: 'Manual' }),
        ),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: email, emailTemplate.',
      );
    });

    it('unknown reference codes → 404 with OpenCell message templates', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ customerCategory: 'VIP' }, 'CustomerCategory with code=VIP does not exists.'],
        [{ crmParentCode: 'OTHER' }, 'Seller with code=OTHER does not exists.'],
        [{ language: 'DEU' }, 'TradingLanguage with code=DEU does not exists.'],
        [{ currency: 'USD' }, 'TradingCurrency with code=USD does not exists.'],
        [{ country: 'XX' }, 'TradingCountry with code=XX does not exists.'],
        [{ billingCycle: 'BC_X' }, 'BillingCycle with code=BC_X does not exists.'],
        [{ name: { title: 'DR', lastName: 'Doe' } }, 'Title with code=DR does not exists.'],
        [{ address: { country: 'Narnia' } }, 'Country with code=Narnia does not exists.'],
      ];
      for (const [over, msg] of cases) {
        expectFail(
          await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', crm(over)),
          404,
          'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
          msg,
        );
      }
      expect(sb.state.customers.size).to.equal(0);
    });

    it('address countries match the ISO code or the description, case-insensitively', async () => {
      const r = await call(
        'POST',
        '/account/accountHierarchy/createCRMAccountHierarchy',
        crm({ address: { country: 'spain' } }),
      );
      expect(r.status, r.text).to.equal(200);
    });

    it('payment method rules: DIRECTDEBIT without IBAN → 500 GENERIC; too long owner → 400', async () => {
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({
            methodOfPayment: [
              { paymentMethodType: 'DIRECTDEBIT', bankCoordinates: { accountOwner: 'Jane' } },
            ],
          }),
        ),
        500,
        'GENERIC_API_EXCEPTION',
        'Missing IBAN.',
      );
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ methodOfPayment: [{ paymentMethodType: 'DIRECTDEBIT' }] }),
        ),
        500,
        'GENERIC_API_EXCEPTION',
        'Missing Bank coordinates or MandateIdentification.',
      );
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({
            methodOfPayment: [
              {
                paymentMethodType: 'DIRECTDEBIT',
                bankCoordinates: { iban: 'ES91', accountOwner: 'x'.repeat(51) },
              },
            ],
          }),
        ),
        400,
        'INVALID_PARAMETER',
        /BankCoordinates\.accountOwner/,
      );
    });

    it('no method of payment → one preferred CHECK method', async () => {
      await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', crm({ methodOfPayment: [] }));
      expect(
        sb.state.customerAccounts.get('P1')?.methodOfPayment.map((m) => [m.paymentMethodType, m.preferred]),
      ).to.deep.equal([['CHECK', true]]);
    });

    it('duplicates: customer/CA → 409 ENTITY_ALREADY_EXISTS; an existing UA → 500 BUSINESS_API_EXCEPTION', async () => {
      await hierarchy();
      expectFail(
        await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', crm()),
        409,
        'ENTITY_ALREADY_EXISTS_EXCEPTION',
        'Customer with code=P1 already exists.',
      );
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ crmAccountType: 'CA_UA', crmParentCode: 'P1' }),
        ),
        409,
        'ENTITY_ALREADY_EXISTS_EXCEPTION',
        'CustomerAccount with code=P1 already exists.',
      );
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ crmAccountType: 'UA', crmParentCode: 'P1' }),
        ),
        500,
        'BUSINESS_API_EXCEPTION',
        'account already exist code=P1',
      );
    });

    it('CA_UA under a customer: missing parent → 404; the call is atomic', async () => {
      expectFail(
        await call(
          'POST',
          '/account/accountHierarchy/createCRMAccountHierarchy',
          crm({ crmAccountType: 'CA_UA', crmParentCode: 'NOPE', code: 'NOPE_0' }),
        ),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Customer with code=NOPE does not exists.',
      );
      await hierarchy();
      // CA and BA would be valid; the UA level fails because a UA with that code exists → nothing is stored.
      sb.state.userAccounts.set('P1_0', { ...sb.state.userAccounts.get('P1')!, code: 'P1_0' });
      const r = await call(
        'POST',
        '/account/accountHierarchy/createCRMAccountHierarchy',
        crm({ crmAccountType: 'CA_UA', crmParentCode: 'P1', code: 'P1_0' }),
      );
      expectFail(r, 500, 'BUSINESS_API_EXCEPTION');
      expect(sb.state.customerAccounts.has('P1_0')).to.equal(false);
      expect(sb.state.billingAccounts.has('P1_0')).to.equal(false);
    });

    it('createOrUpdate decides by the top level only; a missing lower level → 404', async () => {
      await hierarchy();
      sb.state.userAccounts.delete('P1');
      expectFail(
        await call('POST', '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy', {
          crmAccountType: 'CA_UA',
          code: 'P1',
          email: 'x@example.org',
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'UserAccount with code=P1 does not exists.',
      );
    });

    it('update semantics: absent keeps, "" clears, payment methods merge (first preferred), parent change refused', async () => {
      await hierarchy();
      const r = await call('POST', '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy', {
        crmAccountType: 'CA_UA',
        code: 'P1',
        currency: 'EUR',
        language: 'CAT',
        address: { address1: 'Carrer Nou 2', city: '' },
        methodOfPayment: [
          {
            paymentMethodType: 'DIRECTDEBIT',
            bankCoordinates: { iban: 'ES7921000813610123456789', accountOwner: 'Jane Doe' },
          },
        ],
      });
      expect(r.status, r.text).to.equal(200);
      expect(r.body).to.deep.equal({ status: 'SUCCESS', message: '' });
      const ca = sb.state.customerAccounts.get('P1')!;
      expect(ca.language).to.equal('CAT');
      expect(ca.address).to.deep.equal({ address1: 'Carrer Nou 2', zipCode: '08001', country: 'ES' });
      expect(ca.methodOfPayment.map((m) => [m.bankCoordinates?.iban, m.preferred])).to.deep.equal([
        ['ES9121000418450200051332', false],
        ['ES7921000813610123456789', true],
      ]);
      expect(sb.state.billingAccounts.get('P1')?.address?.address1).to.equal('Carrer Nou 2');
      expectFail(
        await call('POST', '/account/accountHierarchy/updateCRMAccountHierarchy', {
          crmAccountType: 'CA_UA',
          code: 'P1',
          crmParentCode: 'OTHER',
        }),
        400,
        'INVALID_PARAMETER',
        /Can not change the parent account/,
      );
    });
  });

  describe('customer API', () => {
    it('create requires code and customerCategory; reads embed CAs only with includeCustomerAccounts=true', async () => {
      expectFail(
        await call('POST', '/account/customer', { description: 'x' }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: code, customerCategory.',
      );
      const ok = await call('POST', '/account/customer', {
        code: 'C1',
        customerCategory: 'CLIENT',
        seller: 'SC',
      });
      expect(ok.body).to.include({ status: 'SUCCESS', entityCode: 'C1' });
      expectFail(
        await call('POST', '/account/customer', { code: 'C1', customerCategory: 'CLIENT' }),
        409,
        'ENTITY_ALREADY_EXISTS_EXCEPTION',
        'Customer with code=C1 already exists.',
      );
      expectFail(
        await call('POST', '/account/customer', {
          code: 'C2',
          customerCategory: 'CLIENT',
          customFields: { customField: [{ code: 'CF_X', stringValue: 'a' }] },
        }),
        400,
        'INVALID_PARAMETER',
        'Custom field template with code CF_X not found.',
      );
      await call(
        'POST',
        '/account/accountHierarchy/createCRMAccountHierarchy',
        crm({ crmAccountType: 'CA_UA', crmParentCode: 'C1', code: 'C1_0' }),
      );
      const plain = await call('GET', '/account/customer?customerCode=C1');
      expect(plain.body.customer).not.to.have.property('customerAccounts');
      const full = await call('GET', '/account/customer/C1?includeCustomerAccounts=true');
      expect(
        (full.body.customer as { customerAccounts: { customerAccount: unknown[] } }).customerAccounts
          .customerAccount,
      ).to.have.length(1);
      expectFail(
        await call('GET', '/account/customer?customerCode=NOPE'),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Customer with code=NOPE does not exists.',
      );
      expectFail(
        await call('PUT', '/account/customer', { code: 'NOPE' }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
      );
    });
  });

  describe('subscriptions', () => {
    it('create: missing → 400, duplicate → 409, unknown UA/offer → 404 with the dated offer message, unknown CF → 400', async () => {
      await hierarchy();
      expectFail(
        await call('POST', '/billing/subscription', { code: 'S1' }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: userAccount, offerTemplate.',
      );
      await subscription();
      expectFail(
        await call('POST', '/billing/subscription', {
          code: 'S1',
          userAccount: 'P1',
          offerTemplate: 'OF_SC_TEMPLATE_MOB',
        }),
        409,
        'ENTITY_ALREADY_EXISTS_EXCEPTION',
        'Subscription with code=S1 already exists.',
      );
      expectFail(
        await call('POST', '/billing/subscription', {
          code: 'S2',
          userAccount: 'NOPE',
          offerTemplate: 'OF_SC_TEMPLATE_MOB',
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'UserAccount with code=NOPE does not exists.',
      );
      expectFail(
        await call('POST', '/billing/subscription', {
          code: 'S2',
          userAccount: 'P1',
          offerTemplate: 'OF_X',
          subscriptionDate: '2024-02-01',
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'OfferTemplate with code=OF_X / 01/02/2024 00:00 does not exists.',
      );
      expectFail(
        await call('POST', '/billing/subscription', {
          code: 'S2',
          userAccount: 'P1',
          offerTemplate: 'OF_SC_TEMPLATE_MOB',
          subscriptionDate: '2018-01-01',
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        /OfferTemplate with code=OF_SC_TEMPLATE_MOB \/ 01\/01\/2018/,
      );
      expectFail(
        await call('POST', '/billing/subscription', {
          code: 'S2',
          userAccount: 'P1',
          offerTemplate: 'OF_SC_TEMPLATE_MOB',
          customFields: { customField: [{ code: 'CF_NOPE', stringValue: 'x' }] },
        }),
        400,
        'INVALID_PARAMETER',
        'Custom field template with code CF_NOPE not found.',
      );
      const withCf = await call('POST', '/billing/subscription', {
        code: 'S2',
        userAccount: 'P1',
        offerTemplate: 'OF_SC_TEMPLATE_BA',
        customFields: { customField: [{ code: 'CF_OF_SC_SUB_SERVICE_CITY', stringValue: 'Girona' }] },
      });
      expect(withCf.status, withCf.text).to.equal(200);
      expect(sb.state.subscriptions.get('S2')?.seller).to.equal('SC');
    });

    it('seller not allowed on the offer → 500 ENTITY_NOT_ALLOWED_EXCEPTION', async () => {
      const catalog = defaultCatalog();
      catalog.sellers.push({ code: 'OTHER' });
      sb.reset(catalog);
      await call(
        'POST',
        '/account/accountHierarchy/createCRMAccountHierarchy',
        crm({ crmParentCode: 'OTHER' }),
      );
      expectFail(
        await call('POST', '/billing/subscription', {
          code: 'S1',
          userAccount: 'P1',
          offerTemplate: 'OF_SC_TEMPLATE_MOB',
        }),
        500,
        'ENTITY_NOT_ALLOWED_EXCEPTION',
      );
    });

    it('update: requires subscriptionDate, overwrites description, refuses a RESILIATED subscription', async () => {
      await hierarchy();
      await subscription();
      await call('PUT', '/billing/subscription', {
        code: 'S1',
        description: 'first',
        subscriptionDate: '2024-01-01',
        endAgreementDate: '2025-01-01',
      });
      expectFail(
        await call('PUT', '/billing/subscription', { code: 'S1', description: 'x' }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: subscriptionDate.',
      );
      await call('PUT', '/billing/subscription', { code: 'S1', subscriptionDate: '2024-01-01' });
      const sub = sb.state.subscriptions.get('S1')!;
      expect(sub.description).to.equal(undefined);
      expect(sub.endAgreementDate).to.equal(undefined);
      expectFail(
        await call('PUT', '/billing/subscription', {
          code: 'S1',
          subscriptionDate: '2024-01-01',
          userAccount: 'OTHER',
        }),
        400,
        'INVALID_PARAMETER',
      );
      await call('POST', '/billing/subscription/terminate', {
        subscriptionCode: 'S1',
        terminationReason: 'CC_TERMINATION',
        terminationDate: '2024-02-01',
      });
      expectFail(
        await call('PUT', '/billing/subscription', { code: 'S1', subscriptionDate: '2024-01-01' }),
        500,
        undefined,
        'Subscription is already RESILIATED.',
      );
    });

    it('activateServices: required fields, offer membership, unknown service, double activation', async () => {
      await hierarchy();
      await subscription();
      expectFail(
        await call('POST', '/billing/subscription/activateServices', {
          subscription: 'S1',
          servicesToActivate: {
            service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', subscriptionDate: '2024-01-01' }],
          },
        }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: quantity for service SE_SC_REC_MOBILE_T_0_0',
      );
      expectFail(
        await call('POST', '/billing/subscription/activateServices', {
          subscription: 'S1',
          servicesToActivate: { service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', quantity: 1 }] },
        }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: SubscriptionDate.',
      );
      expectFail(
        await call('POST', '/billing/subscription/activateServices', { subscription: 'S1' }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: servicesToActivate.',
      );
      expectFail(
        await activate('S1', 'SE_SC_REC_BA_F_600'),
        500,
        'BUSINESS_API_EXCEPTION',
        'No offerServiceTemplate corresponds to SE_SC_REC_BA_F_600',
      );
      expectFail(
        await activate('S1', 'SE_NOPE'),
        500,
        'BUSINESS_API_EXCEPTION',
        'No service template or valid product version found for code: SE_NOPE',
      );
      expectFail(
        await activate('NOPE', 'SE_SC_REC_MOBILE_T_0_0'),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Subscription with code=NOPE does not exists.',
      );
      expect(sb.state.subscriptions.get('S1')?.status).to.equal('CREATED');
      expect((await activate('S1', 'SE_SC_REC_MOBILE_T_0_0')).status).to.equal(200);
      expect(sb.state.subscriptions.get('S1')?.status).to.equal('ACTIVE');
      expectFail(
        await activate('S1', 'SE_SC_REC_MOBILE_T_0_0'),
        500,
        undefined,
        'ServiceInstance with code=SE_SC_REC_MOBILE_T_0_0 is already activated.',
      );
      // accepted-and-ignored order fields
      const r = await call('POST', '/billing/subscription/activateServices', {
        subscription: 'S1',
        orderNumber: 'O1',
        servicesToActivate: {
          service: [
            { code: 'SE_SC_REC_MOBILE_PACK_UNL_1024', quantity: '1', subscriptionDate: '2024-01-05' },
          ],
        },
      });
      expect(r.status, r.text).to.equal(200);
    });

    it('instantiateServices leaves services INACTIVE and the subscription CREATED; activation reuses them', async () => {
      await hierarchy();
      await subscription();
      const r = await call('POST', '/billing/subscription/instantiateServices', {
        subscription: 'S1',
        servicesToInstantiate: {
          service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', subscriptionDate: '2024-01-01' }],
        },
      });
      expect(r.status, r.text).to.equal(200);
      expect(sb.state.subscriptions.get('S1')?.services.map((s) => s.status)).to.deep.equal(['INACTIVE']);
      expect(sb.state.subscriptions.get('S1')?.status).to.equal('CREATED');
      await activate('S1', 'SE_SC_REC_MOBILE_T_0_0');
      expect(sb.state.subscriptions.get('S1')?.services.map((s) => s.status)).to.deep.equal(['ACTIVE']);
    });

    it('terminate: reason must exist, date not before the subscription date; past → RESILIATED with end-dated accesses', async () => {
      await hierarchy();
      await subscription('S1', 'P1', '2024-01-10');
      await activate('S1', 'SE_SC_REC_MOBILE_T_0_0', '2024-01-10');
      await call('POST', '/account/access', { code: '600111222', subscription: 'S1' });
      expectFail(
        await call('POST', '/billing/subscription/terminate', { subscriptionCode: 'S1' }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: terminationReason, terminationDate.',
      );
      expectFail(
        await call('POST', '/billing/subscription/terminate', {
          subscriptionCode: 'S1',
          terminationReason: 'TR_X',
          terminationDate: '2024-02-01',
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'SubscriptionTerminationReason with code=TR_X does not exists.',
      );
      expectFail(
        await call('POST', '/billing/subscription/terminate', {
          subscriptionCode: 'S1',
          terminationReason: 'CC_TERMINATION',
          terminationDate: '2024-01-01',
        }),
        500,
        undefined,
        'Termination date can not be before the subscription date',
      );
      const ok = await call('PUT', '/billing/subscription/terminate', {
        subscriptionCode: 'S1',
        terminationReason: 'CC_TERMINATION',
        terminationDate: '2024-02-01',
      });
      expect(ok.status, ok.text).to.equal(200);
      const sub = sb.state.subscriptions.get('S1')!;
      expect(sub.status).to.equal('RESILIATED');
      expect(sub.terminationReason).to.equal('CC_TERMINATION');
      expect(sub.services.map((s) => [s.status, s.terminationDate])).to.deep.equal([
        ['TERMINATED', Date.UTC(2024, 1, 1)],
      ]);
      expect(sb.state.accessesBySubscription.get('S1')?.[0]?.endDate).to.equal(Date.UTC(2024, 1, 1));
      expectFail(
        await call('POST', '/billing/subscription/terminate', {
          subscriptionCode: 'S1',
          terminationReason: 'CC_TERMINATION',
          terminationDate: '2024-02-01',
        }),
        500,
        undefined,
        'Subscription is already RESILIATED.',
      );
      expectFail(
        await activate('S1', 'SE_SC_REC_MOBILE_T_150_1024'),
        500,
        undefined,
        'Subscription is already RESILIATED.',
      );
    });

    it('terminate today → only subscribedTillDate; the end is applied once the day has passed', async () => {
      sb.setNow('2024-03-10T12:00:00Z');
      await hierarchy();
      await subscription();
      await activate('S1', 'SE_SC_REC_MOBILE_T_0_0');
      await call('POST', '/billing/subscription/terminate', {
        subscriptionCode: 'S1',
        terminationReason: 'CC_TERMINATION',
        terminationDate: '2024-03-10',
      });
      let sub = (await call('GET', '/billing/subscription?subscriptionCode=S1')).body.subscription as Record<
        string,
        unknown
      >;
      expect(sub.status).to.equal('ACTIVE');
      expect(sub.subscribedTillDate).to.equal(Date.UTC(2024, 2, 10));
      sb.setNow('2024-03-11T00:30:00Z');
      sub = (await call('GET', '/billing/subscription?subscriptionCode=S1')).body.subscription as Record<
        string,
        unknown
      >;
      expect(sub.status).to.equal('RESILIATED');
      expect(
        (sub.services as { serviceInstance: Array<{ status: string }> }).serviceInstance[0]?.status,
      ).to.equal('TERMINATED');
    });

    it('terminateServices: needs services or serviceIds; unknown → 404; future date is scheduled and applied later', async () => {
      sb.setNow('2024-03-10T12:00:00Z');
      await hierarchy();
      await subscription();
      await activate('S1', 'SE_SC_REC_MOBILE_T_0_0');
      expectFail(
        await call('POST', '/billing/subscription/terminateServices', {
          subscriptionCode: 'S1',
          terminationReason: 'CC_TERMINATION',
          terminationDate: '2024-03-20',
        }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: services or serviceIds.',
      );
      expectFail(
        await call('POST', '/billing/subscription/terminateServices', {
          subscriptionCode: 'S1',
          terminationReason: 'CC_TERMINATION',
          terminationDate: '2024-03-20',
          services: ['SE_SC_REC_MOBILE_T_150_1024'],
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Service instance with code SE_SC_REC_MOBILE_T_150_1024 was not found or is not of status [ACTIVE, SUSPENDED]',
      );
      await call('POST', '/billing/subscription/terminateServices', {
        subscriptionCode: 'S1',
        terminationReason: 'CC_TERMINATION',
        terminationDate: '2024-03-20',
        services: ['SE_SC_REC_MOBILE_T_0_0'],
      });
      const si = sb.state.subscriptions.get('S1')!.services[0]!;
      expect([si.status, si.terminationDate]).to.deep.equal(['ACTIVE', Date.UTC(2024, 2, 20)]);
      sb.setNow('2024-03-20T00:00:01Z');
      await call('GET', '/billing/subscription?subscriptionCode=S1');
      expect(si.status).to.equal('TERMINATED');
    });

    it('applyOneShotChargeInstance: missing → 400, unknown charge/subscription/wallet → 404', async () => {
      await hierarchy();
      await subscription();
      expectFail(
        await call('POST', '/billing/subscription/applyOneShotChargeInstance', { subscription: 'S1' }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: oneShotCharge.',
      );
      expectFail(
        await call('POST', '/billing/subscription/applyOneShotChargeInstance', {
          subscription: 'S1',
          oneShotCharge: 'CH_X',
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'OneShotChargeTemplate with code=CH_X does not exists.',
      );
      expectFail(
        await call('POST', '/billing/subscription/applyOneShotChargeInstance', {
          subscription: 'S9',
          oneShotCharge: 'CH_SC_OSO_SIM',
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Subscription with code=S9 does not exists.',
      );
      expectFail(
        await call('POST', '/billing/subscription/applyOneShotChargeInstance', {
          subscription: 'S1',
          oneShotCharge: 'CH_SC_OSO_SIM',
          wallet: 'W2',
        }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'WalletTemplate with code=W2 does not exists.',
      );
      const ok = await call('POST', '/billing/subscription/applyOneShotChargeInstance', {
        subscription: 'S1',
        oneShotCharge: 'CH_SC_OSO_SIM',
        operationDate: '2024-01-02',
      });
      expect(ok.status).to.equal(200);
      const listed = await call('GET', '/billing/subscription/listOneshotChargeOthers?subscriptionCode=S1');
      expect(
        (listed.body.oneshotChargeInstances as Array<{ code: string }>).map((o) => o.code),
      ).to.deep.equal(['CH_SC_OSO_SIM']);
    });

    it('list: GET userAccountCode and query forms, POST filters on JPA names; unknown field → 400', async () => {
      await hierarchy();
      await subscription('S1');
      await subscription('S2');
      await activate('S2', 'SE_SC_REC_MOBILE_T_0_0');
      const byUa = await call('GET', '/billing/subscription/list?userAccountCode=P1');
      expect((byUa.body.subscriptions as { listSize: number }).listSize).to.equal(2);
      const query = await call(
        'GET',
        `/billing/subscription/list?query=${encodeURIComponent('userAccount.code:P1|status:ACTIVE')}`,
      );
      expect(
        (query.body.subscriptions as { subscription: Array<{ code: string }> }).subscription.map(
          (s) => s.code,
        ),
      ).to.deep.equal(['S2']);
      const post = await call('POST', '/billing/subscription/list', {
        filters: { offer: 'OF_SC_TEMPLATE_MOB', 'fromRange subscriptionDate': '2024-01-01' },
        limit: 1,
      });
      expect(
        (post.body.paging as { totalNumberOfRecords: number; limit: number }).totalNumberOfRecords,
      ).to.equal(2);
      expect((post.body.subscriptions as { subscription: unknown[] }).subscription).to.have.length(1);
      const empty = await call('POST', '/billing/subscription/list', { filters: { status: 'SUSPENDED' } });
      expect(empty.body).not.to.have.property('subscriptions');
      expectFail(
        await call('POST', '/billing/subscription/list', { filters: { offerTemplate: 'X' } }),
        400,
        'INVALID_PARAMETER',
        "Field 'offerTemplate' is not a valid field name",
      );
    });
  });

  describe('access points', () => {
    it('duplicate rule across subscriptions and periods; a number can move after the old access ends', async () => {
      await hierarchy();
      await subscription('S1');
      await subscription('S2');
      expectFail(
        await call('POST', '/account/access', { code: '600' }),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: subscription.',
      );
      expectFail(
        await call('POST', '/account/access', { code: '600', subscription: 'S9' }),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Subscription with code=S9 does not exists.',
      );
      expect(
        (await call('POST', '/account/access', { code: '600', subscription: 'S1' })).body,
      ).to.have.property('entityId');
      const dup = 'Duplicate access point! Access is already linked to a sub within the same period';
      expectFail(
        await call('POST', '/account/access', { code: '600', subscription: 'S2' }),
        403,
        'DUPLICATE_ACCESS',
        dup,
      );
      expectFail(
        await call('POST', '/account/access', { code: '600', subscription: 'S1' }),
        403,
        'DUPLICATE_ACCESS',
        dup,
      );
      await call('POST', '/billing/subscription/terminate', {
        subscriptionCode: 'S1',
        terminationReason: 'CC_TERMINATION',
        terminationDate: '2024-02-01',
      });
      // still open-ended on the new subscription → duplicate; with a start after the old end → accepted
      expectFail(
        await call('POST', '/account/access', { code: '600', subscription: 'S2' }),
        403,
        'DUPLICATE_ACCESS',
      );
      expectFail(
        await call('POST', '/account/access', { code: '600', subscription: 'S2', startDate: '2024-01-15' }),
        403,
        'DUPLICATE_ACCESS',
      );
      expect(
        (await call('POST', '/account/access', { code: '600', subscription: 'S2', startDate: '2024-02-01' }))
          .status,
      ).to.equal(200);
    });

    it('get needs accessCode and subscriptionCode; delete by the 4-segment path with open bounds', async () => {
      await hierarchy();
      await subscription('S1');
      await call('POST', '/account/access', { code: '600', subscription: 'S1', startDate: '2024-01-01' });
      expectFail(
        await call('GET', '/account/access?accessCode=600'),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: subscriptionCode.',
      );
      const got = await call('GET', '/account/access?accessCode=600&subscriptionCode=S1');
      expect(got.body.access).to.deep.include({
        code: '600',
        subscription: 'S1',
        startDate: Date.UTC(2024, 0, 1),
        disabled: false,
      });
      expectFail(
        await call('GET', '/account/access?accessCode=700&subscriptionCode=S1'),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Access with code=700 does not exists.',
      );
      expectFail(
        await call('DELETE', '/account/access/600/S1/2023-01-01/null'),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Access with code=600 does not exists.',
      );
      expect((await call('DELETE', '/account/access/600/S1/null/null')).status).to.equal(200);
      expect((await call('GET', '/account/access/list?subscriptionCode=S1')).body.accesses).to.deep.equal({
        access: [],
      });
    });

    it('version profiles: v10 answers 403 for already-exists, v14 answers 500 for DUPLICATE_ACCESS', async () => {
      for (const [profile, path, body, status] of [
        ['v10', '/account/customer', { code: 'C1', customerCategory: 'CLIENT' }, 403],
        ['v14', '/account/access', { code: '600', subscription: 'S1' }, 500],
      ] as const) {
        const other = await startOpenCellSandbox({ port: 0, profile });
        try {
          const base = other.apiUrl;
          if (profile === 'v14') {
            await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', crm(), { base });
            await call(
              'POST',
              '/billing/subscription',
              { code: 'S1', userAccount: 'P1', offerTemplate: 'OF_SC_TEMPLATE_MOB' },
              { base },
            );
          }
          await call('POST', path, body, { base });
          const r = await call('POST', path, body, { base });
          expect(r.status, `${profile} ${r.text}`).to.equal(status);
        } finally {
          await other.close();
        }
      }
    });
  });

  describe('invoices and the billing run', () => {
    async function billedHierarchy(): Promise<void> {
      await hierarchy();
      await subscription('S1', 'P1', '2024-01-16');
      await activate('S1', 'SE_SC_REC_MOBILE_T_UNL_20480', '2024-01-16');
      await call('POST', '/billing/subscription/applyOneShotChargeInstance', {
        subscription: 'S1',
        oneShotCharge: 'CH_SC_OSO_SIM',
        operationDate: '2024-01-16',
      });
      await call('POST', '/billing/subscription/applyOneShotChargeInstance', {
        subscription: 'S1',
        oneShotCharge: 'CH_SC_OSO_COMPENSATION',
        amountWithoutTax: -1,
        operationDate: '2024-01-20',
      });
    }

    it('bills pro rata with per-category lines, accounting and tax codes, and never bills a period twice', async () => {
      await billedHierarchy();
      const run = sb.billingRun({ invoiceDate: '2024-02-01' });
      expect(run.invoiceCount).to.equal(1);
      const inv = sb.state.invoicesByNumber.get(`COM|${run.invoiceNumbers[0]}`)!;
      // 16 of 31 days of 14.876 = 7.68; SIM 2.07; compensation -1
      expect(inv.amountWithoutTax).to.equal(8.75);
      expect(inv.amountTax).to.equal(1.83); // tax per line: 1.61 + 0.43 - 0.21
      expect(inv.amountWithTax).to.equal(10.58);
      expect(inv.categoryInvoiceAgregate.map((c) => c.categoryInvoiceCode)).to.deep.equal([
        'SC_ONE_SHOT',
        'SC_SUBSCRIPTION',
      ]);
      const subcats = inv.categoryInvoiceAgregate.flatMap((c) =>
        c.subCategoryInvoiceAgregateDto.map((s) => [
          s.invoiceSubCategoryCode,
          s.accountingCode,
          s.amountWithoutTax,
        ]),
      );
      expect(subcats).to.deep.equal([
        ['SC_OSO_SALES', '700000', 2.07],
        ['SC_OSO_COMPENSATION', '708000', -1],
        ['SC_MOBILE', '705000', 7.68],
      ]);
      expect(inv.taxAggregate.map((t) => [t.taxCode, t.taxPercent])).to.deep.equal([['TAX_HIGH', 21]]);
      expect(sb.billingRun({ invoiceDate: '2024-02-01' }).invoiceCount).to.equal(0);
      const march = sb.billingRun({ invoiceDate: '2024-03-01' });
      expect(sb.state.invoicesByNumber.get(`COM|${march.invoiceNumbers[0]}`)?.amountWithoutTax).to.equal(
        14.88,
      );
    });

    it('Canary Islands billing accounts are taxed with IGIC', async () => {
      await call('POST', '/account/accountHierarchy/createCRMAccountHierarchy', crm({ country: 'ES_CN' }));
      await subscription('S1', 'P1', '2024-01-01');
      await activate('S1', 'SE_SC_REC_MOBILE_T_0_0');
      const run = sb.billingRun({ invoiceDate: '2024-02-01' });
      const inv = sb.state.invoicesByNumber.get(`COM|${run.invoiceNumbers[0]}`)!;
      expect(inv.taxAggregate.map((t) => [t.taxCode, t.amountTax])).to.deep.equal([['TAX_IGIC', 0.12]]);
    });

    it('GET /invoice needs the invoiceType with a number (11.x); PDFs via includePdf and fetchPdfInvoice', async () => {
      await billedHierarchy();
      const number = sb.billingRun({ invoiceDate: '2024-02-01', withPdf: false }).invoiceNumbers[0]!;
      expectFail(
        await call('GET', '/invoice'),
        400,
        'MISSING_PARAMETER',
        'The following parameters are required or contain invalid values: id ,or, invoiceNumber.',
      );
      expectFail(
        await call('GET', `/invoice?invoiceNumber=${number}`),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        `Invoice with invoiceNumber=${number} and/or invoiceType=null does not exists.`,
      );
      expectFail(
        await call('GET', `/invoice?invoiceNumber=${number}&invoiceType=XXX`),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'InvoiceType with code=XXX does not exists.',
      );
      expectFail(
        await call('GET', '/invoice?id=1'),
        404,
        'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
        'Invoice with id=1 does not exists.',
      );
      const noPdf = await call('POST', '/invoice/fetchPdfInvoice', { invoiceNumber: number });
      expect(noPdf.status).to.equal(200);
      expect(noPdf.body).to.deep.equal({ actionStatus: { status: 'SUCCESS', message: '' } });
      const plain = await call('GET', `/invoice?invoiceNumber=${number}&invoiceType=COM`);
      expect(plain.body.invoice).not.to.have.property('pdfFilename');
      const withPdf = await call('GET', `/invoice?invoiceNumber=${number}&invoiceType=COM&includePdf=true`);
      const invoice = withPdf.body.invoice as { pdf: string; pdfFilename: string; invoiceId: number };
      expect(Buffer.from(invoice.pdf, 'base64').toString('latin1')).to.match(/^%PDF-1\.4[\s\S]*%%EOF\n$/);
      expect(invoice.pdfFilename).to.equal(`invoice_${number}.pdf`);
      const fetched = await call('GET', `/invoice/getPdfInvoice?invoiceId=${invoice.invoiceId}`);
      expect(fetched.body.pdfContent).to.equal(invoice.pdf);
    });

    it('list filters: ranges (toRange exclusive), equality on a day, billing account, inList; unknown field → 400', async () => {
      sb.generateInvoices({
        count: 30,
        invoiceDate: '2024-02-01',
        billingAccountCodes: ['1_0', '2_0', '3_0'],
      });
      sb.generateInvoices({ count: 10, invoiceDate: '2024-03-01', billingAccountCodes: ['1_0'] });
      const total = async (body: Record<string, unknown>) =>
        ((await call('POST', '/invoice/list', body)).body.paging as { totalNumberOfRecords: number })
          .totalNumberOfRecords;
      expect(
        await total({
          filters: { 'fromRange invoiceDate': '2024-02-01', 'toRange invoiceDate': '2024-03-01' },
        }),
      ).to.equal(30);
      expect(
        await total({
          filters: { 'fromRange invoiceDate': '2024-02-01', 'toRangeInclusive invoiceDate': '2024-03-01' },
        }),
      ).to.equal(40);
      expect(await total({ filters: { 'billingAccount.code': '1_0' } })).to.equal(20);
      expect(await total({ filters: { 'inList billingAccount': '2_0,3_0' } })).to.equal(20);
      expect(await total({ filters: { invoiceNumber: 'IS_NOT_NULL', status: 'validated' } })).to.equal(40);
      const get = await call('GET', '/invoice/list?query=invoiceDate:2024-03-01&limit=5&offset=0');
      expect((get.body.invoices as unknown[]).length).to.equal(5);
      expect(get.body.paging).to.deep.include({ totalNumberOfRecords: 10, limit: 5, offset: 0 });
      const sorted = await call('POST', '/invoice/list', {
        sortBy: 'invoiceDate',
        sortOrder: 'DESCENDING',
        limit: 1,
      });
      expect((sorted.body.invoices as Array<{ invoiceDate: number }>)[0]?.invoiceDate).to.equal(
        Date.UTC(2024, 2, 1),
      );
      expectFail(
        await call('POST', '/invoice/list', { filters: { customer: 'x' } }),
        400,
        'INVALID_PARAMETER',
        "Field 'customer' is not a valid field name",
      );
      expectFail(
        await call('POST', '/invoice/list', { filters: { 'fromRange invoiceDate': 'soon' } }),
        400,
        'INVALID_PARAMETER',
        /does not match Date/,
      );
    });

    it('issues 10,000 invoices and pages through them', async () => {
      const r = sb.generateInvoices({ count: 10_000, invoiceDate: '2024-04-01' });
      expect(r.invoiceCount).to.equal(10_000);
      const last = await call('POST', '/invoice/list', { offset: 9_990, limit: 100 });
      expect((last.body.invoices as unknown[]).length).to.equal(10);
      expect(new Set(r.invoiceNumbers).size).to.equal(10_000);
    });
  });

  describe('admin surface', () => {
    const admin = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${sb.adminUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };

    it('journals every API request (method, path, query, body, status, error code)', async () => {
      await call('POST', '/account/access', { code: '1', subscription: 'S' });
      await call('GET', '/billing/subscription?subscriptionCode=S');
      const j = await admin('GET', '/journal');
      const entries = j.body.entries as Array<Record<string, unknown>>;
      expect(entries.map((e) => [e.method, e.path, e.status, e.errorCode])).to.deep.equal([
        ['POST', '/account/access', 404, 'ENTITY_DOES_NOT_EXISTS_EXCEPTION'],
        ['GET', '/billing/subscription', 404, 'ENTITY_DOES_NOT_EXISTS_EXCEPTION'],
      ]);
      expect(entries[0]?.body).to.deep.equal({ code: '1', subscription: 'S' });
      expect(entries[1]?.query).to.deep.equal({ subscriptionCode: 'S' });
      const since = await admin('GET', `/journal?since=${entries[0]?.seq as number}`);
      expect((since.body.entries as unknown[]).length).to.equal(1);
      expect(sb.journal.entries({ path: /^\/account/ })).to.have.length(1);
      await admin('DELETE', '/journal');
      expect(sb.journal.size).to.equal(0);
    });

    it('fault rules scoped by path and count, switchable at run time; latency is added', async () => {
      const rule = await admin('POST', '/faults', {
        kind: 'error',
        status: 503,
        path: '^/billing/',
        count: 2,
      });
      expect(rule.body).to.include({ kind: 'error', id: 1 });
      expect((await call('GET', '/billing/subscription?subscriptionCode=S')).status).to.equal(503);
      expect((await call('GET', '/account/access/list?subscriptionCode=S')).status).to.equal(404);
      expect((await call('GET', '/billing/subscription?subscriptionCode=S')).status).to.equal(503);
      expect((await call('GET', '/billing/subscription?subscriptionCode=S')).status).to.equal(404);
      expect(sb.journal.entries({ path: '/billing/subscription' }).map((e) => e.fault ?? '-')).to.deep.equal([
        'error',
        'error',
        '-',
      ]);
      await admin('POST', '/faults', { kind: 'latency', latencyMs: 60 });
      const t0 = Date.now();
      await call('GET', '/billing/subscription?subscriptionCode=S');
      expect(Date.now() - t0).to.be.at.least(55);
      await admin('DELETE', '/faults');
      expect((await admin('GET', '/faults')).body.faults).to.deep.equal([]);
      expect((await admin('POST', '/faults', { kind: 'boom' })).status).to.equal(400);
    });

    it('a share of 5xx affects about that share of requests (seeded, reproducible)', async () => {
      sb.faults.add({ kind: 'error', probability: 0.3 });
      let failed = 0;
      for (let i = 0; i < 200; i++)
        if ((await call('GET', '/billing/subscription?subscriptionCode=S')).status === 503) failed++;
      expect(failed).to.be.within(35, 85);
    });

    it('reset, state dump, clock and billing run over HTTP', async () => {
      await hierarchy();
      expect(((await admin('GET', '/state')).body.customers as unknown[]).length).to.equal(1);
      const clock = await admin('POST', '/clock', { now: '2024-06-01' });
      expect(clock.body.iso).to.match(/^2024-06-01T00:00:0/);
      await subscription('S1', 'P1', '2024-05-01');
      await activate('S1', 'SE_SC_REC_MOBILE_T_0_0', '2024-05-01');
      const run = await admin('POST', '/billing-run', { invoiceDate: '2024-06-01' });
      expect(run.body).to.include({ invoiceCount: 1, amountWithTax: 2 });
      const synthetic = await admin('POST', '/invoices/synthetic', { count: 5 });
      expect(synthetic.body.invoiceCount).to.equal(5);
      await admin('POST', '/reset');
      expect(sb.state.customers.size).to.equal(0);
      expect(sb.state.invoices).to.have.length(0);
    });
  });
});
