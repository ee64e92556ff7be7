import { ColumnKind } from '../src/domain/capture/columns';
import { Op, SnapshotMarker } from '../src/domain/capture/envelope';
import { Row, specOf, TableName } from '../src/domain/capture/tables';

/**
 * Builders of realistic Debezium events (JSON converter, schemas.enable=false, decimal.handling.mode=string,
 * time.precision.mode=adaptive) for unit tests of anything that consumes captured changes. Rows are given
 * DECODED (ISO dates, decimal strings, translation objects) and encoded the way Debezium sends them
 * (epoch days, µs, JSON strings), so `decodeChange(…)` of a built record gives the given row back.
 */

const SAMPLE: Record<ColumnKind, unknown> = {
  int: 1,
  bool: true,
  string: 'x',
  numeric: '0',
  float: 1,
  date: '2025-01-01',
  timestamp: '2025-01-01T00:00:00.000000Z',
  translated: { en_US: 'x' },
};

/** A decoded row of `table` with placeholder values for every captured column, then `overrides`. */
export function sampleRow<T extends TableName>(table: T, overrides: Partial<Row<T>> = {}): Row<T> {
  const spec = specOf(table);
  const row: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(spec.columns))
    row[name] = c.nullable && c.kind !== 'bool' ? null : SAMPLE[c.kind];
  for (const k of spec.key) if (spec.columns[k].kind === 'int') row[k] = 1;
  return { ...row, ...overrides } as Row<T>;
}

/** Encodes a decoded row (or a partial one, or raw values) into Debezium's JSON representation. */
export function encodeRow<T extends TableName>(
  table: T,
  row: Partial<Row<T>> | Record<string, unknown>,
): Record<string, unknown> {
  const spec = specOf(table);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    const c = spec.columns[name];
    out[name] = c && c.codec.is(value) ? c.codec.encode(value) : value;
  }
  return out;
}

export interface EnvelopeOptions {
  op: Op;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** raw (already encoded) rows instead of decoded ones: skip encoding */
  raw?: boolean;
  txId?: number | null;
  lsn?: number | null;
  tsMs?: number;
  snapshot?: SnapshotMarker;
  transaction?: { id: string; total_order: number; data_collection_order: number } | null;
  prefix?: string;
}

/** A Debezium envelope object for one table (as the value of a Kafka record). */
export function envelope<T extends TableName>(table: T, o: EnvelopeOptions): Record<string, unknown> {
  const tsMs = o.tsMs ?? 1_735_693_200_123;
  const lsn = o.lsn === undefined ? 24_023_128 : o.lsn;
  const txId = o.txId === undefined ? 77_211 : o.txId;
  const enc = (r: Record<string, unknown> | null | undefined) =>
    r ? (o.raw ? r : encodeRow(table, r)) : null;
  // Debezium's field order (before, after, source, transaction, op, ts_*): capture's peekOp reads the op from the end.
  const env: Record<string, unknown> = o.op === 't' ? {} : { before: enc(o.before), after: enc(o.after) };
  Object.assign(env, {
    source: {
      version: '3.6.1.Final',
      connector: 'postgresql',
      name: o.prefix ?? 'odoo',
      ts_ms: tsMs,
      ts_us: tsMs * 1000 + 456,
      ts_ns: tsMs * 1_000_000 + 456_000,
      snapshot: o.snapshot ?? (o.op === 'r' ? 'true' : 'false'),
      db: 'odoo',
      sequence: lsn === null ? null : JSON.stringify([String(lsn - 9), String(lsn)]),
      schema: 'public',
      table,
      txId,
      lsn,
      xmin: null,
    },
    transaction:
      o.transaction === undefined
        ? o.op === 'r'
          ? null
          : { id: `${txId}:${lsn}`, total_order: 1, data_collection_order: 1 }
        : o.transaction,
    op: o.op,
    ts_ms: tsMs + 333,
    ts_us: (tsMs + 333) * 1000,
    ts_ns: (tsMs + 333) * 1_000_000,
  });
  return env;
}

/** The key object of a row: its primary key columns. */
export function keyOf<T extends TableName>(
  table: T,
  row: Partial<Row<T>> | Record<string, unknown>,
): Record<string, unknown> {
  const spec = specOf(table);
  const key: Record<string, unknown> = {};
  for (const k of spec.key) key[k] = (row as Record<string, unknown>)[k];
  return key;
}

export interface FakeRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** A Kafka record (key and value as JSON buffers) carrying one change of `table`. */
export function changeRecord<T extends TableName>(
  table: T,
  o: EnvelopeOptions & { partition?: number; offset?: string | number },
): FakeRecord {
  const row = o.after ?? o.before ?? null;
  return {
    topic: `${o.prefix ?? 'odoo'}.public.${table}`,
    partition: o.partition ?? 0,
    offset: String(o.offset ?? 0),
    key: o.op === 't' || !row ? null : Buffer.from(JSON.stringify(keyOf(table, row))),
    value: Buffer.from(JSON.stringify(envelope(table, o))),
  };
}
