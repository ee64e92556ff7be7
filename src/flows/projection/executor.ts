/**
 * Executes a plan's operations through the production OpenCell client, in order. An operation whose effect key is
 * already in the ledger is skipped when OpenCell could not tell it was done (see ONCE_PER_KEY); a create that
 * OpenCell answers with ENTITY_ALREADY_EXISTS counts as present (the object is there: skip instead of failing).
 * Every operation that is not idempotent (creates, activations, one-shots: the catalogue's classes) is written ahead
 * ('pending' row before the call), and its effect recorded as soon as its call succeeded: a try cut short while the
 * call is in flight, or after OpenCell applied it and before the ledger recorded it (killed, paused, answer lost or
 * timed out), leaves the record by which the next try first reads the effect back with the operation's `verify`
 * (one mechanism for every operation, issue 15 §3) and resumes the plan (planCreateSubscription). With fencing, every
 * call and every ledger write happens only while this instance owns the aggregate's partition (issue 15 §2).
 */
import { FenceLeaseExpiredError, OpenCellBusinessError, ProjectionRejectedError } from '../../domain/errors';
import {
  OPENCELL_OPERATIONS,
  type OpenCellOperationSpec,
  type VerifyReader,
} from '../../domain/opencell/operations';
import type { OpenCellClient } from '../../adapters/opencell/client';
import {
  CATALOGUE_OPERATION,
  idempotencyOf,
  type OcOperation,
  type OcOperationName,
} from '../../domain/projection/plan';
import { chargeCodeOf, codeOfOp, type LedgerPort as Ledger } from '../../adapters/postgres/ledger';
import { awaitTakeoverGrace, type FenceToken } from '../../adapters/postgres/fence';
import { underLeases } from '../../core/call-lease';
import { componentLogger, redactString } from '../../core/log';

const log = componentLogger('projector');

export interface ExecutionReport {
  calls: string[];
  skipped: string[];
  alreadyPresent: string[];
}

const CREATES = new Set([
  'createCustomer',
  'crmAccountHierarchyCreate',
  'createSubscription',
  'createAccess',
]);

/**
 * Effects applied once per effect key: a key the ledger holds as done is skipped (a resume after a crash, a replay).
 * OpenCell cannot tell their repetition from a new effect: a second one-shot charge is a second charge; a second
 * activation of a product is a second service instance (or refused). Every other operation is planned from
 * OpenCell's current state, which is the authority: a create is planned only when OpenCell lacks the object.
 */
const ONCE_PER_KEY = new Set<OcOperationName>(['activateServices', 'applyOneShotChargeInstance']);

/**
 * Written ahead ('pending' row before the call, its outcome right after): every operation that is not idempotent
 * (the catalogue's class, src/domain/opencell/operations.ts). A retry that finds the row still pending — an earlier
 * try may have reached OpenCell (answer lost, timeout, process killed or paused) — verifies before calling again.
 */
const WRITTEN_AHEAD = new Set(
  (Object.keys(CATALOGUE_OPERATION) as OcOperationName[]).filter((op) => idempotencyOf(op) !== 'idempotent'),
);

export async function callOpenCell(client: OpenCellClient, op: OcOperation): Promise<void> {
  switch (op.op) {
    case 'createCustomer':
      await client.createCustomer(op.body);
      return;
    case 'updateCustomer':
      await client.updateCustomer(op.body);
      return;
    case 'crmAccountHierarchyCreate':
      await client.createCrmAccountHierarchy(op.body);
      return;
    case 'crmAccountHierarchyCreateOrUpdate':
      await client.createOrUpdateCrmAccountHierarchy(op.body);
      return;
    case 'createSubscription':
      await client.createSubscription(op.body);
      return;
    case 'updateSubscription':
      await client.updateSubscription(op.body);
      return;
    case 'createAccess':
      await client.createAccess(op.body);
      return;
    case 'deleteAccess':
      await client.deleteAccess(op.body.code, op.body.subscription as string);
      return;
    case 'activateServices':
      await client.activateServices(op.body);
      return;
    case 'applyOneShotChargeInstance':
      await client.applyOneShotChargeInstance(op.body);
      return;
    case 'terminateServices':
      await client.terminateServices(op.body);
      return;
    case 'terminateSubscription':
      await client.terminateSubscription(op.body);
      return;
  }
}

