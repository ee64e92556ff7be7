import { ApiError, invalid } from './errors';
import { parseOcDate } from './util';
import type { FieldSpec, Schema } from '../../../src/domain/opencell/request-schemas';

/**
 * Request-body deserialization the way OpenCell's Jackson provider does it: field-based DTOs,
 * unknown properties rejected with 400 INVALID_PARAMETER, dates read from epoch ms / "yyyy-MM-dd" / ISO, numbers
 * and booleans also read from strings, nulls treated as absent. The parsed value has dates as epoch ms. The schemas
 * themselves are the domain's (src/domain/opencell/request-schemas.ts), named by the operation catalogue.
 */
export * from '../../../src/domain/opencell/request-schemas';

const JAVA: Record<string, string> = {
  string: 'java.lang.String',
  number: 'java.math.BigDecimal',
  int: 'java.lang.Integer',
  long: 'java.lang.Long',
  boolean: 'java.lang.Boolean',
  date: 'java.util.Date',
};

function describe(v: unknown): string {
  if (typeof v === 'string') return `String "${v}"`;
  if (Array.isArray(v)) return 'Array value (token `JsonToken.START_ARRAY`)';
  if (typeof v === 'object') return 'Object value (token `JsonToken.START_OBJECT`)';
  return `${typeof v === 'number' ? 'Number' : 'Boolean'} value (${String(v)})`;
}

function typeError(javaType: string, v: unknown, path: string): ApiError {
  return invalid(
    `Cannot deserialize value of type \`${javaType}\` from ${describe(v)}: not a valid representation (through reference chain: ${path})`,
  );
}

function parseField(spec: FieldSpec, v: unknown, path: string): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof spec === 'string') {
    switch (spec) {
      case 'any':
        return v;
      case 'string':
        if (typeof v === 'string') return v;
        if (typeof v === 'number' || typeof v === 'boolean') return String(v);
        throw typeError(JAVA.string, v, path);
      case 'number':
      case 'int':
      case 'long': {
        let n: number | undefined;
        if (typeof v === 'number') n = v;
        else if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/.test(v)) n = Number(v);
        if (n === undefined || !Number.isFinite(n) || (spec !== 'number' && !Number.isInteger(n))) {
          throw typeError(JAVA[spec], v, path);
        }
        return n;
      }
      case 'boolean':
        if (typeof v === 'boolean') return v;
        if (v === 'true' || v === 'false') return v === 'true';
        throw typeError(JAVA.boolean, v, path);
      case 'date': {
        const ms = parseOcDate(v);
        if (ms === undefined) throw typeError(JAVA.date, v, path);
        return ms;
      }
    }
  }
  if ('enum' in spec) {
    if (typeof v === 'string' && spec.enum.includes(v)) return v;
    throw invalid(
      `Cannot deserialize value of type \`${spec.javaType}\` from ${describe(v)}: not one of the values accepted for Enum class: [${spec.enum.join(', ')}]`,
    );
  }
  if ('obj' in spec) return parseObject(spec.obj, v, path);
  if ('arr' in spec) {
    // Jackson accepts a single value where a list is expected only with a feature flag; OpenCell does not set it.
    if (!Array.isArray(v)) throw typeError('java.util.ArrayList', v, path);
    return v.map((item, i) => parseField(spec.arr, item, `${path}[${i}]`));
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw typeError('java.util.LinkedHashMap', v, path);
  return v;
}

export function parseObject(schema: Schema, v: unknown, path = schema.cls): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(schema.cls, v, path);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) {
    const spec = schema.fields[key];
    if (spec === undefined) {
      if (schema.ignored?.includes(key)) continue;
      throw invalid(
        `Unrecognized field "${key}" (class ${schema.cls}), not marked as ignorable (${Object.keys(schema.fields).length} known properties: ${Object.keys(
          schema.fields,
        )
          .map((k) => `"${k}"`)
          .join(', ')}])`,
      );
    }
    const parsed = parseField(spec, value, `${schema.cls}["${key}"]`);
    if (parsed !== undefined) out[key] = parsed;
  }
  return out;
}
