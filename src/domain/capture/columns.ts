import * as t from 'io-ts';

/**
 * io-ts codecs for single column values as Debezium's JSON converter (schemas.enable=false) delivers them
 * from Odoo 16's PostgreSQL columns, with the connector settings in connectors/odoo-billing.json:
 * decimal.handling.mode=string, time.precision.mode=adaptive.
 *
 * | PG column (Odoo field)                      | event value                      | decoded as                          |
 * |---------------------------------------------|----------------------------------|-------------------------------------|
 * | int4 (Integer, Many2one)                    | number                           | number (integer)                    |
 * | bool (Boolean)                              | boolean or null                  | boolean (NULL is False, as in Odoo) |
 * | varchar/text (Char, Selection, Text)        | string                           | string                              |
 * | numeric (Float with digits, Monetary)       | string "123.4500"                | DecimalString, exact, never a float |
 * | float8 (Float without digits)               | number                           | number                              |
 * | date (Date)                                 | int days since 1970-01-01        | IsoDate 'YYYY-MM-DD'                |
 * | timestamp (Datetime, UTC naive)             | int64 µs since epoch             | IsoTimestamp '…T…:SS.ffffffZ' (µs)  |
 * | jsonb, translated (Odoo 16 translate=True)  | string holding JSON              | Translated {en_US: …, ca_ES: …}     |
 */

/** 'YYYY-MM-DD'. */
export type IsoDate = string;
/** 'YYYY-MM-DDTHH:MM:SS.ffffffZ', microsecond precision, UTC (Odoo stores naive UTC). */
export type IsoTimestamp = string;
/** An exact decimal in plain notation: /^-?\d+(\.\d+)?$/. Compare with `decimalEquals`, never parseFloat. */
export type DecimalString = string;
/** An Odoo 16 translated value: language code → text. */
export type Translated = Readonly<Record<string, string>>;

export type ColumnKind =
  'int' | 'bool' | 'string' | 'numeric' | 'float' | 'date' | 'timestamp' | 'translated';

/** A column's codec plus what the registry and the diff need to know about it. */
export interface Column<A> {
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  readonly codec: t.Type<A, unknown, unknown>;
  /** the codec decodes every value its `is` accepts to that same value (no conversion): decoding can skip it */
  readonly passThrough?: boolean;
}

const DAY_MS = 86_400_000;
// 0001-01-01 .. 9999-12-31 in epoch days
const MIN_EPOCH_DAY = -719_162;
const MAX_EPOCH_DAY = 2_932_896;

