import { expect } from 'chai';
import { decodeChange, RowChange, tableOfTopic } from '../../src/domain/capture';
import { changeRecord, sampleRow } from '../../testkit/capture';
import {
  bytesIrrelevant,
  changedWatchedFields,
  isIrrelevant,
  parseUnlessIrrelevant,
  rawIrrelevant,
} from '../../src/domain/projection/filter';
import { peekOp, TABLES } from '../../src/domain/capture';
import { makeEvents } from '../../bench/filter';

describe('router fast path on the raw envelope (rawIrrelevant)', () => {
  const raw = (rec: { value: Buffer | null }) => JSON.parse(rec.value!.toString('utf8'));

  it('never drops a change the full decoder would find relevant (2,000 mixed events)', () => {
    let skipped = 0;
    for (const rec of makeEvents(2000, 11)) {
      if (!rawIrrelevant(tableOfTopic(rec.topic), raw(rec))) continue;
      skipped++;
      const c = decodeChange(rec.topic, rec.partition, rec.offset, rec.key, rec.value) as RowChange;
      expect(isIrrelevant(c) || changedWatchedFields(c).length === 0, `${rec.topic}@${rec.offset}`).to.equal(
        true,
      );
    }
    expect(skipped).to.be.greaterThan(1000);
  });

  it('skips an update of only unwatched columns, keeps one of a watched column', () => {
    const before = sampleRow('res_partner', { id: 7, street: 'A', lang: 'ca_ES' });
    const langOnly = changeRecord('res_partner', { op: 'u', before, after: { ...before, lang: 'es_ES' } });
    const street = changeRecord('res_partner', { op: 'u', before, after: { ...before, street: 'B' } });
    expect(rawIrrelevant('res_partner', raw(langOnly))).to.equal(true);
    expect(rawIrrelevant('res_partner', raw(street))).to.equal(false);
  });

  it('leaves creates, deletes, relation rows and unusual shapes to the full decoder', () => {
    const row = sampleRow('contract_contract', { id: 3 });
    expect(
      rawIrrelevant('contract_contract', raw(changeRecord('contract_contract', { op: 'c', after: row }))),
    ).to.equal(false);
    expect(
      rawIrrelevant('contract_contract', raw(changeRecord('contract_contract', { op: 'd', before: row }))),
    ).to.equal(false);
    const rel = { contract_contract_id: 1, res_partner_id: 2 };
    expect(
      rawIrrelevant(
        'contract_contract_res_partner_rel',
        raw(changeRecord('contract_contract_res_partner_rel', { op: 'u', before: rel, after: rel })),
      ),
    ).to.equal(false);
    expect(rawIrrelevant('res_partner', { op: 'u', before: null, after: {} })).to.equal(false);
    expect(rawIrrelevant('res_partner', 'not an envelope')).to.equal(false);
  });

  it('treats a table nothing watches as irrelevant at once', () => {
    expect(rawIrrelevant('res_bank', {})).to.equal(true);
  });

  it('skips a partner creation or snapshot read, keeps a contract creation', () => {
    const partner = sampleRow('res_partner', { id: 7 });
    const contract = sampleRow('contract_contract', { id: 3 });
    for (const op of ['c', 'r'] as const)
      expect(
        rawIrrelevant('res_partner', raw(changeRecord('res_partner', { op, after: partner }))),
        op,
      ).to.equal(true);
    expect(rawIrrelevant('res_partner', { op: 't' }), 'a truncate goes to the decoder').to.equal(false);
    expect(
      rawIrrelevant(
        'contract_contract',
        raw(changeRecord('contract_contract', { op: 'r', after: contract })),
      ),
    ).to.equal(false);
  });
});

