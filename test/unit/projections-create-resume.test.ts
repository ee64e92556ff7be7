import { expect } from 'chai';
import { SAMPLE_IBAN, sampleContract, samplePartner } from '../../testkit/views';
import { ProjectionRejectedError } from '../../src/domain/errors';
import {
  chooseCreateStrategy,
  createRecordKeys,
  customerCreateKey,
  planCreateSubscription,
} from '../../src/domain/projection/strategies';
import type {
  ContractView,
  OcCustomerState,
  OcSubscriptionState,
  PartnerView,
} from '../../src/domain/projection/views';

/**
 * Issue 19 §1: the resume planning of a create plan, pure — given what OpenCell holds and the ledger's write-ahead
 * records (every create is recorded before its call), the next steps. A process can die at any point of the chain
 * customer → customer account hierarchy → subscription → access: before a call, while it is in flight (OpenCell
 * applies it or not) or right after OpenCell answered and before the ledger recorded it.
 */
const IBAN = SAMPLE_IBAN;
const cfg = { seller: 'SC', customerCategory: 'CLIENT' };

function partner(over: Partial<PartnerView> = {}): PartnerView {
  return samplePartner({ ref: '1004', ...over });
}

function contract(over: Partial<ContractView> = {}): ContractView {
  return sampleContract({ id: 50007, code: 'SC-50007', ...over }, partner());
}

const CHAIN = ['createCustomer', 'crmAccountHierarchyCreate', 'createSubscription', 'createAccess'] as const;
const KEYS = ['customer:1004', 'ca:1004_0', 'subscription:SC-50007', 'access:SC-50007:600111222'];

/** What OpenCell holds after the first `done` steps of the chain of `contract()`. */
function openCellAfter(done: number): {
  customer: OcCustomerState | null;
  subscription: OcSubscriptionState | null;
} {
  const customer: OcCustomerState | null =
    done >= 1
      ? {
          code: '1004',
          customerAccounts: done >= 2 ? [{ code: '1004_0', email: 'invoices@example.org', iban: IBAN }] : [],
        }
      : null;
  const subscription: OcSubscriptionState | null =
    done >= 3
      ? {
          code: 'SC-50007',
          userAccount: '1004_0',
          description: '600111222',
          status: 'CREATED',
          subscriptionDate: '2024-02-01',
          services: [],
          accesses: done >= 4 ? ['600111222'] : [],
        }
      : null;
  return { customer, subscription };
}

const opsOf = (p: { ops: readonly { op: string }[] }) => p.ops.map((o) => o.op);

