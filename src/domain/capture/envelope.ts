import * as t from 'io-ts';
import { MalformedEventError } from '../errors';
import { IntValue, nullable, StringValue } from './columns';
import { isCapturedTable, Row, specOf, TableName } from './tables';

/**
 * The Debezium PostgreSQL change-event envelope as the JSON converter writes it with schemas.enable=false
 * (the Debezium PostgreSQL connector's JSON, schemas disabled), and `decodeChange`, which turns one Kafka record into a typed change.
 */

export const OPS = ['c', 'u', 'd', 'r', 't', 'm'] as const;
export type Op = (typeof OPS)[number];
export type RowOp = 'c' | 'u' | 'd' | 'r';

/** source.snapshot is a string enum in Debezium 3.x (a boolean in old docs; accepted and mapped). */
export const SNAPSHOT_MARKERS = [
  'true',
  'first',
  'first_in_data_collection',
  'last_in_data_collection',
  'last',
  'false',
  'incremental',
] as const;
export type SnapshotMarker = (typeof SNAPSHOT_MARKERS)[number];

const enumOf = <V extends string>(name: string, values: readonly V[]) =>
  new t.Type<V, string, unknown>(
    name,
    (u): u is V => typeof u === 'string' && (values as readonly string[]).includes(u),
    (u, c) =>
      typeof u === 'string' && (values as readonly string[]).includes(u)
        ? t.success(u as V)
        : t.failure(u, c, `expected one of ${values.join('/')}, got ${JSON.stringify(u)}`),
    t.identity,
  );

export const OpCodec = enumOf<Op>('op', OPS);

const SnapshotCodec = new t.Type<SnapshotMarker, string, unknown>(
  'snapshot',
  (u): u is SnapshotMarker => typeof u === 'string' && (SNAPSHOT_MARKERS as readonly string[]).includes(u),
  (u, c) => {
    if (u === undefined || u === null || u === false) return t.success('false');
    if (u === true) return t.success('true');
    return enumOf<SnapshotMarker>('snapshot', SNAPSHOT_MARKERS).validate(u, c);
  },
  t.identity,
);

const nullableInt = nullable(IntValue);
const nullableString = nullable(StringValue);

export const SourceCodec = t.intersection([
  t.type({
    version: StringValue,
    connector: StringValue,
    name: StringValue,
    ts_ms: IntValue,
    snapshot: SnapshotCodec,
    db: StringValue,
  }),
  t.partial({
    schema: nullableString,
    table: nullableString,
    txId: nullableInt,
    lsn: nullableInt,
    xmin: nullableInt,
    sequence: nullableString,
    ts_us: nullableInt,
    ts_ns: nullable(t.number),
  }),
]);
export type Source = t.TypeOf<typeof SourceCodec>;

export const TransactionBlockCodec = t.type({
  id: StringValue,
  total_order: IntValue,
  data_collection_order: IntValue,
});
export type TransactionBlock = t.TypeOf<typeof TransactionBlockCodec>;

const RawRow = nullable(t.UnknownRecord);

/** The envelope with before/after left undecoded (they are decoded per table). */
export const EnvelopeCodec = t.intersection([
  t.type({ op: OpCodec, source: SourceCodec, ts_ms: IntValue }),
  t.partial({
    before: RawRow,
    after: RawRow,
    transaction: nullable(TransactionBlockCodec),
    message: nullable(t.type({ prefix: StringValue, content: nullableString })),
    ts_us: nullableInt,
    ts_ns: nullable(t.number),
  }),
]);

/** Where a change comes from in the WAL and in Kafka. */
export interface SourcePosition {
  /** LSN of the change (int64; safe as a JS number for any realistic WAL size). null for some snapshot reads. */
  readonly lsn: number | null;
  readonly txId: number | null;
  /** Commit time in the database, epoch ms. */
  readonly tsMs: number;
  readonly snapshot: SnapshotMarker;
  /** true for snapshot reads (initial or incremental) */
  readonly isSnapshot: boolean;
  /** JSON string [lastCommittedLsn, currentLsn] as sent by Debezium, or null. */
  readonly sequence: string | null;
}

