/**
 * Wiring of the two projection stages on Kafka (thin adapters around the pure parts):
 * - router: consumer group `sync-router` on the Debezium topics of the watched tables → intents topic;
 * - projector: consumer group `sync-projector` on the intents topic → OpenCell, ledger and outbox.
 * Both use the keyed consumer (per-key order, contiguous commits, retry with backoff, dead-letter topic).
 */
import { IHeaders, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { KeyHashPartitioner } from '../../adapters/kafka/partitioner';
import { tableOfTopic, topicFor } from '../../domain/capture';
import type { Config } from '../../core/config';
import { componentLogger, redactString } from '../../core/log';
import { errorCodeOf } from '../../domain/errors';
import {
  formatTraceparent,
  parseTraceparent,
  traceFromSeed,
  TRACEPARENT,
  withTrace,
  type TraceContext,
} from '../../core/trace';
import { CoalescingSender } from '../../adapters/kafka/coalescing-sender';
import { wholeRetryProducer } from '../../adapters/kafka/whole-retry-producer';
import { DeadLetterIndex, KafkaDeadLetterPublisher } from '../../adapters/kafka/dlq';
import { ensureTopics } from '../../adapters/kafka/kafka';
import { KeyedConsumer, KeyedConsumerEvent } from '../../adapters/kafka/keyed-consumer';
import type { FenceToken, PartitionFence } from '../../adapters/postgres/fence';
import { RetryPolicy } from '../../adapters/kafka/retry';
import { triggeringTables } from '../../domain/projection/filter';
import { decodeIntentMessage, encodeIntentMessage, type IntentMessage } from '../../domain/intents/message';
import type { IntentResult } from '../../adapters/postgres/ledger';
import { Projector } from './projector';
import {
  predecode,
  routeBatch,
  routeMessage,
  type Predecoded,
  RouteOptions,
  RouteResult,
  RoutingReader,
} from './router';

export const ROUTER_GROUP = 'sync-router';
export const PROJECTOR_GROUP = 'sync-projector';

export interface StageHooks {
  onConsumerEvent?: (stage: string, e: KeyedConsumerEvent) => void;
  /** `events` change events of `table` routed to `routed` intents (several at once: events the fast path skipped) */
  onRouted?: (table: string, routed: number, filtered: string | undefined, events?: number) => void;
  /** `intents` the router derived again from changes of `table` and left out, the ledger having finished them */
  onAlreadyFinished?: (table: string, intents: number) => void;
  /** an intent the projector finished (applied or skipped) now, its OpenCell calls done (not for replays) */
  onProjected?: (msg: IntentMessage, result: IntentResult) => void;
}

/**
 * The trace a change starts: derived from its place in the WAL (table, row, LSN, transaction), so the same change
 * read again (offset reset, connector restart) has the same trace id; from its Kafka position when it has no LSN.
 */
export function changeTrace(source: IntentMessage['source']): TraceContext {
  return traceFromSeed(
    source.lsn !== null
      ? `change|${source.table}|${source.rowId ?? ''}|${source.lsn}|${source.txId ?? ''}`
      : `change|${source.topic}|${source.partition}|${source.offset}|${source.table}|${source.rowId ?? ''}`,
  );
}

/** The trace of an intent: its message's `traceparent` header, else one of its own (operator intents, old messages). */
export function intentTrace(headers: IHeaders | undefined, msg: IntentMessage): TraceContext {
  return parseTraceparent(headerValue(headers?.[TRACEPARENT])) ?? traceFromSeed(`intent|${msg.intentId}`);
}

function headerValue(v: IHeaders[string]): string | Buffer | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function routerTopics(prefix: string): string[] {
  return triggeringTables().map((t) => topicFor(t, prefix));
}

export async function ensurePipelineTopics(kafka: Kafka, config: Config): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(
      admin,
      [
        { topic: config.topics.intents, numPartitions: config.topics.intentsPartitions },
        { topic: config.topics.dlq, numPartitions: 1 },
        { topic: config.topics.syncEvents, numPartitions: 3 },
        { topic: config.topics.invoiceEvents, numPartitions: 3 },
        ...routerTopics(config.topics.prefix).map((topic) => ({ topic, numPartitions: 3 })),
      ],
      config.kafka.replication,
    );
  } finally {
    await admin.disconnect();
  }
}

