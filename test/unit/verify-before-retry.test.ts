/**
 * Issue 15 §3, "retry after a timeout repeats a call that may have been applied": the executor's one mechanism — a
 * retry of a verify-before-retry operation whose earlier try may have reached OpenCell reads the effect back with the
 * catalogue entry's `verify` first — for every such operation, against the OpenCell sandbox through the production
 * client; the one-shot listing fails loudly instead of reading as "no charge"; an unsafe operation is never repeated.
 */
import { expect } from 'chai';
import { executePlan, lostTryApplied } from '../../src/flows/projection/executor';
import { InMemoryLedger } from '../../testkit/ledger';
import type { OcOperation } from '../../src/domain/projection/plan';
import { OpenCellUnavailableError, ProjectionRejectedError } from '../../src/domain/errors';
import { OPENCELL_OPERATIONS } from '../../src/domain/opencell/operations';
import { withOpenCellSandbox } from './support/projector-harness';

describe('verify before retry (issue 15 §3): a lost try is read back before it is repeated', () => {
  const oc = withOpenCellSandbox({ sandbox: {} });
  let accounted = 0;
  const ledger = { accountedOneShots: async () => accounted };
  const applied = (op: OcOperation) => lostTryApplied({ client: oc.client, ledger }, op);

  const customer = { code: 'VR1', customerCategory: 'CLIENT', seller: 'SC', name: { lastName: 'V' } };
  const hierarchy = {
    crmAccountType: 'CA_UA',
    crmParentCode: 'VR1',
    code: 'VR1_0',
    currency: 'EUR',
    language: 'CAT',
    country: 'ES',
    billingCycle: 'BC_SC_MONTHLY_1ST',
    name: { lastName: 'V' },
    address: { country: 'ES' },
  };
  const ops = {
    createCustomer: { op: 'createCustomer', key: 'customer:VR1', body: customer },
    crm: { op: 'crmAccountHierarchyCreate', key: 'ca:VR1_0', body: hierarchy },
    createSubscription: {
      op: 'createSubscription',
      key: 'subscription:VRS1',
      body: {
        code: 'VRS1',
        userAccount: 'VR1_0',
        offerTemplate: 'OF_SC_TEMPLATE_MOB',
        subscriptionDate: '2024-01-01',
      },
    },
    createAccess: {
      op: 'createAccess',
      key: 'access:VRS1:600000001',
      body: { code: '600000001', subscription: 'VRS1' },
    },
    activate: {
      op: 'activateServices',
      key: 'line:1:activate',
      body: {
        subscription: 'VRS1',
        servicesToActivate: {
          service: [{ code: 'SE_SC_REC_MOBILE_T_UNL_20480', quantity: 1, subscriptionDate: '2024-01-01' }],
        },
      },
    },
    oneShot: {
      op: 'applyOneShotChargeInstance',
      key: 'line:2:one_shot',
      body: { subscription: 'VRS1', oneShotCharge: 'CH_SC_OSO_SIM' },
    },
  } as unknown as Record<string, OcOperation>;

  afterEach(() => oc.sandbox.faults.clear());

  it('each verify-before-retry operation: not applied → repeat it; applied → do not (customer, hierarchy, subscription, access, activation)', async () => {
    const steps: [OcOperation, () => Promise<unknown>][] = [
      [ops.createCustomer, () => oc.client.createCustomer(customer as never)],
      [ops.crm, () => oc.client.createCrmAccountHierarchy(hierarchy as never)],
      [ops.createSubscription, () => oc.client.createSubscription(ops.createSubscription.body as never)],
      [ops.createAccess, () => oc.client.createAccess(ops.createAccess.body as never)],
      [ops.activate, () => oc.client.activateServices(ops.activate.body as never)],
    ];
    for (const [op, apply] of steps) {
      expect(await applied(op), `${op.op} before it was applied`).to.equal(false);
      await apply();
      expect(await applied(op), `${op.op} after it was applied`).to.equal(true);
    }
  });

  it('one-shots: applied when OpenCell holds more instances of the charge than the ledger accounts for', async () => {
    accounted = 0;
    expect(await applied(ops.oneShot), 'no instance').to.equal(false);
    await oc.client.applyOneShotChargeInstance(ops.oneShot.body as never);
    expect(await applied(ops.oneShot), '1 instance, 0 accounted: the lost try was applied').to.equal(true);
    accounted = 1;
    expect(await applied(ops.oneShot), '1 instance, 1 accounted (another line): not applied').to.equal(false);
  });

  it('a failing one-shot listing is an error (retried), never read as "no charge"', async () => {
    oc.sandbox.faults.add({ kind: 'error', status: 503, path: 'listOneshotChargeOthers' });
    const err = await oc.client.listOneShotChargeInstances('VRS1').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(OpenCellUnavailableError);
    const verifyErr = await applied(ops.oneShot).then(
      () => null,
      (e: unknown) => e,
    );
    expect(verifyErr, 'the verify step fails retriably').to.be.instanceOf(OpenCellUnavailableError);
    expect((verifyErr as OpenCellUnavailableError).retriable).to.equal(true);
  });

  it('the executor: a retry that finds its try written ahead verifies it — applied → recorded already present, no call; not applied → called once', async () => {
    const ledger = new InMemoryLedger();
    const act = (n: number) =>
      ({
        ...ops.activate,
        key: `line:${n}:activate`,
        body: {
          subscription: 'VRS1',
          servicesToActivate: {
            service: [
              { code: 'SE_SC_REC_MOBILE_PACK_UNL_1024', quantity: 1, subscriptionDate: '2024-01-01' },
            ],
          },
        },
      }) as OcOperation;
    const calls = () =>
      oc.sandbox.journal.entries({ method: 'POST', path: '/billing/subscription/activateServices' }).length;
    // a try that never reached OpenCell (written ahead, then lost before the call): verified absent, called
    await ledger.beginEffect('i1', act(9));
    const before = calls();
    const first = await executePlan([act(9)], { client: oc.client, ledger, intentId: 'i1' });
    expect(first.calls).to.deep.equal(['activateServices']);
    expect(calls() - before).to.equal(1);
    // the same effect key written ahead again by a try whose answer was lost: verified present, not called
    const lost = act(10);
    await ledger.beginEffect('i2', lost);
    const second = await executePlan([lost], { client: oc.client, ledger, intentId: 'i2' });
    expect(second).to.deep.equal({ calls: [], skipped: [], alreadyPresent: ['activateServices'] });
    expect(calls() - before, 'not sent again').to.equal(1);
    expect(ledger.effects.get(lost.key)?.outcome).to.equal('already_present');
  });

  it('an operation without a verify (unsafe) is not repeated after a try that may have reached OpenCell', async () => {
    const spec = OPENCELL_OPERATIONS.createCustomer as { verify?: unknown };
    const saved = spec.verify;
    spec.verify = undefined;
    try {
      const err = await applied(ops.createCustomer).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(ProjectionRejectedError);
      expect((err as Error).message).to.match(/cannot be verified nor repeated safely/);
    } finally {
      spec.verify = saved;
    }
  });
});
