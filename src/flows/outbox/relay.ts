/**
 * The outbox relay: publishes committed outbox rows to Kafka, Avro-encoded, and marks them published.
 *
 * Correctness argument:
 * - One active relay. Each relay holds a dedicated PostgreSQL session and publishes only while it holds the session
 *   advisory lock `lockKey` (pg_try_advisory_lock). A relay whose session dies loses the lock with it; a standby
 *   relay takes over within `pollMs`. With a single publisher there is no interleaving between batches.
 * - Order per aggregate. Rows are read in id order and sent in that order with one request in flight
 *   (acks=all, maxInFlightRequests=1, orderedWholeRetryProducer), keyed by aggregate id, so one aggregate's events land in one partition in
 *   id order. Writers of one aggregate are sequential (the keyed consumer orders them), so id order is their commit
 *   order. A row of another aggregate committed late (lower id, committed after a higher one was published) is
 *   still pending and is picked up by the next batch: nothing is skipped, because the relay reads
 *   `published_at IS NULL`, never "ids above a high-water mark".
 * - Nothing is lost, at worst repeated: a row is marked published only after Kafka acknowledged it — every message of
 *   the send: kafkajs's own in-send retry could resolve without a partition whose leader moved, so the producer does
 *   not retry inside a send, it re-sends the whole batch. A crash between send and mark publishes the same row again
 *   (same event id, header `event_id`): at-least-once.
 * - Registry down: rows stay pending; the relay retries with exponential backoff, then publishes. Schema ids are
 *   cached after registration, so encoding does not touch the registry afterwards.
 * - A schema that breaks BACKWARD compatibility stops start-up (SyncError SCHEMA_INCOMPATIBLE).
 * - A row that cannot be encoded (cannot normally happen: appendOutbox validates) is parked with `last_error`;
 *   later rows of the same aggregate wait behind it, other aggregates go on. A parked row is tried again later with
 *   an exponential backoff (`parkedRetryInitialMs`, doubled per attempt up to `parkedRetryMaxMs`; the first time
 *   after a restart at once): once it encodes (a schema registered since, a payload repaired by an operator) it is
 *   unparked and published in its place, before the rows of its aggregate that waited (issue 15 §7). Parked rows
 *   are counted in `sync_outbox_parked` and in `status`.
 *
 * Wake-ups: LISTEN outbox_pending (writers NOTIFY after their commit: src/adapters/postgres/outbox-wakeup.ts) plus a poll every
 * `pollMs`.
 */
import type { Kafka, Producer, Message } from 'kafkajs';
import { orderedWholeRetryProducer } from '../../adapters/kafka/whole-retry-producer';
import type { Pool, PoolClient } from 'pg';
import { SyncError, errorCodeOf } from '../../domain/errors';
import { componentLogger, type Logger } from '../../core/log';
import { isOutboxEventType } from '../../domain/outbox/codecs';
import type { Config } from '../../core/config';
import { EventSchemas } from '../../adapters/registry/schemas';
import { OUTBOX_CHANNEL } from '../../adapters/postgres/outbox-wakeup';
import { TRACEPARENT } from '../../core/trace';

export { OUTBOX_CHANNEL };
/** Default advisory lock key ("outbox" as ASCII digits): one active relay per state database. */
export const DEFAULT_RELAY_LOCK_KEY = 0x6f7574626f78;

export interface RelayMetrics {
  /** pending rows of this relay's topics, reported after each idle cycle */
  onBacklog?(pending: number): void;
  /** rows acknowledged by Kafka and marked published */
  onPublished?(count: number, byTopic: Record<string, number>): void;
  /** a failed cycle (will be retried unless `fatal`) */
  onError?(err: unknown, fatal: boolean): void;
  onLeadership?(leader: boolean): void;
  /** a row parked because it cannot be encoded */
  onParked?(eventId: string, reason: string): void;
  /** parked rows of this relay's topics, reported after each idle cycle */
  onParkedCount?(parked: number): void;
  /** a parked row tried again: `unparked` (it encodes now, published next) or `parked` (still failing) */
  onParkedRetry?(eventId: string, outcome: 'unparked' | 'parked'): void;
}

