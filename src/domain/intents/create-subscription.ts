/**
 * create_subscription — a contract reaches OpenCell (docs/behaviour.md §3.1, T1): Customer → CRM account hierarchy
 * → Subscription → Access, with the create strategy chosen from what OpenCell holds.
 *
 * - Trigger: a contract_contract row created (or read by a snapshot).
 * - Plan: planCreateSubscription (strategies.ts). It is also every contract-scoped kind's causal precondition
 *   (`createFirst`): anything about a contract whose subscription does not exist yet runs this plan first.
 * - Idempotency: an existing subscription turns the plan into a check (only a missing access is created); a create
 *   answered ENTITY_ALREADY_EXISTS counts as present (executor); an interrupted create chain resumes (customerForCreate).
 * - Ledger / sync event: contract.contract ↔ subscription.
 */
import * as t from 'io-ts';
import { planCreateSubscription } from '../projection/strategies';
import type { ContractView, OcCustomerState, OcSubscriptionState } from '../projection/views';
import { kindCodec, snapshotFlag } from './codecs';
import { contractTargets, intentKind, type ProjectionContext } from './kind';
import { isChangeOf } from './trigger-rules';

export type CreateSubscriptionIntent = { kind: 'create_subscription'; contractId: number; snapshot?: true };

/**
 * The OpenCell customer a create plan starts from. A customer this pipeline created itself (its effect is in the
 * ledger) that has no customer account yet is a create chain interrupted between createCustomer and the CRM
 * hierarchy (crash, or a retriable failure of the second call): the chain resumes (null: createCustomer is answered
 * ENTITY_ALREADY_EXISTS, which counts as present, and the hierarchy `{ref}_0` follows) instead of being refused as
 * "customer with no customer accounts", which would dead-letter the contract.
 */
export async function customerForCreate(
  contract: ContractView,
  ctx: ProjectionContext,
): Promise<OcCustomerState | null> {
  const ref = contract.partner.ref;
  if (!ref) return null;
  const customer = await ctx.opencell.customer(ref);
  if (customer && customer.customerAccounts.length === 0 && (await ctx.hasEffect(`customer:${ref}`)))
    return null;
  return customer;
}

/** Executes the contract's create plan against `subscription` (null: create it; else check its access). */
export async function createFirst(
  contract: ContractView,
  subscription: OcSubscriptionState | null,
  ctx: ProjectionContext,
): Promise<void> {
  const customer = await customerForCreate(contract, ctx);
  await ctx.exec({
    plan: planCreateSubscription({
      contract,
      customer,
      subscription,
      config: ctx.config,
      force: ctx.force,
      embedLines: ctx.force,
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
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  async project(_intent, ctx, scope) {
    if (scope === null || scope.createdFirst) return;
    await createFirst(scope.contract, scope.subscription, ctx);
  },
  odooRecord: (intent) => ({ model: 'contract.contract', id: intent.contractId }),
  syncTarget: (_intent, last) => ({ entity: 'subscription', code: last?.contract?.code ?? null }),
});
