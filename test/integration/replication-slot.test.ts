/**
 * Replication slot health (issue 16, "Observability"): while the Debezium connector is paused or stopped, the WAL Odoo
 * writes stays in the slot; the slot gauges and `status` must show it. The connector is shared by every test of
 * the stack: it is paused for a few seconds only and resumed in `finally`.
 */
import { expect } from 'chai';
import { ConnectClient } from '../../src/adapters/kafka-connect/client';
import { replicationSlots, SlotHealth } from '../../src/adapters/postgres/replication-slots';
import { Metrics } from '../../src/app/metrics';
import { gatherStatus, renderStatus, statusHealthy, statusJson } from '../../src/app/status';
import { loadConfig } from '../../src/core/config';
import { CONNECT_URL, DEBEZIUM_SLOT, eventually, odooDb, stateDb, testKafka } from './support/stack';

const CONNECTOR = 'odoo-billing';
const SLOT = DEBEZIUM_SLOT;

async function currentLsnDiff(from: string): Promise<number> {
  const r = await odooDb().query<{ d: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::bigint AS d`,
    [from],
  );
  return Number(r.rows[0].d);
}

async function slot(): Promise<SlotHealth> {
  const s = (await replicationSlots(odooDb())).find((x) => x.slot === SLOT);
  if (!s) throw new Error(`slot ${SLOT} not found on the Odoo database`);
  return s;
}

function gaugeValue(metrics: Metrics, name: string): number | undefined {
  const m = metrics.registry.getSingleMetric(name) as unknown as {
    hashMap: Record<string, { value: number; labels: Record<string, string> }>;
  };
  return Object.values(m.hashMap).find((v) => v.labels.slot === SLOT)?.value;
}

describe('replication slot health', function () {
  this.timeout(120_000);
  const connect = new ConnectClient(CONNECT_URL);

  it('a paused connector: the slot retains the WAL Odoo writes, the gauge grows and status warns', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    await connect.waitRunning(CONNECTOR, 60_000);
    // one read for both: the retained WAL moves with every write on the (shared) PostgreSQL server
    const slots = await replicationSlots(odooDb());
    const running = slots.find((x) => x.slot === SLOT);
    if (!running) throw new Error(`slot ${SLOT} not found on the Odoo database`);
    expect(running.active, 'slot read by the running connector').to.equal(true);
    metrics.observeSlots(slots, 1 << 30);
    const gaugeBefore = gaugeValue(metrics, 'sync_replication_slot_retained_wal_bytes');
    expect(gaugeBefore).to.equal(running.retainedBytes);

    const admin = testKafka().admin();
    await admin.connect();
    const pausedAt = Date.now();
    try {
      await connect.setPaused(CONNECTOR, true);
      await eventually(
        async () =>
          (await connect.status(CONNECTOR))?.tasks.every((t) => t.state === 'PAUSED') ? true : undefined,
        20_000,
        'the connector task PAUSED',
      );
      const before = await slot();
      const lsn0 = String(
        (await odooDb().query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l,
      );
      // Rows written in Odoo's database without a change for the pipeline: write_date (not captured) set to the value
      // it has. With REPLICA IDENTITY FULL every update logs its whole row; the connector drops updates whose captured
      // columns did not change (skip.messages.without.change), so no change event reaches any test.
      const updated = await odooDb().query<{ n: number }>(
        `WITH u AS (UPDATE res_partner SET write_date = write_date
                     WHERE id IN (SELECT id FROM res_partner ORDER BY id LIMIT 20) RETURNING 1)
         SELECT count(*)::int AS n FROM u`,
      );
      expect(updated.rows[0].n, 'Odoo rows to write').to.be.greaterThan(0);
      await odooDb().query(
        `DO $$ BEGIN FOR i IN 1..400 LOOP
           UPDATE res_partner SET write_date = write_date WHERE id IN (SELECT id FROM res_partner ORDER BY id LIMIT 20);
         END LOOP; END $$`,
      );
      const written = await currentLsnDiff(lsn0);
      expect(written, 'WAL written while paused').to.be.greaterThan(256 * 1024);

      const after = await slot();
      // the paused connector confirmed nothing written after lsn0: every byte of it is retained
      expect(after.retainedBytes).to.be.at.least(written);
      expect(after.retainedBytes).to.be.greaterThan(before.retainedBytes);
      expect(after.confirmedFlushLagBytes).to.be.at.least(written);

      // the gauges the `run` sampler sets (src/app/run.ts: the router role samples the slot)
      const warnBytes = before.retainedBytes + Math.floor(written / 2);
      metrics.observeSlots(await replicationSlots(odooDb()), warnBytes);
      const gaugeAfter = gaugeValue(metrics, 'sync_replication_slot_retained_wal_bytes') ?? 0;
      expect(gaugeAfter - (gaugeBefore ?? 0)).to.be.at.least(written);
      expect(gaugeValue(metrics, 'sync_replication_slot_confirmed_flush_lag_bytes')).to.be.at.least(written);
      const text = await metrics.text();
      expect(text).to.match(new RegExp(`sync_replication_slot_retained_wal_bytes\\{slot="${SLOT}"\\} \\d+`));
      expect(text).to.include(`sync_replication_slot_warn_bytes ${warnBytes}`);

      // status: a threshold under what the slot now retains warns; the report is unhealthy (exit code 1)
      const config = loadConfig({ ...process.env, REPLICATION_SLOT_WARN_BYTES: String(warnBytes) }, []);
      const report = await gatherStatus({ admin, statePool: stateDb(), config, odooPool: odooDb() });
      const pausedMs = Date.now() - pausedAt;
      expect(pausedMs, 'pause kept short').to.be.lessThan(60_000);
      const json = statusJson(report) as { healthy: boolean; warnings: string[] };
      expect(
        json.warnings.some((w) => w.startsWith(`slot ${SLOT} retains`)),
        json.warnings.join('; '),
      ).to.equal(true);
      expect(statusHealthy(report)).to.equal(false);
      const rendered = renderStatus(report);
      expect(rendered).to.match(new RegExp(`WARNING slot ${SLOT} retains .* of WAL \\(warning threshold`));
      expect(rendered).to.include('Replication slots (Odoo database)');
      // and a threshold above it does not
      const calm = loadConfig(
        { ...process.env, REPLICATION_SLOT_WARN_BYTES: String(after.retainedBytes * 100) },
        [],
      );
      const quiet = await gatherStatus({ admin, statePool: stateDb(), config: calm, odooPool: odooDb() });
      expect(statusJson(quiet)).to.have.property('warnings').that.deep.equals([]);
      console.log(
        `      paused ${pausedMs} ms; WAL written ${written} B; retained ${before.retainedBytes} → ${after.retainedBytes} B; unconfirmed ${after.confirmedFlushLagBytes} B`,
      );
    } finally {
      await connect.setPaused(CONNECTOR, false);
      await connect.waitRunning(CONNECTOR, 60_000);
      await admin.disconnect();
    }
  });

  it('a stopped connector: no one reads the slot, rows written meanwhile are retained, the gauges and status say so', async () => {
    // Connect's stop (not pause) ends the task and with it the replication connection: the slot turns inactive, the
    // case of a connector an operator stopped or a Connect cluster that is down
    const metrics = new Metrics({ defaultMetrics: false });
    await connect.waitRunning(CONNECTOR, 60_000);
    const admin = testKafka().admin();
    await admin.connect();
    const stoppedAt = Date.now();
    const put = async (action: 'stop' | 'resume') => {
      const r = await fetch(`${CONNECT_URL}/connectors/${CONNECTOR}/${action}`, { method: 'PUT' });
      expect(r.status, `PUT ${action}`).to.be.lessThan(300);
    };
    try {
      await put('stop');
      const stopped = await eventually(
        async () => {
          const s = await slot();
          return s.active ? undefined : s;
        },
        30_000,
        'the slot inactive once the connector is stopped',
      );
      const lsn0 = String(
        (await odooDb().query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l,
      );
      // as above: rewrites that change no captured column, so no change event reaches any test after the resume
      await odooDb().query(
        `DO $$ BEGIN FOR i IN 1..200 LOOP
           UPDATE res_partner SET write_date = write_date WHERE id IN (SELECT id FROM res_partner ORDER BY id LIMIT 20);
         END LOOP; END $$`,
      );
      const written = await currentLsnDiff(lsn0);
      expect(written, 'WAL written while stopped').to.be.greaterThan(128 * 1024);
      const after = await slot();
      expect(after.active).to.equal(false);
      expect(after.retainedBytes - stopped.retainedBytes).to.be.at.least(written);

      metrics.observeSlots(await replicationSlots(odooDb()), 1 << 30);
      expect(gaugeValue(metrics, 'sync_replication_slot_active')).to.equal(0);
      expect(gaugeValue(metrics, 'sync_replication_slot_retained_wal_bytes')).to.be.at.least(
        after.retainedBytes,
      );

      // status, with a threshold far above what the slot retains: the inactive slot alone is the warning
      const config = loadConfig({ ...process.env, REPLICATION_SLOT_WARN_BYTES: String(1 << 30) }, []);
      const report = await gatherStatus({ admin, statePool: stateDb(), config, odooPool: odooDb() });
      const json = statusJson(report) as { healthy: boolean; warnings: string[] };
      expect(json.warnings, json.warnings.join('; ')).to.include(
        `slot ${SLOT} is not active: no connector reads it, WAL accumulates`,
      );
      expect(statusHealthy(report)).to.equal(false);
      expect(renderStatus(report)).to.include(`WARNING slot ${SLOT} is not active`);
      console.log(
        `      stopped ${Date.now() - stoppedAt} ms; WAL written ${written} B; retained ${stopped.retainedBytes} → ${after.retainedBytes} B while inactive`,
      );
    } finally {
      await put('resume');
      await connect.waitRunning(CONNECTOR, 60_000);
      await admin.disconnect();
    }
  });
});
