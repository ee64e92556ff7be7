/**
 * `reconcile`: compares what Odoo says (OdooViews) with what OpenCell holds (OpenCellState) for a partner's
 * contracts, and lists the drift, each item with the intent that repairs it (null when only a person can decide).
 * The comparison (computeDrift) is pure; loading is src/flows/reconcile.ts.
 *
 * Checks, per partner: the customer exists (code = partner ref) and has customer accounts; per contract: the
 * subscription exists while the contract is live, is terminated when the contract is, carries a live service
 * instance for each live service line (and none for services whose lines ended), and has the contract's phone
 * number as an access. Which lines are live or ended is the projector's own rule (expectedServiceState): a line
 * with a `date_end` — today's or tomorrow's included — was terminated by the projector at that date, so its
 * instance is expected terminated (or its termination scheduled), never activated again; a service OpenCell holds
 * terminated is never activated by `--fix`.
 */
import { accessFromContract, type ProjectionConfig } from './projection/payloads';
import { expectedServiceState, isLiveInstance } from './projection/strategies';
import type { Intent } from './projection/triggers';
import {
  WATCHED_ISP_INFO_TABLES,
  type ContractView,
  type LineView,
  type OcCustomerState,
  type OcServiceInstanceState,
  type OcSubscriptionState,
  type PartnerView,
  type WatchedIspInfoTable,
} from './projection/views';

export type DriftKind =
  | 'partner_without_ref'
  | 'customer_missing'
  | 'customer_accounts_missing'
  | 'subscription_missing'
  | 'subscription_not_terminated'
  | 'subscription_ended_in_opencell'
  | 'service_missing'
  | 'service_ended_in_opencell'
  | 'service_not_terminated'
  | 'service_unexpected'
  | 'access_missing';

export interface Drift {
  kind: DriftKind;
  partnerId: number;
  partnerRef: string | null;
  contractId: number | null;
  contractCode: string | null;
  detail: string;
  /** the intent that repairs it; null when the repair needs a decision (reported only) */
  fix: Intent | null;
}

export interface DriftInput {
  partner: PartnerView;
  contracts: readonly ContractView[];
  customer: OcCustomerState | null;
  /** by contract code; null = does not exist in OpenCell */
  subscriptions: ReadonlyMap<string, OcSubscriptionState | null>;
  /**
   * YYYY-MM-DD, for the report only: whether a line is live or ended is expectedServiceState's rule, which has no
   * "today" (a line with a `date_end` is ended from the projector's termination on, whatever the day).
   */
  today: string;
  /**
   * The payload settings the access check reads (PHONE_PLACEHOLDER_IS_NO_NUMBER): the expected access is the one the
   * projector creates (`accessFromContract`). Absent = the original's ("-" is an access code).
   */
  config?: Pick<ProjectionConfig, 'phonePlaceholderIsNoNumber'>;
}

const ENDED_SUBSCRIPTION = ['RESILIATED', 'CANCELED', 'CLOSED', 'TERMINATED'];

export function isEndedSubscription(s: OcSubscriptionState): boolean {
  return (
    (s.status !== undefined && ENDED_SUBSCRIPTION.includes(s.status)) ||
    (s.terminationDate !== undefined && s.terminationDate !== null && s.status !== 'ACTIVE')
  );
}

/** A service line whose instance OpenCell should run (expectedServiceState 'active'). */
export function isLiveServiceLine(l: LineView): boolean {
  return expectedServiceState(l) === 'active';
}

/** A service line the projector terminated at its `date_end` (expectedServiceState 'terminated'). */
function isEndedServiceLine(l: LineView): boolean {
  return expectedServiceState(l) === 'terminated';
}

/** How an instance without a live status ended, for the drift's detail. */
function instanceEnd(s: OcServiceInstanceState): string {
  const ended = s.status !== undefined && s.status !== 'ACTIVE' && s.status !== 'INACTIVE';
  return ended ? (s.status as string) : `${s.status ?? 'status unknown'}, termination scheduled`;
}

/** `date_end` relative to the report's day, for the drift's detail. */
function endedOn(dateEnd: string, today: string): string {
  if (dateEnd > today) return `ends ${dateEnd} (termination scheduled)`;
  return dateEnd === today ? `ended ${dateEnd} (today)` : `ended ${dateEnd}`;
}