export interface KafkaPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

interface ChangeBase<T extends TableName> extends KafkaPosition {
  readonly table: T;
}

/** A row change (create, update, delete, snapshot read) of one captured table, with decoded rows. */
export type RowChangeOf<T extends TableName> = ChangeBase<T> & {
  readonly kind: 'row';
  readonly op: RowOp;
  /** null on c / r (and on u if the table lacks REPLICA IDENTITY FULL) */
  readonly before: Row<T> | null;
  /** null on d */
  readonly after: Row<T> | null;
  /** The message key: the primary key columns, e.g. {id: 42}. */
  readonly key: Readonly<Record<string, unknown>>;
  readonly source: SourcePosition;
  readonly transaction: TransactionBlock | null;
  /** When Debezium processed the event (epoch ms); source.tsMs is the commit time. */
  readonly tsMs: number;
};

/** Discriminated union of every table's row change: narrow with `change.table === 'res_partner'`. */
export type RowChange = { [T in TableName]: RowChangeOf<T> }[TableName];

/** op "t": TRUNCATE of a captured table. Delivered on purpose (skipped.operations=none). */
export interface TruncateChange extends ChangeBase<TableName> {
  readonly kind: 'truncate';
  readonly op: 't';
  readonly key: null;
  readonly source: SourcePosition;
  readonly transaction: TransactionBlock | null;
  readonly tsMs: number;
}

/** A null-valued record (log-compaction tombstone after a delete). Not expected with tombstones.on.delete=false. */
export interface TombstoneChange extends ChangeBase<TableName> {
  readonly kind: 'tombstone';
  readonly key: Readonly<Record<string, unknown>> | null;
}

/** op "m": a logical decoding message (pg_logical_emit_message), on the `<prefix>.message` topic. */
export interface LogicalMessageChange extends KafkaPosition {
  readonly kind: 'message';
  readonly op: 'm';
  readonly table: null;
  readonly prefix: string;
  /** base64, as Debezium sends bytes in JSON */
  readonly content: string | null;
  readonly source: SourcePosition;
  readonly tsMs: number;
}

export type DecodedChange = RowChange | TruncateChange | TombstoneChange | LogicalMessageChange;

// ---------------------------------------------------------------------------------------------------------

function pathOf(errors: t.Errors, prefix: string): { field: string; reason: string } {
  const e = errors[0];
  const keys = e.context.map((c) => c.key).filter((k) => k !== '' && !/^\d+$/.test(k)); // drop union/intersection member indexes
  const field = [prefix, ...keys].filter(Boolean).join('.') || '(root)';
  const reason =
    e.message ??
    `expected ${e.context[e.context.length - 1]?.type.name ?? 'a valid value'}, got ${
      e.value === undefined ? 'nothing' : JSON.stringify(e.value)?.slice(0, 60)
    }`;
  return { field, reason };
}

function parseJson(buf: Buffer | string, pos: KafkaPosition, what: 'key' | 'value'): unknown {
  try {
    return JSON.parse(typeof buf === 'string' ? buf : buf.toString('utf8'));
  } catch (e) {
    throw new MalformedEventError(
      pos.topic,
      pos.partition,
      pos.offset,
      what,
      `not JSON: ${(e as Error).message}`,
    );
  }
}

/**
 * The op of a change value read from its bytes, without parsing it (the router's fast path, bench/filter.ts). The
 * JSON converter writes the envelope compactly and in its schema's order — before, after, source, transaction, op,
 * ts_ms… — so the envelope's `"op":"x"` is the last one in the value, a few dozen bytes from its end: scanned
 * backwards. `"op":"` with its quotes unescaped cannot occur inside a JSON string, and no captured table has a column
 * named `op` (a unit test checks the registry), so nothing after the envelope's op can look like it. undefined
 * when not found as expected (spaces, an unknown op): the caller parses the value.
 */
