/**
 * The index of dead letters by consumer group, stage and source position (table dead_letter, schemas/state/070-dead-letter-index.sql).
 * `claim` is asked before a dead letter is published: it answers false when a copy of the same message from the
 * same stage is already in the dead-letter topic and not replayed (a replay of the group failed it again), and
 * otherwise takes the key; `published` records where the copy landed, `release` gives the key back when the publish
 * failed (the message is then retried and published later).
 */
import type { Pool } from 'pg';
import type { DeadLetterIndex, DeadLetterKey } from '../kafka/dlq';

const KEY = `stage = $1 AND source_topic = $2 AND source_partition = $3 AND source_offset = $4 AND consumer_group = $5`;
const keyParams = (k: DeadLetterKey) => [k.stage, k.topic, k.partition, k.offset, k.group];

export class PgDeadLetterIndex implements DeadLetterIndex {
  /** Set when the table is missing (migration 070 not applied yet): dead letters are then published unindexed. */
  private missing = false;

  constructor(private readonly pool: Pool) {}

  async claim(
    key: DeadLetterKey,
    d: { code: string; reason: string; attempts: number },
  ): Promise<{ claimed: true } | { claimed: false; copy: string | null }> {
    if (this.missing) return { claimed: true };
    try {
      return await this.claimKey(key, d);
    } catch (e) {
      // undefined_table: a process newer than its state database (a rolling deploy before the migration ran) must
      // still dead-letter; it only cannot recognise copies
      if ((e as { code?: string }).code !== '42P01') throw e;
      this.missing = true;
      return { claimed: true };
    }
  }

  private async claimKey(
    key: DeadLetterKey,
    d: { code: string; reason: string; attempts: number },
  ): Promise<{ claimed: true } | { claimed: false; copy: string | null }> {
    // Taken when the key is new, or its earlier copy was never published or has been replayed since.
    const r = await this.pool.query(
      `INSERT INTO dead_letter AS dl
         (stage, source_topic, source_partition, source_offset, consumer_group, code, reason, attempts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (consumer_group, stage, source_topic, source_partition, source_offset) DO UPDATE
         SET code = EXCLUDED.code, reason = EXCLUDED.reason, attempts = EXCLUDED.attempts, failed_at = now(),
             dlq_topic = NULL, dlq_partition = NULL, dlq_offset = NULL
         WHERE dl.dlq_offset IS NULL
            OR EXISTS (SELECT 1 FROM dlq_replay r
                        WHERE r.dlq_topic = dl.dlq_topic AND r.dlq_partition = dl.dlq_partition
                          AND r.dlq_offset = dl.dlq_offset)
       RETURNING 1`,
      [...keyParams(key), d.code, d.reason, d.attempts],
    );
    if (r.rowCount === 1) return { claimed: true };
    const seen = await this.pool.query<{ dlq_partition: number | null; dlq_offset: string | null }>(
      `UPDATE dead_letter SET repeats = repeats + 1 WHERE ${KEY} RETURNING dlq_partition, dlq_offset`,
      keyParams(key),
    );
    const row = seen.rows[0];
    return {
      claimed: false,
      copy: row && row.dlq_offset !== null ? `${row.dlq_partition}:${row.dlq_offset}` : null,
    };
  }

  async published(
    key: DeadLetterKey,
    at: { topic: string; partition: number; offset: string | null },
  ): Promise<void> {
    if (this.missing) return;
    await this.pool.query(
      `UPDATE dead_letter SET dlq_topic = $6, dlq_partition = $7, dlq_offset = $8 WHERE ${KEY}`,
      [...keyParams(key), at.topic, at.partition, at.offset ?? -1],
    );
  }

  async release(key: DeadLetterKey): Promise<void> {
    if (this.missing) return;
    await this.pool.query(`DELETE FROM dead_letter WHERE ${KEY} AND dlq_offset IS NULL`, keyParams(key));
  }
}