export interface OutboxRelayOptions {
  /** Default: componentLogger('outbox-relay'). */
  log?: Logger;
  /** the pipeline's state database */
  pool: Pool;
  kafka: Kafka;
  /** schemas bound to the registry and the event topics; the relay publishes rows of exactly these topics */
  registry: EventSchemas;
  batchSize?: number;
  pollMs?: number;
  /** backoff after a failed cycle (registry or Kafka down): initial, doubled up to max */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** a parked row is tried again after this, doubled per failed try up to `parkedRetryMaxMs` (60 s, 1 h) */
  parkedRetryInitialMs?: number;
  parkedRetryMaxMs?: number;
  /** published rows older than this are deleted (default 7 days); 0 disables cleanup */
  retentionMs?: number;
  cleanupEveryMs?: number;
  lockKey?: number;
  metrics?: RelayMetrics;
  /** Test hooks. crashAfterPublish: after Kafka acknowledges the first batch, abandon it unmarked, as a crash would. */
  testHooks?: { crashAfterPublish?: boolean };
}

export type RelayState = 'idle' | 'running' | 'stopping' | 'stopped' | 'crashed' | 'failed';

interface OutboxRow {
  id: string;
  event_id: string;
  topic: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: unknown;
  traceparent: string | null;
}

class SimulatedCrash extends Error {}

export class OutboxRelay {
  private readonly log: Logger;
  private readonly o: Required<Omit<OutboxRelayOptions, 'metrics' | 'testHooks' | 'log'>> &
    Pick<OutboxRelayOptions, 'metrics' | 'testHooks'>;
  private producer: Producer | undefined;
  private client: PoolClient | undefined;
  private leader = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private wakePending = false;
  private failures = 0;
  private lastCleanup = 0;
  private _state: RelayState = 'idle';
  private _fatal: unknown;
  private published = 0;
  /** parked row id → when it is tried again (in memory: after a restart every parked row is tried once at once) */
  private readonly parkedDue = new Map<string, number>();

  constructor(opts: OutboxRelayOptions) {
    this.log = opts.log ?? componentLogger('outbox-relay');
    this.o = {
      batchSize: 100,
      pollMs: 1000,
      retryInitialMs: 200,
      retryMaxMs: 30_000,
      parkedRetryInitialMs: 60_000,
      parkedRetryMaxMs: 3_600_000,
      retentionMs: 7 * 24 * 3600_000,
      cleanupEveryMs: 10 * 60_000,
      lockKey: DEFAULT_RELAY_LOCK_KEY,
      ...opts,
    };
  }

  get state(): RelayState {
    return this._state;
  }
  get isLeader(): boolean {
    return this.leader;
  }
  /** the error that stopped the relay (state 'failed') */
  get fatalError(): unknown {
    return this._fatal;
  }
  get publishedCount(): number {
    return this.published;
  }

  private get topics(): string[] {
    return [this.o.registry.topic('SyncOutcome'), this.o.registry.topic('InvoiceIssued')];
  }

  /**
   * Connects the producer and the database session, registers the schemas and starts the loop. Throws
   * SCHEMA_INCOMPATIBLE when a schema breaks compatibility; a registry that cannot be reached only delays publishing.
   */
  async start(): Promise<this> {
    if (this._state === 'running') return this;
    try {
      await this.o.registry.register();
    } catch (e) {
      if (e instanceof SyncError && !e.retriable) {
        this._state = 'failed';
        this._fatal = e;
        throw e;
      }
      this.log.warn('schema registry not reachable at start-up; outbox rows wait until it is', {
        error: (e as Error).message,
      });
    }
    // acks=all on every send; one request in flight; a failed send re-sent whole (orderedWholeRetryProducer), and a
    // send that still fails fails the cycle: its rows stay unpublished and the next cycle sends them again.
    this.producer = orderedWholeRetryProducer(this.o.kafka);
    await this.producer.connect();
    this._state = 'running';
    this.loop = this.run();
    return this;
  }

