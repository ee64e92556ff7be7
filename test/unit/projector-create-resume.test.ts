/**
 * Issue 19 §1 regression, in process: the projector (in-memory ledger) against the OpenCell sandbox, with a process
 * "killed" right after OpenCell accepted a create of the contract's create plan — the call succeeded in OpenCell,
 * then the try ends before the ledger records it (what a kill -9 at that instant leaves behind: the write-ahead row,
 * 'pending'). The next try (a restarted process) must finish the plan: every object once, nothing dead-lettered.
 */
import { expect } from 'chai';
import { sampleContract, samplePartner } from '../../testkit/views';
import { OpenCellClient } from '../../src/adapters/opencell/client';
import { OpenCellState } from '../../src/adapters/opencell/opencell-state';
import { ProjectionRejectedError } from '../../src/domain/errors';
import type { IntentMessage } from '../../src/domain/intents/message';
import type { ContractView, PartnerView } from '../../src/domain/projection/views';
import { InMemoryLedger } from '../../testkit/ledger';
import { oneContractOdoo, projectorOver, withOpenCellSandbox } from './support/projector-harness';
import { contractIntentMessage } from './support/intent-message';

let seq = 0;

function fixture(): { partner: PartnerView; contract: ContractView } {
  seq++;
  const ref = `9${String(Date.now() % 1e6).padStart(6, '0')}${seq}`;
  const partner: PartnerView = samplePartner({ id: 700 + seq, ref });

  const contract: ContractView = sampleContract(
    {
      id: 50000 + seq,
      code: `SC-R${ref}`,
      emails: [{ id: 9, email: `inv${ref}@example.org` }],
      phoneNumber: `6${String(600000 + seq).padStart(8, '0')}`,
    },
    partner,
  );
  return { partner, contract };
}

function message(contract: ContractView, extra: Partial<IntentMessage> = {}): IntentMessage {
  return {
    ...contractIntentMessage(
      contract,
      { kind: 'create_subscription', contractId: contract.id },
      { intentId: `resume-${contract.code}-${Math.random()}`, source: { op: 'c' } },
    ),
    ...extra,
  } as IntentMessage;
}

class Killed extends Error {}

/** The client of a process that dies right after OpenCell answered `method` (the answer never reaches the ledger). */
function dyingAfter(client: OpenCellClient, method: keyof OpenCellClient): OpenCellClient {
  return new Proxy(client, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (prop !== method) return (v as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        throw new Killed(`kill -9 right after an accepted ${String(method)}`);
      };
    },
  });
}

