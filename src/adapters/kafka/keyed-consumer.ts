/**
 * A kafkajs consumer that processes messages of one partition concurrently across keys while keeping each key's
 * messages in order, and commits only past contiguous finished offsets.
 *
 * Failures follow one policy:
 * - a handler that succeeds (or decides to skip) finishes the offset;
 * - a non-retriable error sends the message to the dead-letter topic with its reason; the offset finishes and the
 *   partition moves on;
 * - a retriable error is retried in place while the backoff is short; a longer backoff pauses the partition
 *   (no spinning, no heartbeats without progress), commits what is finished, and resumes after the delay: the
 *   unfinished messages are fetched again (handlers must be idempotent — the ledger makes them so);
 * - after `maxAttempts`, the message is dead-lettered with reason "retries exhausted" (replayable later).
 */
import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { setMaxListeners } from 'node:events';
import { errorCodeOf, isRetriable } from '../../domain/errors';
import { componentLogger, redactString } from '../../core/log';
import { OffsetTracker } from './offsets';
import { decideRetry, RetryPolicy, sleep } from './retry';
import { DeadLetterPublisher } from './dlq';

export interface MessageContext {
  topic: string;
  partition: number;
  attempt: number;
}

export type MessageHandler = (message: KafkaMessage, ctx: MessageContext) => Promise<void>;

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
  sessionTimeout?: number;
  /** Key used for ordering; defaults to the Kafka message key. */
  orderingKey?: (m: KafkaMessage) => string;
  onEvent?: (e: KeyedConsumerEvent) => void;
  /** Called after a message reached the dead-letter topic (e.g. to record the outcome in the ledger). */
  onDeadLettered?: (message: KafkaMessage, ctx: MessageContext, error: unknown) => Promise<void>;
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
  | { type: 'dead-letter'; topic: string; partition: number; offset: string; code: string }
  | { type: 'paused'; topic: string; partition: number; delayMs: number }
  /** A fetched batch is done (kafkajs fetches the next ones when every partition's batch is done). */
  | { type: 'batch'; topic: string; partition: number; messages: number; ms: number; startedAt: number };

class PauseRequested extends Error {
  constructor(readonly delayMs: number) {
    super('pause');
  }
}

