/**
 * The held intents of the state database (schemas/state/090-held-intent.sql): terminations the projector keeps until
 * the original's ETA (src/domain/intents/hold.ts), released by the scheduler (src/flows/projection/held-intents.ts).
 */
import type { Pool } from 'pg';
import { lockFenceShared, type FenceToken } from './fence';

export interface HeldIntentRow {
  intentId: string;
  aggregateKey: string;
  kind: string;
  notBefore: number;
  /** the intent message as it was on the intents topic */
  message: Record<string, unknown>;
}

export interface HeldIntentsPort {
  /**
   * Keeps an intent until `notBefore` (epoch ms); a second hold of the same intent (a replay) keeps the first row.
   * Checked against the partition's fence in the same transaction, like every ledger write.
   */
  hold(
    msg: { intentId: string; aggregateKey: string; contractId: number | null; intent: { kind: string } },
    notBefore: number,
    fence?: FenceToken,
  ): Promise<void>;
}

/** The held intents of one intents topic (INTENTS_TOPIC): each is released onto the topic it came from. */
export class PgHeldIntents implements HeldIntentsPort {
  constructor(
    private readonly pool: Pool,
    private readonly topic: string,
  ) {}

  async hold(
    msg: { intentId: string; aggregateKey: string; contractId: number | null; intent: { kind: string } },
    notBefore: number,
    fence?: FenceToken,
  ): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      if (fence) await lockFenceShared(c, fence);
      await c.query(
        `INSERT INTO held_intent (topic, intent_id, aggregate_key, kind, contract_id, not_before, message)
         VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision / 1000), $7::jsonb)
         ON CONFLICT (topic, intent_id) DO NOTHING`,
        [
          this.topic,
          msg.intentId,
          msg.aggregateKey,
          msg.intent.kind,
          msg.contractId,
          notBefore,
          JSON.stringify(msg),
        ],
      );
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  /**
   * Runs `publish` on the intents due at `nowMs` (oldest first, at most `limit`), each row locked (SKIP LOCKED: two
   * schedulers never publish one row at once), and deletes each one it published. Returns how many.
   */
  async releaseDue(
    nowMs: number,
    limit: number,
    publish: (rows: HeldIntentRow[]) => Promise<void>,
  ): Promise<number> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await c.query<{
        intent_id: string;
        aggregate_key: string;
        kind: string;
        not_before: Date;
        message: Record<string, unknown>;
      }>(
        `SELECT intent_id, aggregate_key, kind, not_before, message FROM held_intent
          WHERE topic = $3 AND not_before <= to_timestamp($1::double precision / 1000)
          ORDER BY not_before, held_at, intent_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [nowMs, limit, this.topic],
      );
      const rows = r.rows.map((x) => ({
        intentId: x.intent_id,
        aggregateKey: x.aggregate_key,
        kind: x.kind,
        notBefore: x.not_before.getTime(),
        message: x.message,
      }));
      if (rows.length) {
        await publish(rows);
        await c.query('DELETE FROM held_intent WHERE topic = $1 AND intent_id = ANY($2)', [
          this.topic,
          rows.map((x) => x.intentId),
        ]);
      }
      await c.query('COMMIT');
      return rows.length;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  /** The held intents (oldest due first), for status and tests. */
  async list(): Promise<HeldIntentRow[]> {
    const r = await this.pool.query<{
      intent_id: string;
      aggregate_key: string;
      kind: string;
      not_before: Date;
      message: Record<string, unknown>;
    }>(
      'SELECT intent_id, aggregate_key, kind, not_before, message FROM held_intent ORDER BY not_before, intent_id',
    );
    return r.rows.map((x) => ({
      intentId: x.intent_id,
      aggregateKey: x.aggregate_key,
      kind: x.kind,
      notBefore: x.not_before.getTime(),
      message: x.message,
    }));
  }
}
