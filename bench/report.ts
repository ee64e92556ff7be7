/** Renders bench/results.json (and the fault-test summary, when bench/faults-summary.json exists) as BENCHMARKS.md. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunRecord {
  date: string;
  quick: boolean;
  params: Record<string, number>;
  wallSeconds: number;
  result: unknown;
  jvms: Record<string, { pid: number; hwmMiB: number; rssMiB: number } | null>;
  /** 1-minute load average of the machine at the start and the end of the run */
  loadAvg?: { start: number; end: number };
}

export interface Results {
  machine?: { cores: number; cpuModel: string; totalMemGiB: number; node: string; platform: string };
  versions?: Record<string, string>;
  stack?: Record<string, string>;
  runs: Record<string, RunRecord>;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

const verdict = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? '**met**' : '**MISSED**');
const n = (x: unknown, d = 0) =>
  typeof x === 'number' && Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: d })
    : String(x ?? '—');

function header(name: string, title: string, rec: RunRecord | undefined): string {
  if (!rec) return `## ${title}\n\nNot run yet (\`npm run bench -- ${name}\`).\n`;
  const jvm = Object.entries(rec.jvms ?? {})
    .map(([k, v]) => (v ? `${k} ${v.hwmMiB} MiB` : `${k} n/a`))
    .join(', ');
  return (
    `## ${title}\n\n` +
    `Run ${rec.date}${rec.quick ? ' (**quick size**, not the target size)' : ''}; parameters ${Object.entries(
      rec.params,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ', ',
      )}; wall ${n(rec.wallSeconds, 1)} s${rec.loadAvg ? `; machine 1-min load average ${n(rec.loadAvg.start, 1)} at the start, ${n(rec.loadAvg.end, 1)} at the end (2 cores)` : ''}. ` +
    `Peak memory: bench process RSS ${n((rec.result as Any)?.peakRssMiB)} MiB; JVM peaks (VmHWM since their start) ${jvm || 'n/a'}.\n`
  );
}

function errorOf(rec: RunRecord | undefined): string {
  const e = (rec?.result as Any)?.error;
  return e
    ? `\n**The run failed:**\n\n\`\`\`\n${String(e).split('\n').slice(0, 6).join('\n')}\n\`\`\`\n`
    : '';
}

function filter(rec: RunRecord | undefined): string {
  const r = rec?.result as Any;
  let s = header('filter', '1. Filter + projection stage (pure, in-process)', rec);
  s += `\nMethod: \`bench/filter.ts\` — a realistic mix of Debezium change events (70 % irrelevant partner updates, 10 % invoice-table changes, 8 % address changes, 6 % new contract lines, 4 % contract changes, 2 % phone changes) through parse → raw relevance fast path → typed decode → changed watched fields → trigger rules → intent ids, against a bare \`JSON.parse\` of the same key and value bytes; best of 3 rounds each.\n`;
  if (r && !r.error)
    s += `\n| figure | value | target |\n|---|---|---|\n| events | ${n(r.events)} (${n(r.bytes / 2 ** 20, 1)} MiB, ${n(r.relevantShare * 100, 1)} % relevant, ${n(r.intents)} intents) | |\n| raw JSON.parse | ${n(r.parseEventsPerSec)} events/s | |\n| filter + projection stage | ${n(r.stageEventsPerSec)} events/s | |\n| ratio stage / raw parse | **${n(r.ratio, 2)}** | ≥ 0.5 — ${verdict(r.ratio >= 0.5)} |\n`;
  return s + errorOf(rec);
}

