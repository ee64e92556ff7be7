/**
 * Benchmark 5 — invoice load: `invoices` synthetic invoices from the OpenCell sandbox (generateInvoices over the
 * billing accounts of `customers` customers that exist in Odoo and OpenCell) → poller (one poll) → outbox (a state
 * database of the benchmark's own) → relay (Avro through the registry) → Kafka → invoice loader → production Odoo
 * JSON-RPC client → Odoo sandbox → Odoo's PostgreSQL. Figures: invoices/s of the loader (first to last load), of
 * the whole flow (poll start to last load), and the invoices present twice in Odoo (must be 0).
 */
import { Pool } from 'pg';
import { CATALOG, insertContract, insertContractGroup, insertPartner } from '../testkit/demo-seed';
import { loadConfig } from '../src/core/config';
import type { LoadOutcome } from '../src/flows/invoices/loader';
import { createInvoiceLoader, ensureInvoiceTopics, startInvoicePoller } from '../src/flows/invoices/stages';
import { OpenCellClient } from '../src/adapters/opencell/client';
import { OutboxRelay } from '../src/flows/outbox/relay';
import { EventSchemas } from '../src/adapters/registry/schemas';
import { startOdooSandbox } from '../testkit/sandbox/odoo';
import { defaultCatalog, startOpenCellSandbox } from '../testkit/sandbox/opencell';
import { benchKafka, freshStateDb, ODOO_DATABASE_URL, RssSampler, suffix, waitFor } from './common';

export interface InvoiceOptions {
  invoices: number;
  customers?: number;
}

