import { expect } from 'chai';
import { decodeChange } from '../../src/domain/capture/envelope';
import type { RowChange, RowOp } from '../../src/domain/capture/envelope';
import { changedBillingFields } from '../../src/domain/capture/diff';
import { missingColumnsOf } from '../../src/domain/capture/tables';
import type { Row, TableName } from '../../src/domain/capture/tables';
import { isRetriable, MissingColumnError, SyncError } from '../../src/domain/errors';
import { detectIntents } from '../../src/domain/projection';
import type { ProductView, TriggerContext } from '../../src/domain/projection';
import { accessFromContract } from '../../src/domain/projection/payloads';
import { odooPhone } from '../../src/domain/projection/views';
import { changeRecord, encodeRow, sampleRow } from '../../testkit/capture';

/**
 * Issue 14 §1 on the real schema: extra columns of an event are ignored; a column absent from the event (not in this
 * Odoo database, e.g. res_partner."block_contract_creation_in_OC" once opencell_somconnexio is gone) decodes, and
 * fails only the trigger that reads it, with MissingColumnError naming table and column. And Odoo's "-" phone
 * placeholder: a number as the original sent it (docs/parity.md T7, P-access), no number with the opt-in
 * PHONE_PLACEHOLDER_IS_NO_NUMBER; an empty or blank number is no number either way.
 */

const ctx = (over: Partial<TriggerContext> = {}): TriggerContext => ({
  syncPartnerIdentity: false,
  product: (): ProductView | undefined => undefined,
  partnerHasContracts: () => true,
  ...over,
});

/** A change whose raw rows are given as Debezium sends them, columns left out or added at will. */
function rawChange<T extends TableName>(
  table: T,
  op: RowOp,
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): RowChange {
  const rec = changeRecord(table, { op, before, after, raw: true });
  const decoded = decodeChange(rec.topic, rec.partition, rec.offset, rec.key, rec.value);
  if (decoded.kind !== 'row') throw new Error(`expected a row change, got ${decoded.kind}`);
  return decoded;
}

const without = (row: Record<string, unknown>, ...columns: string[]) =>
  Object.fromEntries(Object.entries(row).filter(([k]) => !columns.includes(k)));

