import { expect } from 'chai';
import { SAMPLE_IBAN, sampleContract, sampleLine, samplePartner } from '../../testkit/views';
import * as E from 'fp-ts/Either';
import {
  PreconditionPendingError,
  ProjectionRejectedError,
  UnknownProductError,
} from '../../src/domain/errors';
import {
  chooseCreateStrategy,
  chooseUpdateStrategy,
  crmAccountHierarchyFromContract,
  crmFromPartnerAddress,
  crmToChangeEmail,
  crmToChangeIban,
  customerFromPartner,
  isCausallyOrdered,
  nextCustomerAccountCode,
  planActivateService,
  planApplyOneShot,
  planCatalogCheck,
  planCreateSubscription,
  planTerminateService,
  planTerminateSubscription,
  planUpdateAccountsAddress,
  planUpdateCustomer,
  planSupersededPhoneNumber,
  planUpdatePhoneNumber,
  planUpdateSubscription,
  subscriptionFromContract,
} from '../../src/domain/projection';
import type {
  ContractView,
  LineView,
  OcCustomerAccountState,
  OcCustomerState,
  OcSubscriptionState,
  PartnerView,
} from '../../src/domain/projection';

const IBAN = SAMPLE_IBAN;
const OTHER_IBAN = 'ES7620770024003102575766';
const cfg = { seller: 'SC', customerCategory: 'CLIENT' };

function partner(over: Partial<PartnerView> = {}): PartnerView {
  return samplePartner(over);
}

function line(over: Partial<LineView> = {}): LineView {
  return sampleLine(over);
}

function contract(over: Partial<ContractView> = {}): ContractView {
  return sampleContract(over);
}

const ca = (
  code: string,
  email: string | null = 'invoices@example.org',
  iban: string | null = IBAN,
): OcCustomerAccountState => ({
  code,
  email,
  iban,
});
const customer = (...cas: OcCustomerAccountState[]): OcCustomerState => ({
  code: '1234',
  customerAccounts: cas,
});

function sub(over: Partial<OcSubscriptionState> = {}): OcSubscriptionState {
  return {
    code: 'SC-0041',
    userAccount: '1234_0',
    description: '600111222',
    status: 'ACTIVE',
    subscriptionDate: 1706745600000,
    services: [],
    ...over,
  };
}

const opsOf = (p: { ops: { op: string }[] }) => p.ops.map((o) => o.op);

function rejected(fn: () => unknown): ProjectionRejectedError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ProjectionRejectedError);
    return e as ProjectionRejectedError;
  }
  throw new Error('expected a ProjectionRejectedError');
}

describe('projections: create strategies (§3.1, port of test_crm_account_hierarchy_create_strategies)', () => {
  it('no customer → customer_hierarchy with {ref}_0', () => {
    expect(chooseCreateStrategy(contract(), null)).to.deep.equal({
      strategy: 'customer_hierarchy',
      caCode: '1234_0',
    });
  });
  it('different email → customer_account_hierarchy with {ref}_1', () => {
    expect(chooseCreateStrategy(contract(), customer(ca('1234_0', 'other@example.org')))).to.deep.equal({
      strategy: 'customer_account_hierarchy',
      caCode: '1234_1',
    });
  });
  it('different IBAN → customer_account_hierarchy with {ref}_1', () => {
    expect(
      chooseCreateStrategy(contract(), customer(ca('1234_0', 'invoices@example.org', OTHER_IBAN))),
    ).to.deep.equal({
      strategy: 'customer_account_hierarchy',
      caCode: '1234_1',
    });
  });
  it('same email and IBAN → subscription with the existing CA code (IBAN compared upper-cased)', () => {
    const cust = customer(
      ca('1234_0', 'x@example.org'),
      ca('1234_1', 'invoices@example.org', IBAN.toLowerCase()),
    );
    expect(chooseCreateStrategy(contract(), cust)).to.deep.equal({
      strategy: 'subscription',
      caCode: '1234_1',
    });
  });
  it('no customer accounts → fallback with the exact message', () => {
    const e = rejected(() => chooseCreateStrategy(contract(), customer()));
    expect(e.message).to.equal('Customer with code 1234 found with no customer accounts associated');
    expect(e.retriable).to.equal(false);
  });
  it('blocked partner → fallback with the exact message', () => {
    const c = contract({ partner: partner({ blockContractCreationInOC: true }) });
    expect(rejected(() => chooseCreateStrategy(c, customer(ca('1234_0')))).message).to.equal(
      'Partner with code 1234 does not allow automatic subscription creation',
    );
  });
  it('blocked but forced → subscription', () => {
    const c = contract({ partner: partner({ blockContractCreationInOC: true }) });
    expect(chooseCreateStrategy(c, customer(ca('1234_0')), { force: true })).to.deep.equal({
      strategy: 'subscription',
      caCode: '1234_0',
    });
  });
  it('blocked only matters when the customer exists', () => {
    const c = contract({ partner: partner({ blockContractCreationInOC: true }) });
    expect(chooseCreateStrategy(c, null).strategy).to.equal('customer_hierarchy');
  });
  it('new CA numbers skip codes already taken or reserved by in-flight creations', () => {
    expect(nextCustomerAccountCode('1234', ['1234_0', '1234_1'])).to.equal('1234_2');
    expect(nextCustomerAccountCode('1234', ['1234_1'])).to.equal('1234_2');
    expect(nextCustomerAccountCode('1234', ['1234_0'], ['1234_1'])).to.equal('1234_2');
    expect(
      chooseCreateStrategy(contract(), customer(ca('1234_0', 'z@x.org')), { reservedCaCodes: ['1234_1'] })
        .caCode,
    ).to.equal('1234_2');
  });
  it('a contract without mandate matches a CA without IBAN for the same email', () => {
    expect(
      chooseCreateStrategy(contract({ mandate: null }), customer(ca('1234_0', 'invoices@example.org', null)))
        .strategy,
    ).to.equal('subscription');
  });
});

