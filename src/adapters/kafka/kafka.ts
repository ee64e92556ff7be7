/** Thin kafkajs adapters: one client factory with logs routed to winston, topic creation. */
import { Kafka, logLevel, LogEntry, Admin, ITopicConfig, SASLOptions } from 'kafkajs';
import type { KafkaClientSettings, ReplicationSetting } from '../../core/config';
import { componentLogger } from '../../core/log';
import { ConfigError, SyncError } from '../../domain/errors';
import { applyReset, topicOffsets } from './groups';

const log = componentLogger('kafkajs');

type Level = 'error' | 'warn' | 'info' | 'debug';

/**
 * kafkajs lines that are expected on a healthy start and mean nothing to an operator, with the level they are
 * logged at instead (issue 19 §3):
 * - "The coordinator is loading and hence can't process requests" / "The coordinator is not available": a
 *   response error kafkajs logs at error level and then retries by itself, while the broker loads the group
 *   (after its own start, or when a group is first used) — info;
 * - "The group is rebalancing, so a rejoin is needed" (a heartbeat's answer when a member joins or leaves): kafkajs
 *   rejoins by itself; every scale-out, restart or deploy causes it — info;
 * - the v2 partitioner notice: every producer of ours names a partitioner (partitioner.ts, the same murmur2
 *   partitioning as the Java client), the notice is about producers that name none — debug;
 * - "Limiting retries for the idempotent producer may invalidate EoS guarantees": the relay and the invoice loader
 *   bound kafkajs's retries on purpose and resend on their own; they promise at-least-once with stable event ids,
 *   not exactly-once (docs/operations.md, "Kafka client settings") — info.
 */
const EXPECTED: { test: (message: string, extra: Record<string, unknown>) => boolean; level: Level }[] = [
  {
    test: (m, x) => /coordinator is (loading|not available)/i.test(`${m} ${String(x.error ?? '')}`),
    level: 'info',
  },
  {
    test: (m, x) =>
      /^Response (Heartbeat|OffsetCommit|SyncGroup)\b/.test(m) && /rebalanc/i.test(String(x.error ?? '')),
    level: 'info',
  },
  { test: (m) => m.startsWith('KafkaJS v2.0.0 switched default partitioner'), level: 'debug' },
  { test: (m) => m.startsWith('Limiting retries for the idempotent producer'), level: 'info' },
];

/** The winston level of one kafkajs log entry: kafkajs's own, except for the expected lines above. */
export function kafkaLogLevel(level: logLevel, message: string, extra: Record<string, unknown>): Level {
  const expected = EXPECTED.find((e) => e.test(message, extra));
  if (expected) return expected.level;
  return level === logLevel.ERROR
    ? 'error'
    : level === logLevel.WARN
      ? 'warn'
      : level === logLevel.INFO
        ? 'info'
        : 'debug';
}

function kafkaLogCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    log.log(kafkaLogLevel(level, message, rest), message, rest);
  };
}

/**
 * kafkajs 2.2.4's request queue schedules its throttle check with `setTimeout(fn, throttledUntil - Date.now())`,
 * negative while nothing is throttled; Node 24 clamps the delay to 1 ms, as older Nodes did silently, and prints a
 * TimeoutNegativeWarning on stderr at every start. That one warning is logged at debug instead (other warnings are
 * untouched).
 */