const partner = (over: Partial<Row<'res_partner'>> = {}) =>
  encodeRow('res_partner', sampleRow('res_partner', { id: 7, street: 'C/ Vella 1', ...over }));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('capture: columns absent from the event, extra columns, and the "-" phone placeholder', () => {
  it('extra columns are ignored (e.g. the `active` an old schema still has on an info table)', () => {
    const info = { id: 5, phone_number: '612345678', icc: '8934', active: true, write_date: 1 };
    const ch = rawChange('mobile_service_contract_info', 'c', null, info);
    expect(ch.after).to.deep.equal({ id: 5, phone_number: '612345678', icc: '8934' });
    expect(missingColumnsOf(ch.after)).to.deep.equal([]);
  });

  it('a partner event without block_contract_creation_in_OC decodes, and an address change still triggers', () => {
    const before = without(partner(), 'block_contract_creation_in_OC');
    const after = without(partner({ street: 'C/ Nova 7' }), 'block_contract_creation_in_OC');
    const ch = rawChange('res_partner', 'u', before, after);
    expect(missingColumnsOf(ch.after)).to.deep.equal(['block_contract_creation_in_OC']);
    expect(Object.keys(ch.after ?? {})).to.not.include('block_contract_creation_in_OC');
    expect(JSON.parse(JSON.stringify(ch.after))).to.include({ street: 'C/ Nova 7' });
    expect(detectIntents(ch, ctx())).to.deep.equal([
      { kind: 'update_customer', partnerId: 7, fields: ['street'] },
    ]);
  });

  it('reading the absent column throws MissingColumnError naming table and column; not retriable', () => {
    const ch = rawChange('res_partner', 'c', null, without(partner(), 'block_contract_creation_in_OC'));
    const err = thrown(() => (ch.after as Row<'res_partner'>).block_contract_creation_in_OC);
    expect(err).to.be.instanceOf(MissingColumnError).and.instanceOf(SyncError);
    expect(err).to.include({
      code: 'MISSING_COLUMN',
      retriable: false,
      table: 'res_partner',
      column: 'block_contract_creation_in_OC',
    });
    expect((err as Error).message).to.match(/res_partner\.block_contract_creation_in_OC/);
    expect((err as SyncError).toJSON()).to.include({
      table: 'res_partner',
      column: 'block_contract_creation_in_OC',
    });
    expect(isRetriable(err)).to.equal(false);
  });

  it('a watched column absent from an info event fails only the phone trigger, with MissingColumnError', () => {
    const ch = rawChange('mobile_service_contract_info', 'u', { id: 5, icc: '1' }, { id: 5, icc: '2' });
    expect(changedBillingFields(ch.table, ch.before, ch.after)).to.include('phone_number');
    const err = thrown(() => detectIntents(ch, ctx()));
    expect(err).to.be.instanceOf(MissingColumnError);
    expect(err).to.include({ table: 'mobile_service_contract_info', column: 'phone_number' });
  });

  it('a missing key column is still a malformed event', () => {
    const rec = changeRecord('res_partner', { op: 'c', after: without(partner(), 'id'), raw: true });
    rec.key = Buffer.from(JSON.stringify({ id: 7 }));
    expect(() => decodeChange(rec.topic, 0, '0', rec.key, rec.value)).to.throw(/after\.id/);
  });

  it('contract_line.specific_price: Debezium sends the float8 as a JSON number, decoded as a number', () => {
    const line = encodeRow('contract_line', sampleRow('contract_line', { id: 9, specific_price: 17.36 }));
    const ch = rawChange('contract_line', 'c', null, { ...line, specific_price: 17.36 });
    expect(ch.after).to.include({ specific_price: 17.36 });
  });

  describe('the "-" phone placeholder', () => {
    it('odooPhone: "-" is a number, as the original sent it; blank and empty are null; a number is kept', () => {
      expect(odooPhone('-')).to.equal('-');
      expect(odooPhone('')).to.equal(null);
      expect(odooPhone('  ')).to.equal(null);
      expect(odooPhone(null)).to.equal(null);
      expect(odooPhone(undefined)).to.equal(null);
      expect(odooPhone('612345678')).to.equal('612345678');
    });

    it('PHONE_PLACEHOLDER_IS_NO_NUMBER: odooPhone reads "-" (trimmed) as null too', () => {
      expect(odooPhone('-', true)).to.equal(null);
      expect(odooPhone(' - ', true)).to.equal(null);
      expect(odooPhone('', true)).to.equal(null);
      expect(odooPhone('612345678', true)).to.equal('612345678');
    });

    it('an OpenCell access code as the original sent it; never one with PHONE_PLACEHOLDER_IS_NO_NUMBER', () => {
      expect(accessFromContract({ code: 'SC1', phoneNumber: '-' })).to.deep.equal({
        code: '-',
        subscription: 'SC1',
      });
      expect(
        accessFromContract({ code: 'SC1', phoneNumber: '-' }, { phonePlaceholderIsNoNumber: true }),
      ).to.equal(null);
      expect(accessFromContract({ code: 'SC1', phoneNumber: ' ' })).to.equal(null);
      for (const phonePlaceholderIsNoNumber of [false, true])
        expect(
          accessFromContract({ code: 'SC1', phoneNumber: '612345678' }, { phonePlaceholderIsNoNumber }),
        ).to.deep.equal({ code: '612345678', subscription: 'SC1' });
    });

    const info = (phone: string) => ({ id: 8, phone_number: phone, suma_id: 'S1' });
    const phoneIntent = (phone: string, previousPhone: string | null) => ({
      kind: 'update_phone_number',
      infoTable: 'orange_fiber_service_contract_info',
      infoId: 8,
      phone,
      previousPhone,
    });

    it('T7: writing "-" queues update_phone_number("-") and replacing "-" has "-" as previous number, as the original', () => {
      const cleared = rawChange('orange_fiber_service_contract_info', 'u', info('912345678'), info('-'));
      expect(detectIntents(cleared, ctx())).to.deep.equal([phoneIntent('-', '912345678')]);
      const set = rawChange('orange_fiber_service_contract_info', 'u', info('-'), info('912345678'));
      expect(detectIntents(set, ctx())).to.deep.equal([phoneIntent('912345678', '-')]);
    });

    it('T7 with PHONE_PLACEHOLDER_IS_NO_NUMBER: writing "-" triggers nothing; replacing "-" has no previous number', () => {
      const on = ctx({ phonePlaceholderIsNoNumber: true });
      const cleared = rawChange('orange_fiber_service_contract_info', 'u', info('912345678'), info('-'));
      expect(detectIntents(cleared, on)).to.deep.equal([]);
      const set = rawChange('orange_fiber_service_contract_info', 'u', info('-'), info('912345678'));
      expect(detectIntents(set, on)).to.deep.equal([phoneIntent('912345678', null)]);
    });

    it('T7: an emptied number triggers nothing under either setting (the original would have sent False)', () => {
      const emptied = rawChange('orange_fiber_service_contract_info', 'u', info('912345678'), info(''));
      for (const phonePlaceholderIsNoNumber of [false, true])
        expect(detectIntents(emptied, ctx({ phonePlaceholderIsNoNumber }))).to.deep.equal([]);
    });
  });
});
