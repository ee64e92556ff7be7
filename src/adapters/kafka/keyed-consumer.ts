/**
 * A kafkajs consumer that processes messages of one partition concurrently across keys while keeping each key's
 * messages in order, and commits only past contiguous finished offsets.
 *
 * Failures follow one policy:
 * - a handler that succeeds (or decides to skip) finishes the offset;
 * - a non-retriable error sends the message to the dead-letter topic with its reason; the offset finishes and the
 *   partition moves on;
 * - a retriable error is retried in place while the backoff is short; a longer backoff pauses the partition
 *   (no spinning; the member keeps heartbeating from kafkajs's fetch loop and keeps its other partitions),
 *   commits what is finished, and resumes after the delay: the unfinished messages are fetched again (handlers
 *   must be idempotent — the ledger makes them so);
 * - an outage (`isOutage`: 5xx, 429, timeouts, unreachable, a database or Kafka down) is retried until it ends
 *   (or for `giveUpAfterMs` when set), with the backoff capped at `maxMs`: the partition is **blocked** — reported
 *   by 'blocked' / 'unblocked' events (metrics, /readyz) and one `warn` line per backoff step — and after each
 *   pause only its first unfinished message runs (a probe) until the message that blocked it finishes, so a
 *   blocked partition sends one call per backoff step, not one per key (docs/decisions/0009-outages-block.md);
 * - a retriable failure that is not an outage (PRECONDITION_PENDING) is dead-lettered at its `maxAttempts`-th
 *   failure with reason "retries exhausted" (replayable later), as is an outage past `giveUpAfterMs`;
 * - a dead letter that cannot be published (the dead-letter topic unavailable) leaves the message unfinished: the
 *   partition pauses with a growing backoff, nothing is committed past the message, and the next fetch publishes the
 *   same dead letter again without re-running the handler (issue 15 §7: it looped hot).
 */
import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { setMaxListeners } from 'node:events';
import { errorCodeOf, FencedError, isOutage, isRetriable } from '../../domain/errors';
import { componentLogger, redactString } from '../../core/log';
import { OffsetTracker } from './offsets';
import { decideRetry, FailureHistory, RetryPolicy, sleep } from './retry';
import { deadLetterReason, DeadLetterPublisher, type PublishOutcome } from './dlq';
import type { FenceToken, PartitionFence } from '../postgres/fence';
import { Coalescer, type Pending } from '../../core/coalescer';

export interface MessageContext {
  topic: string;
  partition: number;
  attempt: number;
  /** The partition's fencing epoch as this instance took it (when the consumer is fenced): checked before effects. */
  fence?: FenceToken;
}

export type MessageHandler = (message: KafkaMessage, ctx: MessageContext) => Promise<void>;

export interface BatchHandlerContext {
  topic: string;
  partition: number;
  /** the key the consumer orders a message by (KeyedConsumerOptions.orderingKey) */
  keyOf: (message: KafkaMessage) => string;
  /** the partition's fencing token, as the handlers get it (MessageContext.fence) */
  fence?: FenceToken;
}

export interface KeyedConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: (string | RegExp)[];
  handler: MessageHandler;
  deadLetters: DeadLetterPublisher;
  stage: string;
  retry: RetryPolicy;
  /** Messages processed at once across keys, per partition. */
  concurrency: number;
  /** Retries whose delay is at most this are done in place; longer ones pause the partition. */
  inlineRetryMaxMs?: number;
  fromBeginning?: boolean;
  /** ms without a heartbeat after which the broker evicts this member; default SESSION_TIMEOUT_MS */
  sessionTimeout?: number;
  /** ms between heartbeats while a batch runs; default HEARTBEAT_INTERVAL_MS */
  heartbeatInterval?: number;
  /** a running batch keeps heartbeating only while one of its messages finished within this; default MAX_IDLE_MS */
  maxIdleMs?: number;
  /**
   * Messages the handler would certainly do nothing with, recognised synchronously (the router's fast path on the
   * record's bytes and envelope): finished at once, in order with the rest of the batch, without a handler run, a
   * per-key chain or a 'processed' event each — one 'skipped' event per batch counts them. Must not throw (a throw
   * counts as "not skipped": the handler judges the message).
   */
  skip?: (message: KafkaMessage, topic: string, partition: number) => boolean;
  /**
   * Handles a fetched batch's messages in bulk before any handler runs (the router: its Odoo reads shared by the
   * batch, its intents in one produce request; issue 17 §2). It gets the messages `skip` left, in offset order (none
   * while the partition is blocked and probes, nor one whose dead letter is pending), and resolves with those it
   * finished completely — their effects acknowledged; these finish at once, in order with the rest of the batch, and
   * one 'batch-handled' event counts them. The others run through `handler` as usual. Per-key order is its business:
   * once it leaves one message of a key to the handler, it must leave the key's later messages too (their effects
   * would otherwise come before it), except a message whose finishing has no effect at all (the projector's intents
   * the ledger has already finished). A throw finishes none: every message goes to its handler, which meets the
   * failure again and reports, retries or dead-letters it.
   */
  handleBatch?: (
    messages: readonly KafkaMessage[],
    ctx: BatchHandlerContext,
  ) => Promise<ReadonlySet<KafkaMessage>>;
  /** Key used for ordering; defaults to the Kafka message key. */
  orderingKey?: (m: KafkaMessage) => string;
  onEvent?: (e: KeyedConsumerEvent) => void;
  /** Called after a message reached the dead-letter topic (e.g. to record the outcome in the ledger). */
  onDeadLettered?: (message: KafkaMessage, ctx: MessageContext, error: unknown) => Promise<void>;
  /**
   * Fencing (issue 15 §2): every assignment takes the assigned partitions' epochs; each batch carries its partition's
   * token to the handler. A handler that throws FencedError stops its batch: nothing more starts, the message is
   * neither finished nor dead-lettered, and the batch commits nothing (the partition's new owner goes on).
   */
  fence?: PartitionFence;
}

