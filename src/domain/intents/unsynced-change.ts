/**
 * unsynced_change — an Odoo change the original module sends nothing for, but after which OpenCell may no longer
 * agree with Odoo (issue 15 §8): a contract's partner changed, a contract deleted or archived while not terminated,
 * a service line deleted or canceled without an end date, a line's product changed in place. The original has no
 * listener for them (docs/behaviour.md "Not watched", T5): its jobs never ran, and OpenCell kept billing what Odoo
 * no longer has. This kind sends nothing either — it reads OpenCell and either records why nothing diverges, or
 * dead-letters the intent with what diverges and what a person must do, instead of a silent nothing.
 *
 * - Trigger: contract_contract `partner_id` changed, `active` set to false, or deleted (not terminated: T2 carries a
 *   termination); contract_line (a service product) deleted or `is_canceled` set without `date_end` (with one, T5
 *   terminates it, as the original), or `product_id` changed.
 * - Routing: the contract's pinned queue (a deleted contract: the partner its last image names), so it stays in
 *   order with the contract's other intents.
 * - Plan: none. OpenCell's state decides: no subscription, a terminated one, or no instance left running without a
 *   line → recorded as skipped with the reason; otherwise ProjectionRejectedError (dead letter) with the reason.
 * - Ledger / sync event: contract.contract ↔ subscription, or contract.line ↔ service_instance.
 */
import * as t from 'io-ts';
import { ProjectionRejectedError } from '../errors';
import { expectedServiceState, isLiveInstance } from '../projection/strategies';
import type { ContractView, OcSubscriptionState } from '../projection/views';
import { kindCodec, nullable } from './codecs';
import { contractTargets, intentKind, type ProjectionContext } from './kind';
import { isChangeOf, lineProduct } from './trigger-rules';

export const UNSYNCED_CHANGES = [
  'contract_partner_changed',
  'contract_deleted',
  'contract_archived',
  'line_deleted',
  'line_canceled',
  'line_product_changed',
] as const;
export type UnsyncedChange = (typeof UNSYNCED_CHANGES)[number];

export type UnsyncedChangeIntent = {
  kind: 'unsynced_change';
  change: UnsyncedChange;
  contractId: number;
  /** From the event (a deleted contract cannot be read back). */
  contractCode: string | null;
  lineId: number | null;
  /** The product OpenCell may still run: the line's (former) product. */
  productCode: string | null;
  /** line_product_changed: the product the line has now. */
  newProductCode: string | null;
  /** contract_partner_changed: the partners before and after; contract_deleted: the partner of its last image. */
  fromPartnerId: number | null;
  toPartnerId: number | null;
};

const CLOSED = ['RESILIATED', 'CANCELED', 'CLOSED'];
const isClosed = (sub: OcSubscriptionState): boolean =>
  (sub.status !== undefined && CLOSED.includes(sub.status)) || !!sub.terminationDate;

function intent(
  change: UnsyncedChange,
  contractId: number,
  over: Partial<Omit<UnsyncedChangeIntent, 'kind' | 'change' | 'contractId'>> = {},
): UnsyncedChangeIntent {
  return {
    kind: 'unsynced_change',
    change,
    contractId,
    contractCode: null,
    lineId: null,
    productCode: null,
    newProductCode: null,
    fromPartnerId: null,
    toPartnerId: null,
    ...over,
  };
}

const HOW_TO = {
  contract: 'terminate the contract in Odoo (T2) or the subscription in OpenCell by hand',
  line: 'set an end date on the line in Odoo (T5) instead, or terminate the service in OpenCell by hand',
};

/** Live instances of `code` on the subscription that no current line of the contract holds. */
function unheldInstances(
  contract: ContractView,
  sub: OcSubscriptionState,
  code: string,
  exceptLine: number | null,
): number {
  const running = sub.services.filter((s) => s.code === code && isLiveInstance(s)).length;
  const held = contract.lines.filter(
    (l) => l.id !== exceptLine && l.productCode === code && expectedServiceState(l) === 'active',
  ).length;
  return running - held;
}

