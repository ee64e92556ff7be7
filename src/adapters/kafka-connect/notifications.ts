/**
 * Debezium notifications (`notification.enabled.channels=sink`): the connector reports the life of each incremental
 * snapshot as JSON records on `notification.sink.topic.name` (connectors/odoo-billing.json:
 * `odoo.debezium-notifications`). This module decodes them (io-ts at the boundary), folds the ones of one snapshot
 * into its progress, and watches the topic from its current end for the `snapshot` command.
 *
 * A notification of an incremental snapshot (Debezium 3.x, IncrementalSnapshotNotificationService):
 *   { "id": "<signal id>", "aggregate_type": "Incremental Snapshot", "type": "<status>",
 *     "additional_data": { "connector_name": "odoo", ... }, "timestamp": <epoch ms> }
 * `id` is the snapshot's correlation id, i.e. the id of the signal row that started it. Types and their
 * additional_data:
 *   STARTED               data_collections
 *   IN_PROGRESS           data_collections, current_collection_in_progress, maximum_key, last_processed_key
 *   TABLE_SCAN_COMPLETED  data_collections, scanned_collection, total_rows_scanned, status
 *                         (SUCCEEDED | EMPTY | NO_PRIMARY_KEY | SKIPPED | SQL_EXCEPTION | UNKNOWN_SCHEMA)
 *   COMPLETED             —
 *   ABORTED               data_collections (when collections were removed by a stop-snapshot signal)
 *   PAUSED / RESUMED      data_collections
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/Either';
import { randomUUID } from 'node:crypto';
import { connectGet } from './client';
import type { BasicAuth } from '../basic-auth';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { SyncError } from '../../domain/errors';
import { ensureTopics, startGroupAtEnd } from '../kafka/kafka';
import type { ReplicationSetting } from '../../core/config';

export const INCREMENTAL_SNAPSHOT = 'Incremental Snapshot';

/** Table-scan outcomes that mean the table's rows were emitted (EMPTY: there were none to emit). */
const SCAN_OK = new Set(['SUCCEEDED', 'EMPTY']);

const SCAN_FAILURE_REASONS: Record<string, string> = {
  SQL_EXCEPTION: 'Debezium hit an SQL error while reading the table and skipped it',
  NO_PRIMARY_KEY: 'the table has no primary key (an incremental snapshot reads it in primary-key chunks)',
  UNKNOWN_SCHEMA: 'Debezium does not know the table (is it in table.include.list and the publication?)',
  SKIPPED: 'Debezium skipped the table',
};

export interface DebeziumNotification {
  id: string;
  aggregateType: string;
  type: string;
  additionalData: Record<string, string>;
  timestamp: number;
}

const NotificationCodec = t.intersection([
  t.type({ id: t.string, aggregate_type: t.string, type: t.string }),
  t.partial({
    additional_data: t.union([t.record(t.string, t.union([t.string, t.number, t.boolean, t.null])), t.null]),
    timestamp: t.union([t.number, t.string, t.null]),
  }),
]);

/**
 * Decodes one record value of the notification topic. Accepts the JsonConverter's plain JSON and its
 * `{schema, payload}` envelope (value.converter.schemas.enable=true). Throws SyncError('MALFORMED_EVENT').
 */
