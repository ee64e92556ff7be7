/**
 * A pipeline process of the benchmarks' own, started by bench/child-process.ts: either the production `run` of some
 * roles (src/app/run.ts, without its HTTP server) or a bare kafkajs consumer that only counts what it fetches (the
 * baseline a stage's replay rate is compared with). It reports to its parent over IPC: its counters (processed
 * messages per stage with the times of the first and the last) every 250 ms, and once more when it stops.
 *
 * Options (JSON in BENCH_CHILD): `{ mode: 'run', roles: ['router'], groups: {router: 'g'} }` or
 * `{ mode: 'bare', groupId: 'g', topics: [...] }`; the pipeline's settings come from the environment.
 */
import './env';
import { loadConfig } from '../src/core/config';
import { createKafka } from '../src/adapters/kafka/kafka';
import { CONSUMER_FETCH } from '../src/adapters/kafka/keyed-consumer';
import { runRoles } from '../src/app/run';
import { Metrics } from '../src/app/metrics';
import type { StageHooks } from '../src/flows/projection/stages';

export type ChildOptions =
  | { mode: 'run'; roles: string[]; groups: Record<string, string> }
  | { mode: 'bare'; groupId: string; topics: string[] };

export type Counters = Record<string, { processed: number; first: number; last: number }>;

/** Peaks of process.memoryUsage() (MiB): what the RSS is made of (V8 heap, Buffers outside it). */
export type HeapPeaks = { heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'counters'; counters: Counters; heap: HeapPeaks; final?: boolean }
  | { type: 'error'; message: string };

const counters: Counters = {};
function count(stage: string, n = 1): void {
  const now = Date.now();
  const c = (counters[stage] ??= { processed: 0, first: now, last: now });
  c.processed += n;
  c.last = now;
}

/** The production metrics, plus this process's counters of finished messages per stage. */
class CountingMetrics extends Metrics {
  override stageHooks(): StageHooks {
    const base = super.stageHooks();
    return {
      ...base,
      onConsumerEvent: (stage, e) => {
        base.onConsumerEvent?.(stage, e);
        if (e.type === 'processed' || e.type === 'dead-letter') count(stage);
        else if (e.type === 'skipped' || e.type === 'batch-handled') count(stage, e.messages);
      },
    };
  }
}

// A parent that failed (a benchmark timing out) exits without a stop message: nothing more is sent to it.
const send = (m: ChildMessage) => (process.connected ? process.send?.(m) : false);

const heap: HeapPeaks = { heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
function sampleHeap(): void {
  const m = process.memoryUsage();
  for (const k of Object.keys(heap) as (keyof HeapPeaks)[])
    heap[k] = Math.max(heap[k], Math.round(m[k] / 2 ** 20));
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.env.BENCH_CHILD ?? '{}') as ChildOptions;
  const config = loadConfig(process.env);
  let stop: () => Promise<void>;
  if (opts.mode === 'bare') {
    const kafka = createKafka(config.kafka, 'bench-bare');
    // the stages' fetch settings, so that the baseline reads the way they read
    const consumer = kafka.consumer({ groupId: opts.groupId, ...CONSUMER_FETCH });
    await consumer.connect();
    for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      // nothing is committed: a throwaway group, and the fetches alone are the baseline
      autoCommit: false,
      partitionsConsumedConcurrently: 8,
      eachBatch: async ({ batch }) => count('bare', batch.messages.length),
    });
    stop = () => consumer.disconnect();
  } else {
    const running = await runRoles(config, opts.roles, {
      groups: opts.groups,
      httpPort: null,
      metrics: new CountingMetrics({ labels: { roles: opts.roles.join(',') } }),
    });
    stop = () => running.stop();
  }
  const timer = setInterval(() => {
    sampleHeap();
    send({ type: 'counters', counters, heap });
  }, 250);
  send({ type: 'ready' });
  // its parent gone, the process stops its stages (their groups see it leave) and exits
  let stopping = false;
  process.once('disconnect', () => {
    if (stopping) return;
    clearInterval(timer);
    void stop().finally(() => process.exit(1));
  });
  process.on('message', (m: { type?: string }) => {
    if (m?.type !== 'stop') return;
    stopping = true;
    clearInterval(timer);
    stop().then(
      () => {
        send({ type: 'counters', counters, heap, final: true });
        process.disconnect?.();
        process.exit(0);
      },
      (e: unknown) => {
        send({ type: 'error', message: (e as Error).message });
        process.exit(1);
      },
    );
  });
}

main().catch((e: unknown) => {
  send({ type: 'error', message: (e as Error).stack ?? String(e) });
  process.exit(1);
});
