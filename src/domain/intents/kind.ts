/**
 * What an intent kind is: everything specific to one kind of "what must happen in OpenCell", in one module of
 * src/domain/intents/ — its codec (the intents topic), its trigger (which Odoo change produces it), its routing
 * target, its projection (what it reads, which pure plans it executes, how a replay is recognised), the Odoo record
 * its ledger row is about and the OpenCell object its sync event reports. The registry (registry.ts) lists the
 * kinds; the router, projector, ledger, reconcile and the CLI only go through it.
 *
 * Pure: a kind reads and acts only through the ports below (interfaces the flows implement with the adapters).
 */
import type * as t from 'io-ts';
import type { RowChange } from '../capture/envelope';
import type { ProjectionConfig } from '../projection/payloads';
import type { Plan } from '../projection/plan';
import type { SnapshotDecision, SnapshotFacts } from './snapshot';
import type {
  ContractView,
  OcCustomerState,
  OcSubscriptionState,
  PartnerView,
  ProductView,
} from '../projection/views';

/** An intent: a kind tag plus the kind's own fields. */
export interface IntentBase {
  kind: string;
}

/** The facts a trigger needs that are not in the changed row; the router fills them from Odoo. */
export interface TriggerContext {
  /** The `SYNC_PARTNER_IDENTITY` switch (Config.syncPartnerIdentity; off = the original). */
  syncPartnerIdentity: boolean;
  /** The `SYNC_EMAIL_IBAN_AT_CREATION` switch (Config.syncEmailIbanAtCreation; off/absent = the original). */
  syncEmailIbanAtCreation?: boolean;
  /**
   * The `SYNC_TERMINATION_AT_CREATION` switch (Config.syncTerminationAtCreation; off/absent = the original, whose T2 /
   * T5 listeners reacted to writes only): a contract created already terminated also gives terminate_subscription, a
   * service line created with a date_end also gives terminate_service.
   */
  syncTerminationAtCreation?: boolean;
  /**
   * The `PHONE_PLACEHOLDER_IS_NO_NUMBER` switch (Config.opencell.phonePlaceholderIsNoNumber; off/absent = the
   * original, whose T7 queued update_phone_number for any written number, Odoo's "-" placeholder included): writing
   * "-" triggers nothing, and a number replacing "-" has no previous one.
   */
  phonePlaceholderIsNoNumber?: boolean;
  /**
   * Whether a contract has not been written since the transaction that created it (Odoo sets `create_date` and
   * `write_date` to the transaction's time, and every later `write()` moves `write_date`): a change of its mandate or
   * email links seen now was written by its creation, which the original's W1 / W2 never reacted to. Needed for those
   * changes unless syncEmailIbanAtCreation.
   */
  contractInCreation?: (contractId: number) => boolean;
  /** The product of a contract line with its category; needed for contract_line events. */
  product?: (productId: number) => ProductView | undefined;
  /** `service.technology.service_product_category_id` XML ids; defaults to the known tariff categories. */
  technologyServiceCategories?: readonly string[];
  /** docs/behaviour.md T6's condition: the partner has at least one contract. Needed for res_partner updates. */
  partnerHasContracts?: (partnerId: number) => boolean;
}

/** What the router reads from Odoo to route (read-only, small lookups). */
export interface RoutingReader {
  /** Products by id (TriggerContext.product); an id that is not a product is absent. */
  products(ids: readonly number[]): Promise<ReadonlyMap<number, ProductView>>;
  /** Which of these partners hold at least one contract (TriggerContext.partnerHasContracts). */
  partnersWithContracts(partnerIds: readonly number[]): Promise<ReadonlySet<number>>;
  /** The contract's current holder in Odoo (null when the contract is gone). */
  partnerIdOfContract(contractId: number): Promise<number | null>;
  /**
   * The partner whose queue a contract's intents go to: pinned the first time the contract is routed and never
   * moved, so a partner change keeps the contract's intents in one queue, in order (issue 15 §8). The pin is
   * `eventPartnerId` when given (the partner the change's own row names: the holder before a partner change, the
   * holder of a deleted contract), else the contract's holder in Odoo. null when neither is known.
   */
  routePartnerOfContract(contractId: number, eventPartnerId?: number | null): Promise<number | null>;
  contractIdsOfInfo(table: string, infoId: number): Promise<number[]>;
  /** Which of these contracts are unwritten since their creation (TriggerContext.contractInCreation). */
  contractsInCreation(contractIds: readonly number[]): Promise<ReadonlySet<number>>;
  technologyServiceCategories?(): Promise<readonly string[]>;
}

/** Where the router keeps each contract's pinned queue (RoutingReader.routePartnerOfContract). */
export interface ContractRoutePins {
  /** The partner pinned for the contract, or null. */
  pinned(contractId: number): Promise<number | null>;
  /** Pins `partnerId` unless the contract already has a pin; returns the pin (first writer wins). */
  pin(contractId: number, partnerId: number): Promise<number>;
}