describe('a kill -9 right after an accepted createCustomer does not lose the contract (projector, in process; issue 19 §1)', () => {
  const oc = withOpenCellSandbox();

  const projectorOf = (contract: ContractView, ledger: InMemoryLedger, c: OpenCellClient = oc.client) =>
    // reads go through the healthy client; only the calls of `c` may die
    projectorOver(
      oneContractOdoo(() => contract),
      c,
      ledger,
      { opencell: new OpenCellState(oc.client) },
    );

  const successfulCreates = (contract: ContractView) => {
    const mine = (b: Record<string, unknown>) =>
      b.code === contract.partner.ref ||
      String(b.code).startsWith(`${contract.partner.ref}_`) ||
      b.code === contract.code ||
      b.subscription === contract.code;
    const out: Record<string, number> = {};
    for (const e of oc.sandbox.journal.entries({ method: 'POST' })) {
      const b = (e.body ?? {}) as Record<string, unknown>;
      if (e.status >= 300 || e.errorCode || !mine(b)) continue;
      out[e.path] = (out[e.path] ?? 0) + 1;
    }
    return out;
  };

  const steps: [keyof OpenCellClient, string][] = [
    ['createCustomer', 'createCustomer'],
    ['createCrmAccountHierarchy', 'crmAccountHierarchyCreate'],
    ['createSubscription', 'createSubscription'],
    ['createAccess', 'createAccess'],
  ];
  for (const [method, op] of steps) {
    it(`killed right after OpenCell accepted ${op}: the restarted projector finishes the plan, each object created once`, async () => {
      const { contract } = fixture();
      const ledger = new InMemoryLedger();
      const msg = message(contract);
      const first = await projectorOf(contract, ledger, dyingAfter(oc.client, method))
        .handle(msg, 1)
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(first, 'the first try died').to.be.instanceOf(Killed);
      const keys: Record<string, string> = {
        createCustomer: `customer:${contract.partner.ref}`,
        crmAccountHierarchyCreate: `ca:${contract.partner.ref}_0`,
        createSubscription: `subscription:${contract.code}`,
        createAccess: `access:${contract.code}:${contract.phoneNumber}`,
      };
      expect(ledger.effects.get(keys[op])?.outcome, 'the create was written ahead of its call').to.equal(
        'pending',
      );

      const second = await projectorOf(contract, ledger).handle(msg, 2);
      // after an accepted createAccess everything is in OpenCell: the restarted try only finds it there
      expect(second?.outcome).to.equal(op === 'createAccess' ? 'skipped' : 'applied');
      const sub = oc.sandbox.state.subscriptions.get(contract.code);
      expect(sub?.userAccount).to.equal(`${contract.partner.ref}_0`);
      expect(
        (oc.sandbox.state.accessesBySubscription.get(contract.code) ?? []).map((a) => a.code),
      ).to.include(contract.phoneNumber);
      const creates = successfulCreates(contract);
      expect(creates, 'every create exactly once').to.deep.equal({
        '/account/customer': 1,
        '/account/accountHierarchy/createCRMAccountHierarchy': 1,
        '/billing/subscription': 1,
        '/account/access': 1,
      });
    });
  }

  it("a blocked partner's first contract, killed right after its accepted CRM hierarchy: the same intent finishes it; a later contract of the partner is still refused as blocked", async () => {
    const { contract } = fixture();
    const blocked = { ...contract, partner: { ...contract.partner, blockContractCreationInOC: true } };
    const ledger = new InMemoryLedger();
    const msg = message(blocked);
    const first = await projectorOf(blocked, ledger, dyingAfter(oc.client, 'createCrmAccountHierarchy'))
      .handle(msg, 1)
      .catch((e: unknown) => e);
    expect(first).to.be.instanceOf(Killed);
    const second = await projectorOf(blocked, ledger).handle(msg, 2);
    expect(second?.outcome).to.equal('applied');
    expect(second?.calls).to.deep.equal(['createSubscription', 'createAccess']);
    const later = { ...blocked, id: blocked.id + 1000, code: `${blocked.code}-2` };
    const refused = await projectorOf(later, ledger)
      .handle(message(later), 1)
      .catch((e: unknown) => e);
    expect((refused as Error).message).to.equal(
      `Partner with code ${blocked.partner.ref} does not allow automatic subscription creation`,
    );
  });

  it('without any record of ours (a customer left without accounts before the fix) the contract is refused; reconcile --fix and force-create repair it', async () => {
    for (const operator of [{ repair: true }, { force: true }] as const) {
      const { contract } = fixture();
      const ledger = new InMemoryLedger();
      const first = await projectorOf(contract, ledger, dyingAfter(oc.client, 'createCustomer'))
        .handle(message(contract), 1)
        .catch((e: unknown) => e);
      expect(first).to.be.instanceOf(Killed);
      ledger.effects.clear(); // the version before the fix wrote nothing ahead
      const refused = await projectorOf(contract, ledger)
        .handle(message(contract), 1)
        .catch((e: unknown) => e);
      expect(refused).to.be.instanceOf(ProjectionRejectedError);
      expect((refused as Error).message).to.equal(
        `Customer with code ${contract.partner.ref} found with no customer accounts associated`,
      );
      const repaired = await projectorOf(contract, ledger).handle(message(contract, operator), 1);
      expect(repaired?.outcome, JSON.stringify(operator)).to.equal('applied');
      expect(repaired?.calls).to.deep.equal([
        'crmAccountHierarchyCreate',
        'createSubscription',
        'createAccess',
      ]);
      expect(oc.sandbox.state.subscriptions.get(contract.code)?.userAccount).to.equal(
        `${contract.partner.ref}_0`,
      );
    }
  });
});
