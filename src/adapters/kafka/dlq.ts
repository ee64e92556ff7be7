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
  topic: string;
  partition: number;
  message: Pick<KafkaMessage, 'key' | 'value' | 'headers' | 'offset'>;
  error: unknown;
  reasonPrefix?: string;
  attempts: number;
  retriable: boolean;
}

export interface DeadLetterPublisher {
  publish(d: DeadLetter): Promise<void>;
}

export function deadLetterHeaders(d: DeadLetter, now = new Date()): IHeaders {
  const msg = d.error instanceof Error ? d.error.message : String(d.error);
  const headers: IHeaders = { ...(d.message.headers ?? {}) };
  headers[DLQ_HEADER.stage] = d.stage;
  headers[DLQ_HEADER.code] = errorCodeOf(d.error);
  headers[DLQ_HEADER.message] = redactString(`${d.reasonPrefix ?? ''}${msg}`).slice(0, 4000);
  headers[DLQ_HEADER.retriable] = String(d.retriable);
  headers[DLQ_HEADER.attempts] = String(d.attempts);
  headers[DLQ_HEADER.topic] = d.topic;
  headers[DLQ_HEADER.partition] = String(d.partition);
  headers[DLQ_HEADER.offset] = d.message.offset;
  headers[DLQ_HEADER.failedAt] = now.toISOString();
  return headers;
}

export class KafkaDeadLetterPublisher implements DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly onPublished?: (d: DeadLetter) => void,
  ) {}

  async publish(d: DeadLetter): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key: d.message.key, value: d.message.value, headers: deadLetterHeaders(d) }],
    });
    this.onPublished?.(d);
  }
}