describe('projections: create plan (port of test_crm_account_hierarchy_create_service)', () => {
  it('no customer → Customer → CRM hierarchy → Subscription → Access, with the payloads’ bodies', () => {
    const c = contract();
    const plan = planCreateSubscription({ contract: c, customer: null, config: cfg });
    expect(plan.strategy).to.equal('customer_hierarchy');
    expect(opsOf(plan)).to.deep.equal([
      'createCustomer',
      'crmAccountHierarchyCreate',
      'createSubscription',
      'createAccess',
    ]);
    expect(plan.ops[0].body).to.deep.equal(customerFromPartner(c.partner, cfg));
    expect(plan.ops[1].body).to.deep.equal(crmAccountHierarchyFromContract(c, '1234_0', cfg));
    expect(plan.ops[2].body).to.deep.equal(subscriptionFromContract(c, '1234_0'));
    expect(plan.ops[3].body).to.deep.equal({ code: '600111222', subscription: 'SC-0041' });
    expect(isCausallyOrdered(plan.ops)).to.equal(true);
  });
  it('existing customer, new pair → CRM hierarchy → Subscription → Access with {ref}_1', () => {
    const plan = planCreateSubscription({
      contract: contract(),
      customer: customer(ca('1234_0', 'x@y.org')),
      config: cfg,
    });
    expect(opsOf(plan)).to.deep.equal(['crmAccountHierarchyCreate', 'createSubscription', 'createAccess']);
    expect(plan.caCode).to.equal('1234_1');
    expect((plan.ops[1].body as { userAccount: string }).userAccount).to.equal('1234_1');
  });
  it('matching CA → Subscription → Access only', () => {
    const plan = planCreateSubscription({
      contract: contract(),
      customer: customer(ca('1234_0')),
      config: cfg,
    });
    expect(opsOf(plan)).to.deep.equal(['createSubscription', 'createAccess']);
  });
  it('with embedded lines: services activated together, then one-shots, after the access', () => {
    const c = contract({
      lines: [
        line({ id: 1, productCode: 'SE_MOBILE' }),
        line({ id: 2, productCode: 'SE_EXTRA', productId: 2 }),
        line({ id: 3, productCode: 'CH_SIM', kind: 'one_shot', productId: 3 }),
        line({ id: 4, productCode: 'OTHER', kind: 'none', productId: 4 }),
        line({ id: 5, productCode: 'SE_OLD', dateEnd: '2024-01-31', productId: 5 }),
        line({ id: 6, productCode: 'SE_CANCELED', isCanceled: true, productId: 6 }),
      ],
    });
    const plan = planCreateSubscription({
      contract: c,
      customer: customer(ca('1234_0')),
      config: cfg,
      embedLines: true,
    });
    expect(opsOf(plan)).to.deep.equal([
      'createSubscription',
      'createAccess',
      'activateServices',
      'applyOneShotChargeInstance',
    ]);
    expect(plan.ops[2].lineIds).to.deep.equal([1, 2]);
    expect(plan.ops[2].body).to.deep.equal({
      subscription: 'SC-0041',
      servicesToActivate: {
        service: [
          { code: 'SE_MOBILE', quantity: 1, subscriptionDate: '2024-02-01' },
          { code: 'SE_EXTRA', quantity: 1, subscriptionDate: '2024-02-01' },
        ],
      },
    });
    expect(plan.ops[3].body).to.deep.equal({ subscription: 'SC-0041', oneShotCharge: 'CH_SIM' });
    expect(isCausallyOrdered(plan.ops)).to.equal(true);
  });
  it('without embedLines no service is sent at creation (the original)', () => {
    const plan = planCreateSubscription({
      contract: contract({ lines: [line()] }),
      customer: null,
      config: cfg,
    });
    expect(opsOf(plan)).not.to.include('activateServices');
  });
  it('fallbacks raise ProjectionRejectedError: no CAs, and blocked', () => {
    expect(() =>
      planCreateSubscription({ contract: contract(), customer: customer(), config: cfg }),
    ).to.throw(ProjectionRejectedError, 'found with no customer accounts associated');
    const blocked = contract({ partner: partner({ blockContractCreationInOC: true }) });
    expect(() =>
      planCreateSubscription({ contract: blocked, customer: customer(ca('1234_0')), config: cfg }),
    ).to.throw(ProjectionRejectedError, 'does not allow automatic subscription creation');
  });
  it('an IBAN that fails the ISO 13616 check is sent as stored by default, as the original (P-iban-check)', () => {
    const bad = contract({ mandate: { ...contract().mandate!, iban: 'ES0000000000000000001234' } });
    const plan = planCreateSubscription({ contract: bad, customer: null, config: cfg });
    const hierarchy = plan.ops.find((o) => o.op === 'crmAccountHierarchyCreate')!;
    expect(JSON.stringify(hierarchy.body)).to.contain('"iban":"ES0000000000000000001234"');
  });
  it('REFUSE_INVALID_IBAN: an IBAN that fails the ISO 13616 check is rejected before any call, with the IBAN masked', () => {
    const strict = { ...cfg, refuseInvalidIban: true };
    const bad = contract({ mandate: { ...contract().mandate!, iban: 'ES0000000000000000001234' } });
    let err: unknown;
    try {
      planCreateSubscription({ contract: bad, customer: null, config: strict });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ProjectionRejectedError);
    expect((err as Error).message)
      .to.match(/not a valid IBAN/)
      .and.to.contain('ES00…1234');
    expect((err as Error).message).to.not.contain('ES0000000000000000001234');
    expect((err as ProjectionRejectedError).retriable).to.equal(false);
    // the same account with its right check digits goes through
    const good = contract({ mandate: { ...contract().mandate!, iban: 'ES9121000418450200051332' } });
    expect(opsOf(planCreateSubscription({ contract: good, customer: null, config: strict }))[0]).to.equal(
      'createCustomer',
    );
  });
  it("REFUSE_INVALID_IBAN: an IBAN whose ISO 13616 digits pass but whose Spanish CCC control digits are wrong is rejected (ibantools' national check)", () => {
    // ES91 2100 0418 45 0200051332 with control digits 46 instead of 45, and ISO check digits recomputed for it
    const bban = '21000418460200051332';
    let rem = 0;
    for (const ch of `${bban}142800`) rem = (rem * 10 + Number(ch)) % 97;
    const iban = `ES${String(98 - rem).padStart(2, '0')}${bban}`;
    rem = 0;
    for (const ch of `${iban.slice(4)}1428${iban.slice(2, 4)}`) rem = (rem * 10 + Number(ch)) % 97;
    expect(rem, 'the mod-97 check alone passes').to.equal(1);
    const bad = contract({ mandate: { ...contract().mandate!, iban } });
    expect(() =>
      planCreateSubscription({ contract: bad, customer: null, config: { ...cfg, refuseInvalidIban: true } }),
    )
      .to.throw(ProjectionRejectedError, /not a valid IBAN/)
      .with.property('message')
      .that.contains(`${iban.slice(0, 4)}…${iban.slice(-4)}`)
      .and.not.contains(iban);
  });
  it('forced creation of a blocked partner goes through', () => {
    const blocked = contract({ partner: partner({ blockContractCreationInOC: true }) });
    const plan = planCreateSubscription({
      contract: blocked,
      customer: customer(ca('1234_0')),
      config: cfg,
      force: true,
    });
    expect(opsOf(plan)).to.deep.equal(['createSubscription', 'createAccess']);
  });
  it('an existing subscription is not created again (replay); a missing access is completed', () => {
    const existing = planCreateSubscription({
      contract: contract(),
      customer: customer(ca('1234_0')),
      subscription: sub({ accesses: ['600111222'] }),
      config: cfg,
    });
    expect(existing.strategy).to.equal('already_exists');
    expect(existing.ops).to.deep.equal([]);
    const partial = planCreateSubscription({
      contract: contract(),
      customer: null,
      subscription: sub({ accesses: [] }),
      config: cfg,
    });
    expect(opsOf(partial)).to.deep.equal(['createAccess']);
  });
  it('no phone number → no access', () => {
    const plan = planCreateSubscription({
      contract: contract({ phoneNumber: null }),
      customer: customer(ca('1234_0')),
      config: cfg,
    });
    expect(opsOf(plan)).to.deep.equal(['createSubscription']);
  });
  it('Odoo\'s "-" phone placeholder: description and access "-", as the original; none with PHONE_PLACEHOLDER_IS_NO_NUMBER', () => {
    const dash = contract({ phoneNumber: '-' });
    const plan = planCreateSubscription({ contract: dash, customer: customer(ca('1234_0')), config: cfg });
    expect(opsOf(plan)).to.deep.equal(['createSubscription', 'createAccess']);
    expect(plan.ops[0].body).to.include({ description: '-' });
    expect(plan.ops[1].body).to.deep.equal({ code: '-', subscription: 'SC-0041' });
    const off = planCreateSubscription({
      contract: dash,
      customer: customer(ca('1234_0')),
      config: { ...cfg, phonePlaceholderIsNoNumber: true },
    });
    expect(opsOf(off)).to.deep.equal(['createSubscription']);
    expect(off.ops[0].body).to.not.have.property('description');
  });
});