function e2e(rec: RunRecord | undefined): string {
  const r = rec?.result as Any;
  let s = header('e2e', '2. End to end: Odoo commit → OpenCell sandbox call', rec);
  s +=
    `\nMethod: \`bench/e2e.ts\` on the real stack (PostgreSQL → Debezium/Kafka Connect → Kafka → router → intents topic → projector → production OpenCell client → in-process OpenCell sandbox; ledger in a state database of the benchmark's own). ` +
    `Partners with a contract are inserted first and the pipeline creates their customers and subscriptions (not measured). Then a token-bucket loop (5 ms ticks) commits partner street updates (autocommit UPDATEs on a 16-connection pool, round-robin over the partners); each street is unique. ` +
    `Latency = arrival time at the sandbox of the first state-changing call whose body carries that street − the time the UPDATE's commit was acknowledged to the client. ` +
    `A change whose partner was updated again before it was projected may be carried by the later change's call (the projector reads the current row): it is counted at that call ("superseded"). A warm-up at the same rate is excluded; the measured load is sustained for several consecutive windows (3 × 60 s by default) and each window is reported on its own. ` +
    `Debezium→Kafka lag = Kafka record timestamp (set by Connect) − commit time, read by a separate consumer; the same consumer reads the intents topic, where each intent names its source record, to time the router.\n`;
  if (r && !r.error) {
    const L = r.latencyMs ?? {};
    const D = r.debeziumLagMs;
    s += `\n| figure | value | target |\n|---|---|---|\n`;
    s += `| rate | ${n(r.achievedRate, 1)} changes/s achieved (target ${n(r.targetRate)}) over ${n(r.seconds)} s, ${n(r.partners)} partners | 200/s for 60 s |\n`;
    s += `| changes | ${n(r.committed)} committed, ${n(r.seen)} seen in the sandbox (${n(r.superseded)} via a later change), **${n(r.lost)} lost** | 0 lost |\n`;
    const W: Any[] = r.windows ?? [];
    if (W.length > 1) {
      s += `| latency p50 / p95 / p99 / max, all ${W.length} windows | ${n(L.p50)} / ${n(L.p95)} / ${n(L.p99)} / ${n(L.max)} ms | |\n`;
      W.forEach((w, i) => {
        s += `| window ${i + 1} (${n(r.seconds)} s): p50 / p95 / p99 / max | ${n(w.latencyMs?.p50)} / ${n(w.latencyMs?.p95)} / **${n(w.latencyMs?.p99)}** / ${n(w.latencyMs?.max)} ms, ${n(w.lost)} lost | p99 < 1000 ms — ${verdict(w.latencyMs?.p99 < 1000 && w.lost === 0)} |\n`;
      });
    } else
      s += `| latency p50 / p95 / p99 / max | ${n(L.p50)} / ${n(L.p95)} / **${n(L.p99)}** / ${n(L.max)} ms | p99 < 1000 ms — ${verdict(L.p99 < 1000)} |\n`;
    s += `| commit round trip p50 / p99 | ${n(r.commitMs?.p50)} / ${n(r.commitMs?.p99)} ms | |\n`;
    if (r.benchCpuCores !== undefined)
      s += `| CPU during the window | bench process (router + projector + sandbox + load generator) ${n(r.benchCpuCores, 2)} cores; 1-min load average ${n(r.loadAvg1m, 2)} on the machine | |\n`;
    if (D)
      s += `| Debezium → Kafka lag p50 / p95 / p99 / max | ${n(D.p50)} / ${n(D.p95)} / ${n(D.p99)} / ${n(D.max)} ms (${n(D.count)} records) | |\n`;
    const R = r.routedLagMs;
    if (R)
      s += `| commit → intent in the intents topic (router done) p50 / p95 / p99 / max | ${n(R.p50)} / ${n(R.p95)} / ${n(R.p99)} / ${n(R.max)} ms (${n(R.count)} changes) | |\n`;
    const B = r.projectorBatches;
    if (B)
      s += `| projector batches (kafkajs fetches a partition again when every partition's batch is done) | ${n(B.count)} batches, ${n(B.over500ms)} over 500 ms, slowest ${n(B.slowest?.[0]?.ms)} ms; ${n(r.retries)} retries, ${n(r.pauses)} pauses | |\n`;
    const M: Any[] = r.machineBy5s ?? [];
    if (M.length) {
      const busy = M.map((x) => x.busyCores);
      const steal = M.map((x) => x.stealCores);
      s += `| machine, per 5 s of the windows (/proc/stat) | busy cores mean ${n(busy.reduce((a, b) => a + b, 0) / busy.length, 2)}, max ${n(Math.max(...busy), 2)}; stolen by the host max ${n(Math.max(...steal), 2)} | |\n`;
    }
  }
  return s + errorOf(rec);
}

function concurrency(rec: RunRecord | undefined): string {
  const r = rec?.result as Any;
  let s = header('concurrency', '3. Downstream concurrency (sandbox + 50 ms per call)', rec);
  s +=
    `\nMethod: \`bench/concurrency.ts\`. Feed: **real intents** — partners (with a contract row) are inserted in Odoo and their customers created in the sandbox directly; N rounds of street updates per partner are committed in Odoo (round r of every partner before round r+1) and turned into intents by the real router (one update_customer per change, which also moves the customer accounts' address) while the projector is stopped. ` +
    `Then the sandbox adds the latency to every call and the projector alone (OPENCELL_CONCURRENCY, INTENTS_PARTITIONS as configured) drains the intents topic. Throughput = sandbox calls ÷ (first call arrival → last call end); ideal = concurrency ÷ latency. Order: each customer's PUT /account/customer bodies must carry its rounds in commit order.\n`;
  if (r && !r.error) {
    s += `\n| figure | value | target |\n|---|---|---|\n`;
    s += `| workload | ${n(r.partners)} customers × ${n(r.updates / r.partners)} updates = ${n(r.updates)} changes → ${n(r.intents)} intents → ${n(r.calls)} calls (${Object.entries(
      r.callsByPath ?? {},
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}) | |\n`;
    s += `| concurrency / partitions | OPENCELL_CONCURRENCY ${r.concurrency}, intents topic ${r.intentsPartitions} partitions | |\n`;
    s += `| throughput | **${n(r.callsPerSec, 1)} calls/s** (${n(r.intentsPerSec, 1)} intents/s) over ${n(r.windowSeconds, 1)} s | |\n`;
    s += `| ideal | ${n(r.idealCallsPerSec)} calls/s (${r.concurrency} ÷ ${r.latencyMs} ms) | |\n`;
    s += `| ratio | **${n(r.ratioOfIdeal * 100, 1)} %** of ideal | ≥ 80 % — ${verdict(r.ratioOfIdeal >= 0.8)} |\n`;
    s += `| calls in flight at the sandbox | average ${n(r.avgInFlight, 1)}, peak ${n(r.peakInFlight)} | |\n`;
    s += `| order | ${n(r.outOfOrder)} out-of-order PUTs; ${n(r.customersWithPuts)} customers updated, ${n(r.customersEndingOnLastRound)} ending on their last round | 0 — ${verdict(r.outOfOrder === 0 && r.customersWithoutPut === 0)} |\n`;
  }
  return s + errorOf(rec);
}

