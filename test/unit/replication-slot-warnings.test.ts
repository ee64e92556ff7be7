import { expect } from 'chai';
import { SlotHealth, slotWarnings } from '../../src/adapters/postgres/replication-slots';
import { Metrics } from '../../src/app/metrics';

const healthy: SlotHealth = {
  slot: 'odoo_billing',
  plugin: 'pgoutput',
  active: true,
  retainedBytes: 40_000,
  confirmedFlushLagBytes: 100,
  walStatus: 'reserved',
};

describe('replication slot warnings', () => {
  it('a read slot under the threshold gives no warning', () => {
    expect(slotWarnings([healthy], 1 << 30)).to.deep.equal([]);
  });

  it('warns from the threshold on, naming the slot, both sizes and the setting', () => {
    const w = slotWarnings([{ ...healthy, retainedBytes: 3 * 1024 ** 3 }], 1024 ** 3);
    expect(w).to.deep.equal([
      'slot odoo_billing retains 3.0 GiB of WAL (warning threshold 1.0 GiB, REPLICATION_SLOT_WARN_BYTES)',
    ]);
  });

  it('warns on a slot no connector reads, on lost WAL and on a database without a slot', () => {
    expect(slotWarnings([{ ...healthy, active: false }], 1 << 30)[0]).to.match(
      /slot odoo_billing is not active/,
    );
    expect(slotWarnings([{ ...healthy, walStatus: 'lost' }], 1 << 30)[0]).to.match(/wal_status=lost/);
    expect(slotWarnings([], 1 << 30)[0]).to.match(/no logical replication slot/);
  });

  it('the gauges follow the last reading, and a dropped slot leaves no stale series', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeSlots([healthy, { ...healthy, slot: 'old', active: false }], 5000);
    let text = await m.text();
    expect(text).to.include('sync_replication_slot_retained_wal_bytes{slot="odoo_billing"} 40000');
    expect(text).to.include('sync_replication_slot_active{slot="old"} 0');
    expect(text).to.include('sync_replication_slot_confirmed_flush_lag_bytes{slot="odoo_billing"} 100');
    expect(text).to.include('sync_replication_slot_warn_bytes 5000');
    m.observeSlots([healthy], 5000);
    text = await m.text();
    expect(text).not.to.include('slot="old"');
  });
});
