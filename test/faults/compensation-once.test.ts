import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import type { JournalEntry } from '../../testkit/sandbox/opencell';
import type { Sandbox } from '../integration/support/pipeline';
import { eventually, ROOT, uniqueSuffix } from '../integration/support/stack';
import { sleep, type WorkerSupervisor } from './support/harness';
import { startFaultScenario, type FaultScenario } from './support/scenario';

const CONTRACTS = Number(process.env.FAULT_COMPENSATION_CONTRACTS ?? 4);
/** How long OpenCell holds the answer of a compensation it has applied: the window the kill -9 aims at. */
const HOLD_MS = 1500;

/**
 * Named fault scenario "compensation once" (docs/behaviour.md W5, `compensate`): the pipeline process is kill -9-ed
 * while OpenCell holds the answer of a compensation charge it has just applied, and the operator submits the same
 * key again while the outcome is unknown. Each key must end as exactly one CH_SC_OSO_COMPENSATION charge. Figures go
 * to bench/compensation-once.md (BENCHMARKS.md section).
 */
describe('fault scenario: compensation once (kill -9 while OpenCell holds the applied charge’s answer)', function () {
  this.timeout(600_000);
  let scenario: FaultScenario;
  let sandbox: Sandbox;
  let worker: WorkerSupervisor;
  let statePool: Pool;
  let db: PoolClient;
  let env: Record<string, string>;

  before(async () => {
    scenario = await startFaultScenario({
      name: 'comp',
      env: { RETRY_MAX_MS: '2000', RETRY_MAX_ATTEMPTS: '12', OPENCELL_TIMEOUT_MS: '5000' },
    });
    ({ sandbox, state: statePool, db, env } = scenario);
    worker = await scenario.startWorker();
  });

  after(async () => {
    await scenario?.close();
  });

  /** The operator's CLI in its own process, against this scenario's ledger and intents topic. */
  function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/app/cli.ts', ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env, LOG_LEVEL: 'error' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  const compensations = (code: string, description: string) =>
    sandbox.state.subscriptions
      .get(code)
      ?.oneShots.filter((o) => o.code === 'CH_SC_OSO_COMPENSATION' && o.description === description) ?? [];

  it('each caller key is one charge, though the worker is killed while the applied charge’s answer is held and the key is submitted again meanwhile', async () => {
    const started = Date.now();
    const contracts: { code: string; description: string; key: string }[] = [];
    for (let i = 0; i < CONTRACTS; i++) {
      const partner = await insertPartner(db, { email: `comp${uniqueSuffix()}@example.org` });
      const mandate = await insertBankAccountAndMandate(db, partner.id);
      const c = await insertContract(db, {
        partnerId: partner.id,
        mandateId: mandate.mandateId,
        kind: 'mobile',
      });
      contracts.push({
        code: c.code,
        description: `Outage ${scenario.sfx} #${i}`,
        key: `comp-${scenario.sfx}-${i}`,
      });
    }
    await eventually(
      async () => (contracts.every((c) => sandbox.state.subscriptions.has(c.code)) ? true : undefined),
      120_000,
      'the subscriptions',
    );

    const hold = sandbox.faults.add({
      kind: 'latency',
      latencyMs: HOLD_MS,
      method: 'POST',
      path: 'applyOneShotChargeInstance',
      phase: 'after',
    });
    const kills: { entry: JournalEntry; callerConnected: boolean }[] = [];
    let armed = false;
    let killing: Promise<void> = Promise.resolve();
    const off = sandbox.onHeld((held) => {
      if (!armed || held.phase !== 'after' || !held.entry.path.includes('applyOneShotChargeInstance')) return;
      armed = false;
      // synchronously, while OpenCell holds the answer of the charge it has just applied
      kills.push({ entry: held.entry, callerConnected: held.inFlight() });
      killing = (async () => {
        await worker.kill9();
        worker.spawn();
        await worker.waitReady();
      })();
    });
    const outcomes: string[] = [];
    const resubmissions: string[] = [];
    try {
      for (const c of contracts) {
        const args = [
          'compensate',
          c.code,
          '--amount',
          '7.25',
          '--description',
          c.description,
          '--key',
          c.key,
        ];
        armed = true;
        const first = cli(...args, '--yes', '--wait', '150');
        await eventually(async () => (armed ? undefined : true), 60_000, `the kill during ${c.key}`);
        // the operator, not knowing the outcome, submits the same key again while the worker is down
        const again = await cli(...args, '--yes', '--no-wait');
        resubmissions.push(again.stdout);
        const r = await first;
        expect(r.status, r.stderr).to.equal(0);
        outcomes.push(/outcome: (\w+)/.exec(r.stdout)?.[1] ?? r.stdout);
        await killing;
      }
    } finally {
      off();
      sandbox.faults.remove(hold.id);
    }
    await sleep(HOLD_MS + 200); // the last held answer is over: its journal entry is written

    // the faults landed: each kill while OpenCell held the answer of a charge it had applied, the caller then gone
    const inFlight = kills.filter(
      (k) => k.callerConnected && k.entry.abandoned === true && k.entry.status < 300,
    );
    // one charge per key, and no second call for it
    const charges = contracts.map((c) => compensations(c.code, c.description).length);
    const calls = contracts.map(
      (c) =>
        sandbox.journal
          .entries({ method: 'POST', path: '/billing/subscription/applyOneShotChargeInstance' })
          .filter((e) => (e.body as { description?: string } | undefined)?.description === c.description)
          .length,
    );
    const effects = await statePool.query<{ effect_key: string; outcome: string }>(
      `SELECT effect_key, outcome FROM ledger_effect WHERE effect_key = ANY($1) ORDER BY effect_key`,
      [contracts.map((c) => `compensation:${c.key}`)],
    );
    // the same key once more, after the fact: already applied, nothing sent
    const late = await cli(
      'compensate',
      contracts[0].code,
      '--amount',
      '7.25',
      '--description',
      contracts[0].description,
      '--key',
      contracts[0].key,
      '--yes',
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    const figures = {
      contracts: contracts.length,
      kills: kills.length,
      inFlight: inFlight.length,
      resubmissionsWhileUnknown: resubmissions.length,
      charges,
      calls,
      effects: effects.rows.map((r) => r.outcome),
      outcomes,
      seconds,
    };
    console.log(`compensation-once figures: ${JSON.stringify(figures)}`);
    writeFileSync(
      join(ROOT, 'bench', 'compensation-once.md'),
      `Scenario "each caller key is one charge, though the worker is killed while the applied charge’s answer is held" ` +
        '(`test/faults/compensation-once.test.ts`): for each of ' +
        `${contracts.length} mobile contracts, an operator runs \`compensate --key k --yes --wait\`; OpenCell applies the ` +
        `CH_SC_OSO_COMPENSATION charge and holds its answer ${HOLD_MS} ms, during which the pipeline process is \`kill -9\`-ed ` +
        '(sandbox `onHeld` hook) and restarted, and the operator submits the same key again. A kill counts as *in ' +
        'flight* when the caller was connected when it was killed and its connection closed before the answer was sent ' +
        '(journal `abandoned`, status 2xx).\n\n' +
        '| run | keys | kills | in flight | same key submitted again meanwhile | charges per key in OpenCell | apply calls per key | ledger effects | outcomes reported by `--wait` | seconds |\n' +
        '|---|---|---|---|---|---|---|---|---|---|\n' +
        `| ${new Date().toISOString().slice(0, 16).replace('T', ' ')} | ${contracts.length} | ${kills.length} | ${inFlight.length} | ${resubmissions.length} | ${charges.join(', ')} | ${calls.join(', ')} | ${figures.effects.join(', ')} | ${outcomes.join(', ')} | ${seconds} |\n\n` +
        "After each restart the projector finds the key's write-ahead row (`pending`), reads the subscription's one-shot " +
        'instances, finds the charge with the same code, amount and description that its ledger does not account for, ' +
        'and records it (`already_present`) instead of charging again. A later `compensate` with the same key prints ' +
        '"already applied" and exits 0.\n',
    );

    expect(kills.length, 'one kill per key').to.equal(contracts.length);
    expect(
      kills.map((k) => `#${k.entry.seq}: connected ${k.callerConnected}, abandoned ${k.entry.abandoned}`),
      'every kill landed while OpenCell held the answer of the charge it had applied',
    ).to.have.length(inFlight.length);
    expect(charges, 'one charge per key').to.deep.equal(contracts.map(() => 1));
    expect(calls, 'one apply call per key').to.deep.equal(contracts.map(() => 1));
    expect(figures.effects, 'the lost charges found in OpenCell').to.deep.equal(
      contracts.map(() => 'already_present'),
    );
    expect(outcomes).to.deep.equal(contracts.map(() => 'skipped'));
    expect(late.status).to.equal(0);
    expect(late.stdout).to.contain('was already applied');
    expect(compensations(contracts[0].code, contracts[0].description)).to.have.length(1);
  });
});
