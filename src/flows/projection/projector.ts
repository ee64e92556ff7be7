/**
 * The projector: one intent message → the OpenCell calls that make OpenCell agree with Odoo, applied once.
 *
 * Every intent of one customer arrives on one partition of the intents topic, in order, and is handled one at a
 * time (per-key queue), so customer-account numbering cannot race. Causal order per contract does not depend on the
 * order in which Debezium's topics were read; it is enforced here as preconditions, checked against OpenCell and
 * the ledger before planning:
 * - anything about a contract whose subscription does not exist yet first runs the contract's create plan
 *   (customer → account → subscription → access);
 * - a service termination first activates the contract's current service lines not yet active
 *   (activations before terminations: a tariff change is one activation then one termination);
 * - a subscription termination terminates the contract's ended service lines first (in its plan).
 * An operator's forced creation (W4, `force`) also brings the contract's current lines (services, one-shots), whose
 * own intents were dead-lettered while the partner was blocked.
 * Replays are harmless: a finished intent is skipped, an operation whose effect is in the ledger is skipped, and
 * every strategy skips what OpenCell already holds.
 */
import { Either, isLeft } from 'fp-ts/Either';
import { ProjectionRejectedError, UnknownProductError } from '../../domain/errors';
import type { OpenCellClient } from '../../adapters/opencell/client';
import { componentLogger } from '../../core/log';
import { PARTNER_ADDRESS_COLUMNS } from '../../domain/projection/filter';
import type { CatalogCheckOptions } from '../../adapters/opencell/catalog-cache';
import type { ProjectionConfig } from '../../domain/projection/payloads';
import type { OcOperation, Plan } from '../../domain/projection/plan';
import {
  planActivateService,
  planApplyOneShot,
  planCreateSubscription,
  planTerminateService,
  planTerminateSubscription,
  planUpdateAccountsAddress,
  planUpdateCustomer,
  planUpdatePhoneNumber,
  planUpdateSubscription,
  isLiveInstance,
} from '../../domain/projection/strategies';
import type {
  ContractView,
  LineView,
  OcCustomerState,
  OcSubscriptionState,
  PartnerView,
  WatchedIspInfoTable,
} from '../../domain/projection/views';
import { executePlan } from './executor';
import type { IntentMessage } from '../../domain/intents/message';
import { odooRecordOf } from '../../domain/intents/message';
import type { EntityChange, IntentResult, Ledger } from '../../adapters/postgres/ledger';

const log = componentLogger('projector');

function touchesAddress(fields: readonly string[]): boolean {
  return fields.some((f) => (PARTNER_ADDRESS_COLUMNS as readonly string[]).includes(f));
}

/** What the projector reads from Odoo (current state; read-only). */
export interface OdooReader {
  partner(id: number): Promise<PartnerView | null>;
  contract(id: number): Promise<ContractView | null>;
  contractsOfPartner(partnerId: number): Promise<ContractView[]>;
}

/** What the projector reads from OpenCell. */
export interface OpenCellReader {
  customer(code: string): Promise<OcCustomerState | null>;
  subscription(code: string): Promise<OcSubscriptionState | null>;
  activeSubscriptionCodes(userAccountCode: string): Promise<string[]>;
}

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
  ledger: Ledger;
  catalog: CatalogCheck;
  config: ProjectionConfig;
}

interface Step {
  plan: Plan;
  contract?: ContractView;
  partner?: PartnerView;
}

export class Projector {
  constructor(private readonly deps: ProjectorDeps) {}

