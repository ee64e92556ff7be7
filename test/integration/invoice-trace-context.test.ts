/**
 * One OpenCell invoice followed end to end by its W3C trace id (issue 16, "Observability"): the poller starts the
 * invoice's trace (derived from its number, src/core/trace.ts), the relay puts it on the invoice event's
 * `traceparent` header, the loader's log lines carry it and so do the JSON-RPC calls that create the move (as the
 * Odoo sandbox received them). Another invoice has another trace; the same invoice polled and loaded again keeps its
 * own. Invoices loaded together in one batch share calls: those carry a trace of the batch, tied to theirs by a log
 * line (docs/operations.md, "Trace context"). Real Kafka and registry, OpenCell and Odoo sandboxes.
 */
import { expect } from 'chai';
import type { KafkaMessage } from 'kafkajs';
import type { Config } from '../../src/core/config';
import { parseTraceparent, traceFromSeed, withTrace } from '../../src/core/trace';
import { invoiceEventId } from '../../src/domain/invoices/invoice-event';
import type { InvoiceIssuedEvent } from '../../src/domain/outbox/events';
import { OpenCellClient } from '../../src/adapters/opencell/client';
import type { InvoicePoller } from '../../src/flows/invoices/poller';
import type { LoadOutcome } from '../../src/flows/invoices/loader';
import { createInvoiceLoader, type InvoiceLoaderStage } from '../../src/flows/invoices/stages';
import { insertContract, insertContractGroup, insertPartner } from '../../testkit/demo-seed';
import type { OdooSandbox } from '../../testkit/sandbox/odoo';
import { defaultCatalog, type OpenCellSandbox } from '../../testkit/sandbox/opencell';
import { REGISTRY_URL, eventually, odooDb, stateDb, testKafka, uniqueSuffix } from './support/stack';
import { plantBilledCustomer, startInvoicePath, type InvoicePath } from './support/invoice-sandboxes';
import { captureLogLines } from '../support/log-capture';

