import type { Ctx } from './context';
import { invalid } from './errors';
import { PagingSchema, parseObject } from './schemas';
import { endOfDay, parseOcDate, startOfDay } from './util';

/**
 * PagingAndFiltering: POST bodies or the GET `query=k:v|k:v` form, filter operators on JPA
 * field names, sorting, offset/limit (default 100) and the echoed `paging` block.
 */
export interface FieldDef<T> {
  type: 'string' | 'date' | 'number';
  get: (e: T) => string | number | undefined;
}
export type FieldMap<T> = Record<string, FieldDef<T>>;

export interface PagingRequest {
  filters?: Record<string, unknown>;
  fields?: string;
  offset?: number;
  limit?: number;
  sortBy?: string;
  sortOrder?: 'ASCENDING' | 'DESCENDING';
  fullTextFilter?: string;
  multiSortOrder?: string;
}

const OPS = new Set([
  'ne',
  'fromRange',
  'toRange',
  'toRangeInclusive',
  'fromOptionalRange',
  'toOptionalRange',
  'inList',
  'not-inList',
]);

/** Reads the paging request from a POST body or the GET parameters. */
export function pagingFrom(ctx: Ctx, method: 'GET' | 'POST'): PagingRequest {
  if (method === 'POST') return parseObject(PagingSchema, ctx.body) as PagingRequest;
  const p: PagingRequest = {};
  const query = ctx.query.get('query');
  if (query) {
    p.filters = {};
    for (const part of query.split('|')) {
      const [k, v] = part.split(':');
      if (k !== undefined && k !== '') p.filters[k] = v ?? '';
    }
  }
  const num = (name: string) => {
    const v = ctx.query.get(name);
    if (v === null || v === '') return undefined;
    if (!/^\d+$/.test(v)) throw invalid(`Invalid value '${v}' for field ${name}`);
    return Number(v);
  };
  p.offset = num('offset');
  p.limit = num('limit');
  const sortBy = ctx.query.get('sortBy');
  if (sortBy) p.sortBy = sortBy;
  const sortOrder = ctx.query.get('sortOrder');
  if (sortOrder) {
    if (sortOrder !== 'ASCENDING' && sortOrder !== 'DESCENDING')
      throw invalid(`Invalid value '${sortOrder}' for field sortOrder`);
    p.sortOrder = sortOrder;
  }
  const fields = ctx.query.get('fields');
  if (fields) p.fields = fields;
  return p;
}

type Pred<T> = (e: T) => boolean;

function compileFilter<T>(key: string, value: unknown, fields: FieldMap<T>): Pred<T> {
  const tokens = key.trim().split(/\s+/);
  const op = tokens.length > 1 && OPS.has(tokens[0]!) ? tokens.shift()! : 'eq';
  const fieldName = tokens.join(' ');
  const def = fields[fieldName];
  if (!def) throw invalid(`Field '${fieldName}' is not a valid field name`);
  if (value === 'IS_NULL') return (e) => def.get(e) === undefined;
  if (value === 'IS_NOT_NULL') return (e) => def.get(e) !== undefined;

  const convert = (v: unknown): string | number => {
    if (def.type === 'string') {
      if (typeof v === 'string' || typeof v === 'number') return String(v);
    } else if (def.type === 'date') {
      const ms = parseOcDate(v);
      if (ms !== undefined) return ms;
    } else if (typeof v === 'number' || (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)))
      return Number(v);
    throw invalid(
      `Filter ${key} value ${String(v)} does not match ${def.type === 'date' ? 'Date' : def.type === 'number' ? 'Number' : 'String'}`,
    );
  };

  const optional = op === 'fromOptionalRange' || op === 'toOptionalRange';
  switch (op) {
    case 'fromRange':
    case 'fromOptionalRange': {
      let bound = convert(value) as number;
      if (def.type === 'date') bound = startOfDay(bound);
      return (e) => {
        const v = def.get(e);
        return v === undefined ? optional : (v as number) >= bound;
      };
    }
    case 'toRange':
    case 'toOptionalRange': {
      const bound = convert(value) as number;
      return (e) => {
        const v = def.get(e);
        return v === undefined ? optional : (v as number) < bound;
      };
    }
    case 'toRangeInclusive': {
      let bound = convert(value) as number;
      if (def.type === 'date') bound = endOfDay(bound);
      return (e) => {
        const v = def.get(e);
        return v !== undefined && (v as number) <= bound;
      };
    }
    case 'inList':
    case 'not-inList': {
      const list = (Array.isArray(value) ? value : String(value).split(',')).map((x) =>
        def.type === 'string'
          ? String(x).trim().toLowerCase()
          : convert(typeof x === 'string' ? x.trim() : x),
      );
      const set = new Set(list);
      const negate = op === 'not-inList';
      return (e) => {
        const v = def.get(e);
        const key2 = def.type === 'string' && v !== undefined ? String(v).toLowerCase() : v;
        return set.has(key2 as string | number) !== negate;
      };
    }
    default: {
      if (def.type === 'string') {
        const s = String(convert(value));
        const negate = op === 'ne';
        if (s.includes('*')) {
          const re = new RegExp(
            `^${s
              .split('*')
              .map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
              .join('.*')}$`,
            'i',
          );
          return (e) => {
            const v = def.get(e);
            return (v !== undefined && re.test(String(v))) !== negate;
          };
        }
        const lower = s.toLowerCase();
        return (e) => {
          const v = def.get(e);
          return (v !== undefined && String(v).toLowerCase() === lower) !== negate;
        };
      }
      const n = convert(value);
      const negate = op === 'ne';
      return (e) => (def.get(e) === n) !== negate;
    }
  }
}

/** Filters, sorts and pages `items`; returns the page and the echoed paging block. */
export function applyPaging<T>(
  items: Iterable<T>,
  req: PagingRequest,
  fields: FieldMap<T>,
  defaultSort: string,
): { page: T[]; total: number; paging: Record<string, unknown> } {
  const preds = Object.entries(req.filters ?? {}).map(([k, v]) => compileFilter(k, v, fields));
  const matched: T[] = [];
  for (const e of items) if (preds.every((p) => p(e))) matched.push(e);
  const sortBy = req.sortBy ?? defaultSort;
  const sortDef = fields[sortBy];
  if (!sortDef) throw invalid(`Field '${sortBy}' is not a valid field name`);
  const dir = req.sortOrder === 'DESCENDING' ? -1 : 1;
  matched.sort((a, b) => {
    const x = sortDef.get(a);
    const y = sortDef.get(b);
    if (x === y) return 0;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  const offset = req.offset ?? 0;
  const limit = req.limit ?? 100;
  const page = matched.slice(offset, offset + limit);
  const paging: Record<string, unknown> = {
    ...(req.fullTextFilter !== undefined ? { fullTextFilter: req.fullTextFilter } : {}),
    ...(req.filters !== undefined ? { filters: req.filters } : {}),
    ...(req.fields !== undefined ? { fields: req.fields } : {}),
    offset,
    limit,
    sortBy,
    sortOrder: req.sortOrder ?? 'ASCENDING',
    totalNumberOfRecords: matched.length,
    loadReferenceDepth: 0,
  };
  return { page, total: matched.length, paging };
}