export class KeyedConsumer {
  private consumer: Consumer | undefined;
  private readonly log;
  /** attempt counts survive re-fetches after a pause: `${topic}/${partition}/${offset}` → attempts so far */
  private readonly attempts = new Map<string, number>();
  private readonly abort = new AbortController();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: KeyedConsumerOptions) {
    this.log = componentLogger(opts.stage);
    setMaxListeners(0, this.abort.signal); // one listener per key sleeping in a retry backoff
  }

  async start(): Promise<void> {
    const { kafka, groupId, topics, fromBeginning } = this.opts;
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.opts.sessionTimeout ?? 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 100,
      retry: { retries: 10 },
    });
    this.consumer = consumer;
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
  }

  get kafkaConsumer(): Consumer | undefined {
    return this.consumer;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    const batchStartedAt = Date.now();
    const tracker = new OffsetTracker();
    const keyTails = new Map<string, Promise<void>>();
    let active = 0;
    const waiters: (() => void)[] = [];
    let pause: PauseRequested | undefined;
    const orderingKey =
      this.opts.orderingKey ?? ((m: KafkaMessage) => (m.key ? m.key.toString('latin1') : `@${m.offset}`));

    // autoCommit is off: commit explicit offsets, only up to the contiguous watermark, throttled while the batch
    // runs (so a slow key does not hold back the commit of finished work) and once more at the end. Handlers do not
    // wait for these commits (a slow OffsetCommit must not hold back the next message of the key or the batch); a
    // failed commit does not stop later ones (the next one covers it), and the final one is awaited.
    let lastCommitted: string | undefined;
    let lastCommitAt = 0;
    let commitChain: Promise<void> = Promise.resolve();
    let trailing: NodeJS.Timeout | undefined;
    const commitProgress = (force: boolean): Promise<void> => {
      commitChain = commitChain
        .catch(() => undefined)
        .then(async () => {
          const c = tracker.committable();
          if (c === undefined || c === lastCommitted || BigInt(c) <= 0n) return;
          if (!force && Date.now() - lastCommitAt < 200) {
            trailing ??= setTimeout(() => {
              trailing = undefined;
              if (isRunning() && !isStale()) commitProgress(true).catch(() => undefined);
            }, 200);
            return;
          }
          lastCommitAt = Date.now();
          resolveOffset((BigInt(c) - 1n).toString());
          await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: c }] }] });
          lastCommitted = c;
        });
      return commitChain;
    };

    const runOne = async (message: KafkaMessage): Promise<void> => {
      const id = `${topic}/${partition}/${message.offset}`;
      for (;;) {
        if (pause || !isRunning() || isStale()) return; // left unfinished: fetched again later
        const attempt = (this.attempts.get(id) ?? 0) + 1;
        this.attempts.set(id, attempt);
        const t0 = Date.now();
        try {
          await this.opts.handler(message, { topic, partition, attempt });
          this.attempts.delete(id);
          tracker.finish(message.offset);
          this.opts.onEvent?.({
            type: 'processed',
            topic,
            partition,
            offset: message.offset,
            ms: Date.now() - t0,
          });
          await heartbeat();
          void commitProgress(false).catch((e) => this.log.warn(`commit failed: ${(e as Error).message}`));
          return;
        } catch (err) {
          const decision = decideRetry(err, attempt, this.opts.retry);
          if (decision.retry) {
            const code = errorCodeOf(err);
            this.opts.onEvent?.({
              type: 'retry',
              topic,
              partition,
              offset: message.offset,
              attempt,
              delayMs: decision.delayMs,
              code,
            });
            this.log.warn(`retriable failure, attempt ${attempt}: ${redactString((err as Error).message)}`, {
              topic,
              partition,
              offset: message.offset,
              code,
              delayMs: decision.delayMs,
            });
            if (decision.delayMs <= (this.opts.inlineRetryMaxMs ?? 1000)) {
              await sleep(decision.delayMs, this.abort.signal);
              continue;
            }
            pause ??= new PauseRequested(decision.delayMs);
            return;
          }
          const reason =
            decision.reason === 'exhausted' ? `retries exhausted after ${attempt} attempts: ` : '';
          await this.opts.deadLetters.publish({
            stage: this.opts.stage,
            topic,
            partition,
            message,
            error: err,
            reasonPrefix: reason,
            attempts: attempt,
            retriable: isRetriable(err),
          });
          await this.opts.onDeadLettered?.(message, { topic, partition, attempt }, err);
          this.attempts.delete(id);
          tracker.finish(message.offset);
          this.opts.onEvent?.({
            type: 'dead-letter',
            topic,
            partition,
            offset: message.offset,
            code: errorCodeOf(err),
          });
          await heartbeat();
          void commitProgress(false).catch((e) => this.log.warn(`commit failed: ${(e as Error).message}`));
          return;
        }
      }
    };

    const limit = Math.max(1, this.opts.concurrency);
    const acquire = async () => {
      while (active >= limit) await new Promise<void>((r) => waiters.push(r));
      active++;
    };
    const release = () => {
      active--;
      waiters.shift()?.();
    };
    for (const message of batch.messages) {
      if (pause || !isRunning() || isStale()) break;
      tracker.begin(message.offset);
      const key = orderingKey(message);
      const prev = keyTails.get(key) ?? Promise.resolve();
      const run = prev.then(async () => {
        await acquire();
        try {
          await runOne(message);
        } catch (e) {
          // A bug in the pipeline itself (not in the message): stop this batch, retry later.
          this.log.error(`handler crashed: ${redactString((e as Error).message)}`, {
            topic,
            partition,
            offset: message.offset,
          });
          pause ??= new PauseRequested(this.opts.retry.initialMs);
        } finally {
          release();
        }
      });
      keyTails.set(key, run);
    }
    await Promise.all(keyTails.values());
    if (trailing) clearTimeout(trailing);
    await commitProgress(true);
    this.opts.onEvent?.({
      type: 'batch',
      topic,
      partition,
      messages: batch.messages.length,
      ms: Date.now() - batchStartedAt,
      startedAt: batchStartedAt,
    });
    if (pause && isRunning()) {
      const delayMs = pause.delayMs;
      this.opts.onEvent?.({ type: 'paused', topic, partition, delayMs });
      this.log.warn(`pausing ${topic}[${partition}] for ${delayMs} ms`, { committed: tracker.committable() });
      const consumer = this.consumer!;
      consumer.pause([{ topic, partitions: [partition] }]);
      const c = tracker.committable();
      // Make the next fetch start at the first unfinished message.
      const firstUnfinished = c ?? batch.messages[0]?.offset;
      if (firstUnfinished !== undefined) consumer.seek({ topic, partition, offset: firstUnfinished });
      const timer = setTimeout(() => {
        this.resumeTimers.delete(timer);
        consumer.resume([{ topic, partitions: [partition] }]);
      }, delayMs);
      this.resumeTimers.add(timer);
    }
  }
}
