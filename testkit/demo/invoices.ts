/**
 * The demo's second direction (called by testkit/demo/run.ts): a billing run in the OpenCell sandbox, the invoice
 * poller (outbox), the relay (already running in the demo), and the Odoo loader writing through the Odoo
 * sandbox's JSON-RPC API into Odoo's account_move tables.
 */
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { Pool as PgPool } from 'pg';
import type { Config } from '../../src/core/config';
import type { InvoiceIssuedEvent } from '../../src/domain/outbox/events';
import { startOdooSandbox } from '../sandbox/odoo';
import type { OpenCellSandbox } from '../sandbox/opencell';
import { createInvoiceLoader, startInvoicePoller } from '../../src/flows/invoices/stages';

import { say } from './story';
import { odooOwnerUrl } from './odoo-owner';
const DAY = 86_400_000;

export async function runDemoInvoices(
  config: Config,
  sandbox: OpenCellSandbox,
  kafka: Kafka,
  statePool: Pool,
): Promise<void> {
  const today = new Date().toISOString().slice(0, 10);
  // Bill one period ending tomorrow, so the subscriptions this demo just created have something to invoice.
  const tomorrow = new Date(Date.now() + DAY).toISOString().slice(0, 10);
  const run = sandbox.billingRun({ invoiceDate: today, periodStart: today, periodEnd: tomorrow });
  say(
    `\n4) invoices back: OpenCell billing run ${run.billingRunId} issued ${run.invoiceCount} invoices (${run.amountWithTax.toFixed(2)} € with tax)`,
  );
  if (run.invoiceCount === 0) return;
  const odoo = await startOdooSandbox({
    port: 0,
    databaseUrl: odooOwnerUrl(config), // Odoo's server writes the invoices as the owner
    users: { [config.odoo.user]: config.odoo.password },
  });
  const cfg: Config = { ...config, odoo: { ...config.odoo, url: odoo.url } };
  const pollerName = `demo-invoice-poller-${Date.now().toString(36)}`;
  const poller = startInvoicePoller(cfg, {
    pool: statePool,
    autoStart: false,
    options: { name: pollerName, startDate: new Date(Date.now() - 40 * DAY).toISOString().slice(0, 10) },
  });
  const loaded: { event: InvoiceIssuedEvent; outcome: string }[] = [];
  const loader = createInvoiceLoader(cfg, {
    kafka,
    pool: statePool,
    groupId: `demo-invoice-loader-${Date.now().toString(36)}`,
    onLoaded: (event, r) => loaded.push({ event, outcome: r.outcome }),
  });
  await loader.start();
  const polled = await poller.pollOnce();
  say(
    `   poller: window ${polled.window.from} → ${polled.window.to}, ${polled.emitted} InvoiceIssued events into the outbox`,
  );
  const deadline = Date.now() + 60_000;
  while (loaded.length < polled.emitted && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 250));
  const odooDb = new PgPool({ connectionString: config.odooDatabaseUrl, max: 1 });
  const refs = loaded.map((l) => l.event.invoiceNumber);
  const moves = await odooDb.query<{
    ref: string;
    partner: string;
    amount_total: string;
    lines: number;
    state: string;
  }>(
    `SELECT m.ref, p.name AS partner, m.amount_total::text, m.state,
            (SELECT count(*)::int FROM account_move_line l WHERE l.move_id = m.id AND l.display_type = 'product') AS lines
       FROM account_move m JOIN res_partner p ON p.id = m.partner_id
      WHERE m.move_type = 'out_invoice' AND m.ref = ANY($1::text[]) ORDER BY m.ref`,
    [refs],
  );
  say(`   loader: ${loaded.length} loaded into Odoo through JSON-RPC (${moves.rowCount} account_move rows):`);
  for (const m of moves.rows.slice(0, 12))
    say(
      `     ${m.ref}  ${m.partner.padEnd(32).slice(0, 32)}  ${String(m.lines).padStart(2)} line${m.lines === 1 ? ' ' : 's'}  ${m.amount_total.padStart(9)} €  ${m.state}`,
    );
  if (loaded.length < polled.emitted)
    say(
      `   (${polled.emitted - loaded.length} not loaded by this run: already in Odoo from an earlier demo run — the ` +
        `sandbox issues the same invoice numbers, and each invoice is loaded once — or dead-lettered: see ${config.topics.dlq})`,
    );
  await odooDb.end();
  await loader.stop();
  await poller.stop();
  await odoo.close();
}
