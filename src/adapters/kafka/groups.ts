/**
 * Consumer-group inspection and offset resets through kafkajs admin: committed offsets, end offsets, lag per
 * partition, live members, and the resync plan (current → target per partition). The plan is pure.
 */
import type { Admin, Kafka } from 'kafkajs';
import { backoffMs, sleep } from './retry';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** committed offset; null when the group never committed on this partition */
  committed: string | null;
  low: string;
  high: string;
  /** messages not yet consumed: high - committed (high - low without a commit) */
  lag: number;
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  clientHost: string;
}

export interface GroupInfo {
  groupId: string;
  state: string;
  members: GroupMember[];
  partitions: PartitionLag[];
  totalLag: number;
}

export function lagOf(committed: string | null, low: string, high: string): number {
  const h = BigInt(high);
  const start = committed === null || BigInt(committed) < 0n ? BigInt(low) : BigInt(committed);
  const lag = h - (start < BigInt(low) ? BigInt(low) : start);
  return Number(lag > 0n ? lag : 0n);
}

export async function describeMembers(
  admin: Admin,
  groupId: string,
): Promise<{ state: string; members: GroupMember[] }> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  if (!g) return { state: 'Dead', members: [] };
  return {
    state: g.state,
    members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost })),
  };
}

/** Topics the group committed offsets on (plus `extraTopics`, e.g. the ones a role subscribes to). */
export async function groupTopics(
  admin: Admin,
  groupId: string,
  extraTopics: readonly string[] = [],
): Promise<string[]> {
  const committed = await admin.fetchOffsets({ groupId });
  const existing = new Set(await admin.listTopics());
  const topics = new Set([...committed.map((t) => t.topic), ...extraTopics.filter((t) => existing.has(t))]);
  return [...topics].sort();
}

const LEADER_UNKNOWN = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE']);
const LEADER_BACKOFF = { initialMs: 100, maxMs: 2000, multiplier: 2, jitter: 0 };

/**
 * `admin.fetchTopicOffsets`, asked again while a partition has no leader ready: kafkajs's admin gives up at once on
 * NOT_LEADER_FOR_PARTITION and LEADER_NOT_AVAILABLE, which a topic answers for a moment after its creation (the
 * demo, and any command, run seconds after Debezium created the router topics on a fresh stack). Backoff 0.1 s
 * doubling to 2 s. (A leader that moved to another broker is not cured by asking again: the admin keeps the
 * metadata that sent it to the old one until `metadataMaxAge`; reconnecting the admin to drop it broke requests
 * in flight.)
 */
export async function topicOffsets(
  admin: Admin,
  topic: string,
  attempts = 8,
): Promise<Awaited<ReturnType<Admin['fetchTopicOffsets']>>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (e) {
      if (attempt >= attempts || !LEADER_UNKNOWN.has((e as { type?: string }).type ?? '')) throw e;
      await sleep(backoffMs(attempt, LEADER_BACKOFF));
    }
  }
}

export async function partitionLags(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<PartitionLag[]> {
  if (topics.length === 0) return [];
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  const out: PartitionLag[] = [];
  for (const topic of topics) {
    const ends = await topicOffsets(admin, topic);
    const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const e of ends.sort((a, b) => a.partition - b.partition)) {
      const c = mine.find((p) => p.partition === e.partition)?.offset;
      const committedOffset = c === undefined || Number(c) < 0 ? null : c;
      out.push({
        topic,
        partition: e.partition,
        committed: committedOffset,
        low: e.low,
        high: e.high,
        lag: lagOf(committedOffset, e.low, e.high),
      });
    }
  }
  return out;
}

export async function groupInfo(
  admin: Admin,
  groupId: string,
  extraTopics: readonly string[] = [],
): Promise<GroupInfo> {
  const [{ state, members }, topics] = await Promise.all([
    describeMembers(admin, groupId),
    groupTopics(admin, groupId, extraTopics),
  ]);
  const partitions = await partitionLags(admin, groupId, topics);
  return { groupId, state, members, partitions, totalLag: partitions.reduce((s, p) => s + p.lag, 0) };
}

// ---------------------------------------------------------------------------------------------------------------
// resync plan
// ---------------------------------------------------------------------------------------------------------------

export type ResetTarget =
  { kind: 'earliest' } | { kind: 'latest' } | { kind: 'time'; timestamp: number; iso: string };

/** Parses `--to`: earliest, latest, or an ISO-8601 time with a date (e.g. 2024-05-01T10:00:00Z). */
export function parseResetTarget(s: string): ResetTarget | null {
  if (s === 'earliest' || s === 'latest') return { kind: s };
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) return null;
  const ts = Date.parse(s);
  if (Number.isNaN(ts)) return null;
  return { kind: 'time', timestamp: ts, iso: new Date(ts).toISOString() };
}