export function peekOp(value: Buffer): Op | undefined {
  // the last `"op":"x"` of the record (native search from the end: the envelope's op follows its row images)
  const i = value.lastIndexOf(OP_NEEDLE);
  if (i < 0 || i + 7 >= value.length || value[i + 7] !== 0x22) return undefined;
  const op = String.fromCharCode(value[i + 6]);
  return (OPS as readonly string[]).includes(op) ? (op as Op) : undefined;
}

const OP_NEEDLE = Buffer.from('"op":"', 'latin1');

/** `odoo.public.res_partner` → `res_partner` (the last segment; schema and prefix before it). */
export function tableOfTopic(topic: string): string {
  return topic.slice(topic.lastIndexOf('.') + 1);
}

function positionOf(source: Source): SourcePosition {
  return {
    lsn: source.lsn ?? null,
    txId: source.txId ?? null,
    tsMs: source.ts_ms,
    snapshot: source.snapshot,
    isSnapshot: source.snapshot !== 'false',
    sequence: source.sequence ?? null,
  };
}

/**
 * Decodes one Kafka record of a Debezium topic into a typed change, or throws MalformedEventError naming the
 * topic, partition, offset and the field path (e.g. `after.list_price`) with what is wrong.
 *
 * - value null → `{kind: 'tombstone'}`; op t → `{kind: 'truncate'}`; op m → `{kind: 'message'}`: explicit
 *   variants, not errors.
 * - c / r need `after` (and no `before`), d needs `before` (and no `after`), u needs `after`.
 * - the table comes from source.table and must agree with the topic's last segment.
 * - keyBuffer is the JSON key ({"id": 42}); null only for truncates and messages.
 */
export function decodeChange(
  topic: string,
  partition: number,
  offset: string,
  keyBuffer: Buffer | string | null,
  valueBuffer: Buffer | string | null,
): DecodedChange {
  const pos: KafkaPosition = { topic, partition, offset };
  if (valueBuffer === null || (typeof valueBuffer !== 'string' && valueBuffer.length === 0)) {
    return decodeParsedChange(topic, partition, offset, keyBuffer, null);
  }
  return decodeParsedChange(topic, partition, offset, keyBuffer, parseJson(valueBuffer, pos, 'value'));
}

/** Parses a change value once (for callers that look at the raw envelope before decoding it). */
export function parseChangeValue(
  topic: string,
  partition: number,
  offset: string,
  valueBuffer: Buffer | string,
): unknown {
  return parseJson(valueBuffer, { topic, partition, offset }, 'value');
}

