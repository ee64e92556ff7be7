/**
 * create_subscription — a contract reaches OpenCell (docs/behaviour.md §3.1, T1): Customer → CRM account hierarchy
 * → Subscription → Access, with the create strategy chosen from what OpenCell holds.
 *
 * - Trigger: a contract_contract row created (or read by a snapshot).
 * - Plan: planCreateSubscription (strategies.ts). It is also every contract-scoped kind's causal precondition
 *   (`createFirst`): anything about a contract whose subscription does not exist yet runs this plan first.
 * - Idempotency: an existing subscription turns the plan into a check (only a missing access is created); a create
 *   answered ENTITY_ALREADY_EXISTS counts as present (executor); every create is recorded in the ledger ahead of its
 *   call (executor), and a chain cut short resumes from OpenCell's state and those records (createFirst).
 * - Ledger / sync event: contract.contract ↔ subscription.
 */
import * as t from 'io-ts';
import { createRecordKeys, customerCreateKey, planCreateSubscription } from '../projection/strategies';
import type { ContractView, OcSubscriptionState } from '../projection/views';
import { kindCodec, snapshotFlag } from './codecs';
import { contractTargets, intentKind, type ProjectionContext } from './kind';
import { isChangeOf } from './trigger-rules';
import { snapshotCreateSubscription } from './snapshot';

export type CreateSubscriptionIntent = { kind: 'create_subscription'; contractId: number; snapshot?: true };

/**
 * Executes the contract's create plan against `subscription` (null: create it; else check its access), resumed from
 * OpenCell's state and the ledger's write-ahead records: a customer this pipeline created (its createCustomer record,
 * stored before the call) that has no customer account yet is a plan cut short between createCustomer and the CRM
 * hierarchy (a process killed while the call was in flight or before the ledger recorded the answer, or a retriable
 * failure of the second call); the plan finishes its hierarchy instead of refusing it as "customer with no customer
 * accounts" (planCreateSubscription).
 */
export async function createFirst(
  contract: ContractView,
  subscription: OcSubscriptionState | null,
  ctx: ProjectionContext,
): Promise<void> {
  const ref = contract.partner.ref;
  const customer = ref && !subscription ? await ctx.opencell.customer(ref) : null;
  const records =
    customer && (customer.customerAccounts.length === 0 || contract.partner.blockContractCreationInOC)
      ? await ctx.recorded(createRecordKeys(contract))
      : new Map<string, string>();
  const recorded = new Set(records.keys());
  // this very intent created the customer: its own chain, cut short and retried (a kill -9 keeps the intent id)
  const ownChain = ref !== null && records.get(customerCreateKey(ref)) === ctx.intentId;
  await ctx.exec({
    plan: planCreateSubscription({
      contract,
      customer,
      subscription,
      config: ctx.config,
      force: ctx.force,
      repair: ctx.repair,
      recorded,
      ownChain,
      // the original's forced creation sent no lines (their jobs were re-queued by hand: `dlq replay` here)
      embedLines: ctx.force && ctx.config.forceCreateWithLines === true,
    }),
    contract,
  });
}

export const createSubscription = intentKind<CreateSubscriptionIntent>({
  kind: 'create_subscription',
  codec: kindCodec('create_subscription', { contractId: t.number }, snapshotFlag),
  scope: 'contract',
  needsSubscription: true,
  trigger: {
    tables: ['contract_contract'],
    rule: 'docs/behaviour.md T1: a contract is created',
    flagsSnapshot: true,
    detect(change) {
      if (!isChangeOf(change, 'contract_contract') || change.after === null) return [];
      if (change.op !== 'c' && change.op !== 'r') return [];
      return [{ kind: 'create_subscription', contractId: change.after.id }];
    },
  },
  reconcileSnapshot: (_intent, facts) => snapshotCreateSubscription(facts),
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  async project(_intent, ctx, scope) {
    if (scope === null || scope.createdFirst) return;
    await createFirst(scope.contract, scope.subscription, ctx);
  },
  odooRecord: (intent) => ({ model: 'contract.contract', id: intent.contractId }),
  syncTarget: (_intent, last) => ({ entity: 'subscription', code: last?.contract?.code ?? null }),
});
