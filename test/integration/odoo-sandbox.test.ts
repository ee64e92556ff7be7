import { expect } from 'chai';
import fetch from 'node-fetch';
import { insertPartner } from '../../testkit/demo-seed';
import { startOdooSandbox, type OdooSandbox } from '../../testkit/sandbox/odoo';
import { ODOO_DATABASE_URL, odooDb, uniqueSuffix } from './support/stack';

/** The Odoo sandbox spoken to in raw JSON-RPC: Odoo's envelopes and errors, its admin surface, sequence names. */
describe('Odoo sandbox (raw JSON-RPC, admin surface)', function () {
  this.timeout(60_000);
  const sfx = uniqueSuffix();
  const PASSWORD = `raw-${sfx}`;
  let sandbox: OdooSandbox;
  let uid: number;
  let partnerId: number;
  let rpcId = 0;

  async function rpc(
    service: string,
    method: string,
    args: unknown[],
  ): Promise<{
    result?: unknown;
    error?: { code: number; message: string; data: { name: string; message: string } };
  }> {
    const id = ++rpcId;
    const res = await fetch(sandbox.jsonrpcUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id, params: { service, method, args } }),
    });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { jsonrpc: string; id: number };
    expect(body.jsonrpc).to.equal('2.0');
    expect(body.id).to.equal(id);
    return body as never;
  }
  const kw = (model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}) =>
    rpc('object', 'execute_kw', [sandbox.db, uid, PASSWORD, model, method, args, kwargs]);
  const errName = async (p: ReturnType<typeof rpc>) => (await p).error?.data.name;

  before(async () => {
    sandbox = await startOdooSandbox({
      port: 0,
      databaseUrl: ODOO_DATABASE_URL,
      users: { 'billing-bot': PASSWORD },
    });
    uid = (await rpc('common', 'authenticate', [sandbox.db, 'billing-bot', PASSWORD, {}])).result as number;
    partnerId = (await insertPartner(odooDb(), { ref: `RS${sfx}` })).id;
  });
  after(async () => {
    await sandbox?.close();
  });

  it('common.login answers false (not an error) for bad credentials and an unknown login', async () => {
    expect(uid).to.be.a('number');
    expect((await rpc('common', 'login', [sandbox.db, 'billing-bot', 'nope'])).result).to.equal(false);
    expect((await rpc('common', 'login', [sandbox.db, `ghost-${sfx}`, PASSWORD])).result).to.equal(false);
  });

  it("answers Odoo's error envelope: code 200, 'Odoo Server Error', data.name/message/arguments/debug", async () => {
    const r = await kw('res.partner', 'read', [[2_000_000_000]]);
    expect(r.error).to.include({ code: 200, message: 'Odoo Server Error' });
    expect(r.error!.data).to.include({ name: 'odoo.exceptions.MissingError' });
    expect(r.error!.data).to.have.keys('name', 'message', 'arguments', 'debug', 'context');
    expect(await errName(rpc('nosuch', 'x', []))).to.equal('builtins.KeyError');
    expect(await errName(kw('res.partner', '_private', []))).to.equal('odoo.exceptions.AccessError');
    expect(await errName(kw('res.partner', 'frobnicate', []))).to.equal('builtins.AttributeError');
    expect(await errName(kw('res.partner', 'action_post', [[partnerId]]))).to.equal(
      'builtins.AttributeError',
    );
    expect(await errName(kw('res.partner', 'search', [[]], { bogus: 1 }))).to.equal('builtins.TypeError');
    expect(await errName(kw('account.move', 'create', [{ move_type: 'nope' }]))).to.equal(
      'builtins.ValueError',
    );
    expect(await errName(kw('account.move', 'create', [{ invoice_date: '2025-02-30' }]))).to.equal(
      'builtins.ValueError',
    );
    expect(await errName(kw('res.partner', 'search', [[['name', 'bogus-op', 1]]]))).to.equal(
      'builtins.ValueError',
    );
    expect(
      await errName(
        rpc('object', 'execute_kw', [sandbox.db, uid, 'wrong', 'res.partner', 'search', [[]], {}]),
      ),
    ).to.equal('odoo.exceptions.AccessDenied');
  });

  it('search variants: count, search_count, name_search, name_get, active_test, x2many domains', async () => {
    expect(
      (await kw('account.tax', 'search', [[['oc_code', '=', 'TAX_HIGH']]], { count: true })).result,
    ).to.equal(1);
    expect((await kw('account.tax', 'search_count', [[['oc_code', '!=', false]]])).result).to.be.at.least(5);
    const ns = (await kw('product.product', 'name_search', ['Fiber 600'])).result as Array<[number, string]>;
    expect(ns).to.deep.include([5, '[SE_SC_REC_BA_F_600] Fiber 600 Mb']);
    expect((await kw('account.journal', 'name_get', [[1]])).result).to.deep.equal([
      [1, 'Customer services invoices'],
    ]);
    // OdooBot (partner 2) is archived: hidden unless active_test is off or the domain names `active`
    expect((await kw('res.partner', 'search', [[['id', '=', 2]]])).result).to.deep.equal([]);
    expect(
      (await kw('res.partner', 'search', [[['id', '=', 2]]], { context: { active_test: false } })).result,
    ).to.deep.equal([2]);
    expect(
      (
        await kw('res.partner', 'search', [
          [
            ['id', '=', 2],
            ['active', 'in', [true, false]],
          ],
        ])
      ).result,
    ).to.deep.equal([2]);
    // translated names follow context.lang
    const [tax] = (await kw('account.tax', 'read', [[1], ['name']], { context: { lang: 'ca_ES' } }))
      .result as Array<{ name: string }>;
    expect(tax.name).to.equal('IVA 21% (serveis)');
    const withTax = (
      await kw('account.move.line', 'search_count', [[['tax_ids.oc_code', '=', `NONE-${sfx}`]]])
    ).result;
    expect(withTax).to.equal(0);
  });

  it('draft moves are named "/" with a draft display name; concurrent posts get distinct consecutive numbers', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await kw('account.move', 'create', [
        {
          move_type: 'out_invoice',
          partner_id: partnerId,
          invoice_date: '2031-03-15',
          ref: `SEQ-${sfx}-${i}`,
          invoice_line_ids: [[0, 0, { name: 'l', price_unit: 5, quantity: 1 }]],
        },
      ]);
      expect(r.error).to.equal(undefined);
      ids.push(r.result as number);
    }
    const [draft] = (await kw('account.move', 'read', [[ids[0]], ['name', 'display_name', 'state']]))
      .result as Array<Record<string, unknown>>;
    expect(draft).to.include({ name: '/', state: 'draft', display_name: `Draft Invoice (* ${ids[0]})` });
    const posted = await Promise.all(ids.map((id) => kw('account.move', 'action_post', [[id]])));
    for (const p of posted) expect(p.error).to.equal(undefined);
    expect(posted[0].result).to.equal(false);
    const rows = (
      await odooDb().query<{ sequence_number: number; name: string }>(
        `SELECT sequence_number, name FROM account_move WHERE id = ANY($1::int[]) ORDER BY sequence_number`,
        [ids],
      )
    ).rows;
    const numbers = rows.map((r) => r.sequence_number);
    expect(new Set(numbers).size).to.equal(4);
    expect(numbers[3] - numbers[0]).to.equal(3);
    expect(rows.every((r) => r.name === `SERV/2031/${String(r.sequence_number).padStart(5, '0')}`)).to.equal(
      true,
    );
  });

  it('posting needs a customer and lines (UserError)', async () => {
    const noLines = (
      await kw('account.move', 'create', [
        { move_type: 'out_invoice', partner_id: partnerId, ref: `NL-${sfx}` },
      ])
    ).result;
    expect(await errName(kw('account.move', 'action_post', [[noLines]]))).to.equal(
      'odoo.exceptions.UserError',
    );
    const noPartner = (
      await kw('account.move', 'create', [
        {
          move_type: 'out_invoice',
          ref: `NP-${sfx}`,
          invoice_line_ids: [[0, 0, { name: 'x', price_unit: 1 }]],
        },
      ])
    ).result;
    const r = await kw('account.move', 'action_post', [[noPartner]]);
    expect(r.error!.data.message).to.include("The field 'Customer' is required");
    expect((await kw('account.move', 'unlink', [[noLines, noPartner]])).result).to.equal(true);
  });

  it('admin surface: health, journal without passwords, run-time faults', async () => {
    const admin = (path: string, init?: Parameters<typeof fetch>[1]) =>
      fetch(`${sandbox.adminUrl}${path}`, init);
    const health = (await (await admin('/health')).json()) as { status: string; db: string };
    expect(health).to.include({ status: 'ok', db: sandbox.db });
    const journal = (await (await admin('/journal?model=account.move&method=action_post')).json()) as {
      entries: Array<{ model: string; method: string; args: unknown[] }>;
    };
    expect(journal.entries.length).to.be.at.least(4);
    expect(journal.entries[0]).to.include({ model: 'account.move', method: 'action_post' });
    const everything = await (await admin('/journal')).text();
    expect(everything).not.to.include(PASSWORD);
    const add = await admin('/faults', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        kind: 'rpcError',
        errorName: 'psycopg2.errors.LockNotAvailable',
        model: '^res\\.partner$',
        count: 1,
      }),
    });
    expect(add.status).to.equal(201);
    expect(await errName(kw('res.partner', 'search', [[]], { limit: 1 }))).to.equal(
      'psycopg2.errors.LockNotAvailable',
    );
    expect((await kw('res.partner', 'search', [[]], { limit: 1 })).error).to.equal(undefined);
    expect(((await (await admin('/faults')).json()) as { rules: unknown[] }).rules).to.deep.equal([]);
    const bad = await admin('/faults', { method: 'POST', body: JSON.stringify({ kind: 'explode' }) });
    expect(bad.status).to.equal(400);
  });
});