describe('projections: update strategies (§4, port of test_crm_account_hierarchy_update_strategies)', () => {
  const base = { ref: '1234', contractCodes: ['SC-1'], activeSubscriptionCodes: ['SC-1'] };
  it('email and iban → {ref}_0', () => {
    expect(chooseUpdateStrategy({ ...base, field: 'email', customer: customer(ca('1234_0')) })).to.deep.equal(
      {
        strategy: 'email',
        caCode: '1234_0',
      },
    );
    expect(chooseUpdateStrategy({ ...base, field: 'iban', customer: customer(ca('1234_0')) })).to.deep.equal({
      strategy: 'iban',
      caCode: '1234_0',
    });
  });
  it('customer not found → fallback', () => {
    expect(
      rejected(() => chooseUpdateStrategy({ ...base, field: 'email', customer: null })).message,
    ).to.equal('Customer with code 1234 not found in OC');
  });
  it('no customer account → fallback', () => {
    expect(
      rejected(() => chooseUpdateStrategy({ ...base, field: 'iban', customer: customer() })).message,
    ).to.equal('Customer with code 1234 does not have any customer account hierachy.');
  });
  it('several customer accounts → fallback', () => {
    expect(
      rejected(() =>
        chooseUpdateStrategy({ ...base, field: 'email', customer: customer(ca('1234_0'), ca('1234_1')) }),
      ).message,
    ).to.equal(
      'Customer with code 1234 has more than one customer account hierachy. Please update OC manually.',
    );
  });
  it('forced IBAN → the subscription’s user account, even with several CAs', () => {
    expect(
      chooseUpdateStrategy({
        ...base,
        field: 'iban',
        force: true,
        customer: customer(ca('1234_0'), ca('1234_1')),
        firstContractUserAccount: '1234_1',
      }),
    ).to.deep.equal({ strategy: 'iban', caCode: '1234_1' });
  });
  it('forced IBAN with 2 contracts → fallback', () => {
    expect(
      rejected(() =>
        chooseUpdateStrategy({
          ...base,
          contractCodes: ['SC-1', 'SC-2'],
          field: 'iban',
          force: true,
          customer: customer(ca('1234_0')),
          firstContractUserAccount: '1234_0',
        }),
      ).message,
    ).to.equal('Many contracts used with Force Contract IBAN Strategy');
  });
  it('partial hierarchy (not every active subscription of the CA) → fallback', () => {
    const e = rejected(() =>
      chooseUpdateStrategy({
        ...base,
        activeSubscriptionCodes: ['SC-1', 'SC-2'],
        field: 'email',
        customer: customer(ca('1234_0')),
      }),
    );
    expect(e.message).to.contain('would need to divide the customer account hierarchy');
  });
  it('unknown field → fallback', () => {
    expect(
      rejected(() => chooseUpdateStrategy({ ...base, field: 'phone', customer: customer(ca('1234_0')) }))
        .message,
    ).to.equal('Something went wrong, unable to choose a strategy');
  });
  it('partner address → address strategy with the given CA, even with several CAs', () => {
    expect(
      chooseUpdateStrategy({
        ref: '1234',
        field: 'address',
        customer: customer(ca('1234_0'), ca('1234_1')),
        caCode: '1234_1',
      }),
    ).to.deep.equal({ strategy: 'address', caCode: '1234_1' });
  });
  it('partner address: customer not found and no CA give their fallbacks', () => {
    expect(() =>
      chooseUpdateStrategy({ ref: '1234', field: 'address', customer: null, caCode: '1234_0' }),
    ).to.throw(ProjectionRejectedError, 'not found in OC');
    expect(() =>
      chooseUpdateStrategy({ ref: '1234', field: 'address', customer: customer(), caCode: '1234_0' }),
    ).to.throw(ProjectionRejectedError, 'does not have any customer account hierachy');
  });
});

