/**
 * Benchmarks that measure the pipeline as its own process: spawn `odoo-opencell-sync run` (router and/or projector)
 * against the bench's sandbox and topics, and read CPU (utime + stime) and memory (VmRSS / VmHWM) of every component
 * of the stack from /proc — PostgreSQL backends of the bench's databases (the walsender of the slot included), the
 * Kafka, Connect (Debezium) and registry JVMs, the pipeline processes, and the bench process (load generator and
 * OpenCell sandbox). Linux only: elsewhere the figures are empty.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { ODOO_DATABASE_URL, ROOT, sleep } from './common';
import type { OpenCellSandbox } from '../testkit/sandbox/opencell';

let clkTck: number | undefined;
/** Kernel clock ticks per second (the unit of /proc/<pid>/stat's utime and stime). */
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU seconds (user + system, all threads) a process has used since it started; undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces: fields after the closing parenthesis, utime and stime are 14 and 15
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** VmRSS and VmHWM (peak since start) in MiB. */
export function memoryMiB(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: Math.round(kb('VmRSS') / 1024), hwm: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

/** The stack's JVMs by name (STACK_RUN/<name>.pid: kafka, connect, registry). */
export function stackPids(): Record<string, number> {
  const dir = process.env.STACK_RUN ?? join(ROOT, '.run');
  const out: Record<string, number> = {};
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.pid'))) {
    const pid = Number(readFileSync(join(dir, f), 'utf8').trim());
    if (pid > 0) out[f.replace(/\.pid$/, '')] = pid;
  }
  return out;
}

/** Sources of the component PIDs, read afresh at every sample (PostgreSQL backends come and go). */
export interface ComponentSources {
  /** PostgreSQL backends connected to these databases (the logical walsender names its database too) */
  pgDatabases: string[];
  pgAdminUrl: string;
  /** named groups of processes of our own (the pipeline processes, the bench process) */
  own: () => Record<string, number[]>;
}

export type CpuSample = { at: number; byComponent: Record<string, Map<number, number>> };

/**
 * CPU seconds per component between samples. The PostgreSQL figure is the sum over the backends of the bench's
 * databases (connections of the pipeline, of the load generator, and Debezium's walsender); the shared server's
 * background processes (WAL writer, checkpointer) are not included: other databases share them.
 */
export class ComponentCpu {
  private admin: Client | undefined;
  constructor(private readonly src: ComponentSources) {}