export function retryPolicyOf(config: Config): RetryPolicy {
  return {
    initialMs: config.retry.initialMs,
    maxMs: config.retry.maxMs,
    multiplier: 2,
    maxAttempts: config.retry.maxAttempts,
    giveUpAfterMs: config.retry.giveUpAfterMs,
    jitter: 0.5,
  };
}

/**
 * The stages' producer (intents, dead letters). Several requests may be in flight: per-key order does not depend on
 * the producer, because a key's next message is handled only after its previous send was acknowledged (acks=all),
 * and a duplicate from a producer retry is harmless (intent ids are deduplicated by the ledger). A failed send is
 * retried whole (whole-retry-producer.ts): kafkajs's own retry could resolve a send without the messages of a
 * partition whose leader had moved (bench/three-brokers.md).
 */
export function createProducer(kafka: Pick<Kafka, 'producer'>): Producer {
  return wholeRetryProducer(kafka, {
    maxInFlightRequests: 5,
    allowAutoTopicCreation: false,
    createPartitioner: KeyHashPartitioner,
  });
}

/** What the router's skip decoded of a change (router.ts `predecode`), handed to the message's routing. */
const PREDECODED = Symbol('predecoded change');

/** Changes the router handles at once per partition. */
export const ROUTER_CONCURRENCY = 64;