describe('projections: email / IBAN update plans (port of test_crm_account_hierarchy_update_service)', () => {
  const newEmails = [{ id: 20, email: 'new@example.org' }];
  it('email change covering every active subscription → createOrUpdate with FromContractToChangeEmail', () => {
    const c1 = contract({ emails: newEmails });
    const c2 = contract({ id: 42, code: 'SC-0042', emails: newEmails });
    const plan = planUpdateSubscription({
      field: 'email',
      contract: c1,
      otherContracts: [c2],
      customer: customer(ca('1234_0')),
      subscription: sub(),
      activeSubscriptionCodes: ['SC-0041', 'SC-0042'],
    });
    expect(plan.strategy).to.equal('email');
    expect(plan.ops).to.have.length(1);
    expect(plan.ops[0].op).to.equal('crmAccountHierarchyCreateOrUpdate');
    expect(plan.ops[0].body).to.deep.equal(crmToChangeEmail(c1, '1234_0'));
  });
  it('email change of one contract out of two active ones in the CA → fallback (would divide the CA)', () => {
    const c1 = contract({ emails: newEmails });
    const c2 = contract({ id: 42, code: 'SC-0042' });
    expect(() =>
      planUpdateSubscription({
        field: 'email',
        contract: c1,
        otherContracts: [c2],
        customer: customer(ca('1234_0')),
        subscription: sub(),
        activeSubscriptionCodes: ['SC-0041', 'SC-0042'],
      }),
    ).to.throw(ProjectionRejectedError, 'would need to divide');
  });
  it('the second contract of a group change finds the CA already updated → noop', () => {
    const plan = planUpdateSubscription({
      field: 'email',
      contract: contract({ id: 42, code: 'SC-0042', emails: newEmails }),
      customer: customer(ca('1234_0', 'new@example.org')),
      subscription: sub({ code: 'SC-0042' }),
      activeSubscriptionCodes: ['SC-0041', 'SC-0042'],
    });
    expect(plan.strategy).to.equal('noop');
    expect(plan.ops).to.deep.equal([]);
  });
  it('IBAN change of the only contract → FromContractToChangeIBAN on {ref}_0', () => {
    const c = contract({ mandate: { ...contract().mandate!, iban: OTHER_IBAN } });
    const plan = planUpdateSubscription({
      field: 'iban',
      contract: c,
      customer: customer(ca('1234_0')),
      subscription: sub(),
      activeSubscriptionCodes: ['SC-0041'],
    });
    expect(plan.ops.map((o) => o.body)).to.deep.equal([crmToChangeIban(c, '1234_0')]);
  });
  it('IBAN change with several CAs → fallback; forced → the contract’s own user account', () => {
    const c = contract({ mandate: { ...contract().mandate!, iban: OTHER_IBAN } });
    const input = {
      field: 'iban' as const,
      contract: c,
      customer: customer(ca('1234_0', 'a@b.org'), ca('1234_1')),
      subscription: sub({ userAccount: '1234_1' }),
      activeSubscriptionCodes: ['SC-0041'],
    };
    expect(() => planUpdateSubscription(input)).to.throw(
      ProjectionRejectedError,
      'more than one customer account',
    );
    const forced = planUpdateSubscription({ ...input, force: true });
    expect(forced.strategy).to.equal('iban');
    expect(forced.ops[0].body).to.deep.equal(crmToChangeIban(c, '1234_1'));
  });
  it('a mandate change that leaves the IBAN as OpenCell has it → noop (e.g. the contract was just created)', () => {
    const plan = planUpdateSubscription({
      field: 'iban',
      contract: contract(),
      customer: customer(ca('1234_0')),
      subscription: sub(),
      activeSubscriptionCodes: ['SC-0041'],
    });
    expect(plan.strategy).to.equal('noop');
  });
  it('no subscription yet → noop: its creation carries the current value', () => {
    const plan = planUpdateSubscription({
      field: 'email',
      contract: contract({ emails: newEmails }),
      customer: null,
      subscription: null,
      activeSubscriptionCodes: [],
    });
    expect(plan.strategy).to.equal('noop');
  });
});

