/** Thin kafkajs adapters: one client factory with logs routed to winston, topic creation. */
import { Kafka, logLevel, LogEntry, Admin, ITopicConfig } from 'kafkajs';
import { componentLogger } from '../../core/log';

const log = componentLogger('kafkajs');

function kafkaLogCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    const lvl =
      level === logLevel.ERROR
        ? 'error'
        : level === logLevel.WARN
          ? 'warn'
          : level === logLevel.INFO
            ? 'info'
            : 'debug';
    log.log(lvl, message, rest);
  };
}

export function createKafka(brokers: string[], clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator,
    retry: { initialRetryTime: 300, retries: 8 },
  });
}

/** Creates missing topics (idempotent). */
export async function ensureTopics(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  await admin.createTopics({ topics: missing, waitForLeaders: true });
}

/**
 * Commits the current end offset of every partition of `topics` for a group that has no members, so the group
 * starts with what is produced from now on. (kafkajs `resetOffsets({ earliest: false })` commits the symbolic -1,
 * which a consumer subscribed with `fromBeginning: true` reads as "no offset" and starts from the beginning.)
 */
export async function startGroupAtEnd(admin: Admin, groupId: string, topics: string[]): Promise<void> {
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
    });
  }
}