describe('trace context: one OpenCell invoice followed by its trace id (poller → event → loader → Odoo)', function () {
  this.timeout(120_000);
  const sfx = uniqueSuffix();
  const PASSWORD = `pw-${sfx}`;
  const today = new Date().toISOString().slice(0, 10);
  const pollerName = `test-trace-poller-${sfx}`;
  const loaderGroup = `test-trace-loader-${sfx}`;
  const batchConsumer = `test-trace-batch-${sfx}`;
  let oc: OpenCellSandbox;
  let odoo: OdooSandbox;
  let config: Config;
  let ocClient: OpenCellClient;
  let path: InvoicePath | undefined;
  let poller: InvoicePoller | undefined;
  let stage: InvoiceLoaderStage | undefined;
  const loaded: Array<{ event: InvoiceIssuedEvent; r: LoadOutcome }> = [];
  let numbers: string[] = [];

  const capture = captureLogLines();
  const { lines } = capture;

  const traceOf = (n: string) => traceFromSeed(`invoice|${n}`).traceId;
  const moveCreates = (n: string) =>
    odoo.journal
      .entries({ model: 'account.move', method: 'create' })
      .filter((e) => JSON.stringify(e.args).includes(`"ref":"${n}"`));

  /** The invoice events on the topic, by key (invoice number), as many as `want` says. */
  async function invoiceEvents(want: (byKey: Map<string, KafkaMessage[]>) => boolean) {
    const byKey = new Map<string, KafkaMessage[]>();
    const consumer = testKafka().consumer({ groupId: `test-trace-reader-${uniqueSuffix()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: config.topics.invoiceEvents, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const k = message.key!.toString();
          byKey.set(k, [...(byKey.get(k) ?? []), message]);
        },
      });
      await eventually(async () => (want(byKey) ? true : undefined), 30_000, 'the invoice events');
    } finally {
      await consumer.disconnect();
    }
    return byKey;
  }
  const headerTrace = (m: KafkaMessage) => parseTraceparent(m.headers?.traceparent?.toString())?.traceId;

  /** A customer in Odoo (partner, group, mobile contract) and the same in OpenCell, billed by the next run. */
  async function customer(i: string): Promise<void> {
    const ref = `TR${sfx}${i}`;
    const groupCode = `${ref}_0`;
    const contractCode = `SCT${sfx}${i}`;
    const db = odooDb();
    const partner = await insertPartner(db, { ref, email: `trace-inv-${sfx}-${i}@example.org` });
    const group = await insertContractGroup(db, partner.id, groupCode);
    await insertContract(db, {
      partnerId: partner.id,
      kind: 'mobile',
      contractGroupId: group.id,
      code: contractCode,
    });
    // billed by a run dated today: the subscription runs since the first day of the month before
    const d = new Date(`${today}T00:00:00Z`);
    const periodStart = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1))
      .toISOString()
      .slice(0, 10);
    await plantBilledCustomer(ocClient, {
      ref,
      groupCode,
      contractCode,
      since: periodStart,
      email: `trace-inv-${sfx}@example.org`,
      lastName: `Doe ${sfx}`,
    });
  }

  before(async () => {
    capture.attach(); // the test's transport alone hears the pipeline's info lines
    const catalog = defaultCatalog();
    catalog.invoicing.numberPrefix = `TR${sfx}-`; // invoice numbers (move refs in Odoo) unique per run
    path = await startInvoicePath({
      catalog,
      name: 'trace',
      sfx,
      password: PASSWORD,
      env: { SCHEMA_REGISTRY_URL: REGISTRY_URL },
      pollerName,
      startDate: today,
      relayPollMs: 100,
    });
    ({ oc, odoo, config, ocClient, poller } = path);
    // one invoice per batch: each create call is one invoice's (batches of several: the last test)
    stage = createInvoiceLoader(config, {
      kafka: testKafka(),
      pool: stateDb(),
      groupId: loaderGroup,
      maxBatch: 1,
      onLoaded: (event, r) => void loaded.push({ event, r }),
    });
    await stage.start();
    await customer('a');
    await customer('b');
  });

  after(async function () {
    if (this.currentTest?.state !== 'passed')
      for (const l of lines.filter((x) => x.level === 'error' || x.level === 'warn').slice(0, 8))
        console.log(JSON.stringify(l).slice(0, 400));
    await stage?.stop().catch(() => undefined);
    capture.detach();
    await path?.close([loaderGroup, batchConsumer]);
  });

  it('event header, loader log lines and the Odoo calls that create the move carry the invoice’s trace id; another invoice another one', async () => {
    numbers = oc.billingRun({ invoiceDate: today }).invoiceNumbers;
    expect(numbers).to.have.length(2);
    expect((await poller!.pollOnce()).emitted).to.equal(2);
    await eventually(
      async () => (loaded.filter((x) => x.r.outcome === 'created').length === 2 ? true : undefined),
      30_000,
      'both invoices created in Odoo',
    );
    const events = await invoiceEvents((m) => numbers.every((n) => m.has(n)));
    const [ta, tb] = numbers.map(traceOf);
    expect(ta).to.not.equal(tb);
    for (const n of numbers) {
      const t = traceOf(n);
      // 1. the invoice event on Kafka
      expect(events.get(n)!.map(headerTrace)).to.deep.equal([t]);
      // 2. the JSON-RPC call that created the move, as the Odoo sandbox received it
      const creates = moveCreates(n);
      expect(creates, `account.move create of ${n}`).to.have.length(1);
      expect(parseTraceparent(creates[0]!.traceparent)?.traceId).to.equal(t);
      // 3. the loader's log line for it
      const mine = lines.filter((l) => l.traceId === t);
      expect(
        mine.some((l) => l.component === 'invoice-loader' && String(l.message).includes(`${n} created`)),
      ).to.equal(true);
    }
    // every Odoo call made for one invoice carries that invoice's trace, none carries the other's
    const rpc = odoo.journal.entries({ method: 'execute_kw' });
    const byTrace = (t: string) => rpc.filter((e) => parseTraceparent(e.traceparent)?.traceId === t);
    expect(byTrace(ta!).length).to.be.greaterThan(1);
    expect(byTrace(tb!).length).to.be.greaterThan(1);
    expect(byTrace(ta!).some((e) => JSON.stringify(e.args).includes(numbers[1]!))).to.equal(false);
  });

  it('the same invoice polled and loaded again keeps its trace id (derived from its number)', async () => {
    // the poller and the loader forget both invoices, and their sent outbox rows are gone (pruned): the next poll
    // emits them again, the loader finds their moves by ref
    await stateDb().query('DELETE FROM outbox WHERE topic = $1', [config.topics.invoiceEvents]);
    await stateDb().query('DELETE FROM processed_event WHERE consumer = ANY($1::text[])', [
      [pollerName, loaderGroup],
    ]);
    await stateDb().query('DELETE FROM cursor_position WHERE name = $1', [pollerName]);
    const since = odoo.journal.lastSeq;
    expect((await poller!.pollOnce()).emitted).to.equal(2);
    await eventually(
      async () => (loaded.filter((x) => x.r.outcome === 'existing').length === 2 ? true : undefined),
      30_000,
      'both invoices found in Odoo again',
    );
    const events = await invoiceEvents((m) => numbers.every((n) => m.get(n)?.length === 2));
    for (const n of numbers) {
      const t = traceOf(n);
      expect(events.get(n)!.map(headerTrace)).to.deep.equal([t, t]);
      const again = lines.filter(
        (l) => l.traceId === t && String(l.message).includes(`${n} already in Odoo`),
      );
      expect(again, `log line of ${n} loaded again`).to.have.length(1);
      // the search that found its move again carries its trace
      const found = odoo.journal
        .entries({ model: 'account.move', method: 'search_read', since })
        .filter((e) => JSON.stringify(e.args).includes(n));
      expect(found.length).to.be.greaterThan(0);
      for (const e of found) expect(parseTraceparent(e.traceparent)?.traceId).to.equal(t);
    }
    expect(odoo.journal.entries({ model: 'account.move', method: 'create', since })).to.deep.equal([]);
  });

  it('invoices loaded in one batch: the shared create carries a batch trace, which a log line ties to each invoice’s', async () => {
    const batch = createInvoiceLoader(config, {
      kafka: testKafka(),
      pool: stateDb(),
      consumer: batchConsumer,
    });
    // the same customers, new invoice numbers on another date (not the original's duplicates)
    const evs = loaded
      .filter((x) => x.r.outcome === 'created')
      .map(({ event }, i) => {
        const invoiceNumber = `${event.invoiceNumber}-B${i}`;
        return { ...event, invoiceNumber, eventId: invoiceEventId(invoiceNumber), invoiceDate: '2031-02-28' };
      });
    const since = odoo.journal.lastSeq;
    const rs = await Promise.all(
      evs.map((ev) => withTrace(traceFromSeed(`invoice|${ev.invoiceNumber}`), () => batch.loader.load(ev))),
    ).finally(() => batch.stop().catch(() => undefined));
    expect(rs.map((r) => r.outcome)).to.deep.equal(['created', 'created']);
    const creates = odoo.journal.entries({ model: 'account.move', method: 'create', since });
    expect(creates, 'one create for both').to.have.length(1);
    const shared = parseTraceparent(creates[0]!.traceparent)!.traceId;
    const tie = lines.find((l) => l.traceId === shared && Array.isArray(l.links));
    expect(tie?.links).to.have.members(evs.map((e) => traceOf(e.invoiceNumber)));
    for (const ev of evs)
      expect(
        lines.some(
          (l) =>
            l.traceId === traceOf(ev.invoiceNumber) &&
            String(l.message).includes(`${ev.invoiceNumber} created`),
        ),
      ).to.equal(true);
  });
});
