import type { Customer, CustomerAccount, Subscription } from '../../domain/opencell/codecs';
import type { OpenCellClient } from './client';
import type {
  OcCustomerAccountState,
  OcCustomerState,
  OcServiceInstanceState,
  OcSubscriptionState,
} from '../../domain/projection/views';

/**
 * Loads the OpenCell state the strategies look at (OcCustomerState / OcSubscriptionState), through the
 * production OpenCellClient. Reads only; never retries (client errors propagate to the pipeline's retry policy);
 * "not found" is null.
 *
 * - customer(code): `Customer.get` with its customer accounts. Per CA: `contactInformation.email`, the IBAN of
 *   `methodOfPayment[0]` (the original's rule; read from `CustomerAccount.get` when the customer read carries no
 *   payment methods) and the billing account's `ccedEmails` (`BillingAccount.get` of the same code: CA_UA
 *   hierarchies share one code; left undefined — "unknown" — when there is no such BA). The CA reads run in
 *   parallel.
 * - subscription(code): `Subscription.get` with its service instances and access codes (`Access.list` when the
 *   subscription read carries no accesses).
 * - activeSubscriptionCodes(ua): every ACTIVE subscription of a user account (`Subscription.list`, all pages).
 */

/** The client calls this module uses (the production OpenCellClient satisfies it). */
export type OpenCellStateClient = Pick<
  OpenCellClient,
  | 'getCustomer'
  | 'getCustomerAccount'
  | 'getBillingAccount'
  | 'getSubscription'
  | 'listSubscriptions'
  | 'listAccesses'
>;

export interface OpenCellStateOptions {
  /** Read each CA's billing account for its ccedEmails (default true; false leaves `ccedEmails` undefined). */
  billingAccounts?: boolean;
  /** Page size of subscription listings (default 100). */
  pageSize?: number;
}

const dedupe = (codes: readonly string[]): string[] => [...new Set(codes)];

/** A customer account of a `Customer.get` answer as the strategies see it. */
export function toCustomerAccountState(
  ca: CustomerAccount,
  billingAccount?: { ccedEmails?: string | null } | null,
): OcCustomerAccountState {
  const methods = ca.methodOfPayment ?? [];
  const state: OcCustomerAccountState = {
    code: ca.code,
    email: ca.contactInformation?.email ?? null,
    iban: methods[0]?.bankCoordinates?.iban ?? null,
    preferredIban: (methods.find((m) => m.preferred === true) ?? methods[0])?.bankCoordinates?.iban ?? null,
  };
  return billingAccount ? { ...state, ccedEmails: billingAccount.ccedEmails ?? null } : state;
}

/** A `Customer.get` answer (with its customer accounts) as the strategies see it. */
export function toCustomerState(
  customer: Customer,
  billingAccounts: ReadonlyMap<string, { ccedEmails?: string | null } | null> = new Map(),
): OcCustomerState {
  return {
    code: customer.code,
    customerAccounts: (customer.customerAccounts?.customerAccount ?? []).map((ca) =>
      toCustomerAccountState(ca, billingAccounts.get(ca.code)),
    ),
  };
}

/** A `Subscription.get` / list item as the strategies see it; `accesses` undefined when not read. */
export function toSubscriptionState(sub: Subscription, accesses?: readonly string[]): OcSubscriptionState {
  const services: OcServiceInstanceState[] = (sub.services?.serviceInstance ?? []).map((si) => {
    const out: OcServiceInstanceState = { code: si.code, terminationDate: si.terminationDate ?? null };
    if (typeof si.id === 'number') out.id = si.id;
    if (si.status) out.status = si.status;
    return out;
  });
  const fromSub = sub.accesses?.access;
  const codes = accesses ?? (Array.isArray(fromSub) ? fromSub.map((a) => a.code) : undefined);
  const state: OcSubscriptionState = {
    code: sub.code,
    userAccount: sub.userAccount ?? '',
    description: sub.description ?? null,
    subscriptionDate: sub.subscriptionDate ?? null,
    endAgreementDate: sub.endAgreementDate ?? null,
    terminationDate: sub.terminationDate ?? null,
    services,
  };
  if (sub.status) state.status = sub.status;
  if (codes !== undefined) state.accesses = dedupe(codes);
  return state;
}

