import { PreconditionPendingError, ProjectionRejectedError, UnknownProductError } from '../errors';
import {
  accessFromContract,
  activateServicesRequest,
  ccedEmails,
  crmAccountHierarchyFromContract,
  crmFromPartnerAddress,
  crmToChangeEmail,
  crmToChangeIban,
  customerFromPartner,
  oneShotChargeRequest,
  requireFirstEmail,
  requireRef,
  subscriptionDescriptionUpdate,
  subscriptionFromContract,
  terminateServicesRequest,
  terminateSubscriptionRequest,
} from './payloads';
import type { ProjectionConfig } from './payloads';
import type { OcOperation, Plan } from './plan';
import type {
  ContractView,
  IsoDate,
  LineView,
  OcCustomerAccountState,
  OcCustomerState,
  OcServiceInstanceState,
  OcSubscriptionState,
  PartnerView,
} from './views';

/**
 * Strategies: (Odoo views, OpenCell state) → an ordered plan of OpenCell operations. The create strategy of
 * docs/behaviour.md §3.1, the update strategies of docs/behaviour.md §4 (email / IBAN / address with their
 * fallbacks), and the per-line / per-contract jobs of docs/behaviour.md §3.3. Fallbacks throw
 * ProjectionRejectedError with the original's message (→ dead-letter topic); a missing causal precondition (the
 * subscription does not exist yet) throws PreconditionPendingError (retried).
 *
 * Every strategy is idempotent against the state it is given: what OpenCell already holds is skipped
 * (existing subscription, active service, terminated instance, CA already carrying the new email / IBAN,
 * description already equal to the new number), so replays produce empty plans.
 */

const noop = (note: string): Plan => ({ strategy: 'noop', ops: [], note });

const normIban = (iban: string | null | undefined): string | null =>
  iban ? iban.replace(/\s+/g, '').toUpperCase() : null;

const CLOSED_SUBSCRIPTION = ['RESILIATED', 'CANCELED', 'CLOSED'];
const ENDED_INSTANCE = ['TERMINATED', 'CANCELED', 'CLOSED'];

function requireSubscription(
  subscription: OcSubscriptionState | null,
  contract: Pick<ContractView, 'id' | 'code'>,
  action: string,
): OcSubscriptionState {
  if (subscription === null) {
    throw new PreconditionPendingError(
      `cannot ${action}: subscription ${contract.code} does not exist in OpenCell yet`,
      { contractId: contract.id, contractCode: contract.code },
    );
  }
  return subscription;
}

