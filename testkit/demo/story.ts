/**
 * The demo's terminal output: its story (stdout) and short progress lines while the pipeline works. Log lines never
 * come here: they go to the file named by LOG_FILE (testkit/demo/log-file.ts).
 */
import { relative } from 'node:path';

export const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** A path as the demo shows it: relative to the working folder when it is inside it. */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

export interface PipelineCounts {
  /** Debezium change events the router read (processed or dead-lettered). */
  changes: number;
  /** intents the router produced */
  intents: number;
  /** intents the projector finished (processed or dead-lettered) */
  projected: number;
  /** calls OpenCell received */
  calls: number;
  /** sync events a subscriber decoded */
  events: number;
}

/** One progress line, e.g. `   projected 37/45 intents (120 Odoo changes read, 80 OpenCell calls, 12 sync events)… 8 s`. */
export function progressLine(c: PipelineCounts, elapsedMs: number): string {
  const s = `${Math.round(elapsedMs / 1000)} s`;
  if (c.changes === 0) return `   waiting for Debezium's changes to reach the router… ${s}`;
  return `   projected ${c.projected}/${c.intents} intents (${c.changes} Odoo changes read, ${c.calls} OpenCell calls, ${c.events} sync events)… ${s}`;
}

/** Prints `line(elapsedMs)` every `everyMs` until stopped (nothing when the phase is shorter). */
export function ticker(line: (elapsedMs: number) => string, everyMs = 4000): { stop: () => void } {
  const started = Date.now();
  const timer = setInterval(() => say(line(Date.now() - started)), everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