function resync(rec: RunRecord | undefined): string {
  const r = rec?.result as Any;
  let s = header('resync', '4. Resync from the earliest offset', rec);
  s +=
    `\nMethod: \`bench/resync.ts\`. Bench partners (ref \`BRSY-…\`, one bulk \`INSERT … SELECT generate_series\` per 20,000, created once and reused) and real contracts for some of them (bank account, mandate, contract and lines through the demo-seed helpers) and rounds of address changes of the partners with contracts (\`--resync-updates\`: each is routed to an intent that pass 1 applies and the replay finds finished) in Odoo's database, streamed by Debezium. ` +
    `Pass 1: a fresh router group from the earliest offset of every router topic (the whole history of the stack's Odoo database, the bench partners included) and a projector to completion against a fresh OpenCell sandbox and a fresh state database (creates happen). ` +
    `Baseline, just before the replay: a bare kafkajs consumer (a new group from the earliest offset, the stages' fetch settings, eachBatch only counting) reads the same topics. ` +
    `Pass 2, measured: both groups reset to the earliest offset and replayed. The router, the projector and the baseline each run as a process of their own (\`bench/pipeline-process.ts\`: the production \`run\` of one role, without its HTTP server); each runs with its role's NODE_OPTIONS from deploy/kubernetes (V8 heap settings); their memory is sampled from /proc/<pid>/status (VmRSS every 200 ms, VmHWM), with their own process.memoryUsage() peaks (V8 heap, Buffers). Rates = messages ÷ (first → last processed), both measured the same way. A create during the replay is a **duplicate** when pass 1 already made the same create (path + codes); creates caused by new changes during the replay are listed separately. ` +
    `After the replay, rounds of the router alone and the bare consumer in turn (\`--resync-alone-rounds\`, 3 by default; each a fresh group from the earliest offset, nothing else consuming): in the replay the projector replays its topic beside the router on the same two cores while the baseline reads alone, so these rounds compare the two readers on equal terms, and their median ratio is reported beside the replay's.\n` +
    `\nWhere the router's replay time goes (the router alone on the same 1.21 M events, node --cpu-prof, bench/interpretation.md "Session 13"): garbage collection 17.9 % of its main thread, the envelope's \`JSON.parse\` and UTF-8 decoding about 10 %, kafkajs's record decoding about 8 % (the bare consumer pays it too), idle 6.2 %, the watched-column diff 2.8 %, then nothing above 2 %. Session 13 measured what the router allocates (V8's sampling heap profiler, collected objects included): 14.5 GB for the 1.21 M events against the bare consumer's 4.1 GB — 19.4 KB to decode one 1.2 KB partner update, against 2.2 KB for its \`JSON.parse\` (io-ts contexts and failed union members, a closure scope per column and row). The decoders now allocate 1.8 KB per such event, the router 10.7 GB in all, and its CPU per event fell 11 % in alternated runs. A replay also no longer produces the intents the ledger has finished (docs/operations.md "Resync"): the projector reads pass 1's 204,000 intents once instead of twice, and the router neither encodes nor sends them. Partner creations are skipped on their bytes (they trigger nothing), so the share of relevant changes decides the ratio: 0.69 on creations only, 0.29–0.44 on this history where one event in six is a relevant change (0.22–0.34 before session 13). A librdkafka-based client was measured side by side and not kept (docs/decisions/0010-kafka-client.md). Memory: the router's RSS is mostly V8 heap and Buffers, flat from the first to the second half of a run. The run above read records without Debezium's four context headers, which the connector no longer writes (docs/decisions/0013-no-debezium-context-headers.md); the profile and allocation figures of this paragraph are session 13's, over records with them. Without them a bare read costs less than half as much (2.5× the bare consumer's rate of session 13's run), the router reads 2.5× faster than in that run (22,227 events/s, 55.2 s), and its ratio to the bare consumer stayed below 0.3 in session 16: what was left is the routing of the relevant changes (bench/interpretation.md "Session 16"). Since session 17 the router routes a fetched batch with no promise per change: it decodes the batch at once, reads the facts its triggers need in one query per kind of read, derives the intents synchronously, awaits only a contract's pinned queue, and checks the batch's intents against the ledger in one statement; its CPU per event fell 23–25 % on this history (12–26 % on a smaller one) in alternated rounds of the router alone, and the ratio of the router alone rose to 0.38–0.48 (bench/interpretation.md "Session 17"). Since session 18 the router decodes a change as its batch is scheduled (\`predecode\`), and the bench runs the router alone and the bare consumer in turn after the replay (the row above): the bare consumer's rate moves by up to a quarter between rounds, the router's by a few per cent, so the median of the rounds is the steadier ratio (bench/interpretation.md "Session 18").\n`;
  if (r && !r.error) {
    const p = r.replay ?? {};
    s += `\n| figure | value | target |\n|---|---|---|\n`;
    s += `| data | ${n(r.partners)} bench partners, ${n(r.contracts)} with contracts, ${n(r.updates ?? 0)} address changes of these (each routed to an intent); ${n(r.topicEvents)} events on the router topics | 1,000,000 captured rows |\n`;
    s += `| pass 1 (creates) | ${n(r.pass1?.wallSeconds, 1)} s; ${n(r.pass1?.routerEvents)} events routed, ${n(r.pass1?.projectorIntents)} intents, ${n(r.pass1?.creates)} create calls, ${n(r.pass1?.subscriptions)} subscriptions | |\n`;
    s += `| replay wall time | **${n(p.wallSeconds, 1)} s** (router ${n(p.routerSeconds, 1)} s, projector ${n(p.projectorSeconds, 1)} s) | |\n`;
    s += `| bare kafkajs consumer (baseline) | ${n(r.bare?.eventsPerSec)} events/s (${n(r.bare?.events)} events in ${n(r.bare?.seconds, 1)} s) | |\n`;
    s += `| replay through the router/filter | **${n(p.routerEventsPerSec)} events/s** (${n(p.routerEvents)} events) | |\n`;
    s += `| ratio router / bare, in the replay (the projector replays beside the router; the baseline read alone) | **${n(p.ratioToBare, 2)}** | ≥ 0.5 — ${verdict(p.ratioToBare === undefined ? undefined : p.ratioToBare >= 0.5)} |\n`;
    const a = r.alone;
    if (a?.rounds?.length)
      s += `| the router alone ÷ the bare consumer, alternated after the replay (${n(a.rounds.length)} rounds, each a fresh group from the earliest offset) | ratios ${a.rounds.map((x: Any) => n(x.ratio, 2)).join(' / ')}, median **${n(a.medianRatio, 2)}**; router ${a.rounds.map((x: Any) => n(x.router.perSec)).join(' / ')} events/s, bare ${a.rounds.map((x: Any) => n(x.bare.perSec)).join(' / ')}; CPU-s per 100,000 events (medians) router ${n(a.medianRouterCpuPer100k, 2)}, bare ${n(a.medianBareCpuPer100k, 2)} | ≥ 0.5 — ${verdict(a.medianRatio >= 0.5)} |\n`;
    const m = r.memory ?? {};
    const mem = (x: Any) =>
      x
        ? `${n(x.peakRssMiB)} MiB (VmHWM ${n(x.hwmMiB)}; first half ${n(x.firstHalfPeakMiB)}, second half ${n(x.secondHalfPeakMiB)}${x.heap ? `; V8 heap ${n(x.heap.heapTotal)}, Buffers ${n(x.heap.arrayBuffers)}` : ''})`
        : '—';
    s += `| peak RSS, router process | ${mem(m.router)} | < 250 MiB — ${verdict(m.router ? m.router.hwmMiB < 250 : undefined)} |\n`;
    s += `| peak RSS, projector process | ${mem(m.projector)} | < 250 MiB — ${verdict(m.projector ? m.projector.hwmMiB < 250 : undefined)} |\n`;
    s += `| replay projector | ${n(p.projectorIntents)} intents (those pass 1 finished skipped by the ledger), ${n(p.calls)} OpenCell calls (reads)${p.projectorIntentsPerSec ? `; ${n(p.projectorIntentsPerSec)} intents/s` : ''} | |\n`;
    s += `| creates during the replay | ${n(p.createsDuringReplay)} (state-changing calls ${n(p.stateChangingCalls)}) | |\n`;
    s += `| **duplicate creates** | **${n(p.duplicateCreates)}**${p.duplicateExamples?.length ? ` (e.g. ${p.duplicateExamples.join('; ')})` : ''} | 0 — ${verdict(p.duplicateCreates === 0)} |\n`;
    if (r.topicEvents >= 1_000_000)
      s += `| 1M rows resynced | ${n(p.wallSeconds, 1)} s, ${n(p.stateChangingCalls)} state-changing calls | < 180 s, 0 — ${verdict(p.wallSeconds < 180 && p.stateChangingCalls === 0)} |\n`;
  }
  return s + errorOf(rec);
}

