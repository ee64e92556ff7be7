/**
 * T2 / T5 timing (issue 14 §2, docs/parity.md rows T2, T5, R-termination): the original queued its terminations with
 * an ETA, so a future end date reached OpenCell only on that day. The rule (src/domain/intents/hold.ts), the kinds
 * that use it, and the projector keeping such an intent until the scheduler puts it back (`heldUntil`).
 */
import { expect } from 'chai';
import { sampleContract, samplePartner } from '../../testkit/views';
import { notBeforeForDay } from '../../src/domain/intents/hold';
import type { IntentMessage } from '../../src/domain/intents/message';
import { INTENTS } from '../../src/domain/intents/registry';
import type { ContractView } from '../../src/domain/projection/views';
import { releasedRecord } from '../../src/flows/projection/held-intents';
import { InMemoryLedger } from '../../testkit/ledger';
import { oneContractOdoo, projectorOver, withOpenCellSandbox } from './support/projector-harness';
import { contractIntentMessage } from './support/intent-message';

const at = (iso: string) => Date.parse(iso);

describe('held terminations: the original’s ETA for T2 and T5', () => {
  describe('the timing rule (hold.ts)', () => {
    const now = at('2024-06-10T15:30:00Z');
    it('a day after today (UTC) → that day 00:00 UTC plus the delay; today or earlier → null (at once)', () => {
      expect(notBeforeForDay('2024-06-11', now)).to.equal(at('2024-06-11T00:00:00Z'));
      expect(notBeforeForDay('2024-06-30', now, 300_000)).to.equal(at('2024-06-30T00:05:00Z'));
      expect(notBeforeForDay('2024-06-10', now, 300_000)).to.equal(null);
      expect(notBeforeForDay('2024-01-01', now)).to.equal(null);
      expect(notBeforeForDay(null, now)).to.equal(null);
      expect(notBeforeForDay('not a day', now)).to.equal(null);
    });
    it('the day boundary is UTC midnight: at 23:59:59 UTC tomorrow is held, at 00:00 UTC the same day is not', () => {
      expect(notBeforeForDay('2024-06-11', at('2024-06-10T23:59:59Z'))).to.equal(at('2024-06-11T00:00:00Z'));
      expect(notBeforeForDay('2024-06-11', at('2024-06-11T00:00:00Z'))).to.equal(null);
    });
    it('T2 terminate_subscription: the end day 00:05 (ETA + 300 s); T5 terminate_service: the end day 00:00; other kinds are never held', () => {
      const sub = INTENTS.spec('terminate_subscription');
      const svc = INTENTS.spec('terminate_service');
      expect(
        sub.notBefore?.({ kind: 'terminate_subscription', contractId: 1, date: '2024-07-01' }, now),
      ).to.equal(at('2024-07-01T00:05:00Z'));
      expect(sub.notBefore?.({ kind: 'terminate_subscription', contractId: 1, date: null }, now)).to.equal(
        null,
      );
      expect(
        svc.notBefore?.(
          {
            kind: 'terminate_service',
            contractId: 1,
            lineId: 2,
            productId: 3,
            productCode: 'SE_X',
            date: '2024-07-01',
          },
          now,
        ),
      ).to.equal(at('2024-07-01T00:00:00Z'));
      const held = INTENTS.kinds
        .filter((k) => k.notBefore !== undefined)
        .map((k) => k.kind)
        .sort();
      expect(held).to.deep.equal(['terminate_service', 'terminate_subscription']);
    });
  });

  describe('the projector (in process, OpenCell sandbox)', () => {
    const oc = withOpenCellSandbox();

    it('holds a subscription termination dated after today, without calling OpenCell, and applies it once released (heldUntil), reading the contract then; a second release sends nothing', async () => {
      const ref = `8${String(Date.now() % 1e6).padStart(6, '0')}`;
      const partner = samplePartner({ id: 9100, ref });
      const contract: ContractView = sampleContract(
        {
          id: 91000,
          code: `SC-H${ref}`,
          emails: [{ id: 9, email: `held${ref}@example.org` }],
          phoneNumber: '600123987',
          isTerminated: true,
          terminateDate: '2024-07-01',
        },
        partner,
      );
      const held: { intentId: string; notBefore: number }[] = [];
      const ledger = new InMemoryLedger();
      const projector = projectorOver(
        oneContractOdoo(() => contract),
        oc.client,
        ledger,
        {
          held: {
            port: { hold: async (m, notBefore) => void held.push({ intentId: m.intentId, notBefore }) },
            now: () => at('2024-06-10T15:30:00Z'),
          },
        },
      );
      const msg: IntentMessage = contractIntentMessage(
        contract,
        { kind: 'terminate_subscription', contractId: contract.id, date: '2024-07-01' },
        { intentId: `held-${ref}` },
      );
      const terminations = () =>
        oc.sandbox.journal.entries().filter((e) => e.path.endsWith('/terminate')).length;
      const writes = () => oc.sandbox.journal.entries().filter((e) => e.method !== 'GET').length;

      expect(await projector.handle(msg, 1)).to.equal(null);
      expect(held).to.deep.equal([{ intentId: msg.intentId, notBefore: at('2024-07-01T00:05:00Z') }]);
      expect(writes(), 'nothing sent to OpenCell while held').to.equal(0);
      expect(await ledger.isFinished(msg.intentId), 'not recorded as finished').to.equal(false);

      // The scheduler's record: the same message with heldUntil. Meanwhile the contract's date moved a day later:
      // the projection reads it then (the original's job read the contract when it ran).
      contract.terminateDate = '2024-07-02';
      const record = releasedRecord({
        intentId: msg.intentId,
        aggregateKey: msg.aggregateKey,
        kind: msg.intent.kind,
        notBefore: held[0].notBefore,
        message: msg as unknown as Record<string, unknown>,
      });
      expect(record.key).to.equal(`partner:${partner.id}`);
      const released = JSON.parse(record.value.toString()) as IntentMessage;
      expect(released.heldUntil).to.equal(at('2024-07-01T00:05:00Z'));
      const result = await projector.handle(released, 1);
      expect(result?.outcome).to.equal('applied');
      expect(terminations()).to.equal(1);
      const term = oc.sandbox.journal.entries().find((e) => e.path.endsWith('/terminate'));
      expect((term?.body as { terminationDate?: string }).terminationDate).to.equal('2024-07-02');
      expect(held, 'a released intent is never held again').to.have.length(1);
      // The scheduler publishes, then deletes the row: a crash between the two publishes it again. Counted: the
      // second delivery reaches the projector, which skips the finished intent id — still one termination.
      expect(await projector.handle(released, 1)).to.equal(null);
      expect(terminations(), 'a second release sends nothing').to.equal(1);
    });
  });
});
