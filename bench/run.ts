/**
 * `npm run bench [-- filter e2e concurrency resync invoices] [--quick] [--key=value …]`
 *
 * Runs the benchmarks of issue F (all by default, sequentially), prints their numbers, and writes BENCHMARKS.md.
 * Results are kept per benchmark in bench/results.json, so running one benchmark alone refreshes its section and
 * keeps the others (each section shows its own date).
 *
 * Sizes (flag or env; --quick gives a small run of everything):
 *   --filter-events=N        BENCH_FILTER_EVENTS      (200000)
 *   --e2e-rate=N             BENCH_E2E_RATE           (200 changes/s)
 *   --e2e-seconds=N          BENCH_E2E_SECONDS        (60)
 *   --e2e-partners=N         BENCH_E2E_PARTNERS       (400)
 *   --e2e-warmup=N           BENCH_E2E_WARMUP         (15 s)
 *   --e2e-windows=N          BENCH_E2E_WINDOWS        (3 consecutive measured windows of e2e-seconds each)
 *   --conc-partners=N        BENCH_CONC_PARTNERS      (1500 distinct customers)
 *   --conc-updates=N         BENCH_CONC_UPDATES       (3 updates per customer)
 *   --conc-latency=N         BENCH_CONC_LATENCY       (50 ms added by the sandbox)
 *   --resync-partners=N      BENCH_RESYNC_PARTNERS    (1000000)
 *   --resync-contracts=N     BENCH_RESYNC_CONTRACTS   (2000)
 *   --resync-updates=N       BENCH_RESYNC_UPDATES     (200000: address changes of the contracts' partners)
 *   --resync-profile=DIR     BENCH_RESYNC_PROFILE     (none: the replay's router and projector write CPU profiles there)
 *   --resync-alone-rounds=N  BENCH_RESYNC_ALONE_ROUNDS (3: rounds of the router alone beside the bare consumer)
 *   --invoices=N             BENCH_INVOICES           (100000, a monthly billing run, issue 17 §3; --quick: 10000)
 *   --invoice-batch=N        BENCH_INVOICE_BATCH      (200 invoices per account.move create: the loader's maxBatch)
 *   --invoice-concurrency=N  BENCH_INVOICE_CONCURRENCY (300 invoices in flight per partition in the loader)
 *   --invoice-page=N         BENCH_INVOICE_PAGE       (500 invoices per OpenCell list page: INVOICE_POLL_PAGE_SIZE)
 *   --invoice-poll-concurrency=N BENCH_INVOICE_POLL_CONCURRENCY (8 full invoice reads in flight in the poller)
 *
 * On demand only (named: `npm run bench -- ceiling scaleout`), the pipeline in processes of its own (issue 17):
 *   --ceiling-rates=a,b,…    BENCH_CEILING_RATES      (200,400,600,800,1000,1200,1400 changes/s, stepped up)
 *   --ceiling-seconds=N      BENCH_CEILING_SECONDS    (60 s per window; shorten for a dev run)
 *   --ceiling-windows=N      BENCH_CEILING_WINDOWS    (5 windows per rate)
 *   --ceiling-warmup=N       BENCH_CEILING_WARMUP     (10 s at each rate before its windows)
 *   --ceiling-partners=N     BENCH_CEILING_PARTNERS   (3000)
 *   --ceiling-connections=N  BENCH_CEILING_CONNECTIONS (16 UPDATE connections)
 *   --ceiling-profile        node --cpu-prof on the pipeline process; top self-time functions in the result
 *   --ceiling-baseline=false BENCH_CEILING_BASELINE   (true: first the same rates with capture only, no pipeline)
 *   --scaleout-partners=N    BENCH_SCALEOUT_PARTNERS  (3000 customers)
 *   --scaleout-updates=N     BENCH_SCALEOUT_UPDATES   (2 updates each)
 *   --scaleout-latency=N     BENCH_SCALEOUT_LATENCY   (50 ms per sandbox call)
 *   --scaleout-processes=N   BENCH_SCALEOUT_PROCESSES (3, against 1)
 *   --fence-intents=N        BENCH_FENCE_INTENTS      (20000 through the ledger path, without and with a fence)
 *   --fence-concurrency=N    BENCH_FENCE_CONCURRENCY  (16)
 */
