import { expect } from 'chai';
import { isStateChanging } from '../../testkit/sandbox/opencell/journal';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import type { HeldRequest } from '../../testkit/sandbox/opencell';
import type { Sandbox } from '../integration/support/pipeline';
import { eventually, ROOT } from '../integration/support/stack';
import { sleep, WorkerSupervisor } from './support/harness';
import { convergeOn, type FaultScenario, headCommit, startFaultScenario } from './support/scenario';
import {
  auditCreates,
  oneShotCounts,
  serviceDuplicates,
  stateProblems,
  Workload,
  type ExpectedContract,
} from './support/workload';

/**
 * Fault scenario "zombie" (issue 15 §2): a projector process paused (SIGSTOP) while one of its OpenCell calls is in
 * flight — OpenCell applied it and holds the answer — stays paused past its session timeout; the group gives its
 * partitions to a second process, which finishes the work; then the paused one continues (SIGCONT) with the answer of
 * a call it made before the rebalance. Fencing (src/adapters/postgres/fence.ts) must stop it before anything more:
 * its next ledger write fails, it applies no further call and commits nothing. Counted per round: the stop landed
 * while the call was in flight, the second process took the partitions (fence owner) and did the work, the zombie
 * was fenced; over the run: 0 duplicate creates, one-shots or service activations in OpenCell. Each round aims at
 * another operation (creates, activation, one-shot). Writes bench/zombie.md.
 */
const ROUNDS = Number(process.env.FAULT_ZOMBIE_ROUNDS ?? 5);
const SESSION_TIMEOUT_MS = 6000;
const HOLD_MS = 400;
/** The call each round stops the projector in, in turn. */
const TARGETS: { op: string; method: string; path: string }[] = [
  {
    op: 'applyOneShotChargeInstance',
    method: 'POST',
    path: '/billing/subscription/applyOneShotChargeInstance',
  },
  { op: 'activateServices', method: 'POST', path: '/billing/subscription/activateServices' },
  { op: 'createCustomer', method: 'POST', path: '/account/customer' },
  { op: 'createSubscription', method: 'POST', path: '/billing/subscription' },
  {
    op: 'crmAccountHierarchyCreate',
    method: 'POST',
    path: '/account/accountHierarchy/createCRMAccountHierarchy',
  },
];

interface Round {
  op: string;
  stoppedInFlight: boolean;
  answeredWhileStopped: boolean;
  takenOver: boolean;
  zombieFenced: number;
  /** state-changing calls OpenCell received after SIGCONT (from anyone: all the work was done before) */
  callsAfterResume: number;
  pausedSeconds: number;
}

