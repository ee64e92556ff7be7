import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'pg';
import * as account from './account';
import { createMoves } from './account-batch';
import {
  accessDenied,
  accessError,
  attributeError,
  fromPgError,
  keyError,
  OdooException,
  typeError,
} from './errors';
import { OdooFaultInjector, type OdooFaultRule, type OdooFaultRuleInput } from './faults';
import { OdooJournal, type OdooJournalEntry } from './journal';
import { modelByTable, type ModelDef } from './models';
import * as orm from './orm';

export interface OdooSandboxOptions {
  /** 0 (default) = any free port. */
  port?: number;
  host?: string;
  /** The Odoo-shaped PostgreSQL database (default ODOO_DATABASE_URL or postgresql://odoo@127.0.0.1:5432/odoo). */
  databaseUrl?: string;
  /** The database name clients must pass (default: the last path segment of databaseUrl). */
  dbName?: string;
  /**
   * login → password accepted by the sandbox (users must exist, active, in res_users). Default: env
   * ODOO_SANDBOX_USERS ("login:password,login2:password2") or billing-bot/billing-bot.
   */
  users?: Record<string, string>;
  /** Seed of the fault-injection PRNG. */
  seed?: number;
  /** Admin surface prefix (default `/__sandbox`). */
  adminPrefix?: string;
  journalLimit?: number;
  /** Connection pool size (default 10). */
  poolSize?: number;
  /** Called after every JSON-RPC call (e.g. to log it). */
  onRequest?: (entry: OdooJournalEntry) => void;
}

export interface OdooSandbox {
  /** Use as ODOO_URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** url + /jsonrpc */
  jsonrpcUrl: string;
  /** url + admin prefix */
  adminUrl: string;
  port: number;
  /** The database name to pass as ODOO_DB. */
  db: string;
  /** The first configured user (ODOO_USER / ODOO_PASSWORD). */
  credentials: { user: string; password: string };
  journal: OdooJournal;
  faults: OdooFaultInjector;
  pool: Pool;
  /** Clears the journal and the fault rules (the database is never reset). */
  reset(): void;
  close(): Promise<void>;
}

/** Parses ODOO_SANDBOX_USERS ("login:password,…"). */
export function parseUsers(spec: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (spec ?? '').split(',')) {
    const i = part.indexOf(':');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1);
  }
  return Object.keys(out).length ? out : { 'billing-bot': 'billing-bot' };
}

const VERSION_INFO = {
  server_version: '16.0',
  server_version_info: [16, 0, 0, 'final', 0, ''],
  server_serie: '16.0',
  protocol_version: 1,
};

type MethodImpl = (env: orm.Env, model: ModelDef, a: Record<string, unknown>) => Promise<unknown>;

