/**
 * apply_one_shot — a one-shot line is added to a contract (docs/behaviour.md §3.3, T3): one
 * applyOneShotChargeInstance with the product's code; a free one-shot (no code) sends nothing.
 *
 * - Trigger: a contract_line created (or snapshotted) whose product is a one-shot.
 * - Plan: planApplyOneShot (strategies.ts), after the create precondition.
 * - Idempotency: OpenCell cannot deduplicate a charge (verify-before-retry in the catalogue): the executor writes the
 *   effect ahead and, after a try whose outcome was lost, counts OpenCell's instances against the ledger's.
 * - Ledger / sync event: contract.line ↔ one_shot.
 */
import { planApplyOneShot } from '../projection/strategies';
import { snapshotFlag, kindCodec } from './codecs';
import { lineFields } from './activate-service';
import { contractTargets, intentKind } from './kind';
import { createdLineOfKind } from './trigger-rules';
import { snapshotApplyOneShot } from './snapshot';

export type ApplyOneShotIntent = {
  kind: 'apply_one_shot';
  contractId: number;
  lineId: number;
  productId: number;
  productCode: string | null;
  snapshot?: true;
};

export const applyOneShot = intentKind<ApplyOneShotIntent>({
  kind: 'apply_one_shot',
  codec: kindCodec('apply_one_shot', lineFields, snapshotFlag),
  scope: 'contract',
  needsSubscription: true,
  trigger: {
    tables: ['contract_line'],
    rule: 'docs/behaviour.md T3: a one-shot line is created',
    flagsSnapshot: true,
    detect(change, _fields, ctx) {
      const l = createdLineOfKind(change, ctx, 'one_shot');
      if (l === null) return [];
      const { contractId, lineId, productId, productCode } = l;
      return [{ kind: 'apply_one_shot', contractId, lineId, productId, productCode }];
    },
  },
  reconcileSnapshot: (intent, facts) => snapshotApplyOneShot(intent.lineId, facts),
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  async project(intent, ctx, scope) {
    if (scope === null) return;
    const { contract, subscription } = scope;
    const line = contract.lines.find((l) => l.id === intent.lineId);
    if (!line) return ctx.noop(`contract line ${intent.lineId} no longer exists in Odoo`);
    await ctx.exec({ plan: planApplyOneShot({ contract, line, subscription }), contract });
  },
  odooRecord: (intent) => ({ model: 'contract.line', id: intent.lineId }),
  syncTarget: (intent) => ({ entity: 'one_shot', code: intent.productCode }),
});
