/**
 * The rule book shared by both sandboxes' fault injection: ordered rules, each with an optional `probability`
 * (seeded PRNG: reproducible runs) and `count` (spent after that many hits). For one request, every matching
 * `latency` rule adds its delay and the first matching terminal rule decides the outcome. Each sandbox says which
 * kinds it has, how a rule matches one of its requests, and any extra validation.
 */
import { seededRng } from '../seeded-random';
export interface BaseFaultRuleInput {
  kind: string;
  probability?: number;
  count?: number;
  latencyMs?: number;
  phase?: 'before' | 'after';
}

export type Rule<I> = I & { id: number; /** how many times the rule fired */ hits: number };

export interface RuleBookSpec<I extends BaseFaultRuleInput, K, C> {
  kinds: readonly I['kind'][];
  /** Extra checks of a new rule (throw on an invalid one). */
  validate?: (input: I) => void;
  /** Precomputed per rule (e.g. a compiled regular expression). */
  compile: (input: I) => C;
  matches: (rule: Rule<I>, compiled: C, key: K) => boolean;
}

/** The PRNG the sandboxes use (mulberry32): the same seed gives the same faults. */
export const seededRandom = seededRng;

export class FaultRuleBook<I extends BaseFaultRuleInput, K, C> {
  private rules: { rule: Rule<I>; compiled: C }[] = [];
  private nextId = 1;
  private rnd: () => number;

  constructor(
    private readonly spec: RuleBookSpec<I, K, C>,
    private readonly seed = 1,
  ) {
    this.rnd = seededRandom(seed);
  }

  /** Adds a rule; throws on an invalid one. */
  add(input: I): Rule<I> {
    if (!input || !this.spec.kinds.includes(input.kind))
      throw new Error(`kind must be one of ${this.spec.kinds.join(', ')}`);
    if (input.probability !== undefined && !(input.probability >= 0 && input.probability <= 1)) {
      throw new Error('probability must be between 0 and 1');
    }
    if (input.count !== undefined && !(Number.isInteger(input.count) && input.count > 0)) {
      throw new Error('count must be a positive integer');
    }
    if (input.kind === 'latency' && !(typeof input.latencyMs === 'number' && input.latencyMs >= 0)) {
      throw new Error('latency rules need latencyMs >= 0');
    }
    if (input.phase !== undefined && input.phase !== 'before' && input.phase !== 'after') {
      throw new Error('phase must be "before" or "after"');
    }
    this.spec.validate?.(input);
    const rule = { ...input, id: this.nextId++, hits: 0 } as Rule<I>;
    this.rules.push({ rule, compiled: this.spec.compile(input) });
    return { ...rule };
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.rule.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
    this.rnd = seededRandom(this.seed);
  }

  list(): Rule<I>[] {
    return this.rules.map((r) => ({ ...r.rule }));
  }

  /**
   * Decides what happens to one request (consumes counts). `latencyMs` is spent before the request is handled,
   * `latencyAfterMs` (latency rules with `phase: "after"`) after it was handled and before its answer is sent: the
   * window in which the change is made and the caller does not know it yet.
   */
  match(key: K): { latencyMs: number; latencyAfterMs: number; terminal?: Rule<I> } {
    let latencyMs = 0;
    let latencyAfterMs = 0;
    let terminal: Rule<I> | undefined;
    for (const entry of [...this.rules]) {
      const r = entry.rule;
      if (!this.spec.matches(r, entry.compiled, key)) continue;
      if (r.kind !== 'latency' && terminal) continue;
      if (r.probability !== undefined && this.rnd() >= r.probability) continue;
      r.hits++;
      if (r.count !== undefined) {
        r.count--;
        if (r.count <= 0) this.rules = this.rules.filter((x) => x !== entry);
      }
      if (r.kind === 'latency') {
        if (r.phase === 'after') latencyAfterMs += r.latencyMs ?? 0;
        else latencyMs += r.latencyMs ?? 0;
      } else terminal = { ...r };
    }
    return { latencyMs, latencyAfterMs, terminal };
  }
}
