import { expect } from 'chai';
import { ensureCatalog, insertContract, insertContractGroup, insertPartner } from '../../testkit/demo-seed';
import { fullInvoiceEvent } from '../../testkit/outbox';
import { OdooClient } from '../../src/adapters/odoo/client';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { InvoiceLoader, type LoadOutcome } from '../../src/flows/invoices/loader';
import { invoiceEventId } from '../../src/domain/invoices/invoice-event';
import { FencedError, OdooRpcError, ProjectionRejectedError, SyncError } from '../../src/domain/errors';
import { PgPartitionFence } from '../../src/adapters/postgres/fence';
import type { OdooRpc } from '../../src/flows/invoices/loader';
import type { InvoiceIssuedEvent } from '../../src/domain/outbox/events';
import { startOdooSandbox, type OdooSandbox } from '../../testkit/sandbox/odoo';
import { ODOO_DATABASE_URL, REGISTRY_URL, odooDb, stateDb, uniqueSuffix } from './support/stack';

/**
 * The invoice loader against the Odoo sandbox on the Odoo-shaped PostgreSQL database, through the production JSON-RPC
 * client, with processed_event in the state database: the behaviour of invoice_somconnexio 16.0 (docs/parity.md §7)
 * and the exactly-once key. Invoice numbers, partners and groups are unique per run.
 */