function invoices(rec: RunRecord | undefined): string {
  const r = rec?.result as Any;
  let s = header('invoices', '5. Invoice load (OpenCell sandbox → Odoo sandbox)', rec);
  s +=
    `\nMethod: \`bench/invoices.ts\`. Customers in Odoo and in the OpenCell sandbox; \`generateInvoices\` makes the invoices over their billing accounts; one poll (poller → outbox in the benchmark's own state database), the outbox relay (Avro through the registry) → Kafka → the invoice loader (keyed consumer, production Odoo JSON-RPC client) → the Odoo sandbox → Odoo's PostgreSQL. ` +
    `Loader rate = invoices loaded ÷ (first → last load), batches of up to \`batch\` invoices per \`account.move\` create; relay rate = rows published ÷ (first → last publish); flow rate from the poll's start. Loaded twice = invoice numbers with more than one out_invoice / out_refund in Odoo; lost = invoices neither in Odoo nor dead-lettered. ` +
    `Baselines in the same run: the run's own moves (other refs and dates) created in lists of the batch size through the production JSON-RPC client, one list at a time (\`rpc create\`) and with as many lists in flight as the loader had at its peak (\`rpc create, parallel\`), and by the sandbox's ORM in process, no HTTP or JSON (\`in-process create\`); bare Kafka: a plain kafkajs consumer reading the run's invoice topic and a plain producer (acks=all, one request in flight, as the relay) writing the same messages again. The loader's Odoo calls are counted and timed from its side (\`odoo calls\`).\n`;
  if (r && !r.error) {
    s += `\n| figure | value | target |\n|---|---|---|\n`;
    s += `| invoices | ${n(r.invoices)} generated over ${n(r.customers)} billing accounts; poll emitted ${n(r.pollEmitted)} in ${n(r.pollSeconds, 1)} s | 100,000 (10,000 quick) |\n`;
    s += `| loaded | ${n(r.loaded)} (${n(r.created)} created, ${n(r.deadLettered)} dead-lettered); ${n(r.inOdoo)} distinct in Odoo | all |\n`;
    const b = r.baseline ?? {};
    const k = r.kafkaBare ?? {};
    const c = r.odooCalls ?? {};
    s += `| settings | lists of ${n(r.batch)} per \`account.move\` create, ${n(r.concurrency)} invoices in flight per partition; poll pages of ${n(r.pageSize)}, ${n(r.pollConcurrency)} full reads in flight | |\n`;
    s += `| machine load (1-min average) | ${n(r.loadAverage?.start, 1)} at the start, ${n(r.loadAverage?.end, 1)} at the end of the load | |\n`;
    s += `| poll rate (OpenCell list + full reads → outbox) | ${n(r.pollInvoicesPerSec, 1)} invoices/s | |\n`;
    s += `| relay rate | ${n(r.relayInvoicesPerSec, 1)} invoices/s (${n(r.relayed)} rows); ÷ bare produce = ${n(r.relayVsBareProduce, 2)} | |\n`;
    s += `| loader rate | **${n(r.loaderInvoicesPerSec, 1)} invoices/s** over ${n(r.loaderSeconds, 1)} s | ≥ 300 — ${verdict(r.loaderInvoicesPerSec === undefined ? undefined : r.loaderInvoicesPerSec >= 300)} |\n`;
    s += `| flow rate (poll → last load) | ${n(r.flowInvoicesPerSec, 1)} invoices/s | |\n`;
    s += `| baseline: rpc create | ${n(b.rpcCreatePerSec, 1)} invoices/s (${n(b.rpcMsPerList, 1)} ms per list of ${n(b.batch)}, ${n(b.rpcMsPerMove, 2)} ms per move); loader ÷ rpc create = ${n(r.loaderVsRpcCreate, 2)} | |\n`;
    if (b.rpcParallelCreatePerSec !== undefined)
      s += `| baseline: rpc create, parallel | ${n(b.rpcParallelCreatePerSec, 1)} invoices/s (${n(b.parallel)} lists in flight); **loader ÷ parallel rpc create = ${n(r.loaderVsRpcParallelCreate, 2)}** | |\n`;
    if (Array.isArray(b.rpcParallelCurve))
      s += `| baseline: rpc create by lists in flight (the sandbox's ceiling here) | ${(b.rpcParallelCurve as Any[]).map((c) => `${n(c.lists)}: ${n(c.perSec, 1)}/s`).join(', ')} | |\n`;
    s += `| baseline: in-process create (the sandbox's SQL) | ${n(b.inProcessCreatePerSec, 1)} invoices/s${b.inProcessMsPerMove !== undefined ? ` (${n(b.inProcessMsPerMove, 2)} ms per move${b.statementsPerMove !== undefined ? `: ${n(b.statementsPerMove, 1)} SQL statements for ${n(b.linesPerMove, 1)} invoice lines` : ''})` : ''}; SQL share of a JSON-RPC create ${n(b.sqlShareOfRpcCreate, 2)} | |\n`;
    if (k.consumePerSec !== undefined)
      s += `| baseline: bare Kafka, same events (${n(k.avgBytes)} bytes each) | consume ${n(k.consumePerSec, 1)} /s, produce ${n(k.producePerSec, 1)} /s | |\n`;
    if (c.moveCreateLists !== undefined)
      s += `| odoo calls (loader's side) | ${n(c.perInvoice, 2)} per invoice; ${n(c.moveCreateLists)} move creates of ${n(c.movesPerList, 1)} moves, ${n(c.msPerList, 1)} ms each (${n(c.msPerMove, 2)} ms per move), at most ${n(c.maxListsInFlight)} in flight | |\n`;
    s += `| **loaded twice / lost** | **${n(r.loadedTwice)} / ${n(r.lost)}** | 0 / 0 — ${verdict(r.loadedTwice === 0 && r.lost === 0)} |\n`;
    s += `\nWhere the time goes (bench/interpretation.md, session 8): the Odoo sandbox's \`account.move\` creates — their SQL, about 31 statements per move — on the two cores everything shares; the loader ÷ parallel rpc create ratio above says how close the pipeline comes to their rate, and 300 invoices/s would need an Odoo that creates that many (about ten workers at tens of ms per move).\n`;
  } else if (r?.pending) s += `\npending: invoice loader\n`;
  return s + errorOf(rec);
}

