/**
 * Operations timings (issue 19 §4), standalone on the local stack: `npx tsx bench/operations-timings.ts [resync]
 * [recovery]`. Prints JSON lines; the figures are written up in bench/interpretation.md ("Operations timings").
 *
 * - resync: setting a throw-away group's offsets on the router's Debezium topics to the earliest offset, the old way
 *   (kafkajs admin.setOffsets, one topic at a time) and with applyReset (one group join for every topic).
 * - recovery: two members of one keyed-consumer group on a 3-partition topic; one (a child process) is killed with
 *   kill -9 or stopped with SIGTERM; the time from then until the survivor has processed a message produced to every
 *   partition, with the former session timeout (30 s) and the current one (SESSION_TIMEOUT_MS).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createKafka, ensureTopics } from '../src/adapters/kafka/kafka';
import { applyReset, partitionLags, planReset, targetOffsets } from '../src/adapters/kafka/groups';
import { KeyedConsumer, SESSION_TIMEOUT_MS } from '../src/adapters/kafka/keyed-consumer';
import type { DeadLetterPublisher } from '../src/adapters/kafka/dlq';
import { routerTopics } from '../src/flows/projection/stages';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = createKafka({ brokers: BROKERS }, 'bench-operations-timings');
const noDeadLetters: DeadLetterPublisher = { publish: async () => undefined };
const suffix = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

function member(topic: string, groupId: string, sessionTimeout: number, onMessage: (p: number) => void) {
  return new KeyedConsumer({
    kafka,
    groupId,
    topics: [topic],
    stage: 'bench',
    concurrency: 4,
    retry: { initialMs: 10, maxMs: 20, multiplier: 2, maxAttempts: 2, jitter: 0 },
    deadLetters: noDeadLetters,
    sessionTimeout,
    handler: async (_m, ctx) => onMessage(ctx.partition),
  });
}

async function resync(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  const topics = routerTopics(process.env.TOPIC_PREFIX ?? 'odoo').filter((t) => existing.has(t));
  for (const mode of ['per-topic setOffsets', 'applyReset', 'applyReset', 'applyReset'] as const) {
    const groupId = `bench-resync-${suffix()}`;
    const rows = planReset(
      await partitionLags(admin, groupId, topics),
      await targetOffsets(admin, topics, { kind: 'earliest' }),
    );
    const t0 = Date.now();
    if (mode === 'applyReset') await applyReset(kafka, admin, groupId, rows);
    else
      for (const topic of topics)
        await admin.setOffsets({
          groupId,
          topic,
          partitions: rows
            .filter((r) => r.topic === topic)
            .map((r) => ({ partition: r.partition, offset: r.target })),
        });
    const ms = Date.now() - t0;
    console.log(
      JSON.stringify({ bench: 'resync', mode, topics: topics.length, partitions: rows.length, ms }),
    );
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  await admin.disconnect();
}

async function recoveryOnce(sessionTimeout: number, how: 'SIGKILL' | 'SIGTERM'): Promise<number> {
  const topic = `bench.recovery-${suffix()}`;
  const groupId = `bench-recovery-${suffix()}`;
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [{ topic, numPartitions: 3, replicationFactor: 1 }]);
  const seen = new Set<number>();
  const survivor = member(topic, groupId, sessionTimeout, (p) => seen.add(p));
  await survivor.start();
  const child: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, __filename, 'member', topic, groupId, String(sessionTimeout)],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    // both members in the group, stable, each with partitions
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { groups } = await admin.describeGroups([groupId]);
      const g = groups[0];
      if (g?.state === 'Stable' && g.members.length === 2) break;
      if (Date.now() > deadline) throw new Error(`group ${groupId} not stable with 2 members`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    child.kill(how);
    await producer.send({ topic, messages: [0, 1, 2].map((partition) => ({ partition, value: 'x' })) });
    while (seen.size < 3) {
      if (Date.now() - t0 > 120_000) throw new Error('survivor did not take over within 120 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    return Date.now() - t0;
  } finally {
    child.kill('SIGKILL');
    await producer.disconnect();
    await survivor.stop();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

async function childMember(topic: string, groupId: string, sessionTimeout: number): Promise<void> {
  const kc = member(topic, groupId, sessionTimeout, () => undefined);
  process.on('SIGTERM', () => {
    void kc.stop().then(() => process.exit(0));
  });
  await kc.start();
  await new Promise(() => undefined);
}

async function recovery(): Promise<void> {
  for (const sessionTimeout of [30_000, SESSION_TIMEOUT_MS])
    for (const how of ['SIGKILL', 'SIGTERM'] as const) {
      const ms = await recoveryOnce(sessionTimeout, how);
      console.log(JSON.stringify({ bench: 'recovery', sessionTimeout, stop: how, ms }));
    }
}

async function main(): Promise<void> {
  const [what, ...rest] = process.argv.slice(2);
  if (what === 'member') return childMember(rest[0], rest[1], Number(rest[2]));
  const parts = what ? [what, ...rest] : ['resync', 'recovery'];
  if (parts.includes('resync')) await resync();
  if (parts.includes('recovery')) await recovery();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
