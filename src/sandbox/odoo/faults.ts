/**
 * Run-time fault injection for the Odoo sandbox. Rules are checked in order for every `/jsonrpc` call (the admin
 * surface is never faulted). Every matching `latency` rule adds its delay; the first matching terminal rule decides:
 *
 * - `rpcError`: HTTP 200 with Odoo's error envelope, `error.data.name` = `errorName`
 *   (default `psycopg2.errors.SerializationFailure`) and `message`;
 * - `http`: an HTTP 5xx (default 503) with a text body, like a proxy in front of Odoo;
 * - `timeout`: the request is never answered (the client's timeout fires);
 * - `reset`: the connection is destroyed without a response.
 *
 * Matching: `service` (common/object), `method` (the RPC method or, for execute_kw, the model method such as
 * `create`), `model` (a regular expression on the model name). `probability` is the share of matching calls hit
 * (seeded PRNG), `count` how many times the rule fires before it is spent. `phase: "after"` runs the call (and
 * commits it) before the fault replaces the answer: "committed but the client saw an error".
 */
export type OdooFaultKind = 'latency' | 'rpcError' | 'http' | 'timeout' | 'reset';

export interface OdooFaultRuleInput {
  kind: OdooFaultKind;
  service?: string;
  method?: string;
  model?: string;
  probability?: number;
  count?: number;
  latencyMs?: number;
  errorName?: string;
  message?: string;
  status?: number;
  phase?: 'before' | 'after';
}

export interface OdooFaultRule extends OdooFaultRuleInput {
  id: number;
  hits: number;
}

const KINDS: readonly OdooFaultKind[] = ['latency', 'rpcError', 'http', 'timeout', 'reset'];

function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CallKey {
  service: string;
  method: string;
  model?: string;
}

export class OdooFaultInjector {
  private rules: Array<OdooFaultRule & { re?: RegExp }> = [];
  private nextId = 1;
  private rnd: () => number;

  constructor(private readonly seed = 1) {
    this.rnd = seededRandom(seed);
  }

  add(input: OdooFaultRuleInput): OdooFaultRule {
    if (!input || !KINDS.includes(input.kind)) throw new Error(`kind must be one of ${KINDS.join(', ')}`);
    if (input.probability !== undefined && !(input.probability >= 0 && input.probability <= 1)) {
      throw new Error('probability must be between 0 and 1');
    }
    if (input.count !== undefined && !(Number.isInteger(input.count) && input.count > 0)) {
      throw new Error('count must be a positive integer');
    }
    if (input.kind === 'latency' && !(typeof input.latencyMs === 'number' && input.latencyMs >= 0)) {
      throw new Error('latency rules need latencyMs >= 0');
    }
    if (input.kind === 'http' && input.status !== undefined && !(input.status >= 500 && input.status <= 599)) {
      throw new Error('http rules take a 5xx status');
    }
    if (input.phase !== undefined && input.phase !== 'before' && input.phase !== 'after') {
      throw new Error('phase must be "before" or "after"');
    }
    const re = input.model ? new RegExp(input.model) : undefined;
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

  list(): OdooFaultRule[] {
    return this.rules.map((r) => this.publicRule(r));
  }

  private publicRule(r: OdooFaultRule & { re?: RegExp }): OdooFaultRule {
    const { re: _re, ...rest } = r;
    return { ...rest };
  }

  /** Decides what happens to one call (consumes counts). */
  match(call: CallKey): { latencyMs: number; terminal?: OdooFaultRule } {
    let latencyMs = 0;
    let terminal: OdooFaultRule | undefined;
    for (const r of [...this.rules]) {
      if (r.service && r.service !== call.service) continue;
      if (r.method && r.method !== call.method) continue;
      if (r.re && !(call.model !== undefined && r.re.test(call.model))) continue;
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
