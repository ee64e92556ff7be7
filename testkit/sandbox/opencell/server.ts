import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as accounts from './accounts';
import * as catalogApi from './catalog-api';
import { loadCatalog, type SandboxCatalog } from './sandbox-catalog';
import type { Ctx, Handler } from './context';
import { success } from './context';
import { ApiError, httpStatusFor, invalid, profileOf, type VersionProfile } from './errors';
import { FaultInjector, type FaultRule, type FaultRuleInput } from './faults';
import * as invoices from './invoices';
import { Journal, type JournalEntry } from './journal';
import { SandboxState } from './state';
import * as subs from './subscriptions';
import { parseOcDate } from './util';
import {
  OPENCELL_OPERATIONS,
  pathParams,
  pathPattern,
  type OpenCellOperationName,
  type OpenCellOperationSpec,
} from '../../../src/domain/opencell/operations';

export interface OpenCellSandboxOptions {
  /** 0 (default) = any free port. */
  port?: number;
  host?: string;
  /** Context root (default `/opencell`): OPENCELL_BASEURL = http://host:port + basePath. */
  basePath?: string;
  /** Basic-auth credentials the sandbox accepts (any Bearer token is accepted too). */
  user?: string;
  password?: string;
  /** A catalog object or the path of a catalog JSON file (default: the shipped SomConnexió seed). */
  catalog?: SandboxCatalog | string;
  /** Version profile: v10 (403 for exists), v11 (default: 409, DUPLICATE_ACCESS 403), v14 (DUPLICATE_ACCESS 500). */
  profile?: VersionProfile['name'];
  /** Answer every failure with HTTP 200 + FAIL (pre-4.7 servers). */
  legacy200?: boolean;
  /** Invoice lists without `paging.totalNumberOfRecords` (also `state.omitListTotal` at run time). */
  omitListTotal?: boolean;
  /** Initial sandbox clock (epoch ms or date string); time keeps flowing from there. Default: real time. */
  now?: number | string;
  /** Seed of the fault-injection PRNG. */
  seed?: number;
  /** Admin surface prefix (default `/__sandbox`). */
  adminPrefix?: string;
  journalLimit?: number;
  /** Called after every API request (e.g. to log it). */
  onRequest?: (entry: JournalEntry) => void;
}

/**
 * An API request a latency rule holds: `before` it is handled, or `after` (handled — its change is made — and its
 * answer not sent yet). `inFlight()` is true while the caller still waits on its connection.
 */
export interface HeldRequest {
  entry: JournalEntry;
  phase: 'before' | 'after';
  ms: number;
  inFlight(): boolean;
}

export interface OpenCellSandbox {
  /** Base URL to use as OPENCELL_BASEURL, e.g. http://127.0.0.1:41234/opencell */
  url: string;
  /** http://host:port */
  origin: string;
  /** url + /api/rest */
  apiUrl: string;
  /** origin + admin prefix */
  adminUrl: string;
  port: number;
  credentials: { user: string; password: string };
  /** TCP connections accepted since the start (a client's keep-alive pool shows as few connections for many calls). */
  connectionsAccepted(): number;
  state: SandboxState;
  journal: Journal;
  faults: FaultInjector;
  /** The sandbox clock (epoch ms). */
  now(): number;
  /** Moves the sandbox clock (time keeps flowing); null = back to real time. */
  setNow(when: number | string | null): void;
  /**
   * Calls `listener` (synchronously) whenever a latency rule starts holding an API request: a test can act while a
   * chosen operation is in flight (e.g. kill -9 the calling process right after OpenCell accepted a create). Returns
   * the function that removes the listener.
   */
  onHeld(listener: (held: HeldRequest) => void): () => void;
  /** Clears entities, invoices, journal and faults (and optionally swaps the catalog). */
  reset(catalog?: SandboxCatalog): void;
  billingRun(opts?: invoices.BillingRunOptions): invoices.BillingRunResult;
  generateInvoices(opts: invoices.SyntheticInvoiceOptions): invoices.BillingRunResult;
  /** One invoice without number or without billing account (docs/parity.md I-validation). */
  plantMalformedInvoice(opts: invoices.MalformedInvoiceOptions): invoices.MalformedInvoice;
  /** Validates draft invoices (a `billingRun({ validate: false })`): each gets its number; returns them. */
  validateInvoices(invoiceIds: readonly number[]): string[];
  close(): Promise<void>;
}