describe('fault scenario "zombie": a projector paused mid-call past its session timeout applies nothing more after SIGCONT', function () {
  this.timeout(600_000);
  let scenario: FaultScenario;
  let sandbox: Sandbox;
  let statePool: Pool;
  let work: Workload;
  let env: Record<string, string>;
  let workers: WorkerSupervisor[];
  const rounds: Round[] = [];
  // set when the scenario starts (mocha loads every file of the suite before it runs the first)
  let t0 = Date.now();

  before(async () => {
    t0 = Date.now();
    scenario = await startFaultScenario({
      name: 'zombie',
      env: {
        RETRY_MAX_ATTEMPTS: '25',
        // longer than the pause: the zombie wakes up to the answer of its call (not to its own timeout) and goes on
        OPENCELL_TIMEOUT_MS: '60000',
        FAULT_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
      },
    });
    ({ sandbox, state: statePool, env, workers } = scenario);
    work = new Workload(scenario.db);
    await scenario.startWorker();
  });

  after(async () => {
    await scenario?.close();
  });

  const converge = (contracts: readonly ExpectedContract[], what: string) =>
    convergeOn(sandbox, contracts, 120_000, what);
  const fenceOwners = async () =>
    (
      await statePool.query<{ owner: string }>(`SELECT DISTINCT owner FROM sync_fence WHERE group_id = $1`, [
        env.FAULT_PROJECTOR_GROUP,
      ])
    ).rows.map((r) => r.owner);
  const fencedLines = (w: WorkerSupervisor) =>
    w.lines.filter((l) => l.includes('fenced, stopping the batch')).length;

  it(`${ROUNDS} rounds, each stopping the projector while a call is in flight (creates, activation, one-shot): the second process does the work, the zombie is fenced, 0 duplicate effects`, async () => {
    const contracts: ExpectedContract[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const target = TARGETS[r % TARGETS.length];
      const zombie = workers[workers.length - 1];
      await zombie.waitReady();
      // let the lone process own every partition of both groups
      await sleep(1000);
      let held: HeldRequest | undefined;
      let stoppedAt = 0;
      let inFlightAtStop = false;
      const rule = sandbox.faults.add({
        kind: 'latency',
        latencyMs: HOLD_MS,
        method: target.method,
        path: `^${target.path}$`,
        phase: 'after',
        count: 1,
      });
      const off = sandbox.onHeld((h) => {
        if (held || h.phase !== 'after' || h.entry.path !== target.path) return;
        held = h;
        // synchronously, while OpenCell holds the answer of the call it has just applied
        zombie.signal('SIGSTOP');
        stoppedAt = Date.now();
        inFlightAtStop = h.inFlight();
      });
      let c: ExpectedContract;
      try {
        c = await work.createContract('mobile');
        contracts.push(c);
        await eventually(async () => (held ? true : undefined), 60_000, `the ${target.op} call held`);
      } finally {
        off();
        sandbox.faults.remove(rule.id);
      }
      const zombieFencedBefore = fencedLines(zombie);
      const zombieLinesBefore = zombie.lines.length;
      // the second process joins; the group waits for the paused member's session to time out, then hands it all
      const next = new WorkerSupervisor(env);
      workers.push(next);
      await next.start();
      await converge([c], `round ${r + 1} (${target.op}): the second process finishes the contract`);
      await sleep(300); // the held answer is written to the paused process' socket
      const nextOwner = `${hostname()}/${next.pid}`;
      const owners = await fenceOwners();
      const takenOver = owners.length > 0 && owners.every((o) => o === nextOwner);
      const answeredWhileStopped = held!.entry.status > 0 && held!.entry.abandoned !== true;
      const pausedMs = Date.now() - stoppedAt;
      // the zombie wakes up with the answer of a call made before the rebalance
      const resumedAt = Date.now();
      zombie.signal('SIGCONT');
      await eventually(
        async () => (fencedLines(zombie) > zombieFencedBefore ? true : undefined),
        30_000,
        `round ${r + 1}: the zombie is fenced`,
      ).catch(() => undefined);
      await sleep(1500); // anything the zombie would still do, it does now
      rounds.push({
        op: target.op,
        stoppedInFlight: inFlightAtStop,
        answeredWhileStopped,
        takenOver,
        zombieFenced: fencedLines(zombie) - zombieFencedBefore,
        callsAfterResume: sandbox.journal
          .entries()
          .filter((e) => isStateChanging(e) && e.time >= resumedAt && e.status > 0 && e.status < 300).length,
        pausedSeconds: Math.round(pausedMs / 100) / 10,
      });
      const after = sandbox.journal
        .entries()
        .filter((e) => isStateChanging(e) && e.time >= resumedAt && e.status > 0 && e.status < 300);
      if (after.length > 0)
        console.log(
          `round ${r + 1}: state-changing calls after SIGCONT:\n${after
            .slice(0, 12)
            .map(
              (e) =>
                `  +${e.time - resumedAt} ms ${e.method} ${e.path} ${JSON.stringify(e.body).slice(0, 120)}`,
            )
            .join('\n')}`,
        );
      const woke = zombie.lines
        .slice(zombieLinesBefore)
        .filter((l) => /fenced|heartbeat|retriable|FENCED|crashed/.test(l));
      console.log(`round ${r + 1} (${target.op}), the zombie after SIGCONT:\n${woke.slice(0, 8).join('\n')}`);
      // the zombie leaves; the second process is the lone owner of the next round
      await zombie.shutdown();
    }
    const problems = stateProblems(sandbox, contracts);
    const mine = (code: string) =>
      contracts.some((c) => c.code === code || c.partnerRef === code || code.startsWith(`${c.partnerRef}_`));
    const audit = auditCreates(sandbox.journal.entries(), mine);
    const oneShots = oneShotCounts(sandbox, contracts);
    const services = serviceDuplicates(sandbox, contracts);
    const activations = sandbox.journal
      .entries({ method: 'POST', path: '/billing/subscription/activateServices' })
      .filter(
        (e) =>
          e.status < 300 && !e.errorCode && mine(String((e.body as { subscription?: string }).subscription)),
      ).length;
    const figures = {
      rounds: rounds.length,
      stoppedInFlight: rounds.filter((x) => x.stoppedInFlight && x.answeredWhileStopped).length,
      takenOver: rounds.filter((x) => x.takenOver).length,
      zombiesFenced: rounds.filter((x) => x.zombieFenced > 0).length,
      callsAfterResume: rounds.reduce((n, x) => n + x.callsAfterResume, 0),
      duplicates: {
        creates: audit.duplicates.length,
        oneShots: oneShots.duplicates.length,
        serviceActivations: services.length,
      },
      creates: audit.creates,
      alreadyExistsAnswers: audit.alreadyExists,
      oneShotsApplied: `${oneShots.applied}/${oneShots.lines}`,
      activations,
    };
    writeFigures(rounds, figures, Math.round((Date.now() - t0) / 1000));
    console.log(JSON.stringify({ rounds, figures }, null, 2));
    expect(problems, 'final state').to.deep.equal([]);
    expect(
      rounds.map(
        (x) => `${x.op}: in flight ${x.stoppedInFlight}, answered while stopped ${x.answeredWhileStopped}`,
      ),
      'every stop landed while its call was in flight (applied, answer held)',
    ).to.deep.equal(rounds.map((x) => `${x.op}: in flight true, answered while stopped true`));
    expect(
      rounds.map((x) => x.takenOver),
      'the second process took every partition of the projector group',
    ).to.deep.equal(rounds.map(() => true));
    expect(
      rounds.map((x) => x.callsAfterResume),
      'no state-changing call reached OpenCell after SIGCONT',
    ).to.deep.equal(rounds.map(() => 0));
    expect(
      rounds.map((x) => x.zombieFenced > 0),
      'every zombie found its partition taken (FencedError) after SIGCONT',
    ).to.deep.equal(rounds.map(() => true));
    expect(audit.duplicates, 'duplicate creates').to.deep.equal([]);
    expect(oneShots.duplicates, 'one-shots applied twice').to.deep.equal([]);
    expect(services, 'services activated twice').to.deep.equal([]);
    expect(rounds.length).to.equal(ROUNDS);
  });
});

