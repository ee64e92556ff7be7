/**
 * Issue 15 §6, "DLQ replay breaks per-key order": a dead letter replayed after newer changes of the same key were
 * applied must not overwrite the newer state. Intents carry ids and re-read Odoo and OpenCell when projected; the
 * two kinds that carry a value of their change event (update_phone_number: the number; terminate_service: the date)
 * compare it with Odoo's current value and do nothing, saying why, when a later change superseded it. The projector
 * (in-memory ledger) against the OpenCell sandbox, like projector-create-resume.test.ts.
 */
import { expect } from 'chai';
import { sampleContract, samplePartner } from '../../testkit/views';
import type { IntentMessage } from '../../src/domain/intents/message';
import { terminateService } from '../../src/domain/intents/terminate-service';
import { updatePhoneNumber } from '../../src/domain/intents/update-phone-number';
import type { ProjectionContext } from '../../src/domain/intents/kind';
import type { ContractView, LineView } from '../../src/domain/projection/views';
import { InMemoryLedger } from '../../testkit/ledger';
import { oneContractOdoo, projectorOver, withOpenCellSandbox } from './support/projector-harness';
import { contractIntentMessage } from './support/intent-message';

const INFO = 'mobile_service_contract_info' as const;

function contractWith(phone: string): ContractView {
  const ref = `8${String(Date.now() % 1e6).padStart(6, '0')}`;
  const partner = samplePartner({ id: 901, ref });
  return sampleContract(
    {
      id: 91001,
      code: `SC-O${ref}`,
      emails: [{ id: 9, email: `o${ref}@example.org` }],
      phoneNumber: phone,
      ispInfo: { table: INFO, id: 77, phoneNumber: phone },
    },
    partner,
  );
}

let seq = 0;
function message(contract: ContractView, intent: IntentMessage['intent']): IntentMessage {
  seq++;
  return contractIntentMessage(contract, intent, {
    intentId: `order-${contract.code}-${seq}`,
    source: { table: INFO, rowId: 77, lsn: seq, txId: seq, offset: String(seq) },
  });
}

/** The intent of the info row's number change from `previousPhone` to the contract's current number. */
const phoneChange = (contract: ContractView, previousPhone: string): IntentMessage =>
  message(contract, {
    kind: 'update_phone_number',
    infoTable: INFO,
    infoId: 77,
    phone: contract.phoneNumber as string,
    previousPhone,
  });