export function createRouter(opts: {
  kafka: Kafka;
  producer: Producer;
  config: Config;
  reader: RoutingReader;
  hooks?: StageHooks;
  groupId?: string;
  /** dead letters already in the topic (a replay of the group does not publish them twice) */
  deadLetterIndex?: DeadLetterIndex;
  /**
   * The ledger's replay check (which of these intents the projector has finished): with it, a replayed batch's
   * finished intents are not produced again (unfinishedIntents).
   */
  finished?: (intentIds: readonly string[]) => Promise<boolean[]>;
  /** the clock of BULK_REPLAY_IDLE_MS (tests) */
  now?: () => number;
}): KeyedConsumer {
  const { kafka, producer, config, reader, hooks } = opts;
  const log = componentLogger('router');
  const now = opts.now ?? Date.now;
  let checkFailureLoggedAt = -Infinity;
  const unfinished = opts.finished
    ? unfinishedIntents(
        opts.finished,
        now,
        (topic, partition, intents) => {
          hooks?.onAlreadyFinished?.(tableOfTopic(topic), intents);
          log.debug(`${intents} intent(s) of ${topic}[${partition}] finished already: not produced again`);
        },
        (topic, partition, err) => {
          // an economy lost, nothing else: said once a minute, so that a defect or an outage behind it is seen
          if (now() - checkFailureLoggedAt < 60_000) return;
          checkFailureLoggedAt = now();
          log.warn(
            `the replay check failed; the batch's intents are all produced (finished ones end at the projector): ${redactString((err as Error).message)}`,
            { topic, partition, code: errorCodeOf(err) },
          );
        },
      )
    : undefined;
  // The handlers of a fetched batch route concurrently; their intents leave in shared produce requests.
  const sender = new CoalescingSender(producer, { acks: -1, maxInFlight: 2 });
  // The fast paths (bytes, then the parsed envelope) and the decoding run as the batch is scheduled: a change that
  // certainly triggers nothing is finished at once; what was decoded of the others is handed to their routing on the
  // message itself (a WeakMap's entries cost a table resize now and then, some 1.4 KB per relevant change in a replay).
  type WithPredecoded = KafkaMessage & { [PREDECODED]?: Predecoded };
  // taken once: a decoded change lives no longer than its routing (a retry decodes the record again)
  const takePredecoded = (message: WithPredecoded) => {
    const pre = message[PREDECODED];
    if (pre) message[PREDECODED] = undefined;
    return pre;
  };
  const skip = (message: WithPredecoded, topic: string, partition: number): boolean => {
    const pre = predecode(topic, partition, message.offset, message.key, message.value);
    if (pre === undefined) return true;
    message[PREDECODED] = pre;
    return false;
  };
  const routeOptions: RouteOptions = {
    syncPartnerIdentity: config.syncPartnerIdentity,
    syncEmailIbanAtCreation: config.syncEmailIbanAtCreation,
    syncTerminationAtCreation: config.syncTerminationAtCreation,
    phonePlaceholderIsNoNumber: config.opencell.phonePlaceholderIsNoNumber,
  };
  const reportRouted = (r: RouteResult, topic: string) =>
    hooks?.onRouted?.(tableOfTopic(topic), r.messages.length, r.filtered);
  return new KeyedConsumer({
    kafka,
    groupId: opts.groupId ?? ROUTER_GROUP,
    topics: routerTopics(config.topics.prefix),
    stage: 'router',
    // A message the batch could not route runs alone: changes of different rows are independent (each key keeps its
    // order), so many run at once and share their produce requests (and their contracts' holder reads).
    concurrency: ROUTER_CONCURRENCY,
    retry: retryPolicyOf(config),
    deadLetters: new KafkaDeadLetterPublisher(producer, config.topics.dlq, undefined, opts.deadLetterIndex),
    skip,
    // A fetched batch is routed together: its reads shared (one query per kind of read for the batch), its intents in
    // one produce request; its offsets finish once that request is acknowledged (issue 17 §2, a replay's rate).
    handleBatch: async (messages, { topic, partition, keyOf }) => {
      const results = await routeBatch(
        topic,
        partition,
        messages.map((m) => ({
          orderKey: keyOf(m),
          offset: m.offset,
          key: m.key,
          value: m.value,
          pre: takePredecoded(m),
        })),
        reader,
        routeOptions,
      );
      const done = new Set<KafkaMessage>();
      let routed: Routed[] = [];
      for (let i = 0; i < messages.length; i++) {
        const r = results[i];
        if (!r) continue;
        done.add(messages[i]);
        for (const intent of r.messages) routed.push({ intent, change: messages[i] });
      }
      // left out before they are encoded: a replay's finished intents cost no record
      if (unfinished) routed = await unfinished(topic, partition, routed);
      await sender.send(config.topics.intents, routedRecords(routed));
      for (const r of results) if (r) reportRouted(r, topic);
      return done;
    },
    onEvent: (e) => {
      if (e.type === 'skipped') hooks?.onRouted?.(tableOfTopic(e.topic), 0, 'irrelevant', e.messages);
      hooks?.onConsumerEvent?.('router', e);
    },
    handler: async (message, ctx) => {
      const r = await routeMessage(
        ctx.topic,
        ctx.partition,
        message.offset,
        message.key,
        message.value,
        reader,
        routeOptions,
        takePredecoded(message),
      );
      reportRouted(r, ctx.topic);
      if (r.messages.length === 0) return;
      const records = intentRecords(r.messages, message);
      await withTrace(traceOf(message, r.messages), async () => {
        await sender.send(config.topics.intents, records);
        log.debug(`routed ${r.messages.length} intent(s) from ${ctx.topic}@${message.offset}`);
      });
    },
  });
}

/** The trace a change's intents carry on (src/core/trace.ts): its record's own, else the one the change starts. */
function traceOf(message: KafkaMessage, intents: readonly IntentMessage[]): TraceContext {
  return parseTraceparent(headerValue(message.headers?.[TRACEPARENT])) ?? changeTrace(intents[0].source);
}

/**
 * The smallest fetched batch the projector checks in bulk. A live batch (a few intents just routed) is not checked
 * twice: its handlers' own replay checks are needed anyway (they carry the fence check) and share their statements;
 * a large batch is a backlog — a replay, a resync, a partition taken over — where one statement for the batch can
 * spare every handler run.
 */
export const BULK_REPLAY_MIN_BATCH = 32;

