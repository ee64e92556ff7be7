/**
 * Benchmark 3 — downstream concurrency. The sandbox adds `latencyMs` to every OpenCell call; we measure the
 * projector's throughput of distinct-key updates against the ideal concurrency ÷ latency (concurrency =
 * OPENCELL_CONCURRENCY), and check per-customer order.
 *
 * Feed: real intents. `partners` Odoo partners (with a contract row, so the router routes their address changes)
 * whose OpenCell customers are created in the sandbox directly; then `updatesPerPartner` rounds of street updates
 * are committed in Odoo (round r of every partner before round r+1), the real router turns them into intents
 * (one update_customer per change, which also moves the accounts' address) while the projector is stopped, and only then the
 * projector is started alone and drains the intents topic: that drain is what is measured (window = first to last
 * sandbox call). Order: each customer's PUT /account/customer bodies must carry its rounds in commit order.
 */
import { Pool } from 'pg';
import { insertPartner } from '../testkit/demo-seed';
import { OpenCellClient } from '../src/adapters/opencell/client';
import type { JournalEntry } from '../testkit/sandbox/opencell';
import {
  benchKafka,
  createSandboxCustomer,
  debeziumBarrier,
  groupLag,
  ODOO_DATABASE_URL,
  pool,
  RssSampler,
  startBenchPipeline,
  suffix,
  topicSize,
  waitFor,
} from './common';

export interface ConcurrencyOptions {
  partners: number;
  updatesPerPartner: number;
  latencyMs: number;
}

