/** Thin kafkajs adapters: one client factory with logs routed to winston, topic creation. */
import { Kafka, logLevel, LogEntry, Admin, ITopicConfig } from 'kafkajs';
import { componentLogger } from '../log';

const log = componentLogger('kafkajs');

function kafkaLogCreator() {
  return ({ level, log: entry }: LogEntry) => {
    const { message, ...rest } = entry;
    const lvl = level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : level === logLevel.INFO ? 'info' : 'debug';
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
