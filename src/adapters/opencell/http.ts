import http from 'node:http';
import https from 'node:https';
import type { RequestInit, Response } from 'node-fetch';
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/Either';
import {
  BadResponseError,
  OpenCellBusinessError,
  OpenCellUnavailableError,
  SyncError,
} from '../../domain/errors';
import { fetchText, TransportFailure, traceHeader } from '../http-transport';
import { REDACTED, redactString } from '../../core/log';

/** Connection settings; `Config['opencell']` satisfies this. */
export interface OpenCellClientConfig {
  /** e.g. http://127.0.0.1:8070/opencell — `/api/rest` is appended. */
  baseUrl: string;
  user: string;
  password: string;
  /** Per-request timeout, covering connect, response and body. */
  timeoutMs: number;
  /** Keep-alive sockets to OpenCell (the pipeline's concurrency). */
  concurrency: number;
}

export type CallOutcome =
  'success' | 'business_error' | 'unavailable' | 'rate_limited' | 'timeout' | 'network' | 'bad_response';

/** One finished call, reported to observers (metrics, tracing). Never carries payloads or credentials. */
export interface CallEvent {
  /** Stable endpoint name, e.g. `subscription.activateServices`. */
  endpoint: string;
  method: string;
  outcome: CallOutcome;
  durationMs: number;
  httpStatus?: number;
  /** OpenCell errorCode or the SyncError code. */
  errorCode?: string;
}
export type CallObserver = (event: CallEvent) => void;

export type Query = Record<string, string | number | boolean | undefined>;

/** errorCodes that mean "OpenCell refused this call": not retriable even when they come with HTTP 5xx. */
const BUSINESS_CODES = new Set([
  'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
  'ENTITY_NOT_ALLOWED_EXCEPTION',
  'ENTITY_ALREADY_EXISTS_EXCEPTION',
  'DELETE_REFERENCED_ENTITY_EXCEPTION',
  'MISSING_PARAMETER',
  'INVALID_PARAMETER',
  'INVALID_ENUM_VALUE',
  'INVALID_IMAGE_DATA',
  'DUPLICATE_ACCESS',
  'INSUFFICIENT_BALANCE',
  'BUSINESS_API_EXCEPTION',
  'ACTION_FORBIDDEN',
  'AUTHENTICATION_AUTHORIZATION_EXCEPTION',
  'RATING_REJECT',
  'CONDITION_FALSE',
  'CONSTRAINT_VIOLATION_EXCEPTION',
  'DIFFERENT_CURRENCIES',
]);

const MAX_MESSAGE = 500;

/** Parses Retry-After (delta-seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const when = Date.parse(v);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now);
}

/**
 * The transport: URL building, Basic auth, keep-alive agent, timeout, error classification, io-ts decoding and
 * observer notification. The password is held only inside a closure-captured header and is scrubbed from every
 * message this class produces.
 */
export class OpenCellHttp {
  readonly apiBase: string;
  readonly timeoutMs: number;
  readonly #agent: http.Agent;
  readonly #authorization: string;
  readonly #scrub: (s: string) => string;
  readonly #observers = new Set<CallObserver>();

