/**
 * A standalone invoice poller process for the poller fault scenario (test/faults/poller-10k.test.ts), configured from
 * the environment like production (loadConfig: OPENCELL_*, STATE_DATABASE_URL, INVOICE_POLL_*), plus
 * FAULT_POLLER_NAME (its cursor and processed_event consumer). It polls in a loop, one poll after the other, and
 * writes lines `@@ {json}` to stdout: `poll-start`, `page` (a page's transaction committed), `poll-end`,
 * `poll-failed`, so the test knows whether a kill -9 landed while a poll was in progress.
 */
import { createPool } from '../../src/adapters/postgres/pool';
import { loadConfig } from '../../src/core/config';
import { componentLogger } from '../../src/core/log';
import { startInvoicePoller } from '../../src/flows/invoices/stages';

const log = componentLogger('fault-poller');
const emit = (type: string, data: Record<string, unknown> = {}) =>
  process.stdout.write(`@@ ${JSON.stringify({ type, ...data })}\n`);

async function main(): Promise<void> {
  const config = loadConfig(process.env, ['OPENCELL_PASSWORD']);
  const pool = createPool({
    connectionString: config.stateDatabaseUrl,
    max: 3,
    application_name: 'fault-poller',
  });
  const poller = startInvoicePoller(config, {
    pool,
    autoStart: false,
    options: {
      name: process.env.FAULT_POLLER_NAME ?? 'invoice-poller',
      onPage: (p) => emit('page', p),
    },
  });
  emit('ready', { pid: process.pid });
  for (;;) {
    emit('poll-start');
    try {
      const r = await poller.pollOnce();
      emit('poll-end', { listed: r.listed, emitted: r.emitted, pages: r.pages, ms: r.ms });
    } catch (e) {
      emit('poll-failed', { error: (e as Error).message });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

process.on('SIGTERM', () => process.exit(0));
main().catch((e: unknown) => {
  log.error(`fault poller failed: ${(e as Error).message}`);
  process.exit(1);
});