export function computeDrift(input: DriftInput): Drift[] {
  const { partner, contracts, customer, subscriptions, today } = input;
  const out: Drift[] = [];
  const base = { partnerId: partner.id, partnerRef: partner.ref };
  const live = contracts.filter((c) => !c.isTerminated);
  if (!partner.ref) {
    if (live.length)
      out.push({
        ...base,
        kind: 'partner_without_ref',
        contractId: null,
        contractCode: null,
        detail: `partner ${partner.id} has live contracts but no ref (customer code)`,
        fix: null,
      });
    return out;
  }
  if (live.length && customer === null) {
    out.push({
      ...base,
      kind: 'customer_missing',
      contractId: null,
      contractCode: null,
      detail: `customer ${partner.ref} does not exist in OpenCell (created by its contracts' create_subscription)`,
      fix: null,
    });
  } else if (live.length && customer && customer.customerAccounts.length === 0) {
    out.push({
      ...base,
      kind: 'customer_accounts_missing',
      contractId: null,
      contractCode: null,
      detail: `customer ${partner.ref} has no customer account in OpenCell`,
      fix: null,
    });
  }
  for (const c of contracts) {
    const at = { ...base, contractId: c.id, contractCode: c.code };
    const sub = subscriptions.get(c.code) ?? null;
    if (!sub) {
      if (!c.isTerminated)
        out.push({
          ...at,
          kind: 'subscription_missing',
          detail: `subscription ${c.code} does not exist in OpenCell`,
          fix: { kind: 'create_subscription', contractId: c.id },
        });
      continue;
    }
    const ended = isEndedSubscription(sub);
    if (c.isTerminated) {
      if (!ended) {
        out.push({
          ...at,
          kind: 'subscription_not_terminated',
          detail: `contract ${c.code} is terminated in Odoo; subscription is ${sub.status ?? 'not terminated'} in OpenCell`,
          fix: { kind: 'terminate_subscription', contractId: c.id, date: c.terminateDate },
        });
      }
      continue;
    }
    if (ended) {
      out.push({
        ...at,
        kind: 'subscription_ended_in_opencell',
        detail: `contract ${c.code} is live in Odoo; subscription is ${sub.status ?? 'terminated'} in OpenCell`,
        fix: null,
      });
      continue;
    }
    const liveLines = c.lines.filter(isLiveServiceLine);
    const liveInstances = sub.services.filter(isLiveInstance);
    const liveCodes = new Set(liveInstances.map((s) => s.code));
    for (const l of liveLines) {
      if (!liveCodes.has(l.productCode as string)) {
        const terminated = sub.services.filter((s) => s.code === l.productCode);
        // An ended line of the same product explains its terminated instances (the product added again): activate.
        const explained = c.lines.some((o) => isEndedServiceLine(o) && o.productCode === l.productCode);
        if (terminated.length > 0 && !explained) {
          // Never activated again by --fix: OpenCell holds the service terminated (by hand, or the line's date_end
          // was cleared after the projector ended it); whether it runs again is the operator's decision.
          out.push({
            ...at,
            kind: 'service_ended_in_opencell',
            detail:
              `line ${l.id} (${l.productCode}) is live in Odoo (no date_end); its service is terminated in OpenCell ` +
              `(${terminated.map(instanceEnd).join('; ')}): not re-activated, a decision for the operator`,
            fix: null,
          });
          continue;
        }
        out.push({
          ...at,
          kind: 'service_missing',
          detail: `line ${l.id} (${l.productCode}) has no live service instance`,
          fix: {
            kind: 'activate_service',
            contractId: c.id,
            lineId: l.id,
            productId: l.productId,
            productCode: l.productCode,
          },
        });
      }
    }
    const wanted = new Set(liveLines.map((l) => l.productCode as string));
    for (const code of [...liveCodes].sort()) {
      if (wanted.has(code)) continue;
      const endedLine = [...c.lines].reverse().find((l) => isEndedServiceLine(l) && l.productCode === code);
      if (endedLine) {
        out.push({
          ...at,
          kind: 'service_not_terminated',
          detail: `service ${code} is live in OpenCell; line ${endedLine.id} ${endedOn(endedLine.dateEnd as string, today)}`,
          fix: {
            kind: 'terminate_service',
            contractId: c.id,
            lineId: endedLine.id,
            productId: endedLine.productId,
            productCode: code,
            date: endedLine.dateEnd as string,
          },
        });
      } else {
        out.push({
          ...at,
          kind: 'service_unexpected',
          detail: `service ${code} is live in OpenCell but no line of contract ${c.code} has that product`,
          fix: null,
        });
      }
    }
    const phone = accessFromContract(c, input.config)?.code;
    if (phone && sub.accesses !== undefined && !sub.accesses.includes(phone)) {
      const info = c.ispInfo;
      const watched = info && (WATCHED_ISP_INFO_TABLES as readonly string[]).includes(info.table);
      out.push({
        ...at,
        kind: 'access_missing',
        detail: `phone number ${phone} is not an access of subscription ${c.code} (accesses: ${sub.accesses.join(', ') || 'none'})`,
        fix:
          watched && info
            ? {
                kind: 'update_phone_number',
                infoTable: info.table as WatchedIspInfoTable,
                infoId: info.id,
                phone,
                previousPhone: sub.description,
              }
            : { kind: 'create_subscription', contractId: c.id },
      });
    }
  }
  return out;
}
