/**
 * The pipeline reads Odoo through a read-only role (issue 16, "Security"): the role ODOO_DATABASE_URL names (by
 * default `sync_reader`, set up by src/app/pg-setup.ts) reads every view the router, the projector and the CLI use,
 * and can write nothing, even in a session that asks for a read-write transaction. `snapshot`'s role
 * (ODOO_SIGNAL_DATABASE_URL) may only read and insert signal rows.
 */
import { expect } from 'chai';
import type { Pool } from 'pg';
import { testPool } from '../support/pg';
import { OdooViews } from '../../src/adapters/postgres/odoo-views';
import { optionalOdooColumns } from '../../src/adapters/postgres/odoo-schema';
import { replicationSlots } from '../../src/adapters/postgres/replication-slots';
import { loadConfig, pgUrlCredentials } from '../../src/core/config';
import { partnersInScope } from '../../src/flows/reconcile';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import { DEBEZIUM_SLOT, odooDb, uniqueSuffix } from './support/stack';

const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

async function sqlState(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return String((e as { code?: string }).code);
  }
  return 'no error';
}

describe('the read-only Odoo role of the pipeline', function () {
  this.timeout(60_000);
  const config = loadConfig({ ...process.env }, []);
  const reader = pgUrlCredentials(config.odooDatabaseUrl);
  const signaller = pgUrlCredentials(config.odooSignalDatabaseUrl);
  let pool: Pool;
  let admin: Pool;
  before(() => {
    pool = testPool({ connectionString: config.odooDatabaseUrl, max: 2 });
    const u = new URL(ADMIN_URL);
    u.pathname = `/${new URL(config.odooDatabaseUrl).pathname.slice(1) || 'odoo'}`;
    admin = testPool({ connectionString: u.toString(), max: 1 });
  });
  after(async () => {
    await pool?.end();
    await admin?.end();
  });

  it('is the role ODOO_DATABASE_URL names: not the owner, no superuser, no replication, a password', async () => {
    expect(reader.user).to.equal('sync_reader');
    const who = await pool.query<{ u: string; ro: string }>(
      `SELECT current_user AS u, current_setting('default_transaction_read_only') AS ro`,
    );
    expect(who.rows[0]).to.deep.equal({ u: reader.user, ro: 'on' });
    const r = await admin.query(
      `SELECT rolname, rolsuper, rolreplication, rolcreatedb, rolcreaterole, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram
         FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname`,
      [[reader.user, signaller.user]],
    );
    expect(r.rows.map((x) => x.rolname)).to.deep.equal([reader.user, signaller.user].sort());
    for (const x of r.rows)
      expect(x, x.rolname).to.deep.include({
        rolsuper: false,
        rolreplication: false,
        rolcreatedb: false,
        rolcreaterole: false,
        scram: true,
      });
  });

  it('reads every view the pipeline and the CLI read', async () => {
    const s = uniqueSuffix();
    const owner = odooDb();
    const partner = await insertPartner(owner, { email: `ro${s}@example.org` });
    const mandate = await insertBankAccountAndMandate(owner, partner.id);
    const contract = await insertContract(owner, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
      lines: ['SE_SC_REC_MOBILE_T_UNL_20480'],
    });
    const views = new OdooViews(pool);
    await optionalOdooColumns(pool);
    expect((await views.partner(partner.id))?.id).to.equal(partner.id);
    const c = await views.contract(contract.id);
    expect(c?.code).to.equal(contract.code);
    expect(await views.contracts([contract.id])).to.have.length(1);
    expect(await views.contractsOfPartner(partner.id, { includeArchived: true })).to.have.length(1);
    expect(await views.contractIdsOfInfo(contract.infoTable as never, contract.infoId)).to.include(
      contract.id,
    );
    expect(await views.contractIdOfLine(contract.lineIds[0])).to.equal(contract.id);
    expect(await views.partnerIdOfContract(contract.id)).to.equal(partner.id);
    const line = await views.line(contract.lineIds[0]);
    expect(line).to.not.equal(null);
    expect([...(await views.partnersWithContracts([partner.id]))]).to.deep.equal([partner.id]);
    await views.contractsInCreation([contract.id]);
    expect((await views.technologyServiceCategories()).length).to.be.greaterThan(0);
    expect(await partnersInScope(pool, { contractCode: contract.code })).to.include(partner.id);
    // the slot health status reads (src/adapters/postgres/replication-slots.ts)
    expect((await replicationSlots(pool)).map((x) => x.slot)).to.include(DEBEZIUM_SLOT);
  });

  it('cannot write: not in its read-only sessions, not in a read-write transaction, not a table of its own', async () => {
    const before = await odooDb().query<{ n: number }>(`SELECT count(*)::int AS n FROM res_partner`);
    expect(
      await sqlState(
        pool.query(`UPDATE res_partner SET comment = 'x' WHERE id = (SELECT min(id) FROM res_partner)`),
      ),
    ).to.equal(
      '25006', // read_only_sql_transaction
    );
    const c = await pool.connect();
    try {
      await c.query('BEGIN READ WRITE');
      expect(await sqlState(c.query(`INSERT INTO res_partner (name) VALUES ('ro-test')`))).to.equal('42501');
      await c.query('ROLLBACK');
      for (const sql of [
        `UPDATE contract_contract SET name = name WHERE id = (SELECT min(id) FROM contract_contract)`,
        `DELETE FROM contract_line WHERE id = -1`,
        `INSERT INTO debezium_signal (id, type, data) VALUES ('ro-test', 'log', '{}')`,
        `TRUNCATE account_move_line`,
        `CREATE TABLE public.ro_test (id int)`,
      ]) {
        await c.query('BEGIN READ WRITE');
        expect(await sqlState(c.query(sql)), sql).to.equal('42501'); // insufficient_privilege
        await c.query('ROLLBACK');
      }
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release();
    }
    const after = await odooDb().query<{ n: number }>(`SELECT count(*)::int AS n FROM res_partner`);
    expect(after.rows[0].n).to.equal(before.rows[0].n);
  });

  it("snapshot's role may insert a signal row and nothing else", async () => {
    const r = await admin.query<{ t: string; sel: boolean; ins: boolean; upd: boolean }>(
      `SELECT t, has_table_privilege($1, t, 'SELECT') AS sel, has_table_privilege($1, t, 'INSERT') AS ins,
              has_table_privilege($1, t, 'UPDATE') AS upd
         FROM unnest(ARRAY['public.debezium_signal', 'public.res_partner', 'public.contract_line']) t`,
      [signaller.user],
    );
    expect(r.rows).to.deep.equal([
      { t: 'public.debezium_signal', sel: true, ins: true, upd: false },
      { t: 'public.res_partner', sel: false, ins: false, upd: false },
      { t: 'public.contract_line', sel: false, ins: false, upd: false },
    ]);
  });
});
