import { expect } from 'chai';
import { OpenCellClient, type CallEvent, type CRMAccountHierarchyDto } from '../../src/adapters/opencell';
import { OpenCellState, type OpenCellStateClient } from '../../src/adapters/opencell/opencell-state';
import { sampleContract } from '../../testkit/views';
import {
  isLiveInstance,
  planUpdateSubscription,
  planTerminateService,
  planUpdatePhoneNumber,
} from '../../src/domain/projection/strategies';
import { startOpenCellSandbox, type OpenCellSandbox } from '../../testkit/sandbox/opencell';

const USER = 'state.bot';
const PASSWORD = 'st4te-p4ss';
const IBAN = 'ES9121000418450200051332';

function crm(
  customer: string,
  ca: string,
  opts: { email: string; iban?: string; cced?: string },
): CRMAccountHierarchyDto {
  return {
    crmAccountType: 'CA_UA',
    crmParentCode: customer,
    code: ca,
    description: 'Jane Doe',
    name: { firstName: 'Jane', lastName: 'Doe' },
    address: { address1: 'Carrer Major 1', zipCode: '08001', city: 'Barcelona', country: 'ES' },
    contactInformation: { email: opts.email, phone: '', mobile: '600111222', fax: '' },
    language: 'CAT',
    currency: 'EUR',
    country: 'SP',
    customerCategory: 'CLIENT',
    billingCycle: 'BC_SC_MONTHLY_1ST',
    electronicBilling: true,
    email: opts.email,
    ...(opts.cced ? { ccedEmails: opts.cced } : {}),
    mailingType: 'Manual',
    emailTemplate: 'EMAIL_TEMPLATE_TEST',
    methodOfPayment: opts.iban
      ? [
          {
            paymentMethodType: 'DIRECTDEBIT',
            disabled: false,
            preferred: true,
            customerAccountCode: ca,
            alias: '12',
            mandateIdentification: '12',
            mandateDate: '2024-01-01',
            bankCoordinates: {
              iban: opts.iban,
              bic: 'CAIXESBBXXX',
              accountOwner: 'Jane Doe',
              bankName: 'CaixaBank',
            },
          },
        ]
      : [],
  };
}

