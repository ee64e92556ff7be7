/**
 * Benchmark 4 — resync. `partners` bench partners (ref BRSY-…, bulk INSERT … SELECT generate_series, inserted once
 * and reused by later runs) and `contracts` real contracts (partner + bank account + mandate + contract with its
 * lines, through the demo-seed helpers) in Odoo's database, streamed by Debezium. Pass 1: router + projector from
 * the earliest offset of the Debezium topics to completion (OpenCell sandbox; creates happen). Pass 2 (measured):
 * both groups reset to the earliest offset and replayed — events/s through the router (filter), wall time, and the
 * OpenCell create / state-changing calls during the replay (must be 0).
 */
import { mkdirSync } from 'node:fs';
import { Pool } from 'pg';
import {
  countryIdByCode,
  insertBankAccountAndMandate,
  insertContract,
  stateIdByCode,
} from '../testkit/demo-seed';
import { routerTopics } from '../src/flows/projection/stages';
import {
  benchKafka,
  debeziumBarrier,
  groupLag,
  isCreate,
  isStateChanging,
  ODOO_DATABASE_URL,
  percentile,
  pool,
  RssSampler,
  sleep,
  startBenchPipeline,
  suffix,
  topicSize,
  waitFor,
} from './common';
import { startChild, throughputOf, type BenchChild, type ChildThroughput } from './child-process';
import { PIPELINE_NODE_OPTIONS } from './processes';
import type { Counters } from './pipeline-process';

/** What a create call creates (its path and the codes in its body). */
function createKey(e: { path: string; body: unknown }): string {
  const b = (e.body ?? {}) as Record<string, unknown>;
  const services = (b.servicesToActivate as { service?: { code: string }[] } | undefined)?.service
    ?.map((x) => x.code)
    .join('+');
  return `${e.path} ${String(b.code ?? '')} ${String(b.subscription ?? '')} ${String(b.oneShotCharge ?? '')} ${services ?? ''}`.trim();
}

export interface ResyncOptions {
  partners: number;
  contracts: number;
  /**
   * Address changes of the partners with contracts (rounds of one UPDATE of `street` over all of them): the replay's
   * relevant share — each is routed to an update_customer intent that the projector finds finished — beside the
   * partner creations the router skips on their bytes (issue 17 §2: a resync of a real history, not of inserts only).
   */
  updates?: number;
  /** where the replay's router and projector write their CPU profiles (node --cpu-prof); none when absent */
  cpuProfDir?: string;
  /**
   * Rounds of the router alone beside the bare consumer after the replay (issue 17 §2's ratio, each a fresh group
   * from the earliest offset, the bare consumer then the router, in turn; default 3, 0 for none). In the replay the
   * projector replays its own topic beside the router on the same two cores, while the baseline reads alone.
   */
  aloneRounds?: number;
}

const DNI = 'TRWAGMYFPDXBNJZSQVHLCKE';