async function project(i: UnsyncedChangeIntent, ctx: ProjectionContext): Promise<void> {
  const contract = await ctx.odoo.contract(i.contractId);
  const about = contract ? { contract } : {};
  const code = contract?.code ?? i.contractCode;
  if (!code)
    return ctx.noop(`contract ${i.contractId} has no code: it has no subscription in OpenCell`, about);
  const sub = await ctx.opencell.subscription(code);
  if (!sub) return ctx.noop(`subscription ${code} does not exist in OpenCell: nothing diverges`, about);
  if (isClosed(sub))
    return ctx.noop(`subscription ${code} is terminated in OpenCell: nothing diverges`, about);
  const details = { contractId: i.contractId, contractCode: code, change: i.change, lineId: i.lineId };

  if (i.change === 'contract_partner_changed') {
    if (!contract) return ctx.noop(`contract ${i.contractId} no longer exists in Odoo`);
    const ref = contract.partner.ref;
    const customer = ref ? await ctx.opencell.customer(ref) : null;
    if (customer?.customerAccounts.some((ca) => ca.code === sub.userAccount))
      return ctx.noop(
        `subscription ${code} is in an account of the current partner's customer ${ref}`,
        about,
      );
    const from = i.fromPartnerId === null ? null : await ctx.odoo.partner(i.fromPartnerId);
    throw new ProjectionRejectedError(
      `contract ${code} changed partner in Odoo (${from?.ref ?? `partner ${i.fromPartnerId ?? '?'}`} → ` +
        `${ref ?? `partner ${contract.partner.id}`}), but its subscription stays in customer account ` +
        `${sub.userAccount} in OpenCell, which is not ${ref ?? 'the new partner'}'s: the original module sends ` +
        `nothing for a partner change, and its invoices keep going to that account. Move the subscription in ` +
        `OpenCell by hand, or change the holder in Odoo by terminating the contract and creating a new one`,
      {
        ...details,
        userAccount: sub.userAccount,
        fromPartnerId: i.fromPartnerId,
        toPartnerId: i.toPartnerId,
      },
    );
  }

  if (i.change === 'contract_deleted' || i.change === 'contract_archived') {
    if (contract?.isTerminated)
      return ctx.noop(
        `contract ${code} is terminated in Odoo: its termination (T2) ends the subscription`,
        about,
      );
    const what = i.change === 'contract_deleted' ? 'deleted' : 'archived';
    throw new ProjectionRejectedError(
      `contract ${code} was ${what} in Odoo while its subscription is ${sub.status ?? 'running'} in OpenCell: ` +
        `the original module sends nothing for a deletion or an archive, and OpenCell keeps billing it; ` +
        `${HOW_TO.contract}`,
      { ...details, status: sub.status },
    );
  }

  // line_deleted, line_canceled, line_product_changed
  if (!contract) return ctx.noop(`contract ${i.contractId} no longer exists in Odoo`);
  const left = i.productCode ? unheldInstances(contract, sub, i.productCode, i.lineId) : 0;
  let missing: string | null = null;
  if (i.change === 'line_product_changed' && i.newProductCode) {
    const line = contract.lines.find((l) => l.id === i.lineId);
    if (
      line &&
      expectedServiceState(line) === 'active' &&
      unheldInstances(contract, sub, i.newProductCode, null) < 0
    )
      missing = i.newProductCode;
  }
  if (left <= 0 && missing === null)
    return ctx.noop(
      `line ${i.lineId}: OpenCell runs no instance of ${i.productCode ?? '(no code)'} without a line; nothing diverges`,
      about,
    );
  const what =
    i.change === 'line_deleted'
      ? `was deleted in Odoo`
      : i.change === 'line_canceled'
        ? `was canceled in Odoo without an end date`
        : `changed product in Odoo (${i.productCode ?? '(none)'} → ${i.newProductCode ?? '(none)'})`;
  const diverges = [
    ...(left > 0 ? [`OpenCell still runs ${i.productCode} on ${code}`] : []),
    ...(missing ? [`${missing} is not active on ${code}`] : []),
  ].join(' and ');
  throw new ProjectionRejectedError(
    `contract line ${i.lineId} of ${code} ${what}: the original module sends nothing for it ` +
      `(${i.change === 'line_product_changed' ? 'a tariff change is a new line and an end date on the old one' : 'no listener'}), ` +
      `so ${diverges}; ${HOW_TO.line}`,
    { ...details, productCode: i.productCode, newProductCode: i.newProductCode },
  );
}