export function epochDayToIsoDate(days: number): IsoDate {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

export function isoDateToEpochDay(date: IsoDate): number {
  const ms = Date.parse(`${date}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(ms)) throw new RangeError(`not a date: ${date}`);
  return Math.round(ms / DAY_MS);
}

export function microsToIsoTimestamp(us: number): IsoTimestamp {
  const ms = Math.floor(us / 1000);
  const micros = us - ms * 1000; // 0..999, also for negative values
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

/** Inverse of microsToIsoTimestamp (for fixtures and tests). */
export function isoTimestampToMicros(iso: IsoTimestamp): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z$/.exec(iso);
  if (!m) throw new RangeError(`not an ISO timestamp: ${iso}`);
  const frac = (m[2] ?? '').padEnd(6, '0');
  return Date.parse(`${m[1]}Z`) * 1000 + Number(frac);
}

const DECIMAL_RE = /^-?\d+(\.\d+)?$/;

export function isDecimalString(s: unknown): s is DecimalString {
  return typeof s === 'string' && DECIMAL_RE.test(s);
}

/** Canonical form of an exact decimal: no leading zeros, no trailing fractional zeros, no "-0". */
export function normalizeDecimal(s: DecimalString): DecimalString {
  if (!DECIMAL_RE.test(s)) throw new RangeError(`not a decimal string: ${s}`);
  let neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  const [intRaw, fracRaw = ''] = body.split('.');
  const int = intRaw.replace(/^0+(?=\d)/, '');
  const frac = fracRaw.replace(/0+$/, '');
  if (int === '0' && frac === '') neg = false;
  return `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

/** Exact numeric equality of two decimal strings ("17.360" equals "17.36"). */
export function decimalEquals(a: DecimalString, b: DecimalString): boolean {
  return normalizeDecimal(a) === normalizeDecimal(b);
}

/**
 * Picks one language from an Odoo 16 translated value: the requested language, then en_US (Odoo's source
 * language, always present when written through the ORM), then the first value present. null when empty.
 */
export function pickTranslation(value: Translated | null | undefined, lang?: string | null): string | null {
  if (!value) return null;
  if (lang && typeof value[lang] === 'string') return value[lang];
  if (typeof value.en_US === 'string') return value.en_US;
  const first = Object.values(value).find((v) => typeof v === 'string');
  return first ?? null;
}

// ---------------------------------------------------------------------------------------------------------
// Value codecs (non-null). Each reports a specific reason, used in MalformedEventError messages.

const describe = (u: unknown): string => {
  if (u === null) return 'null';
  if (typeof u === 'string') return `"${u.length > 40 ? `${u.slice(0, 40)}…` : u}"`;
  if (typeof u === 'object') return Array.isArray(u) ? 'an array' : 'an object';
  return `${typeof u} ${String(u)}`;
};

export const IntValue = new t.Type<number, number, unknown>(
  'int4',
  (u): u is number => typeof u === 'number' && Number.isSafeInteger(u),
  (u, c) =>
    typeof u === 'number' && Number.isSafeInteger(u)
      ? t.success(u)
      : t.failure(u, c, `expected an integer, got ${describe(u)}`),
  t.identity,
);

export const BoolValue = new t.Type<boolean, boolean, unknown>(
  'bool',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) =>
    typeof u === 'boolean' ? t.success(u) : t.failure(u, c, `expected a boolean, got ${describe(u)}`),
  t.identity,
);

export const StringValue = new t.Type<string, string, unknown>(
  'varchar',
  (u): u is string => typeof u === 'string',
  (u, c) => (typeof u === 'string' ? t.success(u) : t.failure(u, c, `expected a string, got ${describe(u)}`)),
  t.identity,
);

/** numeric with decimal.handling.mode=string: kept as the exact decimal string. */
export const DecimalValue = new t.Type<DecimalString, string, unknown>(
  'numeric(string)',
  isDecimalString,
  (u, c) =>
    isDecimalString(u)
      ? t.success(u)
      : t.failure(
          u,
          c,
          typeof u === 'number'
            ? `expected a decimal string (decimal.handling.mode=string), got the number ${u}`
            : `expected a decimal string, got ${describe(u)}`,
        ),
  t.identity,
);

/** float8: a JSON number. */
export const FloatValue = new t.Type<number, number, unknown>(
  'float8',
  (u): u is number => typeof u === 'number' && Number.isFinite(u),
  (u, c) =>
    typeof u === 'number' && Number.isFinite(u)
      ? t.success(u)
      : t.failure(u, c, `expected a number, got ${describe(u)}`),
  t.identity,
);

/** io.debezium.time.Date: int32 days since the epoch → 'YYYY-MM-DD'. */
export const DateValue = new t.Type<IsoDate, number, unknown>(
  'date(epoch days)',
  (u): u is IsoDate => typeof u === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(u),
  (u, c) =>
    typeof u === 'number' && Number.isInteger(u) && u >= MIN_EPOCH_DAY && u <= MAX_EPOCH_DAY
      ? t.success(epochDayToIsoDate(u))
      : t.failure(u, c, `expected a date as integer days since 1970-01-01, got ${describe(u)}`),
  isoDateToEpochDay,
);

/** io.debezium.time.MicroTimestamp: int64 µs since the epoch (UTC naive in Odoo) → ISO string with µs. */
export const TimestampValue = new t.Type<IsoTimestamp, number, unknown>(
  'timestamp(µs)',
  (u): u is IsoTimestamp => typeof u === 'string' && /Z$/.test(u),
  (u, c) =>
    typeof u === 'number' && Number.isSafeInteger(u)
      ? t.success(microsToIsoTimestamp(u))
      : t.failure(u, c, `expected a timestamp as integer microseconds since the epoch, got ${describe(u)}`),
  isoTimestampToMicros,
);

/** Odoo 16 translated jsonb: the event carries a string holding JSON {"en_US": "…", …}. */
export const TranslatedValue = new t.Type<Translated, string, unknown>(
  'jsonb(translated)',
  (u): u is Translated => typeof u === 'object' && u !== null && !Array.isArray(u),
  (u, c) => {
    let parsed: unknown;
    if (typeof u === 'string') {
      try {
        parsed = JSON.parse(u);
      } catch {
        return t.failure(
          u,
          c,
          `expected a JSON object string (translated jsonb), got unparsable ${describe(u)}`,
        );
      }
    } else {
      return t.failure(
        u,
        c,
        `expected a string holding a JSON object (translated jsonb), got ${describe(u)}`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return t.failure(u, c, `expected a JSON object of language → text, got ${describe(parsed)}`);
    }
    const out: Record<string, string> = {};
    for (const [lang, text] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof text !== 'string') return t.failure(u, c, `translation "${lang}" is not a string`);
      out[lang] = text;
    }
    return t.success(out);
  },
  (a) => JSON.stringify(a),
);

// ---------------------------------------------------------------------------------------------------------
// Column builders.

/**
 * `codec` or null. Not `t.union([codec, t.null])`: io-ts's union allocates on every check (a closure per `is`, a
 * failed member per null value), which the router pays per event (bench/interpretation.md, session 13); the error
 * of a non-null value is the codec's own.
 */
export function nullable<A, O>(codec: t.Type<A, O, unknown>): t.Type<A | null, O | null, unknown> {
  return new t.Type<A | null, O | null, unknown>(
    `${codec.name} | null`,
    (u): u is A | null => u === null || codec.is(u),
    (u, c) => (u === null ? t.success(null) : codec.validate(u, c)),
    (a) => (a === null ? null : codec.encode(a)),
  );
}

/** Kinds whose event value is the decoded value (the others convert: dates, timestamps, translations). */
const PASS_THROUGH: ReadonlySet<ColumnKind> = new Set(['int', 'string', 'numeric', 'float']);

function column<A>(kind: ColumnKind, codec: t.Type<A, unknown, unknown>): Column<A> {
  return { kind, nullable: false, codec, passThrough: PASS_THROUGH.has(kind) };
}
function nullableColumn<A>(kind: ColumnKind, codec: t.Type<A, unknown, unknown>): Column<A | null> {
  return { kind, nullable: true, codec: nullable(codec), passThrough: PASS_THROUGH.has(kind) };
}

/** Odoo booleans are nullable columns read as False when NULL: decoded null → false. */
const BoolOrNullAsFalse = new t.Type<boolean, unknown, unknown>(
  'bool (NULL=false)',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) => (u === null ? t.success(false) : BoolValue.validate(u, c)),
  t.identity,
);

export const col = {
  /** int4 NOT NULL (id, required Many2one, Integer). */
  int: (): Column<number> => column('int', IntValue),
  /** int4 NULL (optional Many2one / Integer). */
  intN: (): Column<number | null> => nullableColumn('int', IntValue),
  /** bool; NULL decodes as false, like Odoo. */
  bool: (): Column<boolean> => ({
    kind: 'bool',
    nullable: true,
    codec: BoolOrNullAsFalse,
    passThrough: true,
  }),
  str: (): Column<string> => column('string', StringValue),
  strN: (): Column<string | null> => nullableColumn('string', StringValue),
  numeric: (): Column<DecimalString> => column('numeric', DecimalValue),
  numericN: (): Column<DecimalString | null> => nullableColumn('numeric', DecimalValue),
  float: (): Column<number> => column('float', FloatValue),
  floatN: (): Column<number | null> => nullableColumn('float', FloatValue),
  date: (): Column<IsoDate> => column('date', DateValue),
  dateN: (): Column<IsoDate | null> => nullableColumn('date', DateValue),
  timestamp: (): Column<IsoTimestamp> => column('timestamp', TimestampValue),
  timestampN: (): Column<IsoTimestamp | null> => nullableColumn('timestamp', TimestampValue),
  translated: (): Column<Translated> => column('translated', TranslatedValue),
  translatedN: (): Column<Translated | null> => nullableColumn('translated', TranslatedValue),
} as const;

/** Exact equality of two decoded values of one column kind. */
export function valuesEqual(kind: ColumnKind, a: unknown, b: unknown): boolean {
  if (a === null || b === null || a === undefined || b === undefined)
    return a === b || (a ?? null) === (b ?? null);
  switch (kind) {
    case 'numeric':
      return decimalEquals(a as string, b as string);
    case 'translated': {
      const ea = Object.entries(a as Translated).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
      const eb = Object.entries(b as Translated).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
      return ea.length === eb.length && ea.every(([k, v], i) => eb[i][0] === k && eb[i][1] === v);
    }
    default:
      return a === b;
  }
}
