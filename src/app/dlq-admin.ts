/**
 * `dlq list|show|replay`: reads the dead-letter topic (a dead letter's id is `partition:offset`), shows why each
 * message failed, and replays chosen ones: the original key, value and headers (minus the `dlq.*` headers, plus
 * `replayed_from`) go back to the source topic and partition recorded in the headers. Replays are recorded in
 * the state database (table dlq_replay, schemas/state/030-ops.sql) so that `list` shows them.
 */
import type { Admin, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DLQ_HEADER } from '../adapters/kafka/dlq';
import { topicOffsets } from '../adapters/kafka/groups';
import { table } from './args';

export interface DeadLetterRecord {
  id: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  stage: string | null;
  code: string | null;
  message: string | null;
  retriable: boolean | null;
  attempts: number | null;
  source: { topic: string | null; partition: number | null; offset: string | null };
  failedAt: string | null;
  replayed: { at: string; offset: string | null } | null;
}

export function headerString(h: IHeaders, name: string): string | null {
  const v = h[name];
  if (v === undefined || v === null) return null;
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? null : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

export function parseDlqId(id: string): { partition: number; offset: string } | null {
  const m = /^(\d+):(\d+)$/.exec(id.trim());
  return m ? { partition: Number(m[1]), offset: m[2] } : null;
}

export function toDeadLetter(
  partition: number,
  m: Pick<KafkaMessage, 'offset' | 'key' | 'value' | 'headers' | 'timestamp'>,
): DeadLetterRecord {
  const h = m.headers ?? {};
  const num = (s: string | null) => (s === null || s === '' || Number.isNaN(Number(s)) ? null : Number(s));
  const retriable = headerString(h, DLQ_HEADER.retriable);
  return {
    id: `${partition}:${m.offset}`,
    partition,
    offset: m.offset,
    timestamp: new Date(Number(m.timestamp)).toISOString(),
    key: m.key ?? null,
    value: m.value ?? null,
    headers: h,
    stage: headerString(h, DLQ_HEADER.stage),
    code: headerString(h, DLQ_HEADER.code),
    message: headerString(h, DLQ_HEADER.message),
    retriable: retriable === null ? null : retriable === 'true',
    attempts: num(headerString(h, DLQ_HEADER.attempts)),
    source: {
      topic: headerString(h, DLQ_HEADER.topic),
      partition: num(headerString(h, DLQ_HEADER.partition)),
      offset: headerString(h, DLQ_HEADER.offset),
    },
    failedAt: headerString(h, DLQ_HEADER.failedAt),
    replayed: null,
  };
}

/** The original headers: every `dlq.*` header removed. */
export function originalHeaders(h: IHeaders): IHeaders {
  const out: IHeaders = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith('dlq.') && v !== undefined) out[k] = v;
  return out;
}

/**
 * Reads every message of the topic up to its current end (a throw-away consumer group, deleted afterwards, so
 * nothing is committed anywhere the pipeline reads).
 */
