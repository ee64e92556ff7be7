import { expect } from 'chai';
import { KafkaMessage } from 'kafkajs';
import {
  OpenCellBusinessError,
  OpenCellUnavailableError,
  PreconditionPendingError,
} from '../../src/domain/errors';
import { DLQ_HEADER, KafkaDeadLetterPublisher } from '../../src/adapters/kafka/dlq';
import { ensureTopics } from '../../src/adapters/kafka/kafka';
import { KeyedConsumer, KeyedConsumerEvent, MessageHandler } from '../../src/adapters/kafka/keyed-consumer';
import { eventually, testKafka, uniqueSuffix } from './support/stack';

/** The keyed consumer on a real broker: per-key order, concurrency across keys, retries, dead letters, commits. */
describe('keyed consumer (kafkajs on a real broker)', function () {
  this.timeout(120_000);
  const kafka = testKafka();
  const policy = { initialMs: 20, maxMs: 400, multiplier: 2, maxAttempts: 6, jitter: 0 };

  async function setup(partitions = 2) {
    const topic = `test.keyed-${uniqueSuffix()}`;
    const dlq = `${topic}.dlq`;
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [
      { topic, numPartitions: partitions, replicationFactor: 1 },
      { topic: dlq, numPartitions: 1, replicationFactor: 1 },
    ]);
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    return { topic, dlq, producer };
  }

  function consumer(
    topic: string,
    groupId: string,
    producer: ReturnType<typeof kafka.producer>,
    dlq: string,
    handler: MessageHandler,
    events: KeyedConsumerEvent[] = [],
    concurrency = 8,
  ) {
    return new KeyedConsumer({
      kafka,
      groupId,
      topics: [topic],
      handler,
      deadLetters: new KafkaDeadLetterPublisher(producer, dlq),
      stage: 'test',
      retry: policy,
      concurrency,
      inlineRetryMaxMs: 50,
      onEvent: (e) => events.push(e),
    });
  }

  async function readAll(topic: string, count: number): Promise<KafkaMessage[]> {
    const got: KafkaMessage[] = [];
    const c = kafka.consumer({ groupId: `reader-${uniqueSuffix()}`, maxWaitTimeInMs: 100 });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => void got.push(message) });
    await eventually(
      async () => (got.length >= count ? true : undefined),
      30_000,
      `${count} messages on ${topic}`,
    );
    await c.disconnect();
    return got;
  }

  it('keeps each key in order while keys run concurrently, and reports each finished batch', async () => {
    const { topic, dlq, producer } = await setup(1);
    const events: KeyedConsumerEvent[] = [];
    const keys = ['a', 'b', 'c', 'd'];
    const messages = [];
    for (let i = 0; i < 40; i++) messages.push({ key: keys[i % 4], value: String(i) });
    await producer.send({ topic, messages });
    const seen = new Map<string, number[]>();
    let inFlight = 0;
    let maxInFlight = 0;
    const kc = consumer(
      topic,
      `g-${uniqueSuffix()}`,
      producer,
      dlq,
      async (m) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
        const k = m.key!.toString();
        seen.set(k, [...(seen.get(k) ?? []), Number(m.value!.toString())]);
        inFlight--;
      },
      events,
    );
    await kc.start();
    await eventually(
      async () => ([...seen.values()].flat().length >= 40 ? true : undefined),
      30_000,
      'all processed',
    );
    await kc.stop();
    await producer.disconnect();
    for (const k of keys) {
      const got = seen.get(k)!;
      expect(got).to.deep.equal([...got].sort((x, y) => x - y));
      expect(got).to.have.length(10);
    }
    expect(maxInFlight).to.be.greaterThan(1);
    const batches = events.flatMap((e) => (e.type === 'batch' ? [e] : []));
    expect(
      batches.reduce((n, b) => n + b.messages, 0),
      'every message was in a reported batch',
    ).to.be.at.least(40);
    expect(batches.every((b) => b.topic === topic && b.partition === 0 && b.ms >= 0)).to.equal(true);
  });

  it('dead-letters a non-retriable failure with its reason and moves on', async () => {
    const { topic, dlq, producer } = await setup(1);
    await producer.send({
      topic,
      messages: [
        { key: 'k', value: 'ok-1' },
        { key: 'k', value: 'poison', headers: { trace: 't-1' } },
        { key: 'k', value: 'ok-2' },
      ],
    });
    const processed: string[] = [];
    const kc = consumer(topic, `g-${uniqueSuffix()}`, producer, dlq, async (m) => {
      const v = m.value!.toString();
      if (v === 'poison')
        throw new OpenCellBusinessError(
          'ENTITY_DOES_NOT_EXISTS_EXCEPTION',
          'offer X not found',
          404,
          '/billing/subscription',
        );
      processed.push(v);
    });
    await kc.start();
    const [dead] = await readAll(dlq, 1);
    await eventually(
      async () => (processed.length === 2 ? true : undefined),
      30_000,
      'the partition to move on',
    );
    await kc.stop();
    await producer.disconnect();
    expect(processed).to.deep.equal(['ok-1', 'ok-2']);
    expect(dead.value!.toString()).to.equal('poison');
    const h = (name: string) => dead.headers?.[name]?.toString();
    expect(h(DLQ_HEADER.code)).to.equal('OPENCELL_BUSINESS');
    expect(h(DLQ_HEADER.message)).to.contain('offer X not found');
    expect(h(DLQ_HEADER.retriable)).to.equal('false');
    expect(h(DLQ_HEADER.topic)).to.equal(topic);
    expect(h(DLQ_HEADER.offset)).to.equal('1');
    expect(h(DLQ_HEADER.attempts)).to.equal('1');
    expect(h('trace')).to.equal('t-1');
  });

  it('retries a retriable failure with backoff (pausing the partition) and loses nothing', async () => {
    const { topic, dlq, producer } = await setup(1);
    await producer.send({
      topic,
      messages: [1, 2, 3, 4, 5].map((i) => ({ key: `k${i % 2}`, value: String(i) })),
    });
    let failures = 0;
    const processed: string[] = [];
    const events: KeyedConsumerEvent[] = [];
    const kc = consumer(
      topic,
      `g-${uniqueSuffix()}`,
      producer,
      dlq,
      async (m) => {
        const v = m.value!.toString();
        if (v === '3' && failures < 4) {
          failures++;
          throw new OpenCellUnavailableError(
            'OPENCELL_UNAVAILABLE',
            'HTTP 503',
            '/billing/subscription',
            503,
          );
        }
        if (!processed.includes(v)) processed.push(v);
      },
      events,
    );
    await kc.start();
    await eventually(async () => (processed.length === 5 ? true : undefined), 30_000, 'all 5 processed');
    await kc.stop();
    await producer.disconnect();
    expect(processed.sort()).to.deep.equal(['1', '2', '3', '4', '5']);
    expect(events.filter((e) => e.type === 'retry')).to.have.length(4);
    expect(
      events.some((e) => e.type === 'paused'),
      'long backoffs pause the partition',
    ).to.equal(true);
    expect(events.some((e) => e.type === 'dead-letter')).to.equal(false);
  });

  it('dead-letters a pending precondition after maxAttempts, marked retriable for a later replay', async () => {
    const { topic, dlq, producer } = await setup(1);
    await producer.send({
      topic,
      messages: [
        { key: 'x', value: 'never-ready' },
        { key: 'x', value: 'next' },
      ],
    });
    const processed: string[] = [];
    const kc = consumer(topic, `g-${uniqueSuffix()}`, producer, dlq, async (m) => {
      if (m.value!.toString() === 'never-ready')
        throw new PreconditionPendingError(
          'cannot terminate: subscription SC1 does not exist in OpenCell yet',
        );
      processed.push(m.value!.toString());
    });
    await kc.start();
    const [dead] = await readAll(dlq, 1);
    await eventually(async () => (processed.length === 1 ? true : undefined), 30_000, 'next message');
    await kc.stop();
    await producer.disconnect();
    expect(dead.headers?.[DLQ_HEADER.retriable]?.toString()).to.equal('true');
    expect(dead.headers?.[DLQ_HEADER.attempts]?.toString()).to.equal(String(policy.maxAttempts));
    expect(dead.headers?.[DLQ_HEADER.message]?.toString()).to.match(/^retries exhausted after 6 attempts/);
  });

  it('an outage longer than the session timeout and maxAttempts: no dead letter, the member keeps its partitions (no rebalance), the other partition keeps working, and the key goes on in order after it', async () => {
    const { topic, dlq, producer } = await setup(2);
    const OUTAGE_MS = 15_000;
    const SESSION_MS = 6_000;
    let outageEnds = Number.POSITIVE_INFINITY;
    const processed: { value: string; at: number }[] = [];
    const events: KeyedConsumerEvent[] = [];
    let joins = 0;
    // the test's Kafka, counting the member's group joins (every rebalance it takes part in)
    const counting = Object.create(kafka) as typeof kafka;
    counting.consumer = (cfg) => {
      const c = kafka.consumer(cfg);
      c.on(c.events.GROUP_JOIN, () => void joins++);
      return c;
    };
    const kc = new KeyedConsumer({
      kafka: counting,
      groupId: `g-${uniqueSuffix()}`,
      topics: [topic],
      handler: async (m) => {
        const value = m.value!.toString();
        if (value === 'blocked' && Date.now() < outageEnds)
          throw new OpenCellUnavailableError(
            'OPENCELL_UNAVAILABLE',
            'HTTP 503',
            '/billing/subscription',
            503,
          );
        processed.push({ value, at: Date.now() });
      },
      deadLetters: new KafkaDeadLetterPublisher(producer, dlq),
      stage: 'test',
      retry: policy,
      concurrency: 8,
      inlineRetryMaxMs: 50,
      sessionTimeout: SESSION_MS,
      heartbeatInterval: 1_000,
      onEvent: (e) => events.push(e),
    });
    await kc.start();
    await eventually(async () => (joins > 0 ? true : undefined), 30_000, 'joined the group');
    outageEnds = Date.now() + OUTAGE_MS;
    await producer.send({
      topic,
      messages: [
        { key: 'partner:1', value: 'blocked', partition: 0 },
        { key: 'partner:1', value: 'after', partition: 0 },
      ],
    });
    // changes of other customers keep arriving on the other partition during the outage
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 2_000));
      await producer.send({
        topic,
        messages: [{ key: `partner:${10 + i}`, value: `other-${i}`, partition: 1 }],
      });
    }
    await eventually(
      async () => (processed.some((p) => p.value === 'after') ? true : undefined),
      OUTAGE_MS + 30_000,
      'the blocked key applied after the outage',
    );
    await kc.stop();
    await producer.disconnect();
    const at = (v: string) => processed.find((p) => p.value === v)?.at ?? NaN;
    // the fault landed: the message failed for the whole outage, far more often than maxAttempts
    const retries = events.filter((e) => e.type === 'retry').length;
    expect(retries, 'tries failed during the outage').to.be.above(policy.maxAttempts * 2);
    expect(at('blocked'), 'applied only once the outage ended').to.be.at.least(outageEnds);
    expect(events.filter((e) => e.type === 'blocked').length, 'blocked backoff steps').to.be.above(5);
    // no dead letter, no rebalance, the other partition did not wait, the key kept its order
    expect(events.filter((e) => e.type === 'dead-letter')).to.deep.equal([]);
    expect(joins, 'group joins: the member never lost its partitions').to.equal(1);
    for (let i = 0; i < 5; i++) expect(at(`other-${i}`), `other-${i}`).to.be.below(outageEnds);
    expect(at('after')).to.be.at.least(at('blocked'));
    expect(
      events.filter((e) => e.type === 'unblocked').map((e) => e.type === 'unblocked' && e.why),
    ).to.deep.equal(['finished']);
    expect(kc.blockedPartitions()).to.deep.equal([]);
  });

  it('commits only past finished work: a new member resumes at the first unfinished message', async () => {
    const { topic, dlq, producer } = await setup(1);
    await producer.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ key: `k${i}`, value: String(i) })) });
    const groupId = `g-${uniqueSuffix()}`;
    const first: string[] = [];
    let crash: () => void = () => undefined;
    const crashed = new Promise<void>((r) => (crash = r));
    // Message 1 hangs until the "crash"; 0, 2, 3 finish. Only offset 0 may be committed.
    const kc1 = consumer(topic, groupId, producer, dlq, async (m) => {
      const v = m.value!.toString();
      if (v === '1') {
        await crashed;
        throw new OpenCellUnavailableError('NETWORK', 'worker killed', '/x'); // never finishes
      }
      first.push(v);
    });
    await kc1.start();
    await eventually(async () => (first.length === 3 ? true : undefined), 30_000, '0, 2, 3 processed');
    const admin = kafka.admin();
    await admin.connect();
    const committed = await eventually(
      async () => {
        const o = await admin.fetchOffsets({ groupId, topics: [topic] });
        return o[0].partitions[0].offset === '1' ? '1' : undefined;
      },
      15_000,
      'committed offset 1',
    );
    expect(committed).to.equal('1');
    crash();
    await kc1.stop();
    const after = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(after[0].partitions[0].offset, 'nothing past the unfinished message is committed').to.equal('1');
    await admin.disconnect();

    const second: string[] = [];
    const kc2 = consumer(topic, groupId, producer, dlq, async (m) => void second.push(m.value!.toString()));
    await kc2.start();
    await eventually(
      async () => (second.length >= 3 ? true : undefined),
      30_000,
      'the new member to catch up',
    );
    await kc2.stop();
    await producer.disconnect();
    expect(second[0]).to.equal('1');
    expect(second).to.include.members(['1', '2', '3']);
    expect(second).to.not.include('0');
  });
});