type Route = { method: string; re: RegExp; handler: Handler };

const versionHandler: Handler = () =>
  success({ message: 'Opencell Rest API version 11.1.0-sandbox commit sandbox' });

/**
 * A handler for every operation of the catalogue (src/domain/opencell/operations.ts): the type makes a catalogue
 * entry without a handler a compile error, and the routes' methods and paths come from the catalogue only.
 */
export const HANDLERS: Record<OpenCellOperationName, Handler> = {
  version: versionHandler,
  // accounts
  getCustomer: accounts.getCustomer,
  getCustomerByCode: accounts.getCustomer,
  getCustomerCategory: accounts.getCustomerCategory,
  listCustomersByQuery: accounts.listCustomers('GET'),
  listCustomers: accounts.listCustomers('POST'),
  createCustomer: accounts.createCustomer,
  updateCustomer: accounts.updateCustomer,
  createOrUpdateCustomer: accounts.createOrUpdateCustomer,
  getCustomerAccount: accounts.getCustomerAccount,
  getCustomerAccountByCode: accounts.getCustomerAccount,
  listCustomerAccounts: accounts.listCustomerAccounts,
  getBillingAccount: accounts.getBillingAccount,
  getBillingAccountByCode: accounts.getBillingAccount,
  listBillingAccounts: accounts.listBillingAccounts,
  getUserAccount: accounts.getUserAccount,
  getUserAccountByCode: accounts.getUserAccount,
  listUserAccounts: accounts.listUserAccounts,
  createCrmAccountHierarchy: accounts.crmAccountHierarchy('create'),
  updateCrmAccountHierarchy: accounts.crmAccountHierarchy('update'),
  createOrUpdateCrmAccountHierarchy: accounts.crmAccountHierarchy('createOrUpdate'),
  // subscriptions
  getSubscription: subs.getSubscription,
  listSubscriptionsByQuery: subs.listSubscriptions('GET'),
  listSubscriptions: subs.listSubscriptions('POST'),
  findSubscriptionsByCustomer: subs.findSubscriptionsByCustomer,
  createSubscription: subs.createSubscription,
  updateSubscription: subs.updateSubscription,
  createOrUpdateSubscription: subs.createOrUpdateSubscription,
  activateServices: subs.activateServices,
  instantiateServices: subs.instantiateServices,
  terminateSubscription: subs.terminateSubscription,
  terminateSubscriptionPut: subs.terminateSubscription,
  terminateServices: subs.terminateServices,
  applyOneShotChargeInstance: subs.applyOneShotCharge,
  listOneShotChargeInstances: subs.listOneshotChargeOthers,
  // access points
  createAccess: subs.createAccess,
  getAccess: subs.getAccess,
  listAccesses: subs.listAccesses,
  deleteAccess: subs.deleteAccess,
  // catalog
  getOfferTemplate: catalogApi.getOfferTemplate,
  listOfferTemplatesByQuery: catalogApi.listOfferTemplates('GET'),
  listOfferTemplates: catalogApi.listOfferTemplates('POST'),
  getServiceTemplate: catalogApi.getServiceTemplate,
  listServiceTemplates: catalogApi.listServiceTemplates,
  getOneShotChargeTemplate: catalogApi.getOneShotChargeTemplate,
  listOneShotChargeTemplates: catalogApi.listOneShotChargeTemplates,
  listTerminationReasons: catalogApi.listTerminationReasons,
  // invoices
  listInvoicesByQuery: invoices.listInvoices('GET'),
  listInvoices: invoices.listInvoices('POST'),
  getInvoice: invoices.getInvoice,
  fetchPdfInvoice: invoices.fetchPdfInvoice,
  getPdfInvoice: invoices.getPdfInvoice,
  getPdfInvoiceWithType: invoices.getPdfInvoiceWithType,
  listInvoicesByCustomerAccount: invoices.listInvoicesByCustomerAccount,
  listInvoiceBillingRuns: invoices.listInvoicesGeneric,
};