export async function readTopic(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  timeoutMs = 30_000,
): Promise<{ partition: number; message: KafkaMessage }[]> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return [];
  const ends = await topicOffsets(admin, topic);
  const pending = new Map(
    ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]),
  );
  if (pending.size === 0) return [];
  const groupId = `ops-dlq-reader-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 10_000 });
  const out: { partition: number; message: KafkaMessage }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading ${topic} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = pending.get(partition);
            if (end === undefined) return;
            if (BigInt(message.offset) < end) out.push({ partition, message });
            if (BigInt(message.offset) >= end - 1n) pending.delete(partition);
            if (pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch((e) => {
          clearTimeout(timer);
          reject(e);
        });
    });
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return out.sort(
    (a, b) => a.partition - b.partition || Number(BigInt(a.message.offset) - BigInt(b.message.offset)),
  );
}

export async function replayedIds(
  pool: Pool,
  dlqTopic: string,
): Promise<Map<string, { at: string; offset: string | null }>> {
  const r = await pool.query(
    `SELECT dlq_partition, dlq_offset, replayed_at, replayed_offset FROM dlq_replay WHERE dlq_topic = $1`,
    [dlqTopic],
  );
  return new Map(
    r.rows.map((x) => [
      `${x.dlq_partition}:${x.dlq_offset}`,
      {
        at: new Date(x.replayed_at as Date).toISOString(),
        offset: x.replayed_offset === null ? null : String(x.replayed_offset),
      },
    ]),
  );
}

export async function listDeadLetters(
  deps: { kafka: Kafka; admin: Admin; pool: Pool },
  dlqTopic: string,
): Promise<DeadLetterRecord[]> {
  const [messages, replayed] = await Promise.all([
    readTopic(deps.kafka, deps.admin, dlqTopic),
    replayedIds(deps.pool, dlqTopic),
  ]);
  return messages.map(({ partition, message }) => {
    const d = toDeadLetter(partition, message);
    d.replayed = replayed.get(d.id) ?? null;
    return d;
  });
}

export interface ReplayResult {
  id: string;
  sourceTopic: string;
  sourcePartition: number | null;
  replayedOffset: string | null;
}

/** Re-publishes one dead letter to its source topic and records the replay. */
export async function replayDeadLetter(
  deps: { producer: Producer; pool: Pool },
  dlqTopic: string,
  d: DeadLetterRecord,
): Promise<ReplayResult> {
  const topic = d.source.topic;
  if (!topic)
    throw new Error(`dead letter ${d.id} has no ${DLQ_HEADER.topic} header: cannot tell where to replay it`);
  const headers = { ...originalHeaders(d.headers), replayed_from: `${dlqTopic}:${d.id}` };
  const [meta] = await deps.producer.send({
    topic,
    acks: -1,
    messages: [
      {
        key: d.key,
        value: d.value,
        headers,
        ...(d.source.partition !== null ? { partition: d.source.partition } : {}),
      },
    ],
  });
  const replayedOffset = meta?.baseOffset ?? null;
  await deps.pool.query(
    `INSERT INTO dlq_replay (dlq_topic, dlq_partition, dlq_offset, source_topic, source_partition, replayed_offset, replayed_by)
     VALUES ($1,$2,$3,$4,$5,$6,$7)
     ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) DO UPDATE SET replayed_at = now(),
       replayed_offset = EXCLUDED.replayed_offset, replayed_by = EXCLUDED.replayed_by`,
    [
      dlqTopic,
      d.partition,
      d.offset,
      topic,
      d.source.partition,
      replayedOffset,
      `${process.env.USER ?? 'unknown'}@${hostname()}`,
    ],
  );
  return { id: d.id, sourceTopic: topic, sourcePartition: d.source.partition, replayedOffset };
}

export function describeValue(v: Buffer | null, max = 2000): string {
  if (v === null) return '(null)';
  const s = v.toString('utf8');
  try {
    return JSON.stringify(JSON.parse(s), null, 2).slice(0, max);
  } catch {
    return s.slice(0, max);
  }
}

/**
 * `dlq list` as a table: one line per dead letter, the reason last and whole (whitespace folded to single spaces,
 * never cut: the reason is what the operator acts on).
 */
export function deadLetterListTable(letters: readonly DeadLetterRecord[]): string {
  return table(
    ['id', 'failed at', 'stage', 'code', 'attempts', 'source', 'replayed', 'reason'],
    letters.map((d) => [
      d.id,
      d.failedAt ?? d.timestamp,
      d.stage,
      d.code,
      d.attempts,
      `${d.source.topic ?? '?'}[${d.source.partition ?? '?'}]@${d.source.offset ?? '?'}`,
      d.replayed ? d.replayed.at : 'no',
      (d.message ?? '').replace(/\s+/g, ' ').trim(),
    ]),
  );
}
