/**
 * Snapshot reads reconcile, they do not replay history (issue 15 §4, docs/operations.md "Snapshots").
 *
 * A snapshot — the connector's initial one (`snapshot.mode=initial` on a fresh connector) or an operator's
 * incremental `snapshot <table>` — emits every row as an `r` event; the triggers read it like a creation and flag
 * its intents `snapshot: true` (triggers.ts). The projector asks the intent's kind (`reconcileSnapshot`) before any
 * call, with the contract as Odoo holds it now and its subscription as OpenCell holds it:
 * - present in OpenCell → nothing (a snapshot never changes an object OpenCell already has; drift is `reconcile`'s);
 * - missing and active in Odoo → created (the kind's projection runs, with the create precondition);
 * - missing and terminated / ended in Odoo → skipped, with the reason in the ledger and the sync event;
 * - a one-shot → never applied, unless the operator set `SNAPSHOT_ONE_SHOTS_SINCE=<YYYY-MM-DD>` and the line starts
 *   on or after that day (then as a created one-shot, still guarded by the ledger's record of the charge).
 * A kind with no rule (the update kinds: no snapshot read produces them) is skipped.
 *
 * Pure: decisions only.
 */
import type { ContractView, IsoDate, LineView, OcSubscriptionState } from '../projection/views';

/** What a snapshot intent is decided on. */
export interface SnapshotFacts {
  /** The contract as Odoo holds it now. */
  contract: ContractView;
  /** Its subscription as OpenCell holds it (null: missing). */
  subscription: OcSubscriptionState | null;
  /** `SNAPSHOT_ONE_SHOTS_SINCE`: one-shot lines starting on or after this day are applied; null (default) = none. */
  oneShotsSince: IsoDate | null;
}

export type SnapshotDecision = { apply: true } | { apply: false; reason: string };

const APPLY: SnapshotDecision = { apply: true };
const skip = (reason: string): { apply: false; reason: string } => ({ apply: false, reason });

/** The setting that lets one-shots from snapshot reads through (config.ts, docs/operations.md). */
export const SNAPSHOT_ONE_SHOTS_SETTING = 'SNAPSHOT_ONE_SHOTS_SINCE';

function subscriptionPresent(f: SnapshotFacts): SnapshotDecision {
  const s = f.subscription as OcSubscriptionState;
  return skip(
    `snapshot: subscription ${s.code} is already in OpenCell${s.status ? ` (${s.status})` : ''}; nothing to do`,
  );
}

function terminatedMissing(f: SnapshotFacts): SnapshotDecision {
  return skip(
    `snapshot: contract ${f.contract.code} is terminated in Odoo and its subscription is not in OpenCell; ` +
      'skipped (not created from a snapshot)',
  );
}

/** A line-level intent's precondition: the subscription exists, or the contract is active (it will be created). */
function contractGate(f: SnapshotFacts): SnapshotDecision | null {
  if (f.subscription === null && f.contract.isTerminated) return terminatedMissing(f);
  return null;
}

function lineOf(f: SnapshotFacts, lineId: number): LineView | SnapshotDecision {
  const line = f.contract.lines.find((l) => l.id === lineId);
  return line ?? skip(`snapshot: contract line ${lineId} no longer exists in Odoo`);
}

const isDecision = (x: LineView | SnapshotDecision): x is SnapshotDecision => 'apply' in x;

/** Instances of the line's product OpenCell holds on the subscription (any status). */
function serviceInOpenCell(f: SnapshotFacts, line: LineView): boolean {
  if (f.subscription === null || line.productCode === null) return false;
  return f.subscription.services.some((s) => s.code === line.productCode);
}

/** create_subscription: present → nothing; missing and active → create; missing and terminated → skipped. */
export function snapshotCreateSubscription(f: SnapshotFacts): SnapshotDecision {
  if (f.subscription !== null) return subscriptionPresent(f);
  if (f.contract.isTerminated) return terminatedMissing(f);
  return APPLY;
}

/** terminate_subscription: present → nothing (drift is reconcile's); missing (the contract is terminated) → skipped. */
export function snapshotTerminateSubscription(f: SnapshotFacts): SnapshotDecision {
  if (f.subscription !== null) return subscriptionPresent(f);
  return terminatedMissing(f);
}

/**
 * activate_service: the product's instance present → nothing; a line that ended (date_end set, or canceled) and is
 * missing → skipped; missing and active → activated (after creating the subscription of an active contract).
 */
export function snapshotActivateService(lineId: number, f: SnapshotFacts): SnapshotDecision {
  const line = lineOf(f, lineId);
  if (isDecision(line)) return line;
  if (serviceInOpenCell(f, line)) {
    return skip(
      `snapshot: service ${line.productCode} of line ${line.id} is already in OpenCell; nothing to do`,
    );
  }
  if (line.dateEnd !== null || line.isCanceled) {
    return skip(
      `snapshot: line ${line.id} ended in Odoo (${line.isCanceled ? 'canceled' : `date_end ${line.dateEnd}`}) ` +
        'and its service is not in OpenCell; skipped (not activated from a snapshot)',
    );
  }
  return contractGate(f) ?? APPLY;
}

/**
 * terminate_service (a line with date_end): its instance present → nothing (a snapshot changes nothing OpenCell
 * holds); missing → skipped (ended and missing).
 */
export function snapshotTerminateService(lineId: number, f: SnapshotFacts): SnapshotDecision {
  const line = lineOf(f, lineId);
  if (isDecision(line)) return line;
  if (serviceInOpenCell(f, line)) {
    return skip(
      `snapshot: service ${line.productCode} of line ${line.id} is already in OpenCell; nothing to do`,
    );
  }
  return skip(
    `snapshot: line ${line.id} ended in Odoo (date_end ${line.dateEnd}) and its service is not in OpenCell; ` +
      'skipped (not created from a snapshot)',
  );
}

/**
 * apply_one_shot: a historical charge is never applied again from a snapshot; only with SNAPSHOT_ONE_SHOTS_SINCE set
 * and a line starting on or after that day (and then only for an active contract or an existing subscription).
 */
export function snapshotApplyOneShot(lineId: number, f: SnapshotFacts): SnapshotDecision {
  if (f.oneShotsSince === null) {
    return skip(
      `snapshot: one-shot of line ${lineId} not applied from a snapshot read (${SNAPSHOT_ONE_SHOTS_SETTING} is off)`,
    );
  }
  const line = lineOf(f, lineId);
  if (isDecision(line)) return line;
  if (line.dateStart === null || line.dateStart < f.oneShotsSince) {
    return skip(
      `snapshot: one-shot of line ${line.id} starts ${line.dateStart ?? 'with no date'}, before ` +
        `${SNAPSHOT_ONE_SHOTS_SETTING}=${f.oneShotsSince}; not applied`,
    );
  }
  if (line.isCanceled) return skip(`snapshot: one-shot line ${line.id} is canceled in Odoo; not applied`);
  return contractGate(f) ?? APPLY;
}

/** For a kind without a snapshot rule. */
export function snapshotNotApplied(kind: string): { apply: false; reason: string } {
  return skip(`snapshot: ${kind} is not applied from a snapshot read`);
}
