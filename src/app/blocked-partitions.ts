/**
 * The partitions blocked now in this process, per stage, kept from the keyed consumers' 'blocked' / 'unblocked'
 * events (src/adapters/kafka/keyed-consumer.ts). A partition is blocked while it pauses on a failure: an OpenCell or
 * Odoo outage is retried until it ends (docs/decisions/0009-outages-block.md), so the wait must be visible. Read by
 * the gauges `sync_blocked_partitions` and `sync_blocked_oldest_message_age_seconds` (src/app/metrics.ts) and by
 * the readiness check `blocked-partitions`, which reports the process degraded with each partition's error code —
 * never an error message, which could carry customer data.
 */
import type { BlockedPartition, KeyedConsumerEvent } from '../adapters/kafka/keyed-consumer';

export interface BlockedEntry extends BlockedPartition {
  stage: string;
}

export class BlockedPartitions {
  private readonly byStage = new Map<string, Map<string, BlockedPartition>>();

  /** Every consumer event of a stage (the stage is known from its first event, so its gauges read 0). */
  observe(stage: string, e: KeyedConsumerEvent): void {
    let m = this.byStage.get(stage);
    if (!m) this.byStage.set(stage, (m = new Map()));
    if (e.type === 'blocked') {
      const { type: _type, ...b } = e;
      m.set(`${e.topic}/${e.partition}`, b);
    } else if (e.type === 'unblocked') m.delete(`${e.topic}/${e.partition}`);
  }

  stages(): string[] {
    return [...this.byStage.keys()];
  }

  /** Blocked partitions, the longest blocked first. */
  list(stage?: string): BlockedEntry[] {
    const out: BlockedEntry[] = [];
    for (const [s, m] of this.byStage)
      if (stage === undefined || s === stage) for (const b of m.values()) out.push({ stage: s, ...b });
    return out.sort((a, b) => a.since - b.since);
  }

  /** Seconds since the oldest message a blocked partition of `stage` waits on was written (0: none blocked). */
  oldestMessageAgeSeconds(stage: string, now = Date.now()): number {
    const oldest = Math.min(...this.list(stage).map((b) => b.messageTimestamp));
    return Number.isFinite(oldest) ? Math.max(0, now - oldest) / 1000 : 0;
  }

  /**
   * One line for /readyz: undefined when nothing is blocked, else each blocked partition with its stage, error
   * code, how long it has been blocked, its tries and its next try.
   */
  describe(now = Date.now()): string | undefined {
    const all = this.list();
    if (all.length === 0) return undefined;
    const one = (b: BlockedEntry) =>
      `${b.stage} ${b.topic}[${b.partition}] blocked for ${Math.round((now - b.since) / 1000)} s on ${b.code}` +
      ` at offset ${b.offset} (attempt ${b.attempt}, next try in ${Math.round(b.retryInMs / 1000)} s)`;
    return `${all.length} partition${all.length === 1 ? '' : 's'} blocked: ${all.map(one).join('; ')}`;
  }
}
