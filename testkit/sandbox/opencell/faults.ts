import { FaultRuleBook, type Rule } from '../fault-rules';
import {
  OPENCELL_OPERATIONS,
  pathPattern,
  type OpenCellOperationName,
} from '../../../src/domain/opencell/operations';

/**
 * Run-time fault injection. Rules are checked in order for every API request (the admin surface is never
 * faulted). All matching `latency` rules add their delay; the first matching terminal rule decides the outcome:
 *
 * - `error`: an HTTP 5xx (default 503, text/plain, like a gateway; with `errorCode` a JSON ActionStatus instead);
 * - `timeout`: the request hangs and is never answered (the client's timeout fires);
 * - `rateLimit`: HTTP 429 with `Retry-After` (delta-seconds, or an HTTP date with `retryAfterHttpDate`);
 * - `fail200`: HTTP 200 whose body is `{status:"FAIL", errorCode, message}` (pre-4.7 / odd endpoints);
 * - `reset`: the connection is destroyed without a response;
 * - `applyThenTimeout` ("apply then time out", issue 15 §3): the request is handled — its change is made — and its
 *   answer is withheld for good (the client's timeout fires): the caller cannot know the call was applied. The journal
 *   entry keeps the withheld answer's status in `withheldStatus`.
 *
 * `operation` selects the requests of one catalogue operation (src/domain/opencell/operations.ts: its method and path
 * template), `path` is a regular expression tested against the API path (e.g. `^/billing/subscription`), `method` an HTTP
 * method, `probability` the share of matching requests affected (seeded PRNG: reproducible), `count` how many
 * times the rule fires before it is spent. `phase: "after"` lets the request reach the handler (state changes)
 * and then loses the response — the "committed but the client saw an error" case; on a `latency` rule it holds the
 * answer of a request already handled (accepted, the caller not told yet: the window a kill -9 of the caller must
 * hit to leave a create it does not know about).
 */
export type FaultKind =
  'latency' | 'error' | 'timeout' | 'rateLimit' | 'fail200' | 'reset' | 'applyThenTimeout';

export interface FaultRuleInput {
  kind: FaultKind;
  /** A catalogue operation name, e.g. `applyOneShotChargeInstance`. */
  operation?: OpenCellOperationName;
  path?: string;
  method?: string;
  probability?: number;
  count?: number;
  latencyMs?: number;
  status?: number;
  retryAfterSeconds?: number;
  retryAfterHttpDate?: boolean;
  errorCode?: string;
  message?: string;
  phase?: 'before' | 'after';
}

export type FaultRule = Rule<FaultRuleInput>;

const KINDS: readonly FaultKind[] = [
  'latency',
  'error',
  'timeout',
  'rateLimit',
  'fail200',
  'reset',
  'applyThenTimeout',
];

interface Compiled {
  path?: RegExp;
  operation?: { method: string; path: RegExp };
}

/** OpenCell's rules match an HTTP method and a regular expression on the API path. */
export class FaultInjector {
  private readonly book: FaultRuleBook<FaultRuleInput, { method: string; path: string }, Compiled>;

  constructor(seed = 1) {
    this.book = new FaultRuleBook(
      {
        kinds: KINDS,
        validate: (input) => {
          if (
            input.kind === 'error' &&
            input.status !== undefined &&
            !(input.status >= 500 && input.status <= 599)
          ) {
            throw new Error('error rules take a 5xx status');
          }
          if (input.operation !== undefined && !(input.operation in OPENCELL_OPERATIONS))
            throw new Error(`unknown operation ${input.operation}`);
          if (input.kind === 'applyThenTimeout' && input.phase === 'before')
            throw new Error('applyThenTimeout applies the call first: no phase "before"');
        },
        compile: (input): Compiled => {
          const spec = input.operation === undefined ? undefined : OPENCELL_OPERATIONS[input.operation];
          return {
            path: input.path ? new RegExp(input.path) : undefined,
            operation: spec && { method: spec.method, path: pathPattern(spec.path) },
          };
        },
        matches: (r, c, k) =>
          (!r.method || r.method.toUpperCase() === k.method) &&
          (!c.path || c.path.test(k.path)) &&
          (!c.operation || (c.operation.method === k.method && c.operation.path.test(k.path))),
      },
      seed,
    );
  }

  /** Adds a rule; throws on an invalid one. */
  add(input: FaultRuleInput): FaultRule {
    return this.book.add(input);
  }

  remove(id: number): boolean {
    return this.book.remove(id);
  }

  clear(): void {
    this.book.clear();
  }

  list(): FaultRule[] {
    return this.book.list();
  }

  /** Decides what happens to one request (consumes counts). */
  match(method: string, path: string): { latencyMs: number; latencyAfterMs: number; terminal?: FaultRule } {
    return this.book.match({ method, path });
  }
}
