/**
 * Reads Debezium change topics with a real kafkajs consumer (fresh group, from the beginning) and decodes every
 * message with the production decoder, so tests can wait for the change they caused.
 */
import { Consumer } from 'kafkajs';
import { decodeChange, DecodedChange } from '../../../src/domain/capture';
import { ensureTopics } from '../../../src/adapters/kafka/kafka';
import { testKafka, uniqueSuffix } from './stack';

export class ChangeTap {
  readonly changes: DecodedChange[] = [];
  readonly errors: Error[] = [];
  private consumer: Consumer | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly topics: string[]) {}

  async start(): Promise<this> {
    // Subscribing to a topic Debezium has not created yet races with auto-creation: create it first (3 partitions,
    // as the connector would).
    const admin = testKafka().admin();
    await admin.connect();
    await ensureTopics(
      admin,
      this.topics.map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
    );
    await admin.disconnect();
    const consumer = testKafka().consumer({ groupId: `test-tap-${uniqueSuffix()}`, maxWaitTimeInMs: 100 });
    this.consumer = consumer;
    await consumer.connect();
    for (const topic of this.topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        try {
          this.changes.push(decodeChange(topic, partition, message.offset, message.key, message.value));
        } catch (e) {
          this.errors.push(e as Error);
        }
        for (const l of this.listeners) l();
      },
    });
    return this;
  }

  /** Resolves with the first change (already seen or to come) that matches. */
  waitFor(
    pred: (c: DecodedChange) => boolean,
    timeoutMs = 30_000,
    what = 'a change',
  ): Promise<DecodedChange> {
    const found = this.changes.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = () => {
        const c = this.changes.find(pred);
        if (c) {
          clearTimeout(timer);
          this.listeners.delete(check);
          resolve(c);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  matching(pred: (c: DecodedChange) => boolean): DecodedChange[] {
    return this.changes.filter(pred);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
