import type { VersionProfile } from './errors';
import { invalid } from './errors';
import type { CustomFieldRec, SandboxState } from './state';

/** What a route handler gets. */
export interface Ctx {
  state: SandboxState;
  /** The sandbox clock (epoch ms). */
  now: number;
  query: URLSearchParams;
  body: unknown;
  /** Path parameters captured by the route pattern. */
  params: string[];
  profile: VersionProfile;
}

/** Returns the response body (HTTP 200) or throws an ApiError. */
export type Handler = (ctx: Ctx) => unknown;

export interface Success {
  status: 'SUCCESS';
  message?: string;
  entityId?: number;
  entityCode?: string;
}

export const success = (extra: Omit<Success, 'status'> = { message: '' }): Success => ({
  status: 'SUCCESS',
  ...extra,
});

/** Query parameter, blank = absent. */
export function q(ctx: Ctx, name: string): string | undefined {
  const v = ctx.query.get(name);
  return v === null || v.trim() === '' ? undefined : v;
}

export function qBool(ctx: Ctx, name: string, dflt = false): boolean {
  const v = q(ctx, name);
  return v === undefined ? dflt : v.toLowerCase() === 'true';
}

/**
 * Validates and merges custom fields. `strict` (single-entity APIs): an unknown code is a 400. `filter` (CRM
 * hierarchy): codes without a template on that level are dropped; if the catalog defines no templates for the
 * entity, every CF is kept.
 */
export function mergeCustomFields(
  ctx: Ctx,
  entity: string,
  existing: CustomFieldRec[] | undefined,
  incoming: unknown,
  mode: 'strict' | 'filter',
): CustomFieldRec[] | undefined {
  const list = (incoming as { customField?: CustomFieldRec[] } | undefined)?.customField;
  if (!list || list.length === 0) return existing;
  const templates = ctx.state.index.customFieldTemplates(entity);
  const out = new Map((existing ?? []).map((cf) => [cf.code, cf]));
  for (const cf of list) {
    const tpl = templates?.find((t) => t.code === cf.code);
    if (!tpl) {
      if (mode === 'filter') {
        if (templates === undefined) out.set(cf.code, cf);
        continue;
      }
      throw invalid(`Custom field template with code ${cf.code} not found.`);
    }
    const sv = cf.stringValue;
    if (tpl.maxLength !== undefined && typeof sv === 'string' && sv.length > tpl.maxLength) {
      throw invalid(`Custom field ${cf.code} value ${sv} length is longer then ${tpl.maxLength} symbols`);
    }
    out.set(cf.code, cf);
  }
  return [...out.values()];
}

/** `{customField:[…]}` for output, or undefined when there is none. */
export const cfOut = (cfs: CustomFieldRec[] | undefined): { customField: CustomFieldRec[] } | undefined =>
  cfs && cfs.length ? { customField: cfs } : undefined;