describe('a kill -9 right after an accepted createCustomer does not lose the contract: create-plan resume planning (issue 19 §1)', () => {
  it('the write-ahead record that marks a customer as ours is its createCustomer effect key', () => {
    expect(customerCreateKey('1004')).to.equal('customer:1004');
    expect(createRecordKeys(contract())).to.deep.equal(['customer:1004']);
    expect(createRecordKeys(contract({ partner: partner({ ref: null }) }))).to.deep.equal([]);
  });

  it('the first try plans the whole chain with the effect keys the executor writes ahead', () => {
    const plan = planCreateSubscription({ contract: contract(), customer: null, config: cfg });
    expect(opsOf(plan)).to.deep.equal([...CHAIN]);
    expect(plan.ops.map((o) => o.key)).to.deep.equal(KEYS);
  });

  // Every cut point: step k was written ahead (its record is in the ledger) and then the process died, with OpenCell
  // having applied it (accepted: killed in flight after the handler, or right after the answer) or not (killed
  // before OpenCell handled it). The resume plans exactly the steps OpenCell lacks: no step twice, none missing.
  for (let k = 0; k < CHAIN.length; k++) {
    for (const accepted of [false, true]) {
      it(`killed while ${CHAIN[k]} was in flight (${accepted ? 'OpenCell accepted it' : 'OpenCell never applied it'}): the resume plans only the missing steps`, () => {
        const done = k + (accepted ? 1 : 0);
        const { customer, subscription } = openCellAfter(done);
        const recorded = new Set(KEYS.slice(0, k + 1));
        const plan = planCreateSubscription({
          contract: contract(),
          customer,
          subscription,
          recorded,
          config: cfg,
        });
        expect(opsOf(plan), `after ${done} step(s) in OpenCell`).to.deep.equal(CHAIN.slice(done));
        expect(plan.ops.map((o) => o.key)).to.deep.equal(KEYS.slice(done));
      });
    }
  }

  it('regression: a customer of ours without accounts (createCustomer accepted, ledger write lost) is finished with {ref}_0, not refused', () => {
    const { customer } = openCellAfter(1);
    const plan = planCreateSubscription({
      contract: contract(),
      customer,
      recorded: new Set(['customer:1004']),
      config: cfg,
    });
    expect(plan.strategy).to.equal('customer_account_hierarchy');
    expect(plan.caCode).to.equal('1004_0');
    expect(opsOf(plan)).to.deep.equal(['crmAccountHierarchyCreate', 'createSubscription', 'createAccess']);
    expect(plan.note).to.contain('resumes');
  });

  it('a pending (written-ahead only) record counts as ours as much as a done one: the record is the key, whatever its outcome', () => {
    // the ledger's `recorded` answers keys with any outcome, 'pending' included; the plan only sees the set
    const plan = planCreateSubscription({
      contract: contract(),
      customer: openCellAfter(1).customer,
      recorded: new Set(['customer:1004']),
      config: cfg,
    });
    expect(opsOf(plan)[0]).to.equal('crmAccountHierarchyCreate');
  });

  it("a customer without accounts that this pipeline did not create is still refused (the original's fallback)", () => {
    const { customer } = openCellAfter(1);
    for (const recorded of [undefined, new Set<string>(), new Set(['customer:9999'])]) {
      expect(() =>
        planCreateSubscription({ contract: contract(), customer, recorded, config: cfg }),
      ).to.throw(
        ProjectionRejectedError,
        'Customer with code 1004 found with no customer accounts associated',
      );
    }
  });

  it('reconcile --fix (repair) and force-create finish a half-created hierarchy even without a record (created before the fix)', () => {
    const { customer } = openCellAfter(1);
    for (const opts of [{ repair: true }, { force: true }]) {
      const plan = planCreateSubscription({ contract: contract(), customer, config: cfg, ...opts });
      expect(opsOf(plan), JSON.stringify(opts)).to.deep.equal([
        'crmAccountHierarchyCreate',
        'createSubscription',
        'createAccess',
      ]);
      expect(plan.caCode).to.equal('1004_0');
      expect(plan.note).to.contain('operator');
    }
  });

  it('a blocked partner: our own cut-short chain goes on (the block was not asked for the customer either), a foreign customer is refused as blocked', () => {
    const blocked = contract({ partner: partner({ blockContractCreationInOC: true }) });
    const { customer } = openCellAfter(1);
    expect(
      chooseCreateStrategy(blocked, customer, { ownCustomer: true }),
      'ours: the chain resumes',
    ).to.deep.equal({ strategy: 'customer_account_hierarchy', caCode: '1004_0' });
    expect(() => chooseCreateStrategy(blocked, customer, {})).to.throw(
      ProjectionRejectedError,
      'does not allow automatic subscription creation',
    );
  });

  it("a blocked partner's first contract cut short after its account: its own intent goes on; another intent (a later contract) is refused as blocked", () => {
    const blocked = contract({ partner: partner({ blockContractCreationInOC: true }) });
    const { customer } = openCellAfter(2);
    const own = planCreateSubscription({
      contract: blocked,
      customer,
      recorded: new Set(['customer:1004']),
      ownChain: true,
      config: cfg,
    });
    expect(opsOf(own)).to.deep.equal(['createSubscription', 'createAccess']);
    expect(own.caCode).to.equal('1004_0');
    expect(() =>
      planCreateSubscription({
        contract: blocked,
        customer,
        recorded: new Set(['customer:1004']),
        config: cfg,
      }),
    ).to.throw(ProjectionRejectedError, 'does not allow automatic subscription creation');
  });

  it('force-create cut short after its subscription: the resume activates the services not running yet and applies the one-shots (guarded by their line keys)', () => {
    const lines = [
      { id: 1, productCode: 'SE_TARIFF', kind: 'service' as const },
      { id: 2, productCode: 'SE_PACK', kind: 'service' as const },
      { id: 3, productCode: 'CH_SIM', kind: 'one_shot' as const },
    ].map((l) => ({
      ...l,
      contractId: 50007,
      productId: l.id,
      name: l.productCode,
      dateStart: '2024-02-01',
      dateEnd: null,
      isCanceled: false,
    }));
    const forced = contract({ lines });
    const { subscription } = openCellAfter(4);
    const resumed = planCreateSubscription({
      contract: forced,
      customer: openCellAfter(4).customer,
      subscription: { ...subscription!, services: [{ code: 'SE_TARIFF', status: 'ACTIVE' }] },
      config: cfg,
      force: true,
      embedLines: true,
    });
    expect(opsOf(resumed)).to.deep.equal(['activateServices', 'applyOneShotChargeInstance']);
    expect(resumed.ops[0].lineIds, 'only the service not running yet').to.deep.equal([2]);
    expect(resumed.ops[1].key).to.equal('line:3:one_shot');
    const none = planCreateSubscription({
      contract: forced,
      customer: openCellAfter(4).customer,
      subscription: {
        ...subscription!,
        services: [
          { code: 'SE_TARIFF', status: 'ACTIVE' },
          { code: 'SE_PACK', status: 'ACTIVE' },
        ],
      },
      config: cfg,
      force: true,
      embedLines: true,
    });
    expect(opsOf(none), 'every service running: no activation').to.deep.equal(['applyOneShotChargeInstance']);
  });

  it('a second contract of the same partner, cut short after its own account: the account it created matches and is reused', () => {
    const second = contract({
      id: 50008,
      code: 'SC-50008',
      phoneNumber: '600333444',
      emails: [{ id: 10, email: 'other@example.org' }],
    });
    const customer: OcCustomerState = {
      code: '1004',
      customerAccounts: [
        { code: '1004_0', email: 'invoices@example.org', iban: IBAN },
        { code: '1004_1', email: 'other@example.org', iban: IBAN },
      ],
    };
    const plan = planCreateSubscription({
      contract: second,
      customer,
      recorded: new Set(['customer:1004']),
      config: cfg,
    });
    expect(plan.strategy).to.equal('subscription');
    expect(plan.caCode).to.equal('1004_1');
    expect(opsOf(plan)).to.deep.equal(['createSubscription', 'createAccess']);
  });
});