const ceilingComponents = (w: Any) => Object.keys(w?.cpuSecondsPer1000 ?? {});

function ceiling(rec: RunRecord | undefined): string {
  if (!rec) return '';
  const r = rec.result as Any;
  let s = header('ceiling', 'Capacity ceiling: the pipeline in a process of its own (issue 17 §1)', rec);
  s +=
    `\nMethod: \`bench/ceiling.ts\`. The pipeline (router + projector) runs as its own process (\`odoo-opencell-sync run --only router,projector\`); the benchmark process is the load generator and the OpenCell sandbox. Partner street updates (autocommit UPDATEs, round-robin over partners with a contract row, each street unique) are stepped up rate by rate; each rate has a warm-up and then consecutive windows. A rate is sustained when every window has p99 (commit acknowledged → end of the sandbox call carrying the change) under 1 s, nothing is lost and the load generator reached 95 % of the rate; the stepping stops at the first miss. ` +
    `CPU per component from /proc/<pid>/stat (utime + stime) over each window: PostgreSQL = the backends of the benchmark's Odoo and state databases (the pipeline's, the load generator's, Debezium's walsender; not the server's shared background processes), the Connect (Debezium), Kafka and registry JVMs, the pipeline process, the benchmark process. Capture lag = commit → the record's Kafka timestamp; routed = commit → the intent's timestamp in the intents topic.\n`;
  if (r && !r.error) {
    s += `\nCeiling: **${n(r.ceilingRate)} changes/s** sustained (${n(r.windows)} × ${n(r.seconds)} s)${r.firstMiss ? `; first miss at ${n(r.firstMiss.rate)}/s: ${r.firstMiss.why}` : ''}. Pipeline peak RSS ${n(r.pipelineRssPeakMiB)} MiB (target < 250). Pipeline CPU ÷ Debezium CPU per change at the ceiling: **${n(r.pipelineToDebeziumCpu, 2)}** (goal ≤ 0.5). Intents topic ${n(r.intentsPartitions)} partitions, OPENCELL_CONCURRENCY ${n(r.opencellConcurrency)}.\n`;
    if (r.captureSteps) {
      s += `\nBaseline in the same run: the same load with **capture only** (PostgreSQL, Debezium, Kafka; no pipeline process; arrival = the record in Kafka) sustains **${n(r.captureCeilingRate)} changes/s**${r.captureFirstMiss ? ` (first miss at ${n(r.captureFirstMiss.rate)}/s: ${r.captureFirstMiss.why})` : ''}; the pipeline's ceiling is **${n(r.ceilingToCapture, 2)}×** of it. A rate the box cannot capture cannot be projected.\n`;
      s += `\n| capture only: rate | window | committed | lost | capture p50 / p99 / max ms | PostgreSQL CPU-s/1k | Debezium CPU-s/1k | Kafka CPU-s/1k | busy cores |\n|---|---|---|---|---|---|---|---|---|\n`;
      for (const st of r.captureSteps)
        (st.windows ?? []).forEach((w: Any, i: number) => {
          const c = w.cpuSecondsPer1000 ?? {};
          s += `| ${n(st.rate)}${i === 0 ? (st.pass ? ' ✓' : ` ✗ ${st.why}`) : ''} | ${i + 1} | ${n(w.committed)} | ${n(w.lost)} | ${n(w.latencyMs?.p50)} / **${n(w.latencyMs?.p99)}** / ${n(w.latencyMs?.max)} | ${n(c.postgresql, 2)} | ${n(c['connect (debezium)'], 2)} | ${n(c.kafka, 2)} | ${n(w.machineBusyCores, 2)} |\n`;
        });
      s += `\nWith the pipeline:\n`;
    }
    const comps = ceilingComponents(r.steps?.[0]?.windows?.[0]);
    s += `\n| rate | window | committed | lost | p50 / p99 / max ms | capture p99 | routed p99 | ${comps.map((c: string) => `${c} CPU-s/1k`).join(' | ')} | pipeline RSS | busy cores | load 1m |\n`;
    s += `|${'---|'.repeat(10 + comps.length)}\n`;
    for (const st of r.steps ?? [])
      (st.windows ?? []).forEach((w: Any, i: number) => {
        s += `| ${n(st.rate)}${i === 0 ? (st.pass ? ' ✓' : ` ✗ ${st.why}`) : ''} | ${i + 1} | ${n(w.committed)} | ${n(w.lost)} | ${n(w.latencyMs?.p50)} / **${n(w.latencyMs?.p99)}** / ${n(w.latencyMs?.max)} | ${n(w.debeziumLagMs?.p99)} | ${n(w.routedLagMs?.p99)} | ${comps.map((c: string) => n(w.cpuSecondsPer1000?.[c], 2)).join(' | ')} | ${n(w.pipelineRssMiB)} MiB | ${n(w.machineBusyCores, 2)} | ${n(w.loadAvg1m, 1)} |\n`;
      });
    if (r.profile) {
      s += `\nProfile of the pipeline process over the measured steps (\`--ceiling-profile\`, node --cpu-prof; ${n(r.profile.sampledMs)} ms sampled), top self time:\n\n| function | where | ms | share |\n|---|---|---|---|\n`;
      for (const t of r.profile.top ?? [])
        s += `| ${t.fn} | ${t.where} | ${n(t.ms)} | ${n(t.share, 1)} % |\n`;
    }
  }
  return s + errorOf(rec);
}

