/**
 * force_iban — an operator forces a contract's current IBAN onto that contract's own OpenCell user account
 * (docs/behaviour.md W3, the force-IBAN wizard): the way out for an IBAN change of a customer with several customer
 * accounts, which the update strategies refuse (§4 rule 5: "Please update OC manually").
 *
 * - Trigger: none; the operator's `force-iban` command produces it (src/app/cli.ts), keyed by the contract's
 *   customer, so it is ordered with the customer's other intents.
 * - Plan: planUpdateSubscription with `force` (strategies.ts): one contract, strategy `iban` on the subscription's
 *   `userAccount`, sent even when that account already holds the IBAN (as the wizard).
 * - Refused (dead letter with the reason): no mandate / bank account, a subscription OpenCell does not have, and with
 *   the opt-in REFUSE_INVALID_IBAN an invalid IBAN (masked). A terminated contract is forced, as the wizard did.
 * - Idempotency: the update sets a value; a replay sets the same one.
 * - Ledger / sync event: contract.contract ↔ customer_account (the user account's code).
 */
import * as t from 'io-ts';
import { ProjectionRejectedError } from '../errors';
import { isValidIban, maskIban } from '../projection/iban';
import type { ProjectionConfig } from '../projection/payloads';
import { planUpdateSubscription } from '../projection/strategies';
import type { ContractView } from '../projection/views';
import { kindCodec } from './codecs';
import { contractTargets, intentKind } from './kind';

export type ForceIbanIntent = { kind: 'force_iban'; contractId: number };

/**
 * Why a contract's IBAN cannot be forced (the CLI says it before producing; the projection checks it again). A
 * terminated contract is forced as the wizard forced it (docs/parity.md W3); an IBAN failing its check digits is
 * refused only with the opt-in REFUSE_INVALID_IBAN (P-iban-check), as the original sent any stored IBAN.
 */
export function forceIbanRefusal(
  contract: ContractView,
  config: Pick<ProjectionConfig, 'refuseInvalidIban'> = {},
): string | null {
  const iban = contract.mandate?.iban;
  if (!iban) return `contract ${contract.code} has no mandate with a bank account: there is no IBAN to force`;
  if (config.refuseInvalidIban && !isValidIban(iban))
    return `contract ${contract.code}: the mandate's IBAN ${maskIban(iban)} is not a valid IBAN (ISO 13616 or national check digits failed); fix the bank account in Odoo first`;
  return null;
}

export const forceIban = intentKind<ForceIbanIntent>({
  kind: 'force_iban',
  codec: kindCodec('force_iban', { contractId: t.number }),
  scope: 'contract',
  needsSubscription: false,
  trigger: {
    tables: [],
    rule: "docs/behaviour.md W3: the operator's force-iban command (no Odoo change produces it)",
    detect: () => [],
  },
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  async project(_intent, ctx, scope) {
    if (scope === null) return;
    const { contract, subscription } = scope;
    const refused = forceIbanRefusal(contract, ctx.config);
    if (refused !== null) throw new ProjectionRejectedError(refused, { contractCode: contract.code });
    if (subscription === null)
      throw new ProjectionRejectedError(
        `subscription ${contract.code} does not exist in OpenCell: there is no user account to force the IBAN onto (force-create it first)`,
        { contractCode: contract.code },
      );
    const customer = contract.partner.ref ? await ctx.opencell.customer(contract.partner.ref) : null;
    await ctx.exec({
      plan: planUpdateSubscription({
        field: 'iban',
        contract,
        customer,
        subscription,
        activeSubscriptionCodes: [],
        force: true,
        config: ctx.config,
      }),
      contract,
    });
  },
  odooRecord: (intent) => ({ model: 'contract.contract', id: intent.contractId }),
  syncTarget: (_intent, last) => {
    const body = last?.plan.ops[0]?.body as { code?: unknown } | undefined;
    return { entity: 'customer_account', code: typeof body?.code === 'string' ? body.code : null };
  },
});
