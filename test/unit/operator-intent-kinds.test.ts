/**
 * The operators' intent kinds (docs/behaviour.md W3 force-iban, W5 compensate): their codecs, their refusals, the
 * plans their projections execute, and the one-shot identity that lets a lost compensation be found in OpenCell.
 */
import { expect } from 'chai';
import { isLeft, isRight } from 'fp-ts/Either';
import {
  applyCompensation,
  compensationEffectKey,
  compensationIntentId,
  type ApplyCompensationIntent,
} from '../../src/domain/intents/apply-compensation';
import { forceIban, forceIbanRefusal } from '../../src/domain/intents/force-iban';
import type { ContractScope, ProjectionContext, Step } from '../../src/domain/intents/kind';
import { ProjectionRejectedError } from '../../src/domain/errors';
import { DEFAULT_PROJECTION_CONFIG } from '../../src/domain/projection/payloads';
import { isInstanceOf, oneShotIdentity } from '../../src/domain/projection/plan';
import type { ContractView, OcCustomerState, OcSubscriptionState } from '../../src/domain/projection/views';
import { executePlan } from '../../src/flows/projection/executor';
import type { OpenCellClient } from '../../src/adapters/opencell/client';
import { InMemoryLedger } from '../../testkit/ledger';
import { SAMPLE_IBAN, sampleContract } from '../../testkit/views';

const sub = (userAccount: string): OcSubscriptionState => ({
  code: 'SC-0041',
  userAccount,
  description: null,
  status: 'ACTIVE',
  subscriptionDate: 0,
  services: [],
});

const twoAccounts: OcCustomerState = {
  code: '1234',
  customerAccounts: [
    { code: '1234_0', email: 'a@example.org', iban: 'ES7921000813610123456789' },
    { code: '1234_1', email: 'b@example.org', iban: 'ES7921000813610123456789' },
  ],
};

/** Runs a kind's projection against fixed readers; returns the steps it executed. */
async function project<I>(
  spec: { project(i: I, ctx: ProjectionContext, s: ContractScope | null): Promise<void> },
  intent: I,
  contract: ContractView,
  subscription: OcSubscriptionState | null,
): Promise<Step[]> {
  const steps: Step[] = [];
  const ctx: ProjectionContext = {
    odoo: { partner: async () => null, contract: async () => contract, contractsOfPartner: async () => [] },
    opencell: {
      customer: async () => twoAccounts,
      subscription: async () => subscription,
      activeSubscriptionCodes: async () => ['SC-0041', 'SC-0042'],
    },
    config: DEFAULT_PROJECTION_CONFIG,
    force: false,
    repair: false,
    exec: async (step) => void steps.push(step),
    noop: () => undefined,
    hasEffect: async () => false,
    recorded: async () => new Map(),
    intentId: 'i-1',
  };
  await spec.project(intent, ctx, { contract, subscription, createdFirst: false });
  return steps;
}

const rejection = async (p: Promise<unknown>): Promise<ProjectionRejectedError> =>
  p.then(
    () => expect.fail('expected a refusal'),
    (e: unknown) => {
      expect(e).to.be.instanceOf(ProjectionRejectedError);
      return e as ProjectionRejectedError;
    },
  );

describe('force-iban intent (docs/behaviour.md W3)', () => {
  it('sends the contract’s IBAN to its own user account even when the customer has several accounts', async () => {
    const contract = sampleContract();
    const steps = await project(forceIban, { kind: 'force_iban', contractId: 41 }, contract, sub('1234_1'));
    expect(steps).to.have.length(1);
    const [op] = steps[0].plan.ops;
    expect(op.op).to.equal('crmAccountHierarchyCreateOrUpdate');
    expect(op.key).to.equal('ca:1234_1:iban');
    expect(JSON.stringify(op.body)).to.contain(SAMPLE_IBAN);
    expect((op.body as { code: string }).code).to.equal('1234_1');
    expect(forceIban.syncTarget({ kind: 'force_iban', contractId: 41 }, steps[0])).to.deep.equal({
      entity: 'customer_account',
      code: '1234_1',
    });
  });

  it('is refused for a contract without a bank account; a terminated contract and an invalid IBAN are forced as the wizard did, unless REFUSE_INVALID_IBAN (masked)', async () => {
    expect(forceIbanRefusal(sampleContract({ isTerminated: true }))).to.equal(null);
    expect(forceIbanRefusal(sampleContract({ mandate: null }))).to.contain('no mandate with a bank account');
    const bad = 'ES0021000418450200051332';
    const badIban = sampleContract({ mandate: { ...sampleContract().mandate!, iban: bad } });
    expect(forceIbanRefusal(badIban)).to.equal(null);
    const msg = forceIbanRefusal(badIban, { refuseInvalidIban: true });
    expect(msg).to.contain('ES00…1332').and.not.contain(bad);
    expect(forceIbanRefusal(sampleContract())).to.equal(null);
    const e = await rejection(
      project(
        forceIban,
        { kind: 'force_iban', contractId: 41 },
        sampleContract({ mandate: null }),
        sub('1234_1'),
      ),
    );
    expect(e.message).to.contain('no mandate');
  });

  it('is refused when OpenCell has no subscription for the contract', async () => {
    const e = await rejection(
      project(forceIban, { kind: 'force_iban', contractId: 41 }, sampleContract(), null),
    );
    expect(e.message).to.contain('does not exist in OpenCell');
  });

  it('is decoded from the intents topic and produced by no Odoo change', () => {
    expect(isRight(forceIban.codec.decode({ kind: 'force_iban', contractId: 41 }))).to.equal(true);
    expect(isLeft(forceIban.codec.decode({ kind: 'force_iban' }))).to.equal(true);
    expect(forceIban.trigger.tables).to.deep.equal([]);
  });
});