export type KeyedConsumerEvent =
  | { type: 'processed'; topic: string; partition: number; offset: string; ms: number }
  | {
      type: 'retry';
      topic: string;
      partition: number;
      offset: string;
      attempt: number;
      delayMs: number;
      code: string;
    }
  /** `duplicate`: an earlier copy of this message from this stage is in the dead-letter topic, not published again. */
  | {
      type: 'dead-letter';
      topic: string;
      partition: number;
      offset: string;
      code: string;
      duplicate?: boolean;
    }
  /** The dead letter could not be published; the partition pauses `delayMs` and publishes it again. */
  | {
      type: 'dead-letter-failed';
      topic: string;
      partition: number;
      offset: string;
      code: string;
      failures: number;
      delayMs: number;
    }
  | { type: 'paused'; topic: string; partition: number; delayMs: number }
  /**
   * The partition is paused on a failure (each backoff step of it: a retriable failure's long backoff, a dead
   * letter that could not be published, a fencing epoch that could not be taken): nothing of it is finished
   * before `offset` succeeds. `since` is when the partition became blocked, `messageTimestamp` the Kafka
   * timestamp of the oldest message it has been blocked on (ms), `retryInMs` the pause.
   */
  | ({ type: 'blocked' } & BlockedPartition)
  /** The partition is no longer blocked: its blocking message finished, or the partition left this member. */
  | {
      type: 'unblocked';
      topic: string;
      partition: number;
      blockedMs: number;
      attempts: number;
      why: 'finished' | 'revoked' | 'stopped';
    }
  /** Messages of one batch finished without a handler run (KeyedConsumerOptions.skip). */
  | { type: 'skipped'; topic: string; partition: number; messages: number }
  /** Messages of one batch finished by KeyedConsumerOptions.handleBatch, in `ms` together. */
  | { type: 'batch-handled'; topic: string; partition: number; messages: number; ms: number }
  /** A fetched batch is done (kafkajs fetches the next ones when every partition's batch is done). */
  | { type: 'batch'; topic: string; partition: number; messages: number; ms: number; startedAt: number };

/**
 * Group membership timings (docs/operations.md, "Group membership and recovery"). kafkajs sends heartbeats only when
 * asked to; a running batch asks every HEARTBEAT_INTERVAL_MS (and after each finished message) as long as it makes
 * progress — one of its messages finished within MAX_IDLE_MS, the bound on one handler run (a plan of a few OpenCell
 * calls with their 10 s timeouts and in-place retries); after that it falls silent and the broker hands its
 * partitions on, like the Java client's max.poll.interval.ms. Heartbeats therefore no longer depend on how long one
 * call takes, and the session timeout only has to cover a few lost heartbeats and event-loop stalls: 10 s (3
 * intervals and some), the time a partition of a process killed with kill -9 waits for a new owner (it was 30 s).
 */
export const SESSION_TIMEOUT_MS = 10_000;
export const HEARTBEAT_INTERVAL_MS = 3_000;
export const MAX_IDLE_MS = 120_000;

/**
 * How the stages' consumers fetch (kafkajs consumer options; bench/resync.ts's bare baseline uses the same): a fetch
 * waits at most 100 ms for data, so a quiet topic does not delay a change.
 */
export const CONSUMER_FETCH = { maxWaitTimeInMs: 100 } as const;

/** What a blocked partition waits on (KeyedConsumerEvent 'blocked'; src/app/blocked-partitions.ts). */
export interface BlockedPartition {
  topic: string;
  partition: number;
  /** the message whose failure paused the partition last */
  offset: string;
  /** its error code (never a message: it could carry data) */
  code: string;
  /** whether that failure is an outage (retried until it ends) */
  outage: boolean;
  /** tries of that message so far */
  attempt: number;
  /** when the partition became blocked (ms since the epoch) */
  since: number;
  /** the Kafka timestamp of the oldest message the partition has been blocked on (ms since the epoch) */
  messageTimestamp: number;
  /** the pause before the next try */
  retryInMs: number;
}

/** A dead letter decided but not published yet (its topic failed): published again on the next fetch. */
interface PendingDeadLetter {
  err: unknown;
  attempt: number;
  /** "retries exhausted after …: " for a retriable failure given up, else empty */
  reasonPrefix: string;
  /** failed publishes so far */
  failures: number;
}

/** What the batch ran into: why its partition pauses (reported as the partition's block). */
interface PauseCause {
  offset: string;
  code: string;
  outage: boolean;
  attempt: number;
  /** the message's Kafka timestamp (ms) */
  timestamp: number;
  /** the error's message, redacted (logged, never in an event) */
  message: string;
}

class PauseRequested extends Error {
  constructor(
    readonly delayMs: number,
    readonly reason?: PauseCause,
  ) {
    super('pause');
  }
}