describe('invoice loader: like invoice_somconnexio 16.0, exactly once (Odoo sandbox, real databases)', function () {
  this.timeout(60_000);
  const sfx = uniqueSuffix();
  const PASSWORD = `pw-${sfx}`;
  const consumer = `test-invoice-loader-parity-${sfx}`;
  let odoo: OdooSandbox;
  let client: OdooClient;
  const loaders: InvoiceLoader[] = [];
  let group: { id: number; code: string };
  let partnerId: number;
  const contracts: Array<{ id: number; code: string }> = [];
  let journalId: number;

  const loader = (over: Partial<ConstructorParameters<typeof InvoiceLoader>[0]> = {}) => {
    const l = new InvoiceLoader({
      odoo: client,
      pool: stateDb(),
      schemas: new EventSchemas({
        registryUrl: REGISTRY_URL,
        topics: { syncEvents: 'unused', invoiceEvents: 'unused' },
      }),
      consumer,
      ...over,
    });
    loaders.push(l);
    return l;
  };

  let seq = 0;
  function invoice(over: Partial<InvoiceIssuedEvent> = {}): InvoiceIssuedEvent {
    const invoiceNumber = over.invoiceNumber ?? `LP${sfx}-${++seq}`;
    const base = fullInvoiceEvent({ invoiceNumber });
    const line = base.lines[0]!;
    return {
      ...base,
      eventId: invoiceEventId(invoiceNumber),
      invoiceDate: '2031-01-31',
      billingAccountCode: group.code,
      customerAccountCode: group.code,
      customerCode: null,
      subscriptionCodes: contracts.map((c) => c.code),
      billingRunId: '4711',
      amountWithoutTax: '16.95',
      amountTax: '3.56',
      amountWithTax: '20.51',
      lines: [
        {
          ...line,
          description: 'Tarifa mòbil',
          accountingCode: '705000',
          taxCode: 'TAX_HIGH',
          productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
          subscriptionCode: contracts[0]!.code,
          amountWithoutTax: '14.88',
          amountTax: '3.12',
          amountWithTax: '18.00',
        },
        {
          ...line,
          description: 'Compensació a zero',
          accountingCode: '708000',
          taxCode: 'TAX_HIGH',
          productCode: 'CH_SC_OSO_COMPENSATION',
          subscriptionCode: contracts[1]!.code,
          amountWithoutTax: '0.00',
          amountTax: '0.00',
          amountWithTax: '0.00',
        },
        {
          ...line,
          description: 'Targeta SIM',
          accountingCode: '700000',
          taxCode: 'TAX_HIGH',
          productCode: 'CH_SC_OSO_SIM',
          subscriptionCode: contracts[1]!.code,
          amountWithoutTax: '2.07',
          amountTax: '0.44',
          amountWithTax: '2.51',
        },
      ],
      ...over,
    };
  }

  async function moves(refs: string[]) {
    return (
      await odooDb().query(
        `SELECT id, ref, move_type, state, journal_id, partner_id, contract_group_id, payment_mode_id, mandate_id,
                billing_run_id, emails, to_char(invoice_date, 'YYYY-MM-DD') AS invoice_date, amount_untaxed, amount_total
           FROM account_move WHERE ref = ANY($1::text[]) ORDER BY id`,
        [refs],
      )
    ).rows;
  }

  async function rejectionOf(p: Promise<unknown>): Promise<SyncError> {
    try {
      await p;
    } catch (e) {
      expect(e).to.be.instanceOf(SyncError);
      return e as SyncError;
    }
    throw new Error('expected an error');
  }

  before(async () => {
    const db = odooDb();
    await ensureCatalog(db);
    journalId = (
      await db.query(
        `SELECT res_id FROM ir_model_data WHERE module = 'invoice_somconnexio' AND name = 'customer_services_invoices_journal'`,
      )
    ).rows[0].res_id;
    const partner = await insertPartner(db, {
      ref: `LP${sfx}`,
      firstname: 'Loader',
      lastname: `Parity ${sfx}`,
      email: `lp-${sfx}@example.org`,
    });
    partnerId = partner.id;
    const g = await insertContractGroup(db, partner.id, `LP${sfx}_0`);
    group = { id: g.id, code: `LP${sfx}_0` };
    // Created first (lowest id) but second in OCA's order `code, name`: contract_ids[0] is the "A…" one.
    for (const [code, paymentMode] of [
      [`Z-LP${sfx}`, 1],
      [`A-LP${sfx}`, 2],
    ] as const) {
      const c = await insertContract(db, {
        partnerId: partner.id,
        kind: 'mobile',
        contractGroupId: g.id,
        code,
        overrides: { payment_mode_id: paymentMode },
      });
      contracts.push({ id: c.id, code: c.code });
    }
    odoo = await startOdooSandbox({
      port: 0,
      databaseUrl: ODOO_DATABASE_URL,
      users: { 'billing-bot': PASSWORD },
    });
    client = new OdooClient({ url: odoo.url, db: odoo.db, user: 'billing-bot', password: PASSWORD });
  });

  afterEach(() => odoo?.faults.clear());

  after(async () => {
    client?.close();
    await odoo?.close();
    await stateDb().query('DELETE FROM processed_event WHERE consumer = $1', [consumer]);
  });

  it('loads like the original: journal by XML id, group partner, billing_run_id, payment mode of contract_ids[0] (OCA order code, name), draft out_invoice, zero line dropped, lines linked', async () => {
    const ev = invoice();
    const r = await loader().load(ev);
    expect(r.outcome).to.equal('created');
    const [m] = await moves([ev.invoiceNumber]);
    expect(m).to.include({
      move_type: 'out_invoice',
      state: 'draft',
      journal_id: journalId,
      partner_id: partnerId,
      contract_group_id: group.id,
      billing_run_id: '4711',
      invoice_date: '2031-01-31',
      // contract_ids[0] = A-… (code order), not the lowest id Z-…
      payment_mode_id: 2,
    });
    expect(Number(m.amount_untaxed)).to.equal(16.95);
    const links = (
      await odooDb().query(
        `SELECT p.default_code AS product, x.contract_id FROM account_move_line l
           JOIN product_product p ON p.id = l.product_id
           JOIN contract_account_invoice_line_relation x ON x.account_invoice_line_id = l.id
          WHERE l.move_id = $1 AND l.display_type = 'product' ORDER BY l.id`,
        [m.id],
      )
    ).rows;
    expect(links).to.deep.equal([
      { product: 'SE_SC_REC_MOBILE_T_UNL_20480', contract_id: contracts[0]!.id },
      { product: 'CH_SC_OSO_SIM', contract_id: contracts[1]!.id },
    ]);
  });

  it('the Odoo sandbox reads contract_group.contract_ids as Odoo does: OCA contract order (code, name), archived contracts left out', async () => {
    const archived = await insertContract(odooDb(), {
      partnerId,
      kind: 'mobile',
      contractGroupId: group.id,
      code: `0-LP${sfx}`,
      overrides: { active: false },
    });
    try {
      const [g] = await client.read('contract.group', [group.id], ['contract_ids']);
      expect(g!.contract_ids).to.deep.equal([contracts[1]!.id, contracts[0]!.id]); // A-…, Z-…
    } finally {
      await odooDb().query('UPDATE contract_contract SET contract_group_id = NULL WHERE id = $1', [
        archived.id,
      ]);
    }
  });

  it('a replay of the same invoice is a no-op (processed_event, then its ref); another invoice on the same (invoice_date, group, journal) is rejected naming the move (the original duplicate guard)', async () => {
    const ev = invoice({ invoiceDate: '2031-02-28' });
    const l = loader();
    expect((await l.load(ev)).outcome).to.equal('created');
    expect((await l.load(ev)).outcome).to.equal('already_processed');
    await stateDb().query('DELETE FROM processed_event WHERE consumer = $1 AND event_id = $2', [
      consumer,
      ev.eventId,
    ]);
    expect((await l.load(ev)).outcome).to.equal('existing');
    const [first] = await moves([ev.invoiceNumber]);

    const other = invoice({ invoiceDate: '2031-02-28' });
    const e = await rejectionOf(l.load(other));
    expect(e).to.be.instanceOf(ProjectionRejectedError);
    expect(e.retriable).to.equal(false);
    expect(e.message)
      .to.include(`duplicated invoice for contract group "${group.code}" and date 2031-02-28`)
      .and.include(`account.move ${first.id} (ref "${ev.invoiceNumber}")`);
    expect(await moves([ev.invoiceNumber, other.invoiceNumber])).to.have.length(1);
  });

  it('an OpenCell credit note (type ADJ, or a negative total) becomes a draft out_refund with positive amounts', async () => {
    const adj = invoice({ invoiceDate: '2031-03-31', invoiceType: 'ADJ' });
    expect((await loader().load(adj)).outcome).to.equal('created');
    const neg = invoice({ invoiceDate: '2031-04-30' });
    neg.amountWithoutTax = '-2.07';
    neg.amountTax = '-0.44';
    neg.amountWithTax = '-2.51';
    neg.lines = [{ ...neg.lines[2]!, amountWithoutTax: '-2.07', amountTax: '-0.44', amountWithTax: '-2.51' }];
    expect((await loader().load(neg)).outcome).to.equal('created');
    const ms = await moves([adj.invoiceNumber, neg.invoiceNumber]);
    expect(ms.map((m) => [m.ref, m.move_type, m.state, Number(m.amount_untaxed)])).to.deep.equal([
      [adj.invoiceNumber, 'out_refund', 'draft', 16.95],
      [neg.invoiceNumber, 'out_refund', 'draft', 2.07],
    ]);
  });

  it('a line without product, a line without tax and an unknown account code reject the invoice naming each; nothing is created', async () => {
    const ev = invoice({ invoiceDate: '2031-05-31' });
    ev.lines = [
      { ...ev.lines[0]!, productCode: null },
      { ...ev.lines[2]!, taxCode: null },
      { ...ev.lines[2]!, description: 'Compte', accountingCode: '799999' },
    ];
    const e = await rejectionOf(loader().load(ev));
    expect(e.code).to.equal('PROJECTION_REJECTED');
    expect(e.message)
      .to.include('line 1 "Tarifa mòbil" has no product')
      .and.include('line 2 "Targeta SIM" has no tax')
      .and.include('unknown account code "799999"');
    expect(await moves([ev.invoiceNumber])).to.have.length(0);
  });

  it('a create applied then timed out is found by its ref on retry, not created twice; a create with no answer is not sent again before the request limit', async () => {
    const timed = new OdooClient(
      { url: odoo.url, db: odoo.db, user: 'billing-bot', password: PASSWORD },
      { timeoutMs: 400 },
    );
    try {
      // 1. applied (committed), then the answer never comes
      const applied = odoo.faults.add({
        kind: 'applyThenTimeout',
        method: 'create',
        model: '^account\\.move$',
        count: 1,
      });
      const ev = invoice({ invoiceDate: '2031-06-30' });
      const l = loader({ odoo: timed, odooRequestLimitMs: 60_000 });
      const lost = await rejectionOf(l.load(ev));
      expect(lost.retriable).to.equal(true);
      expect(odoo.faults.list().find((f) => f.id === applied.id)).to.equal(undefined); // spent: it fired
      expect(await moves([ev.invoiceNumber])).to.have.length(1); // Odoo applied it
      const again: LoadOutcome = await l.load(ev);
      expect(again.outcome).to.equal('existing');
      expect(await moves([ev.invoiceNumber])).to.have.length(1);

      // 2. never applied, no answer: while the request could still commit, the create is not sent again
      odoo.faults.add({ kind: 'timeout', method: 'create', model: '^account\\.move$', count: 1 });
      const ev2 = invoice({ invoiceDate: '2031-07-31' });
      await rejectionOf(l.load(ev2));
      const wait = await rejectionOf(l.load(ev2));
      expect(wait.code).to.equal('PRECONDITION_PENDING');
      expect(wait.retriable).to.equal(true);
      expect(wait.message).to.include('not sent again before');
      expect(await moves([ev2.invoiceNumber])).to.have.length(0);
      // past the limit (here 0 ms) the lookup still finds nothing: created once
      expect((await loader({ odoo: timed, odooRequestLimitMs: 0 }).load(ev2)).outcome).to.equal('created');
      expect(await moves([ev2.invoiceNumber])).to.have.length(1);
    } finally {
      timed.close();
    }
  });

  /** The client, recording each call as "model.method" (and the number of vals of a create) before it is sent. */
  function recording(
    inner: OdooRpc,
    calls: string[],
    beforeCreate?: (model: string, vals: Array<Record<string, unknown>>) => Promise<void>,
  ): OdooRpc {
    return {
      search: (model, ...a) => (calls.push(`${model}.search`), inner.search(model, ...a)),
      searchRead: (model, ...a) => (calls.push(`${model}.search_read`), inner.searchRead(model, ...a)),
      read: (model, ...a) => (calls.push(`${model}.read`), inner.read(model, ...a)),
      create: (model, vals, opts) => (calls.push(`${model}.create(1)`), inner.create(model, vals, opts)),
      createMany: async (model, vals, opts) => {
        calls.push(`${model}.create(${vals.length})`);
        await beforeCreate?.(model, vals);
        return inner.createMany(model, vals, opts);
      },
    };
  }

  const processed = async (eventId: string) =>
    (
      await stateDb().query('SELECT result FROM processed_event WHERE consumer = $1 AND event_id = $2', [
        consumer,
        eventId,
      ])
    ).rows;

  it('a batch of invoices is one account.move create; an invoice Odoo refuses fails alone, the others are created once', async () => {
    const evs = ['2032-01-31', '2032-02-29', '2032-03-31', '2032-04-30'].map((d) =>
      invoice({ invoiceDate: d }),
    );
    const bad = evs[2]!;
    const calls: string[] = [];
    const l = loader({
      odoo: recording(client, calls, async (model, vals) => {
        if (model === 'account.move' && vals.some((v) => v.ref === bad.invoiceNumber))
          throw new OdooRpcError(
            'odoo.exceptions.ValidationError',
            'refused by a constraint',
            'create',
            false,
          );
      }),
      lingerMs: 50,
    });
    const outcomes = await Promise.allSettled(evs.map((e) => l.load(e)));
    expect(calls.filter((c) => c.startsWith('account.move.create'))).to.deep.equal([
      'account.move.create(4)', // the batch: refused as a whole (one Odoo transaction)
      'account.move.create(1)',
      'account.move.create(1)',
      'account.move.create(1)',
      'account.move.create(1)',
    ]);
    const failed = outcomes[2]!;
    expect(failed.status).to.equal('rejected');
    expect(((failed as PromiseRejectedResult).reason as SyncError).code).to.equal('ODOO_BUSINESS');
    for (const i of [0, 1, 3]) {
      expect(outcomes[i]!.status).to.equal('fulfilled');
      expect((outcomes[i] as PromiseFulfilledResult<LoadOutcome>).value.outcome).to.equal('created');
    }
    const rows = await moves(evs.map((e) => e.invoiceNumber));
    expect(rows.map((r) => r.ref)).to.have.members([0, 1, 3].map((i) => evs[i]!.invoiceNumber));
    expect(await processed(bad.eventId)).to.deep.equal([]); // no pending mark left: the refusal was answered

    // a second batch of new invoices: lookups, guard, creates and links for the whole batch in one call each
    calls.length = 0;
    const more = ['2032-05-31', '2032-06-30', '2032-07-31'].map((d) => invoice({ invoiceDate: d }));
    const r = await Promise.all(more.map((e) => l.load(e)));
    expect(r.map((x) => x.outcome)).to.deep.equal(['created', 'created', 'created']);
    expect(calls.filter((c) => c.startsWith('account.move.create'))).to.deep.equal([
      'account.move.create(3)',
    ]);
    expect(calls.filter((c) => c.startsWith('contract.account.invoice.line.relation.create'))).to.have.length(
      1,
    );
    expect(calls.filter((c) => c === 'account.move.search_read')).to.have.length(2); // by ref, duplicate guard
    expect(await moves(more.map((e) => e.invoiceNumber))).to.have.length(3);
  });

  it('a stale loader (its partition taken by another instance) is refused before its create, and after a create it had sent it records nothing; the owner loads each invoice once (fencing, issue 15 §2)', async () => {
    const topic = `test.invoice-events-${sfx}`;
    const fenceGroup = `test-invoice-loader-fence-${sfx}`;
    const zombie = new PgPartitionFence(stateDb(), fenceGroup, 'zombie');
    const owner = new PgPartitionFence(stateDb(), fenceGroup, 'owner');
    zombie.assigned({ [topic]: [0] });
    const stale = await zombie.token(topic, 0);
    owner.assigned({ [topic]: [0] });
    const current = await owner.token(topic, 0);
    expect(BigInt(current.epoch) > BigInt(stale.epoch)).to.equal(true);

    // 1. the partition moved before the stale loader's create: it did its work up to the create, which is refused
    const ev = invoice({ invoiceDate: '2032-08-31' });
    const zombieCalls: string[] = [];
    const e = await rejectionOf(loader({ odoo: recording(client, zombieCalls) }).load(ev, stale));
    expect(e).to.be.instanceOf(FencedError);
    expect(zombieCalls).to.include('account.move.search_read'); // it really tried: lookups and duplicate guard done
    expect(zombieCalls).to.include('contract.group.search_read');
    expect(zombieCalls.filter((c) => c.includes('.create('))).to.deep.equal([]);
    expect(await moves([ev.invoiceNumber])).to.have.length(0);
    expect(await processed(ev.eventId)).to.deep.equal([]);
    const byOwner = await loader().load(ev, current);
    expect(byOwner.outcome).to.equal('created');
    expect(await moves([ev.invoiceNumber])).to.have.length(1);

    // 2. the partition moves while the stale loader's create is in flight: the move is created (Odoo applied it), its
    // next write (links, outcome) is refused, and the owner finds the move by its ref instead of creating it again
    const zombie2 = new PgPartitionFence(stateDb(), fenceGroup, 'zombie-2');
    zombie2.assigned({ [topic]: [1] });
    const stale2 = await zombie2.token(topic, 1);
    let owner2Token: Awaited<ReturnType<PgPartitionFence['token']>> | undefined;
    const ev2 = invoice({ invoiceDate: '2032-09-30' });
    const calls2: string[] = [];
    const l2 = loader({
      odoo: recording(client, calls2, async (model) => {
        if (model !== 'account.move' || owner2Token) return;
        owner.assigned({ [topic]: [1] });
        owner2Token = await owner.token(topic, 1);
      }),
    });
    const e2 = await rejectionOf(l2.load(ev2, stale2));
    expect(owner2Token, 'the partition was taken during the create').to.not.equal(undefined);
    expect(calls2).to.include('account.move.create(1)'); // the stale loader really sent its create
    expect(e2).to.be.instanceOf(FencedError);
    expect(await moves([ev2.invoiceNumber])).to.have.length(1);
    expect((await processed(ev2.eventId))[0]?.result?.pending).to.equal(true); // no outcome recorded by the zombie
    const again = await loader().load(ev2, owner2Token);
    expect(again.outcome).to.equal('existing');
    expect(await moves([ev2.invoiceNumber])).to.have.length(1);
  });

  it('a batch create applied then timed out: every invoice of the batch is read back by its ref and none created twice; a batch that timed out unapplied is sent again only after the request limit', async () => {
    const timed = new OdooClient(
      { url: odoo.url, db: odoo.db, user: 'billing-bot', password: PASSWORD },
      { timeoutMs: 400 },
    );
    try {
      const applied = odoo.faults.add({
        kind: 'applyThenTimeout',
        method: 'create',
        model: '^account\\.move$',
        count: 1,
      });
      const evs = ['2033-01-31', '2033-02-28', '2033-03-31'].map((d) => invoice({ invoiceDate: d }));
      const calls: string[] = [];
      const l = loader({ odoo: recording(timed, calls), odooRequestLimitMs: 60_000, lingerMs: 50 });
      const lost = await Promise.allSettled(evs.map((e) => l.load(e)));
      expect(calls.filter((c) => c.startsWith('account.move.create'))).to.deep.equal([
        'account.move.create(3)',
      ]);
      expect(odoo.faults.list().find((f) => f.id === applied.id)).to.equal(undefined); // spent: it fired
      for (const r of lost) {
        expect(r.status).to.equal('rejected');
        expect(((r as PromiseRejectedResult).reason as SyncError).retriable).to.equal(true);
      }
      expect(await moves(evs.map((e) => e.invoiceNumber))).to.have.length(3); // Odoo applied the whole list
      calls.length = 0;
      const again = await Promise.all(evs.map((e) => l.load(e)));
      expect(again.map((r) => r.outcome)).to.deep.equal(['existing', 'existing', 'existing']);
      expect(calls.filter((c) => c.startsWith('account.move.create'))).to.deep.equal([]);
      expect(await moves(evs.map((e) => e.invoiceNumber))).to.have.length(3);

      // never applied, no answer: within the request limit none of the batch is sent again; past it, created once
      odoo.faults.add({ kind: 'timeout', method: 'create', model: '^account\\.move$', count: 1 });
      const evs2 = ['2033-04-30', '2033-05-31'].map((d) => invoice({ invoiceDate: d }));
      await Promise.allSettled(evs2.map((e) => l.load(e)));
      const waits = await Promise.allSettled(evs2.map((e) => l.load(e)));
      for (const w of waits)
        expect(((w as PromiseRejectedResult).reason as SyncError).code).to.equal('PRECONDITION_PENDING');
      expect(await moves(evs2.map((e) => e.invoiceNumber))).to.have.length(0);
      const past = loader({ odoo: timed, odooRequestLimitMs: 0, lingerMs: 50 });
      const created = await Promise.all(evs2.map((e) => past.load(e)));
      expect(created.map((r) => r.outcome)).to.deep.equal(['created', 'created']);
      expect(await moves(evs2.map((e) => e.invoiceNumber))).to.have.length(2);
    } finally {
      timed.close();
    }
  });
});
