/**
 * update_subscription — a contract's emails or IBAN change (docs/behaviour.md §4, W1, W2): the email or IBAN
 * strategy on the customer account, for the contracts of the partner that now carry the same value.
 *
 * - Trigger: contract_contract `mandate_id` written on a live contract (IBAN, docs/behaviour.md W2), or a row of
 *   the contract email relation created / deleted / re-keyed (email, docs/behaviour.md W1) — by a write of an
 *   existing contract, as the original: what the transaction creating the contract writes (its emails, a mandate set
 *   after the insert) gives nothing unless SYNC_EMAIL_IBAN_AT_CREATION is on (TriggerContext.contractInCreation).
 * - Plan: planUpdateSubscription (strategies.ts), from the customer, the subscription's active siblings and the
 *   partner's other contracts; no create precondition (a subscription's creation carries the current value).
 * - Partner changed: a subscription outside the partner's customer accounts (its contract changed partner) is
 *   refused (dead letter) instead of updating the new partner's account.
 * - Idempotency: a customer account already holding the value plans nothing.
 * - Ledger / sync event: contract.contract ↔ customer_account.
 */
import * as t from 'io-ts';
import { ProjectionRejectedError } from '../errors';
import { CONTRACT_EMAIL_REL_TABLE, keyChanged } from '../projection/filter';
import { planUpdateSubscription } from '../projection/strategies';
import { kindCodec } from './codecs';
import { contractTargets, intentKind } from './kind';
import { isChangeOf } from './trigger-rules';

export type UpdateSubscriptionIntent = {
  kind: 'update_subscription';
  contractId: number;
  field: 'email' | 'iban';
};

export const updateSubscription = intentKind<UpdateSubscriptionIntent>({
  kind: 'update_subscription',
  codec: kindCodec('update_subscription', {
    contractId: t.number,
    field: t.keyof({ email: null, iban: null }),
  }),
  scope: 'contract',
  needsSubscription: false,
  trigger: {
    tables: ['contract_contract', CONTRACT_EMAIL_REL_TABLE],
    rule: 'docs/behaviour.md W2 (mandate_id written) and W1 (contract email relation rows), by a write of an existing contract',
    detect(change, fields, ctx) {
      // The original reacted to writes of an existing contract only (the wizards; Odoo 12's on_record_write).
      const writtenByCreation = (contractId: number): boolean => {
        if (ctx.syncEmailIbanAtCreation) return false;
        if (!ctx.contractInCreation)
          throw new Error('TriggerContext.contractInCreation is required for mandate and email-link changes');
        return ctx.contractInCreation(contractId);
      };
      if (isChangeOf(change, 'contract_contract')) {
        const after = change.after;
        if (after === null || change.op !== 'u') return [];
        if (
          fields.includes('mandate_id') &&
          after.mandate_id !== null &&
          !after.is_terminated &&
          !writtenByCreation(after.id)
        )
          return [{ kind: 'update_subscription', contractId: after.id, field: 'iban' }];
        return [];
      }
      if (isChangeOf(change, CONTRACT_EMAIL_REL_TABLE)) {
        if (change.op === 'r') return []; // the contract's own snapshot carries its emails
        // A Many2many row has only key columns: an update that keeps them changes nothing.
        if (change.op === 'u' && !keyChanged(change)) return [];
        const ids = new Set<number>();
        for (const row of [change.before, change.after]) if (row !== null) ids.add(row.contract_contract_id);
        return [...ids]
          .filter((contractId) => !writtenByCreation(contractId))
          .map((contractId) => ({ kind: 'update_subscription', contractId, field: 'email' }) as const);
      }
      return [];
    },
  },
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  async project(intent, ctx, scope) {
    if (scope === null) return;
    const { contract, subscription: sub } = scope;
    const customer = contract.partner.ref ? await ctx.opencell.customer(contract.partner.ref) : null;
    // A contract whose partner changed in Odoo keeps its subscription in the former partner's account (nothing moves
    // it, as in the original): the new partner's account must not get this contract's email or IBAN (issue 15 §8).
    if (sub && customer && customer.customerAccounts.length > 0)
      if (!customer.customerAccounts.some((ca) => ca.code === sub.userAccount))
        throw new ProjectionRejectedError(
          `contract ${contract.code}: its subscription is in customer account ${sub.userAccount}, which is not an ` +
            `account of its partner's customer ${customer.code} (the contract changed partner in Odoo): the ` +
            `${intent.field} change is not sent, so that no other customer's account is changed; move the ` +
            `subscription in OpenCell by hand first`,
          { contractId: contract.id, contractCode: contract.code, userAccount: sub.userAccount },
        );
    const active = sub ? await ctx.opencell.activeSubscriptionCodes(sub.userAccount) : [];
    const others = await ctx.odoo.contractsOfPartner(contract.partner.id);
    await ctx.exec({
      plan: planUpdateSubscription({
        field: intent.field,
        contract,
        otherContracts: others,
        customer,
        subscription: sub,
        activeSubscriptionCodes: active,
        force: ctx.force,
        config: ctx.config,
      }),
      contract,
    });
  },
  odooRecord: (intent) => ({ model: 'contract.contract', id: intent.contractId }),
  syncTarget: (_intent, last) => ({ entity: 'customer_account', code: last?.contract?.code ?? null }),
});
