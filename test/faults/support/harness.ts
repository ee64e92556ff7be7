/**
 * Fault-test harness: the pipeline process under a supervisor (spawn, kill -9, graceful stop, restart on crash),
 * a switchable schema-registry proxy, a raw Kafka tap, and the summary the suite writes at the end.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Consumer, KafkaMessage } from 'kafkajs';
import { ROOT, testKafka, uniqueSuffix } from '../../integration/support/stack';

export interface WorkerEvent {
  type: string;
  [k: string]: unknown;
}

/** Runs test/faults/pipeline-process.ts as a child process, like a process manager would. */
export class WorkerSupervisor {
  /** processes started */
  runs = 0;
  kills = 0;
  gracefulStops = 0;
  /** exits nobody asked for (crashes), each followed by a restart */
  crashes = 0;
  /** every line the pipeline processes wrote to stdout and stderr */
  readonly lines: string[] = [];
  readonly events: WorkerEvent[] = [];
  private child: ChildProcess | undefined;
  private ready = false;
  private expectingExit = false;
  private supervising = true;
  private readyWaiters: (() => void)[] = [];

  constructor(private readonly env: Record<string, string>) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Starts a pipeline process (does not wait for readiness). */
  spawn(): void {
    this.runs++;
    this.ready = false;
    this.expectingExit = false;
    const child = spawn(
      process.execPath,
      ['--require', 'tsx/cjs', join(ROOT, 'test', 'faults', 'pipeline-process.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, ...this.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const onLines = (stream: NodeJS.ReadableStream, parse: boolean) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.lines.push(line);
          if (parse && line.startsWith('@@ ')) {
            try {
              const e = JSON.parse(line.slice(3)) as WorkerEvent;
              this.events.push({ ...e, at: Date.now(), run: this.runs });
              if (e.type === 'ready' && child === this.child) {
                this.ready = true;
                for (const w of this.readyWaiters.splice(0)) w();
              }
            } catch {
              /* a partial line of a killed process */
            }
          }
        }
      });
      stream.on('end', () => buf && this.lines.push(buf));
    };
    onLines(child.stdout!, true);
    onLines(child.stderr!, false);
    child.on('exit', (code, signal) => {
      if (child !== this.child) return;
      this.ready = false;
      if (this.expectingExit || !this.supervising) return;
      this.crashes++;
      this.lines.push(`[supervisor] worker exited unexpectedly (code ${code}, signal ${signal}); restarting`);
      setTimeout(() => {
        if (child === this.child && this.supervising) this.spawn();
      }, 1000);
    });
  }

  async waitReady(timeoutMs = 90_000): Promise<void> {
    if (this.ready) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`worker not ready after ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async start(): Promise<void> {
    this.supervising = true;
    this.spawn();
    await this.waitReady();
  }

  private async exitOf(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((r) => child.once('exit', () => r()));
  }

  /** kill -9 and wait until the process is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    this.kills++;
    child.kill('SIGKILL');
    await this.exitOf(child);
  }

  /** SIGSTOP / SIGCONT (a process pause, e.g. a long GC or a VM freeze): synchronous, the process stays alive. */
  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    const child = this.child;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    process.kill(child.pid, sig);
  }

  /** SIGTERM: graceful stop. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    this.gracefulStops++;
    child.kill('SIGTERM');
    await this.exitOf(child);
  }

  async restart(): Promise<void> {
    await this.stop();
    this.spawn();
    await this.waitReady();
  }

  async shutdown(): Promise<void> {
    this.supervising = false;
    await this.stop();
  }

  eventsOf(type: string): WorkerEvent[] {
    return this.events.filter((e) => e.type === type);
  }
}

export { switchableRegistry } from '../../integration/support/registry-proxy';

/** Collects every message of a topic from the beginning (own group), raw. */
export async function tapTopic(topic: string): Promise<{ messages: KafkaMessage[]; stop(): Promise<void> }> {
  const messages: KafkaMessage[] = [];
  const consumer: Consumer = testKafka().consumer({
    groupId: `fault-tap-${uniqueSuffix()}`,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void messages.push(message) });
  return { messages, stop: () => consumer.disconnect() };
}

export const header = (m: KafkaMessage, name: string): string | undefined => {
  const v = m.headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const randomBetween = (min: number, max: number) => min + Math.random() * (max - min);