describe('projections: partner updates (port of test_res_partner / test_customer_update_service)', () => {
  it('update_customer sends Customer.update with the full Customer payload', () => {
    const p = partner({ street: 'C/ Nova 7' });
    const plan = planUpdateCustomer({ partner: p, customer: customer(ca('1234_0')), config: cfg });
    expect(plan.ops).to.deep.equal([
      { op: 'updateCustomer', key: 'customer:1234:update', body: customerFromPartner(p, cfg) },
    ]);
  });
  it('update_customer without an OpenCell customer → noop', () => {
    expect(planUpdateCustomer({ partner: partner(), customer: null, config: cfg }).ops).to.deep.equal([]);
  });
  it('update_accounts_address: one address update per customer account (1 CA)', () => {
    const p = partner({ stateCode: 'TF', stateName: 'Santa Cruz de Tenerife' });
    const plan = planUpdateAccountsAddress({ partner: p, customer: customer(ca('1234_0')) });
    expect(plan.ops).to.have.length(1);
    expect(plan.ops[0].op).to.equal('crmAccountHierarchyCreateOrUpdate');
    expect(plan.ops[0].body).to.deep.equal(crmFromPartnerAddress(p, '1234_0'));
    expect((plan.ops[0].body as { country: string }).country).to.equal('ES_CN');
  });
  it('update_accounts_address: 2 CAs → 2 updates', () => {
    const plan = planUpdateAccountsAddress({
      partner: partner(),
      customer: customer(ca('1234_0'), ca('1234_1')),
    });
    expect(plan.ops.map((o) => (o.body as { code: string }).code)).to.deep.equal(['1234_0', '1234_1']);
  });
  it('update_accounts_address without a customer → noop', () => {
    expect(planUpdateAccountsAddress({ partner: partner(), customer: null }).ops).to.deep.equal([]);
  });
});

