import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { insertContract, insertContractGroup, insertPartner } from '../../testkit/demo-seed';
import { BadResponseError, OdooRpcError, SyncError } from '../../src/domain/errors';
import {
  OdooClient,
  OdooLoginError,
  OdooUnavailableError,
  Records,
  cmd,
  m2oId,
  type OdooCallEvent,
} from '../../src/adapters/odoo';
import { startOdooSandbox, type OdooSandbox } from '../../testkit/sandbox/odoo';
import { ODOO_DATABASE_URL, odooDb, uniqueSuffix } from './support/stack';

/**
 * Contract tests: the production Odoo client against the Odoo JSON-RPC sandbox, which stores into the stack's
 * Odoo-shaped PostgreSQL. Every value is unique per run (other suites write the same database concurrently).
 */
describe('Odoo client ↔ Odoo sandbox (JSON-RPC on the real PostgreSQL)', function () {
  this.timeout(60_000);
  const sfx = uniqueSuffix();
  const PASSWORD = `pw-${sfx}-Xq7`;
  const users: Record<string, string> = { 'billing-bot': PASSWORD };
  let sandbox: OdooSandbox;
  let client: OdooClient;
  const events: OdooCallEvent[] = [];
  const errors: unknown[] = [];
  let partner: { id: number; ref: string | null; name: string };
  let group: { id: number; code: string };
  let contract: { id: number; code: string };

  const cfg = () => ({ url: sandbox.url, db: sandbox.db, user: 'billing-bot', password: PASSWORD });
  /** Awaits a rejection, remembers the error for the password check, and returns it. */
  async function failure(p: Promise<unknown>): Promise<SyncError> {
    try {
      await p;
    } catch (e) {
      errors.push(e);
      expect(e).to.be.instanceOf(SyncError);
      return e as SyncError;
    }
    throw new Error('expected a rejection');
  }

  before(async () => {
    sandbox = await startOdooSandbox({ port: 0, databaseUrl: ODOO_DATABASE_URL, users });
    client = new OdooClient(cfg(), { timeoutMs: 5000, observer: (e) => events.push(e) });
    const db = odooDb();
    partner = await insertPartner(db, { ref: `OT${sfx}`, firstname: 'Odoo', lastname: `Tester ${sfx}` });
    group = await insertContractGroup(db, partner.id, `${partner.ref}_0`);
    contract = await insertContract(db, { partnerId: partner.id, kind: 'fiber', contractGroupId: group.id });
  });
  afterEach(() => {
    sandbox.faults.clear();
  });
  after(async () => {
    client?.close();
    await sandbox?.close();
  });

  describe('common', () => {
    it('version() answers Odoo 16', async () => {
      const v = await client.version();
      expect(v.server_version).to.equal('16.0');
      expect(v.server_serie).to.equal('16.0');
    });

    it('login() returns and caches the uid of res_users.login', async () => {
      const r = await odooDb().query<{ id: number }>(`SELECT id FROM res_users WHERE login = 'billing-bot'`);
      const since = sandbox.journal.lastSeq;
      expect(await client.login()).to.equal(r.rows[0].id);
      expect(await client.login()).to.equal(r.rows[0].id);
      expect(sandbox.journal.entries({ since, method: 'login' })).to.have.length(1);
      expect(client.uid).to.equal(r.rows[0].id);
    });

    it('bad credentials → OdooLoginError, not retriable, without the password', async () => {
      const bad = new OdooClient({ ...cfg(), password: `${PASSWORD}-wrong` }, { timeoutMs: 5000 });
      try {
        const e = await failure(bad.login());
        expect(e).to.be.instanceOf(OdooLoginError).and.instanceOf(OdooRpcError);
        expect(e.retriable).to.equal(false);
        expect(e.message).to.include(`login failed for user "billing-bot" on database "${sandbox.db}"`);
        expect(e.message).not.to.include(PASSWORD);
        // execute_kw needs a uid: it logs in first and fails the same way
        expect(await failure(bad.search('res.partner', []))).to.be.instanceOf(OdooLoginError);
      } finally {
        bad.close();
      }
    });
  });

  describe('search / search_read / read', () => {
    it('finds a partner by ref and renders many2one as [id, name] and empty chars as false', async () => {
      const rows = await client.find(Records.Partner, [['ref', '=', partner.ref]]);
      expect(rows).to.have.length(1);
      expect(rows[0].id).to.equal(partner.id);
      expect(rows[0].commercial_partner_id).to.deep.equal([partner.id, partner.name]);
      expect(rows[0].parent_id).to.equal(false);
      expect(rows[0].active).to.equal(true);
    });

    it('supports = != in / not in, ilike / like, comparisons and | & ! prefix operators', async () => {
      const byCode = async (domain: unknown[]) =>
        (await client.find(Records.Tax, domain as never)).map((t) => t.oc_code).sort();
      expect(await byCode([['oc_code', 'in', ['TAX_HIGH', 'TAX_REDUCED']]])).to.deep.equal([
        'TAX_HIGH',
        'TAX_REDUCED',
      ]);
      expect(await byCode(['|', ['oc_code', '=', 'TAX_HIGH'], ['oc_code', '=', 'TAX_IGIC']])).to.deep.equal([
        'TAX_HIGH',
        'TAX_IGIC',
      ]);
      expect(
        await byCode([
          ['type_tax_use', '=', 'sale'],
          ['amount', '>=', 10],
        ]),
      ).to.include.members(['TAX_HIGH', 'TAX_REDUCED']);
      expect(
        await byCode([
          ['type_tax_use', '=', 'sale'],
          ['amount', '<', 5],
          ['amount', '>', 0],
        ]),
      ).to.include('TAX_SUPER_REDUCED');
      expect(
        await byCode(['&', ['oc_code', 'like', 'TAX_%RED%'], '!', ['oc_code', '=', 'TAX_REDUCED']]),
      ).to.deep.equal(['TAX_SUPER_REDUCED']);
      expect(await byCode([['oc_code', 'ilike', 'reduced']])).to.deep.equal([
        'TAX_REDUCED',
        'TAX_SUPER_REDUCED',
      ]);
      const notIn = await byCode([
        ['type_tax_use', '=', 'sale'],
        ['oc_code', 'not in', ['TAX_HIGH', 'TAX_REDUCED']],
      ]);
      expect(notIn).to.not.include('TAX_HIGH');
      expect(notIn).to.include('TAX_EXEMPT');
      const noCode = await client.find(Records.Tax, [['oc_code', '=', false]]);
      expect(noCode.every((t) => t.oc_code === false)).to.equal(true);
    });

    it('honours fields, limit, offset and order, and follows dotted paths', async () => {
      const all = await client.searchRead('account.account', [], { fields: ['code'], order: 'code desc' });
      const codes = all.map((a) => a.code as string);
      expect(codes).to.deep.equal([...codes].sort().reverse());
      const page = await client.searchRead('account.account', [], {
        fields: ['code'],
        order: 'code desc',
        offset: 1,
        limit: 2,
      });
      expect(page.map((a) => a.code)).to.deep.equal(codes.slice(1, 3));
      expect(Object.keys(page[0]).sort()).to.deep.equal(['code', 'id']);
      const viaGroup = await client.find(Records.Contract, [['contract_group_id.code', '=', group.code]]);
      expect(viaGroup.map((c) => c.id)).to.deep.equal([contract.id]);
      expect(viaGroup[0].contract_group_id).to.deep.equal([group.id, group.code]);
      const g = await client.findOne(Records.ContractGroup, [['code', '=', group.code]]);
      expect(g && m2oId(g.partner_id)).to.equal(partner.id);
      expect(await client.searchCount('contract.contract', [['partner_id.ref', '=', partner.ref]])).to.equal(
        1,
      );
      const products = await client.find(Records.Product, [['default_code', '=', 'SE_SC_REC_BA_F_600']]);
      expect(products[0].display_name).to.equal('[SE_SC_REC_BA_F_600] Fiber 600 Mb');
    });

    it('read() returns the records in the order of the ids asked for', async () => {
      const rows = await client.read('account.journal', [2, 1], ['code']);
      expect(rows.map((r) => r.id)).to.deep.equal([2, 1]);
    });
  });

  describe('account.move', () => {
    const ref = `OC-INV-${sfx}`;
    let moveId: number;

    it('create with invoice lines and taxes stores account_move, its lines and the tax relation with Odoo totals', async () => {
      const [high] = await client.search('account.tax', [['oc_code', '=', 'TAX_HIGH']]);
      const [reduced] = await client.search('account.tax', [['oc_code', '=', 'TAX_REDUCED']]);
      const [income] = await client.search('account.account', [['code', '=', '705000']]);
      const [fiber] = await client.search('product.product', [['default_code', '=', 'SE_SC_REC_BA_F_600']]);
      const [mobile] = await client.search('product.product', [
        ['default_code', '=', 'SE_SC_REC_MOBILE_T_UNL_20480'],
      ]);
      moveId = await client.create('account.move', {
        move_type: 'out_invoice',
        partner_id: partner.id,
        journal_id: 1,
        invoice_date: '2025-01-31',
        ref,
        contract_group_id: group.id,
        billing_run_id: `BR-${sfx}`,
        invoice_line_ids: [
          cmd.create({
            product_id: fiber,
            name: 'Fibra 600Mb',
            quantity: 1,
            price_unit: '29.90',
            account_id: income,
            tax_ids: [cmd.set([high])],
          }),
          cmd.create({
            product_id: mobile,
            name: 'Mòbil',
            quantity: 2,
            price_unit: 8.26,
            account_id: income,
            tax_ids: [[6, 0, [high, reduced]]],
          }),
        ],
      });
      expect(moveId).to.be.a('number');

      const db = odooDb();
      const m = (await db.query(`SELECT * FROM account_move WHERE id = $1`, [moveId])).rows[0];
      expect(m).to.include({
        name: '/',
        state: 'draft',
        move_type: 'out_invoice',
        partner_id: partner.id,
        journal_id: 1,
        ref,
      });
      expect(m.contract_group_id).to.equal(group.id);
      // 29.90 + 16.52 = 46.42 untaxed; taxes per line: 6.28 + (3.47 + 1.65) = 11.40
      expect(Number(m.amount_untaxed)).to.equal(46.42);
      expect(Number(m.amount_tax)).to.equal(11.4);
      expect(Number(m.amount_total)).to.equal(57.82);
      expect(Number(m.amount_residual)).to.equal(57.82);
      expect(Number(m.amount_total_signed)).to.equal(57.82);

      const lines = (
        await db.query(
          `SELECT id, display_type, name, price_subtotal, price_total, debit, credit, balance, account_id, tax_line_id
             FROM account_move_line WHERE move_id = $1 ORDER BY id`,
          [moveId],
        )
      ).rows;
      const product = lines.filter((l) => l.display_type === 'product');
      expect(
        product.map((l) => [
          l.name,
          Number(l.price_subtotal),
          Number(l.price_total),
          Number(l.credit),
          Number(l.debit),
        ]),
      ).to.deep.equal([
        ['Fibra 600Mb', 29.9, 36.18, 29.9, 0],
        ['Mòbil', 16.52, 21.64, 16.52, 0],
      ]);
      const taxLines = lines.filter((l) => l.display_type === 'tax');
      expect(taxLines.map((l) => [l.tax_line_id, Number(l.credit)])).to.have.deep.members([
        [high, 9.75],
        [reduced, 1.65],
      ]);
      const term = lines.filter((l) => l.display_type === 'payment_term');
      expect(term).to.have.length(1);
      expect(Number(term[0].debit)).to.equal(57.82);
      const sum = lines.reduce((s, l) => s + Number(l.balance), 0);
      expect(Math.abs(sum)).to.be.lessThan(1e-9);

      const rel = (
        await db.query(
          `SELECT account_move_line_id, account_tax_id FROM account_move_line_account_tax_rel
            WHERE account_move_line_id = ANY($1::int[]) ORDER BY 1, 2`,
          [product.map((l) => l.id)],
        )
      ).rows;
      expect(rel.map((r) => [r.account_move_line_id, r.account_tax_id])).to.deep.equal([
        [product[0].id, high],
        [product[1].id, Math.min(high, reduced)],
        [product[1].id, Math.max(high, reduced)],
      ]);

      // read back through the API, and link a line to its contract like the original module does
      const [move] = await client.read('account.move', [moveId], Records.Move.fields, Records.Move.codec);
      expect(move.invoice_line_ids).to.deep.equal(product.map((l) => l.id));
      expect(move.partner_id).to.deep.equal([partner.id, partner.name]);
      expect(move.amount_total).to.equal(57.82);
      expect(move.invoice_date).to.equal('2025-01-31');
      const relId = await client.create('contract.account.invoice.line.relation', {
        account_invoice_line_id: product[0].id,
        contract_id: contract.id,
      });
      const [link] = await client.read('contract.account.invoice.line.relation', [relId], ['contract_id']);
      expect(link.contract_id).to.deep.equal([
        contract.id,
        (await odooDb().query(`SELECT name FROM contract_contract WHERE id = $1`, [contract.id])).rows[0]
          .name,
      ]);
      const found = await client.find(Records.Move, [
        ['move_type', '=', 'out_invoice'],
        ['ref', '=', ref],
      ]);
      expect(found.map((x) => x.id)).to.deep.equal([moveId]);
    });

    it('action_post names the move from the journal sequence and posts it; posting again is a UserError', async () => {
      await client.actionPost([moveId]);
      const m = (
        await odooDb().query(
          `SELECT name, state, sequence_prefix, payment_reference FROM account_move WHERE id = $1`,
          [moveId],
        )
      ).rows[0];
      expect(m.state).to.equal('posted');
      expect(m.name).to.match(/^SERV\/2025\/\d{5}$/);
      expect(m.sequence_prefix).to.equal('SERV/2025/');
      expect(m.payment_reference).to.equal(m.name);
      const states = (
        await odooDb().query(
          `SELECT DISTINCT parent_state, move_name FROM account_move_line WHERE move_id = $1`,
          [moveId],
        )
      ).rows;
      expect(states).to.deep.equal([{ parent_state: 'posted', move_name: m.name }]);

      const e = await failure(client.actionPost([moveId]));
      expect(e).to.be.instanceOf(OdooRpcError);
      expect((e as OdooRpcError).errorName).to.equal('odoo.exceptions.UserError');
      expect(e.message).to.include(`The entry ${m.name} (id ${moveId}) is already posted.`);
      expect(e.retriable).to.equal(false);
      expect(e.code).to.equal('ODOO_BUSINESS');
    });

    it('write() updates a draft move (and is refused on the lines of a posted one)', async () => {
      const draft = await client.create('account.move', {
        move_type: 'out_invoice',
        partner_id: partner.id,
        invoice_date: '2025-02-28',
        ref: `${ref}-W`,
        invoice_line_ids: [
          cmd.create({ name: 'x', quantity: 1, price_unit: 10, account_id: 2, tax_ids: [[6, 0, [1]]] }),
        ],
      });
      const [before] = await client.read(
        'account.move',
        [draft],
        ['invoice_line_ids', 'amount_total', 'journal_id'],
      );
      expect(before.amount_total).to.equal(12.1);
      expect(before.journal_id).to.deep.equal([1, 'Customer services invoices']);
      const lineId = (before.invoice_line_ids as number[])[0];
      await client.write('account.move', [draft], {
        narration: 'n',
        invoice_line_ids: [cmd.update(lineId, { price_unit: 20 })],
      });
      const [after] = await client.read('account.move', [draft], ['amount_total', 'amount_untaxed']);
      expect(after).to.include({ amount_total: 24.2, amount_untaxed: 20 });
      const e = await failure(
        client.write('account.move', [moveId], { invoice_line_ids: [cmd.delete(lineId)] }),
      );
      expect((e as OdooRpcError).errorName).to.equal('odoo.exceptions.UserError');
    });
  });

  describe('errors', () => {
    it('a missing mandatory field or a dangling reference → ValidationError (not retriable)', async () => {
      const e1 = await failure(client.create('contract.contract', { name: `C-${sfx}`, company_id: 1 }));
      expect((e1 as OdooRpcError).errorName).to.equal('odoo.exceptions.ValidationError');
      expect(e1.message).to.include('a mandatory field is not set').and.include('partner_id');
      expect(e1.retriable).to.equal(false);
      const e2 = await failure(
        client.create('account.move', {
          move_type: 'out_invoice',
          partner_id: partner.id,
          ref: `BAD-${sfx}`,
          invoice_line_ids: [cmd.create({ name: 'x', price_unit: 1, account_id: 987654321 })],
        }),
      );
      expect((e2 as OdooRpcError).errorName).to.equal('odoo.exceptions.ValidationError');
      // the whole call is one transaction: nothing of it stays
      expect(
        (await odooDb().query(`SELECT 1 FROM account_move WHERE ref = $1`, [`BAD-${sfx}`])).rowCount,
      ).to.equal(0);
    });

    it('a wrong password on execute_kw → AccessDenied (not retriable)', async () => {
      const other = new OdooClient(cfg(), { timeoutMs: 5000 });
      try {
        await other.login();
        users['billing-bot'] = `${PASSWORD}-rotated`;
        const e = await failure(other.search('res.partner', [['id', '=', partner.id]]));
        expect((e as OdooRpcError).errorName).to.equal('odoo.exceptions.AccessDenied');
        expect(e.retriable).to.equal(false);
      } finally {
        users['billing-bot'] = PASSWORD;
        other.close();
      }
    });

    it('a record that does not exist → MissingError', async () => {
      const e = await failure(client.read('account.move', [2_000_000_000]));
      expect((e as OdooRpcError).errorName).to.equal('odoo.exceptions.MissingError');
      expect(e.message).to.include('Record does not exist or has been deleted');
      const e2 = await failure(client.write('res.partner', [2_000_000_000], { comment: 'x' }));
      expect((e2 as OdooRpcError).errorName).to.equal('odoo.exceptions.MissingError');
    });

    it('an unknown field → ValueError "Invalid field …"; an unknown model → error naming it', async () => {
      const e = await failure(client.create('account.move', { move_type: 'out_invoice', not_a_field: 1 }));
      expect((e as OdooRpcError).errorName).to.equal('builtins.ValueError');
      expect(e.message).to.include(`Invalid field 'not_a_field' on model 'account.move'`);
      const e2 = await failure(client.searchRead('res.partner', [], { fields: ['nope'] }));
      expect(e2.message).to.include(`Invalid field 'nope'`);
      const e3 = await failure(client.search('res.partner', [['nope', '=', 1]]));
      expect(e3.message).to.include('Invalid field res.partner.nope');
      const e4 = await failure(client.search('no.such.model', []));
      expect(e4.message).to.include('no.such.model');
      expect(e4.retriable).to.equal(false);
    });

    it('psycopg2 errors (serialization failure) are retriable', async () => {
      sandbox.faults.add({ kind: 'rpcError', method: 'create', model: '^account\\.move$', count: 1 });
      const e = await failure(
        client.create('account.move', { move_type: 'out_invoice', partner_id: partner.id }),
      );
      expect(e).to.be.instanceOf(OdooRpcError);
      expect((e as OdooRpcError).errorName).to.equal('psycopg2.errors.SerializationFailure');
      expect(e.retriable).to.equal(true);
      expect(e.code).to.equal('ODOO_UNAVAILABLE');
    });

    it('HTTP 5xx is a retriable ODOO_UNAVAILABLE', async () => {
      sandbox.faults.add({ kind: 'http', status: 502, count: 1 });
      const e = await failure(client.search('res.partner', [['id', '=', partner.id]]));
      expect(e).to.be.instanceOf(OdooUnavailableError);
      expect(e).to.include({ code: 'ODOO_UNAVAILABLE', retriable: true, httpStatus: 502 });
    });

    it('a timeout is retriable (and the call events report it)', async () => {
      const quick = new OdooClient(cfg(), { timeoutMs: 300, observer: (ev) => events.push(ev) });
      try {
        await quick.login();
        sandbox.faults.add({ kind: 'timeout', method: 'search_read', count: 1 });
        const e = await failure(quick.find(Records.Partner, [['id', '=', partner.id]]));
        expect(e).to.be.instanceOf(OdooUnavailableError);
        expect(e).to.include({ code: 'ODOO_UNAVAILABLE', retriable: true, timedOut: true });
        expect(e.message).to.match(/timed out after 300 ms/);
        expect(
          events.some((ev) => ev.outcome === 'timeout' && ev.endpoint === 'res.partner.search_read'),
        ).to.equal(true);
      } finally {
        quick.close();
      }
    });

    it('a refused connection is a retriable NETWORK error; a non-JSON-RPC answer is a BadResponseError', async () => {
      const srv = http.createServer();
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const port = (srv.address() as AddressInfo).port;
      await new Promise<void>((r) => srv.close(() => r()));
      const down = new OdooClient({ ...cfg(), url: `http://127.0.0.1:${port}` }, { timeoutMs: 2000 });
      const wrong = new OdooClient({ ...cfg(), url: sandbox.adminUrl }, { timeoutMs: 2000 });
      try {
        const e = await failure(down.version());
        expect(e).to.include({ code: 'NETWORK', retriable: true });
        const e2 = await failure(wrong.version());
        expect(e2).to.be.instanceOf(BadResponseError);
        expect(e2).to.include({ code: 'ODOO_BAD_RESPONSE', retriable: false });
      } finally {
        down.close();
        wrong.close();
      }
    });

    it('a fault after commit: the client sees an error, the record exists (search by ref before create)', async () => {
      const ref = `AFTER-${sfx}`;
      sandbox.faults.add({
        kind: 'http',
        status: 503,
        method: 'create',
        model: '^account\\.move$',
        phase: 'after',
        count: 1,
      });
      const e = await failure(
        client.create('account.move', { move_type: 'out_invoice', partner_id: partner.id, ref }),
      );
      expect(e.retriable).to.equal(true);
      expect(await client.search('account.move', [['ref', '=', ref]])).to.have.length(1);
    });

    it('the password is in no error, no call event and no sandbox journal entry', () => {
      expect(errors.length).to.be.greaterThan(10);
      for (const e of errors) {
        const err = e as SyncError;
        const text = [
          err.message,
          JSON.stringify(err),
          JSON.stringify(err.cause ?? null),
          String(err.stack),
        ].join('\n');
        expect(text).not.to.include(PASSWORD);
      }
      expect(JSON.stringify(events)).not.to.include(PASSWORD);
      expect(JSON.stringify(sandbox.journal.entries())).not.to.include(PASSWORD);
      expect(JSON.stringify(client)).not.to.include(PASSWORD);
    });
  });
});
