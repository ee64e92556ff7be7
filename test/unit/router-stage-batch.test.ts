/**
 * The router stage over a fetched batch (scripted, no broker): its intents leave in one produce request and its
 * offsets are committed only behind that request's acknowledgement; a failed request commits none of them (the
 * changes are routed again one by one and committed once their own sends were acknowledged); a malformed event
 * still goes to the dead-letter topic with its reason while the rest of the batch moves on.
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { loadConfig } from '../../src/core/config';
import type { KeyedConsumer } from '../../src/adapters/kafka/keyed-consumer';
import type { ContractRoutePins } from '../../src/domain/intents/kind';
import type { Row } from '../../src/domain/capture/tables';
import { createRouter } from '../../src/flows/projection/stages';
import { PinnedRoutingReader } from '../../src/flows/projection/router';
import { changeRecord, sampleRow } from '../../testkit/capture';
import { batchPayload } from './support/kafka-batch';
import { DLQ_HEADER } from '../../src/adapters/kafka/dlq';
import { captureLogLines } from '../support/log-capture';

const TOPIC = 'odoo.public.contract_contract';

const contractRow = (id: number, over: Partial<Row<'contract_contract'>> = {}) =>
  sampleRow('contract_contract', {
    id,
    code: `SC-${id}`,
    name: `SC-${id}`,
    active: true,
    partner_id: 7,
    is_terminated: false,
    date_start: '2024-01-31',
    mandate_id: 3,
    ...over,
  });

/** Contract creations at offsets 0…n-1 (contracts 40+offset), as fetched records. */
function creations(n: number): KafkaMessage[] {
  return Array.from({ length: n }, (_, o) => {
    const rec = changeRecord('contract_contract', {
      op: 'c',
      before: null,
      after: contractRow(40 + o),
      offset: o,
    });
    return {
      offset: rec.offset,
      key: rec.key,
      value: rec.value,
      timestamp: '0',
      attributes: 0,
      headers: {},
    } as KafkaMessage;
  });
}

const pins: ContractRoutePins = { pinned: async () => null, pin: async (_c, p) => p };
const reader = new PinnedRoutingReader(
  {
    products: async () => new Map(),
    partnersWithContracts: async (ids) => new Set(ids),
    partnerIdOfContract: async () => 7,
    contractIdsOfInfo: async () => [],
    contractsInCreation: async () => new Set<number>(),
  },
  pins,
);

/** A producer that logs its requests and dead letters in `log` and fails the first `failures` requests. */
function producer(log: string[], failures: number): Producer {
  let failed = 0;
  return {
    sendBatch: async (b: { topicMessages: { messages: unknown[] }[] }) => {
      await new Promise((r) => setImmediate(r));
      const n = b.topicMessages.reduce((sum, t) => sum + t.messages.length, 0);
      if (failed < failures) {
        failed++;
        log.push(`failed request of ${n}`);
        throw Object.assign(new Error('broker not available'), { retriable: true });
      }
      log.push(`request of ${n}`);
      return [];
    },
    send: async (r: { messages: { headers?: Record<string, unknown> }[] }) => {
      log.push(`dead letter: ${String(r.messages[0].headers?.[DLQ_HEADER.message])}`);
      return [{ partition: 0, baseOffset: '0' }];
    },
  } as unknown as Producer;
}