describe('router fast path on the bytes (peekOp, bytesIrrelevant)', () => {
  const value = (
    o: Parameters<typeof changeRecord>[1],
    table: Parameters<typeof changeRecord>[0] = 'res_partner',
  ) => changeRecord(table, o).value!;
  const partner = sampleRow('res_partner', { id: 7 });

  it("reads the envelope's op from the end of the value, as Debezium's JSON converter writes it", () => {
    for (const op of ['c', 'r', 'u', 'd'] as const) {
      const v =
        op === 'd'
          ? value({ op, before: partner })
          : value({ op, before: op === 'u' ? partner : null, after: partner });
      expect(peekOp(v), op).to.equal(op);
    }
    const real = Buffer.from(
      '{"before":null,"after":{"id":2,"name":"OdooBot"},"source":{"version":"3.6.1.Final","table":"res_partner",' +
        '"lsn":104709104},"transaction":null,"op":"r","ts_ms":1796548569375,"ts_us":1796548569375964}',
    );
    expect(peekOp(real)).to.equal('r');
  });

  it('answers undefined when it cannot be sure (spaces, an unknown op, no op), so the value is parsed', () => {
    expect(peekOp(Buffer.from('{"op": "c"}'))).to.equal(undefined);
    expect(peekOp(Buffer.from('{"op":"x","ts_ms":1}'))).to.equal(undefined);
    expect(peekOp(Buffer.from('{"op":"cc","ts_ms":1}'))).to.equal(undefined);
    expect(peekOp(Buffer.from('{"after":{"id":1}}'))).to.equal(undefined);
    // inside a string, the quotes are escaped: not the envelope's op
    expect(peekOp(Buffer.from('{"after":{"name":"\\"op\\":\\"c\\""},"op":"u","ts_ms":1}'))).to.equal('u');
  });

  it('finds the last op wherever it is: in the last bytes, across the end of the byte loop, or further back', () => {
    const tail = (n: number) => `,"x":"${'y'.repeat(n)}"}`;
    // the needle at every distance from the end around the byte loop's reach (256 bytes), and far from it
    for (const pad of [0, 1, 230, 240, 245, 246, 247, 248, 249, 250, 251, 252, 256, 300, 5000]) {
      const v = Buffer.from(`{"after":{"id":1},"op":"u"${tail(pad)}`);
      expect(peekOp(v), `op ${pad} bytes of padding from the end`).to.equal('u');
      const twice = Buffer.from(`{"op":"c","after":{"id":1},"op":"d"${tail(pad)}`);
      expect(peekOp(twice), `the last of two, ${pad} bytes from the end`).to.equal('d');
    }
    expect(peekOp(Buffer.from(`{"after":{"id":1}${tail(400)}`)), 'none').to.equal(undefined);
  });

  it("no captured table has a column named op (nothing after the envelope's op can look like it)", () => {
    for (const [table, spec] of Object.entries(TABLES))
      expect(Object.keys(spec.columns), table).to.not.include('op');
  });

  it('skips partner creations and reads before parsing, never what the parsed fast path or decoder would keep', () => {
    expect(bytesIrrelevant('res_partner', value({ op: 'c', after: partner }))).to.equal(true);
    expect(bytesIrrelevant('res_partner', value({ op: 'r', after: partner }))).to.equal(true);
    expect(
      bytesIrrelevant('res_partner', value({ op: 'u', before: partner, after: { ...partner, street: 'B' } })),
    ).to.equal(false);
    const contract = sampleRow('contract_contract', { id: 3 });
    expect(
      bytesIrrelevant('contract_contract', value({ op: 'c', after: contract }, 'contract_contract')),
    ).to.equal(false);
    let skipped = 0;
    for (const rec of makeEvents(2000, 12)) {
      const pre = parseUnlessIrrelevant(rec.topic, rec.partition, rec.offset, rec.value);
      if (pre !== null) continue;
      skipped++;
      const c = decodeChange(rec.topic, rec.partition, rec.offset, rec.key, rec.value) as RowChange;
      expect(isIrrelevant(c), `${rec.topic}@${rec.offset}`).to.equal(true);
    }
    expect(skipped).to.be.greaterThan(1000);
  });
});