  /** Stops after the current batch (a batch sent but not yet marked is marked first). */
  async stop(): Promise<void> {
    if (this._state === 'running') this._state = 'stopping';
    this.wake();
    await this.loop;
    await this.teardown(false);
    if (this._state === 'stopping') this._state = 'stopped';
  }

  /** Resolves when the loop has ended (stop, fatal error or simulated crash). */
  async done(): Promise<void> {
    await this.loop;
  }

  private wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  private wait(ms: number): Promise<void> {
    if (this.wakePending || this._state !== 'running') {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.wakePending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    while (this._state === 'running') {
      try {
        if (!(await this.ensureLeadership())) {
          await this.wait(this.o.pollMs);
          continue;
        }
        await this.o.registry.register();
        const n = await this.publishBatch();
        this.failures = 0;
        if (n >= this.o.batchSize) continue;
        await this.housekeeping();
        await this.wait(this.o.pollMs);
      } catch (e) {
        if (e instanceof SimulatedCrash) {
          this.log.warn('simulated crash after publish: batch left unmarked');
          this._state = 'crashed';
          await this.teardown(true);
          return;
        }
        const fatal = e instanceof SyncError && !e.retriable && e.code === 'SCHEMA_INCOMPATIBLE';
        this.o.metrics?.onError?.(e, fatal);
        if (fatal) {
          this.log.error('outbox relay stopped', { error: (e as Error).message, code: errorCodeOf(e) });
          this._state = 'failed';
          this._fatal = e;
          await this.teardown(false);
          return;
        }
        this.failures += 1;
        const base = Math.min(
          this.o.retryMaxMs,
          this.o.retryInitialMs * 2 ** Math.min(this.failures - 1, 20),
        );
        const delay = Math.round(base * (0.5 + Math.random() / 2));
        this.log.warn(`outbox relay cycle failed; retrying in ${delay} ms`, {
          error: (e as Error).message,
          code: errorCodeOf(e),
          attempt: this.failures,
        });
        if (!(await this.sessionAlive())) await this.dropSession();
        await this.sleep(delay);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    // like wait(), but a NOTIFY does not cut a backoff short; stop() does
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = () => {
        if (this._state !== 'running') done();
      };
    });
  }

  /** After a failed cycle: is the database session (and so the advisory lock) still usable? */
  private async sessionAlive(): Promise<boolean> {
    if (!this.client) return true;
    try {
      await this.client.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /** Takes (or keeps) the advisory lock on a dedicated session; LISTENs on it. */
  private async ensureLeadership(): Promise<boolean> {
    if (this.leader && this.client) return true;
    if (!this.client) {
      const c = await this.o.pool.connect();
      c.on('error', (err) => {
        this.log.warn('outbox relay database session lost', { error: err.message });
        if (this.client === c) {
          this.client = undefined;
          this.setLeader(false);
          c.release(err);
        }
      });
      c.on('notification', (n) => {
        if (n.channel === OUTBOX_CHANNEL) this.wake();
      });
      this.client = c;
    }
    const { rows } = await this.client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1::bigint) AS locked',
      [this.o.lockKey],
    );
    if (rows[0]?.locked) {
      await this.client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.setLeader(true);
      this.log.info('outbox relay is the active publisher', { lockKey: this.o.lockKey });
    }
    return this.leader;
  }

  private setLeader(v: boolean): void {
    if (this.leader !== v) {
      this.leader = v;
      this.o.metrics?.onLeadership?.(v);
    }
  }

  private async dropSession(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.setLeader(false);
    if (c) c.release(true); // destroys the connection: the advisory lock goes with it
  }

  /** Publishes one batch of pending rows; returns how many rows it took. Exposed for ops and tests. */
  async publishBatch(): Promise<number> {
    const client = this.client;
    const producer = this.producer;
    if (!client || !producer || !this.leader)
      throw new SyncError('INTERNAL', 'outbox relay is not the active publisher');
    const { rows } = await client.query<OutboxRow>(
      `SELECT o.id::text AS id, o.event_id::text AS event_id, o.topic, o.aggregate_type, o.aggregate_id, o.event_type, o.payload,
              o.traceparent
         FROM outbox o
        WHERE o.published_at IS NULL AND o.last_error IS NULL AND o.topic = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM outbox p
                           WHERE p.published_at IS NULL AND p.last_error IS NOT NULL
                             AND p.topic = o.topic AND p.aggregate_id = o.aggregate_id AND p.id < o.id)
        ORDER BY o.id
        LIMIT $2`,
      [this.topics, this.o.batchSize],
    );
    if (rows.length === 0) return 0;

    const byTopic = new Map<string, Message[]>();
    const sent: string[] = [];
    const blocked = new Set<string>();
    for (const row of rows) {
      const aggKey = `${row.topic}\u0000${row.aggregate_id}`;
      if (blocked.has(aggKey)) continue;
      let value: Buffer;
      try {
        if (!isOutboxEventType(row.event_type)) {
          throw new SyncError(
            'MALFORMED_EVENT',
            `unknown outbox event_type ${JSON.stringify(row.event_type)}`,
          );
        }
        value = await this.o.registry.encode(row.event_type, row.payload);
      } catch (e) {
        if (e instanceof SyncError && e.code === 'MALFORMED_EVENT') {
          await this.park(client, row, e.message);
          blocked.add(aggKey);
          continue;
        }
        throw e;
      }
      const messages = byTopic.get(row.topic) ?? [];
      messages.push({
        key: row.aggregate_id,
        value,
        headers: {
          event_id: row.event_id,
          event_type: row.event_type,
          aggregate_type: row.aggregate_type,
          ...(row.traceparent ? { [TRACEPARENT]: row.traceparent } : {}),
        },
      });
      byTopic.set(row.topic, messages);
      sent.push(row.id);
    }
    if (sent.length === 0) return rows.length;

    await producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    if (this.o.testHooks?.crashAfterPublish) throw new SimulatedCrash();
    await client.query(
      'UPDATE outbox SET published_at = now(), publish_attempts = publish_attempts + 1 WHERE id = ANY($1::bigint[])',
      [sent],
    );
    this.published += sent.length;
    const counts = Object.fromEntries([...byTopic].map(([t, m]) => [t, m.length]));
    this.o.metrics?.onPublished?.(sent.length, counts);
    this.log.debug(`published ${sent.length} outbox events`, counts);
    return rows.length;
  }

  private async park(client: PoolClient, row: OutboxRow, reason: string): Promise<void> {
    this.log.error('outbox row cannot be encoded; parked (later events of its aggregate wait)', {
      eventId: row.event_id,
      aggregateId: row.aggregate_id,
      reason,
    });
    await client.query(
      'UPDATE outbox SET last_error = $2, publish_attempts = publish_attempts + 1 WHERE id = $1::bigint',
      [row.id, reason.slice(0, 2000)],
    );
    this.parkedDue.set(row.id, Date.now() + this.o.parkedRetryInitialMs);
    this.o.metrics?.onParked?.(row.event_id, reason);
  }

  /**
   * Tries the parked rows that are due again: a row that encodes now is unparked (last_error cleared) and so
   * published by the next batch in id order, ahead of the rows of its aggregate that waited; one that still fails
   * stays parked with its new reason and a doubled delay. Returns how many were unparked.
   */
  async retryParked(): Promise<number> {
    const client = this.client;
    if (!client) return 0;
    const { rows } = await client.query<OutboxRow & { publish_attempts: number }>(
      `SELECT id::text AS id, event_id::text AS event_id, topic, aggregate_type, aggregate_id, event_type, payload,
              publish_attempts
         FROM outbox WHERE published_at IS NULL AND last_error IS NOT NULL AND topic = ANY($1::text[])
        ORDER BY id LIMIT 1000`,
      [this.topics],
    );
    const now = Date.now();
    const present = new Set(rows.map((r) => r.id));
    for (const id of this.parkedDue.keys()) if (!present.has(id)) this.parkedDue.delete(id);
    let unparked = 0;
    for (const row of rows) {
      if ((this.parkedDue.get(row.id) ?? 0) > now) continue;
      try {
        if (!isOutboxEventType(row.event_type))
          throw new SyncError(
            'MALFORMED_EVENT',
            `unknown outbox event_type ${JSON.stringify(row.event_type)}`,
          );
        await this.o.registry.encode(row.event_type, row.payload);
      } catch (e) {
        if (!(e instanceof SyncError && e.code === 'MALFORMED_EVENT')) throw e;
        const attempts = row.publish_attempts + 1;
        const delay = Math.min(
          this.o.parkedRetryMaxMs,
          this.o.parkedRetryInitialMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30),
        );
        this.parkedDue.set(row.id, now + delay);
        await client.query(
          'UPDATE outbox SET last_error = $2, publish_attempts = publish_attempts + 1 WHERE id = $1::bigint',
          [row.id, e.message.slice(0, 2000)],
        );
        this.log.warn(`parked outbox row still cannot be encoded; next try in ${delay} ms`, {
          eventId: row.event_id,
          aggregateId: row.aggregate_id,
          attempts,
        });
        this.o.metrics?.onParkedRetry?.(row.event_id, 'parked');
        continue;
      }
      await client.query('UPDATE outbox SET last_error = NULL WHERE id = $1::bigint', [row.id]);
      this.parkedDue.delete(row.id);
      unparked++;
      this.log.info('parked outbox row encodes now; unparked, published in its place', {
        eventId: row.event_id,
        aggregateId: row.aggregate_id,
      });
      this.o.metrics?.onParkedRetry?.(row.event_id, 'unparked');
    }
    if (unparked > 0) this.wake();
    return unparked;
  }

