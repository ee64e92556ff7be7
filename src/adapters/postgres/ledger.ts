/**
 * The sync ledger (thin SQL adapter over the pipeline's own database): which intents are finished, which OpenCell
 * effects were applied, which OpenCell objects map to which Odoo records. Outcomes are written together with their
 * outbox event in one statement, hence one transaction (no dual write).
 */
import { Pool, type PoolClient } from 'pg';
import { checkFence, fencedError, withFencedWrite, type FenceToken } from './fence';
import { newEventId, outboxInsertSql, outboxRowValues } from './outbox-store';
import { OutboxWakeup } from './outbox-wakeup';
import type { SyncEvent } from '../../domain/outbox/events';
import { oneShotIdentity, type OcOperation } from '../../domain/projection/plan';
import type { IntentMessage } from '../../domain/intents/message';

export type IntentOutcome = 'applied' | 'skipped' | 'failed' | 'dead_lettered';

export interface EntityChange {
  entity: 'customer' | 'customer_account' | 'subscription' | 'access' | 'service_instance' | 'one_shot';
  code: string;
  odooModel: string;
  odooId: number;
  partnerId: number | null;
  status: 'active' | 'terminated' | 'deleted' | 'applied';
  data?: Record<string, unknown>;
}

export interface IntentResult {
  outcome: IntentOutcome;
  calls: string[];
  strategy?: string;
  note?: string;
  entities: EntityChange[];
  opencell: { entity: string; code: string | null };
  /** The Odoo record the intent is about (its kind's `odooRecord`). */
  odooRecord: { model: string; id: number };
  odooRef: string | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  attempt: number;
}

/**
 * Ledger outcomes are monotonic: applied > skipped > dead_lettered > failed. A later write replaces a row's outcome
 * only with a higher one (or repeats a non-final one: a dead letter dead-lettered again records its last attempt);
 * `applied` is final. A write that would regress an outcome (e.g. `dead_lettered` after `applied`, when a success
 * was dead-lettered anyway around a rebalance) changes nothing and emits no sync event.
 */
export const OUTCOME_RANK: Readonly<Record<IntentOutcome, number>> = {
  failed: 1,
  dead_lettered: 2,
  skipped: 3,
  applied: 4,
};

/** True when a ledger row with outcome `current` takes `next` (the rule the SQL below applies). */
export function outcomeMayReplace(current: IntentOutcome, next: IntentOutcome): boolean {
  return (
    OUTCOME_RANK[next] > OUTCOME_RANK[current] ||
    (next === current && (current === 'failed' || current === 'dead_lettered'))
  );
}

function outcomeRankSql(column: string): string {
  const cases = Object.entries(OUTCOME_RANK)
    .map(([o, r]) => `WHEN '${o}' THEN ${r}`)
    .join(' ');
  return `(CASE ${column} ${cases} ELSE 0 END)`;
}

/**
 * The intent and entity upserts of FINISH_SQL and FINISH_FENCED_SQL, written once: `only` is a condition every row
 * must meet (the fence check), or empty. The intent's outcome follows OUTCOME_RANK.
 */
function finishUpsertsSql(only: string): string {
  const where = only ? ` WHERE ${only}` : '';
  return `intent AS (
         INSERT INTO ledger_intent (intent_id, kind, aggregate_key, odoo_model, odoo_id, source_table, source_lsn, source_tx_id,
                                    outcome, calls, attempts, error_code, error_message)
         SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13${where}
         ON CONFLICT (intent_id) DO UPDATE SET outcome = EXCLUDED.outcome, calls = EXCLUDED.calls,
           attempts = EXCLUDED.attempts, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
           updated_at = now()
         WHERE ${outcomeRankSql('EXCLUDED.outcome')} > ${outcomeRankSql('ledger_intent.outcome')}
            OR (EXCLUDED.outcome = ledger_intent.outcome AND ledger_intent.outcome IN ('failed', 'dead_lettered'))
         RETURNING 1
       ), entity AS (
         INSERT INTO ledger_entity (entity, code, odoo_model, odoo_id, partner_id, status, data)
         SELECT e.entity, e.code, e.odoo_model, e.odoo_id, e.partner_id, e.status, COALESCE(e.data, '{}'::jsonb)
           FROM jsonb_to_recordset($14::jsonb)
             AS e(entity text, code text, odoo_model text, odoo_id bigint, partner_id bigint, status text, data jsonb)${where}
         ON CONFLICT (entity, code) DO UPDATE SET status = EXCLUDED.status, odoo_model = EXCLUDED.odoo_model,
           odoo_id = EXCLUDED.odoo_id, partner_id = COALESCE(EXCLUDED.partner_id, ledger_entity.partner_id),
           data = ledger_entity.data || EXCLUDED.data, updated_at = now()
         RETURNING 1
       )`;
}