function writeFigures(rounds: Round[], f: Record<string, unknown>, seconds: number): void {
  const commit = headCommit();
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const dup = f.duplicates as Record<string, number>;
  const rows = rounds
    .map(
      (r, i) =>
        `| ${i + 1} | \`${r.op}\` | ${r.stoppedInFlight && r.answeredWhileStopped ? 'yes' : 'no'} | ${r.pausedSeconds} s | ${r.takenOver ? 'yes' : 'no'} | ${r.zombieFenced} | ${r.callsAfterResume} |`,
    )
    .join('\n');
  const md = `Scenario "zombie" (\`test/faults/zombie.test.ts\`, issue 15 §2): two pipeline processes (router + projector)
on the shared local stack, one at a time owning the groups (session timeout ${SESSION_TIMEOUT_MS / 1000} s). Each round
creates a mobile contract (two services and a SIM one-shot) and SIGSTOPs the owning process while the round's call is
in flight: OpenCell (sandbox) has applied it and holds its answer ${HOLD_MS} ms. A second process joins, the group
hands it every partition once the paused member's session expired, and it finishes the contract; then SIGCONT: the
paused process reads the answer of a call made before the rebalance and must apply nothing more.

| round | call in flight at SIGSTOP | stop landed in flight (applied, answer held) | paused | second process took every partition (fence owner) | zombie fenced (batches stopped) | calls after SIGCONT |
|---|---|---|---|---|---|---|
${rows}

Result (${when}, ${commit}): ${f.stoppedInFlight}/${f.rounds} stops landed in flight, ${f.takenOver}/${f.rounds}
takeovers, ${f.zombiesFenced}/${f.rounds} zombies fenced, ${f.callsAfterResume} state-changing calls after SIGCONT; **${dup.creates + dup.oneShots + dup.serviceActivations} duplicate effects** in OpenCell: duplicate creates
${dup.creates}, one-shots charged twice ${dup.oneShots}, services activated twice ${dup.serviceActivations} (creates
${JSON.stringify(f.creates)}, ${f.alreadyExistsAnswers} already-exists answers, one-shots applied ${f.oneShotsApplied},
${f.activations} successful activation calls). ${seconds} s on 2 cores.
`;
  writeFileSync(join(ROOT, 'bench', 'zombie.md'), md);
}
