import { expect } from 'chai';
import type { Consumer, IHeaders } from 'kafkajs';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertContractGroup,
  insertPartner,
} from '../../testkit/demo-seed';
import type { Config } from '../../src/core/config';
import { invoiceEventId } from '../../src/domain/invoices/invoice-event';
import type { InvoicePoller, InvoicePollResult } from '../../src/flows/invoices/poller';
import { Metrics } from '../../src/app/metrics';
import { captureLogLines } from '../support/log-capture';
import type { LoadOutcome } from '../../src/flows/invoices/loader';
import {
  createInvoiceLoader,
  startInvoicePoller,
  type InvoiceLoaderStage,
} from '../../src/flows/invoices/stages';
import { OpenCellClient } from '../../src/adapters/opencell/client';
import type { InvoiceIssuedEvent } from '../../src/domain/outbox/events';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { subscribeEvents, type Subscription } from '../../src/flows/outbox/subscriber';
import type { OdooSandbox } from '../../testkit/sandbox/odoo';
import { defaultCatalog, type OpenCellSandbox } from '../../testkit/sandbox/opencell';
import { invoicePdf } from '../../testkit/sandbox/opencell/invoices';
import { INVOICE_PDF_PATH } from '../../src/app/http';
import { runRoles } from '../../src/app/run';
import { loadConfig } from '../../src/core/config';
import { DLQ_HEADER } from '../../src/adapters/kafka/dlq';
import type { KeyedConsumerEvent } from '../../src/adapters/kafka/keyed-consumer';
import {
  REGISTRY_URL,
  eventually,
  odooDb,
  stateDb,
  resetGroupToEarliest,
  testKafka,
  uniqueSuffix,
} from './support/stack';
import { plantBilledCustomer, startInvoicePath, type InvoicePath } from './support/invoice-sandboxes';

/** Messages on `topic` (all partitions, low to high watermark). */
async function topicMessages(topic: string): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The invoice flow on the real stack: OpenCell sandbox billing run → poller → outbox → relay → Kafka (Avro through
 * the registry) → invoice loader (keyed consumer) → production Odoo JSON-RPC client → Odoo sandbox → the
 * Odoo-shaped PostgreSQL tables. Topics, groups, poller name and invoice numbers are unique per run; only this run's
 * outbox / processed_event / cursor rows are touched.
 */