/**
 * The intent, its entities and its outbox event: one statement (data-modifying CTEs, all or nothing). The outbox
 * row is written only when the intent row was.
 */
const FINISH_SQL = `WITH ${finishUpsertsSql('')}
       ${outboxInsertSql(15, 'EXISTS (SELECT 1 FROM intent)')}`;

/**
 * FINISH_SQL fenced (issue 15 §2) in the same single statement: it locks the partition's fence row FOR SHARE and
 * writes only while the row holds the caller's epoch, returning the epoch it found. One statement is one
 * transaction, so the lock is held until its writes commit (a take waits for them) — the guarantee of a
 * BEGIN / SELECT … FOR SHARE / write / COMMIT transaction in one round trip instead of four (issue 17: the
 * projector's state-database round trips per intent).
 */
const FINISH_FENCED_SQL = `WITH fence AS (
         SELECT epoch::text AS epoch FROM sync_fence WHERE group_id = $22 AND topic = $23 AND partition = $24 FOR SHARE
       ), ok AS (
         SELECT 1 FROM fence WHERE epoch = $25::text
       ), ${finishUpsertsSql('EXISTS (SELECT 1 FROM ok)')}, event AS (
         ${outboxInsertSql(15, 'EXISTS (SELECT 1 FROM intent)')}
         RETURNING 1
       )
       SELECT (SELECT epoch FROM fence) AS epoch`;

/** An intent message of any registered kind (the ledger stores the kind by name). */
export type LedgerIntentMessage = Omit<IntentMessage, 'intent'> & { intent: { kind: string } };

/** What the projector and the executor need of the ledger (the class below; an in-memory one in tests). */
export interface LedgerPort {
  /**
   * True when the intent was already applied or skipped (a replay). With `fence`, it also throws FencedError unless
   * the fence is still its partition's epoch (checked first, in the same round trip).
   */
  isFinished(intentId: string, fence?: FenceToken): Promise<boolean>;
  appliedEffects(keys: string[]): Promise<Set<string>>;
  hasEffect(key: string): Promise<boolean>;
  recordedEffects(keys: readonly string[]): Promise<Map<string, string>>;
  recordEffect(
    intentId: string,
    op: OcOperation,
    outcome: 'applied' | 'already_present',
    fence?: FenceToken,
  ): Promise<void>;
  beginEffect(intentId: string, op: OcOperation, fence?: FenceToken): Promise<'first' | 'tried' | 'done'>;
  accountedOneShots(subscriptionCode: string, chargeCode: string, exceptKey: string): Promise<number>;
  finish(msg: LedgerIntentMessage, result: IntentResult, fence?: FenceToken): Promise<SyncEvent>;
  /** Throws FencedError unless `fence` is still its partition's epoch (before an OpenCell call). */
  checkFence(fence: FenceToken | undefined): Promise<void>;
}

export class Ledger implements LedgerPort {
  private readonly wakeup: OutboxWakeup;

  constructor(
    private readonly pool: Pool,
    private readonly syncEventsTopic: string,
  ) {
    this.wakeup = new OutboxWakeup(pool);
  }

  async checkFence(fence: FenceToken | undefined): Promise<void> {
    if (fence) await checkFence(this.pool, fence);
  }

  /**
   * One ledger write: fenced (issue 15 §2), it runs in a transaction that first checks the partition's epoch and holds
   * it FOR SHARE, so the write commits only while this instance owns the partition; unfenced, on the pool.
   */
  private write<T>(
    fence: FenceToken | undefined,
    fn: (q: Pick<PoolClient, 'query'>) => Promise<T>,
  ): Promise<T> {
    return withFencedWrite(this.pool, fence, fn);
  }

  /** True when the intent was already applied or skipped (a replay): nothing to do. Fenced: see LedgerPort. */
  async isFinished(intentId: string, fence?: FenceToken): Promise<boolean> {
    if (fence) {
      const r = await this.pool.query<{ epoch: string | null; outcome: string | null }>({
        name: 'ledger_is_finished_fenced',
        text: `SELECT (SELECT epoch::text FROM sync_fence WHERE group_id = $2 AND topic = $3 AND partition = $4) AS epoch,
                      (SELECT outcome FROM ledger_intent WHERE intent_id = $1) AS outcome`,
        values: [intentId, fence.groupId, fence.topic, fence.partition],
      });
      const row = r.rows[0];
      if (row?.epoch !== fence.epoch) throw fencedError(fence, row?.epoch ?? undefined);
      return ['applied', 'skipped'].includes(String(row.outcome));
    }
    const r = await this.pool.query({
      name: 'ledger_is_finished',
      text: `SELECT outcome FROM ledger_intent WHERE intent_id = $1`,
      values: [intentId],
    });
    return (
      r.rowCount !== null && r.rowCount > 0 && ['applied', 'skipped'].includes(String(r.rows[0].outcome))
    );
  }

