/**
 * Benchmark 2 — end to end on the real stack: Odoo row commit → Debezium → Kafka → router → intents topic →
 * projector → OpenCell sandbox call. Billing changes are partner address updates (street) of partners that have a
 * contract and an OpenCell customer (created first by the pipeline itself, not measured). Each update carries a
 * unique street text; latency = arrival time of the first sandbox call whose body carries it − the time the UPDATE's
 * commit was acknowledged. A paced loop (token bucket, 5 ms ticks) keeps the target rate, after a warm-up, for several
 * consecutive windows, each reported on its own with its stages (capture, routing), the projector's batches and the
 * machine's CPU, so that a stall shows when and where it happened.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Pool } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../testkit/demo-seed';
import { decodeIntentMessage } from '../src/domain/intents/message';
import type { JournalEntry } from '../testkit/sandbox/opencell';
import type { KeyedConsumerEvent } from '../src/adapters/kafka/keyed-consumer';
import {
  benchKafka,
  debeziumBarrier,
  ODOO_DATABASE_URL,
  pool,
  RssSampler,
  sleep,
  startBenchPipeline,
  suffix,
  summary,
  waitFor,
} from './common';

export interface E2eOptions {
  rate: number;
  seconds: number;
  partners: number;
  warmupSeconds: number;
  /** consecutive measured windows of `seconds` each, at the same rate with no pause between them */
  windows: number;
}

export interface E2eWindow {
  committed: number;
  lost: number;
  latencyMs: ReturnType<typeof summary>;
}

export interface E2eResult {
  targetRate: number;
  achievedRate: number;
  seconds: number;
  partners: number;
  committed: number;
  seen: number;
  superseded: number;
  lost: number;
  /** all measured windows together */
  latencyMs: ReturnType<typeof summary>;
  /** each window on its own: the target holds only if every window's p99 is under it */
  windows: E2eWindow[];
  worstWindowP99: number;
  /** p99 latency of the changes committed in each 5 s of the measured windows (where a stall starts and ends) */
  p99By5s: number[];
  /** the projector's fetched batches during the measured windows: count, how many took over 0.5 s, the slowest */
  projectorBatches: {
    count: number;
    over500ms: number;
    slowest: { ms: number; messages: number; partition: number; atSecond: number }[];
  };
  /** retriable failures and partition pauses of either stage during the run (each one delays its partition) */
  retries: number;
  pauses: number;
  /** the whole machine in each 5 s of the measured windows (Linux /proc/stat): busy cores and cores stolen by the host */
  machineBy5s: { busyCores: number; stealCores: number }[];
  commitMs: ReturnType<typeof summary>;
  debeziumLagMs: ReturnType<typeof summary> | null;
  /** commit → the router's first intent for the change is in the intents topic (its CreateTime) */
  routedLagMs: ReturnType<typeof summary> | null;
  prepSeconds: number;
  /** CPU used by this process (pipeline + sandbox + load generator) during the measured window, in cores */
  benchCpuCores: number;
  loadAvg1m: number;
  peakRssMiB: number;
}