function scaleout(rec: RunRecord | undefined): string {
  if (!rec) return '';
  const r = rec.result as Any;
  let s = header('scaleout', 'Scale-out: projector processes in one consumer group (issue 17 §5)', rec);
  s += `\nMethod: \`bench/scaleout.ts\`. A backlog of real intents (street updates of partners with a contract row, turned into update_customer intents by a router process) is drained by one projector process, then by several in one consumer group, each phase with a group and a fresh state database of its own; the sandbox adds the latency to every call. Rate = PUT /account/customer calls per second from the moment the group is Stable with all its members to the end of the last call. Order: each customer's PUT bodies carry its rounds in commit order.\n`;
  if (r && !r.error) {
    s += `\n| figure | 1 process | ${n(r.many?.processes)} processes |\n|---|---|---|\n`;
    s += `| intents/s (steady) | ${n(r.one?.intentsPerSec, 1)} | ${n(r.many?.intentsPerSec, 1)} |\n`;
    s += `| intents/s (whole drain) | ${n(r.one?.wholeDrainIntentsPerSec, 1)} | ${n(r.many?.wholeDrainIntentsPerSec, 1)} |\n`;
    s += `| calls in flight at the sandbox (average) / mean call ms | ${n(r.one?.avgInFlight, 1)} / ${n(r.one?.meanCallMs, 1)} | ${n(r.many?.avgInFlight, 1)} / ${n(r.many?.meanCallMs, 1)} |\n`;
    s += `| out of order | ${n(r.one?.outOfOrder)} | ${n(r.many?.outOfOrder)} |\n`;
    s += `| peak RSS per process (MiB) | ${(r.one?.peakRssMiBPerProcess ?? []).join(', ')} | ${(r.many?.peakRssMiBPerProcess ?? []).join(', ')} |\n`;
    s += `| CPU-s per process | ${(r.one?.cpuSecondsPerProcess ?? []).join(', ')} | ${(r.many?.cpuSecondsPerProcess ?? []).join(', ')} |\n`;
    const retries = (x: Any) => JSON.stringify(x?.retriesPerProcess ?? []);
    s += `| retriable failures per process | ${retries(r.one)} | ${retries(r.many)} |\n`;
    s += `\nRatio ${n(r.many?.processes)} ÷ 1: **${n(r.ratio, 2)}** (target ≥ 2.5; whole drain ${n(r.wholeDrainRatio, 2)}). ${n(r.intents)} intents over ${n(r.intentsPartitions)} partitions, ${n(r.latencyMs)} ms per call, OPENCELL_CONCURRENCY ${n(r.concurrencyPerProcess)} per process (ideal ${n(r.idealIntentsPerSecPerProcess)} intents/s per process).\n`;
  }
  return s + errorOf(rec);
}