  /**
   * Handles one intent. Resolves when it is applied or skipped (and recorded, with its sync event); throws a
   * SyncError otherwise (retriable ones are retried by the consumer, the others dead-lettered).
   */
  async handle(
    msg: IntentMessage,
    attempt: number,
    opts: { replayed?: boolean } = {},
  ): Promise<IntentResult | null> {
    const { ledger } = this.deps;
    if (await ledger.isFinished(msg.intentId)) return null; // replay of a finished intent
    const steps = await this.run(msg, opts.replayed === true);
    const calls = steps.flatMap((s) => s.calls);
    const alreadyPresent = steps.some((s) => s.alreadyPresent.length > 0);
    const last = steps[steps.length - 1];
    const entities = steps.flatMap((s) => entitiesOf(s.executed, s.step, msg));
    const result: IntentResult = {
      outcome: calls.length > 0 ? 'applied' : 'skipped',
      calls,
      strategy: last?.step.plan.strategy,
      note: last?.step.plan.note ?? (alreadyPresent ? 'already present in OpenCell' : undefined),
      entities,
      opencell: opencellTarget(msg, last?.step),
      odooRef: last?.step.contract?.code ?? last?.step.partner?.ref ?? null,
      attempt,
    };
    await ledger.finish(msg, result);
    log.info(`${msg.intent.kind} ${result.outcome}${calls.length ? ` (${calls.join(', ')})` : ''}`, {
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
  async recordDeadLetter(msg: IntentMessage, err: unknown, attempt: number): Promise<void> {
    const e = err as { code?: string; message?: string };
    await this.deps.ledger.finish(msg, {
      outcome: 'dead_lettered',
      calls: [],
      entities: [],
      opencell: opencellTarget(msg, undefined),
      odooRef: null,
      errorCode: e.code ?? 'INTERNAL',
      errorMessage: e.message ?? String(err),
      attempt,
    });
  }

  private async run(msg: IntentMessage, replayed: boolean) {
    const out: { step: Step; executed: OcOperation[]; calls: string[]; alreadyPresent: string[] }[] = [];
    const exec = async (step: Step) => {
      if (step.plan.ops.some((o) => (o.products ?? []).length > 0)) {
        const checked = await this.deps.catalog.check(step.plan.ops, {
          reloadOnMiss: replayed ? 'always' : 'throttled',
        });
        if (isLeft(checked)) throw checked.left;
      }
      const report = await executePlan(step.plan.ops, {
        client: this.deps.client,
        ledger: this.deps.ledger,
        intentId: msg.intentId,
        trustOpenCellOnly: msg.repair === true,
      });
      out.push({
        step,
        executed: [...step.plan.ops],
        calls: report.calls,
        alreadyPresent: report.alreadyPresent,
      });
    };
    const intent = msg.intent;
    const { odoo, opencell, config } = this.deps;

    switch (intent.kind) {
      case 'update_customer':
      case 'update_accounts_address': {
        const partner = await odoo.partner(intent.partnerId);
        if (!partner) return [noopStep(`partner ${intent.partnerId} no longer exists in Odoo`)];
        const customer = partner.ref ? await opencell.customer(partner.ref) : null;
        if (intent.kind === 'update_customer') {
          await exec({ plan: planUpdateCustomer({ partner, customer, config }), partner });
          // An address change also moves the customer accounts' address (the original's second job), planned from
          // the same reads. Intents of kind update_accounts_address (routed before this was merged) still work.
          if (!touchesAddress(intent.fields)) return out;
        }
        await exec({ plan: planUpdateAccountsAddress({ partner, customer }), partner });
        return out;
      }
      default:
        break;
    }

    const contractId = msg.contractId;
    if (contractId === null) return [noopStep('intent has no contract')];
    const contract = await odoo.contract(contractId);
    if (!contract) return [noopStep(`contract ${contractId} no longer exists in Odoo`)];

    // Precondition: the subscription exists (created with its customer hierarchy if needed).
    let sub = await opencell.subscription(contract.code);
    if (!sub && intent.kind !== 'update_phone_number' && intent.kind !== 'update_subscription') {
      const customer = await this.customerForCreate(contract);
      await exec({
        plan: planCreateSubscription({
          contract,
          customer,
          subscription: null,
          config,
          force: msg.force === true,
          embedLines: msg.force === true,
        }),
        contract,
      });
      sub = await opencell.subscription(contract.code);
      if (!sub) {
        throw new ProjectionRejectedError(
          `subscription ${contract.code} does not exist in OpenCell and could not be created (${out[out.length - 1]?.step.plan.note ?? 'no create call was planned'})`,
          { contractId: contract.id, contractCode: contract.code },
        );
      }
    }

    switch (intent.kind) {
      case 'create_subscription': {
        if (out.length === 0) {
          const customer = await this.customerForCreate(contract);
          await exec({
            plan: planCreateSubscription({
              contract,
              customer,
              subscription: sub,
              config,
              force: msg.force === true,
              embedLines: msg.force === true,
            }),
            contract,
          });
        }
        return out;
      }
      case 'activate_service':
      case 'apply_one_shot':
      case 'terminate_service': {
        const line = contract.lines.find((l) => l.id === intent.lineId);
        if (!line) return [...out, noopStep(`contract line ${intent.lineId} no longer exists in Odoo`)];
        if (intent.kind === 'activate_service') {
          if (await this.alreadyActivated(line, sub, msg.repair === true)) {
            out.push({
              step: {
                plan: { strategy: 'noop', ops: [], note: `line ${line.id} was activated before` },
                contract,
              },
              executed: [],
              calls: [],
              alreadyPresent: [],
            });
            return out;
          }
          await exec({ plan: planActivateService({ contract, line, subscription: sub }), contract });
        } else if (intent.kind === 'apply_one_shot') {
          await exec({ plan: planApplyOneShot({ contract, line, subscription: sub }), contract });
        } else {
          // Activations before terminations: current service lines not yet active go first.
          for (const other of contract.lines) {
            if (
              other.id === line.id ||
              other.kind !== 'service' ||
              other.isCanceled ||
              other.dateEnd !== null
            )
              continue;
            if (await this.alreadyActivated(other, sub, msg.repair === true)) continue;
            try {
              await exec({
                plan: planActivateService({ contract, line: other, subscription: sub }),
                contract,
              });
            } catch (e) {
              // That line's own intent carries its failure (dead letter); it must not block this termination.
              if (e instanceof UnknownProductError || e instanceof ProjectionRejectedError) continue;
              throw e;
            }
            sub = await opencell.subscription(contract.code);
          }
          await exec({
            plan: planTerminateService({ contract, line, subscription: sub, date: intent.date }),
            contract,
          });
        }
        return out;
      }
      case 'terminate_subscription': {
        await exec({ plan: planTerminateSubscription({ contract, subscription: sub }), contract });
        return out;
      }
      case 'update_phone_number': {
        const phone = intent.phone;
        await exec({
          plan: planUpdatePhoneNumber({
            contract,
            phone,
            previousPhone: intent.previousPhone,
            subscription: sub,
          }),
          contract,
        });
        return out;
      }
      case 'update_subscription': {
        const customer = contract.partner.ref ? await opencell.customer(contract.partner.ref) : null;
        const active = sub ? await opencell.activeSubscriptionCodes(sub.userAccount) : [];
        const others = await odoo.contractsOfPartner(contract.partner.id);
        await exec({
          plan: planUpdateSubscription({
            field: intent.field,
            contract,
            otherContracts: others,
            customer,
            subscription: sub,
            activeSubscriptionCodes: active,
            force: msg.force === true,
          }),
          contract,
        });
        return out;
      }
    }
    return out;
  }

  /**
   * The OpenCell customer a create plan starts from. A customer this pipeline created itself (its effect is in the
   * ledger) that has no customer account yet is a create chain interrupted between createCustomer and the CRM
   * hierarchy (crash, or a retriable failure of the second call): the chain resumes (null: createCustomer is answered
   * ENTITY_ALREADY_EXISTS, which counts as present, and the hierarchy `{ref}_0` follows) instead of being refused as "customer with no customer
   * accounts", which would dead-letter the contract.
   */
  private async customerForCreate(contract: ContractView): Promise<OcCustomerState | null> {
    const ref = contract.partner.ref;
    if (!ref) return null;
    const customer = await this.deps.opencell.customer(ref);
    if (
      customer &&
      customer.customerAccounts.length === 0 &&
      (await this.deps.ledger.hasEffect(`customer:${ref}`))
    )
      return null;
    return customer;
  }

  /**
   * A line counts as activated when the ledger has its activation, or — for lines that already ended, as seen in a
   * snapshot — when OpenCell has any instance of its product (activating again would duplicate it).
   */
  private async alreadyActivated(
    line: LineView,
    sub: OcSubscriptionState | null,
    repair: boolean,
  ): Promise<boolean> {
    if (!repair && (await this.deps.ledger.hasEffect(`line:${line.id}:activate`))) return true;
    if (!sub || !line.productCode) return false;
    const instances = sub.services.filter((s) => s.code === line.productCode);
    if (line.dateEnd !== null) return instances.length > 0;
    return instances.some(isLiveInstance);
  }
}

function noopStep(note: string) {
  const step: Step = { plan: { strategy: 'noop', ops: [], note } };
  return { step, executed: [] as OcOperation[], calls: [] as string[], alreadyPresent: [] as string[] };
}

function opencellTarget(msg: IntentMessage, step: Step | undefined): { entity: string; code: string | null } {
  const i = msg.intent;
  if (i.kind === 'update_customer') return { entity: 'customer', code: step?.partner?.ref ?? null };
  if (i.kind === 'update_accounts_address')
    return { entity: 'customer_account', code: step?.partner?.ref ?? null };
  if (i.kind === 'update_phone_number') return { entity: 'access', code: i.phone };
  if (i.kind === 'update_subscription')
    return { entity: 'customer_account', code: step?.contract?.code ?? null };
  if (i.kind === 'activate_service' || i.kind === 'terminate_service')
    return { entity: 'service_instance', code: i.productCode };
  if (i.kind === 'apply_one_shot') return { entity: 'one_shot', code: i.productCode };
  return { entity: 'subscription', code: step?.contract?.code ?? null };
}

/** The OpenCell objects a step created or changed, as ledger entity rows. */
function entitiesOf(ops: readonly OcOperation[], step: Step, msg: IntentMessage): EntityChange[] {
  const contract = step.contract;
  const partnerId = contract?.partner.id ?? step.partner?.id ?? msg.partnerId;
  const record = odooRecordOf(msg.intent);
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

export type { WatchedIspInfoTable };
