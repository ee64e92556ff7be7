/**
 * update_phone_number — an ISP info record's phone number changes (docs/behaviour.md §3.3, T7): the subscription
 * description becomes the new number, the old access is deleted and the new one created, for every contract of the
 * info record.
 *
 * - Trigger: `phone_number` written on a watched ISP info table (mobile, Vodafone / MásMóvil / Orange fiber).
 * - Routing: one intent per contract of the info record, each in its partner's queue.
 * - Plan: planUpdatePhoneNumber (strategies.ts); no create precondition (a subscription's creation carries the
 *   current number).
 * - Idempotency: each step is skipped when OpenCell already shows it, so a replay completes a partial change.
 * - Superseded: the number is the one the change event carried; when the info record holds another number now (a
 *   later change, applied already or still to come with its own intent), the intent does nothing and says so — a
 *   dead letter replayed after newer changes must not put an old number back (issue 15 §6) — except delete the
 *   previous number's access that an interrupted try of it left (planSupersededPhoneNumber).
 * - Ledger / sync event: the info record ↔ access.
 */
import * as t from 'io-ts';
import { planSupersededPhoneNumber, planUpdatePhoneNumber } from '../projection/strategies';
import { odooPhone, WATCHED_ISP_INFO_TABLES, type WatchedIspInfoTable } from '../projection/views';
import { kindCodec, nullable } from './codecs';
import { intentKind, type IntentTarget } from './kind';

export type UpdatePhoneNumberIntent = {
  kind: 'update_phone_number';
  infoTable: WatchedIspInfoTable;
  infoId: number;
  phone: string;
  previousPhone: string | null;
};

const InfoTable = t.keyof(
  Object.fromEntries(WATCHED_ISP_INFO_TABLES.map((x) => [x, null])) as Record<WatchedIspInfoTable, null>,
);

const isWatchedInfoTable = (table: string): table is WatchedIspInfoTable =>
  (WATCHED_ISP_INFO_TABLES as readonly string[]).includes(table);

export const updatePhoneNumber = intentKind<UpdatePhoneNumberIntent>({
  kind: 'update_phone_number',
  codec: kindCodec('update_phone_number', {
    infoTable: InfoTable,
    infoId: t.number,
    phone: t.string,
    previousPhone: nullable(t.string),
  }),
  scope: 'contract',
  needsSubscription: false,
  trigger: {
    tables: WATCHED_ISP_INFO_TABLES,
    rule: 'docs/behaviour.md T7: phone number of an ISP info record written',
    detect(change, fields, ctx) {
      if (!isWatchedInfoTable(change.table)) return [];
      const c = change as { op: string; table: WatchedIspInfoTable } & {
        before: { phone_number?: string } | null;
        after: { id: number; phone_number: string } | null;
      };
      if (c.op !== 'u' || c.after === null || !fields.includes('phone_number')) return [];
      // An empty number is no number (the original would have sent False, which OpenCell refuses). Odoo's "-"
      // placeholder is a number, as in the original, unless PHONE_PLACEHOLDER_IS_NO_NUMBER: then writing it is no
      // new number, and replacing it has no old one.
      const noPlaceholder = ctx.phonePlaceholderIsNoNumber === true;
      const phone = odooPhone(c.after.phone_number, noPlaceholder);
      if (phone === null) return [];
      const previous = c.before === null ? null : odooPhone(c.before.phone_number, noPlaceholder);
      return [
        {
          kind: 'update_phone_number',
          infoTable: c.table,
          infoId: c.after.id,
          phone,
          previousPhone: previous,
        },
      ];
    },
  },
  async targets(intent, reader) {
    const out: IntentTarget[] = [];
    for (const contractId of await reader.contractIdsOfInfo(intent.infoTable, intent.infoId)) {
      const partnerId = await reader.routePartnerOfContract(contractId);
      if (partnerId !== null) out.push({ partnerId, contractId });
    }
    return out;
  },
  async project(intent, ctx, scope) {
    if (scope === null) return;
    const { contract, subscription } = scope;
    const info = contract.ispInfo;
    if (info && info.table === intent.infoTable && info.id === intent.infoId) {
      const noPlaceholder = ctx.config.phonePlaceholderIsNoNumber === true;
      const current = odooPhone(info.phoneNumber, noPlaceholder);
      const stored = odooPhone(contract.phoneNumber, noPlaceholder);
      // the contract's stored number counts too (reconcile --fix takes it from there)
      if (current !== null && current !== intent.phone && stored !== intent.phone) {
        const note = `superseded: ${intent.infoTable} ${intent.infoId} holds number ${current} now, not ${intent.phone}; the later change applies it (an older change is never applied over a newer one)`;
        const plan = planSupersededPhoneNumber({
          phone: intent.phone,
          previousPhone: intent.previousPhone,
          current: [current, stored],
          subscription,
          note,
        });
        return plan.ops.length === 0 ? ctx.noop(note, { contract }) : ctx.exec({ plan, contract });
      }
    }
    await ctx.exec({
      plan: planUpdatePhoneNumber({
        contract,
        phone: intent.phone,
        previousPhone: intent.previousPhone,
        subscription,
      }),
      contract,
    });
  },
  odooRecord: (intent) => ({ model: intent.infoTable.replace(/_/g, '.'), id: intent.infoId }),
  syncTarget: (intent) => ({ entity: 'access', code: intent.phone }),
});
