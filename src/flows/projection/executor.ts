/**
 * Executes a plan's operations through the production OpenCell client, in order. An operation whose effect key is
 * already in the ledger is skipped when OpenCell could not tell it was done (see LEDGER_GUARDED); a create that
 * OpenCell answers with ENTITY_ALREADY_EXISTS counts as present (the object is there: skip instead of failing).
 * Every create and one-shot is written ahead ('pending' row before the call), and its effect recorded as soon as its
 * call succeeded: a process killed while the call is in flight, or after OpenCell answered and before the ledger
 * recorded it, leaves the record that lets the next try resume the plan (planCreateSubscription).
 */
import { OpenCellBusinessError } from '../../domain/errors';
import type { OpenCellClient } from '../../adapters/opencell/client';
import {
  CATALOGUE_OPERATION,
  idempotencyOf,
  isInstanceOf,
  oneShotIdentity,
  type OcOperation,
  type OcOperationName,
} from '../../domain/projection/plan';
import type { LedgerPort as Ledger } from '../../adapters/postgres/ledger';

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
 * Operations of idempotency class verify-before-retry (the OpenCell operation catalogue): their repetition OpenCell
 * cannot detect from its state: a second one-shot charge is a second charge;
 * a second activation of a product is a second service instance. These are skipped when the ledger says they were
 * done (a resume after a crash, a replay). One-shots are also written ahead ('pending' before the call): a retry
 * after a try whose outcome is unknown (killed after the call, answer lost) checks OpenCell's instances first.
 * Every other operation was planned from OpenCell's current state, which is the authority: a create is planned
 * only when OpenCell lacks the object.
 */
const LEDGER_GUARDED = new Set(
  (Object.keys(CATALOGUE_OPERATION) as OcOperationName[]).filter(
    (op) => idempotencyOf(op) === 'verify-before-retry',
  ),
);

/**
 * Effects worth a ledger row: the guarded operations (their row is their guard) and the creates (the projector
 * resumes an interrupted create chain from them). Updates and terminations are planned from OpenCell's state, and a
 * row for them would cost a commit per call for nothing.
 */
const RECORDED = new Set([...LEDGER_GUARDED, ...CREATES]);

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
 * After a try that may have reached OpenCell (its 'pending' row is there): OpenCell holds more instances of this
 * charge on the subscription than the ledger accounts for (other lines with the same charge; for a charge sent with
 * its own amount, those with the same amount and description: oneShotIdentity), so this line's charge was applied
 * and its answer or its ledger write was lost.
 */
async function oneShotAlreadyApplied(
  deps: { client: OpenCellClient; ledger: Ledger },
  op: OcOperation,
): Promise<boolean> {
  if (op.op !== 'applyOneShotChargeInstance') return false;
  const body = op.body;
  const inOpenCell = (await deps.client.listOneShotChargeInstances(body.subscription)).filter((i) =>
    isInstanceOf(body, i),
  ).length;
  const accounted = await deps.ledger.accountedOneShots(body.subscription, oneShotIdentity(body), op.key);
  return inOpenCell > accounted;
}

export async function executePlan(
  ops: readonly OcOperation[],
  deps: { client: OpenCellClient; ledger: Ledger; intentId: string; trustOpenCellOnly?: boolean },
): Promise<ExecutionReport> {
  const report: ExecutionReport = { calls: [], skipped: [], alreadyPresent: [] };
  const guarded = deps.trustOpenCellOnly ? [] : ops.filter((o) => LEDGER_GUARDED.has(o.op)).map((o) => o.key);
  const done = await deps.ledger.appliedEffects(guarded);
  for (const op of ops) {
    if (done.has(op.key)) {
      report.skipped.push(op.op);
      continue;
    }
    if (op.op === 'applyOneShotChargeInstance' && !deps.trustOpenCellOnly) {
      const state = await deps.ledger.beginEffect(deps.intentId, op);
      if (state === 'done') {
        report.skipped.push(op.op);
        continue;
      }
      if (state === 'tried' && (await oneShotAlreadyApplied(deps, op))) {
        report.alreadyPresent.push(op.op);
        await deps.ledger.recordEffect(deps.intentId, op, 'already_present');
        continue;
      }
    }
    // Write-ahead of a create: the row says "this pipeline started to create this object" (its outcome is not needed:
    // creates are planned from OpenCell's state, and a repeat is answered ENTITY_ALREADY_EXISTS).
    if (CREATES.has(op.op)) await deps.ledger.beginEffect(deps.intentId, op);
    try {
      await callOpenCell(deps.client, op);
      report.calls.push(op.op);
      if (RECORDED.has(op.op)) await deps.ledger.recordEffect(deps.intentId, op, 'applied');
    } catch (e) {
      if (
        CREATES.has(op.op) &&
        e instanceof OpenCellBusinessError &&
        e.errorCode === 'ENTITY_ALREADY_EXISTS_EXCEPTION'
      ) {
        report.alreadyPresent.push(op.op);
        await deps.ledger.recordEffect(deps.intentId, op, 'already_present');
        continue;
      }
      throw e;
    }
  }
  return report;
}
