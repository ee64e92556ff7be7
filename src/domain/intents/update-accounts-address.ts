/**
 * update_accounts_address — the address strategy on every customer account of a partner's customer
 * (docs/behaviour.md T6b). No longer produced (update_customer with address fields does it from the same reads);
 * still projected for intents queued before that merge.
 *
 * - Plan: planUpdateAccountsAddress (strategies.ts).
 * - Ledger / sync event: res.partner ↔ customer_account.
 */
import * as t from 'io-ts';
import { planUpdateAccountsAddress } from '../projection/strategies';
import { kindCodec } from './codecs';
import { intentKind } from './kind';

export type UpdateAccountsAddressIntent = { kind: 'update_accounts_address'; partnerId: number };

export const updateAccountsAddress = intentKind<UpdateAccountsAddressIntent>({
  kind: 'update_accounts_address',
  codec: kindCodec('update_accounts_address', { partnerId: t.number }),
  scope: 'partner',
  trigger: {
    tables: [],
    rule: 'docs/behaviour.md T6b: no longer produced (update_customer carries it)',
    detect: () => [],
  },
  targets: (intent) => [{ partnerId: intent.partnerId, contractId: null }],
  async project(intent, ctx) {
    const partner = await ctx.odoo.partner(intent.partnerId);
    if (!partner) return ctx.noop(`partner ${intent.partnerId} no longer exists in Odoo`);
    const customer = partner.ref ? await ctx.opencell.customer(partner.ref) : null;
    await ctx.exec({ plan: planUpdateAccountsAddress({ partner, customer }), partner });
  },
  odooRecord: (intent) => ({ model: 'res.partner', id: intent.partnerId }),
  syncTarget: (_intent, last) => ({ entity: 'customer_account', code: last?.partner?.ref ?? null }),
});