let negativeTimeoutsQuiet = false;
export function quietNegativeTimeoutWarning(): void {
  if (negativeTimeoutsQuiet) return;
  negativeTimeoutsQuiet = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type =
      typeof rest[0] === 'string'
        ? rest[0]
        : ((rest[0] as { type?: string } | undefined)?.type ?? (warning as Error).name);
    if (type === 'TimeoutNegativeWarning') {
      log.debug(`Node warning: ${String((warning as Error).message ?? warning)}`);
      return;
    }
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

/**
 * The one Kafka client factory: every client of the pipeline reaches the brokers with the same settings (TLS and
 * SASL from KAFKA_SSL* / KAFKA_SASL_*, src/core/config.ts), so none can be left on a plaintext listener by mistake.
 */
export function createKafka(settings: KafkaClientSettings, clientId: string): Kafka {
  quietNegativeTimeoutWarning();
  return new Kafka({
    clientId,
    brokers: settings.brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator,
    retry: { initialRetryTime: 300, retries: 8 },
    ...(settings.ssl ? { ssl: settings.ssl.ca ? { ca: settings.ssl.ca } : true } : {}),
    ...(settings.sasl
      ? {
          sasl: {
            mechanism: settings.sasl.mechanism,
            username: settings.sasl.username,
            password: settings.sasl.password,
          } as SASLOptions,
        }
      : {}),
  });
}

/**
 * What an operator should read when Kafka turned the client away because of its security settings: refused
 * credentials (named by user and mechanism, never with the password) or a failed TLS handshake; undefined for any
 * other error (and for the configuration errors of the other adapters, which say their own settings). kafkajs wraps
 * the first failure of a retried call in `cause`s; the whole chain is searched.
 */
export function explainKafkaSecurityError(e: unknown, settings: KafkaClientSettings): string | undefined {
  // another adapter's configuration error already names its own setting (a registry's or Kafka Connect's untrusted
  // certificate, refused REST credentials): its TLS words are not Kafka's handshake
  if (e instanceof SyncError && e.code === 'CONFIG_INVALID') return undefined;
  const chain: { name?: string; message?: string }[] = [];
  for (
    let x = e as { name?: string; message?: string; cause?: unknown } | undefined;
    x && chain.length < 8;
  ) {
    chain.push(x);
    x = x.cause as typeof x;
  }
  const sasl = chain.find(
    (x) =>
      x.name === 'KafkaJSSASLAuthenticationError' || /SASL .*authentication failed/i.test(x.message ?? ''),
  );
  if (sasl) {
    const who = settings.sasl
      ? `user "${settings.sasl.username}" (${settings.sasl.mechanism.toUpperCase()})`
      : 'this client (no KAFKA_SASL_MECHANISM set)';
    return (
      `Kafka refused the credentials of ${who} at ${settings.brokers.join(',')}: check KAFKA_SASL_USERNAME and ` +
      `KAFKA_SASL_PASSWORD (${sasl.message ?? 'authentication failed'})`
    );
  }
  const tls = chain.find((x) =>
    /certificate|self[- ]signed|unable to verify|ERR_TLS|SSL routines|wrong version number|EPROTO/i.test(
      x.message ?? '',
    ),
  );
  if (tls)
    return (
      `the TLS handshake with Kafka at ${settings.brokers.join(',')} failed: ${tls.message} — check KAFKA_SSL_CA ` +
      "(the CA that signed the brokers' certificates) and that KAFKA_BROKERS names the TLS listener"
    );
  // a plaintext client on a TLS listener: the broker closes every connection without an answer
  if (!settings.ssl && chain.some((x) => /^Closed connection$/.test(x.message ?? '')))
    return (
      `Kafka at ${settings.brokers.join(',')} closed every connection: if its listener uses TLS, set KAFKA_SSL=true ` +
      '(and KAFKA_SSL_CA); if it asks for SASL, set KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD'
    );
  return undefined;
}

/** Replication of the topics the pipeline creates, resolved against the cluster. */
export interface Replication {
  factor: number;
  minInsync: number;
}

export const AUTO_REPLICATION: ReplicationSetting = { factor: 'auto', minInsync: 'auto' };

/**
 * The replication for a cluster of `brokers` brokers (issue 15 §9): `auto` replicas = the cluster's size, at most 3;
 * `auto` min.insync.replicas = 2 when there are at least 2 replicas (an acks=all write then survives the loss of one
 * broker and is never acknowledged by one alone), else 1. A setting the cluster cannot honour is a configuration
 * error, said before any topic is made.
 */
export function replicationFor(brokers: number, setting: ReplicationSetting): Replication {
  const factor = setting.factor === 'auto' ? Math.max(1, Math.min(3, brokers)) : setting.factor;
  const minInsync = setting.minInsync === 'auto' ? (factor >= 2 ? 2 : 1) : setting.minInsync;
  const problems: string[] = [];
  if (factor > brokers)
    problems.push(`KAFKA_REPLICATION_FACTOR=${factor}: the Kafka cluster has ${brokers} broker(s)`);
  if (minInsync > factor)
    problems.push(
      `KAFKA_MIN_INSYNC_REPLICAS=${minInsync}: more than the ${factor} replica(s) of each topic (no write could succeed)`,
    );
  if (problems.length) throw new ConfigError(problems);
  return { factor, minInsync };
}

/** The replication for the cluster `admin` is connected to (its size from the cluster metadata). */
export async function resolveReplication(admin: Admin, setting: ReplicationSetting): Promise<Replication> {
  const { brokers } = await admin.describeCluster();
  return replicationFor(brokers.length, setting);
}

/**
 * Creates missing topics (idempotent) with the replication `setting` resolved against the cluster: its replicas and
 * `min.insync.replicas`, unless a topic names its own replication factor. Existing topics are left as they are; one
 * with fewer replicas than the setting asks for is logged as a warning (Kafka does not add replicas by itself).
 */
export async function ensureTopics(
  admin: Admin,
  topics: ITopicConfig[],
  setting: ReplicationSetting = AUTO_REPLICATION,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  const present = topics.filter((t) => existing.has(t.topic) && t.replicationFactor === undefined);
  if (missing.length === 0 && present.length === 0) return;
  const r = await resolveReplication(admin, setting);
  if (present.length > 0) {
    const { topics: meta } = await admin.fetchTopicMetadata({ topics: present.map((t) => t.topic) });
    for (const m of meta) {
      const replicas = Math.min(...m.partitions.map((p) => p.replicas.length));
      if (replicas < r.factor)
        log.warn(
          `topic ${m.name} has ${replicas} replica(s), fewer than the ${r.factor} asked for (KAFKA_REPLICATION_FACTOR): ` +
            'add replicas with kafka-reassign-partitions (docs/operations.md "Replication")',
        );
    }
  }
  if (missing.length === 0) return;
  await admin.createTopics({
    topics: missing.map((t) =>
      t.replicationFactor !== undefined
        ? t
        : {
            ...t,
            replicationFactor: r.factor,
            configEntries: [
              ...(t.configEntries ?? []).filter((e) => e.name !== 'min.insync.replicas'),
              { name: 'min.insync.replicas', value: String(r.minInsync) },
            ],
          },
    ),
    waitForLeaders: true,
  });
}

/**
 * Commits the current end offset of every partition of `topics` for a group that has no members, so the group
 * starts with what is produced from now on. (kafkajs `resetOffsets({ earliest: false })` commits the symbolic -1,
 * which a consumer subscribed with `fromBeginning: true` reads as "no offset" and starts from the beginning.)
 * One member joins once for every topic (applyReset): kafkajs `admin.setOffsets` joins once per topic and waits out a
 * 5 s fetch each time, 40 s for the router's 8 topics.
 */
export async function startGroupAtEnd(
  kafka: Kafka,
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<void> {
  const rows = [];
  for (const topic of topics)
    for (const p of await topicOffsets(admin, topic))
      rows.push({ topic, partition: p.partition, target: p.high });
  await applyReset(kafka, admin, groupId, rows);
}
