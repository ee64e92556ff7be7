import { expect } from 'chai';
import { anyChanged, changedBillingFields } from '../../src/domain/capture/diff';
import { decodeChange } from '../../src/domain/capture/envelope';
import { TABLES } from '../../src/domain/capture/tables';
import { sampleRow } from '../../testkit/capture';

describe('capture: changedBillingFields', () => {
  const partner = sampleRow('res_partner', {
    id: 812,
    name: 'Anna Puig',
    street: 'C/ Major 1',
    zip: '08001',
    city: 'Barcelona',
    active: true,
  });

  it('reports exactly the billing columns that changed', () => {
    const after = { ...partner, street: 'C/ Nova 7', zip: '08002' };
    expect(changedBillingFields('res_partner', partner, after)).to.deep.equal(['street', 'zip']);
    expect(
      anyChanged('res_partner', partner, after, [
        'street',
        'street2',
        'zip',
        'city',
        'state_id',
        'country_id',
      ]),
    ).to.equal(true);
    expect(anyChanged('res_partner', partner, after, ['name', 'email'])).to.equal(false);
  });

  it('ignores write_date / write_uid / display_name churn', () => {
    const b = {
      ...partner,
      write_date: '2025-01-01T00:00:00.000000Z',
      write_uid: 2,
      display_name: 'Anna Puig',
    };
    const a = {
      ...partner,
      write_date: '2025-01-01T00:05:00.000000Z',
      write_uid: 3,
      display_name: 'Puig, Anna',
    };
    expect(changedBillingFields('res_partner', b, a)).to.deep.equal([]);
  });

  it('ignores the same churn on a raw Debezium update decoded end to end', () => {
    const raw = { ...partner, write_date: 1735689600000000, display_name: 'Anna Puig' };
    const env = {
      op: 'u',
      ts_ms: 2,
      source: {
        version: '3.6.1.Final',
        connector: 'postgresql',
        name: 'odoo',
        ts_ms: 1,
        snapshot: 'false',
        db: 'odoo',
        schema: 'public',
        table: 'res_partner',
        txId: 1,
        lsn: 1,
      },
      before: raw,
      after: { ...raw, write_date: 1735693200000000 },
    };
    const ch = decodeChange(
      'odoo.public.res_partner',
      0,
      '0',
      Buffer.from('{"id":812}'),
      Buffer.from(JSON.stringify(env)),
    );
    if (ch.kind !== 'row') throw new Error('row expected');
    expect(changedBillingFields('res_partner', ch.before, ch.after)).to.deep.equal([]);
  });

  it('compares decimals exactly and numerically, translations key by key', () => {
    const t = sampleRow('product_template', {
      id: 5,
      list_price: '28.93',
      name: { en_US: 'Fiber', ca_ES: 'Fibra' },
    });
    expect(changedBillingFields('product_template', t, { ...t, list_price: '28.930' })).to.deep.equal([]);
    expect(changedBillingFields('product_template', t, { ...t, list_price: '28.9300001' })).to.deep.equal([
      'list_price',
    ]);
    expect(
      changedBillingFields('product_template', t, { ...t, name: { ca_ES: 'Fibra', en_US: 'Fiber' } }),
    ).to.deep.equal([]);
    expect(
      changedBillingFields('product_template', t, { ...t, name: { en_US: 'Fiber', ca_ES: 'Fibra òptica' } }),
    ).to.deep.equal(['name']);
  });

  it('treats null → value and value → null as changes (date_end set on a line, mandate change)', () => {
    const line = sampleRow('contract_line', { id: 9, date_end: null });
    expect(changedBillingFields('contract_line', line, { ...line, date_end: '2025-03-31' })).to.deep.equal([
      'date_end',
    ]);
    const c = sampleRow('contract_contract', { id: 3, mandate_id: 1, is_terminated: false });
    expect(
      changedBillingFields('contract_contract', c, { ...c, mandate_id: 2, is_terminated: true }),
    ).to.deep.equal(['is_terminated', 'mandate_id']);
  });

  it('never reports key columns; reports all billing columns when a side is missing', () => {
    expect(changedBillingFields('res_partner', partner, { ...partner, id: 813 })).to.deep.equal([]);
    expect(changedBillingFields('res_partner', null, partner)).to.deep.equal([...TABLES.res_partner.billing]);
    expect(
      changedBillingFields(
        'contract_contract_res_partner_rel',
        { contract_contract_id: 1, res_partner_id: 2 },
        null,
      ),
    ).to.deep.equal([]);
  });

  it('the registry never captures write_date, write_uid or display_name', () => {
    for (const [name, spec] of Object.entries(TABLES)) {
      for (const banned of ['write_date', 'write_uid', 'display_name', 'create_uid']) {
        expect(Object.keys(spec.columns), `${name}.${banned}`).to.not.include(banned);
      }
    }
  });
});