/** How one message has failed so far (it survives re-fetches after a pause). */
interface FailureState {
  attempts: number;
  /** retriable failures that were not outages */
  waits: number;
  /** first failure (ms since the epoch) */
  since: number;
}

export class KeyedConsumer {
  private consumer: Consumer | undefined;
  private readonly log;
  /** failures survive re-fetches after a pause: `${topic}/${partition}/${offset}` → attempts so far, since when */
  private readonly failures = new Map<string, FailureState>();
  /** partitions paused on a failure, by `${topic}/${partition}` */
  private readonly blocked = new Map<string, BlockedPartition>();
  /** dead letters whose publish failed, by `${topic}/${partition}/${offset}` */
  private readonly pendingDeadLetters = new Map<string, PendingDeadLetter>();
  private readonly commits = offsetCommitCoalescer();
  private readonly abort = new AbortController();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  /** heartbeats the coordinator answered (kafkajs emits HEARTBEAT only on success) */
  private heartbeats = 0;
  /** partitions whose last batch was fenced: the token it held and the heartbeat count when that was seen */
  private readonly fencedSeen = new Map<string, { token: FenceToken; heartbeats: number }>();

  constructor(private readonly opts: KeyedConsumerOptions) {
    this.log = componentLogger(opts.stage);
    setMaxListeners(0, this.abort.signal); // one listener per key sleeping in a retry backoff
  }

