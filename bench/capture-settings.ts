/**
 * The capture's CPU per change with one connector setting at two values, alternated in short rounds on the running
 * stack (capture only: no pipeline process). Rounds alternate so that the drift of a long-lived stack (tables and
 * topics growing, JIT, other work on the box) falls on both values alike; a value's figures are only compared with
 * the rounds beside them. `npx tsx bench/capture-settings.ts [--setting=provide.transaction.metadata]
 * [--values=true,false] [--rounds=3] [--rate=1000] [--seconds=30]`; the connector is left at its file's value
 * (connectors/odoo-billing.json) at the end. Load: autocommit street updates of the Odoo database's last 3,000
 * partners, paced by the clock; measured: the Connect (Debezium) and Kafka JVMs (STACK_RUN pid files) and the
 * connector's logical walsender (PostgreSQL's work for the capture), each in CPU-seconds per 1,000 changes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import fetch from 'node-fetch';
import { ODOO_DATABASE_URL, ROOT, sleep } from './common';
import { cpuSeconds, stackPids } from './processes';

const CONNECT_URL = process.env.CONNECT_URL ?? 'http://127.0.0.1:8083';
const CONNECTOR = 'odoo-billing';
const arg = (name: string, dflt: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;

async function connectorConfig(): Promise<Record<string, string>> {
  const r = await fetch(`${CONNECT_URL}/connectors/${CONNECTOR}/config`);
  if (!r.ok) throw new Error(`GET connector config: ${r.status}`);
  return (await r.json()) as Record<string, string>;
}

/** Puts the setting and waits until the task runs again (and a few seconds for the slot to stream). */
async function setSetting(key: string, value: string): Promise<void> {
  const cfg = await connectorConfig();
  if (cfg[key] === value) return;
  const r = await fetch(`${CONNECT_URL}/connectors/${CONNECTOR}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...cfg, [key]: value }),
  });
  if (!r.ok) throw new Error(`PUT connector config: ${r.status} ${await r.text()}`);
  for (let i = 0; i < 60; i++) {
    await sleep(1000);
    const s = (await (await fetch(`${CONNECT_URL}/connectors/${CONNECTOR}/status`)).json()) as {
      connector: { state: string };
      tasks: { state: string }[];
    };
    if (s.connector.state === 'RUNNING' && s.tasks[0]?.state === 'RUNNING') break;
  }
  await sleep(5000);
}

async function main() {
  const key = arg('setting', 'provide.transaction.metadata');
  const values = arg('values', 'true,false').split(',');
  const rounds = Number(arg('rounds', '3'));
  const rate = Number(arg('rate', '1000'));
  const seconds = Number(arg('seconds', '30'));
  const pids = stackPids();
  if (!pids.connect || !pids.kafka)
    throw new Error('no connect/kafka pid files: start the stack (or set STACK_RUN)');
  const db = new Pool({ connectionString: ODOO_DATABASE_URL, max: 16 });
  const fileValue = (
    JSON.parse(readFileSync(join(ROOT, 'connectors', `${CONNECTOR}.json`), 'utf8')) as Record<string, string>
  )[key];
  try {
    const slot = (await connectorConfig())['slot.name'];
    const ids = (
      await db.query<{ id: number }>('SELECT id FROM res_partner ORDER BY id DESC LIMIT 3000')
    ).rows.map((r) => r.id);
    let seq = Date.now();
    /** Commits `rate` street updates a second for `ms`; resolves with how many. */
    const load = async (ms: number): Promise<number> => {
      const t0 = Date.now();
      let n = 0;
      const inflight = new Set<Promise<unknown>>();
      while (Date.now() - t0 < ms) {
        const due = Math.floor(((Date.now() - t0) / 1000) * rate);
        for (; n < due; n++) {
          const p = db.query('UPDATE res_partner SET street = $2, write_date = now() WHERE id = $1', [
            ids[n % ids.length],
            `capture-settings ${seq++}`,
          ]);
          inflight.add(p);
          void p.finally(() => inflight.delete(p));
        }
        await sleep(5);
      }
      await Promise.all(inflight);
      return n;
    };
    for (let round = 1; round <= rounds; round++) {
      for (const value of values) {
        await setSetting(key, value);
        await load(8000); // warm-up after the task's restart
        const walsender = (
          await db.query<{ pid: number }>(
            'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
            [slot],
          )
        ).rows[0]?.pid;
        const before = [
          cpuSeconds(pids.connect),
          cpuSeconds(pids.kafka),
          walsender ? cpuSeconds(walsender) : 0,
        ];
        const n = await load(seconds * 1000);
        await sleep(1500); // the last changes captured
        const after = [
          cpuSeconds(pids.connect),
          cpuSeconds(pids.kafka),
          walsender ? cpuSeconds(walsender) : 0,
        ];
        const per1k = (i: number) =>
          Math.round((((after[i] ?? 0) - (before[i] ?? 0)) / n) * 1000 * 1000) / 1000;
        console.log(
          JSON.stringify({
            round,
            [key]: value,
            changes: n,
            debezium: per1k(0),
            kafka: per1k(1),
            walsender: per1k(2),
          }),
        );
      }
    }
  } finally {
    if (fileValue !== undefined) await setSetting(key, fileValue);
    await db.end();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