  constructor(config: OpenCellClientConfig) {
    this.apiBase = `${config.baseUrl.replace(/\/+$/, '')}/api/rest`;
    this.timeoutMs = config.timeoutMs;
    const isHttps = this.apiBase.startsWith('https:');
    const agentOpts = { keepAlive: true, maxSockets: config.concurrency, maxFreeSockets: config.concurrency };
    this.#agent = isHttps ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    const token = Buffer.from(`${config.user}:${config.password}`).toString('base64');
    this.#authorization = `Basic ${token}`;
    const secrets = [config.password, token].filter((s) => s.length >= 3);
    this.#scrub = (s: string) => {
      let out = s;
      for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
      return redactString(out);
    };
  }

  /** Registers an observer; returns the function that removes it. */
  observe(observer: CallObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  close(): void {
    this.#agent.destroy();
  }

  toJSON(): Record<string, unknown> {
    return { apiBase: this.apiBase, timeoutMs: this.timeoutMs };
  }

  private emit(event: CallEvent): void {
    for (const o of this.#observers) {
      try {
        o(event);
      } catch {
        // an observer must never break a call
      }
    }
  }

  url(path: string, query?: Query): string {
    let url = this.apiBase + path;
    if (query) {
      const qs = Object.entries(query)
        .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join('&');
      if (qs) url += `?${qs}`;
    }
    return url;
  }

  /** Performs one call and decodes the success body with `codec`. Throws a SyncError subclass on any failure. */
  async request<C extends t.Mixed>(
    endpoint: string,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    codec: C,
    opts: { query?: Query; body?: unknown } = {},
  ): Promise<t.TypeOf<C>> {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
    try {
      const value = await this.send(endpoint, method, path, codec, opts);
      this.emit({ endpoint, method, outcome: 'success', durationMs: elapsed(), httpStatus: 200 });
      return value;
    } catch (err) {
      const event: CallEvent = { endpoint, method, outcome: outcomeOf(err), durationMs: elapsed() };
      if (err instanceof OpenCellBusinessError) {
        event.httpStatus = err.httpStatus;
        event.errorCode = err.errorCode;
      } else if (err instanceof OpenCellUnavailableError) {
        if (err.httpStatus !== undefined) event.httpStatus = err.httpStatus;
        event.errorCode = err.code;
      } else if (err instanceof SyncError) event.errorCode = err.code;
      this.emit(event);
      throw err;
    }
  }

  private async send<C extends t.Mixed>(
    endpoint: string,
    method: string,
    path: string,
    codec: C,
    opts: { query?: Query; body?: unknown },
  ): Promise<t.TypeOf<C>> {
    const init: Omit<RequestInit, 'signal'> = {
      method,
      agent: this.#agent,
      headers: {
        Authorization: this.#authorization,
        Accept: 'application/json',
        ...(opts.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...traceHeader(),
      },
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    };
    let res: Response;
    let text: string;
    try {
      ({ res, text } = await fetchText(this.url(path, opts.query), init, this.timeoutMs, (x) =>
        this.#scrub(x),
      ));
    } catch (e) {
      if (!(e instanceof TransportFailure)) throw e;
      throw e.kind === 'timeout'
        ? new OpenCellUnavailableError(
            'OPENCELL_TIMEOUT',
            `OpenCell ${endpoint} timed out after ${this.timeoutMs} ms`,
            endpoint,
            undefined,
            undefined,
            e.safeCause,
          )
        : new OpenCellUnavailableError(
            'NETWORK',
            `OpenCell ${endpoint} network error: ${e.detail}`,
            endpoint,
            undefined,
            undefined,
            e.safeCause,
          );
    }
    return this.interpret(endpoint, res, text, codec);
  }

  private interpret<C extends t.Mixed>(endpoint: string, res: Response, text: string, codec: C): t.TypeOf<C> {
    const status = res.status;
    const isJson = /json/i.test(res.headers.get('content-type') ?? '') || /^\s*[{[]/.test(text);
    let body: unknown = undefined;
    let parseFailed = false;
    if (text.length > 0 && isJson) {
      try {
        body = JSON.parse(text);
      } catch {
        parseFailed = true;
      }
    }
    const fail = failureOf(body);

    if (status === 429) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      throw new OpenCellUnavailableError(
        'OPENCELL_RATE_LIMITED',
        `OpenCell ${endpoint} rate limited (429)${retryAfterMs === undefined ? '' : `, retry after ${retryAfterMs} ms`}`,
        endpoint,
        429,
        retryAfterMs,
      );
    }
    if (status >= 500) {
      // A JSON ActionStatus carrying a business code (or OpenCell's code-less MeveoApiException) is a refusal,
      // not an outage: OpenCell reports many business rules as 500. GENERIC_API_EXCEPTION, proxies' 502/503/504
      // and the text/plain exception chain are treated as transient.
      const business =
        status === 500 &&
        fail !== undefined &&
        (fail.errorCode !== undefined ? BUSINESS_CODES.has(fail.errorCode) : Boolean(fail.message));
      if (business && fail) {
        throw new OpenCellBusinessError(
          fail.errorCode ?? 'NO_ERROR_CODE',
          this.clip(fail.message ?? ''),
          status,
          endpoint,
        );
      }
      const detail = fail?.message ?? text;
      throw new OpenCellUnavailableError(
        'OPENCELL_UNAVAILABLE',
        `OpenCell ${endpoint} failed with HTTP ${status}${fail?.errorCode ? ` ${fail.errorCode}` : ''}${detail ? `: ${this.clip(detail)}` : ''}`,
        endpoint,
        status,
      );
    }
    if (status >= 400) {
      let code = fail?.errorCode ?? `HTTP_${status}`;
      let message = fail?.message ?? (isJson ? this.clip(text) : '');
      if (status === 401 || status === 403) {
        if (!fail) {
          code = 'AUTHENTICATION_AUTHORIZATION_EXCEPTION';
          message = status === 401 ? 'authentication failed (bad or missing credentials)' : 'access denied';
        }
      } else if (!fail && status === 404) message = message || 'no such path or method';
      throw new OpenCellBusinessError(code, this.clip(message || `HTTP ${status}`), status, endpoint);
    }
    if (status < 200 || status >= 300) {
      throw new BadResponseError('OPENCELL', endpoint, `unexpected HTTP status ${status}`);
    }
    if (parseFailed || (text.length > 0 && !isJson)) {
      throw new BadResponseError('OPENCELL', endpoint, 'body is not JSON');
    }
    // pyopencell's rule: HTTP 200 with `errorCode` or `status: FAIL` is an error.
    if (fail) {
      throw new OpenCellBusinessError(
        fail.errorCode ?? 'NO_ERROR_CODE',
        this.clip(fail.message ?? ''),
        status,
        endpoint,
      );
    }
    const decoded = codec.decode(body);
    if (isLeft(decoded)) {
      throw new BadResponseError('OPENCELL', endpoint, describeDecodeError(decoded.left));
    }
    return decoded.right;
  }

  private clip(s: string): string {
    const scrubbed = this.#scrub(s);
    return scrubbed.length > MAX_MESSAGE ? `${scrubbed.slice(0, MAX_MESSAGE)}…` : scrubbed;
  }
}

/** Extracts the failure from a bare ActionStatus or a wrapper's `actionStatus`, if the body reports one. */
function failureOf(body: unknown): { errorCode?: string; message?: string } | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  const candidates = [b, b.actionStatus].filter(
    (x): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x),
  );
  for (const c of candidates) {
    const errorCode = typeof c.errorCode === 'string' && c.errorCode !== '' ? c.errorCode : undefined;
    if (c.status === 'FAIL' || errorCode) {
      return { errorCode, message: typeof c.message === 'string' ? c.message : undefined };
    }
  }
  return undefined;
}

function describeDecodeError(errors: t.Errors): string {
  const first = errors[0];
  if (!first) return 'does not match the expected shape';
  const path = first.context
    .map((c) => c.key)
    .filter((k) => k !== '' && !/^\d+$/.test(k))
    .join('.');
  const actual = first.value === undefined ? 'undefined' : JSON.stringify(first.value);
  const expected = first.context[first.context.length - 1]?.type.name ?? 'value';
  return `${path || '(root)'}: expected ${expected}, got ${actual && actual.length > 80 ? `${actual.slice(0, 80)}…` : actual}`;
}

function outcomeOf(err: unknown): CallOutcome {
  if (err instanceof OpenCellBusinessError) return 'business_error';
  if (err instanceof OpenCellUnavailableError) {
    switch (err.code) {
      case 'OPENCELL_RATE_LIMITED':
        return 'rate_limited';
      case 'OPENCELL_TIMEOUT':
        return 'timeout';
      case 'NETWORK':
        return 'network';
      default:
        return 'unavailable';
    }
  }
  return 'bad_response';
}