describe('DLQ replay breaks per-key order (issue 15 §6)', () => {
  const oc = withOpenCellSandbox();

  it('an old phone-number change replayed after a newer one was applied changes nothing and says why', async () => {
    const A = '600100001';
    const B = '600100002';
    const C = '600100003';
    let odoo = contractWith(A); // what Odoo holds now; the projector reads it on every intent
    const ledger = new InMemoryLedger();
    const projector = projectorOver(
      oneContractOdoo(() => odoo),
      oc.client,
      ledger,
    );
    const state = () => {
      const sub = oc.sandbox.state.subscriptions.get(odoo.code);
      const accesses = (oc.sandbox.state.accessesBySubscription.get(odoo.code) ?? []).map((a) => a.code);
      return { description: sub?.description, accesses };
    };
    await projector.handle(message(odoo, { kind: 'create_subscription', contractId: odoo.id }), 1);
    expect(state().accesses).to.deep.equal([A]);

    // 1. A → B: OpenCell refuses it (business error: the keyed consumer dead-letters it)
    odoo = { ...odoo, phoneNumber: B, ispInfo: { table: INFO, id: 77, phoneNumber: B } };
    const old = phoneChange(odoo, A);
    oc.sandbox.faults.add({
      kind: 'fail200',
      path: '^/billing/subscription$',
      method: 'PUT',
      count: 1,
      errorCode: 'BUSINESS_API_EXCEPTION',
      message: 'refused',
    });
    const failed = await projector.handle(old, 1).catch((e: unknown) => e);
    expect(failed, 'the first change failed (dead-lettered)').to.be.instanceOf(Error);
    expect(String(failed)).to.match(/subscription\.update rejected the call .*refused/);
    expect(oc.sandbox.faults.list(), 'the fault was spent').to.deep.equal([]);

    // 2. B → C, applied
    odoo = { ...odoo, phoneNumber: C, ispInfo: { table: INFO, id: 77, phoneNumber: C } };
    const newer = phoneChange(odoo, B);
    expect((await projector.handle(newer, 1))?.outcome).to.equal('applied');
    expect(state()).to.deep.equal({ description: C, accesses: [C] });

    // 3. the operator replays the old dead letter: superseded, nothing done, C stays
    const calls = oc.sandbox.journal.entries().length;
    const replayed = await projector.handle(old, 2, { replayed: true });
    expect(replayed?.outcome).to.equal('skipped');
    expect(replayed?.note).to.match(
      /superseded: mobile_service_contract_info 77 holds number 600100003 now, not 600100002/,
    );
    expect(state(), 'the newer number stays').to.deep.equal({ description: C, accesses: [C] });
    const writes = oc.sandbox.journal
      .entries()
      .slice(calls)
      .filter((e) => e.method !== 'GET' && !/\/list$|find/.test(e.path));
    expect(writes, 'no write to OpenCell').to.deep.equal([]);
  });

  it('an old number change dead-lettered after its description update, replayed after a newer one: deletes the access it left, puts nothing back', async () => {
    const A = '600200001';
    const B = '600200002';
    const C = '600200003';
    let odoo = contractWith(A);
    const projector = projectorOver(
      oneContractOdoo(() => odoo),
      oc.client,
      new InMemoryLedger(),
    );
    const state = () => {
      const sub = oc.sandbox.state.subscriptions.get(odoo.code);
      const accesses = (oc.sandbox.state.accessesBySubscription.get(odoo.code) ?? []).map((a) => a.code);
      return { description: sub?.description, accesses };
    };
    await projector.handle(message(odoo, { kind: 'create_subscription', contractId: odoo.id }), 1);
    // 1. A → B: the description is updated, the delete of access A refused (dead-lettered)
    odoo = { ...odoo, phoneNumber: B, ispInfo: { table: INFO, id: 77, phoneNumber: B } };
    const old = phoneChange(odoo, A);
    oc.sandbox.faults.add({
      kind: 'fail200',
      operation: 'deleteAccess',
      count: 1,
      errorCode: 'BUSINESS_API_EXCEPTION',
      message: 'refused',
    });
    expect(await projector.handle(old, 1).catch((e: unknown) => e)).to.be.instanceOf(Error);
    expect(state(), 'the fault landed after the description update').to.deep.equal({
      description: B,
      accesses: [A],
    });
    // 2. B → C, applied: it takes the description (B) for the old number and cannot know about A
    odoo = { ...odoo, phoneNumber: C, ispInfo: { table: INFO, id: 77, phoneNumber: C } };
    expect((await projector.handle(phoneChange(odoo, B), 1))?.outcome).to.equal('applied');
    expect(state()).to.deep.equal({ description: C, accesses: [A, C] });
    // 3. the replayed dead letter is superseded and deletes only access A
    const replayed = await projector.handle(old, 2, { replayed: true });
    expect(replayed?.calls).to.deep.equal(['deleteAccess']);
    expect(state(), 'only the newest number').to.deep.equal({ description: C, accesses: [C] });
  });

  it('an old service termination replayed after its date_end was changed or cleared changes nothing and says why', async () => {
    const line = { id: 5, dateEnd: '2024-06-30' } as LineView;
    const notes: string[] = [];
    let execs = 0;
    const ctx = {
      noop: (n: string) => void notes.push(n),
      exec: async () => void execs++,
    } as unknown as ProjectionContext;
    const intent = {
      kind: 'terminate_service' as const,
      contractId: 1,
      lineId: 5,
      productId: 1,
      productCode: 'SE_SC_REC_MOBILE_T_150',
      date: '2024-05-31',
    };
    const scope = (l: LineView) => ({ contract: { ...contractWith('600'), lines: [l] }, subscription: null });
    await terminateService.project(intent, ctx, scope(line) as never);
    await terminateService.project(intent, ctx, scope({ ...line, dateEnd: null }) as never);
    expect(notes).to.deep.equal([
      'superseded: contract line 5 has date_end 2024-06-30 now, not 2024-05-31; the later change applies it (an older change is never applied over a newer one)',
      'superseded: contract line 5 has date_end (none) now, not 2024-05-31; the later change applies it (an older change is never applied over a newer one)',
    ]);
    expect(execs).to.equal(0);
  });

  it('an old number replayed after the info record went back to Odoo\'s "-": superseded by the "-" change (the original queued it); with PHONE_PLACEHOLDER_IS_NO_NUMBER "-" is no number and does not supersede', async () => {
    const run = async (phonePlaceholderIsNoNumber: boolean) => {
      const notes: string[] = [];
      let execs = 0;
      const ctx = {
        config: { seller: 'SC', customerCategory: 'CLIENT', phonePlaceholderIsNoNumber },
        noop: (n: string) => void notes.push(n),
        exec: async () => void execs++,
      } as unknown as ProjectionContext;
      const intent = {
        kind: 'update_phone_number' as const,
        infoTable: INFO,
        infoId: 77,
        phone: '600100002',
        previousPhone: null,
      };
      await updatePhoneNumber.project(intent, ctx, {
        contract: contractWith('-'),
        subscription: null,
      } as never);
      return { notes, execs };
    };
    expect(await run(false)).to.deep.equal({
      notes: [
        'superseded: mobile_service_contract_info 77 holds number - now, not 600100002; the later change applies it (an older change is never applied over a newer one)',
      ],
      execs: 0,
    });
    expect(await run(true)).to.deep.equal({ notes: [], execs: 1 });
  });
});
