import http from 'node:http';
import https from 'node:https';
import type { RequestInit, Response } from 'node-fetch';
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/Either';
import { BadResponseError, OdooRpcError, SyncError } from '../../domain/errors';
import { fetchText, TransportFailure, traceHeader } from '../http-transport';
import { REDACTED, redactString, registerSecret } from '../../core/log';
import * as C from '../../domain/odoo/codecs';
import { isRetriableOdooError, OdooLoginError, OdooUnavailableError } from '../../domain/odoo/errors';

/** Connection settings; `Config['odoo']` satisfies this. */
export interface OdooClientConfig {
  /** e.g. http://127.0.0.1:8069 — `/jsonrpc` is appended. */
  url: string;
  db: string;
  user: string;
  /** Password or API key. */
  password: string;
}

export interface OdooClientOptions {
  /** Per-request timeout (connect, response and body). Default 30 s. */
  timeoutMs?: number;
  /** Keep-alive sockets. Default 8. */
  maxSockets?: number;
  observer?: OdooCallObserver;
}

export type OdooCallOutcome =
  'success' | 'rpc_error' | 'unavailable' | 'timeout' | 'network' | 'bad_response';

/** One finished call, reported to observers. Never carries arguments, payloads or credentials. */
export interface OdooCallEvent {
  /** `common.login`, `account.move.create`, … */
  endpoint: string;
  service: 'common' | 'object';
  method: string;
  model?: string;
  outcome: OdooCallOutcome;
  durationMs: number;
  httpStatus?: number;
  /** Odoo's `error.data.name` (e.g. `odoo.exceptions.UserError`) or the SyncError code. */
  errorName?: string;
}
export type OdooCallObserver = (event: OdooCallEvent) => void;

export interface SearchOptions {
  limit?: number;
  offset?: number;
  /** e.g. `"id desc"` */
  order?: string;
  context?: Record<string, unknown>;
}

export interface SearchReadOptions<C extends t.Mixed = t.Mixed> extends SearchOptions {
  fields?: string[];
  /** Decodes each record; default: any object with a numeric `id`. */
  codec?: C;
}

const AnyRecord = t.intersection([t.type({ id: t.number }), t.UnknownRecord]);
type AnyRecord = t.TypeOf<typeof AnyRecord>;

const MAX_MESSAGE = 500;
let nextRequestId = 1;

/**
 * Production client for Odoo 16's external JSON-RPC API (`POST {url}/jsonrpc`): `common.login` / `version` and
 * `object.execute_kw`. Stateless on the server side; the uid from `login()` is cached and used by every
 * `execute_kw`. It never retries: failures are SyncErrors whose `retriable` flag drives the pipeline's policy.
 *
 * - JSON-RPC error envelope (HTTP 200, `error.data.name`) → `OdooRpcError` (retriable iff `psycopg2.*` or a
 *   serialization / lock error);
 * - `common.login` answering `false` → `OdooLoginError` (not retriable);
 * - HTTP 5xx / 429, network errors, timeouts → `OdooUnavailableError` (retriable);
 * - a body that is not the documented shape → `BadResponseError('ODOO', …)`.
 *
 * The password travels only inside request bodies; every message this class builds is scrubbed of it.
 */
export class OdooClient {
  readonly endpointUrl: string;
  readonly db: string;
  readonly user: string;
  readonly timeoutMs: number;
  readonly #password: string;
  readonly #agent: http.Agent;
  readonly #observers = new Set<OdooCallObserver>();
  readonly #scrub: (s: string) => string;
  #uid: number | undefined;
  #loggingIn: Promise<number> | undefined;