/** Model methods callable through execute_kw: positional parameter names (after `self`) and the implementation. */
const METHODS: Record<string, { params: string[]; record?: boolean; impl: MethodImpl }> = {
  search: {
    params: ['domain', 'offset', 'limit', 'order', 'count'],
    impl: (env, m, a) => (a.count ? orm.searchCount(env, m, a.domain) : orm.search(env, m, a.domain, a)),
  },
  search_read: {
    params: ['domain', 'fields', 'offset', 'limit', 'order'],
    impl: async (env, m, a) =>
      orm.read(env, m, await orm.search(env, m, a.domain ?? [], a), a.fields, { mustExist: false }),
  },
  search_count: {
    params: ['domain', 'limit'],
    impl: (env, m, a) => orm.searchCount(env, m, a.domain ?? [], a.limit),
  },
  read: {
    params: ['fields', 'load'],
    record: true,
    impl: (env, m, a) => orm.read(env, m, a.ids as number[], a.fields),
  },
  name_get: {
    params: [],
    record: true,
    impl: async (env, m, a) =>
      (await orm.read(env, m, a.ids as number[], ['display_name'])).map((r) => [r.id, r.display_name || '']),
  },
  name_search: {
    params: ['name', 'args', 'operator', 'limit'],
    impl: (env, m, a) => orm.nameSearch(env, m, a.name ?? '', a.args, a.operator, a.limit),
  },
  exists: {
    params: [],
    record: true,
    impl: async (env, m, a) => {
      const found = await orm.existing(env, m, a.ids as number[]);
      return (a.ids as number[]).filter((id) => found.has(id));
    },
  },
  create: {
    params: ['vals_list'],
    impl: async (env, m, a) => {
      const v = a.vals_list;
      const one = (vals: unknown) =>
        m.name === 'account.move'
          ? account.createMove(env, vals)
          : m.name === 'account.move.line'
            ? account.createLine(env, vals)
            : orm.createGeneric(env, m, orm.assertVals(vals, 'create'));
      // a list is created set-based, as Odoo 16's ORM creates a list (account-batch.ts, orm.createGenericList)
      if (Array.isArray(v) && m.name === 'account.move') return createMoves(env, v);
      if (Array.isArray(v) && m.name !== 'account.move.line') return orm.createGenericList(env, m, v);
      if (Array.isArray(v)) {
        const ids: number[] = [];
        for (const vals of v) ids.push(await one(vals));
        return ids;
      }
      return one(v);
    },
  },
  write: {
    params: ['vals'],
    record: true,
    impl: async (env, m, a) => {
      const ids = a.ids as number[];
      if (m.name === 'account.move') await account.writeMove(env, ids, a.vals);
      else if (m.name === 'account.move.line') await account.writeLines(env, ids, a.vals);
      else await orm.writeGeneric(env, m, ids, orm.assertVals(a.vals, 'write'));
      return true;
    },
  },
  unlink: {
    params: [],
    record: true,
    impl: async (env, m, a) => {
      const ids = a.ids as number[];
      if (m.name === 'account.move') await account.unlinkMoves(env, ids);
      else {
        await orm.ensureExist(env, m, ids, true);
        await env.db.query(`DELETE FROM ${m.table} WHERE id = ANY($1::int[])`, [ids]);
      }
      return true;
    },
  },
  action_post: {
    params: [],
    record: true,
    impl: (env, m, a) => {
      if (m.name !== 'account.move')
        throw attributeError(`The method 'action_post' does not exist on the model '${m.name}'`);
      return account.actionPost(env, a.ids as number[]);
    },
  },
  fields_get: {
    params: ['allfields', 'attributes'],
    impl: async (_env, m, a) => {
      const only =
        Array.isArray(a.allfields) && a.allfields.length ? new Set(a.allfields as string[]) : undefined;
      const out: Record<string, unknown> = {};
      for (const [name, f] of Object.entries(m.fields)) {
        if (only && !only.has(name)) continue;
        out[name] = {
          type: f.type,
          string: f.string ?? name,
          required: Boolean(f.required),
          readonly: Boolean(f.computed),
          store: !f.expr && name !== 'display_name',
          ...(f.relation ? { relation: f.relation } : {}),
          ...(f.selection ? { selection: f.selection.map((s) => [s, s]) } : {}),
        };
      }
      return out;
    },
  },
};

