/**
 * Issue 15 §7, "a failing DLQ publish loops hot": when the dead-letter topic refuses a dead letter, the message stays
 * unfinished (nothing committed past it), the partition pauses with a growing backoff, and the next fetch publishes
 * the same dead letter again without re-running the handler; once the topic accepts it, it is there once and the
 * partition moves on. Scripted kafkajs batch and consumer, no broker (like stream-keyed-consumer-commits.test.ts).
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka } from 'kafkajs';
import { KeyedConsumer, KeyedConsumerEvent } from '../../src/adapters/kafka/keyed-consumer';
import type { DeadLetter, DeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { OpenCellBusinessError } from '../../src/domain/errors';
import { batchPayload, kafkaMessage } from './support/kafka-batch';

describe('a failing dead-letter publish (issue 15 §7)', () => {
  it('pauses the partition with a growing backoff, commits nothing past the message, publishes it once later without re-running the handler', async () => {
    const events: KeyedConsumerEvent[] = [];
    const handled: string[] = [];
    const published: DeadLetter[] = [];
    let publishCalls = 0;
    let topicDown = 2; // the first two publishes fail (broker unavailable)
    const deadLetters: DeadLetterPublisher = {
      publish: async (d) => {
        publishCalls++;
        if (topicDown-- > 0)
          throw Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
            name: 'KafkaJSNumberOfRetriesExceeded',
          });
        published.push(d);
      },
    };
    const kc = new KeyedConsumer({
      kafka: {} as Kafka,
      groupId: 'g',
      topics: ['t'],
      handler: async (m) => {
        handled.push(m.offset);
        if (m.offset === '10') throw new OpenCellBusinessError('INVALID_PARAMETER', 'bad', 400, '/x');
      },
      deadLetters,
      stage: 'unit',
      retry: { initialMs: 100, maxMs: 1000, multiplier: 2, maxAttempts: 3, jitter: 0 },
      concurrency: 4,
      onEvent: (e) => events.push(e),
    });
    const calls: string[] = [];
    (kc as unknown as { consumer: unknown }).consumer = {
      pause: () => void calls.push('pause'),
      seek: (s: { offset: string }) => void calls.push(`seek ${s.offset}`),
      resume: () => void calls.push('resume'),
    };
    const onBatch = (p: EachBatchPayload) =>
      (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(p);
    const batch = () => [kafkaMessage(10, 'a'), kafkaMessage(11, 'b'), kafkaMessage(12, 'a')];
    const commits: string[] = [];
    try {
      // 1st fetch: the dead letter fails → pause 100 ms, seek back to 10, nothing committed at or past 10
      await onBatch(batchPayload(batch(), commits));
      // 2nd fetch (after the pause): fails again → 200 ms
      await onBatch(batchPayload(batch(), commits));
      expect(
        commits.every((c) => BigInt(c) <= 10n),
        `commits ${commits.join(',')}`,
      ).to.equal(true);
      expect(calls.filter((c) => c.startsWith('seek'))).to.deep.equal(['seek 10', 'seek 10']);
      // 3rd fetch: the topic is back
      await onBatch(batchPayload(batch(), commits));
    } finally {
      (kc as unknown as { resumeTimers: Set<NodeJS.Timeout> }).resumeTimers.forEach((t) => clearTimeout(t));
    }
    const failed = events.filter((e) => e.type === 'dead-letter-failed');
    expect(failed.map((e) => (e.type === 'dead-letter-failed' ? e.delayMs : 0))).to.deep.equal([100, 200]);
    expect(
      events.filter((e) => e.type === 'paused').map((e) => (e.type === 'paused' ? e.delayMs : 0)),
    ).to.deep.equal([100, 200]);
    expect(publishCalls, 'one publish per fetch: no hot loop').to.equal(3);
    expect(
      handled.filter((o) => o === '10'),
      'the handler ran once for the dead letter',
    ).to.have.length(1);
    expect(published.map((d) => d.message.offset)).to.deep.equal(['10']);
    expect(events.filter((e) => e.type === 'dead-letter')).to.have.length(1);
    expect(
      handled.filter((o) => o === '12').length,
      'the later message of the key ran after the dead letter',
    ).to.equal(1);
    expect(commits[commits.length - 1], 'then the partition moved on').to.equal('13');
  });
});
