/**
 * Issue 19 §3, failures that nobody sees: every dead letter is logged (warn) with its code, stage, source position
 * and whole reason, counted by stage and code, listed whole by `dlq list` and under `status`'s last errors; a
 * replay of a group does not publish the same dead letter twice; kafkajs's expected start-up lines are not errors.
 * Scripted kafkajs batches and fakes, no broker (the broker-backed replay is test/integration/dead-letter-replay.test.ts).
 */
import { expect } from 'chai';
import { Writable } from 'node:stream';
import winston from 'winston';
import { logLevel, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import {
  KafkaDeadLetterPublisher,
  type DeadLetterIndex,
  type DeadLetterKey,
} from '../../src/adapters/kafka/dlq';
import { kafkaLogLevel, quietNegativeTimeoutWarning } from '../../src/adapters/kafka/kafka';
import { KeyedConsumer, type KeyedConsumerEvent } from '../../src/adapters/kafka/keyed-consumer';
import { logger } from '../../src/core/log';
import { SyncError } from '../../src/domain/errors';
import { deadLetterListTable, toDeadLetter } from '../../src/app/dlq-admin';
import { Metrics } from '../../src/app/metrics';
import { renderStatus, type StatusReport } from '../../src/app/status';
import { kafkaMessage } from './support/kafka-batch';

function payload(messages: KafkaMessage[], topic = 'odoo.public.res_partner'): EachBatchPayload {
  return {
    batch: { topic, partition: 2, messages },
    resolveOffset: () => undefined,
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
    commitOffsetsIfNecessary: async () => undefined,
  } as unknown as EachBatchPayload;
}

/** An in-memory index with the rule of PgDeadLetterIndex: one copy per key until that copy is replayed. */
class MemoryIndex implements DeadLetterIndex {
  readonly rows = new Map<string, { offset: string | null; replayed: boolean }>();
  private k = (key: DeadLetterKey) => `${key.stage}|${key.topic}|${key.partition}|${key.offset}`;
  async claim(key: DeadLetterKey) {
    const row = this.rows.get(this.k(key));
    if (row && row.offset !== null && !row.replayed)
      return { claimed: false as const, copy: `0:${row.offset}` };
    this.rows.set(this.k(key), { offset: null, replayed: false });
    return { claimed: true as const };
  }
  async published(key: DeadLetterKey, at: { offset: string | null }) {
    this.rows.set(this.k(key), { offset: at.offset, replayed: false });
  }
  async release(key: DeadLetterKey) {
    if (this.rows.get(this.k(key))?.offset === null) this.rows.delete(this.k(key));
  }
  replayAll() {
    for (const r of this.rows.values()) r.replayed = true;
  }
}

function fakeProducer(fail = false) {
  const sent: { topic: string; headers: Record<string, unknown> }[] = [];
  const producer = {
    send: async (r: { topic: string; messages: { headers: Record<string, unknown> }[] }) => {
      if (fail) throw new Error('broker down');
      sent.push({ topic: r.topic, headers: r.messages[0].headers });
      return [{ topicName: r.topic, partition: 0, errorCode: 0, baseOffset: String(sent.length - 1) }];
    },
  } as unknown as Producer;
  return { producer, sent };
}

const REASON =
  'Invalid value at before.active: expected boolean, got "t" (Debezium envelope of res_partner, field path before.active)';

function stage(index: MemoryIndex | undefined, producer: Producer, metrics: Metrics) {
  const ledger: string[] = [];
  const events: KeyedConsumerEvent[] = [];
  const kc = new KeyedConsumer({
    kafka: {} as Kafka,
    groupId: 'g',
    topics: ['t'],
    handler: async () => {
      throw new SyncError('MALFORMED_EVENT', REASON);
    },
    deadLetters: new KafkaDeadLetterPublisher(producer, 'sync.dead-letter', undefined, index),
    stage: 'router',
    retry: { initialMs: 1, maxMs: 2, multiplier: 2, maxAttempts: 2, jitter: 0 },
    concurrency: 2,
    onEvent: (e) => {
      events.push(e);
      metrics.onConsumerEvent('router', e);
    },
    onDeadLettered: async (m) => void ledger.push(m.offset),
  });
  const onBatch = (p: EachBatchPayload) =>
    (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(p);
  return { onBatch, ledger, events };
}

async function deadLetterCount(metrics: Metrics): Promise<number> {
  const m = await metrics.registry.getSingleMetric('sync_dead_letters_total')!.get();
  return m.values
    .filter((v) => v.labels.stage === 'router' && v.labels.code === 'MALFORMED_EVENT')
    .reduce((s, v) => s + v.value, 0);
}

describe('failures that nobody sees (issue 19 §3)', () => {
  const lines: Record<string, unknown>[] = [];
  const capture = new winston.transports.Stream({
    stream: new Writable({ objectMode: true, write: (info, _e, cb) => (lines.push(info), cb()) }),
  });
  // Test runs log only errors: lower the level for this suite, with the console transports muted.
  const level = logger.level;
  const consoles = logger.transports.filter((t) => !t.silent);
  before(() => {
    logger.level = 'info';
    for (const t of consoles) t.silent = true;
    logger.add(capture);
  });
  after(() => {
    logger.remove(capture);
    for (const t of consoles) t.silent = false;
    logger.level = level;
  });
  beforeEach(() => (lines.length = 0));

  it('logs every dead letter at warn with its code, stage, source position and whole reason, and counts it', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const { producer, sent } = fakeProducer();
    const s = stage(undefined, producer, metrics);
    await s.onBatch(payload([kafkaMessage(41, 'a')]));
    expect(sent).to.have.length(1);
    const line = lines.find((l) => l.level === 'warn' && String(l.message).startsWith('dead-lettered'));
    expect(line, 'a warn line for the dead letter').to.not.equal(undefined);
    expect(line).to.include({
      stage: 'router',
      code: 'MALFORMED_EVENT',
      topic: 'odoo.public.res_partner',
      partition: 2,
      offset: '41',
      reason: REASON,
    });
    expect(String(line!.message)).to.contain(REASON);
    expect(await deadLetterCount(metrics)).to.equal(1);
  });

  it('a replay of the group does not publish the same dead letter twice, until the copy was replayed', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const index = new MemoryIndex();
    const { producer, sent } = fakeProducer();
    const s = stage(index, producer, metrics);
    await s.onBatch(payload([kafkaMessage(7, 'a'), kafkaMessage(8, 'b')]));
    await s.onBatch(payload([kafkaMessage(7, 'a'), kafkaMessage(8, 'b')])); // resync --to earliest
    expect(sent, 'two dead letters, not four').to.have.length(2);
    expect(s.ledger, 'the ledger hears of each once').to.deep.equal(['7', '8']);
    expect(await deadLetterCount(metrics), 'counted once each').to.equal(2);
    expect(s.events.filter((e) => e.type === 'dead-letter' && e.duplicate)).to.have.length(2);
    index.replayAll(); // dlq replay --all; the replayed copies fail again from the same position
    await s.onBatch(payload([kafkaMessage(7, 'a')]));
    expect(sent, 'a replayed dead letter that fails again is a new one').to.have.length(3);
  });

  it('gives the key back when the publish fails, so the retry publishes', async () => {
    const index = new MemoryIndex();
    const failing = new KafkaDeadLetterPublisher(fakeProducer(true).producer, 'dlq', undefined, index);
    const d = {
      stage: 'router',
      topic: 't',
      partition: 0,
      message: kafkaMessage(3, 'a'),
      error: new Error('x'),
      attempts: 1,
      retriable: false,
    };
    let failed = false;
    await failing.publish(d).catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect(index.rows.size, 'no claim left behind').to.equal(0);
    const { producer, sent } = fakeProducer();
    expect(await new KafkaDeadLetterPublisher(producer, 'dlq', undefined, index).publish(d)).to.deep.equal({
      published: true,
    });
    expect(sent).to.have.length(1);
  });

  it('dlq list shows whole reasons', () => {
    const d = toDeadLetter(0, {
      offset: '42',
      key: null,
      value: null,
      timestamp: '0',
      headers: {
        'dlq.stage': 'router',
        'dlq.error.code': 'MALFORMED_EVENT',
        'dlq.error.message': `${REASON}\n  and a second line`,
        'dlq.source.topic': 'odoo.public.res_partner',
        'dlq.source.partition': '2',
        'dlq.source.offset': '41',
      },
    });
    const out = deadLetterListTable([d]);
    expect(out).to.contain(`${REASON} and a second line`);
  });

  it("status shows a router's dead letter under last errors, with stage, source and whole reason", () => {
    const report: StatusReport = {
      at: '2026-01-01T00:00:00.000Z',
      groupList: [],
      dlq: { ok: true, value: { topic: 'sync.dead-letter', depth: 1, replayed: 0 } },
      outbox: { ok: true, value: { backlog: 0, oldest: null, parked: 0 } },
      connectors: { ok: true, value: [] },
      lastErrors: {
        ok: true,
        value: [
          {
            stage: 'router',
            intentId: null,
            kind: null,
            aggregateKey: 'odoo.public.res_partner[2]@41',
            outcome: 'dead_lettered',
            errorCode: 'MALFORMED_EVENT',
            errorMessage: REASON,
            at: '2026-01-01T00:00:00.000Z',
          },
        ],
      },
      ledger: { ok: true, value: {} },
    };
    const out = renderStatus(report);
    const section = out.slice(out.indexOf('Last errors'));
    expect(section).to.not.contain('(none)');
    expect(section).to.contain('router').and.contain('odoo.public.res_partner[2]@41').and.contain(REASON);
  });

  it("kafkajs's expected start-up lines are not errors or warnings; other lines keep their level", () => {
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)', {
        error: "The coordinator is loading and hence can't process requests",
      }),
    ).to.equal('info');
    expect(
      kafkaLogLevel(
        logLevel.WARN,
        'KafkaJS v2.0.0 switched default partitioner. To retain the same partitioning behavior …',
        {},
      ),
    ).to.equal('debug');
    expect(
      kafkaLogLevel(
        logLevel.WARN,
        'Limiting retries for the idempotent producer may invalidate EoS guarantees',
        {},
      ),
    ).to.equal('info');
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Response Heartbeat(key: 12, version: 3)', {
        error: 'The group is rebalancing, so a rejoin is needed',
      }),
    ).to.equal('info');
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection error: ECONNREFUSED', {})).to.equal('error');
    expect(kafkaLogLevel(logLevel.WARN, 'something else', {})).to.equal('warn');
  });

  it("kafkajs's negative throttle-check timeout (Node 24 TimeoutNegativeWarning) is not printed", async () => {
    quietNegativeTimeoutWarning();
    const warnings: string[] = [];
    const listener = (w: Error) => warnings.push(w.name);
    process.on('warning', listener);
    try {
      setTimeout(() => undefined, -1_796_529_252_759); // what kafkajs's request queue does at start-up
      await new Promise((r) => setTimeout(r, 5));
    } finally {
      process.off('warning', listener);
    }
    expect(warnings).to.not.include('TimeoutNegativeWarning');
  });
});
