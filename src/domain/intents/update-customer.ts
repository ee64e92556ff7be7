/**
 * update_customer — a partner's address (or, with SYNC_PARTNER_IDENTITY, identity) changes (docs/behaviour.md T6,
 * T6b): Customer.update with the full customer payload, then — for address fields — the address strategy on every
 * customer account of the customer (the original's two jobs, from one read).
 *
 * - Trigger: res_partner update of a watched address / identity column, for a partner with contracts.
 * - Plan: planUpdateCustomer, then planUpdateAccountsAddress (strategies.ts).
 * - Idempotency: updates are planned from OpenCell's state and repeat harmlessly (idempotent in the catalogue).
 * - Ledger / sync event: res.partner ↔ customer.
 */
import * as t from 'io-ts';
import { PARTNER_ADDRESS_COLUMNS, PARTNER_IDENTITY_COLUMNS } from '../projection/filter';
import { planUpdateAccountsAddress, planUpdateCustomer } from '../projection/strategies';
import { kindCodec } from './codecs';
import { intentKind } from './kind';
import { isChangeOf } from './trigger-rules';

export type UpdateCustomerIntent = { kind: 'update_customer'; partnerId: number; fields: string[] };

function touchesAddress(fields: readonly string[]): boolean {
  return fields.some((f) => (PARTNER_ADDRESS_COLUMNS as readonly string[]).includes(f));
}

export const updateCustomer = intentKind<UpdateCustomerIntent>({
  kind: 'update_customer',
  codec: kindCodec('update_customer', { partnerId: t.number, fields: t.array(t.string) }),
  scope: 'partner',
  trigger: {
    tables: ['res_partner'],
    rule: 'docs/behaviour.md T6 (+ T6b): partner address written; identity columns when SYNC_PARTNER_IDENTITY is on',
    detect(change, fields, ctx) {
      if (!isChangeOf(change, 'res_partner') || change.op !== 'u' || change.after === null) return [];
      const address = fields.filter((f) => (PARTNER_ADDRESS_COLUMNS as readonly string[]).includes(f));
      const identity = ctx.syncPartnerIdentity
        ? fields.filter((f) => (PARTNER_IDENTITY_COLUMNS as readonly string[]).includes(f))
        : [];
      if (address.length === 0 && identity.length === 0) return [];
      const partnerId = change.after.id;
      if (!ctx.partnerHasContracts)
        throw new Error('TriggerContext.partnerHasContracts is required for res_partner changes');
      if (!ctx.partnerHasContracts(partnerId)) return [];
      // One intent: with address fields, the projector also updates the customer accounts' address
      // (docs/behaviour.md T6b) from the same reads (one customer GET, one ledger write), after the customer
      // itself, as the original's two jobs did.
      return [{ kind: 'update_customer', partnerId, fields: [...address, ...identity] }];
    },
  },
  targets: (intent) => [{ partnerId: intent.partnerId, contractId: null }],
  async project(intent, ctx) {
    const partner = await ctx.odoo.partner(intent.partnerId);
    if (!partner) return ctx.noop(`partner ${intent.partnerId} no longer exists in Odoo`);
    const customer = partner.ref ? await ctx.opencell.customer(partner.ref) : null;
    await ctx.exec({ plan: planUpdateCustomer({ partner, customer, config: ctx.config }), partner });
    if (!touchesAddress(intent.fields)) return;
    await ctx.exec({ plan: planUpdateAccountsAddress({ partner, customer }), partner });
  },
  odooRecord: (intent) => ({ model: 'res.partner', id: intent.partnerId }),
  syncTarget: (_intent, last) => ({ entity: 'customer', code: last?.partner?.ref ?? null }),
});
