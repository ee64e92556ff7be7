import { expect } from 'chai';
import {
  loadAvroSchema,
  validatePayload,
  SCHEMA_FILES,
  SyncEventC,
  InvoiceIssuedEventC,
} from '../../src/adapters/registry/schemas';
import { fullInvoiceEvent, fullSyncEvent } from '../../testkit/outbox';

// avsc ships no types; it is the Avro implementation used by @kafkajs/confluent-schema-registry.
interface AvroType {
  toBuffer(v: unknown): Buffer;
  fromBuffer(b: Buffer, resolver?: unknown): unknown;
  isValid(v: unknown, opts?: { errorHook?: (path: string[]) => void }): boolean;
  createResolver(writer: AvroType): unknown;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const avro = require('avsc') as { Type: { forSchema(s: unknown): AvroType } };

/** Field names of a record schema, recursively flattened as paths. */
function fieldPaths(schema: unknown, prefix = ''): string[] {
  const s = schema as { type?: unknown; fields?: { name: string; type: unknown }[]; items?: unknown };
  if (Array.isArray(schema)) return schema.flatMap((b) => fieldPaths(b, prefix));
  if (s && typeof s === 'object') {
    if (s.type === 'record' && s.fields)
      return s.fields.flatMap((f) => [`${prefix}${f.name}`, ...fieldPaths(f.type, `${prefix}${f.name}.`)]);
    if (s.type === 'array') return fieldPaths(s.items, `${prefix}[].`);
  }
  return [];
}
function valuePaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return v.length ? valuePaths(v[0], `${prefix}[].`) : [];
  if (v && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) => [`${prefix}${k}`, ...valuePaths(x, `${prefix}${k}.`)]);
  return [];
}

describe('outbox Avro schemas agree with events.ts', () => {
  const syncType = avro.Type.forSchema(loadAvroSchema('SyncOutcome'));
  const invoiceType = avro.Type.forSchema(loadAvroSchema('InvoiceIssued'));

  it('a full SyncEvent round-trips through sync-event.avsc unchanged', () => {
    for (const ev of [
      fullSyncEvent(),
      fullSyncEvent({
        source: { table: 'res_partner', lsn: null, txId: null, topic: null, partition: null, offset: null },
        odoo: { model: 'res.partner', id: 812, ref: null },
        opencell: { entity: 'customer', code: null },
        outcome: 'dead_lettered',
        calls: [],
        errorCode: 'OPENCELL_BUSINESS',
        errorMessage: 'customer exists',
        attempt: 12,
      }),
    ]) {
      expect(syncType.isValid(ev)).to.equal(true);
      expect(JSON.parse(JSON.stringify(syncType.fromBuffer(syncType.toBuffer(ev))))).to.deep.equal(ev);
    }
  });

  it('a full InvoiceIssuedEvent round-trips through invoice-event.avsc unchanged', () => {
    const ev = fullInvoiceEvent();
    expect(invoiceType.isValid(ev)).to.equal(true);
    expect(JSON.parse(JSON.stringify(invoiceType.fromBuffer(invoiceType.toBuffer(ev))))).to.deep.equal(ev);
    const minimal = fullInvoiceEvent({
      invoiceId: null,
      dueDate: null,
      customerAccountCode: null,
      customerCode: null,
      lines: [],
      subscriptionCodes: [],
    });
    expect(JSON.parse(JSON.stringify(invoiceType.fromBuffer(invoiceType.toBuffer(minimal))))).to.deep.equal(
      minimal,
    );
  });

  it('billingRunId was added BACKWARD compatibly: an event written without it reads as null and passes the codec', () => {
    const current = loadAvroSchema('InvoiceIssued') as { fields: { name: string }[] };
    const before = { ...current, fields: current.fields.filter((f) => f.name !== 'billingRunId') };
    const writer = avro.Type.forSchema(before);
    const reader = avro.Type.forSchema(current);
    const { billingRunId: _dropped, ...old } = fullInvoiceEvent();
    const read = reader.fromBuffer(writer.toBuffer(old), reader.createResolver(writer)) as Record<
      string,
      unknown
    >;
    expect(read.billingRunId).to.equal(null);
    // the registry's decoder uses the writer schema: the field is then absent, which the codec accepts
    expect(validatePayload('InvoiceIssued', old)).to.deep.equal([]);
    expect(validatePayload('InvoiceIssued', { ...old, billingRunId: null })).to.deep.equal([]);
    expect(validatePayload('InvoiceIssued', { ...old, billingRunId: 12 })).not.to.deep.equal([]);
  });

  it('every field of the types is in the schema and vice versa', () => {
    expect(valuePaths(fullSyncEvent()).sort()).to.deep.equal(
      fieldPaths(loadAvroSchema('SyncOutcome')).sort(),
    );
    expect(valuePaths(fullInvoiceEvent()).sort()).to.deep.equal(
      fieldPaths(loadAvroSchema('InvoiceIssued')).sort(),
    );
  });

  it('nullable fields are ["null", T] unions with default null; outcome is an enum of the four outcomes', () => {
    const nullable = (schema: unknown): string[] => {
      const s = schema as {
        type?: unknown;
        fields?: { name: string; type: unknown; default?: unknown }[];
        items?: unknown;
      };
      if (!s || typeof s !== 'object') return [];
      if (s.type === 'array') return nullable(s.items);
      if (s.type !== 'record' || !s.fields) return [];
      return s.fields.flatMap((f) => {
        const own = Array.isArray(f.type)
          ? [`${f.name}:${JSON.stringify(f.type[0])}:${JSON.stringify(f.default)}`]
          : [];
        return [...own, ...nullable(f.type)];
      });
    };
    for (const type of Object.keys(SCHEMA_FILES) as (keyof typeof SCHEMA_FILES)[]) {
      for (const entry of nullable(loadAvroSchema(type))) expect(entry).to.match(/:"null":null$/);
    }
    const outcome = (
      loadAvroSchema('SyncOutcome').fields as { name: string; type: { symbols?: string[] } }[]
    ).find((f) => f.name === 'outcome');
    expect(outcome?.type.symbols).to.deep.equal(['applied', 'skipped', 'failed', 'dead_lettered']);
  });

  it('the io-ts codecs accept the full events and name the field of a bad one', () => {
    expect(SyncEventC.is(fullSyncEvent())).to.equal(true);
    expect(InvoiceIssuedEventC.is(fullInvoiceEvent())).to.equal(true);
    expect(validatePayload('SyncOutcome', fullSyncEvent())).to.deep.equal([]);
    const bad = { ...fullSyncEvent(), outcome: 'done' };
    expect(validatePayload('SyncOutcome', bad).join()).to.contain('outcome');
    const badAmount = fullInvoiceEvent({ amountWithTax: '29,90' });
    expect(validatePayload('InvoiceIssued', badAmount).join()).to.contain('amountWithTax');
  });
});
