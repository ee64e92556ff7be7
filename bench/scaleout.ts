/**
 * Scale-out (issue 17 §5): one projector process against `processes` projector processes in one consumer group,
 * draining the same backlog of real intents while the OpenCell sandbox adds `latencyMs` to every call (OpenCell's
 * latency dominates, as in production). Each process has the configured OPENCELL_CONCURRENCY; the intents topic has
 * INTENTS_PARTITIONS partitions, which the group spreads over the processes.
 *
 * Feed as in bench/concurrency.ts: partners with a contract row and their customers in the sandbox; rounds of
 * street updates committed in Odoo (round r of every partner before round r+1), turned into intents by a router
 * process, which then stops. Each phase drains the whole intents topic with a consumer group and a state database
 * of its own (a fresh ledger: the same intents are applied again, the same calls made). Rate = state-changing
 * intents (PUT /account/customer) per second from the moment the group is stable with all its members to the end of
 * the last call; the phase's whole drain (first → last call) is shown beside it. Order: each customer's PUT bodies
 * must carry its rounds in commit order within each phase.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import { loadConfig } from '../src/core/config';
import { OpenCellClient } from '../src/adapters/opencell/client';
import { ensurePipelineTopics } from '../src/flows/projection/stages';
import { startOpenCellSandbox, type JournalEntry } from '../testkit/sandbox/opencell';
import {
  benchKafka,
  debeziumBarrier,
  freshStateDb,
  groupLag,
  ODOO_DATABASE_URL,
  pool,
  prepareContractPartners,
  ROOT,
  setRouterOffsets,
  sleep,
  suffix,
  topicSize,
  waitFor,
} from './common';
import {
  cpuSeconds,
  loggedRetries,
  memoryMiB,
  pipelineProcessEnv,
  spawnPipeline,
  type PipelineProcess,
} from './processes';

export interface ScaleoutOptions {
  partners: number;
  updatesPerPartner: number;
  latencyMs: number;
  processes: number;
}

interface Call {
  time: number;
  end: number;
  put: boolean;
  customer?: number;
  round?: number;
}

export async function runScaleoutBench(o: ScaleoutOptions, log: (s: string) => void = console.log) {
  const runId = suffix();
  const tagRe = new RegExp(`Scale ${runId} (\\d+) (\\d+)`);
  let calls: Call[] | undefined;
  const onRequest = (e: JournalEntry) => {
    if (!calls) return;
    const put = e.method === 'PUT' && e.path === '/account/customer';
    const m = put ? tagRe.exec(JSON.stringify(e.body ?? '')) : null;
    calls.push({
      time: e.time,
      end: e.time + e.durationMs,
      put,
      ...(m ? { customer: Number(m[1]), round: Number(m[2]) } : {}),
    });
  };
  const logDir = join(ROOT, '.run', 'bench', `scaleout-${runId}`);
  mkdirSync(logDir, { recursive: true });
  const sandbox = await startOpenCellSandbox({ port: 0, onRequest, journalLimit: 10_000 });
  const routerState = await freshStateDb('scaleout_router');
  const env = pipelineProcessEnv(sandbox, 'scaleout', runId, routerState);
  const config = loadConfig(env);
  const db = new Pool({ connectionString: ODOO_DATABASE_URL, max: 8, application_name: 'bench-scaleout' });
  const admin = benchKafka().admin();
  await admin.connect();
  const procs: PipelineProcess[] = [];
  try {
    await ensurePipelineTopics(benchKafka(), config);
    log(`scaleout: preparing ${o.partners} partners with contracts, customers in the sandbox…`);
    const client = new OpenCellClient({ ...config.opencell });
    const prepared = await prepareContractPartners(db, client, o.partners, runId, 'scale');
    client.close();
    await debeziumBarrier(db);
    const routerGroup = `bench-router-scaleout-${runId}`;
    await setRouterOffsets(routerGroup, config, 'latest');
    const router = await spawnPipeline({
      env,
      roles: ['router'],
      groups: { router: routerGroup },
      label: 'router',
    });
    procs.push(router);
    const before = await topicSize(admin, config.topics.intents);
    log(`scaleout: committing ${o.partners * o.updatesPerPartner} updates…`);
    for (let r = 0; r < o.updatesPerPartner; r++)
      await pool(prepared, 8, (p, i) =>
        db.query(`UPDATE res_partner SET street = $2, write_date = now() WHERE id = $1`, [
          p.id,
          `Scale ${runId} ${i} ${r}`,
        ]),
      );
    const expected = before + o.partners * o.updatesPerPartner;
    await waitFor(
      async () => ((await topicSize(admin, config.topics.intents)) >= expected ? true : undefined),
      600_000,
      'the intents',
      500,
    );
    await waitFor(
      async () =>
        (await groupLag(admin, routerGroup, [`${config.topics.prefix}.public.res_partner`])) === 0
          ? true
          : undefined,
      120_000,
      'router caught up',
      500,
    );
    await router.stop();
    procs.splice(0);
    const intents = (await topicSize(admin, config.topics.intents)) - before;
    log(
      `scaleout: ${intents} intents in ${config.topics.intentsPartitions} partitions; ${o.latencyMs} ms per call`,
    );
    sandbox.faults.add({ kind: 'latency', latencyMs: o.latencyMs });

    const phase = async (n: number) => {
      const stateUrl = await freshStateDb(`scaleout_${n}`);
      const groupId = `bench-projector-scaleout-${n}-${runId}`;
      const phaseCalls: Call[] = [];
      calls = phaseCalls;
      const t0 = Date.now();
      const started = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          spawnPipeline({
            env: { ...env, STATE_DATABASE_URL: stateUrl },
            roles: ['projector'],
            groups: { projector: groupId },
            label: `projector ${i + 1}/${n}`,
            logFile: join(logDir, `projector-${n}-${i + 1}.log`),
          }),
        ),
      );
      procs.push(...started);
      const cpu0 = started.map((p) => cpuSeconds(p.pid) ?? 0);
      const rss = started.map(() => 0);
      const rssTimer = setInterval(
        () => started.forEach((p, i) => (rss[i] = Math.max(rss[i], memoryMiB(p.pid)?.rss ?? 0))),
        1000,
      );
      // the moment every member has its partitions (a member joining later makes the group rebalance)
      let stableAt: number | undefined;
      let drained = false;
      // and the group's states while draining (a rebalance after that shows as a state other than Stable)
      const states: { atSeconds: number; state: string; members: number }[] = [];
      const watchGroup = (async () => {
        while (!drained) {
          try {
            const g = (await admin.describeGroups([groupId])).groups[0];
            const last = states[states.length - 1];
            if (!last || last.state !== g.state || last.members !== g.members.length)
              states.push({
                atSeconds: Math.round((Date.now() - t0) / 100) / 10,
                state: g.state,
                members: g.members.length,
              });
            if (stableAt === undefined && g.state === 'Stable' && g.members.length === n)
              stableAt = Date.now();
          } catch {
            /* retried */
          }
          await sleep(100);
        }
      })();
      await waitFor(
        async () => ((await groupLag(admin, groupId, [config.topics.intents])) === 0 ? true : undefined),
        1_800_000,
        `the ${n}-process group drained`,
        250,
      );
      drained = true;
      await watchGroup;
      const cpu = started.map((p, i) => Math.round(((cpuSeconds(p.pid) ?? 0) - cpu0[i]) * 100) / 100);
      clearInterval(rssTimer);
      calls = undefined;
      await Promise.all(started.map((p) => p.stop()));
      const retries = started.map((p) => loggedRetries(p.stderr()));
      procs.splice(0);
      phaseCalls.sort((a, b) => a.time - b.time);
      const first = phaseCalls[0]?.time ?? t0;
      const last = phaseCalls.reduce((m, c) => Math.max(m, c.end), first);
      const from = stableAt ?? first;
      const steady = phaseCalls.filter((c) => c.time >= from);
      const steadyS = (last - from) / 1000;
      const wholeS = (last - first) / 1000;
      const puts = phaseCalls.filter((c) => c.put).length;
      const rounds = new Map<number, number[]>();
      for (const c of phaseCalls)
        if (c.customer !== undefined) rounds.set(c.customer, [...(rounds.get(c.customer) ?? []), c.round!]);
      let outOfOrder = 0;
      for (const rs of rounds.values())
        for (let k = 1; k < rs.length; k++) if (rs[k] < rs[k - 1]) outOfOrder++;
      const r1 = (x: number) => Math.round(x * 10) / 10;
      return {
        processes: n,
        calls: phaseCalls.length,
        puts,
        // from the spawn of the processes
        stableAfterSeconds: stableAt ? r1((stableAt - t0) / 1000) : null,
        firstCallAfterSeconds: r1((first - t0) / 1000),
        steadySeconds: r1(steadyS),
        intentsPerSec: r1(steady.filter((c) => c.put).length / steadyS),
        callsPerSec: r1(steady.length / steadyS),
        wholeDrainSeconds: r1(wholeS),
        wholeDrainIntentsPerSec: r1(puts / wholeS),
        // calls in flight at the sandbox on average, and a call's mean time there (latency + the sandbox's own work):
        // in flight well under processes × OPENCELL_CONCURRENCY means the processes are not sending enough
        avgInFlight: r1(phaseCalls.reduce((a, c) => a + (c.end - c.time), 0) / (last - first)),
        meanCallMs: r1(phaseCalls.reduce((a, c) => a + (c.end - c.time), 0) / (phaseCalls.length || 1)),
        customersWithPuts: rounds.size,
        outOfOrder,
        groupStates: states,
        // retriable failures per process (e.g. PostgreSQL out of connection slots: each process has two pools)
        retriesPerProcess: retries,
        cpuSecondsPerProcess: cpu,
        peakRssMiBPerProcess: rss,
      };
    };
    log(`scaleout: 1 projector process…`);
    const one = await phase(1);
    log(
      `scaleout: 1 → ${one.intentsPerSec} intents/s (${one.callsPerSec} calls/s), ${one.outOfOrder} out of order`,
    );
    log(`scaleout: ${o.processes} projector processes…`);
    const many = await phase(o.processes);
    log(
      `scaleout: ${o.processes} → ${many.intentsPerSec} intents/s (${many.callsPerSec} calls/s), ${many.outOfOrder} out of order`,
    );
    const ideal = config.opencell.concurrency / (o.latencyMs / 1000) / 2; // two calls per intent (GET + PUT)
    return {
      latencyMs: o.latencyMs,
      concurrencyPerProcess: config.opencell.concurrency,
      intentsPartitions: config.topics.intentsPartitions,
      partners: o.partners,
      updates: o.partners * o.updatesPerPartner,
      intents,
      idealIntentsPerSecPerProcess: ideal,
      one,
      many,
      ratio: Math.round((many.intentsPerSec / one.intentsPerSec) * 100) / 100,
      wholeDrainRatio: Math.round((many.wholeDrainIntentsPerSec / one.wholeDrainIntentsPerSec) * 100) / 100,
    };
  } finally {
    calls = undefined;
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    await admin.disconnect();
    await sandbox.close();
    await db.end();
  }
}