  async start(): Promise<void> {
    const { kafka, groupId, topics, fromBeginning } = this.opts;
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.opts.sessionTimeout ?? SESSION_TIMEOUT_MS,
      heartbeatInterval: this.opts.heartbeatInterval ?? HEARTBEAT_INTERVAL_MS,
      ...CONSUMER_FETCH,
      retry: { retries: 10 },
    });
    this.consumer = consumer;
    const fence = this.opts.fence;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.fencedSeen.clear();
      fence?.assigned(e.payload.memberAssignment);
      this.onAssigned(e.payload.memberAssignment);
    });
    if (fence)
      consumer.on(consumer.events.HEARTBEAT, () => {
        this.heartbeats++;
      });
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 8,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /** Stops fetching, lets in-flight handlers finish, commits, leaves the group. */
  async stop(): Promise<void> {
    this.abort.abort();
    for (const t of this.resumeTimers) clearTimeout(t);
    await this.consumer?.disconnect();
    for (const b of [...this.blocked.values()]) this.unblock(b.topic, b.partition, 'stopped');
  }

  /** The partitions blocked now (their pause and what they wait on). */
  blockedPartitions(): BlockedPartition[] {
    return [...this.blocked.values()];
  }

  /** A new assignment: partitions that left this member are no longer blocked here. */
  private onAssigned(assignment: Record<string, number[]>): void {
    for (const b of [...this.blocked.values()])
      if (!(assignment[b.topic] ?? []).includes(b.partition)) this.unblock(b.topic, b.partition, 'revoked');
    // a message of a partition that moved is failing on its new owner now, with a history of its own there
    for (const id of [...this.failures.keys()]) {
      const [topic, partition] = splitId(id);
      if (!(assignment[topic] ?? []).includes(partition)) this.failures.delete(id);
    }
  }

  private unblock(topic: string, partition: number, why: 'finished' | 'revoked' | 'stopped'): void {
    const key = `${topic}/${partition}`;
    const b = this.blocked.get(key);
    if (!b) return;
    this.blocked.delete(key);
    const blockedMs = Date.now() - b.since;
    this.opts.onEvent?.({ type: 'unblocked', topic, partition, blockedMs, attempts: b.attempt, why });
    const line = `${topic}[${partition}] no longer blocked (${why}) after ${Math.round(blockedMs / 1000)} s on ${b.code}`;
    if (why === 'finished') this.log.warn(line, { topic, partition, code: b.code, blockedMs });
    else this.log.info(line, { topic, partition, code: b.code, blockedMs });
  }

  /**
   * The partition pauses on a failure: blocked (or still blocked) on `cause`. One `warn` line per backoff step:
   * the reason's code and message (redacted), how long it has been blocked, the next try.
   */
  private block(topic: string, partition: number, delayMs: number, cause: PauseCause): void {
    const key = `${topic}/${partition}`;
    const prev = this.blocked.get(key);
    const now = Date.now();
    const b: BlockedPartition = {
      topic,
      partition,
      offset: cause.offset,
      code: cause.code,
      outage: cause.outage,
      attempt: cause.attempt,
      since: prev?.since ?? now,
      messageTimestamp: Math.min(prev?.messageTimestamp ?? Infinity, cause.timestamp || now),
      retryInMs: delayMs,
    };
    this.blocked.set(key, b);
    this.opts.onEvent?.({ type: 'blocked', ...b });
    this.log.warn(
      `${topic}[${partition}] blocked for ${Math.round((now - b.since) / 1000)} s at offset ${cause.offset}: ` +
        `${cause.code} (attempt ${cause.attempt}${cause.outage ? ', retried until it ends' : ''}), next try in ` +
        `${delayMs} ms: ${cause.message}`,
      { topic, partition, offset: cause.offset, code: cause.code, attempt: cause.attempt, delayMs },
    );
  }

  get kafkaConsumer(): Consumer | undefined {
    return this.consumer;
  }

  /** One fetched batch of one partition: run it, commit what finished, pause the partition if a retry asked to. */
  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning } = payload;
    const { topic, partition } = batch;
    let fence: FenceToken | undefined;
    try {
      fence = await this.opts.fence?.token(topic, partition);
    } catch (e) {
      // no epoch, no effect: the batch is fetched again after a short pause (logged as the partition's block)
      if (isRunning()) {
        const first = batch.messages[0];
        this.pausePartition(topic, partition, this.opts.retry.initialMs, undefined, first?.offset, {
          offset: first?.offset ?? '?',
          code: errorCodeOf(e),
          outage: isOutage(e),
          attempt: (this.blocked.get(`${topic}/${partition}`)?.attempt ?? 0) + 1,
          timestamp: Number(first?.timestamp ?? 0),
          message: `cannot take the fencing epoch: ${redactString((e as Error).message)}`,
        });
      }
      return;
    }
    if (fence) {
      const renewed = await this.afterFence(payload, fence);
      if (!renewed) return;
      fence = renewed;
    }
    const key = `${topic}/${partition}`;
    const run = new BatchRun(payload, this.opts, {
      failures: this.failures,
      pendingDeadLetters: this.pendingDeadLetters,
      commits: this.commits,
      abort: this.abort.signal,
      log: this.log,
      fence,
      // a blocked partition probes: its first unfinished message alone, until the blocking one finishes
      probe: this.blocked.has(key),
      onFinished: (offset) => {
        if (this.blocked.get(key)?.offset === offset) {
          this.unblock(topic, partition, 'finished');
          return true;
        }
        return false;
      },
    });
    await run.processAll();
    await run.finalCommit();
    this.opts.onEvent?.({
      type: 'batch',
      topic,
      partition,
      messages: batch.messages.length,
      ms: Date.now() - run.startedAt,
      startedAt: run.startedAt,
    });
    if (run.fenced && fence) {
      this.fencedSeen.set(`${topic}/${partition}`, { token: fence, heartbeats: this.heartbeats });
      if (isRunning())
        this.pausePartition(topic, partition, this.heartbeatIntervalMs, undefined, batch.messages[0]?.offset);
    } else if (run.pause && isRunning())
      this.pausePartition(
        topic,
        partition,
        run.pause.delayMs,
        run.committable(),
        run.resumeOffset(),
        run.pause.reason,
      );
    else if (!run.pause && !run.stoppedEarly) this.unblock(topic, partition, 'finished');
  }

  private get heartbeatIntervalMs(): number {
    return this.opts.heartbeatInterval ?? HEARTBEAT_INTERVAL_MS;
  }

  /**
   * The token a batch may run under after its partition was fenced (issue 15, "a late take"). A member fenced on a
   * partition the group still assigns to it was fenced by a take of an earlier assignment that committed late (a
   * slow or paused process): nothing else takes it until the next rebalance, so without this the partition would
   * stall. Two heartbeats answered after the fence was seen prove this member is still in the generation of its
   * assignment (the second was sent after the first's answer, so after the fence): a newer assignment would have
   * made the coordinator refuse it, and a new join replaces the token. Then it takes the partition again. A zombie's
   * heartbeats are refused, so it never takes again; it rejoins and takes what it is assigned. Undefined: the batch
   * waits (the partition pauses one heartbeat interval).
   */
  private async afterFence(payload: EachBatchPayload, token: FenceToken): Promise<FenceToken | undefined> {
    const { topic, partition } = payload.batch;
    const k = `${topic}/${partition}`;
    const seen = this.fencedSeen.get(k);
    if (!seen || seen.token.epoch !== token.epoch) return token;
    const retake =
      this.heartbeats >= seen.heartbeats + 2 ? this.opts.fence?.retake?.(topic, partition, token) : undefined;
    if (retake) {
      this.fencedSeen.delete(k);
      try {
        return await retake;
      } catch (e) {
        this.log.warn(`cannot take the fencing epoch: ${redactString((e as Error).message)}`, {
          topic,
          partition,
        });
      }
    }
    if (payload.isRunning())
      this.pausePartition(
        topic,
        partition,
        this.heartbeatIntervalMs,
        undefined,
        payload.batch.messages[0]?.offset,
      );
    return undefined;
  }

  /** Pauses the partition, makes its next fetch start at `from` (the first unfinished message), resumes later. */
  private pausePartition(
    topic: string,
    partition: number,
    delayMs: number,
    committed: string | undefined,
    from: string | undefined,
    cause?: PauseCause,
  ): void {
    this.opts.onEvent?.({ type: 'paused', topic, partition, delayMs });
    if (cause) this.block(topic, partition, delayMs, cause);
    else this.log.warn(`pausing ${topic}[${partition}] for ${delayMs} ms`, { committed });
    const consumer = this.consumer!;
    consumer.pause([{ topic, partitions: [partition] }]);
    if (from !== undefined) consumer.seek({ topic, partition, offset: from });
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      consumer.resume([{ topic, partitions: [partition] }]);
    }, delayMs);
    this.resumeTimers.add(timer);
  }
}

const NONE: ReadonlySet<KafkaMessage> = new Set();

/** The default ordering key: the record's key (a record without one is a key of its own). */
function defaultOrderingKey(m: KafkaMessage): string {
  return m.key ? m.key.toString('latin1') : `@${m.offset}`;
}

/** At most `limit` holders at once; waiters are served in arrival order. */
class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private limit: number) {}

  async acquire(): Promise<void> {
    while (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
  }

  release(): void {
    this.active--;
    this.waiters.shift()?.();
  }

  /** Raises the limit (a probe that succeeded): waiters start up to the new limit. */
  raise(limit: number): void {
    if (limit <= this.limit) return;
    this.limit = limit;
    for (let i = this.active; i < limit; i++) this.waiters.shift()?.();
  }
}

