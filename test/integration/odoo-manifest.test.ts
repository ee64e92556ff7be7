import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { defaultPgSetupOptions } from '../../src/app/pg-setup';
import { OdooViews } from '../../src/adapters/postgres/odoo-views';
import { capturedOdooTables, specOf } from '../../src/domain/capture/tables';
import {
  insertContract,
  insertPartner,
  type ContractKind,
  type FiberSupplier,
} from '../../testkit/demo-seed';
import { informationSchemaType, loadManifest, UNVERIFIED_SQL_COLUMNS } from '../../testkit/odoo-manifest';
import { ROOT, uniqueSuffix } from './support/stack';

/**
 * schemas/odoo/*.sql against the upstream field manifest (schemas/odoo/manifest.json, issue 14 §1), on a scratch
 * database of its own (`odoo_manifest_<suffix>`, dropped afterwards): the shared `odoo` database is never touched.
 * Every manifest table (each captured one, and the ones the code reads or writes) has every manifest column, with the
 * manifest's type and NOT NULL exactly where the model requires a value; a captured table has no column the
 * manifest lacks (except the listed unverified ones); every column a row codec decodes exists. Then the demo seed writes every kind of contract into it as Odoo would, and the views read
 * them, also once the addon-only columns (block_contract_creation_in_OC, the switchboard link) are dropped.
 */
