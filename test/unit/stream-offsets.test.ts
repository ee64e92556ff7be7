import { expect } from 'chai';
import { OffsetTracker } from '../../src/adapters/kafka/offsets';

describe('contiguous commit watermark (OffsetTracker)', () => {
  it('commits nothing before the first offset finishes', () => {
    const t = new OffsetTracker();
    t.begin('10');
    t.begin('11');
    expect(t.committable()).to.equal('10');
  });

  it('never moves past an unfinished offset when later ones finish first', () => {
    const t = new OffsetTracker();
    for (const o of ['10', '11', '12', '13']) t.begin(o);
    t.finish('12');
    t.finish('13');
    expect(t.committable()).to.equal('10');
    t.finish('11');
    expect(t.committable()).to.equal('10');
    t.finish('10');
    expect(t.committable()).to.equal('14');
    expect(t.inFlight).to.equal(0);
  });

  it('skips offset gaps (compaction, transaction markers)', () => {
    const t = new OffsetTracker();
    t.begin('10');
    t.begin('15');
    t.begin('16');
    t.finish('10');
    expect(t.committable()).to.equal('15');
    t.finish('16');
    expect(t.committable()).to.equal('15');
    t.finish('15');
    expect(t.committable()).to.equal('17');
  });

  it('ignores finishing an offset it never began', () => {
    const t = new OffsetTracker();
    t.begin('5');
    t.finish('7');
    expect(t.committable()).to.equal('5');
  });
});