/** One partition's offset to commit, with the commit function of the batch that asks (its consumer's). */
interface OffsetCommitRequest {
  topic: string;
  partition: number;
  offset: string;
  commit: EachBatchPayload['commitOffsetsIfNecessary'];
}

/**
 * The offset commits of a consumer's partitions asked meanwhile, as one OffsetCommit request (kafkajs commits the
 * given offsets of any partitions of its group in one request). Each batch's end commits its partition: with a few
 * messages per fetch that was one OffsetCommit per partition batch, the most frequent Kafka request of the pipeline
 * (issue 17: 0.46 per change at 200 changes/s, more than the fetches and produces together). One commit in flight at
 * once; what is asked meanwhile leaves in the next, each partition at the highest offset asked. Each asker is answered
 * by the request that carried its offset (a failure fails every asker of that request, as it would have alone).
 */
export function offsetCommitCoalescer(): Coalescer<OffsetCommitRequest, void> {
  return new Coalescer<OffsetCommitRequest, void>(
    async (_k, batch: readonly Pending<OffsetCommitRequest, void>[]) => {
      const byTopic = new Map<string, Map<number, string>>();
      for (const { req } of batch) {
        let partitions = byTopic.get(req.topic);
        if (!partitions) byTopic.set(req.topic, (partitions = new Map()));
        const prev = partitions.get(req.partition);
        if (prev === undefined || BigInt(req.offset) > BigInt(prev))
          partitions.set(req.partition, req.offset);
      }
      const topics = [...byTopic].map(([topic, partitions]) => ({
        topic,
        partitions: [...partitions].map(([partition, offset]) => ({ partition, offset })),
      }));
      await batch[batch.length - 1].req.commit({ topics });
      for (const p of batch) p.resolve();
    },
    { maxBatch: Number.MAX_SAFE_INTEGER, maxInFlight: 1 },
  );
}

/** What a batch run shares with its consumer: failures across re-fetches, the stop signal, the logger. */
interface BatchRunContext {
  /** the consumer's offset commits, sent together (offsetCommitCoalescer) */
  commits: Coalescer<OffsetCommitRequest, void>;
  failures: Map<string, FailureState>;
  pendingDeadLetters: Map<string, PendingDeadLetter>;
  abort: AbortSignal;
  log: ReturnType<typeof componentLogger>;
  fence?: FenceToken;
  /** the partition is blocked: run one message at a time until `onFinished` says the blocking one finished */
  probe?: boolean;
  /** a message finished (succeeded or dead-lettered); true when it was the one the partition was blocked on */
  onFinished?: (offset: string) => boolean;
}

/**
 * The processing of one fetched batch, as named steps: `processAll` chains each key's messages in order (different
 * keys concurrently, up to the concurrency limit); `runMessage` calls the handler until it succeeds, is
 * dead-lettered, or asks for a pause; `commitProgress` commits the contiguous watermark.
 */
class BatchRun {
  readonly startedAt = Date.now();
  /** Set by the first retry whose backoff is too long to wait in place (or by a crashed handler). */
  pause: PauseRequested | undefined;
  private readonly tracker = new OffsetTracker();
  private readonly topic: string;
  private readonly partition: number;
  // Commit state: see commitProgress.
  private lastCommitted: string | undefined;
  private lastCommitAt = 0;
  private commitChain: Promise<void> = Promise.resolve();
  private trailing: NodeJS.Timeout | undefined;

  constructor(
    private readonly payload: EachBatchPayload,
    private readonly opts: KeyedConsumerOptions,
    private readonly ctx: BatchRunContext,
  ) {
    this.topic = payload.batch.topic;
    this.partition = payload.batch.partition;
  }

  /** Set when a heartbeat failed (the group is rebalancing, or the coordinator is gone): no new message starts. */
  heartbeatFailed: Error | undefined;
  /** When a message of the batch last finished (or the batch started). */
  private lastProgressAt = Date.now();

  /** Set when a handler found the partition taken by another instance (FencedError): the batch stops, commits nothing. */
  fenced: FencedError | undefined;

  /** The batch stopped before its end for a reason other than a pause (rebalance, fencing, shutdown). */
  get stoppedEarly(): boolean {
    return !!this.heartbeatFailed || !!this.fenced || !this.payload.isRunning() || this.payload.isStale();
  }

  private slots: Semaphore | undefined;

  private get stopped(): boolean {
    return (
      !!this.pause ||
      !!this.heartbeatFailed ||
      !!this.fenced ||
      !this.payload.isRunning() ||
      this.payload.isStale()
    );
  }