function router(p: Producer): KeyedConsumer {
  return createRouter({
    kafka: {} as Kafka,
    producer: p,
    config: loadConfig({ OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y', RETRY_INITIAL_MS: '5' }),
    reader,
  });
}

const onBatch = (kc: KeyedConsumer, p: EachBatchPayload) =>
  (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(p);

describe('router stage: a batch routed together, committed behind its acknowledgement', () => {
  it("sends a batch's intents in one request and commits its offsets after the acknowledgement", async () => {
    const log: string[] = [];
    const commits: string[] = [];
    const payload = batchPayload(creations(5), commits, 0, TOPIC);
    const commit = payload.commitOffsetsIfNecessary;
    payload.commitOffsetsIfNecessary = async (o) => {
      log.push('commit');
      return commit(o);
    };
    await onBatch(router(producer(log, 0)), payload);
    expect(log).to.deep.equal(['request of 5', 'commit']);
    expect(commits).to.deep.equal(['5']);
  });

  it('a failed produce request commits none of the batch: its changes are routed again one by one and committed once acknowledged', async () => {
    const log: string[] = [];
    const commits: string[] = [];
    const payload = batchPayload(creations(3), commits, 0, TOPIC);
    const commit = payload.commitOffsetsIfNecessary;
    payload.commitOffsetsIfNecessary = async (o) => {
      log.push(
        `commit ${(o as { topics: { partitions: { offset: string }[] }[] }).topics[0].partitions[0].offset}`,
      );
      return commit(o);
    };
    await onBatch(router(producer(log, 1)), payload);
    expect(log[0], 'the fault landed').to.equal('failed request of 3');
    const firstCommit = log.findIndex((l) => l.startsWith('commit'));
    const sent = log.slice(1, firstCommit).filter((l) => l.startsWith('request of'));
    // each change's intents were acknowledged before any offset was committed
    expect(sent.map((l) => Number(l.split(' ').pop())).reduce((a, b) => a + b, 0)).to.equal(3);
    expect(commits[commits.length - 1]).to.equal('3');
  });

  it('a malformed event in a batch is dead-lettered with its reason; the rest of the batch is routed and committed', async () => {
    const log: string[] = [];
    const commits: string[] = [];
    const messages = creations(3);
    messages[1] = { ...messages[1], value: Buffer.from('{"op":"c","after":{"id":"not a number"}') };
    await onBatch(router(producer(log, 0)), batchPayload(messages, commits, 0, TOPIC));
    expect(log.filter((l) => l.startsWith('request of'))).to.deep.equal(['request of 2']);
    const deadLetters = log.filter((l) => l.startsWith('dead letter'));
    expect(deadLetters).to.have.length(1);
    expect(deadLetters[0]).to.match(/^dead letter: malformed event on odoo.public.contract_contract/);
    expect(commits[commits.length - 1]).to.equal('3');
  });
});

describe('router stage: a replayed batch leaves out the intents the ledger has finished (issue 17 §2)', () => {
  /** A producer recording the intent ids of each request. */
  function recorder(requests: string[][]): Producer {
    return {
      sendBatch: async (b: { topicMessages: { messages: { headers: { intent_id: string } }[] }[] }) => {
        requests.push(b.topicMessages.flatMap((t) => t.messages.map((m) => m.headers.intent_id)));
        return [];
      },
      send: async () => [{ partition: 0, baseOffset: '0' }],
    } as unknown as Producer;
  }

  function replayRouter(
    requests: string[][],
    finished: (ids: readonly string[]) => Promise<boolean[]>,
    clock: { now: number },
  ): KeyedConsumer {
    return createRouter({
      kafka: {} as Kafka,
      producer: recorder(requests),
      config: loadConfig({ OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y', RETRY_INITIAL_MS: '5' }),
      reader,
      finished,
      now: () => clock.now,
    });
  }

  it('produces only the unfinished intents of a large batch, in their order, and commits the whole batch', async () => {
    const asked: string[][] = [];
    const all: string[][] = [];
    // every intent id the router derives for the 40 creations, read from a router without the check
    await onBatch(
      replayRouter(all, async (ids) => ids.map(() => false), { now: 0 }),
      batchPayload(creations(40), [], 0, TOPIC),
    );
    expect(all, 'one request of 40 intents').to.have.length(1);
    const ids = all[0];
    expect(ids).to.have.length(40);
    const finishedIds = new Set(ids.filter((_id, i) => i % 4 !== 3)); // 30 finished, every fourth one not
    const requests: string[][] = [];
    const commits: string[] = [];
    const kc = replayRouter(
      requests,
      async (asked1) => {
        asked.push([...asked1]);
        return asked1.map((id) => finishedIds.has(id));
      },
      { now: 0 },
    );
    await onBatch(kc, batchPayload(creations(40), commits, 0, TOPIC));
    expect(asked, 'the ledger was asked once, for the batch').to.deep.equal([ids]);
    expect(requests).to.deep.equal([ids.filter((id) => !finishedIds.has(id))]);
    expect(requests[0]).to.have.length(10);
    expect(commits[commits.length - 1]).to.equal('40');
  });

  it('does not ask for a small (live) batch, nor for 30 s after a check found none finished; a failing check produces all', async () => {
    let checks = 0;
    let fail = false;
    const clock = { now: 1_000 };
    const requests: string[][] = [];
    const kc = replayRouter(
      requests,
      async (ids) => {
        checks++;
        if (fail) throw new Error('state database unreachable');
        return ids.map(() => false);
      },
      clock,
    );
    await onBatch(kc, batchPayload(creations(5), [], 0, TOPIC));
    expect(checks, 'a batch of 5 intents is not checked').to.equal(0);
    await onBatch(kc, batchPayload(creations(40), [], 0, TOPIC));
    expect(checks, 'a batch of 40 is').to.equal(1);
    clock.now += 29_000;
    await onBatch(kc, batchPayload(creations(40), [], 0, TOPIC));
    expect(checks, 'within 30 s of a check that found none finished, not again').to.equal(1);
    clock.now += 2_000;
    fail = true;
    const logs = captureLogLines();
    logs.attach();
    try {
      await onBatch(kc, batchPayload(creations(40), [], 0, TOPIC));
      expect(checks, 'after 30 s, checked again (and the check failed)').to.equal(2);
      await onBatch(kc, batchPayload(creations(40), [], 0, TOPIC));
      expect(checks, 'a failed check does not start the idle window').to.equal(3);
      clock.now += 61_000;
      await onBatch(kc, batchPayload(creations(40), [], 0, TOPIC));
      expect(checks).to.equal(4);
    } finally {
      logs.detach();
    }
    expect(requests.map((r) => r.length)).to.deep.equal([5, 40, 40, 40, 40, 40]);
    // said, once a minute: a failing check is an economy lost, and it may hide a defect (regression: a ledger read
    // that threw on every call went unseen)
    const warned = logs.lines.filter((l) => String(l.message).startsWith('the replay check failed'));
    expect(
      warned.map((l) => [l.level, String(l.message).includes('state database unreachable')]),
    ).to.deep.equal([
      ['warn', true],
      ['warn', true],
    ]);
  });
});
