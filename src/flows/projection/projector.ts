/**
 * The projector: one intent message → the OpenCell calls that make OpenCell agree with Odoo, applied once.
 *
 * Every intent of one customer arrives on one partition of the intents topic, in order, and is handled one at a
 * time (per-key queue), so customer-account numbering cannot race. Causal order per contract does not depend on the
 * order in which Debezium's topics were read; it is enforced here as preconditions, checked against OpenCell and
 * the ledger before planning:
 * - anything about a contract whose subscription does not exist yet first runs the contract's create plan
 *   (customer → account → subscription → access), resumed from OpenCell's state and the ledger's write-ahead
 *   records when an earlier try was cut short;
 * - a service termination first activates the contract's current service lines not yet active
 *   (activations before terminations: a tariff change is one activation then one termination);
 * - a subscription termination terminates the contract's ended service lines first (in its plan).
 * An operator's forced creation (docs/behaviour.md W4, `force`) also brings the contract's current lines (services,
 * one-shots), whose own intents were dead-lettered while the partner was blocked.
 *
 * What is specific to each intent kind (its reads, plans and replay checks, its ledger record and sync-event target)
 * lives in its module of src/domain/intents/; this runs any kind of the registry it is given.
 *
 * Replays are harmless: a finished intent is skipped, an operation whose effect is in the ledger is skipped, and
 * every strategy skips what OpenCell already holds.
 */
import { Either, isLeft } from 'fp-ts/Either';
import { ProjectionRejectedError, UnknownProductError } from '../../domain/errors';
import type { OpenCellClient } from '../../adapters/opencell/client';
import { componentLogger, type Logger } from '../../core/log';
import type { CatalogCheckOptions } from '../../adapters/opencell/catalog-cache';
import type { ProjectionConfig } from '../../domain/projection/payloads';
import type { OcOperation } from '../../domain/projection/plan';
import { createFirst } from '../../domain/intents/create-subscription';
import type {
  ContractScope,
  IntentBase,
  OdooReader,
  OpenCellReader,
  ProjectionContext,
  Step,
} from '../../domain/intents/kind';
import { INTENTS, type IntentLookup } from '../../domain/intents/registry';
import { snapshotNotApplied } from '../../domain/intents/snapshot';
import { executePlan } from './executor';
import type { IntentMessage } from '../../domain/intents/message';
import type { EntityChange, IntentResult, LedgerPort } from '../../adapters/postgres/ledger';
import { awaitTakeoverGrace, type FenceToken } from '../../adapters/postgres/fence';
import type { HeldIntentsPort } from '../../adapters/postgres/held-intents';

export type { OdooReader, OpenCellReader } from '../../domain/intents/kind';

export interface CatalogCheck {
  /** Every product of the plan must be a code OpenCell's catalog knows (refreshed once on a miss). */
  check(
    ops: readonly OcOperation[],
    opts?: CatalogCheckOptions,
  ): Promise<Either<UnknownProductError, readonly OcOperation[]>>;
}

export interface ProjectorDeps {
  odoo: OdooReader;
  opencell: OpenCellReader;
  client: OpenCellClient;
  ledger: LedgerPort;
  catalog: CatalogCheck;
  config: ProjectionConfig;
  /** The intent kinds it projects (default: the catalogue, src/domain/intents/registry.ts). */
  intents?: IntentLookup;
  /** Default: componentLogger('projector'). */
  log?: Logger;
  /**
   * `SNAPSHOT_ONE_SHOTS_SINCE` (Config.snapshotOneShotsSince): one-shot lines of snapshot reads starting on or after
   * this day are applied; null / absent (the default) = never (src/domain/intents/snapshot.ts).
   */
  snapshotOneShotsSince?: string | null;
  /**
   * `HOLD_TERMINATIONS` (Config.heldIntents.enabled): where an intent whose kind says it is not due yet (its
   * `notBefore`, src/domain/intents/hold.ts) is kept until the scheduler releases it; absent = everything at once.
   */
  held?: { port: HeldIntentsPort; now?: () => number };
}

interface StepRun {
  step: Step;
  executed: OcOperation[];
  calls: string[];
  alreadyPresent: string[];
}