describe('projections: OpenCell state loader (against the OpenCell sandbox)', () => {
  let sandbox: OpenCellSandbox;
  let client: OpenCellClient;
  const events: CallEvent[] = [];

  before(async () => {
    sandbox = await startOpenCellSandbox({ port: 0, user: USER, password: PASSWORD });
    client = new OpenCellClient(
      { baseUrl: sandbox.url, user: USER, password: PASSWORD, timeoutMs: 2000, concurrency: 4 },
      { observer: (e) => events.push(e) },
    );
  });
  after(async () => {
    client.close();
    await sandbox.close();
  });
  beforeEach(async () => {
    sandbox.reset();
    sandbox.setNow(null);
    await seed();
    events.length = 0;
  });

  /**
   * Customer 42: CA 42_0 (jane@, IBAN, cced) with SUB-1 (ACTIVE, mobile service, access 600111222), SUB-2
   * (CREATED), SUB-3 (ACTIVE then terminated); CA 42_1 (other@, no payment method) with SUB-4 (ACTIVE).
   */
  async function seed(): Promise<void> {
    await client.createCustomer({
      code: '42',
      seller: 'SC',
      customerCategory: 'CLIENT',
      description: 'Jane Doe',
      name: { firstName: 'Jane', lastName: 'Doe' },
      contactInformation: { email: 'jane@example.org' },
    });
    await client.createCrmAccountHierarchy(
      crm('42', '42_0', { email: 'jane@example.org', iban: IBAN, cced: 'b@example.org,c@example.org' }),
    );
    await client.createCrmAccountHierarchy(crm('42', '42_1', { email: 'other@example.org' }));
    const sub = async (code: string, ua: string, offer: string, service?: string) => {
      await client.createSubscription({
        code,
        description: code === 'SUB-1' ? '600111222' : `desc ${code}`,
        userAccount: ua,
        offerTemplate: offer,
        subscriptionDate: '2024-01-01',
      });
      if (service) {
        await client.activateServices({
          subscription: code,
          servicesToActivate: { service: [{ code: service, quantity: 1, subscriptionDate: '2024-01-01' }] },
        });
      }
    };
    await sub('SUB-1', '42_0', 'OF_SC_TEMPLATE_MOB', 'SE_SC_REC_MOBILE_T_UNL_20480');
    await client.createAccess({ code: '600111222', subscription: 'SUB-1' });
    await sub('SUB-2', '42_0', 'OF_SC_TEMPLATE_BA');
    await sub('SUB-3', '42_0', 'OF_SC_TEMPLATE_MOB', 'SE_SC_REC_MOBILE_T_0_0');
    await client.terminateSubscription({
      subscriptionCode: 'SUB-3',
      terminationReason: 'CC_TERMINATION',
      terminationDate: '2024-02-01',
    });
    await sub('SUB-4', '42_1', 'OF_SC_TEMPLATE_BA', 'SE_SC_REC_BA_F_600');
  }

  it('customer: the customer accounts with first email, IBAN and the billing account’s ccedEmails', async () => {
    const state = new OpenCellState(client);
    const customer = await state.customer('42');
    expect(customer).to.deep.equal({
      code: '42',
      customerAccounts: [
        {
          code: '42_0',
          email: 'jane@example.org',
          iban: IBAN,
          preferredIban: IBAN,
          ccedEmails: 'b@example.org,c@example.org',
        },
        { code: '42_1', email: 'other@example.org', iban: null, preferredIban: null, ccedEmails: null },
      ],
    });
    expect(await state.customer('404')).to.equal(null);
  });

  it('customer without billing-account reads: ccedEmails stays unknown (undefined)', async () => {
    const customer = await new OpenCellState(client, { billingAccounts: false }).customer('42');
    expect(customer?.customerAccounts[0]).to.deep.equal({
      code: '42_0',
      email: 'jane@example.org',
      iban: IBAN,
      preferredIban: IBAN,
    });
    expect(events.map((e) => e.endpoint)).to.deep.equal(['customer.get']);
  });

  it('customer: reads a CA when the customer read carries no payment methods', async () => {
    const stripped: OpenCellStateClient = {
      ...bind(client),
      getCustomer: async (code, opts) => {
        const c = await client.getCustomer(code, opts);
        if (!c) return c;
        const cas = c.customerAccounts?.customerAccount ?? [];
        return {
          ...c,
          customerAccounts: { customerAccount: cas.map(({ methodOfPayment: _m, ...ca }) => ca) },
        };
      },
    };
    const customer = await new OpenCellState(stripped).customer('42');
    expect(customer?.customerAccounts.map((ca) => ca.iban)).to.deep.equal([IBAN, null]);
    expect(events.filter((e) => e.endpoint === 'customerAccount.get')).to.have.length(2);
  });

  it('subscription: status, dates, service instances and access codes; null when absent', async () => {
    const state = new OpenCellState(client);
    const sub = await state.subscription('SUB-1');
    expect(sub).to.include({
      code: 'SUB-1',
      userAccount: '42_0',
      description: '600111222',
      status: 'ACTIVE',
    });
    expect(sub?.subscriptionDate).to.be.a('number');
    expect(sub?.accesses).to.deep.equal(['600111222']);
    expect(sub?.services).to.have.length(1);
    expect(sub?.services[0]).to.include({ code: 'SE_SC_REC_MOBILE_T_UNL_20480', status: 'ACTIVE' });
    expect(sub?.services[0].id).to.be.a('number');
    expect(isLiveInstance(sub!.services[0])).to.equal(true);

    const terminated = await state.subscription('SUB-3');
    expect(terminated?.status).to.equal('RESILIATED');
    expect(terminated?.terminationDate).to.be.a('number');
    expect(terminated?.services.every((s) => !isLiveInstance(s))).to.equal(true);

    expect(await state.subscription('NOPE')).to.equal(null);
  });

  it('subscription: reads the access list when the subscription read carries no accesses', async () => {
    const stripped: OpenCellStateClient = {
      ...bind(client),
      getSubscription: async (code) => {
        const s = await client.getSubscription(code);
        if (!s) return s;
        const { accesses: _a, ...rest } = s;
        return rest;
      },
    };
    const sub = await new OpenCellState(stripped).subscription('SUB-1');
    expect(sub?.accesses).to.deep.equal(['600111222']);
    expect(events.map((e) => e.endpoint)).to.include('access.list');
  });

  it('activeSubscriptionCodes: only ACTIVE subscriptions of that user account, across pages', async () => {
    const state = new OpenCellState(client, { pageSize: 1 });
    expect(await state.activeSubscriptionCodes('42_0')).to.deep.equal(['SUB-1']);
    expect(await state.activeSubscriptionCodes('42_1')).to.deep.equal(['SUB-4']);
    expect(await state.activeSubscriptionCodes('nobody')).to.deep.equal([]);
    const all = await state.subscriptionsOfUserAccount('42_0');
    expect(all.map((s) => [s.code, s.status])).to.deep.equal([
      ['SUB-1', 'ACTIVE'],
      ['SUB-2', 'CREATED'],
      ['SUB-3', 'RESILIATED'],
    ]);
    expect(events.filter((e) => e.endpoint === 'subscription.list').length).to.be.greaterThan(3);
  });

  it('forContract: customer, subscription and the active subscriptions of its user account', async () => {
    const state = new OpenCellState(client);
    const loaded = await state.forContract('42', 'SUB-4');
    expect(loaded.customer?.customerAccounts.map((ca) => ca.code)).to.deep.equal(['42_0', '42_1']);
    expect(loaded.subscription?.userAccount).to.equal('42_1');
    expect(loaded.activeSubscriptionCodes).to.deep.equal(['SUB-4']);
    const missing = await state.forContract('404', 'NOPE');
    expect(missing).to.deep.equal({ customer: null, subscription: null, activeSubscriptionCodes: [] });
  });

  it('the loaded state drives the strategies: replays are no-ops, real changes are planned', async () => {
    const state = new OpenCellState(client);
    const sub = await state.subscription('SUB-1');
    const contract = { id: 1, code: 'SUB-1' };
    expect(planUpdatePhoneNumber({ contract, phone: '600111222', subscription: sub }).ops).to.deep.equal([]);
    expect(
      planUpdatePhoneNumber({ contract, phone: '611222333', subscription: sub }).ops.map((o) => o.op),
    ).to.deep.equal(['updateSubscription', 'deleteAccess', 'createAccess']);
    const line = {
      id: 7,
      contractId: 1,
      productId: 1,
      productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
      kind: 'service' as const,
      name: null,
      dateStart: '2024-01-01',
      dateEnd: '2024-05-31',
      isCanceled: false,
    };
    expect(planTerminateService({ contract, line, subscription: sub }).ops.map((o) => o.op)).to.deep.equal([
      'terminateServices',
    ]);
    await client.terminateServices({
      subscriptionCode: 'SUB-1',
      terminationReason: 'CC_TERMINATION',
      terminationDate: '2024-05-31',
      services: ['SE_SC_REC_MOBILE_T_UNL_20480'],
    });
    const after = await state.subscription('SUB-1');
    expect(planTerminateService({ contract, line, subscription: after }).strategy).to.equal('noop');
  });

  it('regression (acceptance run, issue 14): after an IBAN change OpenCell lists the old payment method first; the other contracts of the change find the preferred IBAN → noop, one update as the wizard sent, not one per contract', async () => {
    const NEW_IBAN = 'ES7921000813610123456789';
    // the W2 change of SUB-1 and SUB-2 (both on 42_0): the first contract's update, as the projector sends it
    await client.createOrUpdateCrmAccountHierarchy({
      code: '42_0',
      crmAccountType: 'CA_UA',
      currency: 'EUR',
      language: 'CAT',
      methodOfPayment: [
        {
          paymentMethodType: 'DIRECTDEBIT',
          disabled: false,
          preferred: true,
          customerAccountCode: '42_0',
          alias: '13',
          mandateIdentification: '13',
          mandateDate: '2024-03-01',
          bankCoordinates: { iban: NEW_IBAN, bic: 'BBVAESMMXXX', accountOwner: 'Jane Doe', bankName: 'BBVA' },
        },
      ],
    });
    const customer = await new OpenCellState(client).customer('42');
    const ca0 = customer!.customerAccounts[0];
    // OpenCell 10.x+ merges: the old method stays, un-preferred and first (reference opencell-api.md §5.1.1)
    expect(ca0).to.include({ iban: IBAN, preferredIban: NEW_IBAN });
    const base = sampleContract();
    const second = sampleContract({
      id: 2,
      code: 'SUB-2',
      mandate: { ...base.mandate!, iban: NEW_IBAN },
      partner: { ...base.partner, ref: '42' },
    });
    const plan = planUpdateSubscription({
      field: 'iban',
      contract: second,
      customer,
      subscription: await new OpenCellState(client).subscription('SUB-2'),
      activeSubscriptionCodes: ['SUB-1', 'SUB-2'],
    });
    expect(plan.strategy).to.equal('noop');
    expect(plan.ops).to.deep.equal([]);
  });
});

/** The OpenCellStateClient methods of a client, bound (to spread them into a stub). */
function bind(client: OpenCellClient): OpenCellStateClient {
  return {
    getCustomer: client.getCustomer.bind(client),
    getCustomerAccount: client.getCustomerAccount.bind(client),
    getBillingAccount: client.getBillingAccount.bind(client),
    getSubscription: client.getSubscription.bind(client),
    listSubscriptions: client.listSubscriptions.bind(client),
    listAccesses: client.listAccesses.bind(client),
  };
}