describe('compensation intent (docs/behaviour.md W5)', () => {
  const intent: ApplyCompensationIntent = {
    kind: 'apply_compensation',
    contractId: 41,
    key: 'ticket-981',
    amount: 5.786666,
    description: 'Outage 10 days',
    operationDate: '2024-03-01',
  };

  it('applies CH_SC_OSO_COMPENSATION for −amount (4 decimals) with description and date, keyed by the caller’s key', async () => {
    const steps = await project(applyCompensation, intent, sampleContract(), sub('1234_0'));
    expect(steps[0].plan.ops).to.deep.equal([
      {
        op: 'applyOneShotChargeInstance',
        key: 'compensation:ticket-981',
        body: {
          subscription: 'SC-0041',
          oneShotCharge: 'CH_SC_OSO_COMPENSATION',
          amountWithoutTax: -5.7867,
          description: 'Outage 10 days',
          operationDate: '2024-03-01',
        },
      },
    ]);
    expect(applyCompensation.syncTarget(intent, steps[0])).to.deep.equal({
      entity: 'one_shot',
      code: 'CH_SC_OSO_COMPENSATION',
    });
  });

  it('is refused for a terminated contract (as the wizard) and without a subscription', async () => {
    expect(
      (
        await rejection(
          project(applyCompensation, intent, sampleContract({ isTerminated: true }), sub('1234_0')),
        )
      ).message,
    ).to.contain('is terminated');
    expect((await rejection(project(applyCompensation, intent, sampleContract(), null))).message).to.contain(
      'does not exist in OpenCell',
    );
  });

  it('has one intent id and one effect per caller key', () => {
    expect(compensationIntentId('k-1')).to.equal(compensationIntentId('k-1'));
    expect(compensationIntentId('k-1')).not.to.equal(compensationIntentId('k-2'));
    expect(compensationEffectKey('k-1')).to.equal('compensation:k-1');
    expect(isRight(applyCompensation.codec.decode(intent))).to.equal(true);
    expect(isLeft(applyCompensation.codec.decode({ ...intent, amount: '5' }))).to.equal(true);
  });
});

describe('one-shot identity (the check after a lost answer)', () => {
  const comp = {
    subscription: 'SC-0041',
    oneShotCharge: 'CH_SC_OSO_COMPENSATION',
    amountWithoutTax: -5.7867,
    description: 'Outage',
    operationDate: '2024-03-01',
  };

  it('a charge with its own amount is identified by code, amount and description; a plain one by its code', () => {
    expect(oneShotIdentity({ subscription: 'S', oneShotCharge: 'CH_SC_OSO_SIM' })).to.equal('CH_SC_OSO_SIM');
    expect(oneShotIdentity(comp)).to.equal('CH_SC_OSO_COMPENSATION|-5.7867|Outage');
    const inst = { code: 'CH_SC_OSO_COMPENSATION', amountWithoutTax: -5.78670001, description: 'Outage' };
    expect(isInstanceOf(comp, inst)).to.equal(true);
    expect(isInstanceOf(comp, { ...inst, amountWithoutTax: -3 })).to.equal(false);
    expect(isInstanceOf(comp, { ...inst, description: 'Other' })).to.equal(false);
    expect(
      isInstanceOf({ subscription: 'S', oneShotCharge: 'CH_SC_OSO_SIM' }, { code: 'CH_SC_OSO_SIM' }),
    ).to.equal(true);
  });

  /** A client whose applyOneShotChargeInstance is counted and whose instances are given. */
  function client(instances: { code: string; amountWithoutTax?: number; description?: string }[]) {
    const applied: unknown[] = [];
    const c = {
      listOneShotChargeInstances: async () => instances,
      applyOneShotChargeInstance: async (b: unknown) => {
        applied.push(b);
        return { status: 'SUCCESS' };
      },
    } as unknown as OpenCellClient;
    return { c, applied };
  }

  it('regression: an earlier compensation of another amount (unknown to the ledger) is not taken for a lost one', async () => {
    const ledger = new InMemoryLedger();
    const op = { op: 'applyOneShotChargeInstance' as const, key: 'compensation:k', body: comp };
    await ledger.beginEffect('i-1', op); // a first try left its write-ahead row, then died
    const { c, applied } = client([
      { code: 'CH_SC_OSO_COMPENSATION', amountWithoutTax: -12, description: 'Old' },
    ]);
    const report = await executePlan([op], { client: c, ledger, intentId: 'i-1' });
    expect(report.calls).to.deep.equal(['applyOneShotChargeInstance']);
    expect(applied).to.have.length(1);
  });

  it('a lost compensation found in OpenCell (same amount and description) is recorded without charging again', async () => {
    const ledger = new InMemoryLedger();
    const op = { op: 'applyOneShotChargeInstance' as const, key: 'compensation:k', body: comp };
    await ledger.beginEffect('i-1', op);
    const { c, applied } = client([
      { code: 'CH_SC_OSO_COMPENSATION', amountWithoutTax: -5.7867, description: 'Outage' },
    ]);
    const report = await executePlan([op], { client: c, ledger, intentId: 'i-1' });
    expect(report.alreadyPresent).to.deep.equal(['applyOneShotChargeInstance']);
    expect(applied).to.have.length(0);
    // and the same key again is skipped by the ledger
    const again = await executePlan([op], { client: c, ledger, intentId: 'i-2' });
    expect(again.skipped).to.deep.equal(['applyOneShotChargeInstance']);
    expect(applied).to.have.length(0);
  });
});