function requireOpenSubscription(subscription: OcSubscriptionState, action: string): void {
  if (subscription.status !== undefined && CLOSED_SUBSCRIPTION.includes(subscription.status)) {
    throw new ProjectionRejectedError(
      `cannot ${action}: subscription ${subscription.code} is ${subscription.status}`,
      {
        subscriptionCode: subscription.code,
        status: subscription.status,
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Create (docs/behaviour.md §3.1)
// ---------------------------------------------------------------------------------------------------------------

export type CreateStrategy =
  | { strategy: 'customer_hierarchy'; caCode: string }
  | { strategy: 'customer_account_hierarchy'; caCode: string }
  | { strategy: 'subscription'; caCode: string };

export interface CreateStrategyOptions {
  /** The operator's "force OC integration" (docs/behaviour.md W4): overrides `block_contract_creation_in_OC`. */
  force?: boolean;
  /** `reconcile --fix`: an operator's repair (like `force`, it finishes a customer left without accounts). */
  repair?: boolean;
  /**
   * The customer was created by this pipeline: the ledger holds its createCustomer record, written ahead of the call
   * (or done). A customer of ours without a customer account is a create plan cut short (a process died between
   * createCustomer and the CRM hierarchy), finished here, not refused.
   */
  ownCustomer?: boolean;
  /**
   * This intent's own create chain, cut short and retried: the customer's createCustomer record was written by the
   * intent being projected. The partner's block (step 2) is not asked again, as it was not when the chain started
   * without a customer (step 1): a blocked partner's first contract is not refused half-way.
   */
  ownChain?: boolean;
  /** CA codes already allocated to in-flight creations of this partner (race-free numbering). */
  reservedCaCodes?: readonly string[];
}

/** Does this customer account serve the contract's (first email, IBAN) pair? No IBAN on both sides matches. */
export function customerAccountMatches(ca: OcCustomerAccountState, contract: ContractView): boolean {
  return (
    ca.email === (contract.emails[0]?.email ?? null) && normIban(ca.iban) === normIban(contract.mandate?.iban)
  );
}

/** `{ref}_{n}`: n = the number of existing CAs, or the next number not taken (existing or reserved). */
export function nextCustomerAccountCode(
  customerCode: string,
  existingCodes: readonly string[],
  reservedCodes: readonly string[] = [],
): string {
  const taken = new Set([...existingCodes, ...reservedCodes]);
  let n = existingCodes.length;
  while (taken.has(`${customerCode}_${n}`)) n += 1;
  return `${customerCode}_${n}`;
}

/**
 * The original's `CRMAccountHierarchyFromContractCreateStrategies`, in its order: no customer →
 * customer_hierarchy `{ref}_0`; blocked partner (not forced) → fallback; no CA → fallback; a CA with the same
 * first email and IBAN → subscription in that CA; otherwise → customer_account_hierarchy with a new CA code.
 */
export function chooseCreateStrategy(
  contract: ContractView,
  customer: OcCustomerState | null,
  opts: CreateStrategyOptions = {},
): CreateStrategy {
  const ref = requireRef(contract.partner);
  if (customer === null) {
    return { strategy: 'customer_hierarchy', caCode: nextCustomerAccountCode(ref, [], opts.reservedCaCodes) };
  }
  const firstAccount = () => ({
    strategy: 'customer_account_hierarchy' as const,
    caCode: nextCustomerAccountCode(customer.code, [], opts.reservedCaCodes),
  });
  // Our customer without accounts: the customer_hierarchy chain that created it was cut short; it goes on as it
  // started (the block is not asked, as it was not for the customer: step 1 comes before step 2).
  if (customer.customerAccounts.length === 0 && opts.ownCustomer) return firstAccount();
  if (contract.partner.blockContractCreationInOC && !opts.force && !opts.ownChain) {
    throw new ProjectionRejectedError(
      `Partner with code ${ref} does not allow automatic subscription creation`,
      {
        partnerId: contract.partner.id,
        contractCode: contract.code,
        fallback: 'blocked_partner',
      },
    );
  }
  if (customer.customerAccounts.length === 0) {
    // Only a customer this pipeline did not create is refused (docs/behaviour.md §3.1 step 3); ours (above), or an
    // operator's repair / forced creation, gets its first account `{ref}_0`.
    if (opts.force || opts.repair) return firstAccount();
    throw new ProjectionRejectedError(
      `Customer with code ${ref} found with no customer accounts associated`,
      {
        partnerId: contract.partner.id,
        contractCode: contract.code,
        fallback: 'no_customer_accounts',
      },
    );
  }
  const match = customer.customerAccounts.find((ca) => customerAccountMatches(ca, contract));
  if (match) return { strategy: 'subscription', caCode: match.code };
  return {
    strategy: 'customer_account_hierarchy',
    caCode: nextCustomerAccountCode(
      customer.code,
      customer.customerAccounts.map((ca) => ca.code),
      opts.reservedCaCodes,
    ),
  };
}

export interface CreateSubscriptionInput extends CreateStrategyOptions {
  contract: ContractView;
  /** `Customer.get(partner.ref)`; null when not found. */
  customer: OcCustomerState | null;
  /** `Subscription.get(contract.code)` when known; an existing subscription turns the create into a check. */
  subscription?: OcSubscriptionState | null;
  config: ProjectionConfig;
  /**
   * Also activate the contract's current service lines (one activateServices call) and apply its one-shot lines
   * after the access, so that contract and lines created together reach OpenCell in one causal plan. The ops
   * carry `lineIds`; the runtime marks those lines' intents done. Off by default (the original's behaviour:
   * subscription creation sends no services; each line is its own job).
   */
  embedLines?: boolean;
  /**
   * The effect keys of this pipeline's creates that the ledger holds, written ahead of their call or done
   * (`createRecordKeys`): a customer with such a record is ours (ownCustomer).
   */
  recorded?: ReadonlySet<string>;
}

export type CreatePlan = Plan & { caCode?: string };

/** The effect key of the createCustomer of a customer code (its ledger record, written ahead of the call). */
export const customerCreateKey = (ref: string): string => `customer:${ref}`;

/**
 * The ledger keys a create plan's resumption asks about: the customer's createCustomer record (whether this pipeline
 * created the customer). Everything else is resumed from OpenCell's state alone (see planCreateSubscription).
 */
export function createRecordKeys(contract: Pick<ContractView, 'partner'>): string[] {
  return contract.partner.ref ? [customerCreateKey(contract.partner.ref)] : [];
}

/**
 * The contract's current lines as operations after its access (forced creation). Against an existing subscription (a
 * forced plan resumed after it was cut short, or forced again) only the services without a running instance are
 * activated; the one-shots keep their line keys, which the executor guards (done → skipped; written ahead and
 * maybe applied → OpenCell's instances are counted first).
 */
function embeddedLineOps(contract: ContractView, sub?: OcSubscriptionState): OcOperation[] {
  const live = contract.lines.filter((l) => !l.isCanceled && l.productCode);
  const running = (code: string) =>
    (sub?.services ?? []).some(
      (s) => s.code === code && isLiveInstance(s) && (s.status === undefined || s.status !== 'INACTIVE'),
    );
  const services = live.filter(
    (l) => l.kind === 'service' && l.dateEnd === null && !running(l.productCode as string),
  );
  const oneShots = live.filter((l) => l.kind === 'one_shot');
  const ops: OcOperation[] = [];
  if (services.length) {
    ops.push({
      op: 'activateServices',
      key: `subscription:${contract.code}:activate:${services.map((l) => l.id).join(',')}`,
      body: activateServicesRequest(contract.code, services),
      lineIds: services.map((l) => l.id),
      products: services.map((l) => ({ productId: l.productId, productCode: l.productCode as string })),
    });
  }
  for (const l of oneShots) {
    ops.push({
      op: 'applyOneShotChargeInstance',
      key: `line:${l.id}:one_shot`,
      body: oneShotChargeRequest(contract.code, l.productCode as string),
      lineIds: [l.id],
      products: [{ productId: l.productId, productCode: l.productCode as string }],
    });
  }
  return ops;
}

/**
 * create_subscription(contract, force): the docs/behaviour.md §3.1 chain Customer → CRM hierarchy → Subscription →
 * Access.
 *
 * It is also the resume plan of a chain cut short at any point (a process killed while a call was in flight, or
 * right after OpenCell answered and before the ledger recorded it): given OpenCell's state and the write-ahead
 * records (`recorded`), it plans only the missing steps —
 * - no customer → the whole chain (a createCustomer that did reach OpenCell shows up as the customer);
 * - our customer (its createCustomer record) without accounts → CRM hierarchy `{ref}_0` → subscription → access;
 * - a customer account matching the contract (the one a cut-short chain created) → subscription → access;
 * - the subscription → only a missing access.
 * Activations and one-shots follow with the lines' own intents, planned from OpenCell's services (activations) and
 * written ahead in the ledger (one-shots).
 */
export function planCreateSubscription(input: CreateSubscriptionInput): CreatePlan {
  const { contract, config } = input;
  const access = accessFromContract(contract, config);
  if (input.subscription) {
    const ops: OcOperation[] = [];
    if (access && input.subscription.accesses && !input.subscription.accesses.includes(access.code)) {
      ops.push({ op: 'createAccess', key: `access:${contract.code}:${access.code}`, body: access });
    }
    if (input.embedLines) ops.push(...embeddedLineOps(contract, input.subscription));
    return {
      strategy: 'already_exists',
      ops,
      caCode: input.subscription.userAccount,
      note: `subscription ${contract.code} already exists in OpenCell`,
    };
  }
  const ref = requireRef(contract.partner);
  const ownCustomer = input.ownCustomer ?? input.recorded?.has(customerCreateKey(ref)) ?? false;
  const chosen = chooseCreateStrategy(contract, input.customer, { ...input, ownCustomer });
  const resumed = input.customer !== null && input.customer.customerAccounts.length === 0;
  const ops: OcOperation[] = [];
  if (chosen.strategy === 'customer_hierarchy') {
    ops.push({
      op: 'createCustomer',
      key: `customer:${ref}`,
      body: customerFromPartner(contract.partner, config),
    });
  }
  if (chosen.strategy !== 'subscription') {
    ops.push({
      op: 'crmAccountHierarchyCreate',
      key: `ca:${chosen.caCode}`,
      body: crmAccountHierarchyFromContract(contract, chosen.caCode, config),
    });
  }
  ops.push({
    op: 'createSubscription',
    key: `subscription:${contract.code}`,
    body: subscriptionFromContract(contract, chosen.caCode, config),
  });
  if (access) ops.push({ op: 'createAccess', key: `access:${contract.code}:${access.code}`, body: access });
  if (input.embedLines) ops.push(...embeddedLineOps(contract));
  const note = resumed
    ? `customer ${ref} has no customer account: ${ownCustomer ? 'its create plan (this pipeline created it) resumes' : 'the operator repairs its hierarchy'} with ${chosen.caCode}`
    : undefined;
  return { strategy: chosen.strategy, caCode: chosen.caCode, ops, ...(note ? { note } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// Lines and termination (docs/behaviour.md §3.3)
// ---------------------------------------------------------------------------------------------------------------

export interface LineJobInput {
  contract: Pick<ContractView, 'id' | 'code'>;
  line: LineView;
  /** `Subscription.get(contract.code)`; null when it does not exist. */
  subscription: OcSubscriptionState | null;
  /**
   * The contract's lines (ContractView.lines): with them, OpenCell's instances of a product are told apart by line
   * (lineHasInstance), so a same-product replacement neither takes the old line's instance for the new line's nor
   * ends the new line's instance with the old line (issue 15 §8 e).
   */
  lines?: readonly LineView[];
}

const byId = (a: OcServiceInstanceState, b: OcServiceInstanceState): number =>
  typeof a.id === 'number' && typeof b.id === 'number' ? a.id - b.id : 0;

/**
 * Whether a service line has its own instance in OpenCell, among the contract's `lines` (issue 15 §8 e: a line ended
 * and a new line with the same product). Each service line of a contract is activated once, the older line first
 * (a replacement starts after the line it replaces), so OpenCell's instances of a product, oldest first, are the
 * older lines' first: a line's own instances are those past the count of older lines of its product. An ended line
 * (expectedServiceState 'terminated') has one when any is left for it; any other line when one of those is running
 * (`running`, default isLiveInstance).
 */
export function lineHasInstance(
  lines: readonly LineView[],
  line: LineView,
  sub: OcSubscriptionState,
  running: (s: OcServiceInstanceState) => boolean = isLiveInstance,
): boolean {
  const code = line.productCode;
  if (!code) return false;
  const instances = sub.services.filter((s) => s.code === code).sort(byId);
  const older = lines.filter((l) => l.id < line.id && l.kind === 'service' && l.productCode === code).length;
  if (expectedServiceState(line) === 'terminated') return instances.length > older;
  return instances.slice(older).some(running);
}

/** An instance that is running: no termination date (the original's guard) and not ended. */
export function isLiveInstance(s: OcServiceInstanceState): boolean {
  return !s.terminationDate && !(s.status !== undefined && ENDED_INSTANCE.includes(s.status));
}

/**
 * What the projector does with a contract line's service, hence what OpenCell should hold for it (docs/behaviour.md
 * T4, T5) — the one date rule the projector (activatedBefore, terminate_service) and `reconcile` share:
 * - 'none': nothing to hold (not a service, no product code, or canceled without an end date);
 * - 'terminated': the line has a `date_end` — whatever its day (yesterday, today, tomorrow) — and T5 terminated its
 *   instances at that date (ended, or termination scheduled): no instance without a termination date, and never
 *   activated again;
 * - 'active': no `date_end`: T4 activated it with `subscriptionDate = date_start`, a `date_start` in the future
 *   included (OpenCell holds the instance ahead): one instance without a termination date.
 * The rule has no "today": OpenCell applies the dates the projector sends.
 */
export type ExpectedServiceState = 'none' | 'active' | 'terminated';

export function expectedServiceState(
  line: Pick<LineView, 'kind' | 'productCode' | 'dateEnd' | 'isCanceled'>,
): ExpectedServiceState {
  if (line.kind !== 'service' || !line.productCode) return 'none';
  if (line.dateEnd !== null) return 'terminated';
  return line.isCanceled ? 'none' : 'active';
}

/** add_service: activateServices with the line's single service; skipped when that service is already active. */
export function planActivateService(input: LineJobInput): Plan {
  const { contract, line } = input;
  const sub = requireSubscription(input.subscription, contract, `activate line ${line.id}`);
  requireOpenSubscription(sub, `activate line ${line.id}`);
  if (!line.productCode) throw new UnknownProductError(line.productId, null);
  const code = line.productCode;
  const activeNow = (s: OcServiceInstanceState) =>
    isLiveInstance(s) && (s.status === undefined || s.status !== 'INACTIVE');
  const own = input.lines
    ? lineHasInstance(input.lines, line, sub, activeNow)
    : sub.services.some((s) => s.code === code && activeNow(s));
  if (own) return noop(`service ${code} is already active on ${sub.code}`);
  // another line's instance of the code (a replaced line's, its end still ahead): OpenCell refuses a second active
  // instance of a code ("already activated"), as it refused the original's add_service job
  const other = input.lines ? sub.services.find((s) => s.code === code && s.status === 'ACTIVE') : undefined;
  if (other) {
    throw new ProjectionRejectedError(
      `line ${line.id} (${code} from ${line.dateStart}) cannot be activated on ${sub.code} while another line's ` +
        `instance of ${code} is active${other.terminationDate ? ` until its end (${String(other.terminationDate)})` : ''}: ` +
        `OpenCell keeps one active instance per service code; replay this dead letter once that one has ended`,
      { contractId: contract.id, lineId: line.id, productCode: code, subscriptionCode: sub.code },
    );
  }
  return {
    strategy: 'activate_service',
    ops: [
      {
        op: 'activateServices',
        key: `line:${line.id}:activate`,
        body: activateServicesRequest(sub.code, [line]),
        lineIds: [line.id],
        products: [{ productId: line.productId, productCode: line.productCode }],
      },
    ],
  };
}

/**
 * add_one_shot: applyOneShotChargeInstance(default_code); an empty code (free one-shot) sends nothing. Whatever the
 * subscription's status: the original's `create_one_shot` sends the call without looking at it (a closed subscription
 * included), and OpenCell's answer decides.
 */
export function planApplyOneShot(input: LineJobInput): Plan {
  const { contract, line } = input;
  if (!line.productCode)
    return noop(`line ${line.id}: free one-shot (product without code), nothing to charge`);
  const sub = requireSubscription(input.subscription, contract, `apply the one-shot of line ${line.id}`);
  return {
    strategy: 'apply_one_shot',
    ops: [
      {
        op: 'applyOneShotChargeInstance',
        key: `line:${line.id}:one_shot`,
        body: oneShotChargeRequest(sub.code, line.productCode),
        lineIds: [line.id],
        products: [{ productId: line.productId, productCode: line.productCode }],
      },
    ],
  };
}

function terminateLineOps(
  sub: OcSubscriptionState,
  line: LineView,
  date: IsoDate,
  lines?: readonly LineView[],
): OcOperation[] {
  if (!line.productCode) return [];
  const code = line.productCode;
  const running = sub.services.filter((s) => s.code === code && isLiveInstance(s));
  const meta = { lineIds: [line.id], products: [{ productId: line.productId, productCode: code }] };
  // Instances of the code that other current lines hold (a same-product replacement, issue 15 §8 e) are kept: the
  // newest ones, since the newer lines were activated last.
  const keep = (lines ?? []).filter(
    (l) =>
      l.id !== line.id &&
      l.productCode === code &&
      expectedServiceState(l) === 'active' &&
      lineHasInstance(lines!, l, sub),
  ).length;
  if (keep > 0) {
    if (running.length <= keep) return [];
    if (!running.every((s) => typeof s.id === 'number'))
      throw new ProjectionRejectedError(
        `line ${line.id}: ${running.length} running instances of ${code} on ${sub.code} without ids, ${keep} of them ` +
          `other lines'; the one to end cannot be told apart`,
        { lineId: line.id, productCode: code, subscriptionCode: sub.code },
      );
    const ids = [...running]
      .sort(byId)
      .slice(0, running.length - keep)
      .map((s) => s.id as number);
    return [
      {
        op: 'terminateServices',
        key: `line:${line.id}:terminate`,
        body: terminateServicesRequest(sub.code, date, { serviceIds: ids }),
        ...meta,
      },
    ];
  }
  const live = running;
  if (live.length === 0) return [];
  if (live.length > 1 && live.every((s) => typeof s.id === 'number')) {
    const ids = live.map((s) => s.id as number);
    return [
      {
        op: 'terminateServices',
        key: `line:${line.id}:terminate`,
        body: terminateServicesRequest(sub.code, date, { serviceIds: ids }),
        ...meta,
      },
    ];
  }
  return live.map((_s, i) => ({
    op: 'terminateServices' as const,
    key: live.length === 1 ? `line:${line.id}:terminate` : `line:${line.id}:terminate:${i}`,
    body: terminateServicesRequest(sub.code, date, { services: [code] }),
    ...meta,
  }));
}

/**
 * terminate_service: terminateServices(date_end, [code]) for every instance of the line's product without a
 * termination date (never twice: an instance already terminated is skipped).
 */
export function planTerminateService(input: LineJobInput & { date?: IsoDate | null }): Plan {
  const { contract, line } = input;
  const sub = requireSubscription(input.subscription, contract, `terminate line ${line.id}`);
  const date = input.date ?? line.dateEnd;
  if (!date) {
    throw new ProjectionRejectedError(
      `contract line ${line.id} has no date_end to terminate its service at`,
      {
        lineId: line.id,
      },
    );
  }
  const ops = terminateLineOps(sub, line, date, input.lines);
  if (ops.length === 0)
    return noop(`no running instance of ${line.productCode ?? '(no code)'} on ${sub.code}`);
  return { strategy: 'terminate_service', ops };
}

export interface ContractJobInput {
  contract: ContractView;
  subscription: OcSubscriptionState | null;
}

/**
 * terminate_subscription: terminate at `terminate_date` (not `date_end`), reason CC_TERMINATION, after the
 * termination of every ended service line still running in OpenCell. Skipped when the subscription is already
 * terminated or has a termination scheduled.
 */
export function planTerminateSubscription(input: ContractJobInput): Plan {
  const { contract } = input;
  const sub = requireSubscription(input.subscription, contract, 'terminate the subscription');
  if ((sub.status !== undefined && CLOSED_SUBSCRIPTION.includes(sub.status)) || sub.terminationDate) {
    return noop(`subscription ${sub.code} is already terminated`);
  }
  if (!contract.terminateDate) {
    throw new ProjectionRejectedError(`contract ${contract.code} is terminated but has no terminate_date`, {
      contractId: contract.id,
      contractCode: contract.code,
    });
  }
  const lineOps = contract.lines
    .filter((l) => l.kind === 'service' && l.dateEnd !== null)
    .flatMap((l) => terminateLineOps(sub, l, l.dateEnd as IsoDate, contract.lines));
  return {
    strategy: 'terminate_subscription',
    ops: [
      ...lineOps,
      {
        op: 'terminateSubscription',
        key: `subscription:${sub.code}:terminate`,
        body: terminateSubscriptionRequest(sub.code, contract.terminateDate),
      },
    ],
  };
}

/** Deletes the access `code` of a subscription: one effect key per subscription and number, whichever plan sends it. */
const deleteAccessOp = (subscription: string, code: string): OcOperation => ({
  op: 'deleteAccess',
  key: `access:${subscription}:${code}:delete`,
  body: { code, subscription },
});

/**
 * update_phone_number: the subscription description becomes the new number, the old access (code = the previous
 * description) is deleted and the new one created. Each step is skipped when already done, so a replay after a
 * partial failure completes the change. Without a subscription, nothing: its creation will carry the number.
 */
export function planUpdatePhoneNumber(input: {
  contract: Pick<ContractView, 'id' | 'code'>;
  phone: string;
  /** the number before the change (from the change event), when known */
  previousPhone?: string | null;
  subscription: OcSubscriptionState | null;
}): Plan {
  const { contract, phone, subscription: sub } = input;
  if (sub === null)
    return noop(`subscription ${contract.code} does not exist yet; its creation carries the number`);
  const old = sub.description;
  const accesses = sub.accesses;
  const ops: OcOperation[] = [];
  if (old !== phone) {
    ops.push({
      op: 'updateSubscription',
      key: `subscription:${sub.code}:description:${phone}`,
      body: subscriptionDescriptionUpdate(sub, phone),
    });
  }
  // The old access: the subscription's previous description (the original's rule) — or, when a try was interrupted
  // after the description update, the number before the change, if OpenCell still holds an access for it.
  const olds = [...new Set([old, input.previousPhone])].filter((n): n is string => !!n && n !== phone);
  for (const o of olds) {
    const present = accesses === undefined ? o === old : accesses.includes(o);
    if (!present) continue;
    ops.push(deleteAccessOp(sub.code, o));
  }
  if (accesses === undefined ? old !== phone : !accesses.includes(phone)) {
    ops.push({
      op: 'createAccess',
      key: `access:${sub.code}:${phone}`,
      body: { code: phone, subscription: sub.code },
    });
  }
  if (ops.length === 0) return noop(`subscription ${sub.code} already has number ${phone}`);
  return { strategy: 'update_phone_number', ops };
}

/**
 * A number change superseded by a newer one (Odoo holds another number now): the newer change's own intent applies
 * that number, so this one sends nothing — except when an earlier try of it was interrupted after the description
 * update and before the old access was deleted. The newer change then takes the description (this change's number)
 * for the old one and cannot know about the access of the number before, which would stay in OpenCell for ever. So
 * the access of `previousPhone` goes when OpenCell still holds it and it is none of Odoo's current numbers (A → B → A
 * keeps A). Nothing else: creating this change's number would put back a number Odoo no longer has.
 */
export function planSupersededPhoneNumber(input: {
  phone: string;
  previousPhone?: string | null;
  /** the numbers Odoo holds now (the ISP info record's, the contract's stored one) */
  current: readonly (string | null)[];
  subscription: OcSubscriptionState | null;
  /** why the change is superseded, for the no-op note */
  note: string;
}): Plan {
  const { subscription: sub, previousPhone: old } = input;
  if (
    sub === null ||
    !old ||
    old === input.phone ||
    input.current.includes(old) ||
    sub.accesses === undefined ||
    !sub.accesses.includes(old)
  )
    return noop(input.note);
  return {
    strategy: 'update_phone_number',
    note: `${input.note}; the access of the number before it, ${old}, left by an interrupted try, is deleted`,
    ops: [deleteAccessOp(sub.code, old)],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Partner updates (docs/behaviour.md T6, identity)
// ---------------------------------------------------------------------------------------------------------------

/** update_customer: Customer.update with the full Customer payload. No customer in OpenCell → nothing. */
export function planUpdateCustomer(input: {
  partner: PartnerView;
  customer: OcCustomerState | null;
  config: ProjectionConfig;
}): Plan {
  const { partner } = input;
  if (!partner.ref || input.customer === null) {
    return noop(`partner ${partner.id} has no OpenCell customer yet; its first contract creates it`);
  }
  return {
    strategy: 'update_customer',
    ops: [
      {
        op: 'updateCustomer',
        key: `customer:${partner.ref}:update`,
        body: customerFromPartner(partner, input.config),
      },
    ],
  };
}

/**
 * update_accounts_address: the address strategy for every customer account of the partner's customer
 * (docs/behaviour.md T6b).
 */
export function planUpdateAccountsAddress(input: {
  partner: PartnerView;
  customer: OcCustomerState | null;
}): Plan {
  const { partner, customer } = input;
  if (!partner.ref || customer === null) {
    return noop(`partner ${partner.id} has no OpenCell customer yet; its first contract creates it`);
  }
  const ops: OcOperation[] = customer.customerAccounts.map((ca) => {
    const chosen = chooseUpdateStrategy({
      ref: partner.ref as string,
      field: 'address',
      customer,
      caCode: ca.code,
    });
    return {
      op: 'crmAccountHierarchyCreateOrUpdate',
      key: `ca:${chosen.caCode}:address`,
      body: crmFromPartnerAddress(partner, chosen.caCode),
    };
  });
  if (ops.length === 0) return noop(`customer ${customer.code} has no customer account`);
  return { strategy: 'address', ops };
}

// ---------------------------------------------------------------------------------------------------------------
// Update strategies (docs/behaviour.md §4)
// ---------------------------------------------------------------------------------------------------------------

export type UpdateStrategy = { strategy: 'email' | 'iban' | 'address'; caCode: string };

export interface UpdateStrategyInput {
  /** The customer code: the first contract's partner ref (or the partner's, for the address). */
  ref: string;
  field: string;
  customer: OcCustomerState | null;
  /** The contracts the change is for (the wizard's selection). */
  contractCodes?: readonly string[];
  /** ACTIVE subscriptions under the first contract's user account (`userAccount.code:{UA}|status:ACTIVE`). */
  activeSubscriptionCodes?: readonly string[];
  /** The first contract's subscription `userAccount` (forced IBAN path). */
  firstContractUserAccount?: string;
  /** The CA the address job is for. */
  caCode?: string;
  force?: boolean;
}

function fallback(message: string, details: Record<string, unknown>): never {
  throw new ProjectionRejectedError(message, { ...details, fallback: true });
}

/** The original's `CRMAccountHierarchyFromContractUpdateStrategies`, checks in the original's order. */
export function chooseUpdateStrategy(input: UpdateStrategyInput): UpdateStrategy {
  const { ref, field, customer } = input;
  const d = { customerCode: ref, field };
  if (customer === null) fallback(`Customer with code ${ref} not found in OC`, d);
  if (customer.customerAccounts.length === 0) {
    fallback(`Customer with code ${ref} does not have any customer account hierachy.`, d);
  }
  if (field === 'address') {
    if (!input.caCode) fallback('Something went wrong, unable to choose a strategy', d);
    return { strategy: 'address', caCode: input.caCode };
  }
  const codes = input.contractCodes ?? [];
  if (field === 'iban' && input.force) {
    if (codes.length !== 1)
      fallback('Many contracts used with Force Contract IBAN Strategy', { ...d, contractCodes: codes });
    if (!input.firstContractUserAccount) fallback('Something went wrong, unable to choose a strategy', d);
    return { strategy: 'iban', caCode: input.firstContractUserAccount };
  }
  if (customer.customerAccounts.length > 1) {
    fallback(
      `Customer with code ${ref} has more than one customer account hierachy. Please update OC manually.`,
      { ...d, customerAccounts: customer.customerAccounts.map((ca) => ca.code) },
    );
  }
  const active = [...new Set(input.activeSubscriptionCodes ?? [])].sort();
  const given = [...new Set(codes)].sort();
  if (active.length !== given.length || active.some((c, i) => c !== given[i])) {
    fallback(
      `Customer with code ${ref}: changing the ${field} of contracts [${given.join(', ')}] would need to divide the ` +
        `customer account hierarchy (its active subscriptions are [${active.join(', ')}])`,
      { ...d, contractCodes: given, activeSubscriptionCodes: active },
    );
  }
  const caCode = customer.customerAccounts[0].code;
  if (field === 'email') return { strategy: 'email', caCode };
  if (field === 'iban') return { strategy: 'iban', caCode };
  return fallback('Something went wrong, unable to choose a strategy', d);
}

export interface UpdateSubscriptionInput {
  field: 'email' | 'iban';
  /** The contract whose emails / mandate changed (current Odoo state). */
  contract: ContractView;
  /** The partner's other contracts (current Odoo state), to find which ones carry the same new value. */
  otherContracts?: readonly ContractView[];
  customer: OcCustomerState | null;
  /** `Subscription.get(contract.code)`; null when it does not exist. */
  subscription: OcSubscriptionState | null;
  /** ACTIVE subscriptions under `subscription.userAccount`. */
  activeSubscriptionCodes: readonly string[];
  /** The operator's forced IBAN change for this one contract (docs/behaviour.md W3). */
  force?: boolean;
  /** The payload settings (REFUSE_INVALID_IBAN, ACCOUNT_OWNER_NAME_FALLBACK); absent = the original's behaviour. */
  config?: ProjectionConfig;
}

function sameEmails(a: ContractView, b: ContractView): boolean {
  return a.emails.length === b.emails.length && a.emails.every((e, i) => e.email === b.emails[i].email);
}

function caHolds(field: 'email' | 'iban', ca: OcCustomerAccountState, contract: ContractView): boolean {
  // The account's current IBAN is its preferred method's: after a change OpenCell still lists the old one first.
  if (field === 'iban')
    return (
      normIban(ca.preferredIban !== undefined ? ca.preferredIban : ca.iban) ===
      normIban(contract.mandate?.iban)
    );
  if (ca.email !== requireFirstEmail(contract)) return false;
  // A single email sends ccedEmails null (unchanged in OpenCell): the account's own value does not matter then.
  const cced = ccedEmails(contract);
  return cced === null || ca.ccedEmails === undefined || (ca.ccedEmails ?? '') === cced;
}

/**
 * update_subscription(contracts, 'email' | 'iban') from a CDC change of one contract. The wizard's "all the
 * contracts of the CA" becomes: the contracts of the partner that now carry the same emails (or IBAN) as this one;
 * docs/behaviour.md §4's rule then requires them to cover every active subscription of the CA. The first of several
 * contracts changed together updates the CA; the others find it already updated (noop).
 */
export function planUpdateSubscription(input: UpdateSubscriptionInput): Plan {
  const { field, contract, subscription: sub } = input;
  if (sub === null) {
    return noop(
      `subscription ${contract.code} does not exist yet; its creation carries the current ${field}`,
    );
  }
  const current = input.customer?.customerAccounts.find((ca) => ca.code === sub.userAccount);
  if (current && !input.force && caHolds(field, current, contract)) {
    return noop(`customer account ${current.code} already has this ${field}`);
  }
  const same = (c: ContractView) =>
    field === 'email'
      ? sameEmails(c, contract)
      : normIban(c.mandate?.iban) === normIban(contract.mandate?.iban);
  const active = new Set(input.activeSubscriptionCodes);
  const covered = input.force
    ? [contract.code]
    : [
        contract.code,
        ...(input.otherContracts ?? [])
          .filter((c) => c.id !== contract.id && active.has(c.code) && same(c))
          .map((c) => c.code),
      ];
  const chosen = chooseUpdateStrategy({
    ref: requireRef(contract.partner),
    field,
    customer: input.customer,
    contractCodes: covered,
    activeSubscriptionCodes: input.activeSubscriptionCodes,
    firstContractUserAccount: sub.userAccount,
    force: input.force,
  });
  const body =
    field === 'email'
      ? crmToChangeEmail(contract, chosen.caCode)
      : crmToChangeIban(contract, chosen.caCode, input.config);
  return {
    strategy: chosen.strategy,
    ops: [{ op: 'crmAccountHierarchyCreateOrUpdate', key: `ca:${chosen.caCode}:${field}`, body }],
  };
}
