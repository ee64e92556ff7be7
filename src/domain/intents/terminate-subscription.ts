/**
 * terminate_subscription — a contract is terminated (docs/behaviour.md §3.3, T2): its ended service lines still
 * running in OpenCell are terminated, then the subscription, at `terminate_date`, reason CC_TERMINATION.
 *
 * - Trigger: contract_contract `is_terminated` written true, as the original's T2; a contract snapshotted already
 *   terminated; a contract created already terminated only with the opt-in SYNC_TERMINATION_AT_CREATION (the
 *   original's listener reacted to writes only: docs/parity.md ADD-create).
 * - Plan: planTerminateSubscription (strategies.ts), after the create precondition.
 * - Timing: a future terminate_date is held until that day 00:05 UTC (T2's ETA; hold.ts, HOLD_TERMINATIONS).
 * - Idempotency: a subscription already terminated (or with a termination scheduled) plans nothing.
 * - Ledger / sync event: contract.contract ↔ subscription.
 */
import * as t from 'io-ts';
import { planTerminateSubscription } from '../projection/strategies';
import { toIsoDate, type IsoDate } from '../projection/views';
import { IsoDateC, kindCodec, nullable, snapshotFlag } from './codecs';
import { contractTargets, intentKind } from './kind';
import { isChangeOf } from './trigger-rules';
import { snapshotTerminateSubscription } from './snapshot';
import { notBeforeForDay, TERMINATE_SUBSCRIPTION_DELAY_MS } from './hold';

export type TerminateSubscriptionIntent = {
  kind: 'terminate_subscription';
  contractId: number;
  date: IsoDate | null;
  snapshot?: true;
};

export const terminateSubscription = intentKind<TerminateSubscriptionIntent>({
  kind: 'terminate_subscription',
  codec: kindCodec(
    'terminate_subscription',
    { contractId: t.number, date: nullable(IsoDateC) },
    snapshotFlag,
  ),
  scope: 'contract',
  needsSubscription: true,
  trigger: {
    tables: ['contract_contract'],
    rule: 'docs/behaviour.md T2: a contract is terminated',
    flagsSnapshot: true,
    detect(change, fields, ctx) {
      if (!isChangeOf(change, 'contract_contract')) return [];
      const after = change.after;
      if (after === null || change.op === 'd' || !after.is_terminated) return [];
      if (change.op === 'u' && !fields.includes('is_terminated')) return [];
      if (change.op === 'c' && !ctx.syncTerminationAtCreation) return [];
      return [
        { kind: 'terminate_subscription', contractId: after.id, date: toIsoDate(after.terminate_date) },
      ];
    },
  },
  reconcileSnapshot: (_intent, facts) => snapshotTerminateSubscription(facts),
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  // T2's ETA: a future terminate_date reaches OpenCell that day at 00:05 (hold.ts); the plan reads the contract then.
  notBefore: (intent, nowMs) => notBeforeForDay(intent.date, nowMs, TERMINATE_SUBSCRIPTION_DELAY_MS),
  async project(_intent, ctx, scope) {
    if (scope === null) return;
    const { contract, subscription } = scope;
    await ctx.exec({ plan: planTerminateSubscription({ contract, subscription }), contract });
  },
  odooRecord: (intent) => ({ model: 'contract.contract', id: intent.contractId }),
  syncTarget: (_intent, last) => ({ entity: 'subscription', code: last?.contract?.code ?? null }),
});
