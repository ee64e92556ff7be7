/**
 * The keyed consumer's `skip` (the router's fast path): messages it recognises finish without a handler run, one
 * 'skipped' event counts them, and the commit never passes a message still in its handler.
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka } from 'kafkajs';
import { KeyedConsumer, KeyedConsumerEvent } from '../../src/adapters/kafka/keyed-consumer';
import type { DeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { batchPayload, kafkaMessage } from './support/kafka-batch';

describe('keyed consumer skip (scripted batch, no broker)', () => {
  it('finishes skipped messages without their handler, counts them once, and commits past them only in order', async () => {
    const handled: string[] = [];
    const events: KeyedConsumerEvent[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const kc = new KeyedConsumer({
      kafka: {} as Kafka,
      groupId: 'g',
      topics: ['t'],
      deadLetters: { publish: async () => undefined } as unknown as DeadLetterPublisher,
      stage: 'unit',
      retry: { initialMs: 10, maxMs: 100, multiplier: 2, maxAttempts: 3, jitter: 0 },
      concurrency: 4,
      onEvent: (e) => events.push(e),
      // odd offsets are skipped; a skip that throws leaves the message to its handler
      skip: (m) => {
        if (m.offset === '5') throw new Error('cannot tell');
        return Number(m.offset) % 2 === 1;
      },
      handler: async (m) => {
        if (m.offset === '0') await slow;
        handled.push(m.offset);
      },
    });
    const commits: string[] = [];
    const messages = [0, 1, 2, 3, 4, 5, 6, 7].map((o) => kafkaMessage(o, `k${o}`));
    const run = (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(
      batchPayload(messages, commits),
    );
    await new Promise((r) => setTimeout(r, 300));
    // offset 0 is still in its handler: nothing may be committed, though 1, 3 and 7 finished at once
    expect(commits).to.deep.equal([]);
    expect(handled).to.have.members(['2', '4', '5', '6']);
    release();
    await run;
    expect(handled).to.have.members(['0', '2', '4', '5', '6']);
    expect(commits[commits.length - 1]).to.equal('8');
    expect(events.filter((e) => e.type === 'skipped')).to.deep.equal([
      { type: 'skipped', topic: 't', partition: 0, messages: 3 },
    ]);
    expect(events.filter((e) => e.type === 'processed')).to.have.length(5);
  });
});
