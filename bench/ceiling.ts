/**
 * Capacity ceiling (issue 17 §1): the highest commit rate the whole local stack sustains with p99 (Odoo commit →
 * OpenCell call done) under 1 s and nothing lost, in every one of several consecutive windows.
 *
 * The pipeline (router + projector) runs as its own process (`odoo-opencell-sync run --only router,projector`), so
 * its CPU and memory are measured alone; this process is the load generator and the OpenCell sandbox. Partners with
 * a contract row are inserted first and their customers created in the sandbox directly (not measured). The load:
 * street updates of those partners (autocommit UPDATEs, round-robin, each street unique) paced by a token bucket,
 * stepped up rate by rate (warm-up, then `windows` × `seconds` per rate); the stepping stops at the first rate that
 * misses (a window's p99 ≥ 1 s, a change lost, or the load generator not reaching 95 % of the rate).
 *
 * Latency = end of the first state-changing sandbox call whose body carries the change's street − the time the
 * UPDATE's commit was acknowledged (a change superseded by a later update of the same partner before it was
 * projected is counted at the later change's call: the projector reads the current row). CPU per component per
 * window from /proc/<pid>/stat (bench/processes.ts), per 1,000 changes.
 */
import os from 'node:os';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import type { Consumer } from 'kafkajs';
import { loadConfig } from '../src/core/config';
import { decodeIntentMessage } from '../src/domain/intents/message';
import { OpenCellClient } from '../src/adapters/opencell/client';
import { ensurePipelineTopics } from '../src/flows/projection/stages';
import { startOpenCellSandbox, type JournalEntry } from '../testkit/sandbox/opencell';
import {
  benchKafka,
  debeziumBarrier,
  freshStateDb,
  ODOO_DATABASE_URL,
  prepareContractPartners,
  ROOT,
  setRouterOffsets,
  sleep,
  suffix,
  summary,
  waitFor,
} from './common';
import {
  ComponentCpu,
  loggedRetries,
  memoryMiB,
  profileTop,
  pipelineProcessEnv,
  spawnPipeline,
  type PipelineProcess,
} from './processes';
import { cpuBetween, procStat } from './e2e';

export interface CeilingOptions {
  /** rates to step through, changes/s, in order */
  rates: number[];
  /** length of each measured window */
  seconds: number;
  windows: number;
  warmupSeconds: number;
  partners: number;
  /** UPDATE connections of the load generator */
  connections: number;
  /** node --cpu-prof on the pipeline process (written when it stops) */
  profile: boolean;
  /** first step the same rates with capture only (no pipeline): the machine's limit for the rest of the stack */
  captureBaseline: boolean;
}

export interface CeilingWindow {
  committed: number;
  lost: number;
  /** of the lost changes: how many reached Kafka (Debezium) and the intents topic (router), the first sequence numbers */
  lostReached?: { captured: number; routed: number; seqs: number[] };
  achievedRate: number;
  latencyMs: ReturnType<typeof summary>;
  /** commit → record in Kafka (Debezium) */
  debeziumLagMs: ReturnType<typeof summary>;
  /** commit → the router's intent in the intents topic */
  routedLagMs: ReturnType<typeof summary>;
  /** CPU seconds per component during the window, and per 1,000 committed changes */
  cpuSeconds: Record<string, number>;
  cpuSecondsPer1000: Record<string, number>;
  /** the pipeline process's peak VmRSS during the window */
  pipelineRssMiB: number;
  machineBusyCores: number;
  loadAvg1m: number;
}

export interface CeilingStep {
  rate: number;
  windows: CeilingWindow[];
  worstWindowP99: number;
  lost: number;
  pass: boolean;
  why?: string;
}

const pgDbName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

