import { expect } from 'chai';
import { isLeft, isRight } from 'fp-ts/Either';
import {
  col,
  DateValue,
  decimalEquals,
  DecimalValue,
  epochDayToIsoDate,
  FloatValue,
  isoDateToEpochDay,
  isoTimestampToMicros,
  microsToIsoTimestamp,
  normalizeDecimal,
  pickTranslation,
  TimestampValue,
  TranslatedValue,
} from '../../src/domain/capture/columns';
import { decodeChange } from '../../src/domain/capture/envelope';
import { changeRecord } from '../../testkit/capture';

const ok = <A>(r: { _tag: 'Left' } | { _tag: 'Right'; right: A }): A => {
  if (!isRight(r as never)) throw new Error('expected a successful decode');
  return (r as { right: A }).right;
};

describe('capture: column codecs (Odoo types through Debezium)', () => {
  it('date: epoch days → YYYY-MM-DD, both ways, including before 1970', () => {
    expect(ok(DateValue.decode(0))).to.equal('1970-01-01');
    expect(ok(DateValue.decode(20089))).to.equal('2025-01-01');
    expect(ok(DateValue.decode(-1))).to.equal('1969-12-31');
    expect(ok(DateValue.decode(20147))).to.equal('2025-02-28');
    expect(epochDayToIsoDate(20148)).to.equal('2025-03-01');
    expect(isoDateToEpochDay('2025-01-01')).to.equal(20089);
    expect(isLeft(DateValue.decode('2025-01-01'))).to.equal(true);
    expect(isLeft(DateValue.decode(1.5))).to.equal(true);
    expect(isLeft(DateValue.decode(99_999_999))).to.equal(true);
  });

  it('timestamp: int64 µs → ISO with microseconds, exact', () => {
    expect(ok(TimestampValue.decode(1735693200123456))).to.equal('2025-01-01T01:00:00.123456Z');
    expect(ok(TimestampValue.decode(1735689600000000))).to.equal('2025-01-01T00:00:00.000000Z');
    expect(microsToIsoTimestamp(-1)).to.equal('1969-12-31T23:59:59.999999Z');
    expect(isoTimestampToMicros('2025-01-01T01:00:00.123456Z')).to.equal(1735693200123456);
    expect(isLeft(TimestampValue.decode('2025-01-01T00:00:00Z'))).to.equal(true);
  });

  it('numeric: kept as the exact decimal string, never a float', () => {
    expect(ok(DecimalValue.decode('0.1'))).to.equal('0.1');
    expect(ok(DecimalValue.decode('12345678901234567890.123456789'))).to.equal(
      '12345678901234567890.123456789',
    );
    expect(ok(DecimalValue.decode('-29.90'))).to.equal('-29.90');
    for (const bad of ['29,90', '1e3', '', ' 1', '.5', '1.', 'NaN', 29.9, null]) {
      expect(isLeft(DecimalValue.decode(bad)), String(bad)).to.equal(true);
    }
    expect(normalizeDecimal('017.3600')).to.equal('17.36');
    expect(normalizeDecimal('-0.000')).to.equal('0');
    expect(decimalEquals('17.360', '17.36')).to.equal(true);
    expect(decimalEquals('0.1', '0.10000000000000001')).to.equal(false);
  });

  it('float8: a JSON number', () => {
    expect(ok(FloatValue.decode(1.5))).to.equal(1.5);
    expect(isLeft(FloatValue.decode('1.5'))).to.equal(true);
  });

  it('translated jsonb: a JSON string → object, pick a language with en_US fallback', () => {
    const name = ok(TranslatedValue.decode('{"en_US":"Fiber 600 Mb","ca_ES":"Fibra 600 Mb"}'));
    expect(name).to.deep.equal({ en_US: 'Fiber 600 Mb', ca_ES: 'Fibra 600 Mb' });
    expect(pickTranslation(name, 'ca_ES')).to.equal('Fibra 600 Mb');
    expect(pickTranslation(name, 'es_ES')).to.equal('Fiber 600 Mb');
    expect(pickTranslation(name)).to.equal('Fiber 600 Mb');
    expect(pickTranslation({ ca_ES: 'Només català' }, 'es_ES')).to.equal('Només català');
    expect(pickTranslation(null, 'ca_ES')).to.equal(null);
    expect(isLeft(TranslatedValue.decode('{not json'))).to.equal(true);
    expect(isLeft(TranslatedValue.decode('["a"]'))).to.equal(true);
    expect(isLeft(TranslatedValue.decode('{"en_US": 3}'))).to.equal(true);
    expect(isLeft(TranslatedValue.decode({ en_US: 'x' }))).to.equal(true);
  });

  it('booleans: NULL reads as false (Odoo semantics); nullable FKs decode null', () => {
    expect(ok(col.bool().codec.decode(null))).to.equal(false);
    expect(ok(col.bool().codec.decode(true))).to.equal(true);
    expect(isLeft(col.bool().codec.decode('true'))).to.equal(true);
    expect(ok(col.intN().codec.decode(null))).to.equal(null);
    expect(isLeft(col.int().codec.decode(null))).to.equal(true);
  });

  it('a full product_template / contract_line event decodes every Odoo type', () => {
    const tmpl = changeRecord('product_template', {
      op: 'c',
      raw: true,
      after: {
        id: 5,
        name: '{"en_US": "Fiber 600 Mb", "ca_ES": "Fibra 600 Mb", "es_ES": "Fibra 600 Mb"}',
        default_code: 'SE_SC_REC_BA_F_600',
        categ_id: 12,
        list_price: '28.930000',
        detailed_type: 'service',
        active: true,
      },
    });
    const t = decodeChange(tmpl.topic, 0, '0', tmpl.key, tmpl.value);
    if (t.kind !== 'row' || t.table !== 'product_template') throw new Error('template expected');
    expect(t.after?.list_price).to.equal('28.930000');
    expect(pickTranslation(t.after?.name, 'ca_ES')).to.equal('Fibra 600 Mb');

    const line = changeRecord('contract_line', {
      op: 'c',
      raw: true,
      after: {
        id: 9,
        contract_id: 3,
        product_id: 5,
        name: 'Fibra 600 Mb',
        quantity: 1.0,
        date_start: 20089,
        date_end: null,
        is_canceled: null,
        automatic_price: false,
        specific_price: 17.36,
        active: true,
      },
    });
    const l = decodeChange(line.topic, 0, '0', line.key, line.value);
    if (l.kind !== 'row' || l.table !== 'contract_line') throw new Error('line expected');
    expect(l.after).to.deep.include({
      quantity: 1,
      date_start: '2025-01-01',
      date_end: null,
      is_canceled: false,
      specific_price: 17.36,
    });

    const bank = changeRecord('res_partner_bank', {
      op: 'c',
      raw: true,
      after: {
        id: 4,
        acc_number: 'ES91 2100 0418 4502 0005 1332',
        sanitized_acc_number: 'ES9121000418450200051332',
        acc_holder_name: null,
        partner_id: 812,
        bank_id: 1,
        active: true,
        create_date: 1735693200123456,
      },
    });
    const b = decodeChange(bank.topic, 0, '0', bank.key, bank.value);
    if (b.kind !== 'row' || b.table !== 'res_partner_bank') throw new Error('bank expected');
    expect(b.after?.create_date).to.equal('2025-01-01T01:00:00.123456Z');
  });
});
