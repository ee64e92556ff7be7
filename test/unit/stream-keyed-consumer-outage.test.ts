/**
 * A long OpenCell (or Odoo) outage does not dead-letter valid changes (docs/decisions/0009-outages-block.md): the
 * keyed consumer keeps a message failing with an outage unfinished however many tries it takes, pausing its
 * partition with a capped backoff; the partition is reported blocked (events for the gauges and /readyz), probes with
 * one message per backoff step, and goes on in order once the outage ends. Scripted kafkajs batches and consumer, no
 * broker (like stream-keyed-consumer-dlq-failure.test.ts): each onBatch call is the fetch after a pause.
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import {
  KeyedConsumer,
  KeyedConsumerEvent,
  type MessageHandler,
} from '../../src/adapters/kafka/keyed-consumer';
import type { DeadLetter } from '../../src/adapters/kafka/dlq';
import type { RetryPolicy } from '../../src/adapters/kafka/retry';
import { OpenCellUnavailableError, PreconditionPendingError } from '../../src/domain/errors';
import { Metrics } from '../../src/app/metrics';
import { startOpsServer } from '../../src/app/http';
import { registerSecret } from '../../src/core/log';
import { captureLogLines } from '../support/log-capture';
import { batchPayload, kafkaMessage } from './support/kafka-batch';

const POLICY: RetryPolicy = { initialMs: 100, maxMs: 800, multiplier: 2, maxAttempts: 3, jitter: 0 };
const down = () =>
  new OpenCellUnavailableError(
    'OPENCELL_UNAVAILABLE',
    'OpenCell /billing/subscription answered HTTP 503',
    '/billing/subscription',
    503,
  );

function scripted(handler: MessageHandler, retry: RetryPolicy = POLICY, concurrency = 4) {
  const events: KeyedConsumerEvent[] = [];
  const deadLetters: DeadLetter[] = [];
  const kc = new KeyedConsumer({
    kafka: {} as Kafka,
    groupId: 'g',
    topics: ['t'],
    handler,
    deadLetters: { publish: async (d) => void deadLetters.push(d) },
    stage: 'unit',
    retry,
    concurrency,
    // every retry pauses (none in place): each onBatch below is one backoff step
    inlineRetryMaxMs: 0,
    onEvent: (e) => events.push(e),
  });
  const calls: string[] = [];
  (kc as unknown as { consumer: unknown }).consumer = {
    pause: () => void calls.push('pause'),
    seek: (s: { offset: string }) => void calls.push(`seek ${s.offset}`),
    resume: () => void calls.push('resume'),
  };
  const commits: string[] = [];
  const onBatch = (messages: KafkaMessage[]) =>
    (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(
      batchPayload(messages, commits, 2),
    );
  const clear = () =>
    (kc as unknown as { resumeTimers: Set<NodeJS.Timeout> }).resumeTimers.forEach((t) => clearTimeout(t));
  return { kc, events, deadLetters, calls, commits, onBatch, clear };
}

const of = <T extends KeyedConsumerEvent['type']>(events: KeyedConsumerEvent[], type: T) =>
  events.filter((e): e is Extract<KeyedConsumerEvent, { type: T }> => e.type === type);

describe('a long outage does not dead-letter (keyed consumer)', () => {
  it('a message failing with an outage 40 times (maxAttempts 3) is not dead-lettered: the partition pauses with a capped backoff and applies it, then the next change of the key, once the outage ends', async () => {
    let outage = true;
    const applied: string[] = [];
    const tries: Record<string, number> = {};
    const c = scripted(async (m) => {
      tries[m.offset] = (tries[m.offset] ?? 0) + 1;
      if (outage) throw down();
      applied.push(m.offset);
    });
    const batch = () => [kafkaMessage(10, 'partner:1'), kafkaMessage(11, 'partner:1')];
    try {
      for (let step = 0; step < 40; step++) await c.onBatch(batch());
      expect(c.deadLetters, 'dead letters during the outage').to.deep.equal([]);
      expect(tries['10'], 'tries of the blocked message').to.equal(40);
      expect(tries['11'] ?? 0, "the key's next change waits behind it").to.equal(0);
      expect(
        c.commits.every((o) => BigInt(o) <= 10n),
        'nothing committed past it',
      ).to.equal(true);
      const pauses = of(c.events, 'paused').map((e) => e.delayMs);
      expect(pauses.slice(0, 5)).to.deep.equal([100, 200, 400, 800, 800]);
      expect(Math.max(...pauses), 'capped at maxMs').to.equal(800);
      outage = false;
      await c.onBatch(batch());
    } finally {
      c.clear();
    }
    expect(applied, 'applied in order once OpenCell is back').to.deep.equal(['10', '11']);
    expect(c.deadLetters).to.deep.equal([]);
    expect(c.commits[c.commits.length - 1]).to.equal('12');
  });

  it('while blocked, each backoff step reports the partition blocked (code, attempt, since, message age, next try); the block ends when the message is applied', async () => {
    let outage = true;
    const c = scripted(async () => {
      if (outage) throw down();
    });
    const written = Date.now() - 5_000;
    const m = { ...kafkaMessage(10, 'partner:1'), timestamp: String(written) } as KafkaMessage;
    try {
      for (let step = 0; step < 3; step++) await c.onBatch([m]);
      const blocked = of(c.events, 'blocked');
      expect(blocked.map((b) => [b.topic, b.partition, b.offset, b.code, b.attempt, b.outage])).to.deep.equal(
        [
          ['t', 2, '10', 'OPENCELL_UNAVAILABLE', 1, true],
          ['t', 2, '10', 'OPENCELL_UNAVAILABLE', 2, true],
          ['t', 2, '10', 'OPENCELL_UNAVAILABLE', 3, true],
        ],
      );
      expect(new Set(blocked.map((b) => b.since)).size, 'blocked since the first failure').to.equal(1);
      expect(blocked[0].messageTimestamp).to.equal(written);
      expect(blocked.map((b) => b.retryInMs)).to.deep.equal([100, 200, 400]);
      expect(c.kc.blockedPartitions().map((b) => b.partition)).to.deep.equal([2]);
      expect(of(c.events, 'unblocked')).to.deep.equal([]);
      outage = false;
      await c.onBatch([m]);
    } finally {
      c.clear();
    }
    expect(c.kc.blockedPartitions()).to.deep.equal([]);
    const [unblocked] = of(c.events, 'unblocked');
    expect(unblocked).to.deep.include({ topic: 't', partition: 2, attempts: 3, why: 'finished' });
  });

  it('a blocked partition probes: after a pause only its first unfinished message runs, one call per backoff step, until it succeeds; then the other keys run together again', async () => {
    let outage = true;
    const started: string[][] = [];
    let step: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const c = scripted(async (m) => {
      step.push(m.offset);
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (outage) throw down();
    });
    const batch = () => [10, 11, 12, 13].map((o) => kafkaMessage(o, `partner:${o}`));
    try {
      for (let i = 0; i < 4; i++) {
        step = [];
        await c.onBatch(batch());
        started.push(step);
      }
      expect(started[0].sort(), 'the first failure: every key was already running').to.deep.equal([
        '10',
        '11',
        '12',
        '13',
      ]);
      expect(started.slice(1), 'then one probe per step').to.deep.equal([['10'], ['10'], ['10']]);
      outage = false;
      maxRunning = 0;
      step = [];
      await c.onBatch(batch());
    } finally {
      c.clear();
    }
    expect(step).to.have.members(['10', '11', '12', '13']);
    expect(step[0], 'the probe first').to.equal('10');
    expect(maxRunning, 'the others run together after the probe succeeded').to.equal(3);
  });

  it('RETRY_GIVE_UP_AFTER_MS: an outage failing longer than it is dead-lettered as "retries exhausted after N attempts in S s", marked retriable', async () => {
    const c = scripted(
      async () => {
        throw down();
      },
      { ...POLICY, giveUpAfterMs: 40 },
    );
    const m = kafkaMessage(10, 'partner:1');
    try {
      await c.onBatch([m]);
      await c.onBatch([m]);
      expect(c.deadLetters).to.deep.equal([]);
      await new Promise((r) => setTimeout(r, 50));
      await c.onBatch([m]);
    } finally {
      c.clear();
    }
    expect(c.deadLetters.map((d) => [d.message.offset, d.attempts, d.retriable])).to.deep.equal([
      ['10', 3, true],
    ]);
    expect(c.deadLetters[0].reasonPrefix).to.match(
      /^retries exhausted after 3 attempts in 0 s \(RETRY_GIVE_UP_AFTER_MS\): $/,
    );
    expect(c.kc.blockedPartitions(), 'the dead letter ends the block').to.deep.equal([]);
  });

  it('a pending precondition is still dead-lettered at maxAttempts — its outage failures before do not count', async () => {
    let n = 0;
    const c = scripted(async () => {
      n++;
      if (n <= 20) throw down();
      throw new PreconditionPendingError('cannot terminate: subscription SC1 does not exist in OpenCell yet');
    });
    const m = kafkaMessage(10, 'partner:1');
    try {
      for (let i = 0; i < 22; i++) await c.onBatch([m]);
      expect(c.deadLetters, '20 outage failures and 2 waits').to.deep.equal([]);
      await c.onBatch([m]);
    } finally {
      c.clear();
    }
    expect(c.deadLetters.map((d) => [d.attempts, d.reasonPrefix])).to.deep.equal([
      [23, 'retries exhausted after 23 attempts: '],
    ]);
  });

  it('logs one warn line per backoff step of a blocked partition (code, attempt, next try; secrets redacted), tries retried in place at info, and one line when it is no longer blocked', async () => {
    const secret = 'outage-test-password-7f3a';
    registerSecret(secret);
    let outage = true;
    const events: KeyedConsumerEvent[] = [];
    const kc = new KeyedConsumer({
      kafka: {} as Kafka,
      groupId: 'g',
      topics: ['t'],
      handler: async () => {
        if (outage)
          throw new OpenCellUnavailableError('NETWORK', `connect ECONNREFUSED (user x:${secret})`, '/x');
      },
      deadLetters: { publish: async () => undefined },
      stage: 'unit',
      retry: POLICY,
      concurrency: 4,
      // tries whose delay is at most 200 ms are retried in place
      inlineRetryMaxMs: 200,
      onEvent: (e) => events.push(e),
    });
    (kc as unknown as { consumer: unknown }).consumer = { pause: () => 0, seek: () => 0, resume: () => 0 };
    const onBatch = (messages: KafkaMessage[]) =>
      (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(
        batchPayload(messages, [], 5),
      );
    const log = captureLogLines();
    log.attach();
    try {
      for (let i = 0; i < 3; i++) await onBatch([kafkaMessage(10, 'partner:1')]);
      outage = false;
      await onBatch([kafkaMessage(10, 'partner:1')]);
    } finally {
      log.detach();
      (kc as unknown as { resumeTimers: Set<NodeJS.Timeout> }).resumeTimers.forEach((t) => clearTimeout(t));
    }
    const mine = log.lines.filter((l) => l.topic === 't' && l.partition === 5);
    const at = (level: string) => mine.filter((l) => l.level === level).map((l) => String(l.message));
    // tries 1 and 2 (100, 200 ms) in place; tries 3, 4, 5 (400, 800, 800 ms) pause: one warn line each
    expect(at('info').filter((m) => m.startsWith('retriable failure'))).to.have.length(2);
    const steps = at('warn').filter((m) => m.includes(' blocked for '));
    expect(steps).to.have.length(3);
    expect(steps[0]).to.match(
      /^t\[5\] blocked for \d+ s at offset 10: NETWORK \(attempt 3, retried until it ends\), next try in 400 ms: /,
    );
    expect(steps.map((m) => /next try in (\d+) ms/.exec(m)?.[1])).to.deep.equal(['400', '800', '800']);
    expect(JSON.stringify(mine), 'no secret in the log').not.to.include(secret);
    expect(at('warn').filter((m) => m.includes('no longer blocked (finished)'))).to.have.length(1);
    expect(events.filter((e) => e.type === 'blocked')).to.have.length(3);
  });

  it('a blocked partition that leaves this member (rebalance) is no longer reported blocked here', async () => {
    const c = scripted(async () => {
      throw down();
    });
    try {
      await c.onBatch([kafkaMessage(10, 'partner:1')]);
      expect(c.kc.blockedPartitions()).to.have.length(1);
      (c.kc as unknown as { onAssigned(a: Record<string, number[]>): void }).onAssigned({ t: [0, 1] });
    } finally {
      c.clear();
    }
    expect(c.kc.blockedPartitions()).to.deep.equal([]);
    expect(of(c.events, 'unblocked').map((e) => e.why)).to.deep.equal(['revoked']);
  });
});

describe('blocked partitions are visible: gauges and readiness', () => {
  it('sync_blocked_partitions and sync_blocked_oldest_message_age_seconds per stage; /readyz degraded with the error code, no error message', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const now = Date.now();
    const blocked = (partition: number, since: number, messageTimestamp: number): KeyedConsumerEvent => ({
      type: 'blocked',
      topic: 'sync.intents',
      partition,
      offset: '42',
      code: 'OPENCELL_UNAVAILABLE',
      outage: true,
      attempt: 14,
      since,
      messageTimestamp,
      retryInMs: 30_000,
    });
    metrics.onConsumerEvent('router', { type: 'skipped', topic: 'x', partition: 0, messages: 1 });
    metrics.onConsumerEvent('projector', blocked(3, now - 75_000, now - 90_000));
    metrics.onConsumerEvent('projector', blocked(4, now - 10_000, now - 12_000));
    const text = await metrics.registry.metrics();
    expect(text).to.match(/sync_blocked_partitions\{stage="projector"\} 2/);
    expect(text).to.match(/sync_blocked_partitions\{stage="router"\} 0/);
    const age = Number(
      /sync_blocked_oldest_message_age_seconds\{stage="projector"\} ([\d.]+)/.exec(text)?.[1],
    );
    expect(age).to.be.within(90, 95);
    const check = await metrics.blockedCheck()();
    expect(check).to.be.an('object');
    const detail = (check as { degraded: string }).degraded;
    expect(detail).to.match(
      /^2 partitions blocked: projector sync\.intents\[3\] blocked for 75 s on OPENCELL_UNAVAILABLE/,
    );
    expect(detail).to.include('attempt 14, next try in 30 s');
    expect(detail).not.to.include('503');
    metrics.onConsumerEvent('projector', {
      type: 'unblocked',
      topic: 'sync.intents',
      partition: 3,
      blockedMs: 75_000,
      attempts: 15,
      why: 'finished',
    });
    metrics.onConsumerEvent('projector', {
      type: 'unblocked',
      topic: 'sync.intents',
      partition: 4,
      blockedMs: 10_000,
      attempts: 3,
      why: 'finished',
    });
    const after = await metrics.registry.metrics();
    expect(after).to.match(/sync_blocked_partitions\{stage="projector"\} 0/);
    expect(after).to.match(/sync_blocked_oldest_message_age_seconds\{stage="projector"\} 0/);
    expect(await metrics.blockedCheck()()).to.equal('none');
  });

  it('the ops server answers /readyz 200 "degraded" while a check is degraded, 503 "not ready" when one fails', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    let fail = false;
    const server = await startOpsServer({
      port: 0,
      registry: metrics.registry,
      checks: {
        'blocked-partitions': metrics.blockedCheck(),
        opencell: async () => {
          if (fail) throw new Error('OpenCell answered HTTP 503');
          return 'ok';
        },
      },
    });
    const readyz = async () => {
      const r = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      return { status: r.status, body: (await r.json()) as { status: string; checks: { name: string }[] } };
    };
    try {
      expect((await readyz()).body.status).to.equal('ready');
      metrics.onConsumerEvent('projector', {
        type: 'blocked',
        topic: 'sync.intents',
        partition: 1,
        offset: '7',
        code: 'NETWORK',
        outage: true,
        attempt: 5,
        since: Date.now(),
        messageTimestamp: Date.now(),
        retryInMs: 3200,
      });
      const degraded = await readyz();
      expect(degraded.status).to.equal(200);
      expect(degraded.body.status).to.equal('degraded');
      expect(degraded.body.checks.find((c) => c.name === 'blocked-partitions')).to.deep.include({
        ok: true,
        degraded: true,
      });
      fail = true;
      const down = await readyz();
      expect([down.status, down.body.status]).to.deep.equal([503, 'not ready']);
    } finally {
      await server.close();
    }
  });
});
