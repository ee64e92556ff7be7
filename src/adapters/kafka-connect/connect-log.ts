/**
 * What Debezium said about an incremental snapshot in the Kafka Connect worker's log, for the `snapshot` command's
 * failure report. Debezium swallows SQL errors of an incremental snapshot: it logs
 *   [2026-12-06 02:56:19,007] WARN SQL error while executing incremental snapshot for table 'public.x', skipping and
 *   continuing streaming (io.debezium…AbstractIncrementalSnapshotChangeEventSource)
 *   org.postgresql.util.PSQLException: ERROR: permission denied for table debezium_signal
 * and goes on streaming; the notification topic only says SQL_EXCEPTION. The log holds the cause. It is readable
 * only where the worker's log is (the local stack: .run/logs/connect.log, layout `[%d] %p %m (%c)%n`).
 */
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';

export interface ConnectLogEntry {
  at: Date;
  level: string;
  message: string;
  /** the first line after the message that is not a stack frame (the exception and its message) */
  cause?: string;
}

const HEADER = /^\[(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}),(\d{3})\] (WARN|ERROR) (.*)$/;

/**
 * WARN and ERROR entries at or after `since` that name one of the given tables (`public.x`) or concern snapshot
 * signals, with their cause. Timestamps are the worker's local time.
 */
export function snapshotLogEntries(text: string, since: Date, tables: string[]): ConnectLogEntry[] {
  const lines = text.split('\n');
  const out: ConnectLogEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = HEADER.exec(lines[i]);
    if (!m) continue;
    const at = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]);
    if (at.getTime() < since.getTime() - 1000) continue;
    const message = m[9].replace(/ \([\w.$]+\)$/, '');
    // e.g. "SQL error while executing incremental snapshot for table 'public.x'", "Failed to read maximum key
    // for table public.x", or a signal that could not be processed
    const aboutTable = tables.some((t) => message.includes(t));
    const aboutSignal = /snapshot/i.test(message) && /signal/i.test(message);
    if (!aboutTable && !aboutSignal) continue;
    let cause: string | undefined;
    for (let j = i + 1; j < lines.length && j <= i + 3; j++) {
      const l = lines[j];
      if (HEADER.test(l) || /^\[\d{4}-/.test(l)) break;
      if (/^\s+at /.test(l) || l.trim() === '') continue;
      cause = l.trim();
      break;
    }
    out.push({ at, level: m[8], message, cause });
  }
  return out;
}

/** Reads at most the last `maxBytes` of the log file; '' when there is no such file. */
export function readLogTail(file: string, maxBytes = 4 * 1024 * 1024): string {
  if (!existsSync(file)) return '';
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function formatLogEntry(e: ConnectLogEntry): string {
  return `${e.level} ${e.message}${e.cause ? `: ${e.cause}` : ''}`;
}