/** Binds execute_kw's positional args and kwargs to the method's parameters, like Python would. */
function bindArgs(
  method: string,
  spec: (typeof METHODS)[string],
  args: unknown[],
  kwargs: Record<string, unknown>,
) {
  const params = spec.record ? ['ids', ...spec.params] : spec.params;
  if (args.length > params.length) {
    throw typeError(
      `${method}() takes from 1 to ${params.length + 1} positional arguments but ${args.length + 1} were given`,
    );
  }
  const bound: Record<string, unknown> = {};
  args.forEach((v, i) => (bound[params[i]] = v));
  for (const [k, v] of Object.entries(kwargs)) {
    if (k === 'context') continue;
    if (!params.includes(k)) throw typeError(`${method}() got an unexpected keyword argument '${k}'`);
    if (k in bound) throw typeError(`${method}() got multiple values for argument '${k}'`);
    bound[k] = v;
  }
  if (spec.record) {
    if (!('ids' in bound)) throw typeError(`${method}() missing 1 required positional argument: 'self'`);
    bound.ids = orm.checkIds(bound.ids, method);
  }
  if (method === 'write' && !('vals' in bound))
    throw typeError(`write() missing 1 required positional argument: 'vals'`);
  if (method === 'create' && !('vals_list' in bound)) {
    throw typeError(`create() missing 1 required positional argument: 'vals_list'`);
  }
  return bound;
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
const RETRY_SQLSTATES = new Set(['40001', '40P01']);

/** Starts the sandbox; resolves once it listens. */
export async function startOdooSandbox(opts: OdooSandboxOptions = {}): Promise<OdooSandbox> {
  const databaseUrl =
    opts.databaseUrl ?? process.env.ODOO_DATABASE_URL ?? 'postgresql://odoo@127.0.0.1:5432/odoo';
  const dbName =
    opts.dbName ?? decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, '') || 'odoo');
  const users = opts.users ?? parseUsers(process.env.ODOO_SANDBOX_USERS);
  const adminPrefix = opts.adminPrefix ?? '/__sandbox';
  const pool = new Pool({ connectionString: databaseUrl, max: opts.poolSize ?? 10 });
  pool.on('error', () => undefined); // idle client errors must not crash the sandbox
  const journal = new OdooJournal(opts.journalLimit);
  const faults = new OdooFaultInjector(opts.seed);
  const hanging = new Set<http.ServerResponse>();
  const sockets = new Set<Socket>();

  const describeTable = (table?: string) => {
    const m = modelByTable(table);
    return m ? { model: m.name, label: m.description } : { model: table ?? '?', label: table ?? '?' };
  };

  function checkDb(db: unknown): void {
    if (db !== dbName) {
      throw new OdooException(
        'psycopg2.OperationalError',
        `connection to server failed: FATAL:  database "${String(db)}" does not exist`,
      );
    }
  }

  async function uidFor(login: unknown, password: unknown): Promise<number | false> {
    if (typeof login !== 'string' || typeof password !== 'string') return false;
    if (!(login in users) || users[login] !== password) return false;
    const r = await pool.query<{ id: number }>(
      `SELECT id FROM res_users WHERE login = $1 AND active IS TRUE`,
      [login],
    );
    return r.rows[0]?.id ?? false;
  }

  async function checkUid(uid: unknown, password: unknown): Promise<void> {
    if (typeof uid !== 'number' || typeof password !== 'string') throw accessDenied();
    const r = await pool.query<{ login: string }>(
      `SELECT login FROM res_users WHERE id = $1 AND active IS TRUE`,
      [uid],
    );
    const login = r.rows[0]?.login;
    if (!login || users[login] !== password) throw accessDenied();
  }

  async function inTransaction<T>(
    fn: (env: orm.Env) => Promise<T>,
    uid: number,
    context: Record<string, unknown>,
  ): Promise<T> {
    const lang =
      typeof context.lang === 'string' && /^[a-z]{2,3}(_[A-Z]{2})?$/.test(context.lang)
        ? context.lang
        : 'en_US';
    for (let attempt = 1; ; attempt++) {
      const db = await pool.connect();
      try {
        await db.query('BEGIN');
        const result = await fn({ db, uid, lang, context });
        await db.query('COMMIT');
        return result;
      } catch (e) {
        await db.query('ROLLBACK').catch(() => undefined);
        const code = (e as { code?: string }).code;
        // Odoo retries concurrency failures a few times server-side before giving up.
        if (code && RETRY_SQLSTATES.has(code) && attempt < 5) {
          await sleep(Math.random() * 50 * attempt);
          continue;
        }
        throw fromPgError(e, describeTable);
      } finally {
        db.release();
      }
    }
  }

  async function executeKw(args: unknown[]): Promise<unknown> {
    const [db, uid, password, modelName, method, margs, mkwargs] = args;
    checkDb(db);
    await checkUid(uid, password);
    if (typeof modelName !== 'string') throw typeError('model name must be a string');
    const model = orm.getModel(modelName);
    if (typeof method !== 'string') throw typeError('method name must be a string');
    if (method.startsWith('_'))
      throw accessError(`Private methods (such as ${method}) cannot be called remotely.`);
    const spec = Object.prototype.hasOwnProperty.call(METHODS, method) ? METHODS[method] : undefined;
    if (!spec) throw attributeError(`The method '${method}' does not exist on the model '${modelName}'`);
    const positional = margs === undefined || margs === null ? [] : margs;
    if (!Array.isArray(positional)) throw typeError('execute_kw: args must be a list');
    const kwargs = mkwargs === undefined || mkwargs === null ? {} : mkwargs;
    if (typeof kwargs !== 'object' || Array.isArray(kwargs))
      throw typeError('execute_kw: kwargs must be a dictionary');
    const kw = kwargs as Record<string, unknown>;
    const bound = bindArgs(method, spec, positional, kw);
    const context =
      kw.context && typeof kw.context === 'object' ? (kw.context as Record<string, unknown>) : {};
    return inTransaction((env) => spec.impl(env, model, bound), uid as number, context);
  }

  async function dispatch(service: unknown, method: unknown, args: unknown[]): Promise<unknown> {
    switch (service) {
      case 'common':
        switch (method) {
          case 'version':
            return VERSION_INFO;
          case 'login':
            checkDb(args[0]);
            return uidFor(args[1], args[2]);
          case 'authenticate':
            checkDb(args[0]);
            return uidFor(args[1], args[2]);
          case 'about':
            return 'See http://openerp.com';
          default:
            throw keyError(`'exp_${String(method)}'`);
        }
      case 'object':
        if (method === 'execute_kw') return executeKw(args);
        if (method === 'execute') return executeKw([...args.slice(0, 5), args.slice(5), {}]);
        throw keyError(`'exp_${String(method)}'`);
      case 'db':
        if (method === 'list') return [dbName];
        if (method === 'server_version') return VERSION_INFO.server_version;
        throw keyError(`'exp_${String(method)}'`);
      default:
        throw keyError(`'${String(service)}'`);
    }
  }

  function errorEnvelope(id: unknown, name: string, message: string) {
    const cls = name.split('.').pop();
    return {
      jsonrpc: '2.0',
      id: id ?? null,
      error: {
        code: 200,
        message: 'Odoo Server Error',
        data: {
          name,
          debug: `Traceback (most recent call last):\n  File "/odoo/odoo/http.py", line 1638, in _serve_db\n    return service_model.retrying(self._serve_ir_http, self.env)\n${cls}: ${message}\n`,
          message,
          arguments: [message],
          context: {},
        },
      },
    };
  }

  function send(
    res: http.ServerResponse,
    status: number,
    body: string,
    contentType = 'application/json',
  ): void {
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  async function handleRpc(req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> {
    const t0 = process.hrtime.bigint();
    let parsed: { id?: unknown; params?: { service?: unknown; method?: unknown; args?: unknown } };
    try {
      parsed = JSON.parse(raw) as typeof parsed;
      if (!parsed || typeof parsed !== 'object') throw new Error('not an object');
    } catch {
      send(
        res,
        400,
        JSON.stringify(errorEnvelope(null, 'werkzeug.exceptions.BadRequest', 'Invalid JSON data')),
      );
      return;
    }
    const params = parsed.params ?? {};
    const service = String(params.service ?? '');
    const rpcMethod = String(params.method ?? '');
    const args = Array.isArray(params.args) ? params.args : [];
    const isKw = service === 'object' && (rpcMethod === 'execute_kw' || rpcMethod === 'execute');
    const entry: OdooJournalEntry = {
      seq: journal.nextSeq(),
      time: Date.now(),
      service,
      rpcMethod,
      method: isKw ? String(args[4] ?? '') : rpcMethod,
      args: [],
      kwargs: {},
      outcome: 'ok',
      httpStatus: 200,
      durationMs: 0,
      ...(typeof req.headers.traceparent === 'string' ? { traceparent: req.headers.traceparent } : {}),
    };
    if (isKw) {
      entry.db = typeof args[0] === 'string' ? args[0] : undefined;
      entry.uid = typeof args[1] === 'number' ? args[1] : undefined;
      entry.model = typeof args[3] === 'string' ? args[3] : undefined;
      entry.args =
        rpcMethod === 'execute_kw'
          ? Array.isArray(args[5])
            ? structuredClone(args[5])
            : []
          : structuredClone(args.slice(5));
      entry.kwargs =
        rpcMethod === 'execute_kw' && args[6] && typeof args[6] === 'object'
          ? structuredClone(args[6] as Record<string, unknown>)
          : {};
    } else if (service === 'common' && (rpcMethod === 'login' || rpcMethod === 'authenticate')) {
      entry.db = typeof args[0] === 'string' ? args[0] : undefined;
      entry.login = typeof args[1] === 'string' ? args[1] : undefined;
    }
    const finish = () => {
      entry.durationMs = Number(process.hrtime.bigint() - t0) / 1e6;
      journal.record(entry);
      opts.onRequest?.(entry);
    };
    const decision = faults.match({ service, method: entry.method, model: entry.model });
    if (decision.latencyMs > 0) await sleep(decision.latencyMs);
    const fault = decision.terminal;
    const applyFault = (rule: OdooFaultRule): boolean => {
      entry.fault = rule.kind;
      entry.outcome = 'fault';
      switch (rule.kind) {
        case 'timeout':
        case 'applyThenTimeout':
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          entry.httpStatus = 0;
          finish();
          return true;
        case 'reset':
          entry.httpStatus = 0;
          finish();
          req.socket.destroy();
          return true;
        case 'http': {
          const status = rule.status ?? 503;
          entry.httpStatus = status;
          finish();
          send(
            res,
            status,
            rule.message ?? (status === 502 ? 'Bad Gateway' : 'Service Unavailable'),
            'text/plain',
          );
          return true;
        }
        default: {
          const name = rule.errorName ?? 'psycopg2.errors.SerializationFailure';
          const message = rule.message ?? 'could not serialize access due to concurrent update';
          entry.errorName = name;
          entry.errorMessage = message;
          finish();
          send(res, 200, JSON.stringify(errorEnvelope(parsed.id, name, message)));
          return true;
        }
      }
    };
    const afterCall = (r: OdooFaultRule) => r.phase === 'after' || r.kind === 'applyThenTimeout';
    if (fault && !afterCall(fault) && applyFault(fault)) return;
    let body: unknown;
    try {
      const result = await dispatch(service, rpcMethod, args);
      body = { jsonrpc: '2.0', id: parsed.id ?? null, result: result === undefined ? null : result };
    } catch (e) {
      const err =
        e instanceof OdooException
          ? e
          : new OdooException('builtins.RuntimeError', e instanceof Error ? e.message : String(e));
      entry.outcome = 'error';
      entry.errorName = err.pyName;
      entry.errorMessage = err.message;
      body = errorEnvelope(parsed.id, err.pyName, err.message);
    }
    if (fault && afterCall(fault) && applyFault(fault)) return;
    finish();
    send(res, 200, JSON.stringify(body));
  }

  async function handleAdmin(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    raw: string,
  ): Promise<void> {
    const path = url.pathname.slice(adminPrefix.length) || '/';
    const method = (req.method ?? 'GET').toUpperCase();
    const json = (status: number, v: unknown) => send(res, status, JSON.stringify(v));
    try {
      if (path === '/health' && method === 'GET') {
        await pool.query('SELECT 1');
        return json(200, { status: 'ok', db: dbName, calls: journal.lastSeq });
      }
      if (path === '/journal' && method === 'GET') {
        const q = url.searchParams;
        return json(200, {
          entries: journal.entries({
            service: q.get('service') ?? undefined,
            method: q.get('method') ?? undefined,
            model: q.get('model') ?? undefined,
            since: q.get('since') ? Number(q.get('since')) : undefined,
          }),
          lastSeq: journal.lastSeq,
        });
      }
      if (path === '/journal' && method === 'DELETE') {
        journal.clear();
        return json(200, { cleared: true });
      }
      if (path === '/faults' && method === 'GET') return json(200, { rules: faults.list() });
      if (path === '/faults' && method === 'POST') {
        try {
          return json(201, faults.add(JSON.parse(raw || '{}') as OdooFaultRuleInput));
        } catch (e) {
          return json(400, { error: (e as Error).message });
        }
      }
      if (path === '/faults' && method === 'DELETE') {
        faults.clear();
        return json(200, { cleared: true });
      }
      const m = /^\/faults\/(\d+)$/.exec(path);
      if (m && method === 'DELETE') {
        return faults.remove(Number(m[1]))
          ? json(200, { removed: Number(m[1]) })
          : json(404, { error: 'no such rule' });
      }
      if (path === '/users' && method === 'GET') return json(200, { users: Object.keys(users) });
      if (path === '/reset' && method === 'POST') {
        journal.clear();
        faults.clear();
        return json(200, { reset: true });
      }
      return json(404, { error: `no admin route ${method} ${path}` });
    } catch (e) {
      return json(500, { error: (e as Error).message });
    }
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const raw = await readBody(req);
      if (url.pathname === adminPrefix || url.pathname.startsWith(`${adminPrefix}/`)) {
        return handleAdmin(req, res, url, raw);
      }
      if (url.pathname === '/jsonrpc' && (req.method ?? '').toUpperCase() === 'POST')
        return handleRpc(req, res, raw);
      if (url.pathname === '/web/webclient/version_info') {
        return send(res, 200, JSON.stringify({ jsonrpc: '2.0', id: null, result: VERSION_INFO }));
      }
      send(res, 404, '<!doctype html><title>404 Not Found</title><h1>Not Found</h1>', 'text/html');
    })().catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, `internal sandbox error: ${(e as Error).message}`, 'text/plain');
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  const [firstUser, firstPassword] = Object.entries(users)[0];
  let closed: Promise<void> | undefined;
  return {
    url,
    jsonrpcUrl: `${url}/jsonrpc`,
    adminUrl: `${url}${adminPrefix}`,
    port: addr.port,
    db: dbName,
    credentials: { user: firstUser, password: firstPassword },
    journal,
    faults,
    pool,
    reset() {
      journal.clear();
      faults.clear();
    },
    close() {
      closed ??= (async () => {
        for (const r of hanging) r.destroy();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        await pool.end();
      })();
      return closed;
    },
  };
}
