import type { PoolClient, QueryResultRow } from 'pg';
import { missingError, OdooException, typeError, validationError, valueError } from './errors';
import { REGISTRY, tr, type FieldDef, type ModelDef } from './models';

/**
 * A tiny ORM over the Odoo-shaped tables: Odoo's domain language compiled to SQL, `read` rendering with Odoo's
 * value conventions (Many2one `[id, name]`, empty → false, dates as text), generic create / write with x2many
 * commands and Odoo's validation errors. Model-specific behaviour (account.move) lives in account.ts.
 */
export interface Env {
  db: PoolClient;
  uid: number;
  lang: string;
  context: Record<string, unknown>;
}

export type Vals = Record<string, unknown>;

export function getModel(name: string): ModelDef {
  const m = REGISTRY.get(name);
  // odoo/service/model.py (16): `raise UserError(_("Object %s doesn't exist", model))`
  if (!m) throw new OdooException('odoo.exceptions.UserError', `Object ${name} doesn't exist`);
  return m;
}

const q = (ident: string) => `"${ident.replace(/"/g, '""')}"`;
export const colOf = (name: string, f: FieldDef) => f.column ?? name;

/** Python-ish repr of a JSON value, for error messages. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return `'${v.replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `'${k}': ${pyRepr(x)}`)
      .join(', ')}}`;
  return String(v);
}

/** SQL reading one scalar field (for SELECT / WHERE / ORDER BY). */
function scalarSql(a: string, name: string, f: FieldDef, lang: string): string {
  if (f.expr) return f.expr(a, lang);
  const col = `${a}.${q(colOf(name, f))}`;
  return f.translated ? tr(col, lang) : col;
}

// ------------------------------------------------------------------------------------------------ domains

type Node =
  | { op: '&' | '|'; left: Node; right: Node }
  | { op: '!'; arg: Node }
  | { leaf: [string | number, string, unknown]; raw: unknown };

const OPERATORS = new Set([
  '=',
  '!=',
  '<>',
  '<',
  '>',
  '<=',
  '>=',
  '=?',
  'in',
  'not in',
  'like',
  'ilike',
  'not like',
  'not ilike',
  '=like',
  '=ilike',
  'child_of',
  'parent_of',
]);

function parseDomain(domain: unknown): Node | null {
  if (domain === false || domain === null || domain === undefined) return null;
  if (!Array.isArray(domain)) throw valueError(`Invalid domain: ${pyRepr(domain)}`);
  let i = 0;
  const next = (): Node => {
    if (i >= domain.length) throw valueError(`Invalid domain: ${pyRepr(domain)}`);
    const tok = domain[i++];
    if (tok === '&' || tok === '|') {
      const left = next();
      const right = next();
      return { op: tok, left, right };
    }
    if (tok === '!') return { op: '!', arg: next() };
    if (!Array.isArray(tok) || tok.length !== 3 || typeof tok[1] !== 'string') {
      throw valueError(`Invalid leaf ${pyRepr(tok)}`);
    }
    const [field, op] = tok as [unknown, string];
    if (typeof field !== 'string' && !(field === 0 || field === 1))
      throw valueError(`Invalid leaf ${pyRepr(tok)}`);
    if (!OPERATORS.has(op.toLowerCase()))
      throw valueError(`Invalid operator ${pyRepr(op)} in domain term ${pyRepr(tok)}`);
    return { leaf: [field as string | number, op.toLowerCase(), tok[2]], raw: tok };
  };
  const terms: Node[] = [];
  while (i < domain.length) terms.push(next());
  if (terms.length === 0) return null;
  return terms.reduce((acc, t) => ({ op: '&', left: acc, right: t }));
}

