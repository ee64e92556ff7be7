/**
 * The dead-letter topic. A dead letter is the original message (key, value and headers unchanged) plus headers
 * that say why: stage, error code and message, retriable flag, attempt count, and where it came from. Nothing is
 * lost: `dlq replay` puts the original back on its source topic.
 */
import { IHeaders, KafkaMessage, Producer } from 'kafkajs';
import { errorCodeOf } from '../../domain/errors';
import { redactString } from '../../core/log';

export const DLQ_HEADER = {
  stage: 'dlq.stage',
  code: 'dlq.error.code',
  message: 'dlq.error.message',
  retriable: 'dlq.error.retriable',
  attempts: 'dlq.attempts',
  topic: 'dlq.source.topic',
  partition: 'dlq.source.partition',
  offset: 'dlq.source.offset',
  failedAt: 'dlq.failed.at',
} as const;

export interface DeadLetter {
  stage: string;
  /** the consumer group of the stage (a replay of the group must not double its dead letters; another group is
   * another reader of the same source and has dead letters of its own) */
  group?: string;
  topic: string;
  partition: number;
  message: Pick<KafkaMessage, 'key' | 'value' | 'headers' | 'offset'>;
  error: unknown;
  reasonPrefix?: string;
  attempts: number;
  retriable: boolean;
}

/** `published`: the copy is in the topic; `duplicate`: an earlier copy of the same message is there, not replayed. */
export type PublishOutcome = { published: true } | { published: false; copy: string | null };

export interface DeadLetterPublisher {
  /** (A publisher without an index always publishes; `void` counts as published.) */
  publish(d: DeadLetter): Promise<PublishOutcome | void>;
}

/** A dead letter's identity: the consumer group and stage that gave up on it and the source position it was read at. */
export interface DeadLetterKey {
  group: string;
  stage: string;
  topic: string;
  partition: number;
  offset: string;
}

/** Dead letters already published, by key (PgDeadLetterIndex in the state database). */
export interface DeadLetterIndex {
  claim(
    key: DeadLetterKey,
    d: { code: string; reason: string; attempts: number },
  ): Promise<{ claimed: true } | { claimed: false; copy: string | null }>;
  published(
    key: DeadLetterKey,
    at: { topic: string; partition: number; offset: string | null },
  ): Promise<void>;
  release(key: DeadLetterKey): Promise<void>;
}

/** The whole reason of a dead letter, redacted: the `dlq.error.message` header, the log line, the index row. */
export function deadLetterReason(d: Pick<DeadLetter, 'error' | 'reasonPrefix'>): string {
  const msg = d.error instanceof Error ? d.error.message : String(d.error);
  return redactString(`${d.reasonPrefix ?? ''}${msg}`).slice(0, 4000);
}

export function deadLetterHeaders(d: DeadLetter, now = new Date()): IHeaders {
  const headers: IHeaders = { ...(d.message.headers ?? {}) };
  headers[DLQ_HEADER.stage] = d.stage;
  headers[DLQ_HEADER.code] = errorCodeOf(d.error);
  headers[DLQ_HEADER.message] = deadLetterReason(d);
  headers[DLQ_HEADER.retriable] = String(d.retriable);
  headers[DLQ_HEADER.attempts] = String(d.attempts);
  headers[DLQ_HEADER.topic] = d.topic;
  headers[DLQ_HEADER.partition] = String(d.partition);
  headers[DLQ_HEADER.offset] = d.message.offset;
  headers[DLQ_HEADER.failedAt] = now.toISOString();
  return headers;
}

/**
 * Publishes dead letters; with an index, a message whose earlier copy from the same stage is still in the topic
 * (not replayed) is not published again — a replay of the group (`resync --to earliest`) does not double them.
 */
export class KafkaDeadLetterPublisher implements DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly onPublished?: (d: DeadLetter) => void,
    private readonly index?: DeadLetterIndex,
  ) {}

  async publish(d: DeadLetter): Promise<PublishOutcome> {
    const key: DeadLetterKey = {
      group: d.group ?? '',
      stage: d.stage,
      topic: d.topic,
      partition: d.partition,
      offset: d.message.offset,
    };
    if (this.index) {
      const c = await this.index.claim(key, {
        code: errorCodeOf(d.error),
        reason: deadLetterReason(d),
        attempts: d.attempts,
      });
      if (!c.claimed) return { published: false, copy: c.copy };
    }
    let meta;
    try {
      [meta] = await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: [{ key: d.message.key, value: d.message.value, headers: deadLetterHeaders(d) }],
      });
    } catch (e) {
      await this.index?.release(key).catch(() => undefined);
      throw e;
    }
    await this.index?.published(key, {
      topic: this.topic,
      partition: meta?.partition ?? 0,
      offset: meta?.baseOffset ?? null,
    });
    this.onPublished?.(d);
    return { published: true };
  }
}
