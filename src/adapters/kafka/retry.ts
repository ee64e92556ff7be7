/**
 * Explicit retry policy (in the spirit of Temporal's RetryPolicy): exponential backoff with jitter and a cap, server
 * hints (429 Retry-After) honoured as a floor. Pure: no timers here.
 *
 * Two kinds of retriable failure are bounded differently (docs/decisions/0009-outages-block.md):
 * - an **outage** (`isOutage`: OpenCell or Odoo 5xx / 429 / timeout / unreachable, a database or Kafka down) is retried
 *   for as long as it lasts — the message is valid, and dead-lettering it would let the customer's next changes
 *   overtake it — unless `giveUpAfterMs` bounds it in time;
 * - a **wait** (PRECONDITION_PENDING: a precondition that a later change or a deadline should meet) is dead-lettered
 *   after `maxAttempts` such failures, as before: if it never resolves, the partition must not stop for good.
 */
import { isOutage, isRetriable } from '../../domain/errors';

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Retriable failures that are not outages: the message is dead-lettered at the `maxAttempts`-th of them. */
  maxAttempts: number;
  /**
   * Outages: the message is dead-lettered once it has been failing this long (ms since its first failure, on this
   * instance). 0 or absent: never — the partition waits for the outage to end (RETRY_GIVE_UP_AFTER_MS).
   */
  giveUpAfterMs?: number;
  /** 0 = no jitter, 1 = full jitter (delay uniformly in [base*(1-jitter), base]). */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialMs: 200,
  maxMs: 30_000,
  multiplier: 2,
  maxAttempts: 12,
  giveUpAfterMs: 0,
  jitter: 0.5,
};

/** What a message has been through when a try of it fails. */
export interface FailureHistory {
  /** The try that just failed (1-based), whatever its failure: the backoff grows with it. */
  attempt: number;
  /** Of those tries, how many failed with a retriable failure that is not an outage (this one included). */
  waits: number;
  /** ms since the message's first failure. */
  failingForMs: number;
}

export type RetryDecision =
  | { retry: true; delayMs: number; outage: boolean }
  | { retry: false; reason: 'not-retriable' | 'exhausted' | 'gave-up' };

/**
 * What to do after a try of a message failed with `err`. `history` may be the 1-based attempt alone (every failure
 * so far of the same kind as `err`, none long ago). `random` is injectable for tests.
 */
export function decideRetry(
  err: unknown,
  history: FailureHistory | number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  if (!isRetriable(err)) return { retry: false, reason: 'not-retriable' };
  const outage = isOutage(err);
  const h: FailureHistory =
    typeof history === 'number'
      ? { attempt: history, waits: outage ? 0 : history, failingForMs: 0 }
      : history;
  if (outage) {
    if (policy.giveUpAfterMs && h.failingForMs >= policy.giveUpAfterMs)
      return { retry: false, reason: 'gave-up' };
  } else if (h.waits >= policy.maxAttempts) return { retry: false, reason: 'exhausted' };
  return { retry: true, delayMs: backoffMs(h.attempt, policy, random, retryAfterOf(err)), outage };
}

/**
 * The delay after the `attempt`-th failed try: initialMs × multiplier^(attempt-1), capped at maxMs, less up to
 * `jitter` of it (so that partitions blocked by the same outage do not retry in step), and never under a server's
 * Retry-After hint (which may exceed the cap).
 */
export function backoffMs(
  attempt: number,
  policy: Pick<RetryPolicy, 'initialMs' | 'maxMs' | 'multiplier' | 'jitter'>,
  random: () => number = Math.random,
  hintMs?: number,
): number {
  // the exponent is bounded: after an outage of hours, multiplier^attempt would overflow to Infinity
  const exp = Math.min(Math.max(attempt - 1, 0), 64);
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, exp));
  const jittered = base * (1 - policy.jitter * random());
  const delayMs = Math.round(Math.max(jittered, hintMs ?? 0));
  return Math.min(delayMs, Math.max(policy.maxMs, hintMs ?? 0));
}

function retryAfterOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null) {
    const v = (err as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  }
  return undefined;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