  private async pgPids(): Promise<number[]> {
    try {
      if (!this.admin) {
        this.admin = new Client({ connectionString: this.src.pgAdminUrl, application_name: 'bench-cpu' });
        await this.admin.connect();
      }
      const r = await this.admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()`,
        [this.src.pgDatabases],
      );
      return r.rows.map((x) => x.pid);
    } catch {
      return [];
    }
  }

  async sample(): Promise<CpuSample> {
    const groups: Record<string, number[]> = { postgresql: await this.pgPids() };
    const jvms = stackPids();
    for (const [name, pid] of Object.entries(jvms))
      groups[name === 'connect' ? 'connect (debezium)' : name] = [pid];
    Object.assign(groups, this.src.own());
    const byComponent: CpuSample['byComponent'] = {};
    for (const [name, pids] of Object.entries(groups)) {
      const m = new Map<number, number>();
      for (const pid of pids) {
        const s = cpuSeconds(pid);
        if (s !== undefined) m.set(pid, s);
      }
      byComponent[name] = m;
    }
    return { at: Date.now(), byComponent };
  }

  /** CPU seconds per component from a to b (a process that appeared in between counts from 0). */
  static between(a: CpuSample, b: CpuSample): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, m] of Object.entries(b.byComponent)) {
      let s = 0;
      for (const [pid, v] of m) s += v - (a.byComponent[name]?.get(pid) ?? 0);
      out[name] = Math.round(s * 100) / 100;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.admin?.end().catch(() => undefined);
    this.admin = undefined;
  }
}

export interface PipelineProcess {
  pid: number;
  child: ChildProcess;
  /** when stop() saw it exit */
  exitedAt(): number | undefined;
  /** stderr so far (the CLI logs there) */
  stderr(): string;
  /** SIGTERM, then waits for the exit (a CPU profile is written on exit) */
  stop(timeoutMs?: number): Promise<number | null>;
}

/**
 * The V8 flags the image runs the pipeline with (the Dockerfile's `ENV NODE_OPTIONS`): each pipeline process of a
 * benchmark runs with them, so its memory and CPU are the deployed ones. BENCH_PIPELINE_NODE_OPTIONS overrides them
 * (e.g. empty: V8's defaults, for a comparison).
 */
export const PIPELINE_NODE_OPTIONS = imageNodeOptions();

export function imageNodeOptions(): string {
  const m = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  if (!m) throw new Error('Dockerfile: no ENV NODE_OPTIONS="…" line');
  return m[1];
}

/**
 * Starts `odoo-opencell-sync run --only <roles>` in a process of its own with the given environment (the config
 * the bench built: sandbox URL, topics, state database), and waits until it says it runs.
 */
export async function spawnPipeline(opts: {
  env: Record<string, string | undefined>;
  roles: string[];
  groups: Record<string, string>;
  /** node --cpu-prof into this folder */
  cpuProfDir?: string;
  /** the process's stderr is appended here too */
  logFile?: string;
  label?: string;
  startTimeoutMs?: number;
}): Promise<PipelineProcess> {
  const args = [
    ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []),
    join(ROOT, 'bin', 'odoo-opencell-sync'),
    'run',
    '--only',
    opts.roles.join(','),
    ...Object.entries(opts.groups).flatMap(([role, g]) => ['--group', `${role}=${g}`]),
  ];
  const child = spawn(process.execPath, args, {
    env: {
      ...opts.env,
      HTTP_PORT: '0',
      LOG_LEVEL: opts.env.LOG_LEVEL ?? 'warn',
      NODE_OPTIONS: opts.env.BENCH_PIPELINE_NODE_OPTIONS ?? PIPELINE_NODE_OPTIONS,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((r) =>
    child.on('exit', (code) => {
      exited = code;
      r(code);
    }),
  );
  child.stderr!.on('data', (d: Buffer) => {
    if (opts.logFile) appendFileSync(opts.logFile, d);
    err += d.toString('utf8');
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
  while (!err.includes('[run] running')) {
    if (exited !== undefined)
      throw new Error(`pipeline process ${opts.label ?? ''} exited (${exited}): ${err.slice(-2000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`pipeline process ${opts.label ?? ''} did not start: ${err.slice(-2000)}`);
    }
    await sleep(100);
  }
  let exitedAt: number | undefined;
  return {
    pid: child.pid!,
    child,
    exitedAt: () => exitedAt,
    stderr: () => err,
    async stop(timeoutMs = 60_000) {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exit;
      clearTimeout(t);
      exitedAt = Date.now();
      return code;
    },
  };
}

/** Retriable failures the process logged (warn lines of the keyed consumer), by message with numbers stripped. */
export function loggedRetries(stderr: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of stderr.matchAll(/"message":"retriable failure, attempt \d+: ([^"]{0,120})/g)) {
    const k = m[1].replace(/\d+/g, 'N');
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * Self time per function of a V8 .cpuprofile (node --cpu-prof): the top `n`, with their share of the samples. With
 * `between` (wall-clock ms) only the samples taken then count: the profile ends when the process exits (`exitedAt`),
 * which places its samples on the wall clock, so start-up (module loading, compilation) can be left out.
 */
export function profileTop(
  file: string,
  n = 25,
  between?: { from: number; to: number; exitedAt: number },
): { sampledMs: number; top: { fn: string; where: string; ms: number; share: number }[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    startTime: number;
    endTime: number;
    samples: number[];
    timeDeltas: number[];
  };
  const frame = new Map(p.nodes.map((x) => [x.id, x.callFrame]));
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let t = p.startTime;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const dt = p.timeDeltas[i + 1] ?? 0; // the sample stands for the time until the next one
    if (between) {
      const wall = between.exitedAt - (p.endTime - t) / 1000;
      if (wall < between.from || wall > between.to) continue;
    }
    const cf = frame.get(p.samples[i]);
    if (!cf) continue;
    const url = cf.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
    const where = url ? `${url}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName}@${where}`;
    const e = self.get(key) ?? { fn: cf.functionName || '(anonymous)', where, us: 0 };
    e.us += dt;
    total += dt;
    self.set(key, e);
  }
  const top = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, n)
    .map((e) => ({
      fn: e.fn,
      where: e.where,
      ms: Math.round(e.us / 1000),
      share: total ? Math.round((e.us / total) * 1000) / 10 : 0,
    }));
  return { sampledMs: Math.round(total / 1000), top };
}

/**
 * The environment of a bench's pipeline processes: the sandbox as OpenCell, topics of the bench's own (named by the
 * bench and its run id) and the given state database.
 */
export function pipelineProcessEnv(
  sandbox: OpenCellSandbox,
  bench: string,
  runId: string,
  stateUrl: string,
): Record<string, string | undefined> {
  return {
    ...process.env,
    OPENCELL_BASEURL: sandbox.url,
    OPENCELL_USER: sandbox.credentials.user,
    OPENCELL_PASSWORD: sandbox.credentials.password,
    ODOO_PASSWORD: 'unused-here',
    INTENTS_TOPIC: `bench.intents-${bench}-${runId}`,
    DLQ_TOPIC: `bench.dlq-${bench}-${runId}`,
    SYNC_EVENTS_TOPIC: `bench.sync-events-${bench}-${runId}`,
    STATE_DATABASE_URL: stateUrl,
    ODOO_DATABASE_URL,
  };
}