  /** Every message of the batch, each key's in order; resolves when all scheduled messages are done. */
  async processAll(): Promise<void> {
    const orderingKey = this.opts.orderingKey ?? defaultOrderingKey;
    const slots = new Semaphore(this.ctx.probe ? 1 : Math.max(1, this.opts.concurrency));
    this.slots = slots;
    const keyTails = new Map<string, Promise<void>>();
    const keepAlive = this.keepAlive();
    const messages = this.payload.batch.messages;
    const skipped = messages.map((m) => this.skips(m));
    let skippedCount = 0;
    let handledCount = 0;
    const t0 = Date.now();
    const handled = await this.handleBatch(
      messages.filter((_m, i) => !skipped[i]),
      orderingKey,
    );
    // Checked once: nothing in this synchronous loop can stop the batch (the handlers it chains run after it), and
    // kafkajs's isStale builds a JSON key per call — a per-message allocation on a replay's skip path.
    const stopped = this.stopped;
    for (let i = 0; i < messages.length && !stopped; i++) {
      const message = messages[i];
      this.tracker.begin(message.offset);
      if (skipped[i] || handled.has(message)) {
        if (handled.has(message)) {
          handledCount++;
          if (this.ctx.failures.size > 0) this.ctx.failures.delete(this.idOf(message));
        } else skippedCount++;
        this.tracker.finish(message.offset);
        continue;
      }
      const key = orderingKey(message);
      const prev = keyTails.get(key) ?? Promise.resolve();
      keyTails.set(
        key,
        prev.then(async () => {
          await slots.acquire();
          try {
            await this.runMessage(message);
          } catch (e) {
            // A bug in the pipeline itself (not in the message): stop this batch, retry later.
            const why = redactString((e as Error).message);
            this.ctx.log.error(`handler crashed: ${why}`, {
              topic: this.topic,
              partition: this.partition,
              offset: message.offset,
            });
            this.pause ??= new PauseRequested(this.opts.retry.initialMs, {
              offset: message.offset,
              code: errorCodeOf(e),
              outage: false,
              attempt: this.ctx.failures.get(this.idOf(message))?.attempts ?? 1,
              timestamp: Number(message.timestamp),
              message: `handler crashed: ${why}`,
            });
          } finally {
            slots.release();
          }
        }),
      );
    }
    const { topic, partition } = this;
    if (skippedCount > 0) this.opts.onEvent?.({ type: 'skipped', topic, partition, messages: skippedCount });
    if (handledCount > 0)
      this.opts.onEvent?.({
        type: 'batch-handled',
        topic,
        partition,
        messages: handledCount,
        ms: Date.now() - t0,
      });
    if (skippedCount + handledCount > 0) await this.afterFinished();
    try {
      await Promise.all(keyTails.values());
    } finally {
      clearInterval(keepAlive);
    }
  }

  /**
   * KeyedConsumerOptions.handleBatch over the messages `skip` left (not while probing, nor a message whose dead
   * letter is pending: the handler publishes it again). A failure finishes none of them (logged once per batch).
   */
  private async handleBatch(
    candidates: KafkaMessage[],
    keyOf: (m: KafkaMessage) => string,
  ): Promise<ReadonlySet<KafkaMessage>> {
    const handle = this.opts.handleBatch;
    if (!handle || this.ctx.probe || this.stopped) return NONE;
    const pending = this.ctx.pendingDeadLetters;
    const messages = pending.size === 0 ? candidates : candidates.filter((m) => !pending.has(this.idOf(m)));
    if (messages.length === 0) return NONE;
    const { topic, partition } = this;
    try {
      return await handle(messages, { topic, partition, keyOf, fence: this.ctx.fence });
    } catch (e) {
      this.ctx.log.warn(
        `batch not handled in bulk, its messages run one by one: ${redactString((e as Error).message)}`,
        { topic, partition, code: errorCodeOf(e), messages: messages.length },
      );
      return NONE;
    }
  }

  private skips(message: KafkaMessage): boolean {
    const skip = this.opts.skip;
    if (!skip) return false;
    const pending = this.ctx.pendingDeadLetters;
    if (pending.size > 0 && pending.has(`${this.topic}/${this.partition}/${message.offset}`)) return false;
    try {
      return skip(message, this.topic, this.partition);
    } catch {
      return false;
    }
  }

  /** Heartbeats while the batch runs and makes progress (see SESSION_TIMEOUT_MS). */
  private keepAlive(): NodeJS.Timeout {
    const every = this.opts.heartbeatInterval ?? HEARTBEAT_INTERVAL_MS;
    const maxIdle = this.opts.maxIdleMs ?? MAX_IDLE_MS;
    const timer = setInterval(() => {
      if (this.heartbeatFailed || Date.now() - this.lastProgressAt > maxIdle) return;
      this.payload.heartbeat().catch((e: unknown) => this.onHeartbeatFailed(e));
    }, every);
    timer.unref();
    return timer;
  }

  private onHeartbeatFailed(e: unknown): void {
    if (this.heartbeatFailed) return;
    this.heartbeatFailed = e as Error;
    this.ctx.log.info(
      `heartbeat failed, stopping the batch (the next owner resumes): ${redactString((e as Error).message)}`,
      { topic: this.topic, partition: this.partition, committable: this.tracker.committable() },
    );
  }