/** An intent message of any kind of the projector's registry. */
type AnyIntentMessage = Omit<IntentMessage, 'intent'> & { intent: IntentBase };

export class Projector {
  private readonly intents: IntentLookup;
  private readonly log: Logger;

  constructor(private readonly deps: ProjectorDeps) {
    this.intents = deps.intents ?? INTENTS;
    this.log = deps.log ?? componentLogger('projector');
  }

  /**
   * Which of these intents are finished in the ledger (applied or skipped): the replay check of `handle`, asked for a
   * fetched batch at once (the checks share statements; a FencedError when `fence` is no longer the partition's).
   */
  async finished(intentIds: readonly string[], fence?: FenceToken): Promise<boolean[]> {
    if (fence === undefined) {
      // unfenced (the router's replay check): one statement, no request per intent
      const finished = await this.deps.ledger.finishedAmong(intentIds);
      return intentIds.map((id) => finished.has(id));
    }
    return Promise.all(intentIds.map((id) => this.deps.ledger.isFinished(id, fence)));
  }

  /**
   * Handles one intent. Resolves when it is applied or skipped (and recorded, with its sync event); throws a
   * SyncError otherwise (retriable ones are retried by the consumer, the others dead-lettered).
   */
  async handle(
    msg: AnyIntentMessage,
    attempt: number,
    opts: { replayed?: boolean; fence?: FenceToken } = {},
  ): Promise<IntentResult | null> {
    const { ledger } = this.deps;
    // a partition taken from another owner: what that owner may still send has landed before anything is read here
    await awaitTakeoverGrace(opts.fence);
    // a zombie (its partition taken while it was paused) stops here, before reading or applying anything (the fence
    // is checked in the same round trip as the replay check)
    if (await ledger.isFinished(msg.intentId, opts.fence)) return null; // replay of a finished intent
    const spec = this.intents.lookup(msg.intent.kind);
    // Not due yet (the original's queue_job ETA): kept in the state database, put back on this key's queue by the
    // scheduler when due (heldUntil set), and then read from Odoo afresh, as the original's job read the contract.
    const held = this.deps.held;
    if (held && msg.heldUntil === undefined && spec.notBefore) {
      const notBefore = spec.notBefore(msg.intent, (held.now ?? Date.now)());
      if (notBefore !== null) {
        await held.port.hold(msg, notBefore, opts.fence);
        this.log.info(`${msg.intent.kind} held until ${new Date(notBefore).toISOString()}`, {
          intentId: msg.intentId,
          aggregate: msg.aggregateKey,
          lsn: msg.source.lsn,
        });
        return null;
      }
    }
    const steps = await this.run(msg, opts.replayed === true, opts.fence);
    const calls = steps.flatMap((s) => s.calls);
    const alreadyPresent = steps.some((s) => s.alreadyPresent.length > 0);
    const last = steps[steps.length - 1];
    const odooRecord = spec.odooRecord(msg.intent);
    const entities = steps.flatMap((s) => entitiesOf(s.executed, s.step, msg, odooRecord));
    const outcome = calls.length > 0 ? 'applied' : 'skipped';
    const note = last?.step.plan.note ?? (alreadyPresent ? 'already present in OpenCell' : undefined);
    const result: IntentResult = {
      outcome,
      calls,
      strategy: last?.step.plan.strategy,
      note,
      entities,
      opencell: spec.syncTarget(msg.intent, last?.step),
      odooRecord,
      odooRef: last?.step.contract?.code ?? last?.step.partner?.ref ?? null,
      attempt,
      // a snapshot read that changed nothing says why, in the ledger (error_message) and its sync event
      // (errorMessage, errorCode null): present in OpenCell, ended and missing, one-shot not applied (issue 15 §4)
      ...(outcome === 'skipped' && note !== undefined && isSnapshotRead(msg) ? { errorMessage: note } : {}),
    };
    await ledger.finish(msg, result, opts.fence);
    this.log.info(`${msg.intent.kind} ${result.outcome}${calls.length ? ` (${calls.join(', ')})` : ''}`, {
      intentId: msg.intentId,
      aggregate: msg.aggregateKey,
      lsn: msg.source.lsn,
      table: msg.source.table,
      strategy: result.strategy,
      note: result.note,
    });
    return result;
  }