  private async housekeeping(): Promise<void> {
    const client = this.client;
    if (!client) return;
    await this.retryParked();
    if (this.o.metrics?.onBacklog || this.o.metrics?.onParkedCount) {
      const { rows } = await client.query<{ n: string; parked: string }>(
        `SELECT count(*)::text AS n, count(*) FILTER (WHERE last_error IS NOT NULL)::text AS parked
           FROM outbox WHERE published_at IS NULL AND topic = ANY($1::text[])`,
        [this.topics],
      );
      this.o.metrics.onBacklog?.(Number(rows[0]?.n ?? 0));
      this.o.metrics.onParkedCount?.(Number(rows[0]?.parked ?? 0));
    }
    if (this.o.retentionMs > 0 && Date.now() - this.lastCleanup >= this.o.cleanupEveryMs) {
      this.lastCleanup = Date.now();
      const res = await client.query(
        `DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - ($1::bigint * interval '1 millisecond')
            AND topic = ANY($2::text[])`,
        [this.o.retentionMs, this.topics],
      );
      if (res.rowCount) this.log.info(`deleted ${res.rowCount} published outbox rows older than retention`);
    }
  }

  private async teardown(crash: boolean): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.setLeader(false);
    if (c) {
      if (crash) c.release(true);
      else {
        try {
          await c.query(`UNLISTEN ${OUTBOX_CHANNEL}`);
          await c.query('SELECT pg_advisory_unlock_all()');
          c.release();
        } catch {
          c.release(true);
        }
      }
    }
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => undefined);
  }
}

/** The relay as the pipeline runs it: schemas for the configured topics and registry. */
export function createOutboxRelay(
  cfg: Pick<Config, 'registryUrl' | 'topics'> & Partial<Pick<Config, 'registryAuth' | 'registryCa'>>,
  deps: { pool: Pool; kafka: Kafka },
  opts: Omit<OutboxRelayOptions, 'pool' | 'kafka' | 'registry'> = {},
): OutboxRelay {
  const registry = new EventSchemas({
    registryUrl: cfg.registryUrl,
    auth: cfg.registryAuth,
    ca: cfg.registryCa,
    topics: { syncEvents: cfg.topics.syncEvents, invoiceEvents: cfg.topics.invoiceEvents },
  });
  return new OutboxRelay({ ...deps, registry, ...opts });
}