export async function runCeilingBench(o: CeilingOptions, log: (s: string) => void = console.log) {
  const runId = suffix();
  const tagRe = new RegExp(`Ceil ${runId} (\\d+)`);
  const commitAt = new Map<number, number>();
  const seenAt = new Map<number, number>();
  const lastSeenSeq = new Map<number, number>();
  const partnerOfSeq = (seq: number) => seq % o.partners;
  let measuring = false;
  const onRequest = (e: JournalEntry) => {
    if (!measuring || e.method === 'GET' || e.status >= 300) return;
    const m = tagRe.exec(JSON.stringify(e.body ?? ''));
    if (!m) return;
    const seq = Number(m[1]);
    if (seenAt.has(seq)) return;
    const done = Math.round(e.time + e.durationMs);
    seenAt.set(seq, done);
    const p = partnerOfSeq(seq);
    const prev = lastSeenSeq.get(p) ?? p - o.partners;
    for (let s = prev + o.partners; s < seq; s += o.partners) if (!seenAt.has(s)) seenAt.set(s, done);
    if (seq > prev) lastSeenSeq.set(p, seq);
  };

  const sandbox = await startOpenCellSandbox({ port: 0, onRequest, journalLimit: 10_000 });
  const stateUrl = await freshStateDb('ceiling');
  const env = pipelineProcessEnv(sandbox, 'ceiling', runId, stateUrl);
  const config = loadConfig(env);
  const groups = { router: `bench-router-ceiling-${runId}`, projector: `bench-projector-ceiling-${runId}` };
  const db = new Pool({
    connectionString: ODOO_DATABASE_URL,
    max: Math.max(4, o.connections),
    application_name: 'bench-ceiling',
  });
  const profDir = join(ROOT, '.run', 'bench', `ceiling-${runId}`);
  let proc: PipelineProcess | undefined;
  let tap: Consumer | undefined;
  const cpu = new ComponentCpu({
    pgDatabases: [pgDbName(ODOO_DATABASE_URL), pgDbName(stateUrl)],
    pgAdminUrl: process.env.PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    own: () => ({
      pipeline: proc ? [proc.pid] : [],
      'load generator + sandbox (bench process)': [process.pid],
    }),
  });
  try {
    await ensurePipelineTopics(benchKafka(), config);
    log(`ceiling: preparing ${o.partners} partners with contracts, customers in the sandbox…`);
    const t0 = Date.now();
    const client = new OpenCellClient({ ...config.opencell });
    const prepared = await prepareContractPartners(db, client, o.partners, runId, 'ceil');
    client.close();
    await debeziumBarrier(db);
    await setRouterOffsets(groups.router, config, 'latest');
    // Stage tap: commit → record in Kafka (Debezium, the record's CreateTime) and commit → intent in the intents
    // topic (router done), so that a missed window says which stage fell behind. The partner record's value holds the
    // old and the new street: the new one carries the larger sequence number of the two.
    const kafkaAt = new Map<number, number>();
    const routedAt = new Map<number, number>();
    const seqOfRecord = new Map<string, number>();
    const pendingRouted = new Map<string, number>();
    const partnerTopic = `${config.topics.prefix}.public.res_partner`;
    const seqRe = new RegExp(`Ceil ${runId} (\\d+)`, 'g');
    tap = benchKafka().consumer({ groupId: `bench-ceiling-tap-${runId}`, maxWaitTimeInMs: 50 });
    await tap.connect();
    await tap.subscribe({ topics: [partnerTopic, config.topics.intents], fromBeginning: false });
    const joined = new Promise<void>((r) => tap!.on(tap!.events.GROUP_JOIN, () => r()));
    await tap.run({
      partitionsConsumedConcurrently: 4,
      eachMessage: async ({ topic, partition, message }) => {
        if (!message.value) return;
        const at = Number(message.timestamp);
        if (topic === config.topics.intents) {
          const src = decodeIntentMessage(topic, partition, message.offset, message.value).source;
          if (src.topic !== partnerTopic) return;
          const rec = `${src.partition}/${src.offset}`;
          const sq = seqOfRecord.get(rec);
          if (sq === undefined) pendingRouted.set(rec, at);
          else if (!routedAt.has(sq)) routedAt.set(sq, at);
          return;
        }
        const text = message.value.toString('latin1');
        let sq = -1;
        for (const m of text.matchAll(seqRe)) sq = Math.max(sq, Number(m[1]));
        if (sq < 0) return;
        if (!kafkaAt.has(sq)) kafkaAt.set(sq, at);
        const rec = `${partition}/${message.offset}`;
        seqOfRecord.set(rec, sq);
        const early = pendingRouted.get(rec);
        if (early !== undefined) {
          pendingRouted.delete(rec);
          if (!routedAt.has(sq)) routedAt.set(sq, early);
        }
      },
    });
    await joined;
    log(`ceiling: prepared in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    let seq = 0;
    let failed = 0;
    const inflight = new Set<Promise<void>>();
    const issue = () => {
      const s = seq++;
      const p = prepared[partnerOfSeq(s)];
      const q = db
        .query(`UPDATE res_partner SET street = $2, write_date = now() WHERE id = $1`, [
          p.id,
          `Ceil ${runId} ${s}`,
        ])
        .then(() => void commitAt.set(s, Date.now()))
        .catch(() => void failed++)
        .finally(() => inflight.delete(q));
      inflight.add(q);
    };
    /** issues at `rate` for `seconds`; returns the seq range issued */
    const paced = async (rate: number, seconds: number) => {
      const start = Date.now();
      const from = seq;
      let issued = 0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const elapsed = Date.now() - start;
          if (elapsed >= seconds * 1000) {
            clearInterval(timer);
            resolve();
            return;
          }
          const due = Math.floor((elapsed / 1000) * rate) - issued;
          for (let i = 0; i < due; i++) issue();
          issued += Math.max(0, due);
        }, 5);
      });
      return { from, to: seq, wall: (Date.now() - start) / 1000 };
    };

    const steps: CeilingStep[] = [];
    let rssPeak = 0;
    /**
     * One rate: warm-up, then the windows; every committed change must arrive — at the OpenCell sandbox, or with
     * `capture` (no pipeline running: the machine's own limit for Debezium and Kafka, the baseline) as a record in
     * Kafka — with p99 under 1 s in every window.
     */
    const measureStep = async (rate: number, capture: boolean): Promise<CeilingStep> => {
      const arrivedAt = capture ? kafkaAt : seenAt;
      log(
        `ceiling${capture ? ' (capture only)' : ''}: ${rate}/s — warm-up ${o.warmupSeconds} s, then ${o.windows} × ${o.seconds} s`,
      );
      if (o.warmupSeconds > 0) await paced(rate, o.warmupSeconds);
      const ranges: { from: number; to: number; wall: number; cpu: Record<string, number>; rss: number }[] =
        [];
      const machine: number[] = [];
      const loads: number[] = [];
      for (let w = 0; w < o.windows; w++) {
        const c0 = await cpu.sample();
        const s0 = procStat();
        let rss = 0;
        const rssTimer = setInterval(() => {
          const m = proc && memoryMiB(proc.pid);
          if (m) rss = Math.max(rss, m.rss);
        }, 1000);
        const r = await paced(rate, o.seconds);
        clearInterval(rssTimer);
        const c1 = await cpu.sample();
        const s1 = procStat();
        machine.push(s0 && s1 ? cpuBetween(s0, s1).busyCores : NaN);
        loads.push(Math.round(os.loadavg()[0] * 100) / 100);
        rssPeak = Math.max(rssPeak, rss);
        ranges.push({ ...r, cpu: ComponentCpu.between(c0, c1), rss });
      }
      await Promise.all(inflight);
      // drain: every committed change of the step seen, or 30 s
      const from = ranges[0].from;
      const to = ranges[ranges.length - 1].to;
      const drained = () => {
        for (let s = from; s < to; s++) if (commitAt.has(s) && !arrivedAt.has(s)) return undefined;
        return true;
      };
      await waitFor(drained, 30_000, 'drain', 200).catch(() => undefined);
      const windows: CeilingWindow[] = ranges.map((r, i) => {
        const lat: number[] = [];
        const captured: number[] = [];
        const routed: number[] = [];
        let committed = 0;
        let lost = 0;
        const lostReached = { captured: 0, routed: 0, seqs: [] as number[] };
        for (let s = r.from; s < r.to; s++) {
          const c = commitAt.get(s);
          if (c === undefined) continue;
          committed++;
          const k = kafkaAt.get(s);
          if (k !== undefined) captured.push(Math.max(0, k - c));
          const rt = routedAt.get(s);
          if (rt !== undefined) routed.push(Math.max(0, rt - c));
          const seen = arrivedAt.get(s);
          if (seen === undefined) {
            lost++;
            // how far a lost change got: captured by Debezium, routed to the intents topic
            if (k !== undefined) lostReached.captured++;
            if (rt !== undefined) lostReached.routed++;
            if (lostReached.seqs.length < 10) lostReached.seqs.push(s);
          } else lat.push(Math.max(0, seen - c));
        }
        const per1000 = Object.fromEntries(
          Object.entries(r.cpu).map(([k, v]) => [
            k,
            committed ? Math.round((v / committed) * 1000 * 100) / 100 : NaN,
          ]),
        );
        return {
          committed,
          lost,
          ...(lost ? { lostReached } : {}),
          achievedRate: Math.round((committed / r.wall) * 10) / 10,
          latencyMs: summary(lat),
          debeziumLagMs: summary(captured),
          routedLagMs: summary(routed),
          cpuSeconds: r.cpu,
          cpuSecondsPer1000: per1000,
          pipelineRssMiB: r.rss,
          machineBusyCores: machine[i],
          loadAvg1m: loads[i],
        };
      });
      // a full run commits millions of changes: forget this step's (its figures are taken)
      for (const m of [commitAt, seenAt, kafkaAt, routedAt])
        for (const k of m.keys()) if (k < to) m.delete(k);
      seqOfRecord.clear();
      pendingRouted.clear();
      const worst = Math.max(...windows.map((w) => w.latencyMs.p99));
      const lost = windows.reduce((a, w) => a + w.lost, 0);
      const slow = windows.find((w) => w.achievedRate < 0.95 * rate);
      const why =
        lost > 0
          ? `${lost} lost`
          : worst >= 1000
            ? `p99 ${worst} ms in a window`
            : slow
              ? `load generator reached ${slow.achievedRate}/s`
              : undefined;
      const step: CeilingStep = {
        rate,
        windows,
        worstWindowP99: worst,
        lost,
        pass: !why,
        ...(why ? { why } : {}),
      };
      log(
        `ceiling${capture ? ' (capture only)' : ''}: ${rate}/s → p99 per window ${windows.map((w) => Math.round(w.latencyMs.p99)).join(' / ')} ms ` +
          `(capture ${windows.map((w) => Math.round(w.debeziumLagMs.p99)).join(' / ')}, routed ${windows.map((w) => Math.round(w.routedLagMs.p99)).join(' / ')}), lost ${lost}, ` +
          `pipeline ${windows.map((w) => w.cpuSecondsPer1000.pipeline).join(' / ')} CPU-s per 1,000, ` +
          `debezium ${windows.map((w) => w.cpuSecondsPer1000['connect (debezium)']).join(' / ')}; ` +
          `rss ${Math.max(...windows.map((w) => w.pipelineRssMiB))} MiB; ${step.pass ? 'sustained' : `missed: ${why}`}`,
      );
      return step;
    };

    // The baseline: the same load with capture only (PostgreSQL, Debezium, Kafka; no pipeline process), rate by rate
    // until the first miss, in this run on this box.
    const captureSteps: CeilingStep[] = [];
    if (o.captureBaseline) {
      for (const rate of o.rates) {
        const step = await measureStep(rate, true);
        captureSteps.push(step);
        if (!step.pass) break;
        await sleep(2000);
      }
      // the pipeline starts after the baseline's changes
      await setRouterOffsets(groups.router, config, 'latest');
    }
    mkdirSync(profDir, { recursive: true });
    proc = await spawnPipeline({
      env,
      logFile: join(profDir, 'pipeline.log'),
      roles: ['router', 'projector'],
      groups,
      ...(o.profile ? { cpuProfDir: profDir } : {}),
      label: 'ceiling',
    });
    log(`ceiling: pipeline pid ${proc.pid}`);

    // Wait until changes flow end to end (the groups have joined, the fences are taken): probe updates until one
    // reaches the sandbox, then the warm-up.
    measuring = true;
    const probeDeadline = Date.now() + 300_000;
    let probes = 0;
    for (;;) {
      const s = seq;
      issue();
      probes++;
      const seen = await waitFor(() => (seenAt.has(s) ? true : undefined), 5_000, 'probe', 100).catch(
        () => undefined,
      );
      if (seen) break;
      if (Date.now() > probeDeadline)
        throw new Error(`no change reached the sandbox in 300 s: ${proc.stderr().slice(-2000)}`);
    }
    log(`ceiling: changes flow (${probes} probe(s))`);
    const measuredFrom = Date.now();
    for (const rate of o.rates) {
      const step = await measureStep(rate, false);
      steps.push(step);
      if (!step.pass) break;
      // let the queues empty before the next rate
      await sleep(2000);
    }
    measuring = false;
    const measuredTo = Date.now();
    const passed = steps.filter((s) => s.pass);
    const ceiling = passed.length ? passed[passed.length - 1] : undefined;
    const code = await proc.stop();
    let profile: (ReturnType<typeof profileTop> & { file: string }) | undefined;
    const f = o.profile ? readdirSync(profDir).find((x) => x.endsWith('.cpuprofile')) : undefined;
    if (f)
      profile = {
        file: join(profDir, f),
        // the measured steps only (not start-up, preparation or shutdown)
        ...profileTop(join(profDir, f), 30, {
          from: measuredFrom,
          to: measuredTo,
          exitedAt: proc.exitedAt()!,
        }),
      };
    const avgPer1000 = (s: CeilingStep | undefined) => {
      if (!s) return undefined;
      const out: Record<string, number> = {};
      const committed = s.windows.reduce((a, w) => a + w.committed, 0);
      for (const w of s.windows)
        for (const [k, v] of Object.entries(w.cpuSeconds)) out[k] = (out[k] ?? 0) + v;
      for (const k of Object.keys(out)) out[k] = Math.round((out[k] / committed) * 1000 * 100) / 100;
      return out;
    };
    const cpuAtCeiling = avgPer1000(ceiling);
    const capturePassed = captureSteps.filter((st) => st.pass);
    const captureCeiling = capturePassed.length ? capturePassed[capturePassed.length - 1] : undefined;
    const captureMiss = captureSteps.find((st) => !st.pass);
    return {
      rates: o.rates,
      ...(o.captureBaseline
        ? {
            captureCeilingRate: captureCeiling?.rate ?? 0,
            captureFirstMiss: captureMiss ? { rate: captureMiss.rate, why: captureMiss.why } : null,
            captureCpuPer1000AtCeiling: avgPer1000(captureCeiling) ?? null,
            // the pipeline's ceiling as a share of what the box sustains without it
            ceilingToCapture:
              captureCeiling && ceiling ? Math.round((ceiling.rate / captureCeiling.rate) * 100) / 100 : null,
            captureSteps,
          }
        : {}),
      seconds: o.seconds,
      windows: o.windows,
      partners: o.partners,
      intentsPartitions: config.topics.intentsPartitions,
      opencellConcurrency: config.opencell.concurrency,
      ceilingRate: ceiling?.rate ?? 0,
      firstMiss: steps.find((s) => !s.pass)
        ? { rate: steps.find((s) => !s.pass)!.rate, why: steps.find((s) => !s.pass)!.why }
        : null,
      cpuPer1000AtCeiling: cpuAtCeiling ?? null,
      pipelineToDebeziumCpu:
        cpuAtCeiling && cpuAtCeiling['connect (debezium)']
          ? Math.round((cpuAtCeiling.pipeline / cpuAtCeiling['connect (debezium)']) * 100) / 100
          : null,
      pipelineRssPeakMiB: rssPeak,
      pipelineExit: code,
      pipelineRetries: loggedRetries(proc.stderr()),
      pipelineLog: join(profDir, 'pipeline.log'),
      updateFailures: failed,
      steps,
      ...(profile ? { profile } : {}),
    };
  } finally {
    measuring = false;
    await proc?.stop().catch(() => undefined);
    await tap?.disconnect().catch(() => undefined);
    await cpu.close();
    await sandbox.close();
    await db.end();
  }
}
