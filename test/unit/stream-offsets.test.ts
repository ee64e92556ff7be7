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

describe('contiguous commit watermark over long batches (OffsetTracker without bigints or sets)', () => {
  /** The watermark by its definition: the first begun offset not finished, else one past the last begun. */
  function model(begun: number[], done: Set<number>): string {
    const open = begun.find((o) => !done.has(o));
    return String(open ?? begun[begun.length - 1] + 1);
  }

  it('agrees with its definition over random gaps and finish orders (3,000 offsets, 20 seeds)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      let s = seed;
      const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const t = new OffsetTracker();
      const begun: number[] = [];
      let o = 1_000_000 + seed;
      for (let i = 0; i < 3000; i++) {
        o += rnd() < 0.1 ? 2 + Math.floor(rnd() * 5) : 1; // gaps: compaction, transaction markers
        begun.push(o);
        t.begin(String(o));
      }
      // most finish in order, some late (a slow key), as a batch's handlers do
      const order = begun
        .map((x, i) => ({ x, at: i + (rnd() < 0.2 ? rnd() * 2000 : 0) }))
        .sort((a, b) => a.at - b.at);
      const done = new Set<number>();
      for (const { x } of order) {
        t.finish(String(x));
        done.add(x);
        expect(t.committable(), `seed ${seed} after ${x}`).to.equal(model(begun, done));
      }
      expect(t.inFlight).to.equal(0);
      expect(t.committable()).to.equal(String(o + 1));
    }
  });

  it('ignores a second finish and a second begin of the same offset; refuses an offset begun out of order', () => {
    const t = new OffsetTracker();
    t.begin('7');
    t.begin('8');
    t.begin('8');
    expect(t.inFlight).to.equal(2);
    t.finish('7');
    t.finish('7');
    expect(t.inFlight).to.equal(1);
    expect(t.committable()).to.equal('8');
    expect(() => t.begin('5')).to.throw(RangeError, /increasing order/);
  });

  it('keeps the watermark past the last batch when new offsets begin after everything finished', () => {
    const t = new OffsetTracker();
    t.begin('3');
    t.finish('3');
    expect(t.committable()).to.equal('4');
    t.begin('9');
    expect(t.committable()).to.equal('4');
    t.finish('9');
    expect(t.committable()).to.equal('10');
  });

  it('refuses an offset that is not a safe integer', () => {
    expect(() => new OffsetTracker().begin('9007199254740993')).to.throw(RangeError, /below 2\^53/);
  });

  it("begins and finishes records one at a time (a replay's skipped changes) with the watermark one past each", () => {
    const t = new OffsetTracker();
    for (let o = 500; o < 20_500; o += 1 + (o % 7 === 0 ? 3 : 0)) {
      t.begin(String(o));
      t.finish(String(o));
      expect(t.committable()).to.equal(String(o + 1));
    }
    expect(t.inFlight).to.equal(0);
  });

  it('never moves the watermark back for an offset begun below it', () => {
    const t = new OffsetTracker();
    t.begin('10');
    t.finish('10');
    t.begin('4');
    t.finish('4');
    expect(t.committable()).to.equal('11');
  });
});
