import { expect } from 'chai';
import { col } from '../../src/domain/capture/columns';
import { capturedOdooTables, specOf } from '../../src/domain/capture/tables';
import { codecProblems, loadManifest } from '../../testkit/odoo-manifest';

/**
 * The row codecs of src/domain/capture/tables.ts against the upstream field manifest (schemas/odoo/manifest.json,
 * issue 14 §1): a codec must not decode a column real Odoo lacks, nor declare non-null a column the model lets be
 * empty. The SQL side (schemas/odoo/*.sql) is checked by test/integration/odoo-manifest.test.ts.
 */
describe('Odoo field manifest: row codecs', () => {
  const { tables } = loadManifest();

  it('every captured Odoo table is in the manifest and marked captured', () => {
    for (const name of capturedOdooTables()) {
      expect(tables.get(name), name).to.not.equal(undefined);
      expect(tables.get(name)?.captured, `${name} captured`).to.equal(true);
    }
  });

  it('every codec column exists upstream, with the same type family, and is nullable where Odoo allows empty', () => {
    const problems = capturedOdooTables().flatMap((name) =>
      codecProblems(name, specOf(name).columns, tables),
    );
    expect(problems).to.deep.equal([]);
  });

  it('the ISP info codecs read no `active` column, router 4G no vodafone_id; specific_price is a float8', () => {
    for (const name of capturedOdooTables().filter((n) => n.endsWith('_service_contract_info')))
      expect(Object.keys(specOf(name).columns), name).to.not.include('active');
    expect(Object.keys(specOf('router_4g_service_contract_info').columns)).to.not.include('vodafone_id');
    expect(specOf('contract_line').columns.specific_price).to.include({ kind: 'float', nullable: true });
    for (const [table, column] of [
      ['contract_group', 'code'],
      ['contract_group', 'partner_id'],
      ['service_technology', 'name'],
      ['service_supplier', 'name'],
      ['switchboard_service_contract_info', 'phone_number'],
    ] as const)
      expect(specOf(table).columns[column].nullable, `${table}.${column}`).to.equal(true);
  });

  it('fails on a column the manifest lacks, a non-null codec for an optional column, and a wrong type', () => {
    const problems = codecProblems(
      'mobile_service_contract_info',
      { id: col.int(), phone_number: col.str(), icc: col.strN(), active: col.bool() },
      tables,
    );
    expect(problems).to.deep.equal([
      'mobile_service_contract_info.active: decoded, but the manifest (mobile.service.contract.info) has no such column',
    ]);
    expect(
      codecProblems('contract_group', { id: col.int(), code: col.str(), partner_id: col.int() }, tables),
    ).to.deep.equal([
      'contract_group.code: decoded as non-null, but contract.group lets it be empty (not required)',
      'contract_group.partner_id: decoded as non-null, but contract.group lets it be empty (not required)',
    ]);
    expect(
      codecProblems('contract_line', { id: col.int(), specific_price: col.numericN() }, tables),
    ).to.deep.equal(['contract_line.specific_price: decoded as numeric, but the column is float8 upstream']);
    expect(codecProblems('no_such_table', { id: col.int() }, tables)).to.deep.equal([
      'no_such_table: no such table in the manifest',
    ]);
  });
});