/** After a bulk check that found no finished intent, the partition's batches skip the check for this long. */
export const BULK_REPLAY_IDLE_MS = 30_000;

const NOTHING: ReadonlySet<KafkaMessage> = new Set();

/**
 * The messages of a fetched batch whose intent the ledger has finished, wherever they stand on their key. Finishing
 * one early reorders nothing: a finished intent stays finished (the ledger never takes an outcome back) and its
 * handler would end it at its replay check with no effect, so a key's unfinished intent (a dead-lettered one that a
 * replay tries again, say) need not hold its later finished ones back (KeyedConsumerOptions.handleBatch). The
 * intent id is read from the record's `intent_id` header, which the router and the operator commands write beside
 * the value's own; a record without one is left to the handler, which decodes the value.
 */
export async function finishedIntents(
  messages: readonly KafkaMessage[],
  projector: Pick<Projector, 'finished'>,
  fence: FenceToken | undefined,
): Promise<Set<KafkaMessage>> {
  const ids: string[] = [];
  const asked: KafkaMessage[] = [];
  for (const m of messages) {
    const id = headerValue(m.headers?.intent_id);
    if (id === undefined) continue;
    ids.push(typeof id === 'string' ? id : id.toString('utf8'));
    asked.push(m);
  }
  const done = new Set<KafkaMessage>();
  if (ids.length === 0) return done;
  const finished = await projector.finished(ids, fence);
  for (let i = 0; i < asked.length; i++) if (finished[i]) done.add(asked[i]);
  return done;
}

/**
 * The intents of a routed batch without those the ledger has finished (issue 17 §2). A resync replays the
 * router's topics from their start: every intent it derives was derived before, and those the projector finished
 * would only be read, checked and ended again — the projector's bulk check does the same (finishedIntents). Not
 * producing them is as safe: a finished intent has no effect when projected again, so leaving it out of its key's
 * queue changes nothing for the intents around it, which are still produced in order.
 *
 * Only a batch of at least BULK_REPLAY_MIN_BATCH intents is checked (a live batch's few new intents are never
 * finished), and after a check that found none the partition's batches skip it for BULK_REPLAY_IDLE_MS (a burst of
 * new changes). The check is an economy: when it fails (the state database unreachable) the records are all produced.
 */
export function unfinishedIntents(
  finished: (intentIds: readonly string[]) => Promise<boolean[]>,
  now: () => number,
  onSkipped?: (topic: string, partition: number, intents: number) => void,
  onCheckFailed?: (topic: string, partition: number, err: unknown) => void,
): (topic: string, partition: number, routed: Routed[]) => Promise<Routed[]> {
  const idleUntil = new Map<string, number>();
  return async (topic, partition, routed) => {
    if (routed.length < BULK_REPLAY_MIN_BATCH) return routed;
    const k = `${topic}/${partition}`;
    const at = now();
    if ((idleUntil.get(k) ?? 0) > at) return routed;
    let done: boolean[];
    try {
      done = await finished(routed.map((r) => r.intent.intentId));
    } catch (e) {
      onCheckFailed?.(topic, partition, e);
      return routed;
    }
    const kept = routed.filter((_r, i) => !done[i]);
    if (kept.length === routed.length) idleUntil.set(k, at + BULK_REPLAY_IDLE_MS);
    else {
      idleUntil.delete(k);
      onSkipped?.(topic, partition, routed.length - kept.length);
    }
    return kept;
  };
}

/** An intent the router derived, with the change it comes from. */
export interface Routed {
  intent: IntentMessage;
  change: KafkaMessage;
}

/** The records of routed intents, in order; a change's intents share its trace. */
function routedRecords(routed: readonly Routed[]): Message[] {
  const records: Message[] = [];
  for (let i = 0; i < routed.length;) {
    const change = routed[i].change;
    const intents: IntentMessage[] = [];
    for (; i < routed.length && routed[i].change === change; i++) intents.push(routed[i].intent);
    records.push(...intentRecords(intents, change));
  }
  return records;
}

