import { expect } from 'chai';
import { decodeChange, RowChange, tableOfTopic } from '../../src/domain/capture';
import { changeRecord, sampleRow } from '../../testkit/capture';
import { changedWatchedFields, isIrrelevant, rawIrrelevant } from '../../src/domain/projection/filter';
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
});
