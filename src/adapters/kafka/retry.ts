/**
 * Explicit retry policy (in the spirit of Temporal's RetryPolicy): exponential backoff with full jitter and a
 * cap, a maximum attempt count, and server hints (429 Retry-After) honoured as a floor. Pure: no timers here.
 */
import { isRetriable } from '../../domain/errors';

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  maxAttempts: number;
  /** 0 = no jitter, 1 = full jitter (delay uniformly in [base*(1-jitter), base]). */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  initialMs: 200,
  maxMs: 30_000,
  multiplier: 2,
  maxAttempts: 12,
  jitter: 0.5,
};

export type RetryDecision =
  { retry: true; delayMs: number } | { retry: false; reason: 'not-retriable' | 'exhausted' };

/**
 * What to do after `attempt` (1-based) failed with `err`. `random` is injectable for tests.
 */
export function decideRetry(
  err: unknown,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  if (!isRetriable(err)) return { retry: false, reason: 'not-retriable' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'exhausted' };
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, attempt - 1));
  const jittered = base * (1 - policy.jitter * random());
  const hint = retryAfterOf(err);
  const delayMs = Math.round(Math.max(jittered, hint ?? 0));
  return { retry: true, delayMs: Math.min(delayMs, Math.max(policy.maxMs, hint ?? 0)) };
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
