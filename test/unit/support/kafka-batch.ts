/** Scripted kafkajs batches for the keyed consumer's unit tests (no broker). */
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';

/** A record at `offset` with key `key` and value `v<offset>`. */
export function kafkaMessage(offset: number, key: string): KafkaMessage {
  return {
    offset: String(offset),
    key: Buffer.from(key),
    value: Buffer.from(`v${offset}`),
    timestamp: '0',
    attributes: 0,
    headers: {},
  } as KafkaMessage;
}

/**
 * A running batch of `messages` on `topic` ('t' unless given), `partition`, that needs no heartbeat and records each offset the
 * consumer commits in `commits`.
 */
export function batchPayload(
  messages: KafkaMessage[],
  commits: string[],
  partition = 0,
  topic = 't',
): EachBatchPayload {
  return {
    batch: { topic, partition, messages },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
    // the consumer's commits of several partitions may leave as one request: each offset in it is recorded
    commitOffsetsIfNecessary: async (o: { topics: { partitions: { offset: string }[] }[] }) => {
      for (const t of o.topics) for (const p of t.partitions) commits.push(p.offset);
    },
  } as unknown as EachBatchPayload;
}