/** decodeChange on an already parsed value (`null` for a tombstone). */
export function decodeParsedChange(
  topic: string,
  partition: number,
  offset: string,
  keyBuffer: Buffer | string | null,
  parsedValue: unknown,
): DecodedChange {
  // No closure per call (a failure helper, a row decoder): a replay decodes tens of thousands of changes a second,
  // and what one change allocates is garbage the router's collector pays for (bench/interpretation.md).
  const pos: KafkaPosition = { topic, partition, offset };
  const topicTable = tableOfTopic(topic);

  if (parsedValue === null) {
    if (!isCapturedTable(topicTable))
      malformed(pos, 'topic', `table "${topicTable}" is not a captured table`);
    let key: Record<string, unknown> | null = null;
    if (keyBuffer !== null) {
      const k = specOf(topicTable as TableName).keyCodec.decode(parseJson(keyBuffer, pos, 'key'));
      if (k._tag === 'Left') {
        const { field, reason } = pathOf(k.left, 'key');
        malformed(pos, field, reason);
      } else key = k.right;
    }
    return { kind: 'tombstone', table: topicTable as TableName, key, ...pos };
  }

  const raw = parsedValue;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    malformed(pos, 'value', 'expected a JSON object envelope');
  const rawObj = raw as Record<string, unknown>;
  if ('schema' in rawObj && 'payload' in rawObj) {
    malformed(pos, 'value', 'envelope has schema/payload: the converter must use schemas.enable=false');
  }
  // A well-formed envelope (its codec's `is`: every value one the codec passes unchanged) is used as it is; only
  // another one goes through the decoder, for its conversions or the path of its error. The decoder's context
  // entries and failed union members cost some 7 KB per event on the router's path (bench/interpretation.md).
  let e: t.TypeOf<typeof EnvelopeCodec>;
  if (EnvelopeCodec.is(raw)) e = raw;
  else {
    const env = EnvelopeCodec.decode(raw);
    if (env._tag === 'Left') {
      const { field, reason } = pathOf(env.left, '');
      return malformed(pos, field, reason);
    }
    e = env.right;
  }
  const source = positionOf(e.source);
  const transaction = e.transaction ?? null;

  if (e.op === 'm') {
    if (!e.message) malformed(pos, 'message', 'op "m" without a message block');
    return {
      kind: 'message',
      op: 'm',
      table: null,
      prefix: e.message!.prefix,
      content: e.message!.content,
      source,
      tsMs: e.ts_ms,
      ...pos,
    };
  }

  const table = e.source.table;
  if (!table) return malformed(pos, 'source.table', 'missing');
  if (!isCapturedTable(table)) return malformed(pos, 'source.table', `"${table}" is not a captured table`);
  if (table !== topicTable)
    malformed(pos, 'source.table', `"${table}" does not match the topic's table "${topicTable}"`);
  const spec = specOf(table);

  if (e.op === 't') {
    return { kind: 'truncate', op: 't', table, key: null, source, transaction, tsMs: e.ts_ms, ...pos };
  }

  if (keyBuffer === null) malformed(pos, 'key', `missing key on op "${e.op}"`);
  const keyDecoded = spec.keyCodec.decode(parseJson(keyBuffer!, pos, 'key'));
  if (keyDecoded._tag === 'Left') {
    const { field, reason } = pathOf(keyDecoded.left, 'key');
    return malformed(pos, field, reason);
  }

  const before = decodeRow(spec, pos, 'before', e.before) as Row<typeof table> | null;
  const after = decodeRow(spec, pos, 'after', e.after) as Row<typeof table> | null;
  switch (e.op) {
    case 'c':
    case 'r':
      if (after === null) malformed(pos, 'after', `missing on op "${e.op}"`);
      if (before !== null) malformed(pos, 'before', `must be null on op "${e.op}"`);
      break;
    case 'u':
      if (after === null) malformed(pos, 'after', 'missing on op "u"');
      break;
    case 'd':
      if (before === null) malformed(pos, 'before', 'missing on op "d" (is REPLICA IDENTITY FULL set?)');
      if (after !== null) malformed(pos, 'after', 'must be null on op "d"');
      break;
  }

  return {
    kind: 'row',
    op: e.op,
    table,
    before,
    after,
    key: keyDecoded.right,
    source,
    transaction,
    tsMs: e.ts_ms,
    ...pos,
  } as RowChange;
}

function malformed(pos: KafkaPosition, field: string, reason: string): never {
  throw new MalformedEventError(pos.topic, pos.partition, pos.offset, field, reason);
}

/** One row image of a change decoded by its table's codec (null when absent). */
function decodeRow(
  spec: { rowCodec: t.Decoder<unknown, unknown> },
  pos: KafkaPosition,
  side: 'before' | 'after',
  value: unknown,
): unknown {
  if (value === null || value === undefined) return null;
  const r = spec.rowCodec.decode(value);
  if (r._tag === 'Left') {
    const { field, reason } = pathOf(r.left, side);
    return malformed(pos, field, reason);
  }
  return r.right;
}

/** Narrowing helper: `if (isRowChangeOf(ch, 'contract_line')) ch.after?.product_id`. */
export function isRowChangeOf<T extends TableName>(
  change: DecodedChange,
  table: T,
): change is Extract<RowChange, { table: T }> {
  return change.kind === 'row' && change.table === table;
}