  /** Records a dead-lettered intent (after the dead-letter topic has it) with its sync event. */
  async recordDeadLetter(
    msg: AnyIntentMessage,
    err: unknown,
    attempt: number,
    fence?: FenceToken,
  ): Promise<void> {
    const e = err as { code?: string; message?: string };
    const spec = this.intents.lookup(msg.intent.kind);
    await this.deps.ledger.finish(
      msg,
      {
        outcome: 'dead_lettered',
        calls: [],
        entities: [],
        opencell: spec.syncTarget(msg.intent, undefined),
        odooRecord: spec.odooRecord(msg.intent),
        odooRef: null,
        errorCode: e.code ?? 'INTERNAL',
        errorMessage: e.message ?? String(err),
        attempt,
      },
      fence,
    );
  }

  /** The steps of one intent: the kind's projection, after the contract precondition for contract-scoped kinds. */
  private async run(msg: AnyIntentMessage, replayed: boolean, fence?: FenceToken): Promise<StepRun[]> {
    const out: StepRun[] = [];
    const ctx = this.context(msg, replayed, out, fence);
    const spec = this.intents.lookup(msg.intent.kind);
    const snapshot = isSnapshotRead(msg);
    if (spec.scope !== 'contract') {
      if (snapshot) return [noopRun(snapshotNotApplied(msg.intent.kind).reason)];
      await spec.project(msg.intent, ctx, null);
      return out;
    }

    const contractId = msg.contractId;
    if (contractId === null) return [noopRun('intent has no contract')];
    const contract = await this.deps.odoo.contract(contractId);
    if (!contract) return [noopRun(`contract ${contractId} no longer exists in Odoo`)];

    // Precondition: the subscription exists (created with its customer hierarchy if needed).
    let sub = await this.deps.opencell.subscription(contract.code);
    if (snapshot) {
      // A snapshot read reconciles (present → nothing; missing and active → create; ended → skipped), decided
      // before any call or precondition (issue 15 §4).
      const decision = spec.reconcileSnapshot
        ? spec.reconcileSnapshot(msg.intent, {
            contract,
            subscription: sub,
            oneShotsSince: this.deps.snapshotOneShotsSince ?? null,
          })
        : snapshotNotApplied(msg.intent.kind);
      if (!decision.apply) {
        ctx.noop(decision.reason, { contract });
        return out;
      }
    }
    let createdFirst = false;
    if (!sub && spec.needsSubscription) {
      // A contract's queue is the partner it was first routed under (issue 15 §8); creating it for another partner
      // from that queue would number that customer's accounts outside its own queue (two creations could take the
      // same account code). force-create sends the creation to the holder's queue.
      if (contract.partner.id !== msg.partnerId)
        throw new ProjectionRejectedError(
          `contract ${contract.code} changed partner in Odoo (queue of partner ${msg.partnerId}, now partner ` +
            `${contract.partner.id}${contract.partner.ref ? `, ref ${contract.partner.ref}` : ''}) before its ` +
            `subscription was created in OpenCell: it is not created from another customer's queue; run ` +
            `\`force-create ${contract.code}\` (it creates the subscription from the holder's queue), then replay this ` +
            `dead letter`,
          { contractId: contract.id, contractCode: contract.code, queuePartnerId: msg.partnerId },
        );
      await createFirst(contract, null, ctx);
      createdFirst = true;
      sub = await this.deps.opencell.subscription(contract.code);
      if (!sub) {
        throw new ProjectionRejectedError(
          `subscription ${contract.code} does not exist in OpenCell and could not be created (${out[out.length - 1]?.step.plan.note ?? 'no create call was planned'})`,
          { contractId: contract.id, contractCode: contract.code },
        );
      }
    }
    const scope: ContractScope = { contract, subscription: sub, createdFirst };
    await spec.project(msg.intent, ctx, scope);
    return out;
  }

