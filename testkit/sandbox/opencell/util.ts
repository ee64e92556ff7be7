const DAY = 86_400_000;
export { DAY };

/**
 * Reads a date the way OpenCell's Jackson setup does: epoch ms (number or numeric string), "yyyy-MM-dd"
 * (midnight UTC), or an ISO-8601 / RFC-1123 date-time. Returns undefined when unparsable.
 */
export function parseOcDate(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^-?\d+$/.test(s)) return Number(s);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m) {
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    return Number.isNaN(ms) || new Date(ms).getUTCDate() !== Number(m[3]) ? undefined : ms;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(s)) {
    const withZone = /(Z|[+-]\d{2}:?\d{2})$/.test(s) ? s : `${s}Z`;
    const ms = Date.parse(withZone);
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(s)) {
    const ms = Date.parse(s);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

export const startOfDay = (ms: number): number => Math.floor(ms / DAY) * DAY;
export const endOfDay = (ms: number): number => startOfDay(ms) + DAY - 1;

export const round2 = (n: number): number => Math.round((n + Number.EPSILON) * 100) / 100;

/** "yyyy-MM-dd" (UTC). */
export const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** meveo.dateTimeFormat default: dd/MM/yyyy HH:mm (UTC). */
export function meveoDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

/** "yyyy-MM-dd'T'HH:mm:ssXXX" (UTC). */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Start of the calendar month (UTC) containing `ms`, shifted by `delta` months. */
export function monthStart(ms: number, delta = 0): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + delta, 1);
}

/** Small deterministic PRNG (mulberry32) so fault shares and synthetic data are reproducible. */
export { seededRandom } from '../fault-rules';

/** Removes undefined/null members recursively (OpenCell's @JsonInclude(NON_NULL)). */
export function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => compact(v)) as unknown as T;
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined && v !== null) out[k] = compact(v);
    }
    return out as T;
  }
  return value;
}
