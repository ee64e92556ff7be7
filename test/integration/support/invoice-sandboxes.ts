/**
 * The invoice path's two sandboxes for a test: OpenCell (with the test's catalog) and Odoo's JSON-RPC server on the
 * stack's Odoo database (one user, `billing-bot`), and the configuration that points the poller and the loader at
 * them, with topics of the test's own (`test.<name>-invoice-events-<suffix>`, …).
 */
import { loadConfig, type Config } from '../../../src/core/config';
import { startOdooSandbox, type OdooSandbox } from '../../../testkit/sandbox/odoo';
import {
  startOpenCellSandbox,
  type OpenCellSandbox,
  type SandboxCatalog,
} from '../../../testkit/sandbox/opencell';
import { ODOO_DATABASE_URL } from './stack';

export interface InvoiceSandboxes {
  oc: OpenCellSandbox;
  odoo: OdooSandbox;
  config: Config;
}

export async function startInvoiceSandboxes(opts: {
  catalog: SandboxCatalog;
  /** names the test's topics */
  name: string;
  sfx: string;
  /** the Odoo user's password */
  password: string;
  /** more settings */
  env?: Record<string, string>;
}): Promise<InvoiceSandboxes> {
  const oc = await startOpenCellSandbox({ port: 0, catalog: opts.catalog });
  const odoo = await startOdooSandbox({
    port: 0,
    databaseUrl: ODOO_DATABASE_URL,
    users: { 'billing-bot': opts.password },
  });
  const config = loadConfig({
    ...process.env,
    OPENCELL_BASEURL: oc.url,
    OPENCELL_USER: oc.credentials.user,
    OPENCELL_PASSWORD: oc.credentials.password,
    ODOO_URL: odoo.url,
    ODOO_DB: odoo.db,
    ODOO_USER: 'billing-bot',
    ODOO_PASSWORD: opts.password,
    INVOICE_EVENTS_TOPIC: `test.${opts.name}-invoice-events-${opts.sfx}`,
    SYNC_EVENTS_TOPIC: `test.${opts.name}-sync-events-${opts.sfx}`,
    DLQ_TOPIC: `test.${opts.name}-dlq-${opts.sfx}`,
    ...opts.env,
  });
  return { oc, odoo, config };
}