/** A customer (and contract) an intent is queued for: the intents topic is keyed `partner:<partnerId>`. */
export interface IntentTarget {
  partnerId: number;
  contractId: number | null;
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

/** One plan and the Odoo objects it is about (the last step names the intent's sync-event target). */
export interface Step {
  plan: Plan;
  contract?: ContractView;
  partner?: PartnerView;
}

/** What a kind's projection may do: read Odoo, OpenCell and the ledger's effects, and execute plans in order. */
export interface ProjectionContext {
  odoo: OdooReader;
  opencell: OpenCellReader;
  config: ProjectionConfig;
  /** The operator forced the intent (docs/behaviour.md W4 force-create: create even for a blocked partner). */
  force: boolean;
  /** `reconcile --fix`: OpenCell's state is the only authority (the ledger's record of past effects is not). */
  repair: boolean;
  /** Checks the plan's products against the catalog, executes it (ledger-guarded) and records the step. */
  exec(step: Step): Promise<void>;
  /** Records a step that sends nothing, with why. */
  noop(note: string, about?: Omit<Step, 'plan'>): void;
  /** True when the ledger holds this effect key as done. */
  hasEffect(key: string): Promise<boolean>;
  /**
   * The keys among `keys` the ledger holds a record of, done or only written ahead of its call ('pending'), each with
   * the id of the intent that wrote it: what this pipeline created or started to create (a create plan's resumption,
   * planCreateSubscription).
   */
  recorded(keys: readonly string[]): Promise<ReadonlyMap<string, string>>;
  /** The id of the intent being projected (a retry of it after a crash keeps it). */
  intentId: string;
}

/** For contract-scoped kinds: the contract (current Odoo state) and its subscription as OpenCell holds it. */
export interface ContractScope {
  contract: ContractView;
  subscription: OcSubscriptionState | null;
  /** The contract's create plan ran first because its subscription did not exist (the causal precondition). */
  createdFirst: boolean;
}

export interface IntentKindSpec<I extends IntentBase> {
  kind: I['kind'];
  /** The intent's fields on the intents topic (checked when a message is decoded). */
  codec: t.Type<I, I, unknown>;
  /**
   * `partner`: about a customer, projected from the partner; `contract`: about one contract, projected after the
   * contract and its subscription are loaded; `own`: the kind reads what it needs itself (a contract that may be
   * gone from Odoo), projected with no scope.
   */
  scope: 'partner' | 'contract' | 'own';
  /**
   * The causal precondition: when the contract's subscription does not exist in OpenCell, run the contract's create
   * plan first (customer → account → subscription → access). Contract scope only.
   */
  needsSubscription?: boolean;
  /** Which change produces it: the tables, the rule (docs/behaviour.md) and the pure detection. */
  trigger: {
    tables: readonly string[];
    rule: string;
    /** A snapshot read ('r') marks its intents `snapshot: true` (contract-level kinds). */
    flagsSnapshot?: boolean;
    /** The intents of this kind a decoded change yields (`fields`: its changed watched columns). */
    detect(change: RowChange, fields: readonly string[], ctx: TriggerContext): I[];
  };
  /**
   * The customers (and contracts) the intent is queued for: an array when the intent names them (a customer's kinds;
   * the router then routes it with no promise), a Promise when they need a read (a contract's pinned queue).
   */
  targets(intent: I, reader: RoutingReader): IntentTarget[] | Promise<IntentTarget[]>;
  /**
   * How an intent flagged `snapshot: true` (a snapshot read, `r`) reconciles against OpenCell, decided before any
   * call or precondition (snapshot.ts): apply it, or skip it with a reason. Contract scope; a kind without it is
   * skipped for snapshot reads.
   */
  reconcileSnapshot?(intent: I, facts: SnapshotFacts): SnapshotDecision;
  /**
   * When the original would have told OpenCell, if later than now (its queue_job ETA, hold.ts): epoch ms before which
   * the projector holds the intent (HOLD_TERMINATIONS), or null to project it at once. Absent: always at once.
   */
  notBefore?(intent: I, nowMs: number): number | null;
  /** The projection: what it reads, which plans it executes, how a replay is recognised. */
  project(intent: I, ctx: ProjectionContext, scope: ContractScope | null): Promise<void>;
  /** The Odoo record the intent is about (ledger row, sync event). */
  odooRecord(intent: I): { model: string; id: number };
  /** The OpenCell object its sync event reports, given the last step. */
  syncTarget(intent: I, last: Step | undefined): { entity: string; code: string | null };
}

/**
 * Routing of a contract-scoped intent: the contract's pinned queue (RoutingReader.routePartnerOfContract; none when
 * the contract is gone and was never routed).
 */
export async function contractTargets(
  contractId: number,
  reader: RoutingReader,
  eventPartnerId?: number | null,
): Promise<IntentTarget[]> {
  const partnerId = await reader.routePartnerOfContract(contractId, eventPartnerId);
  return partnerId === null ? [] : [{ partnerId, contractId }];
}

/** Defines a kind (keeps its intent type for the registry). */
export function intentKind<I extends IntentBase>(spec: IntentKindSpec<I>): IntentKindSpec<I> {
  return spec;
}
