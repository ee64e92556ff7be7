/**
 * Imported first by the demo runner (testkit/demo/run.ts), before anything that logs: every log line of the
 * pipeline (kafkajs, router, projector, relay, poller, loader…) goes to a file (LOG_FILE, src/core/log.ts) and the
 * terminal shows the demo's story only. scripts/demo sets LOG_FILE already, so that the stack's setup (pg-setup,
 * connectors) writes there too; run directly, the runner picks `.run/logs/demo-<UTC time>.log` (git-ignored).
 */
import { join } from 'node:path';
import { packageRoot } from '../../src/core/package-root';

/** `.run/logs/demo-20261206T042241Z.log` under the package root. */
export function demoLogFile(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return join(packageRoot(), '.run', 'logs', `demo-${stamp}.log`);
}

if (!process.env.LOG_FILE?.trim()) process.env.LOG_FILE = demoLogFile();