export class SqlParams {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function likePattern(op: string, v: unknown): string {
  const s = String(v);
  return op.startsWith('=') ? s : `%${s}%`;
}

/** WHERE fragment for `domain` on `model` aliased `a`. */
export function compileDomain(
  env: Env,
  model: ModelDef,
  domain: unknown,
  params: SqlParams,
  a: string,
): string {
  const node = parseDomain(domain);
  return node ? compileNode(env, model, node, params, a) : 'TRUE';
}

let aliasSeq = 0;
const newAlias = () => `t${++aliasSeq % 1_000_000}`;

function compileNode(env: Env, model: ModelDef, n: Node, params: SqlParams, a: string): string {
  if ('op' in n) {
    if (n.op === '!') return `(NOT COALESCE(${compileNode(env, model, n.arg, params, a)}, FALSE))`;
    const join = n.op === '&' ? 'AND' : 'OR';
    return `(${compileNode(env, model, n.left, params, a)} ${join} ${compileNode(env, model, n.right, params, a)})`;
  }
  const [path, op, value] = n.leaf;
  if (typeof path === 'number') {
    // TRUE_LEAF (1, '=', 1) / FALSE_LEAF (0, '=', 1)
    return path === 1 ? 'TRUE' : 'FALSE';
  }
  const [head, ...rest] = path.split('.');
  const f = model.fields[head];
  if (!f) throw valueError(`Invalid field ${model.name}.${head} in leaf ${pyRepr(n.raw)}`);
  if (rest.length > 0) {
    if (!f.relation || !['many2one', 'one2many', 'many2many'].includes(f.type)) {
      throw valueError(`Invalid field ${model.name}.${path} in leaf ${pyRepr(n.raw)}`);
    }
    const co = getModel(f.relation);
    const b = newAlias();
    const sub = compileNode(env, co, { leaf: [rest.join('.'), op, value], raw: n.raw }, params, b);
    return `${a}.id IN (${relatedIdsSql(model, head, f, co, b, sub, a)})`;
  }
  if (f.type === 'one2many' || f.type === 'many2many')
    return x2manyLeaf(env, model, head, f, op, value, params, a);
  if (f.type === 'many2one' && typeof value === 'string' && !['=?'].includes(op)) {
    // name search on the comodel
    const co = getModel(f.relation!);
    const b = newAlias();
    const positive = !['!=', '<>', 'not like', 'not ilike'].includes(op);
    const posOp = positive ? op : op === '!=' || op === '<>' ? '=' : op.replace('not ', '');
    const cond = leafSql(co.displayName(b, env.lang), { type: 'char' }, posOp, value, params);
    const col = scalarSql(a, head, f, env.lang);
    const sql = `${col} IN (SELECT ${b}.id FROM ${co.table} ${b} WHERE ${cond})`;
    return positive ? sql : `(${col} IS NULL OR NOT (${sql}))`;
  }
  return leafSql(scalarSql(a, head, f, env.lang), f, op, value, params);
}

function relatedIdsSql(
  model: ModelDef,
  name: string,
  f: FieldDef,
  co: ModelDef,
  b: string,
  cond: string,
  a: string,
): string {
  void a;
  if (f.type === 'many2one') {
    return `SELECT x.id FROM ${model.table} x WHERE x.${q(colOf(name, f))} IN (SELECT ${b}.id FROM ${co.table} ${b} WHERE ${cond})`;
  }
  if (f.type === 'one2many') {
    return `SELECT ${b}.${q(f.inverse!)} FROM ${co.table} ${b} WHERE ${cond}${f.filter ? ` AND ${f.filter.replace(/\bc\./g, `${b}.`)}` : ''}`;
  }
  return `SELECT r.${q(f.col1!)} FROM ${f.relTable} r JOIN ${co.table} ${b} ON ${b}.id = r.${q(f.col2!)} WHERE ${cond}`;
}

function x2manyLeaf(
  env: Env,
  model: ModelDef,
  name: string,
  f: FieldDef,
  op: string,
  value: unknown,
  params: SqlParams,
  a: string,
): string {
  const co = getModel(f.relation!);
  const b = newAlias();
  if (value === false || value === null || (Array.isArray(value) && value.length === 0)) {
    const exists =
      f.type === 'one2many'
        ? `EXISTS (SELECT 1 FROM ${co.table} ${b} WHERE ${b}.${q(f.inverse!)} = ${a}.id${f.filter ? ` AND ${f.filter.replace(/\bc\./g, `${b}.`)}` : ''})`
        : `EXISTS (SELECT 1 FROM ${f.relTable} r WHERE r.${q(f.col1!)} = ${a}.id)`;
    return op === '=' || op === 'in' ? `NOT ${exists}` : exists;
  }
  const negative = ['!=', '<>', 'not in', 'not like', 'not ilike'].includes(op);
  const posOp = negative
    ? op === 'not in'
      ? 'in'
      : op === '!=' || op === '<>'
        ? '='
        : op.replace('not ', '')
    : op;
  const cond =
    typeof value === 'string' || (Array.isArray(value) && value.some((v) => typeof v === 'string'))
      ? leafSql(co.displayName(b, env.lang), { type: 'char' }, posOp, value, params)
      : leafSql(`${b}.id`, { type: 'integer' }, posOp, value, params);
  const sql = `${a}.id IN (${relatedIdsSql(model, name, f, co, b, cond, a)})`;
  return negative ? `NOT (${sql})` : sql;
}

function coerceForSql(f: FieldDef, v: unknown): unknown {
  if (f.type === 'float' || f.type === 'monetary' || f.type === 'integer' || f.type === 'many2one') {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
    if (Array.isArray(v) && f.type === 'many2one' && typeof v[0] === 'number') return v[0];
  }
  if (typeof v === 'boolean' && f.type === 'boolean') return v;
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : v;
}

function leafSql(col: string, f: FieldDef, op: string, value: unknown, params: SqlParams): string {
  const isBool = f.type === 'boolean';
  const numeric = ['integer', 'float', 'monetary', 'many2one'].includes(f.type);
  const cast = numeric ? '::numeric' : isBool ? '::boolean' : '::text';
  if (op === '=?') {
    if (value === false || value === null || value === undefined) return 'TRUE';
    op = '=';
  }
  if (op === 'child_of' || op === 'parent_of') op = 'in';
  if (op === '<>') op = '!=';
  if (op === '=' || op === '!=') {
    const neg = op === '!=';
    if (value === false || value === null) {
      if (isBool) return neg ? `${col} IS TRUE` : `${col} IS NOT TRUE`;
      return neg ? `${col} IS NOT NULL` : `${col} IS NULL`;
    }
    if (isBool && value === true) return neg ? `${col} IS NOT TRUE` : `${col} IS TRUE`;
    if (Array.isArray(value) && f.type !== 'many2one')
      return leafSql(col, f, neg ? 'not in' : 'in', value, params);
    const p = `${params.add(coerceForSql(f, value))}${cast}`;
    return neg ? `(${col} IS NULL OR ${col}${cast} <> ${p})` : `${col}${cast} = ${p}`;
  }
  if (op === 'in' || op === 'not in') {
    const list = Array.isArray(value) ? value : [value];
    if (isBool) {
      const parts = [
        ...(list.some((v) => v === true) ? [`${col} IS TRUE`] : []),
        ...(list.some((v) => v === false || v === null) ? [`${col} IS NOT TRUE`] : []),
      ];
      const inSql = parts.length ? `(${parts.join(' OR ')})` : 'FALSE';
      return op === 'in' ? inSql : `NOT ${inSql}`;
    }
    const hasFalse = list.some((v) => v === false || v === null);
    const vals = list.filter((v) => v !== false && v !== null).map((v) => coerceForSql(f, v));
    const arr = numeric ? '::numeric[]' : isBool ? '::boolean[]' : '::text[]';
    const inSql = vals.length ? `${col}${cast} = ANY(${params.add(vals)}${arr})` : 'FALSE';
    if (op === 'in') return hasFalse ? `(${inSql} OR ${col} IS NULL)` : `COALESCE(${inSql}, FALSE)`;
    return hasFalse
      ? `(${col} IS NOT NULL AND NOT COALESCE(${inSql}, FALSE))`
      : `(${col} IS NULL OR NOT COALESCE(${inSql}, FALSE))`;
  }
  if (['<', '>', '<=', '>='].includes(op)) {
    if (value === false || value === null) return 'FALSE';
    const dateCast = f.type === 'date' ? '::date' : f.type === 'datetime' ? '::timestamp' : cast;
    return `${col}${dateCast} ${op} ${params.add(coerceForSql(f, value))}${dateCast}`;
  }
  // like family
  const ci = op.includes('ilike');
  const neg = op.startsWith('not');
  const base = op.replace('not ', '');
  if (value === false || value === null) return neg ? `${col} IS NOT NULL` : `${col} IS NULL`;
  const p = params.add(likePattern(base, value));
  const expr = `${col}::text ${ci ? 'ILIKE' : 'LIKE'} ${p}`;
  return neg ? `(${col} IS NULL OR NOT (${expr}))` : `COALESCE(${expr}, FALSE)`;
}

// ------------------------------------------------------------------------------------------------ search

export interface SearchArgs {
  offset?: unknown;
  limit?: unknown;
  order?: unknown;
}

function orderSql(env: Env, model: ModelDef, order: string, a: string): string {
  const bad = () =>
    valueError(
      `Invalid "order" specified (${order}). A valid "order" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)`,
    );
  const parts: string[] = [];
  for (const raw of order.split(',')) {
    const m = /^\s*([a-z_][a-z0-9_]*)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$/i.exec(raw);
    if (!m) throw bad();
    const f = model.fields[m[1]];
    if (!f || f.type === 'one2many' || f.type === 'many2many') throw bad();
    parts.push(
      `${scalarSql(a, m[1], f, env.lang)} ${(m[2] ?? 'asc').toUpperCase()}${m[3] ? ` NULLS ${m[3].toUpperCase()}` : ''}`,
    );
  }
  if (!parts.some((p) => p.startsWith(`${a}."id"`)))
    parts.push(`${a}.id ${/\bid\s+desc/i.test(order) ? 'DESC' : 'ASC'}`);
  return parts.join(', ');
}

function intArg(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  throw typeError(`'${what}' must be a non-negative integer, got ${pyRepr(v)}`);
}

function activeDomain(env: Env, model: ModelDef, domain: unknown): unknown {
  if (!model.fields.active || env.context.active_test === false) return domain;
  const d = Array.isArray(domain) ? domain : [];
  const mentions = d.some((t) => Array.isArray(t) && (t[0] === 'active' || String(t[0]).endsWith('.active')));
  return mentions ? d : [['active', '=', true], ...d];
}

export async function search(
  env: Env,
  model: ModelDef,
  domain: unknown,
  args: SearchArgs = {},
): Promise<number[]> {
  const params = new SqlParams();
  const a = 'a';
  const where = compileDomain(env, model, activeDomain(env, model, domain), params, a);
  const order = orderSql(
    env,
    model,
    typeof args.order === 'string' && args.order.trim() ? args.order : model.order,
    a,
  );
  const limit = intArg(args.limit, 'limit');
  const offset = intArg(args.offset, 'offset');
  const sql = `SELECT ${a}.id FROM ${model.table} ${a} WHERE ${where} ORDER BY ${order}${limit !== undefined ? ` LIMIT ${limit}` : ''}${offset ? ` OFFSET ${offset}` : ''}`;
  const r = await env.db.query<{ id: number }>(sql, params.values);
  return r.rows.map((x) => x.id);
}

export async function searchCount(
  env: Env,
  model: ModelDef,
  domain: unknown,
  limit?: unknown,
): Promise<number> {
  const params = new SqlParams();
  const where = compileDomain(env, model, activeDomain(env, model, domain), params, 'a');
  const lim = intArg(limit, 'limit');
  const r = await env.db.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM ${model.table} a WHERE ${where}${lim !== undefined ? ` LIMIT ${lim}` : ''}) s`,
    params.values,
  );
  return Number(r.rows[0].n);
}

// ------------------------------------------------------------------------------------------------ read

function selectSql(env: Env, name: string, f: FieldDef, a: string): string {
  const s = scalarSql(a, name, f, env.lang);
  if (f.type === 'date') return `to_char(${s}, 'YYYY-MM-DD')`;
  if (f.type === 'datetime') return `to_char(${s}, 'YYYY-MM-DD HH24:MI:SS')`;
  if (f.type === 'float' || f.type === 'monetary') return `(${s})::float8`;
  return s;
}

export function checkIds(ids: unknown, method: string): number[] {
  const list = Array.isArray(ids) ? ids : [ids];
  for (const id of list) {
    if (typeof id !== 'number' || !Number.isInteger(id)) {
      throw typeError(`${method}(): record ids must be integers, got ${pyRepr(id)}`);
    }
  }
  return [...new Set(list as number[])];
}

export async function existing(env: Env, model: ModelDef, ids: number[], lock = false): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const r = await env.db.query<{ id: number }>(
    `SELECT id FROM ${model.table} WHERE id = ANY($1::int[])${lock ? ' FOR UPDATE' : ''}`,
    [ids],
  );
  return new Set(r.rows.map((x) => x.id));
}

export async function ensureExist(env: Env, model: ModelDef, ids: number[], lock = false): Promise<void> {
  const found = await existing(env, model, ids, lock);
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length) throw missingError(model.name, missing, env.uid);
}

export async function read(
  env: Env,
  model: ModelDef,
  ids: number[],
  fields?: unknown,
  opts: { mustExist?: boolean } = {},
): Promise<Array<Record<string, unknown>>> {
  let names: string[];
  if (
    fields === undefined ||
    fields === null ||
    fields === false ||
    (Array.isArray(fields) && fields.length === 0)
  ) {
    names = Object.keys(model.fields);
  } else if (Array.isArray(fields) && fields.every((x) => typeof x === 'string')) {
    names = fields as string[];
  } else throw typeError(`fields must be a list of field names, got ${pyRepr(fields)}`);
  for (const n of names)
    if (!model.fields[n]) throw valueError(`Invalid field '${n}' on model '${model.name}'`);
  if (!names.includes('id')) names = ['id', ...names];
  if (ids.length === 0) return [];
  const a = 'a';
  const scalars = names.filter((n) => !['one2many', 'many2many'].includes(model.fields[n].type));
  const sql = `SELECT ${scalars.map((n) => `${selectSql(env, n, model.fields[n], a)} AS ${q(n)}`).join(', ')} FROM ${model.table} ${a} WHERE ${a}.id = ANY($1::int[])`;
  const r = await env.db.query<Record<string, unknown>>(sql, [ids]);
  const byId = new Map(r.rows.map((row) => [row.id as number, row]));
  const missing = ids.filter((id) => !byId.has(id));
  if (missing.length && opts.mustExist !== false) throw missingError(model.name, missing, env.uid);
  const present = ids.filter((id) => byId.has(id));
  // many2one display names, batched per comodel
  const m2oValues = new Map<string, Map<number, string>>();
  for (const n of scalars) {
    const f = model.fields[n];
    if (f.type !== 'many2one') continue;
    const rel = f.relation!;
    const need = m2oValues.get(rel) ?? new Map<number, string>();
    for (const row of byId.values())
      if (row[n] !== null && row[n] !== undefined) need.set(Number(row[n]), '');
    m2oValues.set(rel, need);
  }
  for (const [rel, map] of m2oValues) {
    if (map.size === 0) continue;
    const co = REGISTRY.get(rel);
    if (!co) {
      for (const id of map.keys()) map.set(id, `${rel},${id}`);
      continue;
    }
    const rr = await env.db.query<{ id: number; n: string | null }>(
      `SELECT b.id, ${co.displayName('b', env.lang)} AS n FROM ${co.table} b WHERE b.id = ANY($1::int[])`,
      [[...map.keys()]],
    );
    for (const x of rr.rows) map.set(x.id, x.n ?? '');
  }
  // x2many id lists
  const x2m = new Map<string, Map<number, number[]>>();
  for (const n of names) {
    const f = model.fields[n];
    if (f.type !== 'one2many' && f.type !== 'many2many') continue;
    const map = new Map<number, number[]>();
    let rr;
    if (f.type === 'one2many') {
      const co = getModel(f.relation!);
      // Odoo reads a one2many in the comodel's _order, without archived rows unless the field says active_test False.
      const active =
        co.fields.active && f.activeTest !== false && env.context.active_test !== false
          ? ' AND c.active IS TRUE'
          : '';
      rr = await env.db.query<{ k: number; ids: number[] }>(
        `SELECT k, array_agg(id ORDER BY rn) AS ids FROM (SELECT c.${q(f.inverse!)} AS k, c.id, row_number() OVER (ORDER BY ${orderSql(env, co, co.order, 'c')}) AS rn FROM ${co.table} c WHERE c.${q(f.inverse!)} = ANY($1::int[])${f.filter ? ` AND ${f.filter}` : ''}${active}) x GROUP BY 1`,
        [present],
      );
    } else {
      rr = await env.db.query<{ k: number; ids: number[] }>(
        `SELECT r.${q(f.col1!)} AS k, array_agg(r.${q(f.col2!)} ORDER BY r.${q(f.col2!)}) AS ids FROM ${f.relTable} r WHERE r.${q(f.col1!)} = ANY($1::int[]) GROUP BY 1`,
        [present],
      );
    }
    for (const x of rr.rows) map.set(x.k, x.ids);
    x2m.set(n, map);
  }
  return present.map((id) => {
    const row = byId.get(id)!;
    const out: Record<string, unknown> = {};
    for (const n of names) {
      const f = model.fields[n];
      const v = row[n];
      switch (f.type) {
        case 'one2many':
        case 'many2many':
          out[n] = x2m.get(n)?.get(id) ?? [];
          break;
        case 'many2one':
          out[n] =
            v === null || v === undefined
              ? false
              : [Number(v), m2oValues.get(f.relation!)?.get(Number(v)) ?? ''];
          break;
        case 'integer':
          out[n] = v === null || v === undefined ? 0 : Number(v);
          break;
        case 'float':
        case 'monetary':
          out[n] = v === null || v === undefined ? 0 : Number(v);
          break;
        case 'boolean':
          out[n] = v === true;
          break;
        default:
          out[n] = v === null || v === undefined ? false : v;
      }
    }
    return out;
  });
}

// ------------------------------------------------------------------------------------------------ write

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})/;

export function toDate(v: unknown): string {
  const m = typeof v === 'string' ? DATE_RE.exec(v) : null;
  if (!m) throw valueError(`time data ${pyRepr(v)} does not match format '%Y-%m-%d'`);
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== `${m[1]}-${m[2]}-${m[3]}`) {
    throw valueError(`day is out of range for month: ${pyRepr(v)}`);
  }
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/** Converts one incoming value to its column value, raising Odoo's errors for bad ones. */
export function toColumn(env: Env, model: ModelDef, name: string, f: FieldDef, v: unknown): unknown {
  switch (f.type) {
    case 'char':
    case 'text': {
      if (v === false || v === null || v === undefined) return null;
      const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
      if (!f.translated) return s;
      return JSON.stringify(env.lang === 'en_US' ? { en_US: s } : { en_US: s, [env.lang]: s });
    }
    case 'selection':
      if (v === false || v === null || v === undefined) return null;
      if (typeof v !== 'string' || (f.selection && !f.selection.includes(v))) {
        throw valueError(`Wrong value for ${model.name}.${name}: ${pyRepr(v)}`);
      }
      return v;
    case 'boolean':
      return Boolean(v);
    case 'integer':
    case 'many2one': {
      if (v === false || v === null || v === undefined || v === 0) return null;
      if (f.type === 'many2one' && Array.isArray(v) && typeof v[0] === 'number') v = v[0];
      const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) {
        throw f.type === 'integer'
          ? valueError(`invalid literal for int() with base 10: ${pyRepr(v)}`)
          : valueError(`Wrong value for ${model.name}.${name}: ${pyRepr(v)}`);
      }
      return n;
    }
    case 'float':
    case 'monetary': {
      if (v === false || v === null || v === undefined) return 0;
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) throw valueError(`could not convert string to float: ${pyRepr(v)}`);
      return n;
    }
    case 'date':
      return v === false || v === null || v === undefined ? null : toDate(v);
    case 'datetime': {
      if (v === false || v === null || v === undefined) return null;
      if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?/.test(v)) {
        throw valueError(`time data ${pyRepr(v)} does not match format '%Y-%m-%d %H:%M:%S'`);
      }
      return v.slice(0, 19);
    }
    default:
      throw valueError(`field ${model.name}.${name} cannot be written directly`);
  }
}

export function assertVals(v: unknown, method: string): Vals {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw typeError(`${method}(): values must be a dictionary, got ${pyRepr(v)}`);
  }
  return v as Vals;
}

/** Splits vals into column values and x2many commands; unknown fields raise ValueError. */
export function splitVals(
  env: Env,
  model: ModelDef,
  vals: Vals,
): { cols: Record<string, unknown>; x2m: Array<[string, unknown]> } {
  const cols: Record<string, unknown> = {};
  const x2m: Array<[string, unknown]> = [];
  for (const [name, v] of Object.entries(vals)) {
    const f = model.fields[name];
    if (!f) throw valueError(`Invalid field '${name}' on model '${model.name}'`);
    if (f.type === 'one2many' || f.type === 'many2many') {
      x2m.push([name, v]);
      continue;
    }
    if (f.computed || f.expr) continue;
    cols[colOf(name, f)] = toColumn(env, model, name, f, v);
  }
  return { cols, x2m };
}

export function mandatoryError(model: ModelDef, field: string): OdooException {
  const f = model.fields[field];
  return validationError(
    'The operation cannot be completed:\n' +
      '- Create/update: a mandatory field is not set.\n' +
      '- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n' +
      `Model: ${model.description} (${model.name})\nField: ${f?.string ?? field} (${field})`,
  );
}

export async function insertRow(env: Env, model: ModelDef, cols: Record<string, unknown>): Promise<number> {
  for (const [name, f] of Object.entries(model.fields)) {
    if (f.required && !f.computed && (cols[colOf(name, f)] === null || cols[colOf(name, f)] === undefined)) {
      throw mandatoryError(model, name);
    }
  }
  const all = { ...cols, create_uid: env.uid, write_uid: env.uid };
  const keys = Object.keys(all);
  const r = await env.db.query<{ id: number }>(
    `INSERT INTO ${model.table} (${keys.map(q).join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    Object.values(all),
  );
  return r.rows[0].id;
}

/** At most this many parameters in one multi-row INSERT (PostgreSQL's limit is 65,535). */
const MAX_INSERT_PARAMS = 30_000;

/**
 * Inserts `rows` into `table` in as few statements as the parameter limit allows, like Odoo's `_create` inserts a
 * list of records with one multi-row INSERT (odoo/models.py, 16.0): the columns are the union of the rows' keys and
 * a row without a key gets the column's DEFAULT, as its own INSERT would. Answers the RETURNING rows, in the rows'
 * order.
 */
export async function insertMany<R extends QueryResultRow>(
  env: Env,
  table: string,
  rows: Array<Record<string, unknown>>,
  returning?: string,
): Promise<R[]> {
  const out: R[] = [];
  if (rows.length === 0) return out;
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const per = Math.max(1, Math.floor(MAX_INSERT_PARAMS / Math.max(1, keys.length)));
  for (let i = 0; i < rows.length; i += per) {
    const params: unknown[] = [];
    const values = rows
      .slice(i, i + per)
      .map(
        (r) =>
          `(${keys.map((k) => (k in r ? (params.push(r[k]), `$${params.length}`) : 'DEFAULT')).join(', ')})`,
      );
    const r = await env.db.query<R>(
      `INSERT INTO ${table} (${keys.map(q).join(', ')}) VALUES ${values.join(', ')}${returning ? ` RETURNING ${returning}` : ''}`,
      params,
    );
    out.push(...r.rows);
  }
  return out;
}

/** `insertRow` for many rows of `model`: the same mandatory-field errors, in the rows' order, then one INSERT. */
export async function insertRows<R extends QueryResultRow = { id: number }>(
  env: Env,
  model: ModelDef,
  colsList: Array<Record<string, unknown>>,
  returning = 'id',
): Promise<R[]> {
  for (const cols of colsList) {
    for (const [name, f] of Object.entries(model.fields)) {
      if (
        f.required &&
        !f.computed &&
        (cols[colOf(name, f)] === null || cols[colOf(name, f)] === undefined)
      ) {
        throw mandatoryError(model, name);
      }
    }
  }
  return insertMany<R>(
    env,
    model.table,
    colsList.map((cols) => ({ ...cols, create_uid: env.uid, write_uid: env.uid })),
    returning,
  );
}

export async function updateRows(
  env: Env,
  model: ModelDef,
  ids: number[],
  cols: Record<string, unknown>,
): Promise<void> {
  for (const [name, f] of Object.entries(model.fields)) {
    const c = colOf(name, f);
    if (f.required && !f.computed && c in cols && (cols[c] === null || cols[c] === undefined)) {
      throw mandatoryError(model, name);
    }
  }
  const all: Record<string, unknown> = { ...cols, write_uid: env.uid };
  const keys = Object.keys(all);
  await env.db.query(
    `UPDATE ${model.table} SET ${keys.map((k, i) => `${q(k)} = $${i + 2}`).join(', ')}, write_date = (now() AT TIME ZONE 'UTC') WHERE id = ANY($1::int[])`,
    [ids, ...Object.values(all)],
  );
}

export type ChildCreator = (env: Env, vals: Vals) => Promise<number>;
export type ChildWriter = (env: Env, ids: number[], vals: Vals) => Promise<void>;

/** Applies x2many commands (Odoo's Command list, or a plain id list for many2many). */
export async function applyX2many(
  env: Env,
  model: ModelDef,
  id: number,
  name: string,
  commands: unknown,
  hooks: {
    create?: ChildCreator;
    write?: ChildWriter;
    unlink?: (env: Env, ids: number[]) => Promise<void>;
  } = {},
): Promise<void> {
  const f = model.fields[name];
  const co = getModel(f.relation!);
  if (!Array.isArray(commands))
    throw valueError(`Wrong value for ${model.name}.${name}: ${pyRepr(commands)}`);
  const list: unknown[][] = commands.every((c) => typeof c === 'number')
    ? [[6, 0, commands]]
    : (commands as unknown[]).map((c) => {
        if (!Array.isArray(c) || typeof c[0] !== 'number' || c[0] < 0 || c[0] > 6) {
          throw valueError(`Wrong value for ${model.name}.${name}: ${pyRepr(c)}`);
        }
        return c;
      });
  const createChild: ChildCreator =
    hooks.create ??
    (async (e, vals) => {
      const { cols, x2m } = splitVals(e, co, vals);
      const cid = await insertRow(e, co, cols);
      for (const [n, cmds] of x2m) await applyX2many(e, co, cid, n, cmds);
      return cid;
    });
  const writeChild: ChildWriter =
    hooks.write ??
    (async (e, ids, vals) => {
      const { cols, x2m } = splitVals(e, co, vals);
      if (Object.keys(cols).length) await updateRows(e, co, ids, cols);
      for (const cid of ids) for (const [n, cmds] of x2m) await applyX2many(e, co, cid, n, cmds);
    });
  const unlinkChild =
    hooks.unlink ??
    (async (e: Env, ids: number[]) =>
      void (await e.db.query(`DELETE FROM ${co.table} WHERE id = ANY($1::int[])`, [ids])));
  const ids = (v: unknown): number[] => checkIds(v, 'write');
  for (const c of list) {
    const [code, a1, a2] = c as [number, unknown, unknown];
    if (f.type === 'one2many') {
      const inv = f.inverse!;
      switch (code) {
        case 0:
          await createChild(env, { ...assertVals(a2, 'create'), [inv]: id });
          break;
        case 1:
          await ensureExist(env, co, ids(a1));
          await writeChild(env, ids(a1), assertVals(a2, 'write'));
          break;
        case 2:
          await unlinkChild(env, ids(a1));
          break;
        case 3:
        case 5: {
          const target =
            code === 3
              ? ids(a1)
              : (
                  await env.db.query<{ id: number }>(`SELECT id FROM ${co.table} WHERE ${q(inv)} = $1`, [id])
                ).rows.map((r) => r.id);
          if (co.fields[inv]?.required) await unlinkChild(env, target);
          else
            await env.db.query(`UPDATE ${co.table} SET ${q(inv)} = NULL WHERE id = ANY($1::int[])`, [target]);
          break;
        }
        case 4:
          await ensureExist(env, co, ids(a1));
          await env.db.query(`UPDATE ${co.table} SET ${q(inv)} = $2 WHERE id = ANY($1::int[])`, [
            ids(a1),
            id,
          ]);
          break;
        case 6: {
          const keep = ids(a2 ?? []);
          await ensureExist(env, co, keep);
          const gone = (
            await env.db.query<{ id: number }>(
              `SELECT id FROM ${co.table} WHERE ${q(inv)} = $1 AND NOT (id = ANY($2::int[]))`,
              [id, keep],
            )
          ).rows.map((r) => r.id);
          if (gone.length) {
            if (co.fields[inv]?.required) await unlinkChild(env, gone);
            else
              await env.db.query(`UPDATE ${co.table} SET ${q(inv)} = NULL WHERE id = ANY($1::int[])`, [gone]);
          }
          await env.db.query(`UPDATE ${co.table} SET ${q(inv)} = $2 WHERE id = ANY($1::int[])`, [keep, id]);
          break;
        }
      }
      continue;
    }
    // many2many
    const rel = f.relTable!;
    const c1 = q(f.col1!);
    const c2 = q(f.col2!);
    const link = async (targets: number[]) => {
      await ensureMany2manyTargets(env, model, name, co, targets);
      if (targets.length)
        await env.db.query(
          `INSERT INTO ${rel} (${c1}, ${c2}) SELECT $1, x FROM unnest($2::int[]) AS x ON CONFLICT DO NOTHING`,
          [id, targets],
        );
    };
    switch (code) {
      case 0:
        await link([await createChild(env, assertVals(a2, 'create'))]);
        break;
      case 1:
        await writeChild(env, ids(a1), assertVals(a2, 'write'));
        break;
      case 2:
      case 3:
        await env.db.query(`DELETE FROM ${rel} WHERE ${c1} = $1 AND ${c2} = ANY($2::int[])`, [id, ids(a1)]);
        if (code === 2) await unlinkChild(env, ids(a1));
        break;
      case 4:
        await link(ids(a1));
        break;
      case 5:
        await env.db.query(`DELETE FROM ${rel} WHERE ${c1} = $1`, [id]);
        break;
      case 6:
        await env.db.query(`DELETE FROM ${rel} WHERE ${c1} = $1`, [id]);
        await link(ids(a2 ?? []));
        break;
    }
  }
}

async function ensureMany2manyTargets(
  env: Env,
  model: ModelDef,
  name: string,
  co: ModelDef,
  targets: number[],
): Promise<void> {
  const found = await existing(env, co, targets);
  const missing = targets.filter((t) => !found.has(t));
  if (missing.length) {
    // what PostgreSQL's foreign key on the relation table makes Odoo answer
    throw validationError(
      'The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\n' +
        `Model: ${model.description} (${model.name})\nConstraint: ${model.fields[name].relTable}_${model.fields[name].col2}_fkey`,
    );
  }
}

/** Generic `create(vals_list)`. */
export async function createGeneric(env: Env, model: ModelDef, vals: Vals): Promise<number> {
  const { cols, x2m } = splitVals(env, model, vals);
  const id = await insertRow(env, model, cols);
  for (const [name, cmds] of x2m) await applyX2many(env, model, id, name, cmds);
  return id;
}

/** Concurrency failures the server retries as a whole (server.ts): not replayed one by one. */
const RETRIED_SQLSTATES = new Set(['40001', '40P01']);

/**
 * A list create: `setBased` when it answers ids; when it answers null (a list it does not take) or fails, the list
 * is created `oneByOne` after the savepoint is rolled back, so that its rows and errors are those of single creates.
 */
export async function createList(
  env: Env,
  setBased: () => Promise<number[] | null>,
  oneByOne: () => Promise<number[]>,
): Promise<number[]> {
  await env.db.query('SAVEPOINT create_list');
  let ids: number[] | null;
  try {
    ids = await setBased();
  } catch (e) {
    if (RETRIED_SQLSTATES.has((e as { code?: string }).code ?? '')) throw e;
    await env.db.query('ROLLBACK TO SAVEPOINT create_list');
    ids = null;
  }
  await env.db.query('RELEASE SAVEPOINT create_list');
  return ids ?? oneByOne();
}

/** Generic `create(vals_list)` of a list: one multi-row INSERT (Odoo's `_create`) when no vals has x2many commands. */
export async function createGenericList(env: Env, model: ModelDef, list: unknown[]): Promise<number[]> {
  const oneByOne = async () => {
    const ids: number[] = [];
    for (const vals of list) ids.push(await createGeneric(env, model, assertVals(vals, 'create')));
    return ids;
  };
  if (list.length < 2) return oneByOne();
  return createList(
    env,
    async () => {
      const split = list.map((vals) => splitVals(env, model, assertVals(vals, 'create')));
      if (split.some((s) => s.x2m.length > 0)) return null;
      return (
        await insertRows(
          env,
          model,
          split.map((s) => s.cols),
        )
      ).map((r) => r.id);
    },
    oneByOne,
  );
}

/** Generic `write(ids, vals)`. */
export async function writeGeneric(env: Env, model: ModelDef, ids: number[], vals: Vals): Promise<void> {
  await ensureExist(env, model, ids, true);
  const { cols, x2m } = splitVals(env, model, vals);
  if (Object.keys(cols).length) await updateRows(env, model, ids, cols);
  for (const id of ids) for (const [name, cmds] of x2m) await applyX2many(env, model, id, name, cmds);
}

export async function nameSearch(
  env: Env,
  model: ModelDef,
  name: unknown,
  args: unknown,
  operator: unknown,
  limit: unknown,
): Promise<Array<[number, string]>> {
  const op = typeof operator === 'string' ? operator : 'ilike';
  const domain: unknown[] = Array.isArray(args) ? [...args] : [];
  const lim = limit === undefined || limit === null ? 100 : limit;
  let ids: number[];
  if (typeof name === 'string' && name !== '') {
    const params = new SqlParams();
    const where = compileDomain(env, model, activeDomain(env, model, domain), params, 'a');
    const extra = leafSql(model.displayName('a', env.lang), { type: 'char' }, op, name, params);
    const l = intArg(lim, 'limit');
    const r = await env.db.query<{ id: number }>(
      `SELECT a.id FROM ${model.table} a WHERE ${where} AND ${extra} ORDER BY ${orderSql(env, model, model.order, 'a')}${l !== undefined ? ` LIMIT ${l}` : ''}`,
      params.values,
    );
    ids = r.rows.map((x) => x.id);
  } else ids = await search(env, model, domain, { limit: lim });
  const rows = await read(env, model, ids, ['display_name']);
  return rows.map((r) => [r.id as number, (r.display_name as string | false) || '']);
}