export async function runResyncBench(o: ResyncOptions, log: (s: string) => void = console.log) {
  const rss = new RssSampler();
  const db = new Pool({ connectionString: ODOO_DATABASE_URL, max: 6, application_name: 'bench-resync' });
  const t0 = Date.now();
  const admin = benchKafka().admin();
  await admin.connect();
  const bp = await startBenchPipeline({ name: 'resync', start: false, routerFrom: 'earliest' });
  if (o.cpuProfDir) mkdirSync(o.cpuProfDir, { recursive: true });
  try {
    // 1. Data (idempotent: only what is missing).
    const have = Number(
      (await db.query(`SELECT count(*) AS n FROM res_partner WHERE ref LIKE 'BRSY-%'`)).rows[0].n,
    );
    if (have < o.partners) {
      const country = await countryIdByCode(db, 'ES');
      const state = await stateIdByCode(db, 'B');
      log(`resync: inserting ${o.partners - have} partners…`);
      for (let from = have; from < o.partners; from += 20_000) {
        const to = Math.min(o.partners, from + 20_000) - 1;
        await db.query(
          `INSERT INTO res_partner (name, firstname, lastname, ref, lang, vat, email, mobile, street, full_street, zip, city,
             state_id, country_id, company_id, active, customer_rank, is_company, type, create_date, write_date)
           SELECT 'Bench ' || i || ' Resync', 'Bench', i || ' Resync', 'BRSY-' || i, 'ca_ES',
             'ES' || lpad((10000000 + i)::text, 8, '0') || substr($3, ((10000000 + i) % 23) + 1, 1),
             'brsy' || i || '@example.org', '6' || lpad(i::text, 8, '0'), 'Carrer Bench, ' || (i % 180 + 1),
             'Carrer Bench, ' || (i % 180 + 1), '080' || lpad((i % 100)::text, 2, '0'), 'Barcelona',
             $4, $5, 1, true, 1, false, 'contact', now(), now()
           FROM generate_series($1::int, $2::int) AS i`,
          [from, to, DNI, state, country],
        );
      }
    }
    const withContracts = Number(
      (
        await db.query(
          `SELECT count(DISTINCT c.partner_id) AS n FROM contract_contract c JOIN res_partner p ON p.id = c.partner_id WHERE p.ref LIKE 'BRSY-%'`,
        )
      ).rows[0].n,
    );
    if (withContracts < o.contracts) {
      const need = (
        await db.query<{ id: number }>(
          `SELECT p.id FROM res_partner p WHERE p.ref LIKE 'BRSY-%' AND NOT EXISTS (SELECT 1 FROM contract_contract c WHERE c.partner_id = p.id)
           ORDER BY p.id LIMIT $1`,
          [o.contracts - withContracts],
        )
      ).rows.map((r) => r.id);
      log(`resync: inserting ${need.length} contracts…`);
      await pool(need, 4, async (partnerId, i) => {
        const c = await db.connect();
        try {
          const m = await insertBankAccountAndMandate(c, partnerId);
          await insertContract(c, {
            partnerId,
            mandateId: m.mandateId,
            kind: i % 3 === 0 ? 'fiber' : 'mobile',
          });
        } finally {
          c.release();
        }
      });
    }
    // Rounds of address changes (each round one UPDATE of every contract partner's street; the round is in the
    // street, so a later run adds only the missing rounds).
    const updates = o.updates ?? 0;
    if (updates > 0) {
      const partnersWithContracts = Number(
        (
          await db.query(
            `SELECT count(DISTINCT c.partner_id) AS n FROM contract_contract c JOIN res_partner p ON p.id = c.partner_id WHERE p.ref LIKE 'BRSY-%'`,
          )
        ).rows[0].n,
      );
      const rounds = Math.ceil(updates / Math.max(1, partnersWithContracts));
      const done = Number(
        (
          await db.query(
            `SELECT coalesce(max(substring(street from '^Carrer Resync ([0-9]+)$')::int), 0) AS n FROM res_partner WHERE ref LIKE 'BRSY-%'`,
          )
        ).rows[0].n,
      );
      if (done < rounds) log(`resync: ${rounds - done} rounds of ${partnersWithContracts} address changes…`);
      for (let round = done + 1; round <= rounds; round++)
        await db.query(
          `UPDATE res_partner p SET street = 'Carrer Resync ' || $1::int, write_date = now()
            WHERE p.ref LIKE 'BRSY-%' AND EXISTS (SELECT 1 FROM contract_contract c WHERE c.partner_id = p.id)`,
          [round],
        );
    }
    await debeziumBarrier(db, bp.config.topics.prefix, 600_000);
    const topics = routerTopics(bp.config.topics.prefix);
    let events = 0;
    for (const t of topics) events += await topicSize(admin, t);
    log(
      `resync: data ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${events} events on the ${topics.length} router topics`,
    );

    const drain = async (what: string, router?: BenchChild, backlog = Infinity) => {
      const started = Date.now();
      let routerDone = 0;
      /** the router's counter and CPU time when it had finished the backlog (events in the topics at the start) */
      let throughBacklog: (Counters[string] & { cpuSeconds: number }) | undefined;
      await waitFor(
        async () => {
          const rc = router?.counters.router;
          if (!throughBacklog && rc && rc.processed >= backlog)
            throughBacklog = { ...rc, cpuSeconds: router!.cpuSeconds() };
          if (!routerDone && (await groupLag(admin, bp.groups.router, topics)) === 0) routerDone = Date.now();
          if (!routerDone) return undefined;
          return (await groupLag(admin, bp.groups.projector, [bp.config.topics.intents])) === 0
            ? true
            : undefined;
        },
        1_800_000,
        what,
        250,
      );
      const done = Date.now();
      // the router's counters arrive every 250 ms: when the projector finished in the same poll, wait for them
      if (router && !throughBacklog && Number.isFinite(backlog))
        await waitFor(
          () => {
            const rc = router.counters.router;
            if (rc && rc.processed >= backlog) throughBacklog = { ...rc, cpuSeconds: router.cpuSeconds() };
            return throughBacklog ? true : undefined;
          },
          10_000,
          'the router counters',
          50,
        ).catch(() => undefined);
      return { started, routerDone, done, throughBacklog };
    };
    // The router and the projector run as processes of their own (src/app/run.ts), as in production.
    const startStages = (cpuProfDir?: string) => ({
      router: startChild({ mode: 'run', roles: ['router'], groups: { router: bp.groups.router } }, bp.env, {
        name: 'router',
        cpuProfDir,
        nodeOptions: PIPELINE_NODE_OPTIONS.split(/\s+/),
      }),
      projector: startChild(
        { mode: 'run', roles: ['projector'], groups: { projector: bp.groups.projector } },
        bp.env,
        { name: 'projector', cpuProfDir, nodeOptions: PIPELINE_NODE_OPTIONS.split(/\s+/) },
      ),
    });

    // 2. Pass 1: to completion.
    log('resync: pass 1 (from the earliest offset, creates happen)…');
    const s1 = startStages();
    await Promise.all([s1.router.ready, s1.projector.ready]);
    const p1 = await drain('pass 1');
    await sleep(1000);
    const r1 = await s1.router.stop();
    const q1 = await s1.projector.stop();
    const pass1 = {
      wallSeconds: (p1.done - p1.started) / 1000,
      routerEvents: r1.counters.router?.processed ?? 0,
      projectorIntents: q1.counters.projector?.processed ?? 0,
      creates: bp.sandbox.journal.entries().filter((e) => isCreate(e) && e.status < 300).length,
      subscriptions: bp.sandbox.state.subscriptions.size,
    };
    log(`resync: pass 1 ${JSON.stringify(pass1)}`);
    // What pass 1 left unfinished (a replay may legitimately project it again: it was never applied).
    const state = new Pool({ connectionString: bp.env.STATE_DATABASE_URL, max: 1 });
    const unfinished = new Map(
      (
        await state.query<{ intent_id: string; outcome: string; error_code: string | null }>(
          `SELECT intent_id, outcome, error_code FROM ledger_intent WHERE outcome NOT IN ('applied', 'skipped')`,
        )
      ).rows.map((r) => [r.intent_id, `${r.outcome}${r.error_code ? ` ${r.error_code}` : ''}`]),
    );

    // 3. Baseline: a bare kafkajs consumer (new group, from the earliest offset, counting only) on the same topics,
    // just before the replay, in a process of its own like the router.
    const total = (await Promise.all(topics.map((t) => topicSize(admin, t)))).reduce((a, b) => a + b, 0);
    log(`resync: bare kafkajs consumer over ${total} events…`);
    const bare = startChild({ mode: 'bare', groupId: `bench-bare-${suffix()}`, topics }, bp.env, {
      name: 'bare',
      nodeOptions: PIPELINE_NODE_OPTIONS.split(/\s+/),
    });
    await bare.ready;
    const bareCpuAtStart = bare.cpuSeconds();
    await waitFor(
      () => ((bare.counters.bare?.processed ?? 0) >= total ? true : undefined),
      1_800_000,
      'the bare consumer',
      100,
    );
    const bareCpu = bare.cpuSeconds() - bareCpuAtStart;
    const b = await bare.stop();
    const bareC = b.counters.bare!;
    const bareSeconds = (bareC.last - bareC.first) / 1000;

    // 4. Pass 2: reset both groups to the earliest offset and replay.
    for (const topic of [...topics, bp.config.topics.intents]) {
      const group = topic === bp.config.topics.intents ? bp.groups.projector : bp.groups.router;
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId: group,
        topic,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.low })),
      });
    }
    const since = bp.sandbox.journal.lastSeq;
    const pass2At = new Date();
    const backlog = (await Promise.all(topics.map((t) => topicSize(admin, t)))).reduce((a, b) => a + b, 0);
    log(`resync: pass 2 (replay from the earliest offset, ${backlog} events)…`);
    const s2 = startStages(o.cpuProfDir);
    await Promise.all([s2.router.ready, s2.projector.ready]);
    const routerCpuAtStart = s2.router.cpuSeconds();
    const p2 = await drain('pass 2', s2.router, backlog);
    await sleep(1000);
    const r2 = await s2.router.stop();
    const q2 = await s2.projector.stop();
    const replayCalls = bp.sandbox.journal.entries({ since });
    const firstPass = new Set(
      bp.sandbox.journal
        .entries()
        .filter((e) => e.seq <= since && isCreate(e) && e.status < 300)
        .map(createKey),
    );
    const replayCreates = replayCalls.filter((e) => isCreate(e) && e.status < 300);
    const dups = replayCreates.filter((e) => firstPass.has(createKey(e)));
    if (replayCreates.length)
      log(`resync: creates during the replay: ${replayCreates.slice(0, 20).map(createKey).join(' | ')}`);
    // Intents of changes captured before the replay that made OpenCell calls in it: each was unfinished after
    // pass 1 (listed with its pass-1 outcome) or is a defect. Intents of changes made during the replay (other
    // sessions share the stack) are new work, counted apart.
    const reapplied = (
      await state.query<{ intent_id: string; kind: string; n: number }>(
        `SELECT intent_id, kind, jsonb_array_length(calls) AS n FROM ledger_intent
          WHERE created_at < $1 AND updated_at >= $1 AND outcome = 'applied' AND jsonb_array_length(calls) > 0`,
        [pass2At],
      )
    ).rows;
    const newDuringReplay = Number(
      (await state.query(`SELECT count(*) AS n FROM ledger_intent WHERE created_at >= $1`, [pass2At])).rows[0]
        .n,
    );
    await state.end();

    // 5. The router alone beside the bare consumer, alternated: the same topics, each a fresh group from the earliest
    // offset and a process of its own, nothing else running (the router finds every intent finished: it produces
    // none). The median of the rounds' ratios is the figure; a single pair moves with the host's load.
    const alone: { bare: ChildThroughput; router: ChildThroughput; ratio: number }[] = [];
    const rounds = o.aloneRounds ?? 3;
    for (let round = 1; round <= rounds; round++) {
      log(`resync: the router alone beside the bare consumer, round ${round} of ${rounds}…`);
      const nodeOptions = PIPELINE_NODE_OPTIONS.split(/\s+/);
      const bareRun = await throughputOf(
        startChild({ mode: 'bare', groupId: `bench-bare-${suffix()}`, topics }, bp.env, {
          name: 'bare',
          nodeOptions,
        }),
        'bare',
        total,
      );
      const routerRun = await throughputOf(
        startChild(
          { mode: 'run', roles: ['router'], groups: { router: `bench-router-alone-${suffix()}` } },
          bp.env,
          {
            name: 'router',
            nodeOptions,
          },
        ),
        'router',
        total,
      );
      alone.push({
        bare: bareRun,
        router: routerRun,
        ratio: Math.round((routerRun.perSec / bareRun.perSec) * 100) / 100,
      });
    }
    const median = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );

    const rc = r2.counters.router;
    const pc = q2.counters.projector;
    // The replay's rate: the events in the topics when it started, through the router (first event → the counter
    // that passed them); changes other sessions make meanwhile would stretch first → last with their own pace.
    const through = p2.throughBacklog ?? rc;
    const routerEvents = through?.processed ?? 0;
    const routerSeconds = through && rc ? (through.last - rc.first) / 1000 : NaN;
    const routerEventsPerSec = Math.round(routerEvents / routerSeconds);
    const bareEventsPerSec = Math.round(bareC.processed / bareSeconds);
    return {
      partners: o.partners,
      contracts: o.contracts,
      updates,
      topicEvents: events,
      pass1: { ...pass1, wallSeconds: Math.round(pass1.wallSeconds * 10) / 10 },
      bare: {
        events: bareC.processed,
        seconds: Math.round(bareSeconds * 10) / 10,
        eventsPerSec: bareEventsPerSec,
        cpuSecondsPer100kEvents: Math.round((bareCpu / bareC.processed) * 1e5 * 100) / 100,
      },
      replay: {
        wallSeconds: Math.round(((p2.done - p2.started) / 1000) * 10) / 10,
        routerEvents,
        routerSeconds: Math.round(routerSeconds * 10) / 10,
        routerEventsPerSec,
        ratioToBare: Math.round((routerEventsPerSec / bareEventsPerSec) * 100) / 100,
        projectorIntents: pc?.processed ?? 0,
        projectorSeconds: pc ? Math.round(((pc.last - pc.first) / 1000) * 10) / 10 : 0,
        projectorIntentsPerSec:
          pc && pc.last > pc.first ? Math.round(pc.processed / ((pc.last - pc.first) / 1000)) : null,
        calls: replayCalls.length,
        stateChangingCalls: replayCalls.filter((e) => isStateChanging(e) && e.status < 300).length,
        createsDuringReplay: replayCreates.length,
        routerEventsAll: rc?.processed ?? 0,
        // CPU is what the router and the bare consumer pay per event whatever the box's load (ratio: router ÷ bare)
        routerCpuSecondsPer100kEvents: p2.throughBacklog
          ? Math.round(((p2.throughBacklog.cpuSeconds - routerCpuAtStart) / routerEvents) * 1e5 * 100) / 100
          : null,
        intentsNewDuringReplay: newDuringReplay,
        reappliedIntents: reapplied.length,
        reappliedExamples: reapplied
          .slice(0, 10)
          .map(
            (r) =>
              `${r.kind} ${r.intent_id} (${r.n} calls; after pass 1: ${unfinished.get(r.intent_id) ?? 'finished'})`,
          ),
        duplicateCreates: dups.length,
        duplicateExamples: dups.slice(0, 5).map(createKey),
      },
      alone: alone.length
        ? {
            rounds: alone,
            medianRatio: median(alone.map((a) => a.ratio)),
            medianRouterCpuPer100k: median(alone.map((a) => a.router.cpuPer100k)),
            medianBareCpuPer100k: median(alone.map((a) => a.bare.cpuPer100k)),
          }
        : undefined,
      memory: { router: r2.memory, projector: q2.memory, bare: b.memory },
      peakRssMiB: rss.peakMiB(),
    };
  } finally {
    rss.stop();
    await admin.disconnect();
    await bp.stop();
    await db.end();
  }
}