function fence(rec: RunRecord | undefined): string {
  if (!rec) return '';
  const r = rec.result as Any;
  let s = header('fence', 'The cost of fencing on the ledger path (issue 17 §2)', rec);
  s += `\nMethod: \`bench/fence.ts\`. The projector's state-database work for one update_customer intent (the replay check, the check before its OpenCell call, the outcome with its sync event) without a fence and with one, ${n(r?.concurrency)} intents at a time, on a fresh state database; no OpenCell, no Kafka.\n`;
  if (r && !r.error)
    s += `\n| ledger | unfenced | fenced | ratio |\n|---|---|---|---|\n| batched | ${n(r.unfencedIntentsPerSec, 1)} intents/s (${n(r.roundTripsPerIntent?.unfenced, 2)} round trips) | ${n(r.fencedIntentsPerSec, 1)} intents/s (${n(r.roundTripsPerIntent?.fenced, 2)} round trips) | **${n(r.ratio, 2)}** |\n`;
  if (r?.unbatched)
    s += `| one statement per check and outcome (\`maxBatch: 1\`) | ${n(r.unbatched.unfencedIntentsPerSec, 1)} intents/s (${n(r.unbatched.roundTripsPerIntent?.unfenced)} round trips) | ${n(r.unbatched.fencedIntentsPerSec, 1)} intents/s (${n(r.unbatched.roundTripsPerIntent?.fenced)} round trips) | batched ÷ one: ${n(r.batchedOverUnbatched?.unfenced, 2)} unfenced, ${n(r.batchedOverUnbatched?.fenced, 2)} fenced |\n`;
  return s + errorOf(rec);
}

function faults(): string {
  const p = join(__dirname, 'faults-summary.json');
  if (!existsSync(p)) return '';
  try {
    const f = JSON.parse(readFileSync(p, 'utf8')) as Any;
    return (
      `## Fault tests (summary written by the fault suite: bench/faults-summary.json)\n\n` +
      `Generated ${f.generatedAt ?? '?'}; runs ${n(f.runs)}; lost ${n(f.lost)}; duplicated creates ${n(f.duplicated?.creates)}; secrets leaked ${n(f.secretsLeaked)}.\n\n` +
      `\`\`\`json\n${JSON.stringify(f, null, 2)}\n\`\`\`\n`
    );
  } catch {
    return '';
  }
}

/** The interpretation section (bench/interpretation.md when present). */
/** A hand-written section kept beside the numbers (bench/<file>), rendered under its title when present. */
function section(file: string, title: string): string {
  const p = join(__dirname, file);
  const text = existsSync(p) ? readFileSync(p, 'utf8') : '';
  return text ? `## ${title}\n\n${text.trim()}\n` : '';
}

function interp(): string {
  const p = join(__dirname, 'interpretation.md');
  const interpretation = existsSync(p) ? readFileSync(p, 'utf8') : '';
  return interpretation ? `## Interpretation\n\n${interpretation.trim()}\n` : '';
}

