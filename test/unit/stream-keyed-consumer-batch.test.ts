/**
 * The keyed consumer's `handleBatch` (the router's bulk routing): the messages it finished finish together once it
 * resolved, in order with the rest; the ones it left run through the handler; a throw leaves every message to the
 * handler, and nothing is committed past a message before its effects were acknowledged.
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import {
  KeyedConsumer,
  type KeyedConsumerEvent,
  type KeyedConsumerOptions,
} from '../../src/adapters/kafka/keyed-consumer';
import type { DeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { batchPayload, kafkaMessage } from './support/kafka-batch';

function consumer(over: Partial<KeyedConsumerOptions>, events: KeyedConsumerEvent[]) {
  return new KeyedConsumer({
    kafka: {} as Kafka,
    groupId: 'g',
    topics: ['t'],
    deadLetters: { publish: async () => undefined } as unknown as DeadLetterPublisher,
    stage: 'unit',
    retry: { initialMs: 10, maxMs: 100, multiplier: 2, maxAttempts: 3, jitter: 0 },
    concurrency: 4,
    onEvent: (e) => events.push(e),
    handler: async () => undefined,
    ...over,
  });
}

const onBatch = (kc: KeyedConsumer, p: EachBatchPayload) =>
  (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(p);

describe('keyed consumer batch handling (scripted batch, no broker)', () => {
  it('commits nothing while the batch is being handled, then finishes what it handled at once and runs the rest through the handler', async () => {
    const events: KeyedConsumerEvent[] = [];
    const handled: string[] = [];
    let ack!: () => void;
    const acknowledged = new Promise<void>((r) => (ack = r));
    let given: string[] = [];
    const kc = consumer(
      {
        skip: (m) => m.offset === '1',
        // offset 3 is left to its handler (and so is 4, the same key's later message)
        handleBatch: async (messages) => {
          given = messages.map((m) => m.offset);
          await acknowledged;
          return new Set(messages.filter((m) => !['3', '4'].includes(m.offset)));
        },
        handler: async (m) => {
          handled.push(m.offset);
        },
      },
      events,
    );
    const commits: string[] = [];
    const keys = ['a', 'b', 'c', 'd', 'd', 'e'];
    const run = onBatch(
      kc,
      batchPayload(
        keys.map((k, o) => kafkaMessage(o, k)),
        commits,
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(given, 'skipped messages are not handed over').to.deep.equal(['0', '2', '3', '4', '5']);
    expect(commits, 'nothing before the acknowledgement').to.deep.equal([]);
    expect(handled).to.deep.equal([]);
    ack();
    await run;
    expect(handled).to.deep.equal(['3', '4']);
    expect(commits[commits.length - 1]).to.equal('6');
    expect(
      events.filter((e) => e.type === 'batch-handled').map((e) => 'messages' in e && e.messages),
    ).to.deep.equal([3]);
    expect(
      events.filter((e) => e.type === 'skipped').map((e) => 'messages' in e && e.messages),
    ).to.deep.equal([1]);
    expect(events.filter((e) => e.type === 'processed')).to.have.length(2);
  });

  it('a batch handling that fails finishes nothing itself: every message runs through its handler, and the commit waits for them', async () => {
    const events: KeyedConsumerEvent[] = [];
    const handled: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const kc = consumer(
      {
        handleBatch: async () => {
          throw new Error('produce failed');
        },
        handler: async (m: KafkaMessage) => {
          if (m.offset === '0') await slow;
          handled.push(m.offset);
        },
      },
      events,
    );
    const commits: string[] = [];
    const run = onBatch(
      kc,
      batchPayload(
        [0, 1, 2].map((o) => kafkaMessage(o, `k${o}`)),
        commits,
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(handled).to.have.members(['1', '2']);
    expect(commits, 'offset 0 is still in its handler').to.deep.equal([]);
    release();
    await run;
    expect(handled).to.have.members(['0', '1', '2']);
    expect(commits[commits.length - 1]).to.equal('3');
    expect(events.filter((e) => e.type === 'batch-handled')).to.deep.equal([]);
  });

  it('a blocked partition probing one message at a time does not handle its batch in bulk', async () => {
    const events: KeyedConsumerEvent[] = [];
    let calls = 0;
    const kc = consumer(
      {
        handleBatch: async (messages) => {
          calls++;
          return new Set(messages);
        },
      },
      events,
    );
    (kc as unknown as { blocked: Map<string, unknown> }).blocked.set('t/0', {
      topic: 't',
      partition: 0,
      offset: '0',
      code: 'X',
      outage: true,
      attempt: 1,
      since: Date.now(),
      messageTimestamp: 0,
      retryInMs: 10,
    });
    await onBatch(
      kc,
      batchPayload(
        [0, 1].map((o) => kafkaMessage(o, `k${o}`)),
        [],
      ),
    );
    expect(calls).to.equal(0);
    expect(events.filter((e) => e.type === 'processed')).to.have.length(2);
  });
});
