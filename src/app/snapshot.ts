/**
 * `snapshot <table>`: the source-side resync. Asks Debezium for an incremental snapshot of one captured table by
 * inserting an `execute-snapshot` signal into public.debezium_signal (signal.data.collection); Debezium re-reads
 * the table in primary-key chunks while streaming goes on, and the rows flow through the normal pipeline (the
 * ledger and the strategies make the re-read harmless).
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { isCapturedTable, specOf, TABLE_NAMES } from '../domain/capture/tables';
import { UsageError } from './args';

export const SIGNAL_TABLE = 'public.debezium_signal';
const SIGNAL_DATA_MAX = 2048; // varchar(2048) in schemas/odoo/99-signal.sql

export interface SnapshotSignal {
  id: string;
  type: 'execute-snapshot';
  data: string;
}

export function snapshotTables(): string[] {
  return TABLE_NAMES.filter((t) => specOf(t).role === 'odoo');
}

/** The signal row for one table (validated against the capture registry). */
export function buildSnapshotSignal(
  table: string,
  where?: string,
  id: string = randomUUID(),
): SnapshotSignal {
  const name = table.replace(/^public\./, '');
  if (!isCapturedTable(name) || specOf(name).role !== 'odoo') {
    throw new UsageError(
      `"${table}" is not a captured Odoo table; one of: ${snapshotTables().join(', ')}`,
      'snapshot',
    );
  }
  const collection = `public.${name}`;
  const data: Record<string, unknown> = { 'data-collections': [collection], type: 'incremental' };
  if (where !== undefined) {
    if (where.trim() === '') throw new UsageError('--where needs a SQL condition', 'snapshot');
    if (where.includes(';'))
      throw new UsageError('--where must be a single SQL condition (no ";")', 'snapshot');
    data['additional-conditions'] = [{ 'data-collection': collection, filter: where.trim() }];
  }
  const json = JSON.stringify(data);
  if (json.length > SIGNAL_DATA_MAX)
    throw new UsageError(
      `--where is too long (signal data is limited to ${SIGNAL_DATA_MAX} characters)`,
      'snapshot',
    );
  return { id, type: 'execute-snapshot', data: json };
}

export async function insertSignal(pool: Pool, signal: SnapshotSignal): Promise<void> {
  await pool.query(`INSERT INTO ${SIGNAL_TABLE} (id, type, data) VALUES ($1, $2, $3)`, [
    signal.id,
    signal.type,
    signal.data,
  ]);
}