export const unsyncedChange = intentKind<UnsyncedChangeIntent>({
  kind: 'unsynced_change',
  codec: kindCodec('unsynced_change', {
    change: t.keyof(
      Object.fromEntries(UNSYNCED_CHANGES.map((c) => [c, null])) as Record<UnsyncedChange, null>,
    ),
    contractId: t.number,
    contractCode: nullable(t.string),
    lineId: nullable(t.number),
    productCode: nullable(t.string),
    newProductCode: nullable(t.string),
    fromPartnerId: nullable(t.number),
    toPartnerId: nullable(t.number),
  }),
  scope: 'own',
  trigger: {
    tables: ['contract_contract', 'contract_line'],
    rule:
      'docs/behaviour.md "Not watched" and §2.2 (issue 15 §8): contract partner changed, contract deleted or ' +
      'archived, service line deleted, canceled or its product changed — reported, never sent',
    detect(change, fields, ctx) {
      if (isChangeOf(change, 'contract_contract')) {
        const { before, after } = change;
        if (change.op === 'd') {
          if (before === null || before.is_terminated) return [];
          return [
            intent('contract_deleted', before.id, {
              contractCode: before.code,
              fromPartnerId: before.partner_id,
            }),
          ];
        }
        if (change.op !== 'u' || after === null) return [];
        const out: UnsyncedChangeIntent[] = [];
        if (fields.includes('partner_id') && before !== null && before.partner_id !== after.partner_id)
          out.push(
            intent('contract_partner_changed', after.id, {
              contractCode: after.code,
              fromPartnerId: before.partner_id,
              toPartnerId: after.partner_id,
            }),
          );
        if (fields.includes('active') && !after.active && before?.active !== false && !after.is_terminated)
          out.push(intent('contract_archived', after.id, { contractCode: after.code }));
        return out;
      }
      if (!isChangeOf(change, 'contract_line')) return [];
      const { before, after } = change;
      const service = (row: typeof before) => {
        if (row === null) return null;
        const p = lineProduct(row, ctx);
        return p && p.kind === 'service' ? p.product : null;
      };
      if (change.op === 'd') {
        // An ended line's service was terminated (T5); a canceled one was reported when it was canceled.
        if (before === null || before.date_end !== null || before.is_canceled) return [];
        const p = service(before);
        if (p === null) return [];
        return [
          intent('line_deleted', before.contract_id, { lineId: before.id, productCode: p.defaultCode }),
        ];
      }
      if (change.op !== 'u' || after === null || before === null) return [];
      const out: UnsyncedChangeIntent[] = [];
      if (fields.includes('product_id') && before.product_id !== after.product_id) {
        const old = service(before);
        const now = service(after);
        if (old !== null || now !== null)
          out.push(
            intent('line_product_changed', after.contract_id, {
              lineId: after.id,
              productCode: old?.defaultCode ?? null,
              newProductCode: now?.defaultCode ?? null,
            }),
          );
      } else if (
        fields.includes('is_canceled') &&
        after.is_canceled &&
        !before.is_canceled &&
        after.date_end === null
      ) {
        const p = service(after);
        if (p !== null)
          out.push(
            intent('line_canceled', after.contract_id, { lineId: after.id, productCode: p.defaultCode }),
          );
      }
      return out;
    },
  },
  targets: (i, reader) => contractTargets(i.contractId, reader, i.fromPartnerId),
  project: (i, ctx) => project(i, ctx),
  odooRecord: (i) =>
    i.lineId === null
      ? { model: 'contract.contract', id: i.contractId }
      : { model: 'contract.line', id: i.lineId },
  syncTarget: (i, last) =>
    i.lineId === null
      ? { entity: 'subscription', code: last?.contract?.code ?? i.contractCode }
      : { entity: 'service_instance', code: i.productCode },
});