  /** The effect keys among `keys` that are done (applied, or found already present); 'pending' ones are not. */
  async appliedEffects(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const r = await this.pool.query<{ effect_key: string }>(
      `SELECT effect_key FROM ledger_effect WHERE effect_key = ANY($1) AND outcome <> 'pending'`,
      [keys],
    );
    return new Set(r.rows.map((x) => x.effect_key));
  }

  async hasEffect(key: string): Promise<boolean> {
    return (await this.appliedEffects([key])).has(key);
  }

  /**
   * The effect keys among `keys` with a row of any outcome, 'pending' (written ahead of a call) included, each with the
   * intent that wrote it.
   */
  async recordedEffects(keys: readonly string[]): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map();
    const r = await this.pool.query<{ effect_key: string; intent_id: string }>(
      `SELECT effect_key, intent_id FROM ledger_effect WHERE effect_key = ANY($1)`,
      [keys],
    );
    return new Map(r.rows.map((x) => [x.effect_key, x.intent_id]));
  }

  /** Recorded right after the OpenCell call succeeded, before the next operation of the plan. */
  async recordEffect(
    intentId: string,
    op: OcOperation,
    outcome: 'applied' | 'already_present',
    fence?: FenceToken,
  ): Promise<void> {
    await this.write(fence, (q) =>
      q.query(
        `INSERT INTO ledger_effect (effect_key, intent_id, op, opencell_code, outcome, charge_code) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (effect_key) DO UPDATE SET outcome = EXCLUDED.outcome, intent_id = EXCLUDED.intent_id, applied_at = now()
         WHERE ledger_effect.outcome = 'pending'`,
        [op.key, intentId, op.op, codeOfOp(op), outcome, chargeCodeOf(op)],
      ),
    );
  }

  /**
   * Write-ahead, stored before the call (one-shots, which OpenCell cannot deduplicate, and every create of a create
   * plan, so that a plan cut short knows what it started): 'first' when this is the first try,
   * 'tried' when an earlier try left its 'pending' row (it may have reached OpenCell), 'done' when it is recorded.
   */
  async beginEffect(
    intentId: string,
    op: OcOperation,
    fence?: FenceToken,
  ): Promise<'first' | 'tried' | 'done'> {
    // The outer SELECT reads the table as it was before the statement: `existing` is what an earlier try left.
    const r = await this.write(fence, (q) =>
      q.query<{ inserted: number; existing: string | null }>(
        `WITH ins AS (
         INSERT INTO ledger_effect (effect_key, intent_id, op, opencell_code, outcome, charge_code)
         VALUES ($1, $2, $3, $4, 'pending', $5)
         ON CONFLICT (effect_key) DO NOTHING RETURNING 1)
       SELECT (SELECT count(*)::int FROM ins) AS inserted,
              (SELECT outcome FROM ledger_effect WHERE effect_key = $1) AS existing`,
        [op.key, intentId, op.op, codeOfOp(op), chargeCodeOf(op)],
      ),
    );
    const row = r.rows[0];
    if (row.inserted === 1) return 'first';
    return row.existing === 'pending' ? 'tried' : 'done';
  }

  /** How many of a subscription's one-shot charges of this code the ledger accounts for, leaving out `exceptKey`. */
  async accountedOneShots(subscriptionCode: string, chargeCode: string, exceptKey: string): Promise<number> {
    const r = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ledger_effect
        WHERE opencell_code = $1 AND charge_code = $2 AND outcome <> 'pending' AND effect_key <> $3`,
      [subscriptionCode, chargeCode, exceptKey],
    );
    return r.rows[0].n;
  }

  /**
   * The intent's outcome, its entity mappings and its sync event, atomically: one statement (data-modifying CTEs
   * run to completion together or not at all), i.e. one round trip and one commit per intent.
   */
  async finish(msg: LedgerIntentMessage, result: IntentResult, fence?: FenceToken): Promise<SyncEvent> {
    const record = result.odooRecord;
    const event: SyncEvent = {
      eventId: newEventId(),
      occurredAt: Date.now(),
      source: {
        table: msg.source.table,
        lsn: msg.source.lsn,
        txId: msg.source.txId,
        topic: msg.source.topic,
        partition: msg.source.partition,
        offset: msg.source.offset,
      },
      odoo: { model: record.model, id: record.id, ref: result.odooRef },
      opencell: result.opencell,
      action: msg.intent.kind,
      outcome: result.outcome,
      calls: result.calls,
      errorCode: result.errorCode ?? null,
      errorMessage: result.errorMessage ?? null,
      attempt: result.attempt,
    };
    const outbox = outboxRowValues({
      type: 'SyncOutcome',
      topic: this.syncEventsTopic,
      aggregateType: 'partner',
      aggregateId: msg.aggregateKey,
      payload: event,
    });
    const values = [
      msg.intentId,
      msg.intent.kind,
      msg.aggregateKey,
      record.model,
      record.id,
      msg.source.table,
      msg.source.lsn,
      msg.source.txId,
      result.outcome,
      JSON.stringify(result.calls),
      result.attempt,
      result.errorCode ?? null,
      result.errorMessage ?? null,
      JSON.stringify(mergeEntities(result.entities)),
      ...outbox,
    ];
    if (fence) {
      const r = await this.pool.query<{ epoch: string | null }>({
        name: 'ledger_finish_fenced',
        text: FINISH_FENCED_SQL,
        values: [...values, fence.groupId, fence.topic, fence.partition, fence.epoch],
      });
      const current = r.rows[0]?.epoch ?? undefined;
      if (current !== fence.epoch) throw fencedError(fence, current);
    } else await this.pool.query({ name: 'ledger_finish', text: FINISH_SQL, values });
    this.wakeup.poke();
    return event;
  }
}

/**
 * One row per (entity, code), as successive upserts would leave it (one statement cannot upsert a row twice): the
 * last status and Odoo record, the last known partner, the data merged in order.
 */
export function mergeEntities(entities: readonly EntityChange[]): Record<string, unknown>[] {
  const rows = new Map<
    string,
    {
      entity: string;
      code: string;
      odoo_model: string;
      odoo_id: number;
      partner_id: number | null;
      status: string;
      data: Record<string, unknown>;
    }
  >();
  for (const e of entities) {
    const k = `${e.entity}\u0000${e.code}`;
    const prev = rows.get(k);
    rows.set(k, {
      entity: e.entity,
      code: e.code,
      odoo_model: e.odooModel,
      odoo_id: e.odooId,
      partner_id: e.partnerId ?? prev?.partner_id ?? null,
      status: e.status,
      data: { ...(prev?.data ?? {}), ...(e.data ?? {}) },
    });
  }
  return [...rows.values()];
}

/** The one-shot charge code of an operation (for the effect row), null for others. */
export function chargeCodeOf(op: OcOperation): string | null {
  if (op.op !== 'applyOneShotChargeInstance') return null;
  return typeof op.body.oneShotCharge === 'string' ? oneShotIdentity(op.body) : null;
}

/** The OpenCell code an operation creates or changes (for the effect row). */
export function codeOfOp(op: OcOperation): string | null {
  const b = op.body as unknown as Record<string, unknown>;
  switch (op.op) {
    case 'activateServices':
    case 'applyOneShotChargeInstance':
    case 'terminateServices':
    case 'terminateSubscription':
      return typeof b.subscription === 'string' ? b.subscription : null;
    case 'deleteAccess':
      return typeof b.code === 'string' ? b.code : null;
    default:
      return typeof b.code === 'string' ? b.code : null;
  }
}

/** An effect row as an operator command reads it (`compensate`: was this caller key applied?). */
export interface EffectRecord {
  intentId: string;
  outcome: string;
  opencellCode: string | null;
  chargeCode: string | null;
  appliedAt: Date;
}

export async function readEffect(pool: Pool, key: string): Promise<EffectRecord | null> {
  const r = await pool.query<{
    intent_id: string;
    outcome: string;
    opencell_code: string | null;
    charge_code: string | null;
    applied_at: Date;
  }>(
    `SELECT intent_id, outcome, opencell_code, charge_code, applied_at FROM ledger_effect WHERE effect_key = $1`,
    [key],
  );
  const row = r.rows[0];
  if (!row) return null;
  return {
    intentId: row.intent_id,
    outcome: row.outcome,
    opencellCode: row.opencell_code,
    chargeCode: row.charge_code,
    appliedAt: row.applied_at,
  };
}

/** The state database's clock (to wait for an intent's outcome recorded after a given moment). */
export async function ledgerNow(pool: Pool): Promise<Date> {
  return (await pool.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0].now;
}

/** The outcome of an intent recorded (or updated) at or after `since`, polled until `timeoutMs`; null if none. */
export async function awaitIntentOutcome(
  pool: Pool,
  intentId: string,
  since: Date,
  timeoutMs: number,
  pollMs = 250,
): Promise<{ outcome: IntentOutcome; errorMessage: string | null; calls: string[] } | null> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await pool.query<{ outcome: IntentOutcome; error_message: string | null; calls: string[] }>(
      `SELECT outcome, error_message, calls FROM ledger_intent WHERE intent_id = $1 AND updated_at >= $2`,
      [intentId, since],
    );
    if (r.rows[0])
      return { outcome: r.rows[0].outcome, errorMessage: r.rows[0].error_message, calls: r.rows[0].calls };
    if (Date.now() >= until) return null;
    await new Promise((res) => setTimeout(res, pollMs));
  }
}