export function renderMarkdown(r: Results): string {
  const m = r.machine;
  const v = { ...(r.versions ?? {}), ...(r.stack ?? {}) };
  const parts = [
    `# Benchmarks\n`,
    `Written by \`npm run bench\` (bench/run.ts; numbers in bench/results.json). Generated ${new Date().toISOString()}.\n`,
    `Machine: **${m?.cores ?? '?'} cores** (${m?.cpuModel ?? '?'}), **${m?.totalMemGiB ?? '?'} GiB** memory (os.totalmem), ${m?.platform ?? ''}. ` +
      `Versions: ${Object.entries(v)
        .map(([k, x]) => `${k} ${x}`)
        .join(', ')}. ` +
      `The whole local stack (PostgreSQL, Kafka, Kafka Connect + Debezium, Apicurio registry) runs on the same machine, as do the pipeline, the OpenCell sandbox and the load generator: the figures are for one 2-core box running everything (see each run's load average).\n`,
    `| # | benchmark | target | measured | verdict |\n|---|---|---|---|---|\n` + summaryRows(r),
    filter(r.runs.filter),
    e2e(r.runs.e2e),
    concurrency(r.runs.concurrency),
    resync(r.runs.resync),
    invoices(r.runs.invoices),
    ceiling(r.runs.ceiling),
    scaleout(r.runs.scaleout),
    fence(r.runs.fence),
    section('runtimes.md', 'Node 20 → Node 24 (issue M)'),
    interp(),
    section('create-plan-kills.md', 'Create-plan kills in flight (issue 19 §1)'),
    section('snapshot-no-effect.md', 'Snapshot after the history (issue 15 §4)'),
    section('golive-snapshot.md', "Go-live snapshot after the demo's history (issue 15 §4)"),
    section('zombie.md', 'Zombie: a projector paused mid-call past its session timeout (issue 15 §2)'),
    section(
      'rebalance-storm.md',
      'Rebalance storm: processes join and leave every 10 s under load (issue 15)',
    ),
    section('applied-then-timed-out.md', 'Applied then timed out, 100 times (issue 15 §3)'),
    section('compensation-once.md', 'Compensation once under kill -9 (issue 14 §2, W5)'),
    section('odoo-applied-then-timed-out.md', 'Odoo create applied then timed out (issue 15 §3)'),
    section('poller-10k.md', 'Poller: 10k invoices, late invoices, restarts (issue 15 §5)'),
    section('three-brokers.md', '3-broker cluster: kill -9 a broker 10 times under load (issue 15 §9)'),
    section('pg-connection-loss.md', 'PostgreSQL sessions terminated every 8 s under load (issue 15)'),
    section('opencell-outage.md', 'OpenCell outage longer than the old retry budget (issue 15)'),
    faults(),
  ];
  return parts.filter(Boolean).join('\n');
}

function summaryRows(r: Results): string {
  const g = (k: string) => r.runs[k]?.result as Any;
  const rows: string[] = [];
  const f = g('filter');
  rows.push(
    `| 1 | filter stage vs raw JSON.parse | ≥ 0.5 | ${f && !f.error ? n(f.ratio, 2) : '—'} | ${verdict(f && !f.error ? f.ratio >= 0.5 : undefined)} |`,
  );
  const e = g('e2e');
  rows.push(
    `| 2 | e2e p99 at 200 changes/s, 60 s | < 1000 ms, 0 lost | ${e && !e.error ? `p99 ${e2eP99Text(e)} ms at ${n(e.achievedRate, 1)}/s, ${n(e.lost)} lost` : '—'} | ${verdict(e && !e.error ? e2eWorstP99(e) < 1000 && e.lost === 0 : undefined)} |`,
  );
  const c = g('concurrency');
  rows.push(
    `| 3 | throughput vs ideal at +50 ms | ≥ 80 %, in order | ${c && !c.error ? `${n(c.ratioOfIdeal * 100, 1)} %, ${n(c.outOfOrder)} out of order` : '—'} | ${verdict(c && !c.error ? c.ratioOfIdeal >= 0.8 && c.outOfOrder === 0 : undefined)} |`,
  );
  const s = g('resync');
  rows.push(
    `| 4 | resync replay | 0 duplicate creates | ${s && !s.error ? `${n(s.replay?.routerEventsPerSec)} events/s${s.replay?.ratioToBare !== undefined ? ` (${n(s.replay.ratioToBare, 2)} of a bare consumer${s.alone?.medianRatio !== undefined ? `; the router alone ${n(s.alone.medianRatio, 2)}, median of ${n(s.alone.rounds.length)} rounds` : ''})` : ''}, ${n(s.replay?.wallSeconds, 1)} s, ${n(s.replay?.duplicateCreates)} duplicates` : '—'} | ${verdict(s && !s.error ? s.replay?.duplicateCreates === 0 : undefined)} |`,
  );
  const i = g('invoices');
  rows.push(
    `| 5 | invoice load | ≥ 300 invoices/s, 0 twice, 0 lost | ${i && !i.error && !i.pending ? `${n(i.loaderInvoicesPerSec, 1)} invoices/s (${n(i.invoices)} invoices; ${n(i.loaderVsRpcParallelCreate ?? i.loaderVsRpcCreate, 2)}× the Odoo sandbox's own create rate), ${n(i.loadedTwice)} twice, ${n(i.lost)} lost` : i?.pending ? 'pending: invoice loader' : '—'} | ${verdict(i && !i.error && !i.pending ? i.loaderInvoicesPerSec >= 300 && i.loadedTwice === 0 && i.lost === 0 : undefined)} |`,
  );
  return rows.join('\n') + '\n';
}

/** The worst 60 s window's p99 (runs before windows existed: the run's p99). */
function e2eWorstP99(e: Any): number {
  return typeof e.worstWindowP99 === 'number' ? e.worstWindowP99 : e.latencyMs?.p99;
}

function e2eP99Text(e: Any): string {
  const W: Any[] = e.windows ?? [];
  return W.length > 1
    ? `${W.map((w) => n(w.latencyMs?.p99)).join(' / ')} (${W.length} consecutive 60 s windows)`
    : n(e.latencyMs?.p99);
}