import './env';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { runFilterBench } from './filter';
import { jvmMemory, machine, ROOT, stackVersions, versions } from './common';
import { renderMarkdown, type Results } from './report';

const ALL = ['filter', 'e2e', 'concurrency', 'resync', 'invoices'] as const;
/** Run only when named (long, or a stack of their own): `npm run bench -- ceiling`. */
const ON_DEMAND = ['ceiling', 'scaleout', 'fence'] as const;
type Name = (typeof ALL)[number] | (typeof ON_DEMAND)[number];

function args() {
  const names: Name[] = [];
  const flags: Record<string, string> = {};
  for (const a of process.argv.slice(2)) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(a);
    if (m) flags[m[1]] = m[2] ?? 'true';
    else if ([...ALL, ...ON_DEMAND].includes(a as Name)) names.push(a as Name);
    else
      throw new Error(`unknown benchmark or flag: ${a} (benchmarks: ${[...ALL, ...ON_DEMAND].join(', ')})`);
  }
  return { names: names.length ? names : [...ALL], flags };
}

export async function main(): Promise<void> {
  const { names, flags } = args();
  const quick = flags.quick === 'true' || process.env.BENCH_QUICK === '1';
  const num = (flag: string, env: string, full: number, small: number) => {
    const v = flags[flag] ?? process.env[env];
    return v !== undefined ? Number(v) : quick ? small : full;
  };
  const resultsPath = join(__dirname, 'results.json');
  const results: Results = existsSync(resultsPath)
    ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as Results)
    : { runs: {} };
  const save = () => {
    results.machine = machine();
    results.versions = versions();
    writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(ROOT, 'BENCHMARKS.md'), renderMarkdown(results));
  };
  results.stack = { ...(results.stack ?? {}), ...(await stackVersions()) };
  const m = machine();
  console.log(
    `machine: ${m.cores} cores (${m.cpuModel}), ${m.totalMemGiB} GiB, node ${m.node}${quick ? ' — QUICK run' : ''}`,
  );

  for (const name of names) {
    const started = new Date();
    const t0 = Date.now();
    const load0 = os.loadavg()[0];
    console.log(`\n=== ${name} ===`);
    let result: unknown;
    let params: Record<string, number> = {};
    try {
      switch (name) {
        case 'filter': {
          params = { events: num('filter-events', 'BENCH_FILTER_EVENTS', 200_000, 50_000) };
          result = runFilterBench(params.events);
          break;
        }
        case 'e2e': {
          const { runE2eBench } = await import('./e2e.js');
          params = {
            rate: num('e2e-rate', 'BENCH_E2E_RATE', 200, 50),
            seconds: num('e2e-seconds', 'BENCH_E2E_SECONDS', 60, 10),
            partners: num('e2e-partners', 'BENCH_E2E_PARTNERS', 400, 60),
            warmupSeconds: num('e2e-warmup', 'BENCH_E2E_WARMUP', 15, 2),
            windows: num('e2e-windows', 'BENCH_E2E_WINDOWS', 3, 1),
          };
          result = await runE2eBench(params as never);
          break;
        }
        case 'concurrency': {
          const { runConcurrencyBench } = await import('./concurrency.js');
          params = {
            partners: num('conc-partners', 'BENCH_CONC_PARTNERS', 1500, 200),
            updatesPerPartner: num('conc-updates', 'BENCH_CONC_UPDATES', 3, 2),
            latencyMs: num('conc-latency', 'BENCH_CONC_LATENCY', 50, 50),
          };
          result = await runConcurrencyBench(params as never);
          break;
        }
        case 'resync': {
          const { runResyncBench } = await import('./resync.js');
          params = {
            partners: num('resync-partners', 'BENCH_RESYNC_PARTNERS', 1_000_000, 5_000),
            contracts: num('resync-contracts', 'BENCH_RESYNC_CONTRACTS', 2000, 100),
            updates: num('resync-updates', 'BENCH_RESYNC_UPDATES', 200_000, 2_000),
          };
          result = await runResyncBench({
            ...(params as { partners: number; contracts: number; updates: number }),
            cpuProfDir: flags['resync-profile'] ?? process.env.BENCH_RESYNC_PROFILE,
            aloneRounds: num('resync-alone-rounds', 'BENCH_RESYNC_ALONE_ROUNDS', 3, 1),
          });
          break;
        }
        case 'ceiling': {
          const { runCeilingBench } = await import('./ceiling.js');
          const rates = (
            flags['ceiling-rates'] ??
            process.env.BENCH_CEILING_RATES ??
            '200,400,600,800,1000,1200,1400'
          )
            .split(',')
            .map(Number);
          params = {
            seconds: num('ceiling-seconds', 'BENCH_CEILING_SECONDS', 60, 10),
            windows: num('ceiling-windows', 'BENCH_CEILING_WINDOWS', 5, 2),
            warmupSeconds: num('ceiling-warmup', 'BENCH_CEILING_WARMUP', 10, 3),
            partners: num('ceiling-partners', 'BENCH_CEILING_PARTNERS', 3000, 600),
            connections: num('ceiling-connections', 'BENCH_CEILING_CONNECTIONS', 16, 16),
            profile: flags['ceiling-profile'] === 'true' ? 1 : 0,
            captureBaseline:
              (flags['ceiling-baseline'] ?? process.env.BENCH_CEILING_BASELINE) === 'false' ? 0 : 1,
          };
          result = await runCeilingBench({
            ...params,
            rates,
            profile: params.profile === 1,
            captureBaseline: params.captureBaseline === 1,
          } as never);
          break;
        }
        case 'scaleout': {
          const { runScaleoutBench } = await import('./scaleout.js');
          params = {
            partners: num('scaleout-partners', 'BENCH_SCALEOUT_PARTNERS', 3000, 600),
            updatesPerPartner: num('scaleout-updates', 'BENCH_SCALEOUT_UPDATES', 2, 2),
            latencyMs: num('scaleout-latency', 'BENCH_SCALEOUT_LATENCY', 50, 50),
            processes: num('scaleout-processes', 'BENCH_SCALEOUT_PROCESSES', 3, 3),
          };
          result = await runScaleoutBench(params as never);
          break;
        }
        case 'fence': {
          const { runFenceBench } = await import('./fence.js');
          params = {
            intents: num('fence-intents', 'BENCH_FENCE_INTENTS', 20_000, 2_000),
            concurrency: num('fence-concurrency', 'BENCH_FENCE_CONCURRENCY', 16, 16),
          };
          result = await runFenceBench(params as never);
          break;
        }
        case 'invoices': {
          const { runInvoiceBench } = await import('./invoices.js');
          params = {
            invoices: num('invoices', 'BENCH_INVOICES', 100_000, 10_000),
            batch: num('invoice-batch', 'BENCH_INVOICE_BATCH', 200, 200),
            concurrency: num('invoice-concurrency', 'BENCH_INVOICE_CONCURRENCY', 300, 300),
            pageSize: num('invoice-page', 'BENCH_INVOICE_PAGE', 500, 500),
            pollConcurrency: num('invoice-poll-concurrency', 'BENCH_INVOICE_POLL_CONCURRENCY', 8, 8),
          };
          result = await runInvoiceBench(params as never);
          break;
        }
      }
    } catch (e) {
      result = { error: (e as Error).stack ?? String(e) };
    }
    const wallSeconds = Math.round((Date.now() - t0) / 100) / 10;
    const jvms = jvmMemory();
    console.log(JSON.stringify({ result, wallSeconds, jvms }, null, 2));
    const loadAvg = { start: Math.round(load0 * 100) / 100, end: Math.round(os.loadavg()[0] * 100) / 100 };
    results.runs[name] = { date: started.toISOString(), quick, params, wallSeconds, result, jvms, loadAvg };
    save();
  }
  console.log(`\nwrote BENCHMARKS.md and bench/results.json`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
