/**
 * `snapshot <table…>` / `snapshot --all`: the source-side resync. Asks Debezium for an incremental snapshot of captured tables by
 * inserting an `execute-snapshot` signal into public.debezium_signal (signal.data.collection, read by Debezium's
 * `source` signal channel from the WAL); Debezium re-reads the table in primary-key chunks while streaming goes on,
 * and the rows flow through the normal pipeline as `op: r` events (the ledger and the strategies make the re-read
 * harmless).
 *
 * The connector runs with `read.only=true` (docs/decisions/0002-snapshot-signals.md): its role stays read-only,
 * the chunk watermarks come from pg_current_snapshot(); the signal row is inserted with the CLI's own role.
 * Debezium publishes the snapshot's life on the notification topic (`notification.enabled.channels=sink`): the
 * command confirms the start there and, with --wait, follows it to completion and reports the rows emitted. A
 * failed table scan, an abort, a FAILED task or no answer within --timeout are failures (exit 1) with the
 * connector's reason, including what Debezium logged about the snapshot when the Connect log is readable here.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { isCapturedTable, specOf, TABLE_NAMES } from '../domain/capture/tables';
import { ConnectClient, ConnectorStatus } from '../adapters/kafka-connect/client';
import { CONNECTOR_NAME } from '../adapters/kafka-connect/connector-config';
import {
  applyNotification,
  concerns,
  describeProgress,
  fetchConnectorConfig,
  initialProgress,
  NotificationWatcher,
  notificationTopicOf,
  rowsEmitted,
  SnapshotProgress,
} from '../adapters/kafka-connect/notifications';
import { formatLogEntry, readLogTail, snapshotLogEntries } from '../adapters/kafka-connect/connect-log';
import { CliFailure, UsageError } from './args';
import { packageRoot } from '../core/package-root';
import type { BasicAuth, ReplicationSetting } from '../core/config';

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

/**
 * The signal row for one or several tables (validated against the capture registry). Several tables are one
 * signal: Debezium reads them one after the other in one incremental snapshot, and the command follows them together
 * (`snapshot --all` after a go-live or a restore). `where` needs exactly one table: its condition names that
 * table's columns.
 */
