/**
 * The producers' partitioner: the partition of a keyed message is Java's `murmur2(key) & 0x7fffffff % partitions`,
 * exactly as kafkajs's `Partitioners.DefaultPartitioner` and the Java client's default partitioner compute it, so a
 * key's messages land where every other producer of the topic puts them.
 *
 * Why not kafkajs's own: it computes murmur2 with 64-bit `Long` objects (several allocations per 4 key bytes) and
 * filters the partition list into a new array for every message, keyed or not; the router pays that per intent in a
 * replay (bench/interpretation.md, session 13). Here the hash is 32-bit integer arithmetic over the key's UTF-8
 * bytes, written into a reused scratch buffer: no allocation for a key of up to 1 KiB. A unit test checks the
 * partitions against kafkajs's partitioner over many keys.
 *
 * Keyless messages go round-robin over the partitions that have a leader, as kafkajs's do; an explicit partition
 * wins.
 */
import { randomBytes } from 'node:crypto';
import type { ICustomPartitioner, PartitionerArgs } from 'kafkajs';

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils#murmur2) of `len` bytes of `data`, as a signed 32-bit int. */
export function murmur2(data: Uint8Array, len: number = data.length): number {
  let h = SEED ^ len;
  const len4 = len >>> 2;
  for (let i = 0; i < len4; i++) {
    const i4 = i << 2;
    let k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // the last 1–3 bytes (Java's switch falls through from case 3 to case 1)
  const tail = len & ~3;
  const rest = len & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[tail + 2] << 16;
    if (rest >= 2) h ^= data[tail + 1] << 8;
    h ^= data[tail];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const SCRATCH = Buffer.allocUnsafe(1024);

/** The murmur2 of a message key: its bytes, or a string's (any other value's String()) UTF-8 bytes. */
export function keyHash(key: Buffer | string): number {
  if (typeof key !== 'string') return murmur2(key);
  // a UTF-8 encoding takes at most 3 bytes per UTF-16 unit
  if (key.length * 3 <= SCRATCH.length) return murmur2(SCRATCH, SCRATCH.write(key, 'utf8'));
  return murmur2(Buffer.from(key, 'utf8'));
}

/** A partitioner for kafkajs's `createPartitioner` (same partitions as `Partitioners.DefaultPartitioner`). */
export const KeyHashPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const n = partitionMetadata.length;
    if (message.key !== null && message.key !== undefined) return (keyHash(message.key) & 0x7fffffff) % n;
    let counter = counters.get(topic) ?? randomBytes(4).readUInt32BE(0);
    counters.set(topic, ++counter);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[(counter & 0x7fffffff) % available.length].partitionId;
    return (counter & 0x7fffffff) % n;
  };
};