  /** The handler, retried in place while the backoff is short; left unfinished when the batch stops or pauses. */
  private async runMessage(message: KafkaMessage): Promise<void> {
    const { topic, partition } = this;
    const id = `${topic}/${partition}/${message.offset}`;
    const pending = this.ctx.pendingDeadLetters.get(id);
    if (pending) {
      // decided earlier, its publish failed: publish it again, do not run the handler a second time
      if (!this.stopped) await this.deadLetter(message, pending.err, pending.attempt, pending.reasonPrefix);
      return;
    }
    for (;;) {
      if (this.stopped) return; // left unfinished: fetched again later
      const attempt = (this.ctx.failures.get(id)?.attempts ?? 0) + 1;
      const t0 = Date.now();
      let failure: { err: unknown } | undefined; // only the handler's own error counts
      try {
        await this.opts.handler(message, { topic, partition, attempt, fence: this.ctx.fence });
      } catch (err) {
        failure = { err };
      }
      if (!failure) {
        // Only the handler's outcome decides success: what follows (heartbeat, commit) cannot turn it into a failure.
        this.ctx.failures.delete(id);
        this.tracker.finish(message.offset);
        this.probeDone(message.offset);
        this.opts.onEvent?.({
          type: 'processed',
          topic,
          partition,
          offset: message.offset,
          ms: Date.now() - t0,
        });
        await this.afterFinished();
        return;
      }
      const { err } = failure;
      if (err instanceof FencedError) {
        // Not this message's outcome: another instance owns the partition now and handles it.
        this.ctx.failures.delete(id);
        if (!this.fenced)
          this.ctx.log.warn(`fenced, stopping the batch without committing: ${err.message}`, {
            topic,
            partition,
            offset: message.offset,
          });
        this.fenced = err;
        return;
      }
      const outage = isOutage(err);
      const prev = this.ctx.failures.get(id);
      const state: FailureState = {
        attempts: attempt,
        waits: (prev?.waits ?? 0) + (outage || !isRetriable(err) ? 0 : 1),
        since: prev?.since ?? t0,
      };
      this.ctx.failures.set(id, state);
      const history: FailureHistory = {
        attempt,
        waits: state.waits,
        failingForMs: Date.now() - state.since,
      };
      const decision = decideRetry(err, history, this.opts.retry);
      if (!decision.retry) {
        const exhausted =
          decision.reason === 'not-retriable'
            ? ''
            : decision.reason === 'gave-up'
              ? `retries exhausted after ${attempt} attempts in ${Math.round(history.failingForMs / 1000)} s (RETRY_GIVE_UP_AFTER_MS): `
              : `retries exhausted after ${attempt} attempts: `;
        await this.deadLetter(message, err, attempt, exhausted);
        return;
      }
      const inPlace = decision.delayMs <= (this.opts.inlineRetryMaxMs ?? 1000);
      this.reportRetry(message, err, attempt, decision.delayMs, inPlace);
      if (inPlace) {
        await sleep(decision.delayMs, this.ctx.abort);
        continue;
      }
      this.pause ??= new PauseRequested(decision.delayMs, {
        offset: message.offset,
        code: errorCodeOf(err),
        outage,
        attempt,
        timestamp: Number(message.timestamp),
        message: redactString((err as Error).message),
      });
      return;
    }
  }

  private idOf(message: KafkaMessage): string {
    return `${this.topic}/${this.partition}/${message.offset}`;
  }

  /** A message finished: when it was the one its blocked partition waited on, the batch runs at full width again. */
  private probeDone(offset: string): void {
    if (this.ctx.onFinished?.(offset)) this.slots?.raise(Math.max(1, this.opts.concurrency));
  }

  /**
   * Every retry is an event (sync_retries_total). A retry done in place is logged at `info`; one that pauses the
   * partition is the partition's `warn` line of that backoff step (KeyedConsumer.block), so an outage logs one line
   * per blocked partition and step, not one per message.
   */
  private reportRetry(
    message: KafkaMessage,
    err: unknown,
    attempt: number,
    delayMs: number,
    inPlace: boolean,
  ): void {
    const { topic, partition } = this;
    const code = errorCodeOf(err);
    this.opts.onEvent?.({ type: 'retry', topic, partition, offset: message.offset, attempt, delayMs, code });
    if (inPlace)
      this.ctx.log.info(`retriable failure, attempt ${attempt}: ${redactString((err as Error).message)}`, {
        topic,
        partition,
        offset: message.offset,
        code,
        delayMs,
      });
  }

  /**
   * Non-retriable (or retries exhausted): to the dead-letter topic with its reason, logged (warn) with its code, stage,
   * source position and whole reason; the offset finishes. A message whose earlier copy from this stage is still in
   * the topic (a replay of the group failed it again) is not published twice: logged at info, no ledger record.
   */
  private async deadLetter(
    message: KafkaMessage,
    err: unknown,
    attempt: number,
    reasonPrefix: string,
  ): Promise<void> {
    const { topic, partition } = this;
    const id = `${topic}/${partition}/${message.offset}`;
    const code = errorCodeOf(err);
    let result: PublishOutcome | void;
    try {
      result = await this.opts.deadLetters.publish({
        stage: this.opts.stage,
        group: this.opts.groupId,
        topic,
        partition,
        message,
        error: err,
        reasonPrefix,
        attempts: attempt,
        retriable: isRetriable(err),
      });
    } catch (publishError) {
      this.deadLetterFailed(message, { err, attempt, reasonPrefix }, publishError);
      return;
    }
    this.ctx.pendingDeadLetters.delete(id);
    const outcome = result;
    const position = {
      stage: this.opts.stage,
      code,
      topic,
      partition,
      offset: message.offset,
      attempts: attempt,
    };
    const reason = deadLetterReason({ error: err, reasonPrefix });
    const duplicate = !!outcome && !outcome.published;
    if (duplicate) {
      this.ctx.log.info(
        `not dead-lettered again (${code}): ${topic}[${partition}]@${message.offset} is already in the dead-letter topic${outcome.copy ? ` as ${outcome.copy}` : ''}, not replayed`,
        position,
      );
    } else {
      this.ctx.log.warn(`dead-lettered ${code} at ${topic}[${partition}]@${message.offset}: ${reason}`, {
        ...position,
        reason,
      });
      try {
        await this.opts.onDeadLettered?.(message, { topic, partition, attempt, fence: this.ctx.fence }, err);
      } catch (e) {
        if (!(e instanceof FencedError)) throw e;
        // a zombie records no outcome; the partition's owner handles the message again
        this.fenced = e;
        return;
      }
    }
    this.ctx.failures.delete(`${topic}/${partition}/${message.offset}`);
    this.tracker.finish(message.offset);
    this.probeDone(message.offset);
    this.opts.onEvent?.({
      type: 'dead-letter',
      topic,
      partition,
      offset: message.offset,
      code,
      ...(duplicate ? { duplicate } : {}),
    });
    await this.afterFinished();
  }