export function buildSnapshotSignal(
  tables: string | readonly string[],
  where?: string,
  id: string = randomUUID(),
): SnapshotSignal {
  const names = (typeof tables === 'string' ? [tables] : [...tables]).map((t) => t.replace(/^public\./, ''));
  if (names.length === 0) throw new UsageError('name a table, or --all', 'snapshot');
  for (const name of names) {
    if (!isCapturedTable(name) || specOf(name).role !== 'odoo') {
      throw new UsageError(
        `"${name}" is not a captured Odoo table; one of: ${snapshotTables().join(', ')}`,
        'snapshot',
      );
    }
  }
  const collections = [...new Set(names)].map((n) => `public.${n}`);
  const data: Record<string, unknown> = { 'data-collections': collections, type: 'incremental' };
  if (where !== undefined) {
    if (collections.length !== 1)
      throw new UsageError('--where applies to one table: name exactly one', 'snapshot');
    if (where.trim() === '') throw new UsageError('--where needs a SQL condition', 'snapshot');
    if (where.includes(';'))
      throw new UsageError('--where must be a single SQL condition (no ";")', 'snapshot');
    data['additional-conditions'] = [{ 'data-collection': collections[0], filter: where.trim() }];
  }
  const json = JSON.stringify(data);
  if (json.length > SIGNAL_DATA_MAX)
    throw new UsageError(
      `${where !== undefined ? '--where' : 'the table list'} is too long (signal data is limited to ${SIGNAL_DATA_MAX} characters)`,
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

// ---------------------------------------------------------------------------------------------------------------
// asking for the snapshot and following it
// ---------------------------------------------------------------------------------------------------------------

export interface SnapshotDeps {
  pool: Pool;
  kafka: Kafka;
  admin: Admin;
  connectUrl: string;
  /** HTTP Basic credentials of Kafka Connect (config CONNECT_USERNAME/PASSWORD); none by default */
  connectAuth?: BasicAuth | null;
  /** CONNECT_CA's certificates (null: the system's) */
  connectCa?: string | null;
  /** replication of the notification topic when this creates it (default: from the cluster's size) */
  replication?: ReplicationSetting;
}

export interface SnapshotRunOptions {
  /** follow the snapshot to COMPLETED (else: return once Debezium started it and read its first chunk) */
  wait: boolean;
  /** longest wait for the next notification of this snapshot */
  timeoutMs: number;
  connector?: string;
  /** the Connect worker's log, when readable here (default: the local stack's .run/logs/connect.log) */
  connectLog?: string;
  onProgress?: (line: string, progress: SnapshotProgress) => void;
}

export interface SnapshotReport {
  signal: SnapshotSignal;
  notificationTopic: string;
  progress: SnapshotProgress;
  rowsEmitted: number;
  completed: boolean;
  /** WARN / ERROR lines Debezium logged about this snapshot's tables since the signal */
  logWarnings: string[];
}

/** The local stack's Connect log (scripts/stack: $STACK_RUN/logs/connect.log, default .run/), if there is one. */
export function defaultConnectLog(): string | undefined {
  const candidates = [
    join(process.env.STACK_RUN ?? join(packageRoot(), '.run'), 'logs', 'connect.log'),
    join(process.cwd(), '.run', 'logs', 'connect.log'),
  ];
  return candidates.find((p) => existsSync(p));
}

function taskProblem(name: string, status: ConnectorStatus | null): string | undefined {
  if (!status) return `connector ${name} is not deployed: run \`odoo-opencell-sync connectors apply\``;
  const failed = [
    { what: 'connector', ...status.connector },
    ...status.tasks.map((t) => ({ what: `task ${t.id}`, ...t })),
  ].find((s) => s.state === 'FAILED');
  if (failed)
    return `connector ${name} ${failed.what} is FAILED: ${(failed.trace ?? '').split('\n')[0]} (\`connectors restart\`)`;
  if (status.connector.state !== 'RUNNING' || !status.tasks.some((t) => t.state === 'RUNNING'))
    return `connector ${name} is ${status.connector.state} (tasks: ${status.tasks.map((t) => t.state).join(', ') || 'none'}); it must be RUNNING to take a snapshot`;
  return undefined;
}

function logLines(file: string | undefined, since: Date, tables: string[]): string[] {
  if (!file) return [];
  try {
    return snapshotLogEntries(readLogTail(file), since, tables).map(formatLogEntry);
  } catch {
    return [];
  }
}

/**
 * Checks that the connector runs and publishes notifications, inserts the signal, and follows the snapshot on the
 * notification topic. Throws CliFailure with the connector's reason when it does not start, fails or is aborted.
 */
export async function runSnapshot(
  deps: SnapshotDeps,
  signal: SnapshotSignal,
  opts: SnapshotRunOptions,
): Promise<SnapshotReport> {
  const name = opts.connector ?? CONNECTOR_NAME;
  const connect = new ConnectClient(deps.connectUrl, deps.connectAuth ?? null, deps.connectCa ?? null);
  const tables = (JSON.parse(signal.data) as { 'data-collections': string[] })['data-collections'];
  const connectLog = opts.connectLog ?? defaultConnectLog();
  const readConnect = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw new CliFailure(`could not read ${what} from Kafka Connect: ${(e as Error).message}`);
    }
  };

  const problem = taskProblem(name, await readConnect('the connector status', () => connect.status(name)));
  if (problem) throw new CliFailure(`${problem}; no snapshot signal inserted`);
  const config =
    (await readConnect('the connector config', () =>
      fetchConnectorConfig(deps.connectUrl, name, deps.connectAuth ?? null, deps.connectCa ?? null),
    )) ?? {};
  const topic = notificationTopicOf(config);
  if (!topic)
    throw new CliFailure(
      `connector ${name} does not publish Debezium notifications (notification.enabled.channels=sink, ` +
        'notification.sink.topic.name), so a snapshot could not be followed: apply connectors/odoo-billing.json ' +
        'with `odoo-opencell-sync connectors apply`; no snapshot signal inserted',
    );
  const channels = (config['signal.enabled.channels'] ?? 'source').split(',').map((c) => c.trim());
  if (!channels.includes('source') || !config['signal.data.collection'])
    throw new CliFailure(
      `connector ${name} does not read signals from ${SIGNAL_TABLE} (signal.enabled.channels=${channels.join(',')}, ` +
        `signal.data.collection=${config['signal.data.collection'] ?? 'unset'}); no snapshot signal inserted`,
    );

  // Debezium's read-only snapshot releases a chunk only on a streamed change past its high watermark; the heartbeat
  // query provides one on a quiet database (docs/decisions/0002-snapshot-signals.md)
  const heartbeatHint = config['heartbeat.action.query']?.trim()
    ? ''
    : `; connector ${name} has no heartbeat.action.query, so on a quiet Odoo database a chunk waits for the next ` +
      'Odoo write: apply connectors/odoo-billing.json (`odoo-opencell-sync connectors apply`)';
  let watcher: NotificationWatcher;
  try {
    watcher = await NotificationWatcher.open(deps.kafka, deps.admin, topic, deps.replication);
  } catch (e) {
    throw new CliFailure(`could not read the notification topic ${topic}: ${(e as Error).message}`);
  }
  const since = new Date();
  let progress = initialProgress(signal.id);
  const fail = (reason: string): never => {
    const lines = logLines(connectLog, since, [...tables, ...progress.dataCollections]);
    throw new CliFailure(
      `snapshot ${signal.id} of ${tables.join(', ')}: ${reason}` +
        (lines.length ? `\nKafka Connect logged:\n  ${lines.join('\n  ')}` : ''),
    );
  };
  try {
    try {
      await insertSignal(deps.pool, signal);
    } catch (e) {
      throw new CliFailure(`could not insert the snapshot signal: ${(e as Error).message}`);
    }
    let lastNews = Date.now();
    let lastStatusCheck = Date.now();
    for (;;) {
      const n = await watcher.next(Math.min(2000, Math.max(0, lastNews + opts.timeoutMs - Date.now())));
      if (n && concerns(n, signal.id)) {
        lastNews = Date.now();
        progress = applyNotification(progress, n);
        opts.onProgress?.(describeProgress(progress), progress);
        if (progress.state === 'failed' || progress.state === 'aborted')
          fail(progress.reason ?? progress.state);
        if (progress.state === 'completed') break;
        // without --wait: confirmed once Debezium started the snapshot and read (or finished) its first chunk
        if (!opts.wait && (progress.chunks > 0 || progress.tables.length > 0)) break;
        continue;
      }
      if (Date.now() - lastStatusCheck >= 5000 || Date.now() - lastNews >= opts.timeoutMs) {
        lastStatusCheck = Date.now();
        const status = await connect.status(name).catch(() => undefined);
        const p = status === undefined ? undefined : taskProblem(name, status);
        if (p) fail(p);
      }
      if (Date.now() - lastNews >= opts.timeoutMs) {
        const secs = Math.round(opts.timeoutMs / 1000);
        fail(
          progress.state === 'pending'
            ? `Debezium did not start the snapshot within ${secs} s (no STARTED notification on ${topic}): ` +
                `is ${SIGNAL_TABLE} in the publication and table.include.list, and is the connector streaming?`
            : `no progress notification on ${topic} for ${secs} s (${describeProgress(progress)})${heartbeatHint}`,
        );
      }
    }
  } finally {
    await watcher.close();
  }
  return {
    signal,
    notificationTopic: topic,
    progress,
    rowsEmitted: rowsEmitted(progress),
    completed: progress.state === 'completed',
    logWarnings: logLines(connectLog, since, [...tables, ...progress.dataCollections]),
  };
}