export async function runConcurrencyBench(o: ConcurrencyOptions, log: (s: string) => void = console.log) {
  const rss = new RssSampler();
  const runId = suffix();
  const tagRe = new RegExp(`Conc ${runId} (\\d+) (\\d+)`);
  const db = new Pool({ connectionString: ODOO_DATABASE_URL, max: 8, application_name: 'bench-concurrency' });
  const calls: JournalEntry[] = [];
  let measuring = false;
  const prepared: { id: number; ref: string }[] = [];
  const t0 = Date.now();
  const bp = await startBenchPipeline({
    name: 'concurrency',
    start: false,
    onRequest: (e) => void (measuring && calls.push(e)),
    before: async (sandbox, config) => {
      log(`concurrency: preparing ${o.partners} partners (Odoo) and their customers (sandbox)…`);
      const ids = await pool(
        Array.from({ length: o.partners }, (_, i) => i),
        4,
        async (i) => {
          const c = await db.connect();
          try {
            const p = await insertPartner(c, {
              email: `bench-conc-${runId}-${i}@example.org`,
              lang: 'ca_ES',
            });
            return { id: p.id, ref: p.ref! };
          } finally {
            c.release();
          }
        },
      );
      prepared.push(...ids);
      // One active contract row each (the router only routes partner changes of partners with contracts).
      await db.query(
        `INSERT INTO contract_contract (name, code, partner_id, invoice_partner_id, company_id, active, date_start,
                                        service_technology_id, service_supplier_id)
         SELECT 'bench conc ' || p, 'BCONC-${runId}-' || p, p, p, 1, true, CURRENT_DATE, 1, 1
           FROM unnest($1::int[]) AS p`,
        [ids.map((x) => x.id)],
      );
      const client = new OpenCellClient({ ...config.opencell });
      await pool(ids, 8, (p) => createSandboxCustomer(client, p.ref, `conc ${p.id}`));
      client.close();
      await debeziumBarrier(db);
      log(
        `concurrency: prepared in ${((Date.now() - t0) / 1000).toFixed(1)} s; sandbox ${sandbox.state.customers.size} customers`,
      );
    },
  });
  const admin = benchKafka().admin();
  await admin.connect();
  try {
    const concurrency = bp.config.opencell.concurrency;
    const partitions = bp.config.topics.intentsPartitions;
    // 1. Router only: commit the updates, let them become intents.
    await bp.startPipeline(['router']);
    const before = await topicSize(admin, bp.config.topics.intents);
    log(`concurrency: committing ${o.partners * o.updatesPerPartner} updates…`);
    for (let r = 0; r < o.updatesPerPartner; r++) {
      await pool(prepared, 8, (p, i) =>
        db.query(`UPDATE res_partner SET street = $2, write_date = now() WHERE id = $1`, [
          p.id,
          `Conc ${runId} ${i} ${r}`,
        ]),
      );
    }
    const expected = before + o.partners * o.updatesPerPartner; // one intent per address change
    await waitFor(
      async () => ((await topicSize(admin, bp.config.topics.intents)) >= expected ? true : undefined),
      300_000,
      'the intents',
      500,
    );
    await waitFor(
      async () =>
        (await groupLag(admin, bp.groups.router, [`${bp.config.topics.prefix}.public.res_partner`])) === 0
          ? true
          : undefined,
      120_000,
      'router caught up',
      500,
    );
    await bp.stopPipeline();
    const intents = (await topicSize(admin, bp.config.topics.intents)) - before;
    log(
      `concurrency: ${intents} intents routed; starting the projector with ${o.latencyMs} ms added to every call`,
    );

    // 2. Projector only, with latency: drain.
    bp.sandbox.faults.add({ kind: 'latency', latencyMs: o.latencyMs });
    measuring = true;
    await bp.startPipeline(['projector']);
    await waitFor(
      async () =>
        (await groupLag(admin, bp.groups.projector, [bp.config.topics.intents])) === 0 ? true : undefined,
      900_000,
      'projector drained',
      500,
    );
    measuring = false;
    await bp.stopPipeline();

    // 3. Figures.
    calls.sort((a, b) => a.time - b.time);
    const first = calls[0]?.time ?? 0;
    const last = calls.length ? Math.max(...calls.map((c) => c.time + c.durationMs)) : 0;
    const windowS = (last - first) / 1000;
    const busyMs = calls.reduce((s, c) => s + c.durationMs, 0);
    // peak in-flight from arrival/finish events
    const ev = calls
      .flatMap((c) => [
        { t: c.time, d: 1 },
        { t: c.time + c.durationMs, d: -1 },
      ])
      .sort((a, b) => a.t - b.t || a.d - b.d);
    let cur = 0;
    let peak = 0;
    for (const e of ev) peak = Math.max(peak, (cur += e.d));
    const byPath = new Map<string, number>();
    for (const c of calls)
      byPath.set(`${c.method} ${c.path}`, (byPath.get(`${c.method} ${c.path}`) ?? 0) + 1);
    // order per customer
    const rounds = new Map<number, number[]>();
    for (const c of calls) {
      if (!(c.method === 'PUT' && c.path === '/account/customer')) continue;
      const m = tagRe.exec(JSON.stringify(c.body ?? ''));
      if (!m) continue;
      const i = Number(m[1]);
      rounds.set(i, [...(rounds.get(i) ?? []), Number(m[2])]);
    }
    let outOfOrder = 0;
    let missingCustomers = 0;
    for (let i = 0; i < o.partners; i++) {
      const rs = rounds.get(i);
      if (!rs) {
        missingCustomers++;
        continue;
      }
      for (let k = 1; k < rs.length; k++) if (rs[k] < rs[k - 1]) outOfOrder++;
    }
    const lastRoundSeen = [...rounds.values()].filter(
      (rs) => rs[rs.length - 1] === o.updatesPerPartner - 1,
    ).length;
    const ideal = concurrency / (o.latencyMs / 1000);
    const callsPerSec = calls.length / windowS;
    return {
      feed: 'real intents from Odoo commits through the router; projector started alone on the filled intents topic',
      latencyMs: o.latencyMs,
      concurrency,
      intentsPartitions: partitions,
      partners: o.partners,
      updates: o.partners * o.updatesPerPartner,
      intents,
      calls: calls.length,
      windowSeconds: Math.round(windowS * 10) / 10,
      callsPerSec: Math.round(callsPerSec * 10) / 10,
      intentsPerSec: Math.round((intents / windowS) * 10) / 10,
      idealCallsPerSec: ideal,
      ratioOfIdeal: Math.round((callsPerSec / ideal) * 1000) / 1000,
      avgInFlight: Math.round((busyMs / (last - first)) * 10) / 10,
      peakInFlight: peak,
      callsByPath: Object.fromEntries(byPath),
      customersWithPuts: rounds.size,
      customersWithoutPut: missingCustomers,
      customersEndingOnLastRound: lastRoundSeen,
      outOfOrder,
      projectorRetries: bp.counters['projector:retry']?.processed ?? 0,
      projectorPauses: bp.counters['projector:paused']?.processed ?? 0,
      prepSeconds: Math.round((Date.now() - t0) / 1000),
      peakRssMiB: rss.peakMiB(),
    };
  } finally {
    rss.stop();
    await admin.disconnect();
    await bp.stop();
    await db.end();
  }
}
