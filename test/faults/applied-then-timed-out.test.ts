import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PoolClient } from 'pg';
import { OPENCELL_OPERATIONS, type OpenCellOperationName } from '../../src/domain/opencell/operations';
import { CATALOGUE_OPERATION, idempotencyOf, type OcOperationName } from '../../src/domain/projection/plan';
import type { JournalEntry } from '../../testkit/sandbox/opencell';
import { startTestPipeline, type TestPipeline } from '../integration/support/pipeline';
import { eventually, odooDb, ROOT, stateDb } from '../integration/support/stack';
import {
  oneShotCounts,
  serviceDuplicates,
  stateProblems,
  Workload,
  type ExpectedContract,
} from './support/workload';
import { headCommit } from './support/scenario';

/**
 * Fault scenario "applied-then-timed-out" (issue 15 §3): the OpenCell sandbox applies a call and withholds its answer
 * past the client's timeout ("apply then time out", selected per catalogue operation) on every operation the pipeline
 * calls that is not idempotent — the verify-before-retry creates, activation and one-shot — 100 times in total, while
 * the real pipeline (Debezium → router → projector) projects new mobile contracts. Every timed-out try is retried;
 * the retry must read the effect back (the plan's read of OpenCell, or the catalogue entry's `verify` for a try
 * written ahead) and never send the call again. Counted from the sandbox: the faults that landed (applied, answer
 * withheld) per operation; per effect identity, how many times its call reached OpenCell (1 = never repeated);
 * duplicates in OpenCell's state. Writes bench/applied-then-timed-out.md.
 */
const FAULTS = Number(process.env.FAULT_APPLIED_TIMEOUTS ?? 100);
const CONTRACTS = Number(process.env.FAULT_APPLIED_CONTRACTS ?? 20);
const TIMEOUT_MS = 400;

/** The catalogue operations of the plan that are not idempotent (the scenario's targets). */
const TARGETS: OpenCellOperationName[] = [
  ...new Set(
    (Object.keys(CATALOGUE_OPERATION) as OcOperationName[])
      .filter((op) => idempotencyOf(op) !== 'idempotent')
      .map((op) => CATALOGUE_OPERATION[op]),
  ),
].sort();

/** The identity of a call's effect, from its journalled request (one call per identity is expected). */
function identity(op: OpenCellOperationName, e: JournalEntry): string[] {
  const b = (e.body ?? {}) as Record<string, unknown>;
  switch (op) {
    case 'activateServices':
      return ((b.servicesToActivate as { service?: { code: string }[] })?.service ?? []).map(
        (s) => `${String(b.subscription)}/${s.code}`,
      );
    case 'applyOneShotChargeInstance':
      return [`${String(b.subscription)}/${String(b.oneShotCharge)}`];
    case 'createAccess':
      return [`${String(b.subscription)}/${String(b.code)}`];
    default:
      return [String(b.code)];
  }
}

