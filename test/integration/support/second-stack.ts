/**
 * A second local stack next to the shared one (scripts/stack with its own STACK_RUN, ports moved by
 * STACK_PORT_OFFSET, its own Odoo / state databases and replication slot on the shared PostgreSQL): three brokers for
 * the broker-kill scenario (with the shared registry), or the secure stack of the security tests (SASL_SSL on Kafka,
 * HTTPS and Basic auth on Kafka Connect's REST API, a registry of its own on HTTPS). The test that starts one resets it
 * at the end, which also drops its replication slot (an idle slot would retain WAL on the shared server).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './stack';

const run = promisify(execFile);

export interface SecondStackOptions {
  /** names the run folder, the databases and the slot */
  name: string;
  brokers: 1 | 3;
  secure?: boolean;
  /** added to every Kafka / Connect port (9092 → 9092 + offset) */
  portOffset: number;
}

/**
 * The SASL_SSL stack of test/integration/kafka-sasl-ssl.test.ts. SECURE_STACK_PORT_OFFSET moves it off 300 when
 * another secure stack runs on the same box.
 */
export const SECURE_STACK: SecondStackOptions = {
  name: 'secure',
  brokers: 1,
  secure: true,
  portOffset: Number(process.env.SECURE_STACK_PORT_OFFSET ?? 300),
};

export class SecondStack {
  readonly env: Record<string, string>;
  readonly runDir: string;
  readonly opts: SecondStackOptions;
  /** the name it was given (SECOND_STACK_STARTED names it so), before a stack of one's own moved it */
  private readonly givenName: string;

  constructor(opts: SecondStackOptions) {
    this.givenName = opts.name;
    // Beside a stack of one's own (STACK_PORT_OFFSET, test/setup-env.ts) this one moves by as much and takes
    // names of its own, so two runs of the suite on one machine do not share ports, databases or slots.
    const own = Number(process.env.STACK_PORT_OFFSET ?? 0);
    this.opts = own ? { ...opts, name: `${opts.name}${own}`, portOffset: opts.portOffset + own } : opts;
    opts = this.opts;
    this.runDir = join(ROOT, `.run-${opts.name}`);
    this.env = {
      STACK_RUN: this.runDir,
      STACK_CACHE: process.env.STACK_CACHE ?? join(ROOT, '.cache', 'stack'),
      STACK_PORT_OFFSET: String(opts.portOffset),
      // the secure stack's registry is on HTTPS (SCHEMA_REGISTRY_CA): one of its own; the others use the shared one
      STACK_REGISTRY: opts.secure ? '1' : '0',
      ODOO_DB_NAME: `odoo_${opts.name}`,
      STATE_DB_NAME: `odoo_opencell_sync_${opts.name}`,
      DEBEZIUM_SLOT_NAME: `odoo_billing_${opts.name}`,
      // small heaps: the box has 2 cores and other stacks run beside this one
      KAFKA_HEAP: '-Xms64m -Xmx256m',
      CONNECT_HEAP: '-Xms64m -Xmx384m',
    };
  }

  private script(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run('bash', [join(ROOT, 'scripts', 'stack'), ...args], {
      env: { ...process.env, ...this.env },
      maxBuffer: 16 * 2 ** 20,
    });
  }

  /**
   * Starts it (a fresh one: whatever an earlier run left is reset first) — unless SECOND_STACK_STARTED names it
   * (scripts/test starts the secure stack in the background while the integration suite runs): then it is only
   * waited for (`scripts/stack up` starts what is not running and waits for health).
   */
  async up(): Promise<void> {
    const started = (process.env.SECOND_STACK_STARTED ?? '').split(',').includes(this.givenName);
    if (!started) await this.reset();
    const args = ['up', '--brokers', String(this.opts.brokers), ...(this.opts.secure ? ['--secure'] : [])];
    try {
      await this.script(...args);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`scripts/stack ${args.join(' ')} failed: ${err.stderr?.slice(-3000) ?? err.message}`, {
        cause: e,
      });
    }
  }

  /** Stops it and deletes its data, databases and replication slot. */
  async reset(): Promise<void> {
    await this.script('reset');
  }

  async startBroker(node: number): Promise<void> {
    await this.script('start-broker', String(node));
  }

  async status(): Promise<string> {
    return (await this.script('status')).stdout;
  }

  get brokers(): string[] {
    return Array.from(
      { length: this.opts.brokers },
      (_, i) => `127.0.0.1:${9092 + this.opts.portOffset + 2 * i}`,
    );
  }

  get connectUrl(): string {
    return `${this.opts.secure ? 'https' : 'http'}://127.0.0.1:${8083 + this.opts.portOffset}`;
  }

  /** the secure stack's own registry (HTTPS only) */
  get registryUrl(): string {
    return `https://127.0.0.1:${8081 + this.opts.portOffset}/apis/ccompat/v7`;
  }

  get odooDatabaseUrl(): string {
    return `postgresql://odoo@127.0.0.1:5432/${this.env.ODOO_DB_NAME}`;
  }

  get stateDatabaseUrl(): string {
    return `postgresql://sync@127.0.0.1:5432/${this.env.STATE_DB_NAME}`;
  }

  /** PID of Kafka node `node` (1-based), from scripts/stack's PID file. */
  brokerPid(node: number): number {
    const name = node === 1 ? 'kafka' : `kafka-${node}`;
    return Number(readFileSync(join(this.runDir, `${name}.pid`), 'utf8').trim());
  }

  /**
   * --secure: the pipeline's settings the script wrote: Kafka's (KAFKA_SASL_*, KAFKA_SSL*, KAFKA_BROKERS), Kafka
   * Connect's (CONNECT_URL, CONNECT_CA, CONNECT_USERNAME, CONNECT_PASSWORD) and the registry's (SCHEMA_REGISTRY_URL,
   * SCHEMA_REGISTRY_CA).
   */
  clientEnv(): Record<string, string> {
    const text = readFileSync(join(this.runDir, 'secure', 'client.env'), 'utf8');
    return Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }
}

let shared: { stack: SecondStack; up: () => Promise<void> } | undefined;

/**
 * The secure stack, one for every test file of a mocha run that uses it (the SASL_SSL pipeline, Kafka Connect's and
 * the registry's HTTPS): started (or waited for) once, by the first `up()`, and reset once after the whole run. Call
 * it at a spec file's top level: the first call registers that reset as a root-level `after` hook.
 */
export function sharedSecureStack(): { stack: SecondStack; up: () => Promise<void> } {
  if (!shared) {
    const stack = new SecondStack(SECURE_STACK);
    let started: Promise<void> | undefined;
    shared = { stack, up: () => (started ??= stack.up()) };
    after(async function () {
      this.timeout(120_000);
      if (started && !process.env.KEEP_SECOND_STACK) await stack.reset().catch(() => undefined);
    });
  }
  return shared;
}

/**
 * `tsx test/integration/support/second-stack.ts up secure`: scripts/test starts the secure stack this way in the
 * background while the integration suite runs, so that its test (run next with SECOND_STACK_STARTED=secure) only
 * waits for it; `reset secure` stops it and drops its databases and slot.
 */
if (require.main === module) {
  const [cmd, name] = process.argv.slice(2);
  if (name !== SECURE_STACK.name || (cmd !== 'up' && cmd !== 'reset')) {
    process.stderr.write(`usage: second-stack.ts up|reset ${SECURE_STACK.name}\n`);
    process.exit(2);
  }
  const stack = new SecondStack(SECURE_STACK);
  (cmd === 'up' ? stack.up() : stack.reset()).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