export async function runInvoiceBench(o: InvoiceOptions, log: (s: string) => void = console.log) {
  const rss = new RssSampler();
  const sfx = suffix();
  const PASSWORD = `pw-${sfx}`;
  const customers = o.customers ?? 20;
  // One invoice per customer and day: the original's duplicate guard (invoice_date, contract group, journal)
  // refuses a second invoice of a group on one day (docs/parity.md I-duplicate), so the invoices span `days` days.
  const days = Math.ceil(o.invoices / customers);
  const today = new Date().toISOString().slice(0, 10);
  const periodStart = (() => {
    const d = new Date(`${today}T00:00:00Z`);
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 10);
  })();
  const odooDb = new Pool({ connectionString: ODOO_DATABASE_URL, max: 4 });
  // Invoices of products and accounting codes Odoo knows (the synthetic generator picks among all the catalog's
  // service and one-shot templates; the others would only be dead-lettered, which the loader does correctly).
  const catalog = defaultCatalog();
  catalog.invoicing.numberPrefix = `B${sfx}-`;
  const accounts = new Set(
    (await odooDb.query<{ code: string }>(`SELECT code FROM account_account`)).rows.map((r) => r.code),
  );
  const products = new Set<string>(CATALOG.map((c) => c.code));
  const okSub = new Set(
    catalog.invoiceSubCategories.filter((s) => accounts.has(s.accountingCode)).map((s) => s.code),
  );
  catalog.serviceTemplates = catalog.serviceTemplates.filter(
    (t) => products.has(t.code) && okSub.has(t.invoiceSubCategory),
  );
  catalog.oneShotChargeTemplates = catalog.oneShotChargeTemplates.filter(
    (t) => products.has(t.code) && okSub.has((t as { invoiceSubCategory?: string }).invoiceSubCategory ?? ''),
  );
  const oc = await startOpenCellSandbox({ port: 0, catalog });
  const odoo = await startOdooSandbox({
    port: 0,
    databaseUrl: ODOO_DATABASE_URL,
    users: { 'billing-bot': PASSWORD },
  });
  const stateUrl = await freshStateDb('invoices');
  const state = new Pool({ connectionString: stateUrl, max: 8 });
  const config = loadConfig({
    ...process.env,
    OPENCELL_BASEURL: oc.url,
    OPENCELL_USER: oc.credentials.user,
    OPENCELL_PASSWORD: oc.credentials.password,
    ODOO_URL: odoo.url,
    ODOO_DB: odoo.db,
    ODOO_USER: 'billing-bot',
    ODOO_PASSWORD: PASSWORD,
    STATE_DATABASE_URL: stateUrl,
    INVOICE_EVENTS_TOPIC: `bench.invoice-events-${sfx}`,
    SYNC_EVENTS_TOPIC: `bench.invoice-sync-events-${sfx}`,
    DLQ_TOPIC: `bench.invoice-dlq-${sfx}`,
    RETRY_INITIAL_MS: '100',
    RETRY_MAX_MS: '2000',
    RETRY_MAX_ATTEMPTS: '8',
  });
  const kafka = benchKafka();
  const ocClient = new OpenCellClient(config.opencell);
  await ensureInvoiceTopics(kafka, config);
  const relay = new OutboxRelay({
    pool: state,
    kafka,
    registry: new EventSchemas({ registryUrl: config.registryUrl, topics: config.topics }),
    lockKey: Math.floor(Math.random() * 2 ** 40) + 1,
    pollMs: 100,
    batchSize: 500,
  });
  const loaded = new Map<string, LoadOutcome[]>();
  let firstLoad = 0;
  let lastLoad = 0;
  let deadLettered = 0;
  const loader = createInvoiceLoader(config, {
    kafka,
    pool: state,
    groupId: `bench-invoice-loader-${sfx}`,
    onLoaded: (event, r) => {
      const now = Date.now();
      firstLoad ||= now;
      lastLoad = now;
      loaded.set(event.invoiceNumber, [...(loaded.get(event.invoiceNumber) ?? []), r]);
    },
    onConsumerEvent: (e) => void (e.type === 'dead-letter' && deadLettered++),
  });
  const poller = startInvoicePoller(config, {
    pool: state,
    autoStart: false,
    options: {
      name: `bench-invoice-poller-${sfx}`,
      startDate: new Date(Date.parse(today) - (days + 5) * 86_400_000).toISOString().slice(0, 10),
    },
  });
  try {
    log(`invoices: preparing ${customers} customers (Odoo and OpenCell)…`);
    const baCodes: string[] = [];
    for (let i = 0; i < customers; i++) {
      const ref = `BIV${sfx}${i}`;
      const groupCode = `${ref}_0`;
      const contractCode = `BIVC${sfx}${i}`;
      const c = await odooDb.connect();
      try {
        const partner = await insertPartner(c, {
          ref,
          firstname: 'Bench',
          lastname: `Invoices ${sfx} ${i}`,
          email: `biv-${sfx}-${i}@example.org`,
        });
        const group = await insertContractGroup(c, partner.id, groupCode);
        await insertContract(c, {
          partnerId: partner.id,
          kind: 'mobile',
          contractGroupId: group.id,
          code: contractCode,
        });
      } finally {
        c.release();
      }
      const crm = (over: Record<string, unknown>) => ({
        crmParentCode: 'SC',
        description: 'Invoice bench',
        name: { title: 'MS', firstName: 'Bench', lastName: `Invoices ${sfx}` },
        address: { address1: 'Carrer Major 1', zipCode: '08001', city: 'Barcelona', country: 'ES' },
        customerCategory: 'CLIENT',
        currency: 'EUR',
        language: 'ESP',
        country: 'SP',
        billingCycle: 'BC_SC_MONTHLY_1ST',
        electronicBilling: true,
        email: `biv-${sfx}@example.org`,
        methodOfPayment: [
          {
            paymentMethodType: 'DIRECTDEBIT',
            mandateIdentification: 'M1',
            mandateDate: '2024-01-15',
            bankCoordinates: { iban: 'ES9121000418450200051332', accountOwner: 'Bench' },
          },
        ],
        ...over,
      });
      await ocClient.createCrmAccountHierarchy(crm({ crmAccountType: 'C', code: ref }) as never);
      await ocClient.createCrmAccountHierarchy(
        crm({ crmAccountType: 'CA_UA', code: groupCode, crmParentCode: ref }) as never,
      );
      await ocClient.createSubscription({
        code: contractCode,
        userAccount: groupCode,
        offerTemplate: 'OF_SC_TEMPLATE_MOB',
        subscriptionDate: periodStart,
      } as never);
      baCodes.push(groupCode);
    }
    const numbers: string[] = [];
    for (let d = 0; d < days; d++) {
      const run = oc.generateInvoices({
        count: Math.min(baCodes.length, o.invoices - numbers.length),
        invoiceDate: new Date(Date.parse(today) - d * 86_400_000).toISOString().slice(0, 10),
        billingAccountCodes: baCodes,
      });
      numbers.push(...run.invoiceNumbers);
    }
    log(`invoices: ${numbers.length} invoices generated in the sandbox; polling, relaying and loading…`);
    await relay.start();
    await loader.start();
    const t0 = Date.now();
    const poll = await poller.pollOnce();
    const pollSeconds = (Date.now() - t0) / 1000;
    log(`invoices: poll emitted ${poll.emitted} in ${pollSeconds.toFixed(1)} s; loading…`);
    await waitFor(
      () => (loaded.size + deadLettered >= numbers.length ? true : undefined),
      Math.max(300_000, o.invoices * 200),
      'the invoices loaded',
      500,
    ).catch((e) => log(`invoices: ${(e as Error).message} (${loaded.size} loaded)`));
    const end = Date.now();
    const dup = await odooDb.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT ref FROM account_move WHERE move_type = 'out_invoice' AND ref = ANY($1::text[]) GROUP BY ref HAVING count(*) > 1) d`,
      [numbers],
    );
    const inOdoo = await odooDb.query<{ n: string }>(
      `SELECT count(DISTINCT ref) AS n FROM account_move WHERE move_type = 'out_invoice' AND ref = ANY($1::text[])`,
      [numbers],
    );
    const created = [...loaded.values()].filter((rs) => rs.some((r) => r.outcome === 'created')).length;
    const loaderSeconds = (lastLoad - firstLoad) / 1000;
    return {
      invoices: numbers.length,
      customers,
      pollEmitted: poll.emitted,
      pollSeconds: Math.round(pollSeconds * 10) / 10,
      loaded: loaded.size,
      created,
      deadLettered,
      inOdoo: Number(inOdoo.rows[0].n),
      loadedTwice: Number(dup.rows[0].n),
      loaderSeconds: Math.round(loaderSeconds * 10) / 10,
      loaderInvoicesPerSec: Math.round((loaded.size / loaderSeconds) * 10) / 10,
      flowSeconds: Math.round(((end - t0) / 1000) * 10) / 10,
      flowInvoicesPerSec: Math.round((loaded.size / ((lastLoad - t0) / 1000)) * 10) / 10,
      peakRssMiB: rss.peakMiB(),
    };
  } finally {
    rss.stop();
    await loader.stop().catch(() => undefined);
    await poller.stop().catch(() => undefined);
    await relay.stop().catch(() => undefined);
    ocClient.close();
    await oc.close();
    await odoo.close();
    await state.end();
    await odooDb.end();
    const admin = kafka.admin();
    await admin.connect();
    await admin
      .deleteTopics({ topics: [config.topics.invoiceEvents, config.topics.dlq] })
      .catch(() => undefined);
    await admin.disconnect();
  }
}