describe('invoices OpenCell → Odoo (poller, outbox relay, loader) on the real stack', function () {
  this.timeout(180_000);
  const sfx = uniqueSuffix();
  const PASSWORD = `pw-${sfx}`;
  const GOOD = 12;
  const DAY = 86_400_000;
  const today = new Date().toISOString().slice(0, 10);
  const periodStart = (() => {
    const d = new Date(`${today}T00:00:00Z`);
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 10);
  })();

  let oc: OpenCellSandbox;
  let odoo: OdooSandbox;
  let config: Config;
  let ocClient: OpenCellClient;
  let poller: InvoicePoller;
  let path: InvoicePath;
  let loader: InvoiceLoaderStage | undefined;
  let tail: Subscription | undefined;
  const pollerName = `test-invoice-poller-${sfx}`;
  const loaderGroup = `test-invoice-loader-${sfx}`;
  const loaded: Array<{ event: InvoiceIssuedEvent; r: LoadOutcome; at: number }> = [];
  const consumerEvents: KeyedConsumerEvent[] = [];
  const decoded: InvoiceIssuedEvent[] = [];

  interface Customer {
    ref: string;
    groupCode: string;
    partnerId: number | null;
    groupId: number | null;
    contracts: Array<{ id: number; code: string; mandateId?: number | null }>;
    /** the group's first contract, when it is not the billed one */
    groupFirst?: { id: number; mandateId: number };
  }
  const good: Customer[] = [];
  let badTax: Customer;
  let unknownCustomer: Customer;
  let invoiceNumbers: string[] = [];
  let billingRunId = '';
  let byBa = new Map<string, string>(); // billing account code → invoice number

  /** A customer in Odoo (partner, group, mobile contract) unless `inOdoo` is false, and the same in OpenCell. */
  async function customer(
    i: string,
    opts: {
      inOdoo?: boolean;
      country?: string;
      oneShots?: Array<{ code: string; amount?: number }>;
      /**
       * Mandates on the contracts (docs/parity.md I-mandate-emails): the billed contract gets one, and a contract of
       * the group created before it (so the group's first, billed by no OpenCell subscription) gets another.
       */
      mandates?: boolean;
    } = {},
  ): Promise<Customer> {
    const ref = `IV${sfx}${i}`;
    const groupCode = `${ref}_0`;
    const contractCode = `SCI${sfx}${i}`;
    let c: Customer = { ref, groupCode, partnerId: null, groupId: null, contracts: [] };
    if (opts.inOdoo !== false) {
      const db = odooDb();
      const partner = await insertPartner(db, {
        ref,
        firstname: 'Inv',
        lastname: `Tester ${sfx} ${i}`,
        email: `inv-${sfx}-${i}@example.org`,
      });
      const group = await insertContractGroup(db, partner.id, groupCode);
      let mandateId: number | undefined;
      let groupFirst: Customer['groupFirst'];
      if (opts.mandates) {
        const first = await insertBankAccountAndMandate(db, partner.id);
        const firstContract = await insertContract(db, {
          partnerId: partner.id,
          kind: 'mobile',
          contractGroupId: group.id,
          code: `${contractCode}F`,
          mandateId: first.mandateId,
        });
        groupFirst = { id: firstContract.id, mandateId: first.mandateId };
        mandateId = (await insertBankAccountAndMandate(db, partner.id)).mandateId;
      }
      const contract = await insertContract(db, {
        partnerId: partner.id,
        kind: 'mobile',
        contractGroupId: group.id,
        code: contractCode,
        mandateId,
      });
      c = {
        ...c,
        partnerId: partner.id,
        groupId: group.id,
        contracts: [{ id: contract.id, code: contract.code, mandateId: mandateId ?? null }],
        groupFirst,
      };
    }
    await plantBilledCustomer(ocClient, {
      ref,
      groupCode,
      contractCode,
      since: periodStart,
      email: `inv-${sfx}@example.org`,
      lastName: `Doe ${sfx}`,
      country: opts.country,
      oneShots: opts.oneShots,
    });
    return c;
  }

  function startLoader(): Promise<void> {
    loader = createInvoiceLoader(config, {
      kafka: testKafka(),
      pool: stateDb(),
      groupId: loaderGroup,
      onLoaded: (event, r) => loaded.push({ event, r, at: Date.now() }),
      onConsumerEvent: (e) => consumerEvents.push(e),
    });
    return loader.start();
  }

  async function movesByRef(refs: string[]): Promise<Map<string, number[]>> {
    const r = await odooDb().query<{ ref: string; id: number }>(
      `SELECT ref, id FROM account_move WHERE move_type = 'out_invoice' AND ref = ANY($1::text[]) ORDER BY id`,
      [refs],
    );
    const m = new Map<string, number[]>();
    for (const row of r.rows) m.set(row.ref, [...(m.get(row.ref) ?? []), row.id]);
    return m;
  }

  const goodNumbers = () => good.map((c) => byBa.get(c.groupCode)!);

  before(async () => {
    const catalog = defaultCatalog();
    catalog.invoicing.numberPrefix = `T${sfx}-`;
    // France is taxed with a tax Odoo does not know: its invoices must be dead-lettered.
    catalog.taxes.push({
      code: 'TAX_SBX_ONLY',
      description: 'Sandbox-only tax',
      percent: 15,
      accountingCode: '477000',
    } as never);
    for (const c of catalog.tradingCountries)
      if (c.code === 'FR') (c as { taxCode?: string }).taxCode = 'TAX_SBX_ONLY';
    path = await startInvoicePath({
      catalog,
      name: 'invoice',
      sfx,
      password: PASSWORD,
      env: {
        SCHEMA_REGISTRY_URL: REGISTRY_URL,
        RETRY_INITIAL_MS: '50',
        RETRY_MAX_MS: '500',
        RETRY_MAX_ATTEMPTS: '6',
      },
      pollerName,
      startDate: new Date(Date.parse(today) - 5 * DAY).toISOString().slice(0, 10),
      relayPollMs: 200,
    });
    ({ oc, odoo, config, ocClient, poller } = path);

    // Interleaved: good, bad tax, good, unknown customer, good…
    good.push(
      await customer('g0', {
        oneShots: [{ code: 'CH_SC_OSO_SIM' }, { code: 'CH_SC_OSO_COMPENSATION', amount: 0 }],
        mandates: true,
      }),
    );
    badTax = await customer('bt', { country: 'FR' });
    good.push(await customer('g1'));
    unknownCustomer = await customer('uc', { inOdoo: false });
    for (let i = 2; i < GOOD; i++) good.push(await customer(`g${i}`));
  });

  after(async () => {
    await tail?.stop().catch(() => undefined);
    await loader?.stop().catch(() => undefined);
    await path?.close([loaderGroup]);
  });

  it('a billing run → one poll → InvoiceIssued events on the topic, decoded through the registry', async () => {
    const run = oc.billingRun({ invoiceDate: today });
    expect(run.invoiceCount).to.equal(GOOD + 2);
    invoiceNumbers = run.invoiceNumbers;
    billingRunId = String(run.billingRunId);
    byBa = new Map(
      run.invoiceNumbers.map((n) => [oc.state.invoicesByNumber.get(`COM|${n}`)!.billingAccountCode, n]),
    );

    const r = await poller.pollOnce();
    expect(r.emitted).to.equal(GOOD + 2);
    expect(r.skipped).to.equal(0);
    expect(r.rejected).to.deep.equal([]);
    expect(r.invoiceNumbers).to.have.members(invoiceNumbers);
    expect(r.eventIds).to.have.members(invoiceNumbers.map(invoiceEventId));
    expect(await poller.cursor()).to.deep.include({ windowEnd: r.window.to, lastEmitted: GOOD + 2 });

    tail = await subscribeEvents({
      kafka: testKafka(),
      registry: new EventSchemas({ registryUrl: config.registryUrl, topics: config.topics }),
      topic: config.topics.invoiceEvents,
      groupId: `test-invoice-tail-${sfx}`,
      fromBeginning: true,
      onEvent: (d, meta) => {
        expect(d.type).to.equal('InvoiceIssued');
        expect(meta.eventId).to.equal(d.event.eventId);
        expect(meta.key).to.equal((d.event as InvoiceIssuedEvent).invoiceNumber);
        decoded.push(d.event as InvoiceIssuedEvent);
      },
    });
    await eventually(
      async () => (decoded.length >= GOOD + 2 ? true : undefined),
      30_000,
      'the invoice events',
    );
    const first = decoded.find((e) => e.invoiceNumber === byBa.get(good[0]!.groupCode))!;
    expect(first).to.deep.include({
      eventId: invoiceEventId(first.invoiceNumber),
      invoiceDate: today,
      billingAccountCode: good[0]!.groupCode,
      customerCode: good[0]!.ref,
      subscriptionCodes: [good[0]!.contracts[0]!.code],
      currency: 'EUR',
      // read through OpenCell's API v2 generic search: InvoiceDto has no billing run
      billingRunId,
    });
    expect(
      first.lines.map((l) => [l.productCode, l.accountingCode, l.taxCode, l.amountWithoutTax]),
    ).to.have.deep.members([
      ['SE_SC_REC_MOBILE_T_UNL_20480', '705000', 'TAX_HIGH', '14.88'],
      ['CH_SC_OSO_SIM', '700000', 'TAX_HIGH', '2.07'],
      ['CH_SC_OSO_COMPENSATION', '708000', 'TAX_HIGH', '0.00'],
    ]);
  });

  it('the loader creates each good invoice in Odoo: partner, journal, draft, lines, taxes, totals and contract links', async () => {
    const t0 = Date.now();
    await startLoader();
    const refs = goodNumbers();
    await eventually(
      async () => (loaded.filter((l) => l.r.outcome === 'created').length === GOOD ? true : undefined),
      60_000,
      'the Odoo invoices',
    );
    const ms = Date.now() - t0;
    expect((await movesByRef(refs)).size).to.equal(GOOD);
    const created = loaded.filter((l) => l.r.outcome === 'created');
    const span = Math.max(1, created[created.length - 1]!.at - created[0]!.at);
    const perInvoice = created.map((l) => (l.r.outcome === 'created' ? l.r.ms : 0)).sort((a, b) => a - b);
    console.log(
      `      loaded ${GOOD} invoices (+2 dead letters) in ${ms} ms from loader start (group join included): ` +
        `${((GOOD * 1000) / ms).toFixed(1)} invoices/s; first→last create ${span} ms: ${(((GOOD - 1) * 1000) / span).toFixed(1)} invoices/s; ` +
        `per invoice median ${perInvoice[Math.floor(perInvoice.length / 2)]} ms`,
    );

    const db = odooDb();
    const moves = (
      await db.query(
        `SELECT m.id, m.ref, m.state, m.name, m.move_type, m.partner_id, m.journal_id, j.code AS journal, m.contract_group_id,
                m.billing_run_id, to_char(m.invoice_date, 'YYYY-MM-DD') AS invoice_date, m.amount_untaxed, m.amount_tax, m.amount_total, m.emails,
                to_char(m.invoice_date_due, 'YYYY-MM-DD') AS invoice_date_due, m.mandate_id
           FROM account_move m JOIN account_journal j ON j.id = m.journal_id WHERE m.ref = ANY($1::text[])`,
        [refs],
      )
    ).rows;
    expect(moves).to.have.length(GOOD);
    for (const c of good) {
      const number = byBa.get(c.groupCode)!;
      const m = moves.find((x) => x.ref === number)!;
      const inv = oc.state.invoicesByNumber.get(`COM|${number}`)!;
      expect(m, number).to.include({
        state: 'draft',
        name: '/',
        move_type: 'out_invoice',
        partner_id: c.partnerId,
        journal: 'SERV',
        invoice_date: today,
        billing_run_id: billingRunId,
      });
      expect(m.contract_group_id).to.equal(c.groupId);
      // I-extra-fields: the due date is OpenCell's (invoice date + the catalog's delay, so not the invoice date)
      expect(inv.dueDate).to.be.greaterThan(inv.invoiceDate);
      expect(m.invoice_date_due, number).to.equal(new Date(inv.dueDate).toISOString().slice(0, 10));
      expect([Number(m.amount_untaxed), Number(m.amount_tax), Number(m.amount_total)], number).to.deep.equal([
        inv.amountWithoutTax,
        inv.amountTax,
        inv.amountWithTax,
      ]);
    }

    // the first customer: two kept lines (the 0 € compensation is dropped), accounts, taxes, products, contract links
    const m0 = moves.find((x) => x.ref === byBa.get(good[0]!.groupCode))!;
    // I-mandate-emails: mandate and emails of the contract line 1 names (its subscription), not of the group's first
    // contract, which has another mandate
    const g0 = good[0]!;
    const ev0 = decoded.find((e) => e.invoiceNumber === m0.ref)!;
    expect(ev0.lines[0]!.subscriptionCode).to.equal(g0.contracts[0]!.code);
    expect(g0.groupFirst!.id).to.be.lessThan(g0.contracts[0]!.id);
    expect(g0.contracts[0]!.mandateId).to.be.a('number').and.not.equal(g0.groupFirst!.mandateId);
    expect(m0.mandate_id).to.equal(g0.contracts[0]!.mandateId);
    expect(m0.emails).to.equal(`inv-${sfx}-g0@example.org`);
    // the other good customers' contracts have no mandate: none is set
    for (const c of good.slice(1))
      expect(moves.find((x) => x.ref === byBa.get(c.groupCode))!.mandate_id, c.groupCode).to.equal(null);
    const lines = (
      await db.query(
        `SELECT l.id, l.name, a.code AS account, p.default_code AS product, l.price_unit, l.price_subtotal, l.price_total,
                (SELECT array_agg(t.oc_code) FROM account_move_line_account_tax_rel r JOIN account_tax t ON t.id = r.account_tax_id
                  WHERE r.account_move_line_id = l.id) AS taxes,
                (SELECT array_agg(x.contract_id) FROM contract_account_invoice_line_relation x WHERE x.account_invoice_line_id = l.id) AS contracts
           FROM account_move_line l JOIN account_account a ON a.id = l.account_id LEFT JOIN product_product p ON p.id = l.product_id
          WHERE l.move_id = $1 AND l.display_type = 'product' ORDER BY l.id`,
        [m0.id],
      )
    ).rows;
    expect(
      lines.map((l) => [
        l.account,
        l.product,
        Number(l.price_unit),
        Number(l.price_subtotal),
        Number(l.price_total),
        l.taxes,
        l.contracts,
      ]),
    ).to.have.deep.members([
      ['705000', 'SE_SC_REC_MOBILE_T_UNL_20480', 14.88, 14.88, 18, ['TAX_HIGH'], [good[0]!.contracts[0]!.id]],
      ['700000', 'CH_SC_OSO_SIM', 2.07, 2.07, 2.5, ['TAX_HIGH'], [good[0]!.contracts[0]!.id]],
    ]);
    const processed = await stateDb().query(
      `SELECT count(*)::int AS n FROM processed_event WHERE consumer = $1`,
      [loaderGroup],
    );
    expect(processed.rows[0].n).to.equal(GOOD);
  });

  it('bad invoices (unknown tax code, unknown customer) are dead-lettered with their reason; the next ones loaded', async () => {
    const consumer: Consumer = testKafka().consumer({ groupId: `test-invoice-dlq-reader-${sfx}` });
    const dead: Array<{ key: string; headers: IHeaders }> = [];
    await consumer.connect();
    await consumer.subscribe({ topic: config.topics.dlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void dead.push({ key: message.key!.toString(), headers: message.headers ?? {} }),
    });
    try {
      await eventually(async () => (dead.length >= 2 ? true : undefined), 30_000, 'the dead letters');
    } finally {
      await consumer.disconnect();
    }
    const h = (d: { headers: IHeaders }, name: string) => String(d.headers[name]);
    const tax = dead.find((d) => d.key === byBa.get(badTax.groupCode))!;
    expect(h(tax, DLQ_HEADER.code)).to.equal('PROJECTION_REJECTED');
    expect(h(tax, DLQ_HEADER.stage)).to.equal('invoice-loader');
    expect(h(tax, DLQ_HEADER.message)).to.include('unknown tax oc_code "TAX_SBX_ONLY"');
    expect(h(tax, 'event_type')).to.equal('InvoiceIssued');
    const unknown = dead.find((d) => d.key === byBa.get(unknownCustomer.groupCode))!;
    // partner through the contract group only (the original); the partner-by-ref rule is opt-in
    expect(h(unknown, DLQ_HEADER.message))
      .to.include(`no contract group "${unknownCustomer.groupCode}"`)
      .and.not.include('partner with ref');
    expect(h(unknown, DLQ_HEADER.retriable)).to.equal('false');
    expect(
      (await movesByRef([byBa.get(badTax.groupCode)!, byBa.get(unknownCustomer.groupCode)!])).size,
    ).to.equal(0);
    // the invoices issued right after each bad one loaded
    const after = await movesByRef([byBa.get(good[1]!.groupCode)!, byBa.get(good[2]!.groupCode)!]);
    expect(after.size).to.equal(2);
  });

  it('re-polling the overlapping window emits nothing: no outbox row, no Kafka message (also after outbox cleanup)', async () => {
    const before = await topicMessages(config.topics.invoiceEvents);
    expect(before).to.equal(GOOD + 2);
    const r = await poller.pollOnce();
    expect(r).to.deep.include({ emitted: 0, skipped: GOOD + 2, listed: GOOD + 2 });
    // the relay's retention cleanup deletes published rows: the poller still remembers the invoices
    await stateDb().query('DELETE FROM outbox WHERE topic = $1 AND published_at IS NOT NULL', [
      config.topics.invoiceEvents,
    ]);
    expect((await poller.pollOnce()).emitted).to.equal(0);
    const rows = await stateDb().query('SELECT count(*)::int AS n FROM outbox WHERE topic = $1', [
      config.topics.invoiceEvents,
    ]);
    expect(rows.rows[0].n).to.equal(0);
    await new Promise((res) => setTimeout(res, 1500)); // give the relay time to publish anything it would
    expect(await topicMessages(config.topics.invoiceEvents)).to.equal(before);
  });

  it('resetting the loader group to earliest creates no second invoice (processed_event, then the ref guard alone)', async () => {
    const refs = goodNumbers();
    const replay = async (): Promise<LoadOutcome[]> => {
      await loader!.stop();
      await resetGroupToEarliest(loaderGroup, [config.topics.invoiceEvents]);
      loaded.length = 0;
      await startLoader();
      await eventually(async () => (loaded.length >= GOOD ? true : undefined), 60_000, 'the replayed events');
      return loaded.map((l) => l.r);
    };
    const first = await replay();
    expect(first.every((r) => r.outcome === 'already_processed')).to.equal(true);
    let moves = await movesByRef(refs);
    expect([...moves.values()].every((ids) => ids.length === 1)).to.equal(true);

    // without the processed_event rows, the search by ref is the guard
    await stateDb().query('DELETE FROM processed_event WHERE consumer = $1', [loaderGroup]);
    const second = await replay();
    expect(second.map((r) => r.outcome)).to.deep.equal(new Array(GOOD).fill('existing'));
    moves = await movesByRef(refs);
    expect(moves.size).to.equal(GOOD);
    expect([...moves.values()].every((ids) => ids.length === 1)).to.equal(true);
    const processed = await stateDb().query(
      `SELECT count(*)::int AS n FROM processed_event WHERE consumer = $1`,
      [loaderGroup],
    );
    expect(processed.rows[0].n).to.equal(GOOD);
  });

  it('Odoo failures: a transient psycopg2 error is retried; a create committed but answered with an error is not repeated', async () => {
    // two more invoices: one-shots billed by a second run on a later date
    for (const c of good.slice(0, 2)) {
      await ocClient.applyOneShotChargeInstance({
        subscription: c.contracts[0]!.code,
        oneShotCharge: 'CH_SC_OSO_SIM',
        operationDate: today,
      } as never);
    }
    const nextMonth =
      new Date(Date.parse(`${today.slice(0, 7)}-01T00:00:00Z`) + 32 * DAY).toISOString().slice(0, 8) + '01';
    odoo.faults.add({
      kind: 'rpcError',
      method: 'create',
      model: '^account\\.move$',
      count: 1,
      errorName: 'psycopg2.errors.SerializationFailure',
      message: 'could not serialize access',
    });
    odoo.faults.add({
      kind: 'rpcError',
      method: 'create',
      model: '^account\\.move$',
      count: 1,
      phase: 'after',
      errorName: 'psycopg2.OperationalError',
      message: 'server closed the connection unexpectedly',
    });
    const run = oc.billingRun({ invoiceDate: nextMonth, periodStart: today, periodEnd: nextMonth });
    const goodBas = new Set(good.map((c) => c.groupCode));
    const expected = run.invoiceNumbers.filter((n) =>
      goodBas.has(oc.state.invoicesByNumber.get(`COM|${n}`)!.billingAccountCode),
    );
    expect(expected).to.have.length(GOOD);
    const p2 = startInvoicePoller(config, {
      pool: stateDb(),
      autoStart: false,
      options: { name: pollerName, now: () => Date.parse(`${nextMonth}T08:00:00Z`), lookbackDays: 40 },
    });
    const r = await p2.pollOnce();
    expect(r.emitted).to.equal(run.invoiceCount);
    await eventually(
      async () => ((await movesByRef(expected)).size === GOOD ? true : undefined),
      60_000,
      'the new invoices',
    );
    await new Promise((res) => setTimeout(res, 1000));
    const moves = await movesByRef(run.invoiceNumbers);
    expect(moves.size).to.equal(GOOD);
    expect([...moves.values()].every((ids) => ids.length === 1)).to.equal(true);
    expect(odoo.faults.list().every((f) => f.hits === 1)).to.equal(true);
    expect(consumerEvents.filter((e) => e.type === 'retry').length).to.be.at.least(2);
  });
});

