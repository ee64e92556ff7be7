/**
 * Starts bench/pipeline-process.ts as a process of its own (as the pipeline runs in production: its own heap, its
 * own event loop), follows its counters over IPC, and samples its memory from /proc/<pid>/status (VmRSS every
 * 200 ms, VmHWM at the end): the peak, and the peaks of the first and the second half of the samples (growth with
 * the backlog shows as a second half above the first).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildMessage, ChildOptions, Counters, HeapPeaks } from './pipeline-process';
import { waitFor } from './common';

export interface ChildMemory {
  pid: number;
  /** highest VmRSS sampled, MiB */
  peakRssMiB: number;
  /** VmHWM (the kernel's own peak RSS) just before the process stopped, MiB */
  hwmMiB: number;
  /** peak VmRSS over the first and the second half of the samples, MiB */
  firstHalfPeakMiB: number;
  secondHalfPeakMiB: number;
  samples: number;
  /** peaks of the process's own process.memoryUsage() (MiB) */
  heap?: HeapPeaks;
}

export interface BenchChild {
  pid: number;
  counters: Counters;
  /** resolves once the roles (or the bare consumer) started */
  ready: Promise<void>;
  /** graceful stop; resolves with the final counters and the memory figures */
  stop(): Promise<{ counters: Counters; memory: ChildMemory }>;
  memory(): ChildMemory;
  /** CPU time the process has used so far (user + system, /proc/<pid>/stat), seconds; NaN once it is gone */
  cpuSeconds(): number;
}

/** utime + stime of a process in seconds (clock ticks of 1/100 s, Linux's USER_HZ). */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name (which may hold spaces) start after its closing parenthesis
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

function statusKiB(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

const mib = (kib: number) => Math.round(kib / 1024);

export function startChild(
  opts: ChildOptions,
  env: Record<string, string | undefined>,
  o: { cpuProfDir?: string; name: string; nodeOptions?: string[] },
): BenchChild {
  const execArgv = [...(o.nodeOptions ?? []), '--import', 'tsx'];
  if (o.cpuProfDir)
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`, `--cpu-prof-name=${o.name}.cpuprofile`);
  const child: ChildProcess = fork(join(__dirname, 'pipeline-process.ts'), [], {
    env: { ...process.env, ...env, BENCH_CHILD: JSON.stringify(opts) },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pid = child.pid!;
  const samples: number[] = [];
  let hwm = 0;
  const timer = setInterval(() => {
    const s = statusKiB(pid);
    if (s) {
      samples.push(s.rss);
      hwm = Math.max(hwm, s.hwm);
    }
  }, 200);
  timer.unref();
  const state: { counters: Counters; heap?: HeapPeaks; final?: Counters; error?: string } = { counters: {} };
  let onFinal: (() => void) | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'counters') {
        state.counters = m.counters;
        state.heap = m.heap;
        if (m.final) {
          state.final = m.counters;
          onFinal?.();
        }
      } else if (m.type === 'error') {
        state.error = m.message;
        reject(new Error(`${o.name}: ${m.message}`));
      }
    });
    child.on('exit', (code) => {
      if (code !== 0)
        reject(new Error(`${o.name} exited with ${code}${state.error ? `: ${state.error}` : ''}`));
      onFinal?.();
    });
  });
  const memory = (): ChildMemory => {
    const half = Math.floor(samples.length / 2);
    const peak = (xs: number[]) => mib(xs.reduce((a, b) => Math.max(a, b), 0));
    return {
      pid,
      peakRssMiB: peak(samples),
      hwmMiB: mib(hwm),
      firstHalfPeakMiB: peak(samples.slice(0, half)),
      secondHalfPeakMiB: peak(samples.slice(half)),
      samples: samples.length,
      heap: state.heap,
    };
  };
  return {
    pid,
    get counters() {
      return state.counters;
    },
    ready,
    memory,
    cpuSeconds: () => cpuSecondsOf(pid),
    async stop() {
      const s = statusKiB(pid);
      if (s) hwm = Math.max(hwm, s.hwm);
      clearInterval(timer);
      if (child.exitCode === null) {
        const done = new Promise<void>((r) => (onFinal = r));
        child.send({ type: 'stop' });
        await done;
      }
      return { counters: state.final ?? state.counters, memory: memory() };
    },
  };
}

/** What a child did from its first to its last counted message of one stage (the replay tools' figures). */
export interface ChildThroughput {
  messages: number;
  seconds: number;
  perSec: number;
  cpuPer100k: number;
  rssMiB: number;
}

/**
 * Waits until `child` has counted `total` messages of `stage`, stops it, and measures that stretch: its rate over
 * first → last message, its CPU seconds (every thread) per 100,000 messages from ready to `total`, its peak RSS.
 */
export async function throughputOf(
  child: BenchChild,
  stage: string,
  total: number,
): Promise<ChildThroughput> {
  await child.ready;
  const cpu0 = child.cpuSeconds();
  let cpu = 0;
  await waitFor(
    () => {
      const c = child.counters[stage];
      if (!c || c.processed < total) return undefined;
      cpu = child.cpuSeconds() - cpu0;
      return true;
    },
    1_800_000,
    stage,
    50,
  );
  const r = await child.stop();
  const c = r.counters[stage]!;
  const seconds = (c.last - c.first) / 1000;
  return {
    messages: c.processed,
    seconds: Math.round(seconds * 10) / 10,
    perSec: Math.round(c.processed / seconds),
    cpuPer100k: Math.round((cpu / c.processed) * 1e5 * 100) / 100,
    rssMiB: r.memory.peakRssMiB,
  };
}