export interface ResetRow {
  topic: string;
  partition: number;
  current: string | null;
  target: string;
  high: string;
  /** messages the group will consume after the reset: high - target */
  toConsume: number;
  /** already-consumed messages that will be processed again: current - target when positive */
  replayed: number;
  /** unconsumed messages that will be skipped: target - current when positive */
  skipped: number;
}

/** current → target per partition, from the lags and the target offsets (pure). */
export function planReset(lags: readonly PartitionLag[], targets: ReadonlyMap<string, string>): ResetRow[] {
  return lags.map((l) => {
    const target = targets.get(`${l.topic}/${l.partition}`) ?? l.high;
    const t = BigInt(target);
    const cur = l.committed === null ? BigInt(l.low) : BigInt(l.committed);
    const diff = cur - t;
    return {
      topic: l.topic,
      partition: l.partition,
      current: l.committed,
      target,
      high: l.high,
      toConsume: Number(BigInt(l.high) - t > 0n ? BigInt(l.high) - t : 0n),
      replayed: l.committed !== null && diff > 0n ? Number(diff) : 0,
      skipped: diff < 0n ? Number(-diff) : 0,
    };
  });
}

export async function targetOffsets(
  admin: Admin,
  topics: readonly string[],
  to: ResetTarget,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const topic of topics) {
    if (to.kind === 'time') {
      for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, to.timestamp))
        out.set(`${topic}/${p.partition}`, p.offset);
    } else {
      for (const p of await topicOffsets(admin, topic))
        out.set(`${topic}/${p.partition}`, to.kind === 'earliest' ? p.low : p.high);
    }
  }
  return out;
}

/**
 * Sets a group's offsets on all its topics at once (`resync`). kafkajs's `admin.setOffsets` does it one topic at a
 * time, each time joining the group with a throw-away consumer and waiting out a fetch (its default 5 s
 * `maxWaitTimeInMs`): about 5 s per topic, 40 s for the router's 8 topics. Here one consumer joins the group once,
 * subscribed to every topic, paused, seeks every partition (kafkajs commits a seek of an assigned partition right
 * away), and leaves when the committed offsets read back equal the targets — well under a second (bench/interpretation.md,
 * "Operations timings"). Refused, like setOffsets, when the group has live members.
 */
export async function applyReset(
  kafka: Kafka,
  admin: Admin,
  groupId: string,
  rows: readonly Pick<ResetRow, 'topic' | 'partition' | 'target'>[],
  timeoutMs = 30_000,
): Promise<void> {
  if (rows.length === 0) return;
  const topics = [...new Set(rows.map((r) => r.topic))];
  const consumer = kafka.consumer({
    groupId,
    maxWaitTimeInMs: 50,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    retry: { retries: 3 },
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    const { state } = await consumer.describeGroup();
    if (!['Empty', 'Dead'].includes(state))
      throw new Error(`the consumer group must have no running instances, current state: ${state}`);
    const done = () => committedAt(admin, groupId, topics, rows);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let checking = false;
      const finish = (e?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        removeListener();
        if (e) reject(e instanceof Error ? e : new Error(String(e)));
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new Error(`offsets of ${groupId} not all committed after ${timeoutMs} ms`)),
        timeoutMs,
      );
      // every fetch round first applies the pending seeks of the partitions it covers: check after each one
      const removeListener = consumer.on(consumer.events.FETCH, () => {
        if (checking || settled) return;
        checking = true;
        done()
          .then((ok) => {
            if (ok) finish();
          })
          .catch(finish)
          .finally(() => (checking = false));
      });
      // as kafkajs's setOffsets: run (which creates the consumer group synchronously), then pause and seek
      consumer
        .run({ autoCommit: true, eachBatchAutoResolve: false, eachBatch: async () => undefined })
        .catch(finish);
      consumer.pause(topics.map((topic) => ({ topic })));
      for (const r of rows) consumer.seek({ topic: r.topic, partition: r.partition, offset: r.target });
    });
  } finally {
    await consumer.stop().catch(() => undefined);
    await consumer.disconnect();
  }
}

/** True when the group's committed offsets are the targets of `rows`. */
async function committedAt(
  admin: Admin,
  groupId: string,
  topics: string[],
  rows: readonly Pick<ResetRow, 'topic' | 'partition' | 'target'>[],
): Promise<boolean> {
  const committed = await admin.fetchOffsets({ groupId, topics });
  const at = new Map<string, string>();
  for (const t of committed) for (const p of t.partitions) at.set(`${t.topic}/${p.partition}`, p.offset);
  return rows.every((r) => at.get(`${r.topic}/${r.partition}`) === r.target);
}
