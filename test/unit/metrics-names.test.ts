import { expect } from 'chai';
import { Metrics } from '../../src/app/metrics';

describe('metric names', () => {
  it('prefixes the Node.js default metrics once: sync_process_*, sync_nodejs_* (regression: sync_process_process_*)', async () => {
    const text = await new Metrics().registry.metrics();
    expect(text).to.include('sync_process_cpu_seconds_total').and.include('sync_nodejs_heap_size_used_bytes');
    expect(text).not.to.include('sync_process_process_');
  });
});
