import { expect } from 'chai';
import type { Pool } from 'pg';
import { testPool } from '../support/pg';
import { OpenCellClient } from '../../src/adapters/opencell/client';
import { InvoicePoller } from '../../src/flows/invoices/poller';
import { startOpenCellSandbox, type OpenCellSandbox } from '../../testkit/sandbox/opencell';
import { createStateSchema, stateDb, stateUrlFor, uniqueSuffix } from './support/stack';

/**
 * The invoice poller against the OpenCell sandbox (production client) and real PostgreSQL, in a state schema of its
 * own: every page of a date is read whether or not the list carries a total, the whole lookback is read again by
 * every poll (late invoices), and a poll that fails mid-window resumes without skipping anything (issue 15 §5).
 */
describe('invoice poller: pages, lookback and resume (issue 15 §5)', function () {
  this.timeout(120_000);
  const DAY = 86_400_000;
  const schema = `poller_${uniqueSuffix()}`;
  const topic = `test.invoices.${schema}`;
  let oc: OpenCellSandbox;
  let client: OpenCellClient;
  let pool: Pool;
  let clock = Date.parse('2026-03-10T09:00:00Z');
  const day = (offset: number) => new Date(clock + offset * DAY).toISOString().slice(0, 10);

  before(async () => {
    await createStateSchema(schema);
    pool = testPool({ connectionString: stateUrlFor(schema), max: 4 });
    oc = await startOpenCellSandbox({ port: 0, omitListTotal: true });
    client = new OpenCellClient({
      baseUrl: oc.url,
      user: oc.credentials.user,
      password: oc.credentials.password,
      timeoutMs: 5000,
      concurrency: 8,
    });
  });
  after(async () => {
    client?.close();
    await oc?.close();
    await pool?.end();
    await stateDb().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  const poller = (name: string, extra: Partial<ConstructorParameters<typeof InvoicePoller>[0]> = {}) =>
    new InvoicePoller({
      pool,
      opencell: client,
      topic,
      name,
      pageSize: 40,
      lookbackDays: 3,
      now: () => clock,
      ...extra,
    });

  /** outbox rows per invoice number of this poller (an InvoiceIssued row's aggregate id is its number) */
  async function outboxCounts(): Promise<Map<string, number>> {
    const r = await pool.query<{ aggregate_id: string; n: string }>(
      'SELECT aggregate_id, count(*) AS n FROM outbox WHERE topic = $1 GROUP BY aggregate_id',
      [topic],
    );
    return new Map(r.rows.map((x) => [x.aggregate_id, Number(x.n)]));
  }

  it('a list without total: every page of a date is read, until a short page; a second poll emits nothing', async () => {
    await pool.query('DELETE FROM outbox');
    const run = oc.generateInvoices({ count: 203, invoiceDate: day(0), billingAccountCodes: ['9_0'] });
    const p = poller('pages');
    const r = await p.pollOnce();
    expect(r.pages).to.be.at.least(6); // 203 / 40: five full pages and a short one on that date
    expect(r.emitted).to.equal(203);
    const counts = await outboxCounts();
    expect(run.invoiceNumbers.every((n) => counts.get(n) === 1)).to.equal(true);
    expect((await p.pollOnce()).emitted).to.equal(0);
    expect([...(await outboxCounts()).values()].every((n) => n === 1)).to.equal(true);
    expect((await p.cursor())?.days?.[day(0)]).to.include({ listed: 203, complete: true });
  });

  it('a late invoice dated inside a window already polled is picked up by the next poll, once', async () => {
    oc.reset();
    await pool.query('DELETE FROM outbox');
    const p = poller('late');
    oc.generateInvoices({ count: 5, invoiceDate: day(0), billingAccountCodes: ['9_0'] });
    expect((await p.pollOnce()).emitted).to.equal(5);
    // The next day an invoice dated two days back appears (a billing run validated late). The old poller started
    // its next window 3 days before the last window's end (today + 2), so it read only 1 day back and lost it.
    clock += DAY;
    const late = oc.generateInvoices({ count: 1, invoiceDate: day(-2), billingAccountCodes: ['9_0'] });
    const r = await p.pollOnce();
    expect(r.window.from).to.equal(day(-3));
    expect(r.invoiceNumbers).to.deep.equal(late.invoiceNumbers);
    expect((await p.pollOnce()).emitted).to.equal(0);
    expect((await outboxCounts()).get(late.invoiceNumbers[0]!)).to.equal(1);
  });

  it('a late invoice dated before the lookback, on a date read completely before, is found by its date watermark', async () => {
    oc.reset();
    await pool.query('DELETE FROM outbox');
    const p = poller('verify', { lookbackDays: 1 });
    const old = day(0);
    oc.generateInvoices({ count: 3, invoiceDate: old, billingAccountCodes: ['9_0'] });
    expect((await p.pollOnce()).emitted).to.equal(3);
    clock += 5 * DAY; // the old date is 5 days back now, outside the 1-day lookback
    const quiet = await p.pollOnce();
    expect(quiet.window.from > old).to.equal(true);
    expect(quiet.reread).to.deep.equal([]);
    const late = oc.generateInvoices({ count: 2, invoiceDate: old, billingAccountCodes: ['9_0'] });
    const r = await p.pollOnce();
    expect(r.reread).to.deep.equal([old]);
    expect(r.invoiceNumbers.sort()).to.deep.equal([...late.invoiceNumbers].sort());
    const again = await p.pollOnce();
    expect(again.emitted).to.equal(0);
    expect(again.reread).to.deep.equal([]);
    const counts = await outboxCounts();
    expect(late.invoiceNumbers.map((n) => counts.get(n))).to.deep.equal([1, 1]);
  });

  it('a poll failing mid-window keeps what it committed and the next poll resumes there: nothing skipped, nothing twice', async () => {
    oc.reset();
    await pool.query('DELETE FROM outbox');
    const all = [
      ...oc.generateInvoices({ count: 90, invoiceDate: day(-1), billingAccountCodes: ['9_0'] })
        .invoiceNumbers,
      ...oc.generateInvoices({ count: 90, invoiceDate: day(0), billingAccountCodes: ['9_0'] }).invoiceNumbers,
    ];
    let pages = 0;
    const p = poller('resume', {
      onPage: () => {
        // pages: day −3, day −2 (empty), day −1 (40, 40, 10), then day 0: after its first page OpenCell fails
        if (++pages === 6) oc.faults.add({ kind: 'error', path: '^/invoice/list', count: 3 });
      },
    });
    let failed: unknown;
    await p.pollOnce().catch((e: unknown) => (failed = e));
    expect(failed, 'the first poll failed mid-window').to.be.instanceOf(Error);
    expect(oc.faults.list()[0]?.hits).to.equal(1);
    const committed = (await outboxCounts()).size;
    expect(committed).to.equal(130); // day −1 and the first page of day 0 were committed before the failure
    expect((await p.cursor())?.windowEnd).to.equal(day(0)); // the failed date is where the next poll resumes
    // the remaining faults make the next two polls fail too, then the fourth poll goes through
    for (let i = 0; i < 2; i++) await p.pollOnce().catch(() => undefined);
    const r = await p.pollOnce();
    expect(r.emitted).to.equal(180 - committed);
    const counts = await outboxCounts();
    expect(all.filter((n) => counts.get(n) === 1)).to.have.length(180);
    expect([...counts.values()].every((n) => n === 1)).to.equal(true);
  });

  it('regression (I-unnumbered, issue 14): an invoice validated after its date left the lookback is still emitted, once — its date is read again by every poll while it waits for its number; past verifyDays it is given up once (reported once); validated then, a poll whose lookback reaches its date emits it once', async () => {
    oc.reset();
    await pool.query('DELETE FROM outbox');
    const d0 = day(0);
    const draft = oc.plantMalformedInvoice({ missing: 'invoiceNumber', invoiceDate: d0 });
    expect(draft.invoiceNumber).to.equal(null);
    const p = poller('unnumbered', { lookbackDays: 1, verifyDays: 10 });
    const first = await p.pollOnce();
    expect(first).to.deep.include({ emitted: 0, unnumbered: [draft.invoiceId], unnumberedPastLookback: [] });
    expect((await p.cursor())?.days?.[d0]).to.deep.include({ unnumbered: [draft.invoiceId] });

    clock += 5 * DAY; // d0 is 5 days back, outside the 1-day lookback, inside the 10 verify days
    const left = await p.pollOnce();
    expect(left.window.from > d0).to.equal(true);
    expect(left).to.deep.include({ reread: [d0], unnumbered: [draft.invoiceId], unnumberedPastLookback: [] });
    // validated now: it keeps its id (the highest-id check cannot see it), its date is read whole, it is emitted once
    const [number] = oc.validateInvoices([draft.invoiceId]);
    const validated = await p.pollOnce();
    expect(validated).to.deep.include({
      reread: [d0],
      unnumbered: [],
      unnumberedPastLookback: [],
      emitted: 1,
    });
    expect(validated.invoiceNumbers).to.deep.equal([number]);
    // the date is finished: no more whole reads, nothing emitted twice
    const after = await p.pollOnce();
    expect(after).to.deep.include({ reread: [], emitted: 0 });
    expect((await outboxCounts()).get(number!)).to.equal(1);

    // another draft on d1, never validated: read by every poll until d1 leaves the 10 verify days, then given up once
    const d1 = day(0);
    const stale = oc.plantMalformedInvoice({ missing: 'invoiceNumber', invoiceDate: d1 });
    expect((await p.pollOnce()).unnumbered).to.deep.equal([stale.invoiceId]);
    clock += 6 * DAY;
    expect(await p.pollOnce()).to.deep.include({ reread: [d1], unnumbered: [stale.invoiceId] });
    clock += 5 * DAY; // d1 is 11 days back
    const gone = await p.pollOnce();
    expect(gone).to.deep.include({ unnumbered: [], unnumberedPastLookback: [stale.invoiceId] });
    expect((await p.pollOnce()).unnumberedPastLookback).to.deep.equal([]);
    // validated too late for the poller: the operator's way (docs/operations.md), a lookback reaching its date
    const [late] = oc.validateInvoices([stale.invoiceId]);
    expect((await p.pollOnce()).emitted).to.equal(0);
    const wide = await poller('unnumbered', { lookbackDays: 12, verifyDays: 10 }).pollOnce();
    expect(wide.window.from <= d1).to.equal(true);
    expect(wide.invoiceNumbers).to.deep.equal([late]);
    expect((await outboxCounts()).get(late!)).to.equal(1);
  });
});