export function parseNotification(value: Buffer | string | null | undefined): DebeziumNotification {
  if (value === null || value === undefined)
    throw new SyncError('MALFORMED_EVENT', 'notification without a value');
  let json: unknown;
  try {
    json = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (e) {
    throw new SyncError('MALFORMED_EVENT', `notification is not JSON: ${(e as Error).message}`);
  }
  if (typeof json === 'object' && json !== null && 'payload' in json && 'schema' in json)
    json = (json as { payload: unknown }).payload;
  const decoded = NotificationCodec.decode(json);
  if (isLeft(decoded)) {
    const fields = decoded.left
      .map((e) =>
        e.context
          .map((c) => c.key)
          .filter(Boolean)
          .join('.'),
      )
      .filter(Boolean);
    throw new SyncError(
      'MALFORMED_EVENT',
      `not a Debezium notification (${[...new Set(fields)].join(', ') || 'shape'}): ${JSON.stringify(json).slice(0, 200)}`,
    );
  }
  const n = decoded.right;
  const additionalData: Record<string, string> = {};
  for (const [k, v] of Object.entries(n.additional_data ?? {})) if (v !== null) additionalData[k] = String(v);
  return {
    id: n.id,
    aggregateType: n.aggregate_type,
    type: n.type,
    additionalData,
    timestamp: n.timestamp === undefined || n.timestamp === null ? 0 : Number(n.timestamp),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// progress of one incremental snapshot
// ---------------------------------------------------------------------------------------------------------------

export interface TableScan {
  table: string;
  /** rows read and emitted as `op: r` events (total_rows_scanned) */
  rows: number;
  status: string;
}

export type SnapshotState = 'pending' | 'started' | 'running' | 'paused' | 'completed' | 'aborted' | 'failed';

export interface SnapshotProgress {
  id: string;
  state: SnapshotState;
  dataCollections: string[];
  /** the table being read, with the last primary key read so far and the table's maximum key */
  current?: { table: string; lastKey: string; maximumKey: string };
  chunks: number;
  tables: TableScan[];
  /** why the snapshot failed or was aborted */
  reason?: string;
  /** notifications of this snapshot folded so far */
  seen: number;
}

export function initialProgress(id: string): SnapshotProgress {
  return { id, state: 'pending', dataCollections: [], chunks: 0, tables: [], seen: 0 };
}

const collections = (s: string | undefined): string[] =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** True when the notification belongs to the incremental snapshot started by signal `id`. */
export function concerns(n: DebeziumNotification, id: string): boolean {
  return n.aggregateType === INCREMENTAL_SNAPSHOT && n.id === id;
}

/**
 * Folds one notification into the snapshot's progress (notifications of other snapshots and other aggregate types
 * leave it unchanged). `failed` and `aborted` are final; a failed table scan fails the snapshot with its reason.
 */
export function applyNotification(p: SnapshotProgress, n: DebeziumNotification): SnapshotProgress {
  if (!concerns(n, p.id)) return p;
  const next: SnapshotProgress = { ...p, tables: [...p.tables], seen: p.seen + 1 };
  const d = n.additionalData;
  const final = p.state === 'failed' || p.state === 'aborted';
  switch (n.type) {
    case 'STARTED':
      next.dataCollections = collections(d.data_collections);
      if (!final && p.state === 'pending') next.state = 'started';
      break;
    case 'IN_PROGRESS':
      next.chunks = p.chunks + 1;
      next.current = {
        table: d.current_collection_in_progress ?? '',
        lastKey: d.last_processed_key ?? '',
        maximumKey: (d.maximum_key ?? '').replace(/^"(.*)"$/, '$1'),
      };
      if (!final) next.state = 'running';
      break;
    case 'TABLE_SCAN_COMPLETED': {
      const table = d.scanned_collection ?? '';
      const scan: TableScan = { table, rows: Number(d.total_rows_scanned ?? 0) || 0, status: d.status ?? '' };
      next.tables = [...p.tables.filter((s) => s.table !== table), scan];
      next.current = undefined;
      if (!final && !SCAN_OK.has(scan.status)) {
        next.state = 'failed';
        next.reason = `${table}: ${scan.status} — ${SCAN_FAILURE_REASONS[scan.status] ?? 'the table scan did not succeed'}`;
      } else if (!final) next.state = 'running';
      break;
    }
    case 'PAUSED':
      if (!final) next.state = 'paused';
      break;
    case 'RESUMED':
      if (!final) next.state = 'running';
      break;
    case 'ABORTED':
      if (!final) {
        next.state = 'aborted';
        const which = collections(d.data_collections);
        next.reason = `the snapshot was aborted${which.length ? ` for ${which.join(', ')}` : ''} (stop-snapshot signal or connector restart)`;
      }
      break;
    case 'COMPLETED':
      if (!final) next.state = 'completed';
      next.current = undefined;
      break;
    default:
      break;
  }
  return next;
}

/** Rows emitted as snapshot (`op: r`) events so far, over the tables whose scan completed. */
export function rowsEmitted(p: SnapshotProgress): number {
  return p.tables.reduce((sum, s) => sum + s.rows, 0);
}

/** One line for an operator: where the snapshot stands. */
export function describeProgress(p: SnapshotProgress): string {
  const done = p.tables.map((s) => `${s.table} ${s.rows} row(s) ${s.status}`).join(', ');
  switch (p.state) {
    case 'pending':
      return `snapshot ${p.id}: waiting for Debezium to start it`;
    case 'started':
      return `snapshot ${p.id}: started (${p.dataCollections.join(', ')})`;
    case 'running':
    case 'paused': {
      const cur = p.current
        ? `reading ${p.current.table}: chunk ${p.chunks}, last key ${p.current.lastKey || '-'} of ${p.current.maximumKey || '-'}`
        : undefined;
      const text =
        [cur, done ? `done: ${done}` : undefined].filter(Boolean).join('; ') || `chunk ${p.chunks}`;
      return `snapshot ${p.id}: ${p.state === 'paused' ? 'paused, ' : ''}${text}`;
    }
    case 'completed':
      return `snapshot ${p.id}: completed, ${rowsEmitted(p)} row(s) emitted${done ? ` (${done})` : ''}`;
    default:
      return `snapshot ${p.id}: ${p.state}: ${p.reason ?? ''}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// the connector's notification settings
// ---------------------------------------------------------------------------------------------------------------

/** The notification topic when the connector publishes notifications on Kafka (`sink` channel), else undefined. */
export function notificationTopicOf(config: Record<string, string>): string | undefined {
  const channels = collections(config['notification.enabled.channels']);
  const topic = config['notification.sink.topic.name']?.trim();
  return channels.includes('sink') && topic ? topic : undefined;
}

/** `GET /connectors/<name>/config` (the config as applied, placeholders unresolved); null when not deployed. */
export async function fetchConnectorConfig(
  connectUrl: string,
  name: string,
  auth: BasicAuth | null = null,
  ca: string | null = null,
): Promise<Record<string, string> | null> {
  const res = await connectGet(connectUrl, `/connectors/${encodeURIComponent(name)}/config`, auth, ca);
  if (res.status === 404) return null;
  if (res.status !== 200)
    throw new SyncError('INTERNAL', `Kafka Connect config of ${name}: HTTP ${res.status}`);
  return res.json as Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// watching the topic
// ---------------------------------------------------------------------------------------------------------------

/**
 * Reads the notification topic from its end at the time of `open` (a throwaway consumer group whose offsets are set
 * to the end before it joins, so nothing produced after `open` returns is missed; the group is deleted on close).
 */
export class NotificationWatcher {
  private readonly queue: DebeziumNotification[] = [];
  private waiter: (() => void) | undefined;
  /** records that were not Debezium notifications (reported, never fatal) */
  readonly malformed: string[] = [];

  private constructor(
    private readonly consumer: Consumer,
    private readonly admin: Admin,
    private readonly groupId: string,
  ) {}

  static async open(
    kafka: Kafka,
    admin: Admin,
    topic: string,
    replication?: ReplicationSetting,
  ): Promise<NotificationWatcher> {
    // Connect creates the topic with the first notification; create it now so its end can be recorded.
    await ensureTopics(admin, [{ topic, numPartitions: 1 }], replication);
    const groupId = `odoo-opencell-sync-snapshot-${randomUUID()}`;
    await startGroupAtEnd(kafka, admin, groupId, [topic]);
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, sessionTimeout: 10000 });
    const watcher = new NotificationWatcher(consumer, admin, groupId);
    const joined = new Promise<void>((resolve) => {
      const off = consumer.on(consumer.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        try {
          watcher.queue.push(parseNotification(message.value));
        } catch (e) {
          watcher.malformed.push(`${topic}:${partition}:${message.offset}: ${(e as Error).message}`);
        }
        watcher.waiter?.();
      },
    });
    await Promise.race([joined, new Promise((r) => setTimeout(r, 15000))]);
    return watcher;
  }

  /** The next notification, or undefined after `timeoutMs` without one. */
  async next(timeoutMs: number): Promise<DebeziumNotification | undefined> {
    if (this.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, timeoutMs));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  async close(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
    await this.admin.deleteGroups([this.groupId]).catch(() => undefined);
  }
}
