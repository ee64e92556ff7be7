/**
 * terminate_service — a line with an end date is written (docs/behaviour.md §3.3, T5): terminateServices at the date
 * for every running instance of the line's product.
 *
 * - Trigger: as the original's `on_record_write`, any write of a contract_line that has a `date_end` after it —
 *   whichever captured column the write changed (filter.ts watches them all but the recomputed `active`), whatever the
 *   product's category (a one-shot has no service instance: the plan finds nothing to end); a service line read by a
 *   snapshot with one; a service line created with one only with the opt-in SYNC_TERMINATION_AT_CREATION (the
 *   original's listener reacted to writes only: docs/parity.md ADD-create). A later write of an ended line asks again; the plan never ends an instance twice.
 * - Plan: activations before terminations — the contract's current service lines not yet active are activated first
 *   (a tariff change is one activation, then one termination), then planTerminateService (strategies.ts); a line of
 *   the same product (a same-product replacement) is activated after the termination, and the termination keeps
 *   the instances the contract's other current lines hold (issue 15 §8 e).
 * - Timing: a future date_end is held until that day 00:00 UTC (T5's ETA; hold.ts, HOLD_TERMINATIONS).
 * - Idempotency: an instance already terminated is never terminated again (the plan skips it).
 * - Ledger / sync event: contract.line ↔ service_instance.
 */
import { ProjectionRejectedError, UnknownProductError } from '../errors';
import { expectedServiceState, planActivateService, planTerminateService } from '../projection/strategies';
import { toIsoDate, type IsoDate, type LineView } from '../projection/views';
import { IsoDateC, kindCodec, snapshotFlag } from './codecs';
import { activatedBefore, lineFields } from './activate-service';
import { contractTargets, intentKind } from './kind';
import { createdLineOfKind, isChangeOf, lineProduct } from './trigger-rules';
import { snapshotTerminateService } from './snapshot';
import { notBeforeForDay } from './hold';

export type TerminateServiceIntent = {
  kind: 'terminate_service';
  contractId: number;
  lineId: number;
  productId: number;
  productCode: string | null;
  date: IsoDate;
  snapshot?: true;
};

export const terminateService = intentKind<TerminateServiceIntent>({
  kind: 'terminate_service',
  codec: kindCodec('terminate_service', { ...lineFields, date: IsoDateC }, snapshotFlag),
  scope: 'contract',
  needsSubscription: true,
  trigger: {
    tables: ['contract_line'],
    rule: 'docs/behaviour.md T5: any write of a line that has date_end (cleared → nothing)',
    flagsSnapshot: true,
    detect(change, fields, ctx) {
      if (!isChangeOf(change, 'contract_line')) return [];
      if (change.op === 'c' || change.op === 'r') {
        if (change.op === 'c' && !ctx.syncTerminationAtCreation) return [];
        const l = createdLineOfKind(change, ctx, 'service');
        if (l === null || l.dateEnd === null) return [];
        const { contractId, lineId, productId, productCode, dateEnd } = l;
        return [{ kind: 'terminate_service', contractId, lineId, productId, productCode, date: dateEnd }];
      }
      const after = change.after;
      if (after === null || change.op === 'd') return [];
      const dateEnd = toIsoDate(after.date_end);
      // `fields`: the watched columns this write changed (every captured column of the line but `active`).
      if (fields.length === 0 || dateEnd === null) return [];
      const resolved = lineProduct(after, ctx);
      if (resolved === null) return [];
      const { product } = resolved;
      return [
        {
          kind: 'terminate_service',
          contractId: after.contract_id,
          lineId: after.id,
          productId: product.id,
          productCode: product.defaultCode,
          date: dateEnd,
        },
      ];
    },
  },
  reconcileSnapshot: (intent, facts) => snapshotTerminateService(intent.lineId, facts),
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  // T5's ETA: a future date_end reaches OpenCell that day at 00:00 (hold.ts); the line is read again then.
  notBefore: (intent, nowMs) => notBeforeForDay(intent.date, nowMs),
  async project(intent, ctx, scope) {
    if (scope === null) return;
    const { contract } = scope;
    let sub = scope.subscription;
    const line = contract.lines.find((l) => l.id === intent.lineId);
    if (!line) return ctx.noop(`contract line ${intent.lineId} no longer exists in Odoo`);
    // The date is the one the change event carried: a line whose date_end was changed or cleared since is left to
    // the later change (a dead letter replayed after newer changes must not terminate at an old date, issue 15 §6).
    if (line.dateEnd !== intent.date)
      return ctx.noop(
        `superseded: contract line ${line.id} has date_end ${line.dateEnd ?? '(none)'} now, not ${intent.date}; the later change applies it (an older change is never applied over a newer one)`,
        { contract },
      );
    const activate = async (other: LineView) => {
      if (other.id === line.id || expectedServiceState(other) !== 'active') return;
      if (await activatedBefore(other, sub, ctx, contract.lines)) return;
      try {
        await ctx.exec({
          plan: planActivateService({ contract, line: other, subscription: sub, lines: contract.lines }),
          contract,
        });
      } catch (e) {
        // That line's own intent carries its failure (dead letter); it must not block this termination.
        if (e instanceof UnknownProductError || e instanceof ProjectionRejectedError) return;
        throw e;
      }
      sub = await ctx.opencell.subscription(contract.code);
    };
    // Activations before terminations (a tariff change): current service lines not yet active go first — except a
    // line of the same product (a same-product replacement, issue 15 §8 e), which goes after: OpenCell keeps one
    // active instance per code.
    const sameProduct = (l: LineView) => l.productCode !== null && l.productCode === line.productCode;
    for (const other of contract.lines) if (!sameProduct(other)) await activate(other);
    await ctx.exec({
      plan: planTerminateService({
        contract,
        line,
        subscription: sub,
        date: intent.date,
        lines: contract.lines,
      }),
      contract,
    });
    if (contract.lines.some((l) => l.id !== line.id && sameProduct(l))) {
      sub = await ctx.opencell.subscription(contract.code);
      for (const other of contract.lines) if (sameProduct(other)) await activate(other);
    }
  },
  odooRecord: (intent) => ({ model: 'contract.line', id: intent.lineId }),
  syncTarget: (intent) => ({ entity: 'service_instance', code: intent.productCode }),
});