  /** The kind's view of this intent's run: reads, ledger checks, and execution of its plans (recorded in `out`). */
  private context(
    msg: AnyIntentMessage,
    replayed: boolean,
    out: StepRun[],
    fence?: FenceToken,
  ): ProjectionContext {
    const { odoo, opencell, config, catalog, client, ledger } = this.deps;
    return {
      odoo,
      opencell,
      config,
      force: msg.force === true,
      repair: msg.repair === true,
      hasEffect: (key) => ledger.hasEffect(key),
      recorded: (keys) => ledger.recordedEffects(keys),
      intentId: msg.intentId,
      noop: (note, about = {}) => {
        out.push({ ...noopRun(note), step: { plan: { strategy: 'noop', ops: [], note }, ...about } });
      },
      exec: async (step) => {
        if (step.plan.ops.some((o) => (o.products ?? []).length > 0)) {
          const checked = await catalog.check(step.plan.ops, {
            reloadOnMiss: replayed ? 'always' : 'throttled',
          });
          if (isLeft(checked)) throw checked.left;
        }
        const report = await executePlan(step.plan.ops, {
          client,
          ledger,
          intentId: msg.intentId,
          trustOpenCellOnly: msg.repair === true,
          fence,
        });
        out.push({
          step,
          executed: [...step.plan.ops],
          calls: report.calls,
          alreadyPresent: report.alreadyPresent,
        });
      },
    };
  }
}

/**
 * An intent of a snapshot read (`r`: the connector's initial snapshot or an operator's incremental one), flagged by
 * its trigger (`snapshot: true`); an operator's forced or repair intent never is.
 */
export function isSnapshotRead(msg: AnyIntentMessage): boolean {
  if (msg.force === true || msg.repair === true) return false;
  return (
    (msg.intent as { snapshot?: unknown }).snapshot === true || (msg.source.snapshot && msg.source.op === 'r')
  );
}

function noopRun(note: string): StepRun {
  return { step: { plan: { strategy: 'noop', ops: [], note } }, executed: [], calls: [], alreadyPresent: [] };
}

/** The OpenCell objects a step created or changed, as ledger entity rows. */
function entitiesOf(
  ops: readonly OcOperation[],
  step: Step,
  msg: AnyIntentMessage,
  record: { model: string; id: number },
): EntityChange[] {
  const contract = step.contract;
  const partnerId = contract?.partner.id ?? step.partner?.id ?? msg.partnerId;
  const out: EntityChange[] = [];
  for (const op of ops) {
    const b = op.body as unknown as Record<string, unknown>;
    switch (op.op) {
      case 'createCustomer':
        out.push({
          entity: 'customer',
          code: String(b.code),
          odooModel: 'res.partner',
          odooId: partnerId,
          partnerId,
          status: 'active',
        });
        break;
      case 'crmAccountHierarchyCreate':
        out.push({
          entity: 'customer_account',
          code: String(b.code),
          odooModel: 'res.partner',
          odooId: partnerId,
          partnerId,
          status: 'active',
          data: { firstContract: contract?.code },
        });
        break;
      case 'createSubscription':
        if (contract)
          out.push({
            entity: 'subscription',
            code: String(b.code),
            odooModel: 'contract.contract',
            odooId: contract.id,
            partnerId,
            status: 'active',
          });
        break;
      case 'terminateSubscription':
        if (contract)
          out.push({
            entity: 'subscription',
            code: String(b.subscriptionCode ?? contract.code),
            odooModel: 'contract.contract',
            odooId: contract.id,
            partnerId,
            status: 'terminated',
          });
        break;
      case 'createAccess':
      case 'deleteAccess':
        out.push({
          entity: 'access',
          code: `${String(b.subscription)}/${String(b.code)}`,
          odooModel: record.model,
          odooId: contract?.id ?? record.id,
          partnerId,
          status: op.op === 'createAccess' ? 'active' : 'deleted',
        });
        break;
      case 'activateServices':
      case 'terminateServices':
      case 'applyOneShotChargeInstance':
        for (const lineId of op.lineIds ?? []) {
          out.push({
            entity: op.op === 'applyOneShotChargeInstance' ? 'one_shot' : 'service_instance',
            code: `${String(b.subscription)}#${lineId}`,
            odooModel: 'contract.line',
            odooId: lineId,
            partnerId,
            status:
              op.op === 'activateServices'
                ? 'active'
                : op.op === 'terminateServices'
                  ? 'terminated'
                  : 'applied',
            data: { products: (op.products ?? []).map((p) => p.productCode) },
          });
        }
        break;
      default:
        break;
    }
  }
  return out;
}
