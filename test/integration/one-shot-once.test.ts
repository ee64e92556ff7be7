import { expect } from 'chai';
import type { PoolClient } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import type { IntentMessage } from '../../src/domain/intents/message';
import type { Projector } from '../../src/flows/projection/projector';
import { type ProjectorHarness, startProjectorHarness } from './support/projector-harness';
import type { Sandbox } from './support/pipeline';
import { odooDb, uniqueSuffix } from './support/stack';

/**
 * applyOneShotChargeInstance is not idempotent in OpenCell: a second call is a second charge. When a try reached
 * OpenCell but its outcome never reached the ledger (OpenCell's answer lost, or the worker killed right after the
 * call), the retry must not charge again — and a charge that really did not happen must still be applied.
 */
describe('one-shot charges are applied once, even when a try’s outcome is lost', function () {
  this.timeout(60_000);
  let harness: ProjectorHarness;
  let sandbox: Sandbox;
  let projector: Projector;
  let db: PoolClient;

  before(async () => {
    harness = await startProjectorHarness('oneshot');
    ({ sandbox, projector } = harness);
    db = await odooDb().connect();
  });
  after(async () => {
    db?.release();
    await harness?.close();
  });

  /** A mobile contract with two SIM-card lines (same charge) and its subscription created in the sandbox. */
  async function contractWithTwoSimLines() {
    const partner = await insertPartner(db, { email: `os${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
      lines: ['SE_SC_REC_MOBILE_T_UNL_20480', 'CH_SC_OSO_SIM', 'CH_SC_OSO_SIM'],
    });
    const base = {
      v: 1 as const,
      aggregateKey: `partner:${partner.id}`,
      partnerId: partner.id,
      contractId: contract.id,
      force: undefined,
      source: {
        table: 'contract_line',
        op: 'c',
        rowId: contract.id,
        lsn: 1,
        txId: 1,
        tsMs: Date.now(),
        snapshot: false,
        topic: 't',
        partition: 0,
        offset: '0',
      },
    };
    const create = {
      ...base,
      intentId: `os-create-${uniqueSuffix()}`,
      intent: { kind: 'create_subscription', contractId: contract.id },
    } as IntentMessage;
    expect((await projector.handle(create, 1))?.outcome).to.equal('applied');
    const [, sim1, sim2] = contract.lineIds;
    const oneShot = (lineId: number) =>
      ({
        ...base,
        intentId: `os-line-${lineId}-${uniqueSuffix()}`,
        intent: {
          kind: 'apply_one_shot',
          contractId: contract.id,
          lineId,
          productId: 0,
          productCode: 'CH_SC_OSO_SIM',
        },
      }) as unknown as IntentMessage;
    return { contract, sim1: oneShot(sim1), sim2: oneShot(sim2) };
  }

  const sims = (code: string) =>
    sandbox.state.subscriptions.get(code)?.oneShots.filter((o) => o.code === 'CH_SC_OSO_SIM').length ?? 0;
  const applyCalls = (code: string) =>
    sandbox.journal
      .entries({ method: 'POST', path: '/billing/subscription/applyOneShotChargeInstance' })
      .filter((e) => (e.body as { subscription?: string } | undefined)?.subscription === code).length;

  it('an answer lost after OpenCell applied the charge: the retry finds it and does not charge again', async () => {
    const { contract, sim1, sim2 } = await contractWithTwoSimLines();
    expect((await projector.handle(sim1, 1))?.outcome).to.equal('applied');
    expect(sims(contract.code)).to.equal(1);
    // the second SIM: OpenCell applies it, then the answer is lost (502 after the commit)
    sandbox.faults.add({
      kind: 'error',
      status: 502,
      count: 1,
      path: 'applyOneShotChargeInstance',
      phase: 'after',
    });
    const lost = await projector.handle(sim2, 1).then(
      () => null,
      (e: unknown) => e as { retriable?: boolean },
    );
    expect(lost?.retriable, 'the lost answer is a retriable failure').to.equal(true);
    expect(sims(contract.code), 'OpenCell applied it').to.equal(2);
    const retried = await projector.handle(sim2, 2);
    expect(retried?.outcome, 'recorded without a call').to.equal('skipped');
    expect(sims(contract.code), 'two SIM lines, two charges').to.equal(2);
    expect(applyCalls(contract.code)).to.equal(2);
    // replays of both change nothing
    expect(await projector.handle(sim1, 3)).to.equal(null);
    expect(await projector.handle(sim2, 3)).to.equal(null);
    expect(sims(contract.code)).to.equal(2);
  });

  it('a try that failed before reaching OpenCell is applied on retry (the write-ahead row alone does not skip it)', async () => {
    const { contract, sim1, sim2 } = await contractWithTwoSimLines();
    expect((await projector.handle(sim1, 1))?.outcome).to.equal('applied');
    // refused before the charge: nothing applied, the write-ahead row stays pending
    sandbox.faults.add({ kind: 'error', status: 503, count: 1, path: 'applyOneShotChargeInstance' });
    await projector.handle(sim2, 1).then(
      () => expect.fail('the 503 should fail the first try'),
      () => undefined,
    );
    expect(sims(contract.code)).to.equal(1);
    expect((await projector.handle(sim2, 2))?.outcome).to.equal('applied');
    expect(sims(contract.code), 'the other SIM line’s charge does not count for this one').to.equal(2);
  });
});
