/**
 * The invoice path's two sandboxes for a test: OpenCell (with the test's catalog) and Odoo's JSON-RPC server on the
 * stack's Odoo database (one user, `billing-bot`), and the configuration that points the poller and the loader at
 * them, with topics of the test's own (`test.<name>-invoice-events-<suffix>`, …).
 */
import { OpenCellClient } from '../../../src/adapters/opencell/client';
import { EventSchemas } from '../../../src/adapters/registry/schemas';
import { loadConfig, type Config } from '../../../src/core/config';
import type { InvoicePoller } from '../../../src/flows/invoices/poller';
import { ensureInvoiceTopics, startInvoicePoller } from '../../../src/flows/invoices/stages';
import { OutboxRelay } from '../../../src/flows/outbox/relay';
import { startOdooSandbox, type OdooSandbox } from '../../../testkit/sandbox/odoo';
import {
  startOpenCellSandbox,
  type OpenCellSandbox,
  type SandboxCatalog,
} from '../../../testkit/sandbox/opencell';
import { ODOO_DATABASE_URL, stateDb, testKafka } from './stack';

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

export interface InvoicePath extends InvoiceSandboxes {
  /** the production OpenCell client, on the sandbox */
  ocClient: OpenCellClient;
  /** the outbox relay (started): invoice events reach Kafka through it */
  relay: OutboxRelay;
  /** the poller (not started: the test polls with pollOnce) */
  poller: InvoicePoller;
  /**
   * Stops the relay and the poller, closes the clients and sandboxes, and removes what the test left in the shared
   * state database (outbox rows of its topics, the poller's cursor, `consumers`' processed events) and its topics.
   * Stop the test's own loader and subscribers first.
   */
  close(consumers?: readonly string[]): Promise<void>;
}

/** The sandboxes, the invoice topics, a started relay and a poller named `pollerName` that starts at `startDate`. */
export async function startInvoicePath(
  opts: Parameters<typeof startInvoiceSandboxes>[0] & {
    pollerName: string;
    startDate: string;
    relayPollMs: number;
  },
): Promise<InvoicePath> {
  const sandboxes = await startInvoiceSandboxes(opts);
  const { config } = sandboxes;
  const ocClient = new OpenCellClient(config.opencell);
  await ensureInvoiceTopics(testKafka(), config);
  const relay = new OutboxRelay({
    pool: stateDb(),
    kafka: testKafka(),
    registry: new EventSchemas({ registryUrl: config.registryUrl, topics: config.topics }),
    lockKey: Math.floor(Math.random() * 2 ** 40) + 1,
    pollMs: opts.relayPollMs,
  });
  await relay.start();
  const poller = startInvoicePoller(config, {
    pool: stateDb(),
    autoStart: false,
    options: { name: opts.pollerName, startDate: opts.startDate },
  });
  return {
    ...sandboxes,
    ocClient,
    relay,
    poller,
    async close(consumers = []) {
      await poller.stop().catch(() => undefined);
      await relay.stop().catch(() => undefined);
      ocClient.close();
      await sandboxes.oc.close();
      await sandboxes.odoo.close();
      const st = stateDb();
      await st.query('DELETE FROM outbox WHERE topic = ANY($1::text[])', [
        [config.topics.invoiceEvents, config.topics.syncEvents],
      ]);
      await st.query('DELETE FROM processed_event WHERE consumer = ANY($1::text[])', [
        [opts.pollerName, ...consumers],
      ]);
      await st.query('DELETE FROM cursor_position WHERE name = $1', [opts.pollerName]);
      const admin = testKafka().admin();
      await admin.connect();
      await admin
        .deleteTopics({ topics: [config.topics.invoiceEvents, config.topics.dlq] })
        .catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/**
 * A customer billed by OpenCell's next run, created through the production client: customer `ref` and its customer
 * account `groupCode` (CRM hierarchy, direct debit), subscription `contractCode` with one mobile service since
 * `since` (a run dated today bills it), and `oneShots` applied on it.
 */
export async function plantBilledCustomer(
  ocClient: OpenCellClient,
  c: {
    ref: string;
    groupCode: string;
    contractCode: string;
    since: string;
    email: string;
    lastName: string;
    /** the customer account's country (default SP) */
    country?: string;
    oneShots?: ReadonlyArray<{ code: string; amount?: number }>;
  },
): Promise<void> {
  const crm = {
    crmParentCode: 'SC',
    description: 'Invoice test',
    name: { title: 'MS', firstName: 'Jane', lastName: c.lastName },
    address: { address1: 'Carrer Major 1', zipCode: '08001', city: 'Barcelona', country: 'ES' },
    customerCategory: 'CLIENT',
    currency: 'EUR',
    language: 'ESP',
    country: 'SP',
    billingCycle: 'BC_SC_MONTHLY_1ST',
    electronicBilling: true,
    email: c.email,
    methodOfPayment: [
      {
        paymentMethodType: 'DIRECTDEBIT',
        mandateIdentification: 'M1',
        mandateDate: '2024-01-15',
        bankCoordinates: { iban: 'ES9121000418450200051332', accountOwner: 'Jane Doe' },
      },
    ],
  };
  await ocClient.createCrmAccountHierarchy({ ...crm, crmAccountType: 'C', code: c.ref } as never);
  await ocClient.createCrmAccountHierarchy({
    ...crm,
    crmAccountType: 'CA_UA',
    code: c.groupCode,
    crmParentCode: c.ref,
    country: c.country ?? 'SP',
  } as never);
  await ocClient.createSubscription({
    code: c.contractCode,
    userAccount: c.groupCode,
    offerTemplate: 'OF_SC_TEMPLATE_MOB',
    subscriptionDate: c.since,
  } as never);
  await ocClient.activateServices({
    subscription: c.contractCode,
    servicesToActivate: {
      service: [{ code: 'SE_SC_REC_MOBILE_T_UNL_20480', quantity: 1, subscriptionDate: c.since }],
    },
  } as never);
  for (const os of c.oneShots ?? []) {
    await ocClient.applyOneShotChargeInstance({
      subscription: c.contractCode,
      oneShotCharge: os.code,
      operationDate: c.since,
      ...(os.amount === undefined ? {} : { amountWithoutTax: os.amount }),
    } as never);
  }
}