export async function runE2eBench(o: E2eOptions, log: (s: string) => void = console.log): Promise<E2eResult> {
  const rss = new RssSampler();
  const runId = suffix();
  const tagRe = new RegExp(`Bench ${runId} (\\d+)`);
  const commitAt = new Map<number, number>();
  const seenAt = new Map<number, number>();
  const partnerOfSeq = (seq: number) => seq % o.partners;
  const lastSeenSeq = new Map<number, number>(); // partner index → highest seq seen
  let superseded = 0;
  let measuring = false;

  const onRequest = (e: JournalEntry) => {
    if (!measuring || e.method === 'GET' || e.status >= 300) return;
    const m = tagRe.exec(JSON.stringify(e.body ?? ''));
    if (!m) return;
    const seq = Number(m[1]);
    if (seenAt.has(seq)) return;
    seenAt.set(seq, e.time);
    // The projector reads the partner's current state: a later update may carry an earlier one's change too.
    const p = partnerOfSeq(seq);
    const prev = lastSeenSeq.get(p) ?? p - o.partners;
    for (let s = prev + o.partners; s < seq; s += o.partners) {
      if (!seenAt.has(s)) {
        seenAt.set(s, e.time);
        superseded++;
      }
    }
    if (seq > prev) lastSeenSeq.set(p, seq);
  };

  const batches: { ms: number; messages: number; partition: number; startedAt: number }[] = [];
  let retries = 0;
  let pauses = 0;
  const onConsumerEvent = (stage: string, e: KeyedConsumerEvent) => {
    if (!measuring) return;
    if (e.type === 'retry') retries++;
    else if (e.type === 'paused') pauses++;
    else if (e.type === 'batch' && stage === 'projector')
      batches.push({ ms: e.ms, messages: e.messages, partition: e.partition, startedAt: e.startedAt });
  };

  const t0prep = Date.now();
  const bp = await startBenchPipeline({ name: 'e2e', onRequest, onConsumerEvent });
  log(`e2e: intents topic ${bp.config.topics.intents}`);
  const db = new Pool({ connectionString: ODOO_DATABASE_URL, max: 16, application_name: 'bench-e2e' });
  const tap = benchKafka().consumer({ groupId: `bench-e2e-tap-${runId}`, maxWaitTimeInMs: 50 });
  try {
    // 1. Partners with a contract; the pipeline creates their customers and subscriptions.
    log(`e2e: preparing ${o.partners} partners with contracts (the pipeline creates them in OpenCell)…`);
    const prepared = await pool(
      Array.from({ length: o.partners }, (_, i) => i),
      4,
      async (i) => {
        const c = await db.connect();
        try {
          const partner = await insertPartner(c, { email: `bench-e2e-${runId}-${i}@example.org` });
          const mandate = await insertBankAccountAndMandate(c, partner.id);
          const contract = await insertContract(c, {
            partnerId: partner.id,
            mandateId: mandate.mandateId,
            kind: i % 2 ? 'fiber' : 'mobile',
          });
          return { id: partner.id, ref: partner.ref!, contract: contract.code };
        } finally {
          c.release();
        }
      },
    );
    await waitFor(
      () => (prepared.every((p) => bp.sandbox.state.subscriptions.has(p.contract)) ? true : undefined),
      Math.max(120_000, o.partners * 600),
      'the prepared subscriptions in the sandbox',
      500,
    ).catch((e) => {
      const missing = prepared.filter((p) => !bp.sandbox.state.subscriptions.has(p.contract));
      throw new Error(
        `${(e as Error).message}; ${missing.length} of ${prepared.length} missing (e.g. ${missing
          .slice(0, 3)
          .map((m) => m.contract)
          .join(', ')}); journal ${bp.sandbox.journal.size} calls`,
      );
    });
    await sleep(2000); // let trailing activations and their commits settle
    const prepSeconds = (Date.now() - t0prep) / 1000;
    log(`e2e: prepared in ${prepSeconds.toFixed(1)} s`);

    // 2. Debezium lag tap: commit → record consumable from Kafka (res_partner topic).
    // Routed tap: the router's intent for that record reached the intents topic (its source names the record).
    const kafkaAt = new Map<number, number>();
    const routedAt = new Map<number, number>();
    const seqOfRecord = new Map<string, number>();
    const pendingRouted = new Map<string, number>(); // intents seen before their Debezium record
    const partnerTopic = `${bp.config.topics.prefix}.public.res_partner`;
    await tap.connect();
    await tap.subscribe({ topic: partnerTopic, fromBeginning: false });
    await tap.subscribe({ topic: bp.config.topics.intents, fromBeginning: false });
    const joined = new Promise<void>((r) => tap.on(tap.events.GROUP_JOIN, () => r()));
    await tap.run({
      partitionsConsumedConcurrently: 4,
      eachMessage: async ({ topic, partition, message }) => {
        // the record's timestamp: when Kafka Connect (or the router) produced it (CreateTime)
        const at = Number(message.timestamp);
        if (!message.value) return;
        if (topic === bp.config.topics.intents) {
          const src = decodeIntentMessage(topic, partition, message.offset, message.value).source;
          if (src.topic !== partnerTopic) return;
          const rec = `${src.partition}/${src.offset}`;
          const s = seqOfRecord.get(rec);
          if (s === undefined) {
            if (!pendingRouted.has(rec)) pendingRouted.set(rec, at);
          } else if (!routedAt.has(s)) routedAt.set(s, at);
          return;
        }
        if (!message.value.includes(runId)) return;
        // the tag of the row's new state (the value also holds the old state, i.e. the previous tag)
        const v = JSON.parse(message.value.toString('utf8')) as {
          after?: { street?: string } | null;
          payload?: { after?: { street?: string } | null };
        };
        const m = tagRe.exec((v.after ?? v.payload?.after)?.street ?? '');
        if (!m) return;
        const s = Number(m[1]);
        if (!kafkaAt.has(s)) kafkaAt.set(s, at);
        const rec = `${partition}/${message.offset}`;
        seqOfRecord.set(rec, s);
        const early = pendingRouted.get(rec);
        if (early !== undefined && !routedAt.has(s)) routedAt.set(s, early);
      },
    });
    await joined;
    await debeziumBarrier(db);

    // 3. The paced loop.
    const commitMs: number[] = [];
    const issuedAt = new Map<number, number>();
    let seq = 0;
    let failed = 0;
    const inflight = new Set<Promise<void>>();
    const issue = (counted: boolean) => {
      const s = seq++;
      const p = prepared[partnerOfSeq(s)];
      const t = Date.now();
      if (counted) issuedAt.set(s, t);
      const q = db
        .query(`UPDATE res_partner SET street = $2, write_date = now() WHERE id = $1`, [
          p.id,
          `Bench ${runId} ${s}`,
        ])
        .then(() => {
          const done = Date.now();
          commitAt.set(s, done);
          if (counted) commitMs.push(done - t);
        })
        .catch(() => void failed++)
        .finally(() => inflight.delete(q));
      inflight.add(q);
    };
    const paced = async (seconds: number, counted: boolean) => {
      const start = Date.now();
      let issued = 0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const elapsed = Date.now() - start;
          if (elapsed >= seconds * 1000) {
            clearInterval(timer);
            resolve();
            return;
          }
          const due = Math.floor((elapsed / 1000) * o.rate) - issued;
          for (let i = 0; i < due; i++) issue(counted);
          issued += Math.max(0, due);
        }, 5);
      });
      await Promise.all(inflight);
      return { issued, wall: (Date.now() - start) / 1000 };
    };
    measuring = true;
    if (o.warmupSeconds > 0) {
      log(`e2e: warm-up ${o.warmupSeconds} s at ${o.rate}/s`);
      await paced(o.warmupSeconds, false);
    }
    const firstMeasured = seq;
    const cpu0 = process.cpuUsage();
    const wall0 = Date.now();
    const machineBy5s: E2eResult['machineBy5s'] = [];
    let stat0 = procStat();
    const statTimer = setInterval(() => {
      const now = procStat();
      if (now && stat0) machineBy5s.push(cpuBetween(stat0, now));
      stat0 = now;
    }, 5000);
    const windows = Math.max(1, o.windows);
    log(`e2e: measuring ${windows} × ${o.seconds} s at ${o.rate}/s…`);
    const run = await paced(o.seconds * windows, true);
    clearInterval(statTimer);
    const lastMeasured = seq;
    const cpu = process.cpuUsage(cpu0);
    const benchCpuCores = Math.round(((cpu.user + cpu.system) / 1000 / (Date.now() - wall0)) * 100) / 100;
    const loadAvg1m = Math.round(os.loadavg()[0] * 100) / 100;
    // 4. Drain: wait until every measured change is seen (or 60 s).
    const all = () => {
      for (let s = firstMeasured; s < lastMeasured; s++) if (commitAt.has(s) && !seenAt.has(s)) return false;
      return true;
    };
    await waitFor(() => (all() ? true : undefined), 60_000, 'drain').catch(() => undefined);
    measuring = false;
    const lat: number[] = [];
    const perWindow = Array.from({ length: windows }, () => ({ lat: [] as number[], committed: 0, lost: 0 }));
    const buckets: number[][] = [];
    const lag: number[] = [];
    const routed: number[] = [];
    let lost = 0;
    let committed = 0;
    let supersededMeasured = 0;
    for (let s = firstMeasured; s < lastMeasured; s++) {
      const c = commitAt.get(s);
      if (c === undefined) continue;
      committed++;
      const sinceStart = (issuedAt.get(s) ?? wall0) - wall0;
      const w = perWindow[Math.min(windows - 1, Math.floor(sinceStart / (o.seconds * 1000)))];
      w.committed++;
      const seen = seenAt.get(s);
      if (seen === undefined) {
        lost++;
        w.lost++;
      } else {
        const ms = Math.max(0, seen - c);
        lat.push(ms);
        w.lat.push(ms);
        (buckets[Math.floor(sinceStart / 5000)] ??= []).push(ms);
      }
      const k = kafkaAt.get(s);
      if (k !== undefined) lag.push(Math.max(0, k - c));
      const r = routedAt.get(s);
      if (r !== undefined) routed.push(Math.max(0, r - c));
    }
    const windowResults: E2eWindow[] = perWindow.map((w) => ({
      committed: w.committed,
      lost: w.lost,
      latencyMs: summary(w.lat),
    }));
    supersededMeasured = superseded; // (warm-up supersessions are rare; reported as a whole)
    const res: E2eResult = {
      targetRate: o.rate,
      achievedRate: Math.round((committed / run.wall) * 10) / 10,
      seconds: o.seconds,
      partners: o.partners,
      committed,
      seen: lat.length,
      superseded: supersededMeasured,
      lost,
      latencyMs: summary(lat),
      windows: windowResults,
      worstWindowP99: Math.max(...windowResults.map((w) => w.latencyMs.p99)),
      p99By5s: Array.from(buckets, (b) => (b ? summary(b).p99 : NaN)),
      projectorBatches: {
        count: batches.filter((b) => b.startedAt >= wall0).length,
        over500ms: batches.filter((b) => b.startedAt >= wall0 && b.ms > 500).length,
        slowest: batches
          .filter((b) => b.startedAt >= wall0)
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 5)
          .map((b) => ({
            ms: b.ms,
            messages: b.messages,
            partition: b.partition,
            atSecond: Math.round((b.startedAt - wall0) / 100) / 10,
          })),
      },
      retries,
      pauses,
      machineBy5s,
      commitMs: summary(commitMs),
      debeziumLagMs: lag.length ? summary(lag) : null,
      routedLagMs: routed.length ? summary(routed) : null,
      prepSeconds: Math.round(prepSeconds),
      benchCpuCores,
      loadAvg1m,
      peakRssMiB: rss.peakMiB(),
    };
    if (failed) log(`e2e: ${failed} UPDATE(s) failed`);
    return res;
  } finally {
    rss.stop();
    await tap.disconnect().catch(() => undefined);
    await bp.stop();
    await db.end();
  }
}

/** Jiffies of the machine's aggregate CPU line: [busy, steal, total]; null where /proc/stat does not exist. */
export function procStat(): [number, number, number] | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return [user + nice + system + irq + softirq, steal, total];
  } catch {
    return null;
  }
}

export function cpuBetween(a: [number, number, number], b: [number, number, number]) {
  const total = b[2] - a[2];
  const cores = os.cpus().length;
  const share = (x: number) => (total > 0 ? Math.round((x / total) * cores * 100) / 100 : 0);
  return { busyCores: share(b[0] - a[0]), stealCores: share(b[1] - a[1]) };
}