describe('Odoo schema (schemas/odoo/*.sql) against the field manifest, on a scratch database', function () {
  this.timeout(60_000);
  const { adminUrl } = defaultPgSetupOptions();
  const dbName = `odoo_manifest_${uniqueSuffix()}`.toLowerCase();
  const { tables: manifest, unverified } = loadManifest();
  let db: Client | undefined;
  type ColumnInfo = { dataType: string; maxLength: number | null; nullable: boolean };
  const columns = new Map<string, Map<string, ColumnInfo>>();

  const urlOf = (name: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  };

  async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  before(async () => {
    await admin((c) => c.query(`CREATE DATABASE "${dbName}" ENCODING 'UTF8' TEMPLATE template0`));
    db = new Client({ connectionString: urlOf(dbName) });
    await db.connect();
    const dir = join(ROOT, 'schemas', 'odoo');
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith('.sql'))
      .sort()) {
      try {
        await db.query(readFileSync(join(dir, f), 'utf8'));
      } catch (e) {
        throw new Error(`schemas/odoo/${f}: ${(e as Error).message}`, { cause: e });
      }
    }
    const r = await db.query<{
      table_name: string;
      column_name: string;
      data_type: string;
      character_maximum_length: number | null;
      is_nullable: 'YES' | 'NO';
    }>(
      `SELECT table_name, column_name, data_type, character_maximum_length, is_nullable
         FROM information_schema.columns WHERE table_schema = 'public'`,
    );
    for (const row of r.rows) {
      if (!columns.has(row.table_name)) columns.set(row.table_name, new Map());
      columns.get(row.table_name)!.set(row.column_name, {
        dataType: row.data_type,
        maxLength: row.character_maximum_length,
        nullable: row.is_nullable === 'YES',
      });
    }
  });

  after(async () => {
    await db?.end().catch(() => undefined);
    await admin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
  });

  it('every manifest table (captured or read): its columns with their upstream type and nullability', () => {
    const problems: string[] = [];
    for (const table of new Set([...capturedOdooTables(), ...manifest.keys()])) {
      const m = manifest.get(table);
      const sql = columns.get(table);
      if (!m || !sql) {
        problems.push(`${table}: ${m ? 'no such table in schemas/odoo' : 'not in the manifest'}`);
        continue;
      }
      for (const [name, mc] of Object.entries(m.columns)) {
        const have = sql.get(name);
        if (!have) {
          problems.push(`${table}.${name}: in the manifest (${mc.type}), missing from schemas/odoo`);
          continue;
        }
        const want = informationSchemaType(mc.type);
        if (have.dataType !== want.dataType || have.maxLength !== want.maxLength)
          problems.push(
            `${table}.${name}: ${have.dataType}${have.maxLength === null ? '' : `(${have.maxLength})`}, upstream ${mc.type}`,
          );
        if (have.nullable === mc.required)
          problems.push(
            `${table}.${name}: ${have.nullable ? 'nullable' : 'NOT NULL'}, upstream ${mc.required ? 'required' : 'not required'}`,
          );
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it('no column of a captured table that upstream lacks (the unverified ones are named in the manifest)', () => {
    const problems: string[] = [];
    for (const table of capturedOdooTables()) {
      const m = manifest.get(table);
      for (const name of columns.get(table)?.keys() ?? []) {
        if (m?.columns[name]) continue;
        if (UNVERIFIED_SQL_COLUMNS[table]?.includes(name)) continue;
        problems.push(`${table}.${name}: in schemas/odoo, not in the manifest`);
      }
    }
    expect(problems).to.deep.equal([]);
    const text = unverified.map((u) => `${u.item} ${u.reason}`).join('\n');
    for (const [table, names] of Object.entries(UNVERIFIED_SQL_COLUMNS))
      for (const name of names) {
        expect(columns.get(table)?.has(name), `${table}.${name} still in schemas/odoo`).to.equal(true);
        expect(text, `${table}.${name} listed as unverified`).to.contain(name);
      }
  });

  it('every column a row codec decodes exists, with NOT NULL only where the codec is non-null', () => {
    const problems: string[] = [];
    for (const table of capturedOdooTables())
      for (const [name, c] of Object.entries(specOf(table).columns)) {
        const have = columns.get(table)?.get(name);
        if (!have) problems.push(`${table}.${name}: decoded, missing from schemas/odoo`);
        else if (have.nullable && !c.nullable)
          problems.push(`${table}.${name}: nullable in schemas/odoo, decoded as non-null`);
      }
    expect(problems).to.deep.equal([]);
  });

  it('the real shape of the ISP info tables: no active, router 4G without vodafone_id, "-" defaults', async () => {
    for (const table of capturedOdooTables().filter((t) => t.endsWith('_service_contract_info')))
      expect(columns.get(table)?.has('active'), `${table}.active`).to.equal(false);
    expect(columns.get('router_4g_service_contract_info')?.has('vodafone_id')).to.equal(false);
    const defaults = await db!.query<{ table_name: string; d: string | null }>(
      `SELECT table_name, column_default AS d FROM information_schema.columns
        WHERE table_schema = 'public' AND column_name = 'phone_number' AND table_name LIKE '%_service_contract_info'`,
    );
    const dash = defaults.rows.filter((r) => /^'-'/.test(r.d ?? '')).map((r) => r.table_name);
    expect(dash.sort()).to.deep.equal([
      'adsl_service_contract_info',
      'orange_fiber_service_contract_info',
      'router_4g_service_contract_info',
    ]);
  });

  it('the demo seed writes every contract kind as Odoo does; the views read them, "-" as it is and a blank number as none', async () => {
    const holder = await insertPartner(db!, {});
    const type = await db!.query<{ type: string }>('SELECT type FROM res_partner WHERE id = $1', [holder.id]);
    expect(type.rows[0].type).to.equal('representative');
    const kinds: [ContractKind, FiberSupplier?][] = [
      ['mobile'],
      ['fiber', 'vodafone'],
      ['fiber', 'masmovil'],
      ['fiber', 'orange'],
      ['fiber', 'xoln'],
      ['adsl'],
      ['4G'],
    ];
    const views = new OdooViews(db!);
    for (const [kind, supplier] of kinds) {
      const c = await insertContract(db!, { partnerId: holder.id, kind, supplier });
      const v = await views.contract(c.id);
      expect(v?.ispInfo, `${kind} ${supplier ?? ''}`).to.deep.equal({
        table: c.infoTable,
        id: c.infoId,
        phoneNumber: c.phoneNumber,
      });
      expect(v?.phoneNumber).to.equal(c.phoneNumber);
    }
    const blank = await insertContract(db!, { partnerId: holder.id, kind: 'mobile', phoneNumber: '  ' });
    const b = await views.contract(blank.id);
    expect([b?.phoneNumber, b?.ispInfo?.phoneNumber]).to.deep.equal([null, null]);
  });

  it('switchboard info is read; without block_contract_creation_in_OC and the switchboard link the views still work', async () => {
    const holder = await insertPartner(db!, { overrides: { block_contract_creation_in_OC: true } });
    const sb = await db!.query<{ id: number }>(
      `INSERT INTO switchboard_service_contract_info (phone_number, extension) VALUES ('-', '101') RETURNING id`,
    );
    const c = await insertContract(db!, {
      partnerId: holder.id,
      kind: 'mobile',
      phoneNumber: '-',
      overrides: {
        switchboard_service_contract_info_id: sb.rows[0].id,
        mobile_contract_service_info_id: null,
      },
    });
    const before = await new OdooViews(db!).contract(c.id);
    expect(before?.ispInfo).to.deep.equal({
      table: 'switchboard_service_contract_info',
      id: sb.rows[0].id,
      phoneNumber: '-',
    });
    expect(before?.partner?.blockContractCreationInOC).to.equal(true);

    await db!.query('ALTER TABLE res_partner DROP COLUMN "block_contract_creation_in_OC"');
    await db!.query('ALTER TABLE contract_contract DROP COLUMN switchboard_service_contract_info_id');
    // A new handle: the optional columns are asked once per handle and cached.
    const other = new Client({ connectionString: urlOf(dbName) });
    await other.connect();
    try {
      const after = await new OdooViews(other).contract(c.id);
      expect(after?.partner?.blockContractCreationInOC).to.equal(false);
      expect(after?.ispInfo).to.equal(null);
      expect(await new OdooViews(other).partner(holder.id)).to.include({ blockContractCreationInOC: false });
    } finally {
      await other.end();
    }
  });
});