describe('fault scenario "applied-then-timed-out": OpenCell applies the call and the answer never comes, 100 times', function () {
  this.timeout(600_000);
  let t: TestPipeline;
  let db: PoolClient;
  // set when the scenario starts (mocha loads every file of the suite before it runs the first)
  let t0 = Date.now();

  before(async () => {
    t0 = Date.now();
    t = await startTestPipeline({
      OPENCELL_TIMEOUT_MS: String(TIMEOUT_MS),
      RETRY_INITIAL_MS: '50',
      RETRY_MAX_MS: '400',
      RETRY_MAX_ATTEMPTS: '30',
    });
    db = await odooDb().connect();
  });
  after(async () => {
    db?.release();
    await t?.stop();
  });

  it(`${FAULTS} faults on the ${TARGETS.length} operations that are not idempotent: every one landed, no call repeated, 0 duplicates in OpenCell`, async () => {
    const { sandbox } = t;
    // spread the faults evenly over the targets; each rule is spent after its share
    const share = TARGETS.map(
      (_op, i) => Math.floor(FAULTS / TARGETS.length) + (i < FAULTS % TARGETS.length ? 1 : 0),
    );
    TARGETS.forEach((operation, i) =>
      sandbox.faults.add({ kind: 'applyThenTimeout', operation, count: share[i] }),
    );
    const work = new Workload(db);
    const contracts: ExpectedContract[] = [];
    for (let i = 0; i < CONTRACTS; i++) contracts.push(await work.createContract('mobile'));
    let problems: string[] = [];
    await eventually(
      async () => {
        problems = stateProblems(sandbox, contracts);
        return problems.length === 0 ? true : undefined;
      },
      300_000,
      'every contract in OpenCell despite the withheld answers',
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${problems.slice(0, 5).join('; ')}`, { cause: e });
    });
    await new Promise((r) => setTimeout(r, 1000)); // nothing more arrives
    sandbox.faults.clear();

    const journal = sandbox.journal.entries();
    const landed: Record<string, number> = {};
    const calls: Record<string, Map<string, number>> = {};
    for (const op of TARGETS) calls[op] = new Map();
    for (const e of journal) {
      const op = TARGETS.find(
        (o) => OPENCELL_OPERATIONS[o].method === e.method && OPENCELL_OPERATIONS[o].path === e.path,
      );
      if (!op) continue;
      if (e.fault === 'applyThenTimeout' && e.withheldStatus !== undefined && e.withheldStatus < 300)
        landed[op] = (landed[op] ?? 0) + 1;
      for (const id of identity(op, e)) calls[op].set(id, (calls[op].get(id) ?? 0) + 1);
    }
    const repeated = TARGETS.flatMap((op) =>
      [...calls[op]].filter(([, n]) => n > 1).map(([id, n]) => `${op} ${id} ×${n}`),
    );
    const oneShots = oneShotCounts(sandbox, contracts);
    const services = serviceDuplicates(sandbox, contracts);
    const codes = contracts.flatMap((c) => [c.code, c.partnerRef, `${c.partnerRef}_0`, c.phone]);
    const verified = await stateDb().query<{ op: string; n: number }>(
      `SELECT op, count(*)::int AS n FROM ledger_effect
        WHERE outcome = 'already_present' AND opencell_code = ANY($1) GROUP BY op ORDER BY op`,
      [codes],
    );
    const totalLanded = Object.values(landed).reduce((a, b) => a + b, 0);
    const figures = {
      landed,
      totalLanded,
      callsPerOperation: Object.fromEntries(
        TARGETS.map((op) => [op, [...calls[op].values()].reduce((a, b) => a + b, 0)]),
      ),
      repeated: repeated.length,
      oneShotDuplicates: oneShots.duplicates.length,
      oneShotsApplied: `${oneShots.applied}/${oneShots.lines}`,
      serviceDuplicates: services.length,
      alreadyPresentByVerify: Object.fromEntries(verified.rows.map((r) => [r.op, r.n])),
      seconds: Math.round((Date.now() - t0) / 1000),
    };
    console.log(JSON.stringify(figures, null, 2));
    writeFigures(figures, share);
    expect(totalLanded, `faults that landed (applied, answer withheld) ${JSON.stringify(landed)}`).to.equal(
      FAULTS,
    );
    for (const [i, op] of TARGETS.entries())
      expect(landed[op] ?? 0, `faults landed on ${op}`).to.equal(share[i]);
    expect(repeated, 'calls sent again after OpenCell applied them').to.deep.equal([]);
    expect(oneShots.duplicates, 'one-shots charged twice').to.deep.equal([]);
    expect(services, 'services activated twice').to.deep.equal([]);
  });
});

function writeFigures(f: Record<string, unknown>, share: number[]): void {
  const commit = headCommit();
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const landed = f.landed as Record<string, number>;
  const calls = f.callsPerOperation as Record<string, number>;
  const verified = f.alreadyPresentByVerify as Record<string, number>;
  const planOp = (op: OpenCellOperationName) =>
    (Object.keys(CATALOGUE_OPERATION) as OcOperationName[]).find((p) => CATALOGUE_OPERATION[p] === op) ?? op;
  const rows = TARGETS.map(
    (op, i) =>
      `| \`${op}\` | ${share[i]} | ${landed[op] ?? 0} | ${calls[op] ?? 0} | ${verified[planOp(op)] ?? 0} |`,
  ).join('\n');
  const md = `Scenario "applied-then-timed-out" (\`test/faults/applied-then-timed-out.test.ts\`, issue 15 §3): the real pipeline
(Debezium → router → projector, shared local stack) projects ${CONTRACTS} new mobile contracts (customer, account
hierarchy, subscription, access, two services, a SIM one-shot) into the OpenCell sandbox, whose fault mode "apply then
time out" (\`applyThenTimeout\`, selected per catalogue operation) applies the call and withholds its answer past the
client's ${TIMEOUT_MS} ms timeout, on every operation of the plan that is not idempotent, ${FAULTS} times in total.
Each timed-out try is retried (backoff), and the retry must find the effect — by the plan's own read of OpenCell, or
for a try written ahead by the catalogue entry's \`verify\` (recorded \`already_present\`) — instead of calling again.

| operation | faults set | landed (applied, answer withheld) | calls that reached OpenCell | found by \`verify\` (ledger \`already_present\`) |
|---|---|---|---|---|
${rows}

Result (${when}, ${commit}): **${f.totalLanded} faults landed**; **${f.repeated} calls sent again** (each effect's call
reached OpenCell once), one-shots charged twice ${f.oneShotDuplicates} (applied ${f.oneShotsApplied}), services
activated twice ${f.serviceDuplicates}: 0 duplicates in OpenCell. ${f.seconds} s on 2 cores. The creates and the
activation were found by the plan's own read of OpenCell before any call (their write-ahead row stays pending,
harmless); the one-shots, invisible to planning, by \`verify\` alone (the creates' and the activation's \`verify\` are
unit-tested in \`test/unit/verify-before-retry.test.ts\`). \`instantiateServices\` (unsafe) is not
called by the pipeline; Odoo's invoice loader is not covered here.
`;
  writeFileSync(join(ROOT, 'bench', 'applied-then-timed-out.md'), md);
}
