/**
 * The lease of a fence check (issue 15 §2; docs/architecture.md "Fencing").
 *
 * The partition's fencing epoch is checked in the state database before every state-changing call, but a process held
 * up after that check and before its request leaves (SIGSTOP, a VM freeze, a long GC pause) would send the call when
 * it resumes, after the partition's new owner has worked: an older address over a newer one, an activation after the
 * termination. So a check is trusted for `ms` only, counted from when it was sent, and:
 * - the transport refuses to send a call whose lease ran out (`assertLeases`, synchronously right before the request
 *   is written): FenceLeaseExpiredError, nothing was sent, the caller checks the fence again;
 * - a partition's new owner waits `ms` plus a margin after its take before it reads or calls (`graceUntil`, see
 *   src/adapters/postgres/fence.ts), so any call a previous owner can still send under a check made before the take
 *   has reached the server by then.
 * What remains is the time between the transport's last look at the clock and the request's bytes leaving the process
 * (microseconds) plus their transit: OpenCell and Odoo take no fencing token of their own.
 *
 * Durations only are compared between processes (each on its own monotonic clock), never instants.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { FenceLeaseExpiredError } from '../domain/errors';

/** How long a successful fence check is trusted for a call (default of `FENCE_LEASE_MS`). */
export const DEFAULT_FENCE_LEASE_MS = 2000;
/** What a new owner waits beyond the lease: clock-rate differences and the send itself. */
export const FENCE_GRACE_MARGIN_MS = 250;

/** This process's monotonic clock in ms: it keeps counting while the process is stopped. */
export const monotonicMs = (): number => performance.now();

export class CallLease {
  private validUntil = Number.NEGATIVE_INFINITY;
  private checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly ms: number,
    /** names the fenced partition in errors */
    readonly label: string,
  ) {}

  /** When the last check's trust ends (monotonicMs): no call under this lease leaves after it. */
  get liveUntil(): number {
    return this.validUntil;
  }

  /** A fence check sent at `sentAt` (monotonicMs, before the query left) found the epoch still ours. */
  renew(sentAt: number): void {
    if (sentAt <= this.checkedAt) return;
    this.checkedAt = sentAt;
    this.validUntil = sentAt + this.ms;
  }

  /** Throws FenceLeaseExpiredError when the last successful check is older than the lease. */
  assertLive(what: () => string, now = monotonicMs()): void {
    if (now < this.validUntil) return;
    const age = Number.isFinite(this.checkedAt) ? `${Math.round(now - this.checkedAt)} ms ago` : 'never';
    throw new FenceLeaseExpiredError(
      `${what()} not sent: the fence of ${this.label} was checked ${age}, longer than its ${this.ms} ms lease (this process was held up); checking again`,
      { partition: this.label, leaseMs: this.ms },
    );
  }
}

const storage = new AsyncLocalStorage<readonly CallLease[]>();

/** Runs `fn` (one state-changing call) so that the transport sends it only while every lease is live. */
export function underLeases<T>(leases: readonly CallLease[], fn: () => Promise<T>): Promise<T> {
  return leases.length === 0 ? fn() : storage.run(leases, fn);
}

/**
 * The transport's last look before a request leaves (synchronous, nothing may be awaited between it and the send):
 * throws FenceLeaseExpiredError when the call runs under a lease that ran out. Outside `underLeases`, nothing.
 */
export function assertLeases(what: () => string): void {
  const leases = storage.getStore();
  if (!leases) return;
  const now = monotonicMs();
  for (const l of leases) l.assertLive(what, now);
}
