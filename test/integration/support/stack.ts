/**
 * Access to the real local stack for integration tests: Kafka, Kafka Connect, the registry and PostgreSQL, as
 * started by `scripts/stack up`. Nothing here is a mock.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { testPool } from '../../support/pg';
import { applyReset, targetOffsets } from '../../../src/adapters/kafka/groups';
import { createKafka, startGroupAtEnd } from '../../../src/adapters/kafka/kafka';

export const ROOT = join(__dirname, '..', '..', '..');
export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
export const CONNECT_URL = process.env.CONNECT_URL ?? 'http://127.0.0.1:8083';
export const REGISTRY_URL = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';
/** the tests' own Odoo handle: the owner of Odoo's tables (TEST_ODOO_DATABASE_URL: test/setup-env.ts) */
export const ODOO_DATABASE_URL =
  process.env.TEST_ODOO_DATABASE_URL ??
  process.env.ODOO_DATABASE_URL ??
  'postgresql://odoo@127.0.0.1:5432/odoo';
export const STATE_DATABASE_URL =
  process.env.STATE_DATABASE_URL ?? 'postgresql://sync@127.0.0.1:5432/odoo_opencell_sync';
/** the Debezium connector's replication slot (connectors/odoo-billing.json slot.name, or DEBEZIUM_SLOT_NAME) */
export const DEBEZIUM_SLOT = process.env.DEBEZIUM_SLOT_NAME ?? 'odoo_billing';

let kafka: Kafka | undefined;
export function testKafka(): Kafka {
  kafka ??= createKafka({ brokers: KAFKA_BROKERS }, 'integration-tests');
  return kafka;
}

let odoo: Pool | undefined;
export function odooDb(): Pool {
  odoo ??= testPool({ connectionString: ODOO_DATABASE_URL, max: 4 });
  return odoo;
}

let state: Pool | undefined;
export function stateDb(): Pool {
  state ??= testPool({ connectionString: STATE_DATABASE_URL, max: 4 });
  return state;
}

export async function closeStackClients(): Promise<void> {
  await odoo?.end();
  await state?.end();
  odoo = undefined;
  state = undefined;
}

export function stackScript(...args: string[]): string {
  return execFileSync('bash', [join(ROOT, 'scripts', 'stack'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function stackHealthy(): boolean {
  try {
    const out = stackScript('status');
    return ['kafka', 'connect', 'registry', 'connector'].every((p) =>
      new RegExp(`${p}\\s+healthy`).test(out),
    );
  } catch {
    return false;
  }
}

export function pidOf(part: 'kafka' | 'connect' | 'registry'): number {
  // scripts/stack keeps its PID files in STACK_RUN (default .run)
  return Number(
    readFileSync(join(process.env.STACK_RUN ?? join(ROOT, '.run'), `${part}.pid`), 'utf8').trim(),
  );
}

/**
 * Moves an idle group back to the earliest offsets of `topics`, as `resync --to earliest` does (one member joins
 * once; kafkajs admin.resetOffsets waits out a 5 s fetch per topic).
 */
export async function resetGroupToEarliest(groupId: string, topics: string[]): Promise<void> {
  await resetGroup(groupId, topics, { kind: 'earliest' });
}

/** Moves a group without members to the first offsets at or after `timestamp` (epoch ms) of its topics. */
export async function resetGroupToTime(groupId: string, topics: string[], timestamp: number): Promise<void> {
  await resetGroup(groupId, topics, { kind: 'time', timestamp, iso: new Date(timestamp).toISOString() });
}

async function resetGroup(
  groupId: string,
  topics: string[],
  to: Parameters<typeof targetOffsets>[2],
): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const targets = await targetOffsets(admin, topics, to);
    const rows = [...targets].map(([key, target]) => {
      const at = key.lastIndexOf('/');
      return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)), target };
    });
    await applyReset(testKafka(), admin, groupId, rows);
  } finally {
    await admin.disconnect();
  }
}

export const uniqueSuffix = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

export async function eventually<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`,
  );
}

/** The state database URL whose sessions see only `schema` (a ledger and outbox of a test's own). */
export function stateUrlFor(schema: string): string {
  return `${STATE_DATABASE_URL}${STATE_DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** Creates `schema` in the state database and applies the state migrations (schemas/state/*.sql) inside it. */
export async function createStateSchema(schema: string): Promise<void> {
  const c = await stateDb().connect();
  try {
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(`SET search_path TO ${schema}`);
    const dir = join(ROOT, 'schemas', 'state');
    for (const f of readdirSync(dir)
      .filter((x) => x.endsWith('.sql'))
      .sort())
      await c.query(readFileSync(join(dir, f), 'utf8'));
  } finally {
    await c.query('RESET search_path').catch(() => undefined);
    c.release();
  }
}

/** startGroupAtEnd (src/adapters/kafka/kafka.ts) through the tests' own Kafka client. */
export async function startGroupAtEnds(groupId: string, topics: readonly string[]): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await startGroupAtEnd(testKafka(), admin, groupId, topics);
  } finally {
    await admin.disconnect();
  }
}
