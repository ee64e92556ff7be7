import { expect } from 'chai';
import { Metrics } from '../../src/app/metrics';
import type { IntentMessage } from '../../src/domain/intents/message';
import type { IntentResult } from '../../src/adapters/postgres/ledger';

const msg = (op: string, tsMs: number) => ({ source: { op, tsMs } }) as unknown as IntentMessage;
const result = (outcome: 'applied' | 'skipped') => ({ outcome }) as IntentResult;

describe('end-to-end freshness metric', () => {
  it('observes now − source ts_ms in seconds, by origin (change, snapshot, operator) and outcome', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeFreshness(msg('u', 10_000), result('applied'), 12_500);
    m.observeFreshness(msg('r', 10_000), result('skipped'), 70_000);
    m.observeFreshness(msg('ops', 10_000), result('applied'), 10_100);
    // a source clock ahead of ours counts as 0, not as a negative observation
    m.observeFreshness(msg('c', 20_000), result('applied'), 19_000);
    const values = (await m.freshness.get()).values;
    const sum = (origin: string, outcome: string) =>
      values.find(
        (v) =>
          v.metricName === 'sync_e2e_freshness_seconds_sum' &&
          v.labels.origin === origin &&
          v.labels.outcome === outcome,
      )?.value;
    expect(sum('change', 'applied')).to.equal(2.5);
    expect(sum('snapshot', 'skipped')).to.equal(60);
    expect(sum('operator', 'applied')).to.be.closeTo(0.1, 1e-9);
    const text = await m.text();
    expect(text).to.include('sync_e2e_freshness_seconds_count{origin="change",outcome="applied"} 2');
    expect(text).to.include('sync_e2e_freshness_seconds_bucket{le="5",origin="change",outcome="applied"} 2');
  });
});