/** The intents topic's records of one change's intents (keyed by customer, in order). */
function intentRecords(intents: readonly IntentMessage[], change: KafkaMessage): Message[] {
  const traceparent = formatTraceparent(traceOf(change, intents));
  return intents.map((m) => ({
    key: m.aggregateKey,
    value: encodeIntentMessage(m),
    headers: {
      intent_id: m.intentId,
      intent_kind: m.intent.kind,
      source_table: m.source.table,
      [TRACEPARENT]: traceparent,
    },
  }));
}

export function createProjector(opts: {
  kafka: Kafka;
  producer: Producer;
  config: Config;
  projector: Projector;
  hooks?: StageHooks;
  groupId?: string;
  concurrency?: number;
  deadLetterIndex?: DeadLetterIndex;
  /** Fencing of the projector's partitions (issue 15 §2): a zombie instance applies nothing once they moved. */
  fence?: PartitionFence;
  /** fetched batches of at least this many intents get the bulk replay check (default BULK_REPLAY_MIN_BATCH) */
  bulkReplayMinBatch?: number;
  /** the clock of BULK_REPLAY_IDLE_MS (tests) */
  now?: () => number;
}): KeyedConsumer {
  const { kafka, producer, config, projector, hooks } = opts;
  const log = componentLogger('projector');
  /** partition → until when its batches skip the bulk replay check (its last check found nothing finished) */
  const bulkIdleUntil = new Map<string, number>();
  return new KeyedConsumer({
    kafka,
    groupId: opts.groupId ?? PROJECTOR_GROUP,
    topics: [config.topics.intents],
    stage: 'projector',
    concurrency: opts.concurrency ?? config.opencell.concurrency,
    retry: retryPolicyOf(config),
    deadLetters: new KafkaDeadLetterPublisher(producer, config.topics.dlq, undefined, opts.deadLetterIndex),
    onEvent: (e) => hooks?.onConsumerEvent?.('projector', e),
    fence: opts.fence,
    // A replay (offset reset, resync) re-reads intents the ledger has finished: a fetched batch's replay checks are
    // asked at once and the finished ones end without a decode, a handler run or a statement each (issue 17 §2).
    handleBatch: async (messages, { topic, partition, fence }) => {
      if (messages.length < (opts.bulkReplayMinBatch ?? BULK_REPLAY_MIN_BATCH)) return NOTHING;
      // A backlog of new intents (a lagging projector) has nothing finished: after a check that found none, the
      // partition's next batches go straight to their handlers for a while, so that the lag is not made worse.
      const at = (opts.now ?? Date.now)();
      const k = `${topic}/${partition}`;
      if ((bulkIdleUntil.get(k) ?? 0) > at) return NOTHING;
      const done = await finishedIntents(messages, projector, fence);
      if (done.size === 0) bulkIdleUntil.set(k, at + BULK_REPLAY_IDLE_MS);
      else bulkIdleUntil.delete(k);
      return done;
    },
    handler: async (message, ctx) => {
      const msg = decodeIntentMessage(ctx.topic, ctx.partition, message.offset, message.value);
      await withTrace(intentTrace(message.headers, msg), async () => {
        // a dead letter put back by `dlq replay` carries replayed_from
        const result = await projector.handle(msg, ctx.attempt, {
          replayed: message.headers?.replayed_from !== undefined,
          fence: ctx.fence,
        });
        if (result) hooks?.onProjected?.(msg, result);
      });
    },
    onDeadLettered: async (message, ctx, err) => {
      let msg;
      try {
        msg = decodeIntentMessage(ctx.topic, ctx.partition, message.offset, message.value);
      } catch {
        return; // a malformed intent has no ledger record to write
      }
      await withTrace(intentTrace(message.headers, msg), async () => {
        log.info(`dead-lettered ${msg.intent.kind}: ${redactString((err as Error).message)}`, {
          intentId: msg.intentId,
          aggregate: msg.aggregateKey,
          lsn: msg.source.lsn,
        });
        await projector.recordDeadLetter(msg, err, ctx.attempt, ctx.fence);
      });
    },
  });
}