/**
 * docs/parity.md I-validation and I-pdf on the real stack: malformed OpenCell invoices next to a good one through
 * the poller, the outbox relay, Kafka and the loader; the opt-in PDF route served by the ops server of `run`
 * (`runRoles`, src/app/run.ts) against the OpenCell sandbox.
 */
describe('invoice parity rows I-validation and I-pdf on the real stack', function () {
  this.timeout(180_000);
  const sfx = uniqueSuffix();
  const PASSWORD = `pw-${sfx}`;
  const TOKEN = `pdf-token-${sfx}-0123456789abcdef`;
  const DAY = 86_400_000;
  const today = new Date().toISOString().slice(0, 10);
  const periodStart = new Date(Date.UTC(Number(today.slice(0, 4)), Number(today.slice(5, 7)) - 2, 1))
    .toISOString()
    .slice(0, 10);
  const pollerName = `test-invoice-parity-poller-${sfx}`;
  const loaderGroup = `test-invoice-parity-loader-${sfx}`;

  let oc: OpenCellSandbox;
  let odoo: OdooSandbox;
  let config: Config;
  let ocClient: OpenCellClient;
  let poller: InvoicePoller;
  let path: InvoicePath;
  let loader: InvoiceLoaderStage | undefined;
  const loaded: Array<{ event: InvoiceIssuedEvent; r: LoadOutcome }> = [];

  async function movesByRef(refs: string[]): Promise<number[]> {
    const r = await odooDb().query<{ id: number }>(
      `SELECT id FROM account_move WHERE move_type = 'out_invoice' AND ref = ANY($1::text[]) ORDER BY id`,
      [refs],
    );
    return r.rows.map((x) => x.id);
  }

  /** A customer billed in OpenCell and known to Odoo (partner, contract group `<ref>_0`, one mobile contract). */
  async function billedOdooCustomer(ref: string, contractCode: string, lastname: string, email: string) {
    const groupCode = `${ref}_0`;
    const db = odooDb();
    const partner = await insertPartner(db, { ref, firstname: 'Inv', lastname, email });
    const group = await insertContractGroup(db, partner.id, groupCode);
    await insertContract(db, {
      partnerId: partner.id,
      kind: 'mobile',
      contractGroupId: group.id,
      code: contractCode,
    });
    await plantBilledCustomer(ocClient, {
      ref,
      groupCode,
      contractCode,
      since: periodStart,
      email,
      lastName: lastname,
    });
    return { group };
  }

  before(async () => {
    const catalog = defaultCatalog();
    catalog.invoicing.numberPrefix = `V${sfx}-`;
    path = await startInvoicePath({
      catalog,
      name: 'invoice-parity',
      sfx,
      password: PASSWORD,
      env: { SCHEMA_REGISTRY_URL: REGISTRY_URL, INVOICE_PDF_ROUTE: 'true', INVOICE_PDF_TOKEN: TOKEN },
      pollerName,
      startDate: new Date(Date.parse(today) - 5 * DAY).toISOString().slice(0, 10),
      relayPollMs: 200,
    });
    ({ oc, odoo, config, ocClient, poller } = path);
  });

  after(async () => {
    await loader?.stop().catch(() => undefined);
    await path?.close([loaderGroup]);
  });

  it('I-validation: an OpenCell invoice without billing account, or without number, is refused by the poller (never on Kafka, never in Odoo, refused again at the next poll); the good invoice of the same run is loaded into Odoo once', async () => {
    // a good customer: in Odoo (partner, group, contract) and in OpenCell (hierarchy, subscription, service)
    const ref = `IVP${sfx}`;
    const contractCode = `SCIP${sfx}`;
    await billedOdooCustomer(ref, contractCode, `Parity ${sfx}`, `invp-${sfx}@example.org`);

    // in OpenCell's order of creation: no billing account, the good one, no number
    const noAccount = oc.plantMalformedInvoice({ missing: 'billingAccountCode', invoiceDate: today });
    const run = oc.billingRun({ invoiceDate: today });
    expect(run.invoiceCount).to.equal(1);
    const goodNumber = run.invoiceNumbers[0]!;
    const noNumber = oc.plantMalformedInvoice({ missing: 'invoiceNumber', invoiceDate: today });
    expect(noAccount.invoiceNumber).to.be.a('string');
    expect(noNumber.invoiceNumber).to.equal(null);

    const r = await poller.pollOnce();
    // the faults landed: all three listed, the one without billing account read in full and refused, the one
    // without number counted (not validated yet)
    expect(r.listed).to.equal(3);
    expect(r.rejected).to.deep.equal([noAccount.invoiceNumber]);
    expect(r.unnumbered).to.deep.equal([noNumber.invoiceId]);
    expect(
      oc.journal
        .entries({ path: '/invoice' })
        .some((e) => e.query?.invoiceNumber === noAccount.invoiceNumber),
    ).to.equal(true);
    expect(r.invoiceNumbers).to.deep.equal([goodNumber]);
    expect(r.emitted).to.equal(1);
    // only the good invoice is remembered (the refused one is not, so each poll reports it again)
    const remembered = await stateDb().query<{ event_id: string }>(
      'SELECT event_id FROM processed_event WHERE consumer = $1',
      [pollerName],
    );
    expect(remembered.rows.map((x) => x.event_id)).to.deep.equal([invoiceEventId(goodNumber)]);

    loader = createInvoiceLoader(config, {
      kafka: testKafka(),
      pool: stateDb(),
      groupId: loaderGroup,
      onLoaded: (event, lr) => loaded.push({ event, r: lr }),
    });
    await loader.start();
    await eventually(async () => (loaded.length >= 1 ? true : undefined), 60_000, 'the good invoice loaded');
    expect(loaded.map((l) => [l.event.invoiceNumber, l.r.outcome])).to.deep.equal([[goodNumber, 'created']]);
    // the topic had the good invoice only, so nothing else could be loaded or dead-lettered
    expect(await topicMessages(config.topics.invoiceEvents)).to.equal(1);
    expect(await topicMessages(config.topics.dlq)).to.equal(0);
    expect(await movesByRef([goodNumber])).to.have.length(1);
    expect(await movesByRef([noAccount.invoiceNumber!])).to.have.length(0);

    // the next poll refuses the malformed invoice again and emits nothing
    const again = await poller.pollOnce();
    expect(again).to.deep.include({ listed: 3, emitted: 0, skipped: 1 });
    expect(again.rejected).to.deep.equal([noAccount.invoiceNumber]);
    const outbox = await stateDb().query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE topic = $1',
      [config.topics.invoiceEvents],
    );
    expect(outbox.rows[0]!.n).to.be.at.most(1);
    expect(await movesByRef([goodNumber])).to.have.length(1);
  });

  it('an invoice listed without a number (billing run not validated) is counted (poll result, metric, one log line naming it) and not emitted, its date read again by each poll; once validated in OpenCell it is emitted once and loaded into Odoo once, also when validated after its date left the lookback (regression, I-unnumbered)', async () => {
    const ref = `IVD${sfx}`;
    const contractCode = `SCID${sfx}`;
    const { group } = await billedOdooCustomer(ref, contractCode, `Draft ${sfx}`, `invd-${sfx}@example.org`);
    // the run's invoice stays a draft: listed without number
    const run = oc.billingRun({ invoiceDate: today, validate: false });
    expect(run.invoiceCount).to.equal(1);
    expect(run.invoiceNumbers).to.deep.equal([]);
    const draftId = run.invoiceIds[0]!;
    expect(oc.state.invoicesById.get(draftId)?.status).to.equal('DRAFT');
    expect(oc.state.invoicesById.get(draftId)?.invoiceNumber).to.equal(undefined);
    // the malformed one of the I-validation test, never validated
    const stale = oc.state.invoices.find((i) => i.invoiceNumber === undefined && i.invoiceId !== draftId)!;
    expect(stale, 'the unnumbered invoice of the I-validation test').to.not.equal(undefined);

    const metrics = new Metrics({ defaultMetrics: false });
    const logs = captureLogLines();
    const pollerAt = (now?: () => number) =>
      startInvoicePoller(config, {
        pool: stateDb(),
        autoStart: false,
        options: { name: pollerName, onPoll: metrics.onInvoicePoll, ...(now ? { now } : {}) },
      });
    const metric = async (name: string) => {
      const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
      return m?.values[0]?.value;
    };
    const movesOfDraft = async () =>
      (
        await odooDb().query<{ id: number; ref: string }>(
          `SELECT id, ref FROM account_move WHERE contract_group_id = $1`,
          [group.id],
        )
      ).rows;
    const outboxRows = async (number: string) =>
      (
        await stateDb().query<{ n: number }>(
          'SELECT count(*)::int AS n FROM outbox WHERE topic = $1 AND aggregate_id = $2',
          [config.topics.invoiceEvents, number],
        )
      ).rows[0]!.n;

    const p = pollerAt();
    logs.attach();
    let first: InvoicePollResult;
    let second: InvoicePollResult;
    try {
      first = await p.pollOnce();
      second = await p.pollOnce();
    } finally {
      logs.detach();
    }
    for (const r of [first, second]) {
      expect(r.unnumbered).to.deep.equal([stale.invoiceId, draftId].sort((a, b) => a - b));
      expect(r.emitted).to.equal(0);
      expect(r.unnumberedPastLookback).to.deep.equal([]);
      expect(r.window.from <= today && today < r.window.to).to.equal(true);
    }
    expect(await metric('sync_invoice_poller_unnumbered')).to.equal(2);
    expect(await metric('sync_invoice_poller_unnumbered_past_lookback_total')).to.equal(0);
    const infoLines = logs.lines.filter((l) =>
      /without a number \(not validated yet\)/.test(String(l.message)),
    );
    expect(infoLines, 'one line per poll').to.have.length(2);
    expect(infoLines[0]!.level).to.equal('info');
    expect(String(infoLines[0]!.message)).to.contain(`${draftId} (${today})`);
    expect((await p.cursor())?.days?.[today]?.unnumbered).to.include(draftId);
    // the draft was never read (it has no number to be read by) and is in no event, outbox row or Odoo move
    expect(
      oc.journal.entries({ path: '/invoice' }).filter((e) => e.query?.id === String(draftId)),
    ).to.deep.equal([]);
    expect(await movesOfDraft()).to.deep.equal([]);

    // validated in OpenCell: it gets its number, keeps its id and date
    const [number] = oc.validateInvoices([draftId]);
    expect(number).to.be.a('string');
    const third = await p.pollOnce();
    expect(third.invoiceNumbers).to.deep.equal([number]);
    expect(third.emitted).to.equal(1);
    expect(third.unnumbered).to.deep.equal([stale.invoiceId]);
    expect(await metric('sync_invoice_poller_unnumbered')).to.equal(1);
    const fourth = await p.pollOnce();
    expect(fourth).to.deep.include({ emitted: 0 });
    expect(await outboxRows(number!)).to.equal(1);
    await eventually(
      async () => (loaded.some((l) => l.event.invoiceNumber === number) ? true : undefined),
      60_000,
      'the validated invoice loaded',
    );
    await new Promise((res) => setTimeout(res, 1000));
    expect(loaded.filter((l) => l.event.invoiceNumber === number).map((l) => l.r.outcome)).to.deep.equal([
      'created',
    ]);
    expect((await movesOfDraft()).map((m) => m.ref)).to.deep.equal([number]);

    // five days later (lookback 3): today has left the window, but it holds an invoice waiting for its number, so
    // every poll still reads it (regression, I-unnumbered: the poller gave such an invoice up when its date left the
    // lookback, and a billing run validated late never reached Odoo); nothing is warned or given up
    // a second run, this month's period (the first billed the month before), dated yesterday (Odoo's duplicate
    // guard is one invoice per group, date and journal), left unvalidated
    const yesterday = new Date(Date.parse(today) - DAY).toISOString().slice(0, 10);
    const monthStart = `${today.slice(0, 8)}01`;
    const nextMonth = new Date(Date.UTC(+today.slice(0, 4), +today.slice(5, 7), 1))
      .toISOString()
      .slice(0, 10);
    const secondRun = oc.billingRun({
      invoiceDate: yesterday,
      periodStart: monthStart,
      periodEnd: nextMonth,
      validate: false,
    });
    const lateId = secondRun.invoiceIds.find((id) =>
      oc.state.invoicesById.get(id)?.billingAccountCode.startsWith(ref),
    )!;
    expect(lateId, "this month's invoice of the customer").to.be.a('number');
    // the run's other invoices (other tests' customers) wait for their number too; only this customer's is validated
    const waiting = [stale.invoiceId, ...secondRun.invoiceIds].sort((a, b) => a - b);
    const later = Date.parse(`${today}T08:00:00Z`) + 5 * DAY;
    const p5 = pollerAt(() => later);
    logs.attach();
    const shifted: InvoicePollResult[] = [];
    try {
      for (let i = 0; i < 2; i++) shifted.push(await p5.pollOnce());
    } finally {
      logs.detach();
    }
    expect(shifted[1]!.window.from > today).to.equal(true);
    for (const r of shifted) {
      expect(r.unnumbered).to.deep.equal(waiting);
      expect(r.unnumberedPastLookback).to.deep.equal([]);
    }
    expect(shifted[1]!.reread).to.deep.equal([yesterday, today]);
    expect(logs.lines.filter((l) => /when their date left/.test(String(l.message)))).to.have.length(0);
    expect(await metric('sync_invoice_poller_unnumbered_past_lookback_total')).to.equal(0);
    // validated five days after its date: emitted by the next poll and loaded into Odoo, once
    const [lateNumber] = oc.validateInvoices([lateId]);
    const validated = await p5.pollOnce();
    expect(validated.invoiceNumbers).to.deep.equal([lateNumber]);
    expect(validated.unnumbered).to.deep.equal(waiting.filter((id) => id !== lateId));
    expect((await p5.pollOnce()).emitted).to.equal(0);
    expect(await outboxRows(lateNumber!)).to.equal(1);
    await eventually(
      async () => (loaded.some((l) => l.event.invoiceNumber === lateNumber) ? true : undefined),
      60_000,
      'the invoice validated late loaded',
    );
    await new Promise((res) => setTimeout(res, 1000));
    expect(loaded.filter((l) => l.event.invoiceNumber === lateNumber).map((l) => l.r.outcome)).to.deep.equal([
      'created',
    ]);
    expect((await movesOfDraft()).map((m) => m.ref).sort()).to.deep.equal([number, lateNumber].sort());
  });

  describe('I-pdf: the opt-in route /web/binary/download_invoice of the run’s ops server', () => {
    let invoiceNumber: string;
    const get = (port: number, token: string | null) =>
      fetch(
        `http://127.0.0.1:${port}${INVOICE_PDF_PATH}?invoice_number=${encodeURIComponent(invoiceNumber)}`,
        {
          headers: token === null ? {} : { Authorization: `Bearer ${token}` },
        },
      );

    before(() => {
      // dated outside the poller's window above
      invoiceNumber = oc.generateInvoices({
        count: 1,
        invoiceDate: '2024-06-01',
        billingAccountCodes: [`PDF${sfx}_0`],
      }).invoiceNumbers[0]!;
    });

    it('I-pdf: with INVOICE_PDF_ROUTE and its token, the PDF bytes of the OpenCell invoice come back (GET /invoice includePdf=true); without a token or with a wrong one 401, before asking OpenCell', async () => {
      expect(config.invoicePdf.enabled).to.equal(true);
      const proc = await runRoles(config, [], { httpPort: 0, kafka: testKafka() });
      try {
        const port = proc.http!.port;
        const before = oc.journal.entries({ path: '/invoice' }).length;
        for (const token of [null, 'wrong-token', `${TOKEN}x`]) {
          const res = await get(port, token);
          expect(res.status, String(token)).to.equal(401);
          expect(res.headers.get('www-authenticate')).to.equal('Bearer');
        }
        expect(oc.journal.entries({ path: '/invoice' }).length).to.equal(before);

        const res = await get(port, TOKEN);
        expect(res.status).to.equal(200);
        expect(res.headers.get('content-type')).to.equal('application/pdf');
        expect(res.headers.get('content-disposition')).to.equal(
          `attachment; filename="${invoiceNumber}.pdf"`,
        );
        const body = Buffer.from(await res.arrayBuffer());
        expect(body.equals(invoicePdf(oc.state.invoicesByNumber.get(`COM|${invoiceNumber}`)!))).to.equal(
          true,
        );
        const calls = oc.journal.entries({ path: '/invoice' }).slice(before);
        expect(calls).to.have.length(1);
        expect(calls[0]!.query).to.include({ invoiceNumber, includePdf: 'true' });
      } finally {
        await proc.stop();
      }
    });

    it('I-pdf: off by default: without INVOICE_PDF_ROUTE the run’s ops server answers 404, even with the token, and asks OpenCell nothing', async () => {
      const off = loadConfig({
        ...process.env,
        OPENCELL_BASEURL: oc.url,
        OPENCELL_USER: oc.credentials.user,
        OPENCELL_PASSWORD: oc.credentials.password,
        ODOO_URL: odoo.url,
        ODOO_DB: odoo.db,
        ODOO_USER: 'billing-bot',
        ODOO_PASSWORD: PASSWORD,
        SCHEMA_REGISTRY_URL: REGISTRY_URL,
      });
      expect(off.invoicePdf.enabled).to.equal(false);
      const proc = await runRoles(off, [], { httpPort: 0, kafka: testKafka() });
      try {
        const before = oc.journal.entries({ path: '/invoice' }).length;
        for (const token of [TOKEN, null]) {
          const res = await get(proc.http!.port, token);
          expect(res.status, String(token)).to.equal(404);
        }
        expect(oc.journal.entries({ path: '/invoice' }).length).to.equal(before);
        // the ops server itself is up
        expect((await fetch(`http://127.0.0.1:${proc.http!.port}/healthz`)).status).to.equal(200);
      } finally {
        await proc.stop();
      }
    });
  });
});