export class OpenCellState {
  readonly #client: OpenCellStateClient;
  readonly #opts: Required<OpenCellStateOptions>;

  constructor(client: OpenCellStateClient, opts: OpenCellStateOptions = {}) {
    this.#client = client;
    this.#opts = { billingAccounts: opts.billingAccounts ?? true, pageSize: opts.pageSize ?? 100 };
  }

  /** `Customer.get(code)` with its customer accounts (email, IBAN, ccedEmails); null when it does not exist. */
  async customer(code: string): Promise<OcCustomerState | null> {
    const customer = await this.#client.getCustomer(code, { includeCustomerAccounts: true });
    if (customer === null) return null;
    const cas = customer.customerAccounts?.customerAccount ?? [];
    // Payment methods missing from the customer read (some OpenCell versions): read each CA.
    const fullCas = await Promise.all(
      cas.map(async (ca) =>
        ca.methodOfPayment == null ? ((await this.#client.getCustomerAccount(ca.code)) ?? ca) : ca,
      ),
    );
    const bas = new Map<string, { ccedEmails?: string | null } | null>();
    if (this.#opts.billingAccounts) {
      const read = await Promise.all(fullCas.map((ca) => this.#client.getBillingAccount(ca.code)));
      fullCas.forEach((ca, i) => bas.set(ca.code, read[i]));
    }
    return toCustomerState({ ...customer, customerAccounts: { customerAccount: fullCas } }, bas);
  }

  /** `Subscription.get(code)` with service instances and access codes; null when it does not exist. */
  async subscription(code: string): Promise<OcSubscriptionState | null> {
    const sub = await this.#client.getSubscription(code);
    if (sub === null) return null;
    if (Array.isArray(sub.accesses?.access)) return toSubscriptionState(sub);
    const accesses = await this.#client.listAccesses(code);
    return toSubscriptionState(
      sub,
      accesses.map((a) => a.code),
    );
  }

  /**
   * The subscriptions of a user account (every page), optionally of one status, sorted by code. Listed items
   * carry what the list returns (services / accesses only when OpenCell includes them).
   */
  async subscriptionsOfUserAccount(
    userAccountCode: string,
    opts: { status?: string } = {},
  ): Promise<OcSubscriptionState[]> {
    const out: OcSubscriptionState[] = [];
    const limit = this.#opts.pageSize;
    for (let offset = 0; ;) {
      const page = await this.#client.listSubscriptions({
        userAccountCode,
        filters: opts.status ? { status: opts.status } : undefined,
        offset,
        limit,
        sortBy: 'code',
        sortOrder: 'ASCENDING',
      });
      out.push(...page.items.map((s) => toSubscriptionState(s)));
      offset += page.items.length;
      if (page.items.length < limit) break; // the total is optional: read until a short page
    }
    return out;
  }

  /** Codes of the ACTIVE subscriptions under a user account (`userAccount.code:{UA}|status:ACTIVE`). */
  async activeSubscriptionCodes(userAccountCode: string): Promise<string[]> {
    const subs = await this.subscriptionsOfUserAccount(userAccountCode, { status: 'ACTIVE' });
    return dedupe(subs.filter((s) => s.status === undefined || s.status === 'ACTIVE').map((s) => s.code));
  }

  /**
   * Everything planUpdateSubscription needs for one contract, read in parallel where possible: the customer
   * (by the contract holder's ref), the contract's subscription and the ACTIVE subscriptions of its user
   * account ([] when the subscription does not exist).
   */
  async forContract(
    customerCode: string,
    subscriptionCode: string,
  ): Promise<{
    customer: OcCustomerState | null;
    subscription: OcSubscriptionState | null;
    activeSubscriptionCodes: string[];
  }> {
    const [customer, subscription] = await Promise.all([
      this.customer(customerCode),
      this.subscription(subscriptionCode),
    ]);
    const activeSubscriptionCodes =
      subscription && subscription.userAccount
        ? await this.activeSubscriptionCodes(subscription.userAccount)
        : [];
    return { customer, subscription, activeSubscriptionCodes };
  }
}
