import type { Pool } from 'pg';

/**
 * Health of the logical replication slots on the Odoo database (the one Debezium reads, `slot.name` in
 * connectors/). A slot keeps every WAL segment from its restart LSN on: while the connector is stopped, paused or
 * behind, the Odoo server's disk fills with WAL (README "Run it on your cluster", docs/operations.md). Any role may
 * read pg_replication_slots and the WAL position, so the read-only pipeline role is enough.
 */
export interface SlotHealth {
  slot: string;
  plugin: string | null;
  active: boolean;
  /** WAL the server keeps for this slot: current WAL position − restart_lsn */
  retainedBytes: number;
  /** WAL not yet confirmed by the consumer: current WAL position − confirmed_flush_lsn */
  confirmedFlushLagBytes: number;
  /** reserved | extended | unreserved | lost (PostgreSQL 13+) */
  walStatus: string | null;
}

export async function replicationSlots(db: Pick<Pool, 'query'>): Promise<SlotHealth[]> {
  const r = await db.query<{
    slot_name: string;
    plugin: string | null;
    active: boolean;
    retained: string | null;
    flush_lag: string | null;
    wal_status: string | null;
  }>(
    `SELECT slot_name::text, plugin::text, active,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained,
            pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS flush_lag,
            wal_status
       FROM pg_replication_slots
      WHERE slot_type = 'logical' AND database = current_database()
      ORDER BY slot_name`,
  );
  return r.rows.map((x) => ({
    slot: x.slot_name,
    plugin: x.plugin,
    active: x.active,
    retainedBytes: Number(x.retained ?? 0),
    confirmedFlushLagBytes: Number(x.flush_lag ?? 0),
    walStatus: x.wal_status,
  }));
}

/** The warnings an operator must act on: a slot no consumer reads, too much retained WAL, WAL already lost. */
export function slotWarnings(slots: readonly SlotHealth[], warnBytes: number): string[] {
  const out: string[] = [];
  if (slots.length === 0)
    out.push('no logical replication slot on the Odoo database (is the connector set up?)');
  for (const s of slots) {
    if (!s.active) out.push(`slot ${s.slot} is not active: no connector reads it, WAL accumulates`);
    if (s.retainedBytes >= warnBytes)
      out.push(
        `slot ${s.slot} retains ${formatBytes(s.retainedBytes)} of WAL (warning threshold ${formatBytes(warnBytes)}, REPLICATION_SLOT_WARN_BYTES)`,
      );
    if (s.walStatus === 'lost' || s.walStatus === 'unreserved')
      out.push(
        `slot ${s.slot} wal_status=${s.walStatus}: WAL it needs is (about to be) removed, a resync follows`,
      );
  }
  return out;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