function routes(): { exact: Map<string, Handler>; patterns: Route[] } {
  const exact = new Map<string, Handler>();
  const patterns: Route[] = [];
  for (const [name, spec] of Object.entries(OPENCELL_OPERATIONS) as [
    OpenCellOperationName,
    OpenCellOperationSpec,
  ][]) {
    const handler = HANDLERS[name];
    if (pathParams(spec.path).length === 0) exact.set(`${spec.method} ${spec.path}`, handler);
    else patterns.push({ method: spec.method, re: pathPattern(spec.path), handler });
  }
  // Every resource answers /version (the catalogue names the one the client reads).
  patterns.push({ method: 'GET', re: /^\/[A-Za-z/]+\/version$/, handler: versionHandler });
  return { exact, patterns };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reply {
  status: number;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
  errorCode?: string;
}

const json = (status: number, body: unknown, errorCode?: string): Reply => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json',
  errorCode,
});

/** Starts the sandbox; resolves once it listens. */
export async function startOpenCellSandbox(opts: OpenCellSandboxOptions = {}): Promise<OpenCellSandbox> {
  const basePath = (opts.basePath ?? '/opencell').replace(/\/+$/, '');
  const apiPrefix = `${basePath}/api/rest`;
  const adminPrefix = opts.adminPrefix ?? '/__sandbox';
  const credentials = {
    user: opts.user ?? 'opencell.superadmin',
    password: opts.password ?? 'opencell.superadmin',
  };
  const expectedAuth = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
  const profile = profileOf(opts.profile, opts.legacy200);
  const initialCatalog =
    typeof opts.catalog === 'string' || opts.catalog === undefined ? loadCatalog(opts.catalog) : opts.catalog;
  const state = new SandboxState(structuredClone(initialCatalog));
  state.omitListTotal = opts.omitListTotal ?? false;
  const journal = new Journal(opts.journalLimit);
  const faults = new FaultInjector(opts.seed);
  const { exact, patterns } = routes();
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;
  const setNow = (when: number | string | null) => {
    if (when === null) {
      clockOffset = 0;
      return;
    }
    const ms = parseOcDate(when);
    if (ms === undefined) throw new Error(`not a date: ${String(when)}`);
    clockOffset = ms - Date.now();
  };
  if (opts.now !== undefined) setNow(opts.now);
  const hanging = new Set<http.ServerResponse>();
  const sockets = new Set<Socket>();
  const heldListeners = new Set<(held: HeldRequest) => void>();

  const reset = (catalog?: SandboxCatalog) => {
    state.reset(catalog ? structuredClone(catalog) : state.catalog);
    journal.clear();
    faults.clear();
  };

  function send(res: http.ServerResponse, r: Reply): void {
    const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
    if (r.body !== undefined) {
      headers['Content-Type'] = r.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(r.body);
    } else headers['Content-Length'] = 0;
    res.writeHead(r.status, headers);
    res.end(r.body);
  }

  function apiFailure(err: ApiError): Reply {
    const body =
      err.errorCode === undefined
        ? { status: 'FAIL', message: err.message }
        : { status: 'FAIL', errorCode: err.errorCode, message: err.message };
    return json(profile.legacy200 ? 200 : httpStatusFor(err, profile), body, err.errorCode);
  }

  function dispatch(method: string, apiPath: string, ctxBase: Omit<Ctx, 'params'>): Reply {
    let handler = exact.get(`${method} ${apiPath}`);
    let params: string[] = [];
    if (!handler) {
      for (const r of patterns) {
        if (r.method !== method) continue;
        const m = r.re.exec(apiPath);
        if (m) {
          handler = r.handler;
          params = m.slice(1);
          break;
        }
      }
    }
    if (!handler) {
      // Unknown path or wrong method: RESTEasy NotFound/NotAllowed → 404 (empty ≤12.x, JSON from 13.x).
      return profile.unknownPathJson
        ? json(404, {
            status: 'FAIL',
            message: `RESTEASY003210: Could not find resource for full path: ${apiPrefix}${apiPath}`,
          })
        : { status: 404 };
    }
    try {
      return json(200, handler({ ...ctxBase, params }));
    } catch (e) {
      if (e instanceof ApiError) return apiFailure(e);
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      return {
        status: 500,
        body: `org.jboss.resteasy.spi.UnhandledException: ${msg}`,
        contentType: 'text/plain',
      };
    }
  }

  function faultReply(rule: FaultRule): Reply | 'hang' | 'reset' {
    switch (rule.kind) {
      case 'timeout':
      case 'applyThenTimeout':
        return 'hang';
      case 'reset':
        return 'reset';
      case 'rateLimit': {
        const secs = rule.retryAfterSeconds ?? 1;
        const retryAfter = rule.retryAfterHttpDate
          ? new Date(Date.now() + secs * 1000).toUTCString()
          : String(secs);
        return {
          status: 429,
          body: 'Too Many Requests',
          contentType: 'text/plain',
          headers: { 'Retry-After': retryAfter },
        };
      }
      case 'fail200':
        return json(
          200,
          {
            status: 'FAIL',
            errorCode: rule.errorCode ?? 'GENERIC_API_EXCEPTION',
            message: rule.message ?? 'Injected failure',
          },
          rule.errorCode ?? 'GENERIC_API_EXCEPTION',
        );
      default: {
        const status = rule.status ?? 503;
        if (rule.errorCode)
          return json(
            status,
            { status: 'FAIL', errorCode: rule.errorCode, message: rule.message ?? 'Injected failure' },
            rule.errorCode,
          );
        return status === 500
          ? {
              status,
              body: `java.lang.RuntimeException: ${rule.message ?? 'Injected failure'}`,
              contentType: 'text/plain',
            }
          : { status, body: rule.message ?? 'Service Unavailable', contentType: 'text/plain' };
      }
    }
  }

  async function handleApi(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    raw: string,
  ): Promise<void> {
    const t0 = process.hrtime.bigint();
    const time = Date.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const inApi = url.pathname === apiPrefix || url.pathname.startsWith(`${apiPrefix}/`);
    const apiPath = inApi ? url.pathname.slice(apiPrefix.length) || '/' : url.pathname;
    let parsed: unknown = undefined;
    let parseError: string | undefined;
    if (raw.length) {
      try {
        parsed = JSON.parse(raw);
      } catch (e) {
        parsed = raw;
        parseError = (e as Error).message;
      }
    }
    const entry: JournalEntry = {
      seq: journal.nextSeq(),
      time,
      method,
      path: apiPath,
      query: Object.fromEntries(url.searchParams),
      body: parsed,
      status: 0,
      durationMs: 0,
      ...(typeof req.headers.traceparent === 'string' ? { traceparent: req.headers.traceparent } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    const finish = (r: Reply | undefined) => {
      if (r) {
        entry.status = r.status;
        if (r.errorCode) entry.errorCode = r.errorCode;
      }
      entry.durationMs = Number(process.hrtime.bigint() - t0) / 1e6;
      journal.record(entry);
      opts.onRequest?.(entry);
    };

    let callerGone = false;
    res.on('close', () => {
      if (!res.writableEnded) callerGone = true;
    });
    const hold = async (phase: 'before' | 'after', ms: number) => {
      const held: HeldRequest = { entry, phase, ms, inFlight: () => !callerGone };
      for (const l of [...heldListeners]) l(held);
      await sleep(ms);
      if (callerGone) entry.abandoned = true;
    };
    const { latencyMs, latencyAfterMs, terminal } = faults.match(method, apiPath);
    if (latencyMs > 0) await hold('before', latencyMs);
    const applyFault = (rule: FaultRule) => {
      entry.fault = rule.kind;
      const r = faultReply(rule);
      if (r === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        finish(undefined);
        return;
      }
      if (r === 'reset') {
        finish(undefined);
        req.socket.destroy();
        return;
      }
      send(res, r);
      finish(r);
    };
    const afterHandler = (r: FaultRule) => r.phase === 'after' || r.kind === 'applyThenTimeout';
    if (terminal && !afterHandler(terminal)) return applyFault(terminal);

    let reply: Reply;
    const auth = req.headers.authorization ?? '';
    if (!(auth === expectedAuth || /^Bearer \S+/.test(auth))) {
      reply = {
        status: 401,
        body: '<html><head><title>Error</title></head><body>Unauthorized</body></html>',
        contentType: 'text/html;charset=UTF-8',
        headers: { 'WWW-Authenticate': 'Basic realm="opencell"' },
      };
    } else if (!inApi) {
      reply = { status: 404 };
    } else if (
      raw.length &&
      (method === 'POST' || method === 'PUT') &&
      !/json/i.test(req.headers['content-type'] ?? '')
    ) {
      reply = {
        status: 500,
        body: `javax.ws.rs.NotSupportedException: RESTEASY003065: Cannot consume content type ${req.headers['content-type'] ?? '(none)'}`,
        contentType: 'text/plain',
      };
    } else if (parseError !== undefined) {
      reply = apiFailure(invalid(`Unexpected character in JSON input: ${parseError}`));
    } else {
      const n = now();
      subs.processScheduled(state, n);
      reply = dispatch(method, apiPath, { state, now: n, query: url.searchParams, body: parsed, profile });
    }
    if (latencyAfterMs > 0) await hold('after', latencyAfterMs);
    if (terminal) {
      if (terminal.kind === 'applyThenTimeout') entry.withheldStatus = reply.status;
      return applyFault(terminal);
    }
    send(res, reply);
    finish(reply);
  }

  async function handleAdmin(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    raw: string,
  ): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.slice(adminPrefix.length) || '/';
    let body: Record<string, unknown>;
    try {
      body = raw.length ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return send(res, json(400, { error: 'body is not JSON' }));
    }
    try {
      const r = adminRoute(method, path, url, body);
      send(res, r === undefined ? { status: 404 } : json(200, r));
    } catch (e) {
      send(res, json(e instanceof ApiError ? 400 : 400, { error: (e as Error).message }));
    }
  }

  function adminRoute(method: string, path: string, url: URL, body: Record<string, unknown>): unknown {
    const key = `${method} ${path}`;
    switch (key) {
      case 'GET /health':
        return { ok: true, now: now(), profile: profile.name };
      case 'POST /reset':
        reset(body.catalog as SandboxCatalog | undefined);
        return { ok: true };
      case 'GET /journal': {
        const since = url.searchParams.get('since');
        const m = url.searchParams.get('method');
        const p = url.searchParams.get('path');
        return {
          lastSeq: journal.lastSeq,
          entries: journal.entries({
            since: since ? Number(since) : undefined,
            method: m ?? undefined,
            path: p ? new RegExp(p) : undefined,
          }),
        };
      }
      case 'DELETE /journal':
        journal.clear();
        return { ok: true };
      case 'GET /state':
        return state.dump();
      case 'GET /catalog':
        return state.catalog;
      case 'GET /faults':
        return { faults: faults.list() };
      case 'POST /faults':
        return faults.add(body as unknown as FaultRuleInput);
      case 'DELETE /faults':
        faults.clear();
        return { ok: true };
      case 'POST /billing-run':
        return invoices.billingRun(state, now(), body as invoices.BillingRunOptions);
      case 'POST /invoices/synthetic':
        return invoices.generateSyntheticInvoices(
          state,
          now(),
          body as unknown as invoices.SyntheticInvoiceOptions,
        );
      case 'GET /clock':
        return { now: now(), iso: new Date(now()).toISOString() };
      case 'POST /clock':
        setNow((body.now as number | string | null | undefined) ?? null);
        return { now: now(), iso: new Date(now()).toISOString() };
    }
    const m = /^\/faults\/(\d+)$/.exec(path);
    if (method === 'DELETE' && m) return { removed: faults.remove(Number(m[1])) };
    return undefined;
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    readBody(req)
      .then((raw) =>
        url.pathname === adminPrefix || url.pathname.startsWith(`${adminPrefix}/`)
          ? handleAdmin(req, res, url, raw)
          : handleApi(req, res, url, raw),
      )
      .catch((e: unknown) => {
        if (!res.headersSent) send(res, { status: 500, body: String(e), contentType: 'text/plain' });
      });
  });
  server.keepAliveTimeout = 30_000;
  let accepted = 0;
  server.on('connection', (s: Socket) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const origin = `http://${host}:${addr.port}`;

  return {
    url: `${origin}${basePath}`,
    origin,
    apiUrl: `${origin}${apiPrefix}`,
    adminUrl: `${origin}${adminPrefix}`,
    port: addr.port,
    credentials,
    connectionsAccepted: () => accepted,
    state,
    journal,
    faults,
    now,
    setNow,
    reset,
    onHeld: (listener) => {
      heldListeners.add(listener);
      return () => void heldListeners.delete(listener);
    },
    billingRun: (o = {}) => invoices.billingRun(state, now(), o),
    generateInvoices: (o) => invoices.generateSyntheticInvoices(state, now(), o),
    plantMalformedInvoice: (o) => invoices.plantMalformedInvoice(state, now(), o),
    validateInvoices: (ids) => invoices.validateInvoices(state, now(), ids),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