describe('projections: subscription jobs (port of test_subscription_service / test_access_service)', () => {
  it('terminate uses terminate_date (not date_end) and CC_TERMINATION', () => {
    const c = contract({ isTerminated: true, terminateDate: '2024-06-30', dateEnd: '2024-07-31' });
    const plan = planTerminateSubscription({ contract: c, subscription: sub() });
    expect(plan.ops).to.deep.equal([
      {
        op: 'terminateSubscription',
        key: 'subscription:SC-0041:terminate',
        body: {
          subscriptionCode: 'SC-0041',
          terminationDate: '2024-06-30',
          terminationReason: 'CC_TERMINATION',
        },
      },
    ]);
  });
  it('terminate first ends the lines still running, then the subscription', () => {
    const c = contract({
      isTerminated: true,
      terminateDate: '2024-06-30',
      lines: [
        line({ id: 1, productCode: 'SE_A', dateEnd: '2024-06-30' }),
        line({ id: 2, productCode: 'SE_B', dateEnd: '2024-06-30' }),
        line({ id: 3, productCode: 'CH_X', kind: 'one_shot', dateEnd: '2024-06-30' }),
      ],
    });
    const s = sub({
      services: [
        { code: 'SE_A', status: 'ACTIVE' },
        { code: 'SE_B', status: 'TERMINATED', terminationDate: 1719705600000 },
      ],
    });
    const plan = planTerminateSubscription({ contract: c, subscription: s });
    expect(opsOf(plan)).to.deep.equal(['terminateServices', 'terminateSubscription']);
    expect(plan.ops[0].body).to.deep.include({ services: ['SE_A'], terminationDate: '2024-06-30' });
    expect(isCausallyOrdered(plan.ops)).to.equal(true);
  });
  it('terminate of a terminated subscription → noop (replay)', () => {
    const c = contract({ isTerminated: true, terminateDate: '2024-06-30' });
    expect(
      planTerminateSubscription({ contract: c, subscription: sub({ status: 'RESILIATED' }) }).ops,
    ).to.deep.equal([]);
    expect(
      planTerminateSubscription({ contract: c, subscription: sub({ terminationDate: 1719705600000 }) }).ops,
    ).to.deep.equal([]);
  });
  it('terminate without terminate_date → rejected; without subscription → precondition pending', () => {
    expect(() =>
      planTerminateSubscription({ contract: contract({ isTerminated: true }), subscription: sub() }),
    ).to.throw(ProjectionRejectedError, 'no terminate_date');
    expect(() =>
      planTerminateSubscription({
        contract: contract({ isTerminated: true, terminateDate: '2024-06-30' }),
        subscription: null,
      }),
    ).to.throw(PreconditionPendingError);
  });
  it('one-shot with a code → applyOneShotChargeInstance {subscription, oneShotCharge}', () => {
    const l = line({ kind: 'one_shot', productCode: 'CH_SC_OSO_SIM' });
    const plan = planApplyOneShot({ contract: contract(), line: l, subscription: sub() });
    expect(plan.ops).to.deep.equal([
      {
        op: 'applyOneShotChargeInstance',
        key: 'line:100:one_shot',
        body: { subscription: 'SC-0041', oneShotCharge: 'CH_SC_OSO_SIM' },
        lineIds: [100],
        products: [{ productId: 1, productCode: 'CH_SC_OSO_SIM' }],
      },
    ]);
  });
  it('a one-shot on a closed subscription (RESILIATED, CANCELED, CLOSED) is applied as the original create_one_shot does: no status check', () => {
    const l = line({ kind: 'one_shot', productCode: 'CH_SC_OSO_SIM' });
    for (const status of ['RESILIATED', 'CANCELED', 'CLOSED']) {
      const plan = planApplyOneShot({ contract: contract(), line: l, subscription: sub({ status }) });
      expect(
        plan.ops.map((o) => [o.op, o.body]),
        status,
      ).to.deep.equal([
        ['applyOneShotChargeInstance', { subscription: 'SC-0041', oneShotCharge: 'CH_SC_OSO_SIM' }],
      ]);
    }
  });
  it('a free one-shot (empty code) calls nothing', () => {
    const l = line({ kind: 'one_shot', productCode: null });
    expect(planApplyOneShot({ contract: contract(), line: l, subscription: null }).ops).to.deep.equal([]);
  });
  it('a one-shot before its subscription exists → precondition pending (retriable)', () => {
    const l = line({ kind: 'one_shot', productCode: 'CH_X' });
    let err: unknown;
    try {
      planApplyOneShot({ contract: contract(), line: l, subscription: null });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(PreconditionPendingError);
    expect((err as PreconditionPendingError).retriable).to.equal(true);
  });
  it('create_service → activateServices with the single service dict', () => {
    const plan = planActivateService({
      contract: contract(),
      line: line(),
      subscription: sub({ status: 'CREATED' }),
    });
    expect(plan.ops).to.have.length(1);
    expect(plan.ops[0]).to.deep.include({
      op: 'activateServices',
      key: 'line:100:activate',
      body: {
        subscription: 'SC-0041',
        servicesToActivate: { service: [{ code: 'SE_MOBILE', quantity: 1, subscriptionDate: '2024-02-01' }] },
      },
    });
  });
  it('activation of a service already active → noop; of a terminated one → activation', () => {
    expect(
      planActivateService({
        contract: contract(),
        line: line(),
        subscription: sub({ services: [{ code: 'SE_MOBILE', status: 'ACTIVE' }] }),
      }).ops,
    ).to.deep.equal([]);
    const again = planActivateService({
      contract: contract(),
      line: line(),
      subscription: sub({ services: [{ code: 'SE_MOBILE', status: 'TERMINATED', terminationDate: 1 }] }),
    });
    expect(opsOf(again)).to.deep.equal(['activateServices']);
  });
  it('activation needs the subscription, open, and a product code', () => {
    expect(() => planActivateService({ contract: contract(), line: line(), subscription: null })).to.throw(
      PreconditionPendingError,
    );
    expect(() =>
      planActivateService({
        contract: contract(),
        line: line(),
        subscription: sub({ status: 'RESILIATED' }),
      }),
    ).to.throw(ProjectionRejectedError, 'RESILIATED');
    expect(() =>
      planActivateService({ contract: contract(), line: line({ productCode: null }), subscription: sub() }),
    ).to.throw(UnknownProductError);
  });
  it('terminate_service → terminateServices(date_end, [code]) for instances without termination date, never twice', () => {
    const l = line({ dateEnd: '2024-05-31' });
    const plan = planTerminateService({
      contract: contract(),
      line: l,
      subscription: sub({
        services: [
          { code: 'SE_MOBILE', status: 'ACTIVE' },
          { code: 'SE_OTHER', status: 'ACTIVE' },
        ],
      }),
    });
    expect(plan.ops.map((o) => o.body)).to.deep.equal([
      {
        subscriptionCode: 'SC-0041',
        terminationDate: '2024-05-31',
        services: ['SE_MOBILE'],
        terminationReason: 'CC_TERMINATION',
      },
    ]);
    const replay = planTerminateService({
      contract: contract(),
      line: l,
      subscription: sub({
        services: [{ code: 'SE_MOBILE', status: 'ACTIVE', terminationDate: 1717113600000 }],
      }),
    });
    expect(replay.ops).to.deep.equal([]);
  });
  it('terminate_service with two running instances of the code uses their ids', () => {
    const plan = planTerminateService({
      contract: contract(),
      line: line({ dateEnd: '2024-05-31' }),
      subscription: sub({
        services: [
          { id: 11, code: 'SE_MOBILE', status: 'ACTIVE' },
          { id: 12, code: 'SE_MOBILE', status: 'SUSPENDED' },
        ],
      }),
    });
    expect(plan.ops.map((o) => o.body)).to.deep.equal([
      {
        subscriptionCode: 'SC-0041',
        terminationDate: '2024-05-31',
        serviceIds: [11, 12],
        terminationReason: 'CC_TERMINATION',
      },
    ]);
  });
  it('terminate_service takes the intent’s date over the line’s', () => {
    const plan = planTerminateService({
      contract: contract(),
      line: line({ dateEnd: '2024-05-31' }),
      date: '2024-06-15',
      subscription: sub({ services: [{ code: 'SE_MOBILE' }] }),
    });
    expect((plan.ops[0].body as { terminationDate: string }).terminationDate).to.equal('2024-06-15');
  });
  it('update_phone_number: description, then delete the old access, then create the new one', () => {
    const plan = planUpdatePhoneNumber({
      contract: contract(),
      phone: '611222333',
      subscription: sub({ accesses: ['600111222'] }),
    });
    expect(plan.ops).to.deep.equal([
      {
        op: 'updateSubscription',
        key: 'subscription:SC-0041:description:611222333',
        body: { code: 'SC-0041', description: '611222333', subscriptionDate: 1706745600000 },
      },
      {
        op: 'deleteAccess',
        key: 'access:SC-0041:600111222:delete',
        body: { code: '600111222', subscription: 'SC-0041' },
      },
      {
        op: 'createAccess',
        key: 'access:SC-0041:611222333',
        body: { code: '611222333', subscription: 'SC-0041' },
      },
    ]);
  });
  it('update_phone_number from "-" to a number deletes the "-" access; back to "-" creates a "-" access (the original)', () => {
    const fromDash = planUpdatePhoneNumber({
      contract: contract(),
      phone: '611',
      previousPhone: '-',
      subscription: sub({ description: '-', accesses: ['-'] }),
    });
    expect(
      fromDash.ops.map((o) => [
        o.op,
        (o.body as { code: string; description?: string }).description ?? (o.body as { code: string }).code,
      ]),
    ).to.deep.equal([
      ['updateSubscription', '611'],
      ['deleteAccess', '-'],
      ['createAccess', '611'],
    ]);
    const toDash = planUpdatePhoneNumber({
      contract: contract(),
      phone: '-',
      previousPhone: '611',
      subscription: sub({ description: '611', accesses: ['611'] }),
    });
    expect(
      toDash.ops.map((o) => [
        o.op,
        (o.body as { code: string; description?: string }).description ?? (o.body as { code: string }).code,
      ]),
    ).to.deep.equal([
      ['updateSubscription', '-'],
      ['deleteAccess', '611'],
      ['createAccess', '-'],
    ]);
  });
  it('update_phone_number replays: done → noop; description done but access missing → only the access', () => {
    expect(
      planUpdatePhoneNumber({
        contract: contract(),
        phone: '611',
        subscription: sub({ description: '611', accesses: ['611'] }),
      }).ops,
    ).to.deep.equal([]);
    const partial = planUpdatePhoneNumber({
      contract: contract(),
      phone: '611',
      subscription: sub({ description: '611', accesses: ['600111222'] }),
    });
    expect(opsOf(partial)).to.deep.equal(['createAccess']);
  });
  it('update_phone_number resumed after a kill between the description update and the access delete: the old access still goes', () => {
    const resumed = planUpdatePhoneNumber({
      contract: contract(),
      phone: '611',
      previousPhone: '600111222',
      subscription: sub({ description: '611', accesses: ['600111222'] }),
    });
    expect(opsOf(resumed)).to.deep.equal(['deleteAccess', 'createAccess']);
    expect(resumed.ops[0].body).to.deep.equal({ code: '600111222', subscription: 'SC-0041' });
    // the previous number has no access in OpenCell (already deleted, or never there): nothing to delete
    const gone = planUpdatePhoneNumber({
      contract: contract(),
      phone: '611',
      previousPhone: '600111222',
      subscription: sub({ description: '611', accesses: ['611'] }),
    });
    expect(gone.ops).to.deep.equal([]);
  });
  it('regression (CI of stop 27, "old access still there"): a superseded number change deletes the previous number\'s access an interrupted try left, and nothing else', () => {
    const superseded = (over: Partial<Parameters<typeof planSupersededPhoneNumber>[0]>) =>
      planSupersededPhoneNumber({
        phone: '611',
        previousPhone: '600',
        current: ['622', '622'],
        subscription: sub({ description: '611', accesses: ['600'] }),
        note: 'superseded',
        ...over,
      });
    const left = superseded({});
    expect(left.ops).to.deep.equal([
      {
        op: 'deleteAccess',
        key: 'access:SC-0041:600:delete',
        body: { code: '600', subscription: 'SC-0041' },
      },
    ]);
    expect(left.note).to.match(
      /^superseded; the access of the number before it, 600, left by an interrupted try/,
    );
    // A → B → A: the previous number is Odoo's number again
    expect(superseded({ current: ['600', '600'] }).ops).to.deep.equal([]);
    // the contract's stored number counts too
    expect(superseded({ current: ['622', '600'] }).ops).to.deep.equal([]);
    // nothing left behind, no previous number known, accesses unknown, no subscription: nothing
    expect(superseded({ subscription: sub({ description: '622', accesses: ['622'] }) }).ops).to.deep.equal(
      [],
    );
    expect(superseded({ previousPhone: null }).ops).to.deep.equal([]);
    expect(superseded({ subscription: sub({ description: '611', accesses: undefined }) }).ops).to.deep.equal(
      [],
    );
    expect(superseded({ subscription: null }).note).to.equal('superseded');
  });
  it('update_phone_number before the subscription exists → noop', () => {
    expect(
      planUpdatePhoneNumber({ contract: contract(), phone: '611', subscription: null }).ops,
    ).to.deep.equal([]);
  });
});

describe('projections: plans', () => {
  it('planCatalogCheck rejects a plan sending an unknown product code, naming product and code', () => {
    const plan = planActivateService({
      contract: contract(),
      line: line({ productId: 77, productCode: 'SE_GHOST' }),
      subscription: sub(),
    });
    const r = planCatalogCheck(plan.ops, new Set(['SE_MOBILE']));
    expect(E.isLeft(r)).to.equal(true);
    if (E.isLeft(r)) expect(r.left.message).to.contain('product 77').and.contain('"SE_GHOST"');
    expect(E.isRight(planCatalogCheck(plan.ops, new Set(['SE_GHOST'])))).to.equal(true);
  });
});
