import { expect } from 'chai';
import { MalformedEventError } from '../../src/domain/errors';
import { decodeChange, DecodedChange, isRowChangeOf } from '../../src/domain/capture/envelope';
import { changeRecord, envelope, sampleRow } from '../../testkit/capture';
import { TABLE_NAMES } from '../../src/domain/capture/tables';

const TOPIC = 'odoo.public.res_partner';

/** A res_partner update exactly as Debezium writes it (raw JSON, schemas disabled), plus the other captured columns. */
const partnerBefore = {
  id: 812,
  name: 'Anna Puig',
  firstname: 'Anna',
  lastname: 'Puig',
  ref: '1234',
  vat: 'ES12345678Z',
  email: 'anna@example.org',
  phone: null,
  mobile: '600123456',
  street: 'C/ Major 1',
  street2: null,
  full_street: 'C/ Major 1',
  zip: '08001',
  city: 'Barcelona',
  state_id: 415,
  country_id: 68,
  lang: 'ca_ES',
  parent_id: null,
  type: 'contact',
  is_company: false,
  active: true,
  block_contract_creation_in_OC: false,
};
const partnerAfter = { ...partnerBefore, street: 'C/ Nova 7', full_street: 'C/ Nova 7', zip: '08002' };

const rawUpdate = {
  before: partnerBefore,
  after: partnerAfter,
  source: {
    version: '3.6.1.Final',
    connector: 'postgresql',
    name: 'odoo',
    ts_ms: 1735693200123,
    ts_us: 1735693200123456,
    ts_ns: 1735693200123456000,
    snapshot: 'false',
    db: 'odoo',
    sequence: '["24023119","24023128"]',
    schema: 'public',
    table: 'res_partner',
    txId: 77211,
    lsn: 24023128,
    xmin: null,
  },
  transaction: { id: '77211:24023128', total_order: 1, data_collection_order: 1 },
  op: 'u',
  ts_ms: 1735693200456,
  ts_us: 1735693200456789,
  ts_ns: 1735693200456789000,
};

const buf = (o: unknown) => Buffer.from(JSON.stringify(o));

function expectMalformed(fn: () => unknown, field: string | RegExp, reason?: RegExp): MalformedEventError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a MalformedEventError').to.be.instanceOf(MalformedEventError);
  const err = caught as MalformedEventError;
  if (typeof field === 'string') expect(err.field).to.equal(field);
  else expect(err.field).to.match(field);
  if (reason) expect(err.message).to.match(reason);
  expect(err.code).to.equal('MALFORMED_EVENT');
  expect(err.retriable).to.equal(false);
  return err;
}

