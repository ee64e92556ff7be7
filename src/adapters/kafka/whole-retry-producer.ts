/**
 * A kafkajs producer whose failed send is retried whole: every attempt is a fresh kafkajs send, so each partition's
 * messages go to the leader the refreshed metadata names.
 *
 * kafkajs 2.2.4 retries a send inside one call that remembers which brokers already answered it
 * (node_modules/kafkajs/src/producer/sendMessages.js, `responsePerBroker`). When one broker fails (killed, or no
 * longer leader) and its partitions move to a broker that had answered for other partitions of the same send, the
 * retry sends nothing to that broker and the send resolves: the moved partitions' messages were never written, yet
 * the caller is told they were acknowledged. A router that then commits its source offset loses those intents with
 * no dead letter and no ledger row (bench/three-brokers.md: a line end lost under broker kills). Here kafkajs does
 * not retry (`retries: 0`); a retriable failure is retried by sending the whole request again. Messages a failed
 * attempt did write are written again: the stages' consumers deduplicate them (intent ids in the ledger, dead
 * letters by their source, released held intents by the ledger).
 */
import type { Kafka, Producer, ProducerConfig } from 'kafkajs';
import { KeyHashPartitioner } from './partitioner';
import { isRetriable } from '../../domain/errors';

export interface WholeSendRetry {
  /** sends after the first */
  retries: number;
  initialRetryTime: number;
  maxRetryTime: number;
}

/** The schedule kafkajs had (createKafka: 300 ms, 8 retries, doubling up to 30 s). */
export const WHOLE_SEND_RETRY: WholeSendRetry = { retries: 8, initialRetryTime: 300, maxRetryTime: 30_000 };

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function wholeRetryProducer(
  kafka: Pick<Kafka, 'producer'>,
  config: ProducerConfig = {},
  retry: WholeSendRetry = WHOLE_SEND_RETRY,
  sleep: (ms: number) => Promise<void> = defaultSleep,
): Producer {
  const inner = kafka.producer({ ...config, retry: { ...config.retry, retries: 0 } });
  const whole = async <T>(send: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (e) {
        if (attempt >= retry.retries || !isRetriable(e)) throw e;
        const base = Math.min(retry.maxRetryTime, retry.initialRetryTime * Math.pow(2, attempt));
        await sleep(Math.round(base * (0.8 + 0.4 * Math.random())));
      }
    }
  };
  return {
    ...inner,
    send: (record) => whole(() => inner.send(record)),
    sendBatch: (batch) => whole(() => inner.sendBatch(batch)),
  };
}

/**
 * The producer of the outbox relay and of the invoice loader's dead letters: one request in flight, so a key's messages
 * keep their order also across a whole re-send; retried whole like the stages' producer. Not idempotent: kafkajs
 * refuses `retries: 0` on an idempotent producer, and its in-send retry is the one that can resolve without a moved
 * partition's messages (kafkajs #1303) — the relay would then mark rows published that Kafka never had. A re-sent
 * batch may write a message twice; its readers drop repeats by event id (the `event_id` header: sync-event
 * subscribers, the invoice loader's processed_event).
 */
export function orderedWholeRetryProducer(kafka: Pick<Kafka, 'producer'>): Producer {
  return wholeRetryProducer(kafka, {
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: KeyHashPartitioner,
  });
}
