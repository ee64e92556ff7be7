/**
 * apply_compensation — an operator compensates a contract (docs/behaviour.md W5, the compensation wizard): one
 * one-shot `CH_SC_OSO_COMPENSATION` for −amount (4 decimals) with the operator's description and operation date.
 *
 * - Trigger: none; the operator's `compensate` command produces it (src/app/cli.ts), keyed by the contract's
 *   customer, with an intent id derived from the caller's key (compensationIntentId).
 * - Plan: one applyOneShotChargeInstance (compensationRequest, payloads.ts) whose effect key is the caller's key
 *   (compensationEffectKey): the same key is one charge, however often it is submitted.
 * - Idempotency: OpenCell cannot deduplicate a charge (verify-before-retry): the executor writes the effect ahead and,
 *   after a try whose outcome was lost, looks for the charge among the subscription's one-shot instances (same
 *   code, amount and description: oneShotIdentity) before applying it again.
 * - Refused (dead letter with the reason): a terminated contract (as the wizard), a subscription OpenCell does not
 *   have.
 * - Ledger / sync event: contract.contract ↔ one_shot CH_SC_OSO_COMPENSATION.
 */
import * as t from 'io-ts';
import { createHash } from 'node:crypto';
import { ProjectionRejectedError } from '../errors';
import { COMPENSATION_CHARGE, compensationRequest } from '../projection/payloads';
import { IsoDateC, kindCodec } from './codecs';
import { contractTargets, intentKind } from './kind';

export type ApplyCompensationIntent = {
  kind: 'apply_compensation';
  contractId: number;
  /** The caller's idempotency key. */
  key: string;
  /** EUR without taxes, positive; sent negated, rounded to 4 decimals. */
  amount: number;
  description: string;
  /** YYYY-MM-DD */
  operationDate: string;
};

/** The ledger effect of a compensation: one per caller key. */
export function compensationEffectKey(key: string): string {
  return `compensation:${key}`;
}

/** The intent id of a compensation: one per caller key, so that a second submission is a replay of the first. */
export function compensationIntentId(key: string): string {
  return createHash('sha1').update(`apply_compensation|${key}`).digest('hex').slice(0, 32);
}

export const applyCompensation = intentKind<ApplyCompensationIntent>({
  kind: 'apply_compensation',
  codec: kindCodec('apply_compensation', {
    contractId: t.number,
    key: t.string,
    amount: t.number,
    description: t.string,
    operationDate: IsoDateC,
  }),
  scope: 'contract',
  needsSubscription: false,
  trigger: {
    tables: [],
    rule: "docs/behaviour.md W5: the operator's compensate command (no Odoo change produces it)",
    detect: () => [],
  },
  targets: (intent, reader) => contractTargets(intent.contractId, reader),
  async project(intent, ctx, scope) {
    if (scope === null) return;
    const { contract, subscription } = scope;
    const body = compensationRequest(contract, intent.amount, intent.description, intent.operationDate);
    if (subscription === null)
      throw new ProjectionRejectedError(
        `subscription ${contract.code} does not exist in OpenCell: no compensation can be applied`,
        { contractCode: contract.code },
      );
    await ctx.exec({
      plan: {
        strategy: 'compensation',
        ops: [
          {
            op: 'applyOneShotChargeInstance',
            key: compensationEffectKey(intent.key),
            body,
          },
        ],
      },
      contract,
    });
  },
  odooRecord: (intent) => ({ model: 'contract.contract', id: intent.contractId }),
  syncTarget: () => ({ entity: 'one_shot', code: COMPENSATION_CHARGE }),
});