  /**
   * The dead-letter topic refused the dead letter: the message stays unfinished (nothing is committed past it), the
   * partition pauses with an exponential backoff (the retry policy's, by failed publishes), and the next fetch
   * publishes the same dead letter again.
   */
  private deadLetterFailed(
    message: KafkaMessage,
    d: Omit<PendingDeadLetter, 'failures'>,
    publishError: unknown,
  ): void {
    const { topic, partition } = this;
    const id = `${topic}/${partition}/${message.offset}`;
    const failures = (this.ctx.pendingDeadLetters.get(id)?.failures ?? 0) + 1;
    this.ctx.pendingDeadLetters.set(id, { ...d, failures });
    const { initialMs, maxMs, multiplier, jitter } = this.opts.retry;
    const base = Math.min(maxMs, initialMs * Math.pow(multiplier, Math.min(failures - 1, 30)));
    const delayMs = Math.max(1, Math.round(base * (1 - jitter * Math.random())));
    const code = errorCodeOf(publishError);
    this.opts.onEvent?.({
      type: 'dead-letter-failed',
      topic,
      partition,
      offset: message.offset,
      code,
      failures,
      delayMs,
    });
    this.ctx.log.warn(
      `dead letter not published (${code}), publishing it again in ${delayMs} ms: ${redactString((publishError as Error).message)}`,
      { topic, partition, offset: message.offset, failures, code: errorCodeOf(d.err) },
    );
    this.pause ??= new PauseRequested(delayMs, {
      offset: message.offset,
      code,
      outage: isOutage(publishError),
      attempt: failures,
      timestamp: Number(message.timestamp),
      message: `dead letter not published: ${redactString((publishError as Error).message)}`,
    });
  }

  /**
   * After a message finished (succeeded or dead-lettered): heartbeat, then a throttled commit. A failing heartbeat
   * (typically REBALANCE_IN_PROGRESS) never changes the message's outcome: it stops the batch — no further message
   * starts, in-flight ones finish — and the partition's next owner resumes after the committed watermark (the ledger
   * makes the re-processing of finished but uncommitted messages harmless).
   */
  private async afterFinished(): Promise<void> {
    this.lastProgressAt = Date.now();
    try {
      await this.payload.heartbeat();
    } catch (e) {
      this.onHeartbeatFailed(e);
    }
    void this.commitProgress(false).catch((e) => this.ctx.log.warn(`commit failed: ${(e as Error).message}`));
  }

  /**
   * autoCommit is off: commit explicit offsets, only up to the contiguous watermark, throttled while the batch runs
   * (so a slow key does not hold back the commit of finished work) and once more at the end. Handlers do not wait
   * for these commits (a slow OffsetCommit must not hold back the next message of the key or the batch); a failed
   * commit does not stop later ones (the next one covers it), and the final one is awaited.
   */
  private commitProgress(force: boolean): Promise<void> {
    const { resolveOffset, commitOffsetsIfNecessary, isRunning, isStale } = this.payload;
    const { topic, partition } = this;
    this.commitChain = this.commitChain
      .catch(() => undefined)
      .then(async () => {
        if (this.fenced) return; // a zombie commits nothing (its generation is stale anyway)
        const c = this.tracker.committable();
        if (c === undefined || c === this.lastCommitted || BigInt(c) <= 0n) return;
        if (!force && Date.now() - this.lastCommitAt < 200) {
          this.trailing ??= setTimeout(() => {
            this.trailing = undefined;
            if (isRunning() && !isStale()) this.commitProgress(true).catch(() => undefined);
          }, 200);
          return;
        }
        this.lastCommitAt = Date.now();
        resolveOffset((BigInt(c) - 1n).toString());
        await this.ctx.commits.submit('', { topic, partition, offset: c, commit: commitOffsetsIfNecessary });
        this.lastCommitted = c;
      });
    return this.commitChain;
  }

  /** The end-of-batch commit (awaited). */
  async finalCommit(): Promise<void> {
    if (this.trailing) clearTimeout(this.trailing);
    await this.commitProgress(true);
  }

  /** The contiguous watermark: every offset below it is finished. */
  committable(): string | undefined {
    return this.tracker.committable();
  }

  /** Where the next fetch must start after a pause: the first unfinished message. */
  resumeOffset(): string | undefined {
    return this.tracker.committable() ?? this.payload.batch.messages[0]?.offset;
  }
}

/** `${topic}/${partition}/${offset}` → topic and partition (topics may contain '/'? Kafka's may not). */
function splitId(id: string): [string, number] {
  const parts = id.split('/');
  return [parts.slice(0, -2).join('/'), Number(parts[parts.length - 2])];
}
