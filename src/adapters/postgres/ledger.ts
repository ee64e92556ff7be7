/**
 * The sync ledger (thin SQL adapter over the pipeline's own database): which intents are finished, which OpenCell
 * effects were applied, which OpenCell objects map to which Odoo records. Outcomes are written together with their
 * outbox event in one statement, hence one transaction (no dual write).
 */
import { Pool, type PoolClient } from 'pg';
import { fencedError, withFencedWrite, type FenceToken } from './fence';
import { newEventId, outboxInsertManySql, outboxRowJson, outboxRowValues } from './outbox-store';
import { OutboxWakeup } from './outbox-wakeup';
import type { SyncEvent } from '../../domain/outbox/events';
import { oneShotIdentity, type OcOperation } from '../../domain/projection/plan';
import type { IntentMessage } from '../../domain/intents/message';
import { Coalescer, type Pending } from '../../core/coalescer';
import { monotonicMs } from '../../core/call-lease';

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
 * The outcomes of one or more intents, their entities and their sync events: one statement (data-modifying CTEs, all
 * or nothing), from jsonb arrays ($1 intents, $2 entities, $3 outbox rows; entity and outbox rows name their intent).
 * The intents' outcomes follow OUTCOME_RANK; an outbox row is written only when its intent's row was. Rows are unique
 * per statement (one statement cannot upsert a row twice): the caller puts an intent or an entity met twice in the
 * next statement.
 *
 * Fenced (issue 15 §2): an intent row carries its partition and the epoch its writer holds (null: unfenced). The
 * statement locks those partitions' fence rows FOR SHARE and writes an intent, its entities and its event only while
 * its partition's row holds its epoch, returning the epochs it found (each fence row read by primary key: a locking
 * subquery is not turned into a join). One statement is one transaction, so the locks
 * are held until its writes commit (a take waits for them) — the guarantee of a BEGIN / SELECT … FOR SHARE / write /
 * COMMIT transaction in one round trip instead of four, and for every intent that finished meanwhile (issue 17: the
 * projector's state-database round trips per intent).
 */
const FINISH_SQL = `WITH req AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb)
           AS i(intent_id text, kind text, aggregate_key text, odoo_model text, odoo_id bigint, source_table text,
                source_lsn bigint, source_tx_id bigint, outcome text, calls jsonb, attempts integer, error_code text,
                error_message text, fence_group text, fence_topic text, fence_partition integer, fence_epoch text)
       ), fence AS (
         SELECT f.group_id, f.topic, f.partition, f.epoch
           FROM (SELECT DISTINCT fence_group, fence_topic, fence_partition FROM req WHERE fence_epoch IS NOT NULL) p,
                LATERAL (SELECT s.group_id, s.topic, s.partition, s.epoch::text AS epoch FROM sync_fence s
                          WHERE s.group_id = p.fence_group AND s.topic = p.fence_topic AND s.partition = p.fence_partition
                            FOR SHARE) f
       ), ok AS (
         SELECT req.* FROM req
          WHERE req.fence_epoch IS NULL
             OR EXISTS (SELECT 1 FROM fence WHERE fence.group_id = req.fence_group AND fence.topic = req.fence_topic
                          AND fence.partition = req.fence_partition AND fence.epoch = req.fence_epoch)
       ), intent AS (
         INSERT INTO ledger_intent (intent_id, kind, aggregate_key, odoo_model, odoo_id, source_table, source_lsn, source_tx_id,
                                    outcome, calls, attempts, error_code, error_message)
         SELECT i.intent_id, i.kind, i.aggregate_key, i.odoo_model, i.odoo_id, i.source_table, i.source_lsn, i.source_tx_id,
                i.outcome, COALESCE(i.calls, '[]'::jsonb), i.attempts, i.error_code, i.error_message
           FROM ok AS i
         ON CONFLICT (intent_id) DO UPDATE SET outcome = EXCLUDED.outcome, calls = EXCLUDED.calls,
           attempts = EXCLUDED.attempts, error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
           updated_at = now()
         WHERE ${outcomeRankSql('EXCLUDED.outcome')} > ${outcomeRankSql('ledger_intent.outcome')}
            OR (EXCLUDED.outcome = ledger_intent.outcome AND ledger_intent.outcome IN ('failed', 'dead_lettered'))
         RETURNING intent_id
       ), entity AS (
         INSERT INTO ledger_entity (entity, code, odoo_model, odoo_id, partner_id, status, data)
         SELECT e.entity, e.code, e.odoo_model, e.odoo_id, e.partner_id, e.status, COALESCE(e.data, '{}'::jsonb)
           FROM jsonb_to_recordset($2::jsonb)
             AS e(intent_id text, entity text, code text, odoo_model text, odoo_id bigint, partner_id bigint, status text,
                  data jsonb)
          WHERE e.intent_id IN (SELECT intent_id FROM ok)
         ON CONFLICT (entity, code) DO UPDATE SET status = EXCLUDED.status, odoo_model = EXCLUDED.odoo_model,
           odoo_id = EXCLUDED.odoo_id, partner_id = COALESCE(EXCLUDED.partner_id, ledger_entity.partner_id),
           data = ledger_entity.data || EXCLUDED.data, updated_at = now()
         RETURNING 1
       ), event AS (
         ${outboxInsertManySql(3, 'o.intent_id IN (SELECT intent_id FROM intent)', 'intent_id text')}
         RETURNING 1
       )
       SELECT group_id, topic, partition, epoch FROM fence`;

/**
 * The replay checks and fence checks asked for meanwhile, in one read: the epoch of each partition and the outcome of
 * each intent asked about, from one jsonb array ($1: {group_id, topic, partition} or {intent_id} objects). One
 * statement, one snapshot: a replay check reads the fence in the same round trip as the intent's outcome.
 *
 * Written for a plan that never changes: the requests come as jsonb, which the planner estimates at the same number
 * of rows whatever its argument, so the generic plan of the prepared statement costs what a custom one does and the
 * server plans it once per session (with array parameters a custom plan for a batch of one looks cheaper, and the
 * server would plan again at every execution, about 1 ms each); each row is looked up by primary key in a scalar
 * subquery, which the planner does not turn into a join (a join planned while ledger_intent was small would scan it
 * whole at every read as it grows).
 */
const READ_SQL = `SELECT r.group_id, r.topic, r.partition, r.intent_id,
         CASE WHEN r.partition IS NOT NULL THEN
           (SELECT f.epoch::text FROM sync_fence f
             WHERE f.group_id = r.group_id AND f.topic = r.topic AND f.partition = r.partition) END AS epoch,
         CASE WHEN r.intent_id IS NOT NULL THEN
           (SELECT l.outcome FROM ledger_intent l WHERE l.intent_id = r.intent_id) END AS outcome
    FROM jsonb_to_recordset($1::jsonb) AS r(group_id text, topic text, partition integer, intent_id text)`;

/** A replay check (`intentId`) or a fence check (`renew`: a check before a call, which renews the call lease). */
interface ReadRequest {
  intentId?: string;
  fence?: FenceToken;
  renew?: boolean;
}

/** One intent's outcome as FINISH_SQL's rows, ready to be joined into its arrays. */
interface FinishRequest {
  intentId: string;
  /** the intent row (with its fence), its outbox row (JSON objects) and its entity rows */
  intent: string;
  outbox: string;
  entities: Record<string, unknown>[];
  entityKeys: string[];
  event: SyncEvent;
  fence?: FenceToken;
}

/** How the ledger batches its reads and outcome writes (issue 17). */
export interface LedgerOptions {
  /**
   * Requests per statement at most (default DEFAULT_LEDGER_BATCH); 1 sends each replay check, fence check and outcome
   * in a statement of its own, as before batching (bench/fence.ts compares both).
   */
  maxBatch?: number;
  /** Read statements and outcome statements in flight at once, each (default 2). */
  maxInFlight?: number;
}

export const DEFAULT_LEDGER_BATCH = 64;

const fenceKey = (f: FenceToken): string => `${f.groupId}\n${f.topic}\n${f.partition}`;

/** An intent message of any registered kind (the ledger stores the kind by name). */
export type LedgerIntentMessage = Omit<IntentMessage, 'intent'> & { intent: { kind: string } };

/** What the projector and the executor need of the ledger (the class below; an in-memory one in tests). */
export interface LedgerPort {
  /**
   * True when the intent was already applied or skipped (a replay). With `fence`, it also throws FencedError unless
   * the fence is still its partition's epoch (checked first, in the same round trip).
   */
  isFinished(intentId: string, fence?: FenceToken): Promise<boolean>;
  /** The intents among these that are applied or skipped, in one read with no fence (the router's replay check). */
  finishedAmong(intentIds: readonly string[]): Promise<Set<string>>;
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
  /** replay checks and fence checks made meanwhile, read together */
  private readonly reads: Coalescer<ReadRequest, boolean>;
  /** outcomes of intents finished meanwhile, written together (each under its own partition's fence) */
  private readonly finishes: Coalescer<FinishRequest, SyncEvent>;

  constructor(
    private readonly pool: Pool,
    private readonly syncEventsTopic: string,
    opts: LedgerOptions = {},
  ) {
    this.wakeup = new OutboxWakeup(pool);
    const maxBatch = Math.max(1, opts.maxBatch ?? DEFAULT_LEDGER_BATCH);
    // Batching, a few statements of each kind in flight (the pool serves the rest of the pipeline too): what is asked
    // while they run leaves together in the next. Unbatched, each request on its own, as many at once as asked.
    const maxInFlight = maxBatch === 1 ? Number.POSITIVE_INFINITY : Math.max(1, opts.maxInFlight ?? 2);
    this.reads = new Coalescer((_k, batch) => this.readBatch(batch), { maxBatch, maxInFlight });
    this.finishes = new Coalescer((_k, batch) => this.finishBatch(batch), {
      maxBatch,
      maxInFlight,
      accepts: (batch, next) =>
        !batch.some(
          (r) => r.intentId === next.intentId || r.entityKeys.some((k) => next.entityKeys.includes(k)),
        ),
    });
  }

  /** Throws FencedError unless `fence` is still its partition's epoch; read with the other checks made meanwhile. */
  async checkFence(fence: FenceToken | undefined): Promise<void> {
    if (fence) await this.reads.submit('', { fence, renew: true });
  }

  /** The replay and fence checks of one read (READ_SQL); a fence check renews its lease from when the read left. */
  private async readBatch(batch: readonly Pending<ReadRequest, boolean>[]): Promise<void> {
    const partitions = new Map<string, FenceToken>();
    const ids = new Set<string>();
    for (const { req } of batch) {
      if (req.fence) partitions.set(fenceKey(req.fence), req.fence);
      if (req.intentId !== undefined) ids.add(req.intentId);
    }
    const fences = [...partitions.values()];
    const sentAt = monotonicMs();
    const r = await this.pool.query<{
      group_id: string | null;
      topic: string | null;
      partition: number | null;
      intent_id: string | null;
      epoch: string | null;
      outcome: string | null;
    }>({
      name: 'ledger_read',
      text: READ_SQL,
      values: [
        JSON.stringify([
          ...fences.map((f) => ({ group_id: f.groupId, topic: f.topic, partition: f.partition })),
          ...[...ids].map((id) => ({ intent_id: id })),
        ]),
      ],
    });
    const epochs = new Map<string, string>();
    const finished = new Set<string>();
    for (const row of r.rows) {
      if (row.intent_id !== null) {
        if (row.outcome === 'applied' || row.outcome === 'skipped') finished.add(row.intent_id);
      } else if (row.epoch !== null)
        epochs.set(
          fenceKey({
            groupId: row.group_id!,
            topic: row.topic!,
            partition: row.partition!,
            epoch: row.epoch,
          }),
          row.epoch,
        );
    }
    for (const { req, resolve, reject } of batch) {
      if (req.fence) {
        const current = epochs.get(fenceKey(req.fence));
        if (current !== req.fence.epoch) {
          reject(fencedError(req.fence, current));
          continue;
        }
        if (req.renew) req.fence.lease?.renew(sentAt);
      }
      resolve(req.intentId !== undefined && finished.has(req.intentId));
    }
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

  /**
   * True when the intent was already applied or skipped (a replay): nothing to do. Fenced: see LedgerPort. Read with
   * the other checks made meanwhile (READ_SQL), e.g. those of the other messages of a fetched batch.
   */
  async isFinished(intentId: string, fence?: FenceToken): Promise<boolean> {
    return this.reads.submit('', { intentId, fence });
  }

  /**
   * One statement for a fetched batch's intents, with no request per intent (the router's replay check, issue 17 §2:
   * a resync asks it for hundreds of thousands). An array parameter is planned at each execution (READ_SQL's note),
   * which a batch of hundreds of ids amortises; each id is looked up by primary key, the only index the statement
   * can use.
   */
  async finishedAmong(intentIds: readonly string[]): Promise<Set<string>> {
    if (intentIds.length === 0) return new Set();
    // the outcome is compared here, not in SQL: a condition on it could let the planner AND in the outcome index,
    // which holds nearly every row (a scan of the whole index per batch as the ledger grows)
    const r = await this.pool.query<{ intent_id: string; outcome: string }>(
      `SELECT intent_id, outcome FROM ledger_intent WHERE intent_id = ANY($1::text[])`,
      [intentIds],
    );
    const finished = new Set<string>();
    for (const x of r.rows) if (x.outcome === 'applied' || x.outcome === 'skipped') finished.add(x.intent_id);
    return finished;
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
   * run to completion together or not at all), shared with the other intents finished meanwhile (each under its own
   * partition's fence): one round trip and one commit for all of them.
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
    // built here, in the caller's context (the outbox row carries the caller's trace)
    const outbox = outboxRowValues({
      type: 'SyncOutcome',
      topic: this.syncEventsTopic,
      aggregateType: 'partner',
      aggregateId: msg.aggregateKey,
      payload: event,
    });
    const entities = mergeEntities(result.entities);
    const request: FinishRequest = {
      intentId: msg.intentId,
      intent: JSON.stringify({
        intent_id: msg.intentId,
        kind: msg.intent.kind,
        aggregate_key: msg.aggregateKey,
        odoo_model: record.model,
        odoo_id: record.id,
        source_table: msg.source.table,
        source_lsn: msg.source.lsn,
        source_tx_id: msg.source.txId,
        outcome: result.outcome,
        calls: result.calls,
        attempts: result.attempt,
        error_code: result.errorCode ?? null,
        error_message: result.errorMessage ?? null,
        fence_group: fence?.groupId ?? null,
        fence_topic: fence?.topic ?? null,
        fence_partition: fence?.partition ?? null,
        fence_epoch: fence?.epoch ?? null,
      }),
      outbox: outboxRowJson(outbox, { intent_id: msg.intentId }),
      entities: entities.map((e) => ({ ...e, intent_id: msg.intentId })),
      entityKeys: entities.map((e) => `${String(e.entity)}\u0000${String(e.code)}`),
      event,
      fence,
    };
    return this.finishes.submit('', request);
  }

  /**
   * The outcomes finished meanwhile in one statement (FINISH_SQL), each checked against its own partition's epoch. A
   * failed statement is tried again intent by intent, so that one intent's bad row fails that intent only.
   */
  private async finishBatch(batch: readonly Pending<FinishRequest, SyncEvent>[]): Promise<void> {
    let epochs: Map<string, string>;
    try {
      epochs = await this.finishStatement(batch.map((p) => p.req));
    } catch (e) {
      if (batch.length === 1) throw e;
      await Promise.all(batch.map((p) => this.finishBatch([p]).catch((err: unknown) => p.reject(err))));
      return;
    }
    for (const p of batch) {
      const fence = p.req.fence;
      const current = fence && epochs.get(fenceKey(fence));
      if (fence && current !== fence.epoch) p.reject(fencedError(fence, current));
      else p.resolve(p.req.event);
    }
  }

  /** The epochs FINISH_SQL found for the fenced partitions of `reqs` (by fenceKey). */
  private async finishStatement(reqs: readonly FinishRequest[]): Promise<Map<string, string>> {
    // rows in one order (intent ids, entity keys), so that concurrent statements lock shared rows in the same order
    const sorted = [...reqs].sort((a, b) => compare(a.intentId, b.intentId));
    const entities = sorted
      .flatMap((r) => r.entities.map((e, i) => ({ k: r.entityKeys[i], e })))
      .sort((a, b) => compare(a.k, b.k))
      .map((x) => x.e);
    const r = await this.pool.query<{ group_id: string; topic: string; partition: number; epoch: string }>({
      name: 'ledger_finish_many',
      text: FINISH_SQL,
      values: [
        `[${sorted.map((x) => x.intent).join(',')}]`,
        JSON.stringify(entities),
        `[${sorted.map((x) => x.outbox).join(',')}]`,
      ],
    });
    this.wakeup.poke();
    return new Map(
      r.rows.map((f) => [
        fenceKey({ groupId: f.group_id, topic: f.topic, partition: f.partition, epoch: f.epoch }),
        f.epoch,
      ]),
    );
  }
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

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
