import { FaultRuleBook, type Rule } from '../fault-rules';

/**
 * Run-time fault injection for the Odoo sandbox. Rules are checked in order for every `/jsonrpc` call (the admin
 * surface is never faulted). Every matching `latency` rule adds its delay; the first matching terminal rule decides:
 *
 * - `rpcError`: HTTP 200 with Odoo's error envelope, `error.data.name` = `errorName`
 *   (default `psycopg2.errors.SerializationFailure`) and `message`;
 * - `http`: an HTTP 5xx (default 503) with a text body, like a proxy in front of Odoo;
 * - `timeout`: the request is never answered (the client's timeout fires);
 * - `reset`: the connection is destroyed without a response;
 * - `applyThenTimeout` ("apply then time out", issue 15 §3): the call runs and commits, then its answer is never
 *   sent (the client's timeout fires): the same as `timeout` with `phase: "after"`, as the OpenCell sandbox names it.
 *
 * Matching: `service` (common/object), `method` (the RPC method or, for execute_kw, the model method such as
 * `create`), `model` (a regular expression on the model name). `probability` is the share of matching calls hit
 * (seeded PRNG), `count` how many times the rule fires before it is spent. `phase: "after"` runs the call (and
 * commits it) before the fault replaces the answer: "committed but the client saw an error".
 */
export type OdooFaultKind = 'latency' | 'rpcError' | 'http' | 'timeout' | 'reset' | 'applyThenTimeout';

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

export type OdooFaultRule = Rule<OdooFaultRuleInput>;

const KINDS: readonly OdooFaultKind[] = [
  'latency',
  'rpcError',
  'http',
  'timeout',
  'reset',
  'applyThenTimeout',
];

export interface CallKey {
  service: string;
  method: string;
  model?: string;
}

/** Odoo's rules match the RPC service, the method and a regular expression on the model. */
export class OdooFaultInjector {
  private readonly book: FaultRuleBook<OdooFaultRuleInput, CallKey, RegExp | undefined>;

  constructor(seed = 1) {
    this.book = new FaultRuleBook(
      {
        kinds: KINDS,
        validate: (input) => {
          if (
            input.kind === 'http' &&
            input.status !== undefined &&
            !(input.status >= 500 && input.status <= 599)
          ) {
            throw new Error('http rules take a 5xx status');
          }
          if (input.kind === 'applyThenTimeout' && input.phase === 'before')
            throw new Error('applyThenTimeout applies the call first: no phase "before"');
        },
        compile: (input) => (input.model ? new RegExp(input.model) : undefined),
        matches: (r, re, call) =>
          (!r.service || r.service === call.service) &&
          (!r.method || r.method === call.method) &&
          (!re || (call.model !== undefined && re.test(call.model))),
      },
      seed,
    );
  }

  add(input: OdooFaultRuleInput): OdooFaultRule {
    return this.book.add(input);
  }

  remove(id: number): boolean {
    return this.book.remove(id);
  }

  clear(): void {
    this.book.clear();
  }

  list(): OdooFaultRule[] {
    return this.book.list();
  }

  /** Decides what happens to one call (consumes counts). */
  match(call: CallKey): { latencyMs: number; terminal?: OdooFaultRule } {
    return this.book.match(call);
  }
}