/**
 * After a try that may have reached OpenCell (its 'pending' row is there): reads the effect back with the catalogue
 * entry's `verify` (issue 15 §3). `presence`: found means applied. `instances` (one-shots): OpenCell holds more
 * instances of this charge on the subscription than the ledger accounts for (other lines with the same charge; for a
 * charge sent with its own amount, those with the same amount and description: oneShotIdentity), so this try's
 * charge was applied and its answer or its ledger write was lost. An operation without a verification
 * (class unsafe) is not repeated: an operator decides.
 */
export async function lostTryApplied(
  deps: { client: VerifyReader; ledger: Pick<Ledger, 'accountedOneShots'> },
  op: OcOperation,
): Promise<boolean> {
  const spec: OpenCellOperationSpec = OPENCELL_OPERATIONS[CATALOGUE_OPERATION[op.op]];
  if (!spec.verify) {
    throw new ProjectionRejectedError(
      `${op.op} (${op.key}): an earlier try may have reached OpenCell and this call cannot be verified nor repeated safely; check OpenCell and replay`,
      { op: op.op, key: op.key, idempotency: spec.idempotency },
    );
  }
  const found = await spec.verify.read(op.body, deps.client);
  if (spec.verify.counts === 'presence') return found > 0;
  const accounted = await deps.ledger.accountedOneShots(codeOfOp(op) ?? '', chargeCodeOf(op) ?? '', op.key);
  return found > accounted;
}

/** Lease refusals in a row after which the call gives up (retriable: the intent is tried again later). */
const LEASE_TRIES = 5;

/**
 * One state-changing call, sent only while the fence check before it is within its lease (src/core/call-lease.ts). A
 * call refused for an expired lease was not sent: the fence is checked again (FencedError if the partition moved) and
 * the call sent then.
 */
export async function callUnderLease<T>(
  fence: FenceToken | undefined,
  call: () => Promise<T>,
  recheck: () => Promise<void>,
): Promise<T> {
  const lease = fence?.lease;
  if (!lease) return call();
  for (let refused = 0; ;) {
    try {
      return await underLeases([lease], call);
    } catch (e) {
      if (!(e instanceof FenceLeaseExpiredError) || ++refused >= LEASE_TRIES) throw e;
      log.warn(redactString(e.message), { ...e.details });
      await recheck();
    }
  }
}

export async function executePlan(
  ops: readonly OcOperation[],
  deps: {
    client: OpenCellClient;
    ledger: Ledger;
    intentId: string;
    trustOpenCellOnly?: boolean;
    /** The partition's fencing epoch (issue 15 §2): checked before every call and in every ledger write. */
    fence?: FenceToken;
  },
): Promise<ExecutionReport> {
  const { fence } = deps;
  await awaitTakeoverGrace(fence);
  const report: ExecutionReport = { calls: [], skipped: [], alreadyPresent: [] };
  const guarded = deps.trustOpenCellOnly ? [] : ops.filter((o) => ONCE_PER_KEY.has(o.op)).map((o) => o.key);
  const done = await deps.ledger.appliedEffects(guarded);
  for (const op of ops) {
    if (done.has(op.key)) {
      report.skipped.push(op.op);
      continue;
    }
    if (WRITTEN_AHEAD.has(op.op)) {
      // the write-ahead checks the fence in its transaction, right before the call
      const state = await deps.ledger.beginEffect(deps.intentId, op, fence);
      if (state === 'done' && ONCE_PER_KEY.has(op.op) && !deps.trustOpenCellOnly) {
        report.skipped.push(op.op);
        continue;
      }
      if (state === 'tried' && (await lostTryApplied(deps, op))) {
        report.alreadyPresent.push(op.op);
        await deps.ledger.recordEffect(deps.intentId, op, 'already_present', fence);
        continue;
      }
    } else await deps.ledger.checkFence(fence);
    try {
      await callUnderLease(
        fence,
        () => callOpenCell(deps.client, op),
        () => deps.ledger.checkFence(fence),
      );
      report.calls.push(op.op);
      if (WRITTEN_AHEAD.has(op.op)) await deps.ledger.recordEffect(deps.intentId, op, 'applied', fence);
    } catch (e) {
      if (
        CREATES.has(op.op) &&
        e instanceof OpenCellBusinessError &&
        e.errorCode === 'ENTITY_ALREADY_EXISTS_EXCEPTION'
      ) {
        report.alreadyPresent.push(op.op);
        await deps.ledger.recordEffect(deps.intentId, op, 'already_present', fence);
        continue;
      }
      throw e;
    }
  }
  return report;
}