  constructor(cfg: OdooClientConfig, opts: OdooClientOptions = {}) {
    this.endpointUrl = `${cfg.url.replace(/\/+$/, '')}/jsonrpc`;
    this.db = cfg.db;
    this.user = cfg.user;
    this.#password = cfg.password;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    registerSecret(cfg.password);
    const agentOpts = {
      keepAlive: true,
      maxSockets: opts.maxSockets ?? 8,
      maxFreeSockets: opts.maxSockets ?? 8,
    };
    this.#agent = this.endpointUrl.startsWith('https:')
      ? new https.Agent(agentOpts)
      : new http.Agent(agentOpts);
    const secret = cfg.password;
    this.#scrub = (s: string) => {
      let out = s;
      if (secret.length > 0 && out.includes(secret)) out = out.split(secret).join(REDACTED);
      return redactString(out);
    };
    if (opts.observer) this.#observers.add(opts.observer);
  }

  /** Adds a per-call observer; returns the function that removes it. */
  onCall(observer: OdooCallObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Closes the keep-alive sockets. */
  close(): void {
    this.#agent.destroy();
  }

  toJSON(): Record<string, unknown> {
    return { url: this.endpointUrl, db: this.db, user: this.user, timeoutMs: this.timeoutMs, uid: this.#uid };
  }

  /** The cached uid (undefined before the first successful login). */
  get uid(): number | undefined {
    return this.#uid;
  }

  // ------------------------------------------------------------------------------------------ common

  /** `common.version()`. */
  version(): Promise<C.VersionInfo> {
    return this.call('common', 'version', [], C.VersionInfo, 'common.version');
  }

  /**
   * `common.login(db, login, password)`; caches and returns the uid. Concurrent callers share one request.
   * Bad credentials → `OdooLoginError` (not retriable, without the password).
   */
  async login(force = false): Promise<number> {
    if (this.#uid !== undefined && !force) return this.#uid;
    if (!this.#loggingIn) {
      this.#loggingIn = (async () => {
        const uid = await this.call(
          'common',
          'login',
          [this.db, this.user, this.#password],
          C.LoginResult,
          'common.login',
        );
        if (uid === false) throw new OdooLoginError(this.user, this.db);
        this.#uid = uid;
        return uid;
      })().finally(() => {
        this.#loggingIn = undefined;
      });
    }
    return this.#loggingIn;
  }

  // ------------------------------------------------------------------------------------------ object

  /**
   * `object.execute_kw(db, uid, password, model, method, args, kwargs)`, logging in first if needed; the
   * result is decoded with `codec` (default: unknown).
   */
  async executeKw<Cd extends t.Mixed = t.UnknownC>(
    model: string,
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    codec?: Cd,
  ): Promise<t.TypeOf<Cd>> {
    const uid = await this.login();
    return this.call(
      'object',
      'execute_kw',
      [this.db, uid, this.#password, model, method, args, kwargs],
      (codec ?? t.unknown) as Cd,
      `${model}.${method}`,
      model,
    );
  }

  /** Ids of the records matching `domain`. */
  search(model: string, domain: C.Domain, opts: SearchOptions = {}): Promise<number[]> {
    return this.executeKw(model, 'search', [domain], searchKwargs(opts), C.Ids);
  }

  searchCount(model: string, domain: C.Domain, opts: Pick<SearchOptions, 'context'> = {}): Promise<number> {
    return this.executeKw(model, 'search_count', [domain], searchKwargs(opts), t.number);
  }

  /** `search_read`; records are decoded with `opts.codec` (default: any record with an id). */
  searchRead<Cd extends t.Mixed = typeof AnyRecord>(
    model: string,
    domain: C.Domain,
    opts: SearchReadOptions<Cd> = {},
  ): Promise<Array<t.TypeOf<Cd>>> {
    const kwargs = { ...searchKwargs(opts), ...(opts.fields ? { fields: opts.fields } : {}) };
    return this.executeKw(
      model,
      'search_read',
      [domain],
      kwargs,
      t.array(opts.codec ?? AnyRecord),
    ) as Promise<Array<t.TypeOf<Cd>>>;
  }

  /** `search_read` with a predefined record spec (fields + codec), e.g. `find(Records.Partner, [['ref','=','1234']])`. */
  find<Cd extends t.Mixed>(
    spec: C.RecordSpec<Cd>,
    domain: C.Domain,
    opts: SearchOptions = {},
  ): Promise<Array<t.TypeOf<Cd>>> {
    return this.searchRead(spec.model, domain, { ...opts, fields: spec.fields, codec: spec.codec });
  }

  /** The first record matching `domain`, or null. */
  async findOne<Cd extends t.Mixed>(
    spec: C.RecordSpec<Cd>,
    domain: C.Domain,
    opts: Omit<SearchOptions, 'limit'> = {},
  ): Promise<t.TypeOf<Cd> | null> {
    const rows = await this.find(spec, domain, { ...opts, limit: 1 });
    return rows[0] ?? null;
  }

  /** `read(ids, fields)`; Odoo raises MissingError when an id does not exist. */
  read<Cd extends t.Mixed = typeof AnyRecord>(
    model: string,
    ids: number[],
    fields?: string[],
    codec?: Cd,
  ): Promise<Array<t.TypeOf<Cd>>> {
    return this.executeKw(
      model,
      'read',
      [ids],
      fields ? { fields } : {},
      t.array(codec ?? AnyRecord),
    ) as Promise<Array<t.TypeOf<Cd>>>;
  }

  /** `create(vals)`: the new id. */
  create(
    model: string,
    vals: Record<string, unknown>,
    opts: Pick<SearchOptions, 'context'> = {},
  ): Promise<number> {
    return this.executeKw(model, 'create', [vals], contextKw(opts), C.Id);
  }

  /** `create([vals…])`: the new ids, in order. */
  createMany(
    model: string,
    vals: Array<Record<string, unknown>>,
    opts: Pick<SearchOptions, 'context'> = {},
  ): Promise<number[]> {
    return this.executeKw(model, 'create', [vals], contextKw(opts), C.Ids);
  }

  /** `write(ids, vals)`. */
  async write(
    model: string,
    ids: number[],
    vals: Record<string, unknown>,
    opts: Pick<SearchOptions, 'context'> = {},
  ): Promise<void> {
    await this.executeKw(model, 'write', [ids, vals], contextKw(opts), t.boolean);
  }

  /** `account.move.action_post([ids])` (the result is falsy, ignored). */
  async actionPost(ids: number[], model = 'account.move'): Promise<void> {
    await this.executeKw(model, 'action_post', [ids], {}, t.unknown);
  }

  /** `name_search(name, args, operator, limit)`: `[id, display_name]` pairs. */
  nameSearch(
    model: string,
    name: string,
    opts: { domain?: C.Domain; operator?: string; limit?: number } = {},
  ): Promise<Array<[number, string]>> {
    return this.executeKw(
      model,
      'name_search',
      [name],
      { args: opts.domain ?? [], operator: opts.operator ?? 'ilike', limit: opts.limit ?? 100 },
      t.array(t.tuple([t.number, t.string])),
    );
  }

  // ------------------------------------------------------------------------------------------ transport

  private emit(event: OdooCallEvent): void {
    for (const o of this.#observers) {
      try {
        o(event);
      } catch {
        // an observer must never break a call
      }
    }
  }

  private async call<Cd extends t.Mixed>(
    service: 'common' | 'object',
    method: string,
    args: unknown[],
    codec: Cd,
    endpoint: string,
    model?: string,
  ): Promise<t.TypeOf<Cd>> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
    const rpcMethod = service === 'object' ? endpoint.slice((model?.length ?? 0) + 1) : method;
    const base = { endpoint, service, method: rpcMethod, ...(model ? { model } : {}) };
    try {
      const value = await this.send(service, method, args, codec, endpoint);
      this.emit({ ...base, outcome: 'success', durationMs: elapsed(), httpStatus: 200 });
      return value;
    } catch (err) {
      const event: OdooCallEvent = { ...base, outcome: outcomeOf(err), durationMs: elapsed() };
      if (err instanceof OdooRpcError) event.errorName = err.errorName;
      else if (err instanceof SyncError) event.errorName = err.code;
      if (err instanceof OdooUnavailableError && err.httpStatus !== undefined)
        event.httpStatus = err.httpStatus;
      this.emit(event);
      throw err;
    }
  }

  private async send<Cd extends t.Mixed>(
    service: string,
    method: string,
    args: unknown[],
    codec: Cd,
    endpoint: string,
  ): Promise<t.TypeOf<Cd>> {
    const id = nextRequestId++;
    const init: Omit<RequestInit, 'signal'> = {
      method: 'POST',
      agent: this.#agent,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...traceHeader() },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id, params: { service, method, args } }),
    };
    let res: Response;
    let text: string;
    try {
      ({ res, text } = await fetchText(this.endpointUrl, init, this.timeoutMs, (x) => this.#scrub(x)));
    } catch (e) {
      if (!(e instanceof TransportFailure)) throw e;
      throw e.kind === 'timeout'
        ? new OdooUnavailableError(
            'ODOO_UNAVAILABLE',
            `Odoo ${endpoint} timed out after ${this.timeoutMs} ms`,
            endpoint,
            undefined,
            true,
            e.safeCause,
          )
        : new OdooUnavailableError(
            'NETWORK',
            `Odoo ${endpoint} network error: ${e.detail}`,
            endpoint,
            undefined,
            false,
            e.safeCause,
          );
    }
    return this.interpret(endpoint, res.status, text, codec, id);
  }

  private interpret<Cd extends t.Mixed>(
    endpoint: string,
    status: number,
    text: string,
    codec: Cd,
    id: number,
  ): t.TypeOf<Cd> {
    if (status >= 500 || status === 429) {
      const firstLine = text.split('\n')[0] ?? '';
      throw new OdooUnavailableError(
        'ODOO_UNAVAILABLE',
        `Odoo ${endpoint} failed with HTTP ${status}${firstLine ? `: ${this.clip(firstLine)}` : ''}`,
        endpoint,
        status,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new BadResponseError('ODOO', endpoint, `HTTP ${status}, body is not JSON`);
    }
    const env = C.RpcEnvelope.decode(body);
    if (isLeft(env)) {
      throw new BadResponseError('ODOO', endpoint, `HTTP ${status}, not a JSON-RPC 2.0 response`);
    }
    const envelope = env.right;
    if (envelope.error) {
      const name = envelope.error.data?.name ?? `jsonrpc.${envelope.error.code}`;
      const message = envelope.error.data?.message ?? envelope.error.message;
      throw new OdooRpcError(name, this.clip(message), endpoint, isRetriableOdooError(name, message));
    }
    if (status < 200 || status >= 300) {
      throw new BadResponseError('ODOO', endpoint, `unexpected HTTP status ${status}`);
    }
    if (envelope.id !== undefined && envelope.id !== null && envelope.id !== id) {
      throw new BadResponseError(
        'ODOO',
        endpoint,
        `response id ${String(envelope.id)} does not match request id ${id}`,
      );
    }
    if (!('result' in envelope)) throw new BadResponseError('ODOO', endpoint, 'neither result nor error');
    const decoded = codec.decode(envelope.result);
    if (isLeft(decoded))
      throw new BadResponseError('ODOO', endpoint, this.#scrub(describeDecodeError(decoded.left)));
    return decoded.right;
  }

  private clip(s: string): string {
    const scrubbed = this.#scrub(s);
    return scrubbed.length > MAX_MESSAGE ? `${scrubbed.slice(0, MAX_MESSAGE)}…` : scrubbed;
  }
}

function searchKwargs(opts: SearchOptions): Record<string, unknown> {
  const kw: Record<string, unknown> = {};
  if (opts.limit !== undefined) kw.limit = opts.limit;
  if (opts.offset !== undefined) kw.offset = opts.offset;
  if (opts.order !== undefined) kw.order = opts.order;
  if (opts.context !== undefined) kw.context = opts.context;
  return kw;
}

function contextKw(opts: Pick<SearchOptions, 'context'>): Record<string, unknown> {
  return opts.context ? { context: opts.context } : {};
}

function describeDecodeError(errors: t.Errors): string {
  const first = errors[0];
  if (!first) return 'does not match the expected shape';
  const path = first.context
    .map((c) => c.key)
    .filter((k) => k !== '')
    .join('.');
  const actual = first.value === undefined ? 'undefined' : JSON.stringify(first.value);
  const expected = first.context[first.context.length - 1]?.type.name ?? 'value';
  return `${path || '(root)'}: expected ${expected}, got ${actual && actual.length > 80 ? `${actual.slice(0, 80)}…` : actual}`;
}

function outcomeOf(err: unknown): OdooCallOutcome {
  if (err instanceof OdooUnavailableError) {
    if (err.timedOut) return 'timeout';
    return err.code === 'NETWORK' ? 'network' : 'unavailable';
  }
  if (err instanceof OdooRpcError) return 'rpc_error';
  return 'bad_response';
}

export type { AnyRecord as OdooRecord };
