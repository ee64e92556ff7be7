/**
 * activate_service — a service line is added to a contract (docs/behaviour.md §3.3, T4): activateServices with the
 * line's single service.
 *
 * - Trigger: a contract_line created (or snapshotted) whose product is a service.
 * - Plan: planActivateService (strategies.ts), after the create precondition.
 * - Idempotency: `activatedBefore` — the ledger has the line's activation, or OpenCell already runs its product
 *   (activating again would be a second service instance: the call is verify-before-retry in the catalogue).
 * - Ledger / sync event: contract.line ↔ service_instance.
 */
import * as t from 'io-ts';
import { expectedServiceState, isLiveInstance, planActivateService } from '../projection/strategies';
import type { LineView, OcSubscriptionState } from '../projection/views';
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
 * A line counts as activated when the ledger has its activation, or — for lines that already ended (a `date_end`,
 * expectedServiceState 'terminated') — when OpenCell has any instance of its product, terminated ones included
 * (activating again would duplicate it).
 */
export async function activatedBefore(
  line: LineView,
  sub: OcSubscriptionState | null,
  ctx: ProjectionContext,
): Promise<boolean> {
  if (!ctx.repair && (await ctx.hasEffect(`line:${line.id}:activate`))) return true;
  if (!sub || !line.productCode) return false;
  const instances = sub.services.filter((s) => s.code === line.productCode);
  // An ended line (expectedServiceState 'terminated': T5 ended its instances) is never activated again.
  if (expectedServiceState(line) === 'terminated') return instances.length > 0;
  return instances.some(isLiveInstance);
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
    if (await activatedBefore(line, subscription, ctx)) {
      return ctx.noop(`line ${line.id} was activated before`, { contract });
    }
    await ctx.exec({ plan: planActivateService({ contract, line, subscription }), contract });
  },
  odooRecord: (intent) => ({ model: 'contract.line', id: intent.lineId }),
  syncTarget: (intent) => ({ entity: 'service_instance', code: intent.productCode }),
});
