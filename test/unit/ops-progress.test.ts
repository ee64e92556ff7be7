import { expect } from 'chai';
import { formatDuration, formatProgress, formatRate, ProgressMeter } from '../../src/app/progress';

describe('ops progress (resync --follow)', () => {
  it('computes done/total, an EWMA rate and the ETA', () => {
    const m = new ProgressMeter({ atMs: 0, remaining: 1000 }, { alpha: 1 });
    expect(m.view()).to.include({ done: 0, total: 1000, remaining: 1000 });
    expect(m.view().etaSeconds).to.equal(undefined);
    const v = m.update({ atMs: 2000, remaining: 800 });
    expect(v).to.include({ done: 200, total: 1000, rate: 100, etaSeconds: 8 });
    const end = m.update({ atMs: 3000, remaining: 0 });
    expect(end).to.include({ done: 1000, remaining: 0, etaSeconds: 0 });
  });

  it('grows the total when new messages arrive faster than consumed', () => {
    const m = new ProgressMeter({ atMs: 0, remaining: 10 });
    expect(m.update({ atMs: 1000, remaining: 15 })).to.include({ total: 15, done: 0, rate: 0 });
  });

  it('formats bar, rate and ETA', () => {
    expect(
      formatProgress({ done: 450, total: 1000, remaining: 550, rate: 12.34, etaSeconds: 44.6 }, 20),
    ).to.equal('[#########-----------]  45% 450/1000  12.3 msg/s  ETA 00:45');
    expect(formatProgress({ done: 0, total: 0, remaining: 0, rate: undefined, etaSeconds: 0 }, 4)).to.equal(
      '[####] 100% 0/0  - msg/s  ETA 00:00',
    );
    expect(formatDuration(3725)).to.equal('1:02:05');
    expect(formatDuration(undefined)).to.equal('--:--');
    expect(formatRate(25_000)).to.equal('25.0k msg/s');
    expect(formatRate(250.4)).to.equal('250 msg/s');
  });
});