describe('capture: decodeChange (Debezium envelope)', () => {
  it('decodes the §B6 partner update with before/after, source position and transaction', () => {
    const ch = decodeChange(TOPIC, 2, '4711', buf({ id: 812 }), buf(rawUpdate));
    expect(ch.kind).to.equal('row');
    if (!isRowChangeOf(ch, 'res_partner')) throw new Error('not a partner change');
    expect(ch.op).to.equal('u');
    expect(ch.table).to.equal('res_partner');
    expect(ch.key).to.deep.equal({ id: 812 });
    expect(ch.before?.street).to.equal('C/ Major 1');
    expect(ch.after?.street).to.equal('C/ Nova 7');
    expect(ch.after?.block_contract_creation_in_OC).to.equal(false);
    expect(ch.source).to.deep.equal({
      lsn: 24023128,
      txId: 77211,
      tsMs: 1735693200123,
      snapshot: 'false',
      isSnapshot: false,
      sequence: '["24023119","24023128"]',
    });
    expect(ch.transaction).to.deep.equal({ id: '77211:24023128', total_order: 1, data_collection_order: 1 });
    expect(ch.tsMs).to.equal(1735693200456);
    expect([ch.topic, ch.partition, ch.offset]).to.deep.equal([TOPIC, 2, '4711']);
  });

  it('drops columns outside the registry (write_date, display_name) from the decoded rows', () => {
    const withChurn = {
      ...rawUpdate,
      before: { ...partnerBefore, write_date: 1735689600000000, display_name: 'Anna Puig' },
      after: { ...partnerAfter, write_date: 1735693200000000, display_name: 'Anna Puig' },
    };
    const ch = decodeChange(TOPIC, 0, '1', buf({ id: 812 }), buf(withChurn));
    if (ch.kind !== 'row') throw new Error('row expected');
    expect(ch.after).to.not.have.property('write_date');
    expect(ch.after).to.not.have.property('display_name');
  });

  it('decodes op c (create) with a null before', () => {
    const r = changeRecord('res_partner', { op: 'c', after: partnerAfter, raw: true, offset: 7 });
    const ch = decodeChange(r.topic, r.partition, r.offset, r.key, r.value);
    expect(ch).to.include({ kind: 'row', op: 'c', table: 'res_partner', offset: '7' });
    if (ch.kind !== 'row') throw new Error('row expected');
    expect(ch.before).to.equal(null);
    expect(ch.after).to.deep.equal(partnerAfter);
  });

  it('decodes op r (snapshot read) with its snapshot marker', () => {
    for (const marker of [
      'first',
      'true',
      'last',
      'first_in_data_collection',
      'last_in_data_collection',
      'incremental',
    ] as const) {
      const r = changeRecord('res_partner', {
        op: 'r',
        after: partnerAfter,
        raw: true,
        snapshot: marker,
        txId: null,
        lsn: 100,
      });
      const ch = decodeChange(r.topic, r.partition, r.offset, r.key, r.value);
      if (ch.kind !== 'row') throw new Error('row expected');
      expect(ch.op).to.equal('r');
      expect(ch.source.snapshot).to.equal(marker);
      expect(ch.source.isSnapshot).to.equal(true);
      expect(ch.source.txId).to.equal(null);
    }
  });

  it('maps a legacy boolean snapshot flag onto the string enum', () => {
    const env = envelope('res_partner', { op: 'r', after: partnerAfter, raw: true });
    (env.source as Record<string, unknown>).snapshot = true;
    const ch = decodeChange(TOPIC, 0, '0', buf({ id: 812 }), buf(env));
    if (ch.kind !== 'row') throw new Error('row expected');
    expect(ch.source.snapshot).to.equal('true');
  });

  it('decodes op d (delete) with the full before-image and a null after', () => {
    const r = changeRecord('res_partner', { op: 'd', before: partnerBefore, after: null, raw: true });
    const ch = decodeChange(r.topic, r.partition, r.offset, r.key, r.value);
    if (!isRowChangeOf(ch, 'res_partner')) throw new Error('partner expected');
    expect(ch.op).to.equal('d');
    expect(ch.after).to.equal(null);
    expect(ch.before?.ref).to.equal('1234');
    expect(ch.key).to.deep.equal({ id: 812 });
  });

  it('decodes an archival (active true → false) as an update', () => {
    const r = changeRecord('res_partner', {
      op: 'u',
      before: partnerBefore,
      after: { ...partnerBefore, active: false },
      raw: true,
    });
    const ch = decodeChange(r.topic, r.partition, r.offset, r.key, r.value);
    if (!isRowChangeOf(ch, 'res_partner')) throw new Error('partner expected');
    expect(ch.before?.active).to.equal(true);
    expect(ch.after?.active).to.equal(false);
  });

  it('decodes op t (truncate) as an explicit variant with no key and no rows', () => {
    const env = envelope('contract_line', { op: 't', lsn: 999, txId: 5 });
    const ch = decodeChange('odoo.public.contract_line', 1, '9', null, buf(env));
    expect(ch).to.include({ kind: 'truncate', op: 't', table: 'contract_line', key: null });
    if (ch.kind !== 'truncate') throw new Error('truncate expected');
    expect(ch.source.lsn).to.equal(999);
  });

  it('accepts a truncate envelope that carries before/after as null', () => {
    const env = { ...envelope('contract_line', { op: 't' }), before: null, after: null };
    expect(decodeChange('odoo.public.contract_line', 0, '1', null, buf(env)).kind).to.equal('truncate');
  });

  it('decodes a tombstone (null value) as an explicit variant keeping the key', () => {
    const ch = decodeChange('odoo.public.contract_line', 0, '10', buf({ id: 55 }), null);
    expect(ch).to.deep.equal({
      kind: 'tombstone',
      table: 'contract_line',
      key: { id: 55 },
      topic: 'odoo.public.contract_line',
      partition: 0,
      offset: '10',
    });
  });

  it('decodes op m (logical decoding message)', () => {
    const env = {
      op: 'm',
      ts_ms: 1735693200999,
      source: { ...(rawUpdate.source as object), table: '', schema: '' },
      message: { prefix: 'sync', content: Buffer.from('hello').toString('base64') },
    };
    const ch: DecodedChange = decodeChange('odoo.message', 0, '3', null, buf(env));
    expect(ch).to.include({ kind: 'message', op: 'm', prefix: 'sync', table: null });
  });

  it('decodes composite keys (contract email relation)', () => {
    const row = { contract_contract_id: 10, res_partner_id: 812 };
    const r = changeRecord('contract_contract_res_partner_rel', { op: 'c', after: row });
    const ch = decodeChange(r.topic, r.partition, r.offset, r.key, r.value);
    if (!isRowChangeOf(ch, 'contract_contract_res_partner_rel')) throw new Error('rel expected');
    expect(ch.key).to.deep.equal(row);
    expect(ch.after).to.deep.equal(row);
  });

  it('round-trips decoded rows through the fixture builder for every captured table', () => {
    for (const table of TABLE_NAMES) {
      const row = sampleRow(table);
      const r = changeRecord(table, { op: 'c', after: row as Record<string, unknown> });
      const ch = decodeChange(r.topic, r.partition, r.offset, r.key, r.value);
      if (ch.kind !== 'row') throw new Error(`row expected for ${table}`);
      expect(ch.after, table).to.deep.equal(row);
    }
  });

  describe('malformed events name topic, partition, offset and field', () => {
    it('an unknown op', () => {
      const err = expectMalformed(
        () => decodeChange(TOPIC, 1, '42', buf({ id: 812 }), buf({ ...rawUpdate, op: 'x' })),
        'op',
        /expected one of c\/u\/d\/r\/t\/m/,
      );
      expect(err.topic).to.equal(TOPIC);
      expect(err.partition).to.equal(1);
      expect(err.offset).to.equal('42');
      expect(err.message).to.contain('odoo.public.res_partner[1]@42');
    });

    it('op c without after', () => {
      const env = { ...rawUpdate, op: 'c', before: null, after: null };
      expectMalformed(
        () => decodeChange(TOPIC, 0, '5', buf({ id: 812 }), buf(env)),
        'after',
        /missing on op "c"/,
      );
    });

    it('op c with a before image', () => {
      const env = { ...rawUpdate, op: 'c' };
      expectMalformed(() => decodeChange(TOPIC, 0, '5', buf({ id: 812 }), buf(env)), 'before');
    });

    it('op d without before', () => {
      const env = { ...rawUpdate, op: 'd', before: null, after: null };
      expectMalformed(
        () => decodeChange(TOPIC, 0, '5', buf({ id: 812 }), buf(env)),
        'before',
        /REPLICA IDENTITY/,
      );
    });

    it('a decimal that is not a numeric string', () => {
      const after = {
        id: 1,
        name: '{"en_US":"Fibra"}',
        default_code: 'SE_SC_REC_BA_F_600',
        categ_id: 12,
        list_price: '29,90',
        detailed_type: 'service',
        active: true,
      };
      const r = changeRecord('product_template', { op: 'c', after, raw: true, offset: 77 });
      const err = expectMalformed(
        () => decodeChange(r.topic, 0, '77', r.key, r.value),
        'after.list_price',
        /decimal string/,
      );
      expect(err.offset).to.equal('77');
      expect(err.topic).to.equal('odoo.public.product_template');
    });

    it('a decimal sent as a float (decimal.handling.mode=double) is refused', () => {
      const after = {
        id: 1,
        name: '{"en_US":"Fibra"}',
        default_code: 'X',
        categ_id: 12,
        list_price: 29.9,
        detailed_type: 'service',
        active: true,
      };
      const r = changeRecord('product_template', { op: 'c', after, raw: true });
      expectMalformed(
        () => decodeChange(r.topic, 0, '1', r.key, r.value),
        'after.list_price',
        /decimal.handling.mode=string/,
      );
    });

    it('a wrong type (string id, number where a string is expected, string date)', () => {
      const r1 = changeRecord('res_partner', {
        op: 'c',
        after: { ...partnerAfter, state_id: '415' },
        raw: true,
      });
      expectMalformed(() => decodeChange(r1.topic, 0, '1', r1.key, r1.value), 'after.state_id', /integer/);
      const r2 = changeRecord('res_partner', { op: 'c', after: { ...partnerAfter, zip: 8002 }, raw: true });
      expectMalformed(() => decodeChange(r2.topic, 0, '1', r2.key, r2.value), 'after.zip', /string/);
      const line = {
        id: 3,
        contract_id: 1,
        product_id: 5,
        name: 'Fibra',
        quantity: 1,
        date_start: '2025-01-01',
        date_end: null,
        is_canceled: false,
        automatic_price: false,
        specific_price: null,
        active: true,
      };
      const r3 = changeRecord('contract_line', { op: 'c', after: line, raw: true });
      expectMalformed(
        () => decodeChange(r3.topic, 0, '1', r3.key, r3.value),
        'after.date_start',
        /days since 1970/,
      );
    });

    it('a missing key column (other missing columns: test/unit/capture-missing-columns.test.ts)', () => {
      const { id: _id, ...noId } = partnerAfter;
      const r = changeRecord('res_partner', { op: 'c', after: noId, raw: true });
      r.key = buf({ id: 7 });
      expectMalformed(() => decodeChange(r.topic, 0, '1', r.key, r.value), 'after.id', /column.include.list/);
    });

    it('a null in a NOT NULL column', () => {
      const r = changeRecord('product_product', {
        op: 'c',
        after: { id: 1, default_code: 'X', product_tmpl_id: null, active: true },
        raw: true,
      });
      expectMalformed(() => decodeChange(r.topic, 0, '1', r.key, r.value), 'after.product_tmpl_id');
    });

    it('a bad key, a missing key, non-JSON and schema/payload envelopes', () => {
      expectMalformed(() => decodeChange(TOPIC, 0, '1', buf({ id: 'x' }), buf(rawUpdate)), 'key.id');
      expectMalformed(() => decodeChange(TOPIC, 0, '1', null, buf(rawUpdate)), 'key');
      expectMalformed(
        () => decodeChange(TOPIC, 0, '1', buf({ id: 812 }), Buffer.from('{oops')),
        'value',
        /not JSON/,
      );
      expectMalformed(
        () => decodeChange(TOPIC, 0, '1', buf({ id: 812 }), buf({ schema: {}, payload: rawUpdate })),
        'value',
        /schemas.enable=false/,
      );
    });

    it('a missing or invalid source field', () => {
      const { lsn: _l, ...src } = rawUpdate.source;
      // lsn is optional (snapshot reads may lack it) …
      expect(decodeChange(TOPIC, 0, '1', buf({ id: 812 }), buf({ ...rawUpdate, source: src })).kind).to.equal(
        'row',
      );
      // … but ts_ms is required and the snapshot marker is an enum
      const { ts_ms: _t, ...noTs } = rawUpdate.source;
      expectMalformed(
        () => decodeChange(TOPIC, 0, '1', buf({ id: 812 }), buf({ ...rawUpdate, source: noTs })),
        'source.ts_ms',
      );
      expectMalformed(
        () =>
          decodeChange(
            TOPIC,
            0,
            '1',
            buf({ id: 812 }),
            buf({ ...rawUpdate, source: { ...rawUpdate.source, snapshot: 'maybe' } }),
          ),
        'source.snapshot',
      );
    });

    it('a table that is not captured, or does not match the topic', () => {
      const other = { ...rawUpdate, source: { ...rawUpdate.source, table: 'sale_order' } };
      expectMalformed(
        () => decodeChange('odoo.public.sale_order', 0, '1', buf({ id: 1 }), buf(other)),
        'source.table',
        /not a captured table/,
      );
      expectMalformed(
        () => decodeChange('odoo.public.contract_line', 0, '1', buf({ id: 812 }), buf(rawUpdate)),
        'source.table',
        /does not match/,
      );
    });

    it('a bad transaction block', () => {
      const env = { ...rawUpdate, transaction: { id: 77211, total_order: 1, data_collection_order: 1 } };
      expectMalformed(() => decodeChange(TOPIC, 0, '1', buf({ id: 812 }), buf(env)), 'transaction.id');
    });
  });
});
