/**
 * activate_service — a service line is added to a contract (docs/behaviour.md §3.3, T4): activateServices with the
 * line's single service.
 *
 * - Trigger: a contract_line created (or snapshotted) whose product is a service.
 * - Plan: planActivateService (strategies.ts), after the create precondition.
 * - Idempotency: `activatedBefore` — the ledger has the line's activation, or OpenCell already runs the line's own
 *   instance (activating again would be a second service instance: the call is verify-before-retry in the catalogue).
 * - Same-product replacement (a line ended, a new line with its product): the ended line's instance is terminated
 *   first (`endReplacedLines`), then the new line is activated (issue 15 §8 e).
 * - Ledger / sync event: contract.line ↔ service_instance.
 */
import * as t from 'io-ts';
import {
  expectedServiceState,
  lineHasInstance,
  planActivateService,
  planTerminateService,
} from '../projection/strategies';
import type { ContractView, LineView, OcSubscriptionState } from '../projection/views';
import { kindCodec, nullable, snapshotFlag } from './codecs';
import { contractTargets, intentKind, type ProjectionContext } from './kind';
import { createdLineOfKind } from './trigger-rules';
import { snapshotActivateService } from './snapshot';

export type ActivateServiceIntent = {
  kind: 'activate_service';
  contractId: number;
  lineId: number;
  productId: number;
  productCode: string | null;
  snapshot?: true;
};

/** The fields of the line intents (activate, one-shot, terminate). */
export const lineFields = {
  contractId: t.number,
  lineId: t.number,
  productId: t.number,
  productCode: nullable(t.string),
};

/**
 * A line counts as activated when the ledger has its activation, or when OpenCell has its own instance among the
 * contract's `lines` (lineHasInstance): for lines that already ended (a `date_end`, expectedServiceState
 * 'terminated') any instance left for it, terminated ones included (activating again would duplicate it); for the
 * others a running one — not an older line's instance of the same product (a same-product replacement, issue 15 §8
 * e: the new line was lost when the old line's instance counted as its own).
 */
export async function activatedBefore(
  line: LineView,
  sub: OcSubscriptionState | null,
  ctx: ProjectionContext,
  lines: readonly LineView[],
): Promise<boolean> {
  if (!ctx.repair && (await ctx.hasEffect(`line:${line.id}:activate`))) return true;
  if (!sub || !line.productCode) return false;
  return lineHasInstance(lines, line, sub);
}

/**
 * A same-product replacement (issue 15 §8 e): the contract's ended lines of `line`'s product whose instance still
 * runs are terminated first, at their `date_end` (their own T5, which may not have been projected yet), since
 * OpenCell keeps one active instance per code and a later termination by code would end the new line's instance.
 * Returns the subscription as OpenCell holds it afterwards.
 */
export async function endReplacedLines(
  contract: ContractView,
  line: LineView,
  sub: OcSubscriptionState,
  ctx: ProjectionContext,
): Promise<OcSubscriptionState> {
  let current = sub;
  for (const old of contract.lines) {
    if (old.id === line.id || old.productCode !== line.productCode) continue;
    if (expectedServiceState(old) !== 'terminated' || old.dateEnd === null) continue;
    const plan = planTerminateService({
      contract,
      line: old,
      subscription: current,
      date: old.dateEnd,
      lines: contract.lines.filter((l) => l.id !== line.id),
    });
    if (plan.ops.length === 0) continue;
    await ctx.exec({ plan, contract });
    current = (await ctx.opencell.subscription(contract.code)) ?? current;
  }
  return current;
}

export const activateService = intentKind<ActivateServiceIntent>({
  kind: 'activate_service',
  codec: kindCodec('activate_service', lineFields, snapshotFlag),
  scope: 'contract',
  needsSubscription: true,
  trigger: {
    tables: ['contract_line'],
    rule: 'docs/behaviour.md T4: a service line is created',
    flagsSnapshot: true,
    detect(change, _fields, ctx) {
      const l = createdLineOfKind(change, ctx, 'service');
      if (l === null) return [];
      const { contractId, lineId, productId, productCode } = l;
      return [{ kind: 'activate_service', contractId, lineId, productId, productCode }];
    },
  },
  reconcileSnapshot: (intent, facts) => snapshotActivateService(intent.lineId, facts),
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  async project(intent, ctx, scope) {
    if (scope === null) return;
    const { contract, subscription } = scope;
    const line = contract.lines.find((l) => l.id === intent.lineId);
    if (!line) return ctx.noop(`contract line ${intent.lineId} no longer exists in Odoo`);
    if (await activatedBefore(line, subscription, ctx, contract.lines)) {
      return ctx.noop(`line ${line.id} was activated before`, { contract });
    }
    const sub =
      subscription && expectedServiceState(line) === 'active'
        ? await endReplacedLines(contract, line, subscription, ctx)
        : subscription;
    await ctx.exec({
      plan: planActivateService({ contract, line, subscription: sub, lines: contract.lines }),
      contract,
    });
  },
  odooRecord: (intent) => ({ model: 'contract.line', id: intent.lineId }),
  syncTarget: (intent) => ({ entity: 'service_instance', code: intent.productCode }),
});
