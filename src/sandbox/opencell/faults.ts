import { seededRandom } from './util';

/**
 * Run-time fault injection. Rules are checked in order for every API request (the admin surface is never
 * faulted). All matching `latency` rules add their delay; the first matching terminal rule decides the outcome:
 *
 * - `error`: an HTTP 5xx (default 503, text/plain, like a gateway; with `errorCode` a JSON ActionStatus instead);
 * - `timeout`: the request hangs and is never answered (the client's timeout fires);
 * - `rateLimit`: HTTP 429 with `Retry-After` (delta-seconds, or an HTTP date with `retryAfterHttpDate`);
 * - `fail200`: HTTP 200 whose body is `{status:"FAIL", errorCode, message}` (pre-4.7 / odd endpoints);
 * - `reset`: the connection is destroyed without a response.
 *
 * `path` is a regular expression tested against the API path (e.g. `^/billing/subscription`), `method` an HTTP
 * method, `probability` the share of matching requests affected (seeded PRNG: reproducible), `count` how many
 * times the rule fires before it is spent. `phase: "after"` lets the request reach the handler (state changes)
 * and then loses the response — the "committed but the client saw an error" case.
 */
export type FaultKind = 'latency' | 'error' | 'timeout' | 'rateLimit' | 'fail200' | 'reset';

export interface FaultRuleInput {
  kind: FaultKind;
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

export interface FaultRule extends FaultRuleInput {
  id: number;
  /** How many times the rule fired. */
  hits: number;
}

const KINDS: readonly FaultKind[] = ['latency', 'error', 'timeout', 'rateLimit', 'fail200', 'reset'];

export class FaultInjector {
  private rules: Array<FaultRule & { re?: RegExp }> = [];
  private nextId = 1;
  private rnd: () => number;

  constructor(private readonly seed = 1) {
    this.rnd = seededRandom(seed);
  }

  /** Adds a rule; throws on an invalid one. */
  add(input: FaultRuleInput): FaultRule {
    if (!input || !KINDS.includes(input.kind)) throw new Error(`kind must be one of ${KINDS.join(', ')}`);
    if (input.probability !== undefined && !(input.probability >= 0 && input.probability <= 1)) {
      throw new Error('probability must be between 0 and 1');
    }
    if (input.count !== undefined && !(Number.isInteger(input.count) && input.count > 0))
      throw new Error('count must be a positive integer');
    if (input.kind === 'latency' && !(typeof input.latencyMs === 'number' && input.latencyMs >= 0)) {
      throw new Error('latency rules need latencyMs >= 0');
    }
    if (
      input.kind === 'error' &&
      input.status !== undefined &&
      !(input.status >= 500 && input.status <= 599)
    ) {
      throw new Error('error rules take a 5xx status');
    }
    const re = input.path ? new RegExp(input.path) : undefined;
    const rule = { ...input, id: this.nextId++, hits: 0, re };
    this.rules.push(rule);
    return this.publicRule(rule);
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
    this.rnd = seededRandom(this.seed);
  }

  list(): FaultRule[] {
    return this.rules.map((r) => this.publicRule(r));
  }

  private publicRule(r: FaultRule & { re?: RegExp }): FaultRule {
    const { re: _re, ...rest } = r;
    return { ...rest };
  }

  /** Decides what happens to one request (consumes counts). */
  match(method: string, path: string): { latencyMs: number; terminal?: FaultRule } {
    let latencyMs = 0;
    let terminal: FaultRule | undefined;
    for (const r of this.rules) {
      if (r.method && r.method.toUpperCase() !== method) continue;
      if (r.re && !r.re.test(path)) continue;
      if (r.kind !== 'latency' && terminal) continue;
      if (r.probability !== undefined && this.rnd() >= r.probability) continue;
      r.hits++;
      if (r.count !== undefined) {
        r.count--;
        if (r.count <= 0) this.rules = this.rules.filter((x) => x !== r);
      }
      if (r.kind === 'latency') latencyMs += r.latencyMs ?? 0;
      else terminal = this.publicRule(r);
    }
    return { latencyMs, terminal };
  }
}
