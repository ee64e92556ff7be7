/** Scripted kafkajs batches for the keyed consumer's unit tests (no broker). */
import type { KafkaMessage } from 'kafkajs';

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
