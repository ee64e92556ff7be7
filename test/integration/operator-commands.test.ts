import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { PoolClient } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import { startTestPipeline, type TestPipeline } from './support/pipeline';
import { eventually, odooDb, ROOT, stateDb, uniqueSuffix } from './support/stack';

/**
 * The operators' commands of the original's wizards W3 (force-iban) and W5 (compensate), driven as an operator
 * would (the CLI in its own process) against the real projection pipeline (Kafka, ledger, outbox) and the OpenCell
 * sandbox, whose state is the proof: which account holds which IBAN, how many compensation charges a subscription
 * has.
 */
describe('operator commands force-iban (W3) and compensate (W5) on the real stack', function () {
  this.timeout(180_000);
  let t: TestPipeline;
  let db: PoolClient;

  before(async () => {
    t = await startTestPipeline();
    db = await odooDb().connect();
  });
  after(async () => {
    db?.release();
    if (t) await stateDb().query('DELETE FROM outbox WHERE topic = $1', [t.config.topics.syncEvents]);
    await t?.stop();
  });

  /** The CLI in its own process, asynchronously: the pipeline under test runs in this one and must keep running. */
  function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/app/cli.ts', ...args], {
        cwd: ROOT,
        env: {
          ...process.env,
          INTENTS_TOPIC: t.config.topics.intents,
          OPENCELL_PASSWORD: 'unused',
          ODOO_PASSWORD: 'unused',
          LOG_LEVEL: 'error',
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  const sub = (code: string) => t.pipeline.client.getSubscription(code);
  /** The customer account's preferred IBAN and every IBAN it holds (OpenCell keeps earlier payment methods). */
  const ibanOf = async (caCode: string) => {
    const ca = (await t.pipeline.client.getCustomerAccount(caCode)) as unknown as {
      methodOfPayment?: { preferred?: boolean; bankCoordinates?: { iban?: string } }[];
    } | null;
    const methods = ca?.methodOfPayment ?? [];
    return {
      preferred: methods.find((m) => m.preferred)?.bankCoordinates?.iban ?? null,
      all: methods.map((m) => m.bankCoordinates?.iban ?? null),
    };
  };
  const syncEvents = async (action: string, odooId: number) =>
    (
      await stateDb().query<{
        payload: { outcome: string; opencell: { entity: string; code: string | null } };
      }>(
        `SELECT payload FROM outbox WHERE topic = $1 AND payload->>'action' = $2 AND (payload->'odoo'->>'id')::bigint = $3`,
        [t.config.topics.syncEvents, action, odooId],
      )
    ).rows.map((r) => r.payload);
  const ledgerRows = async (kind: string, odooId: number) =>
    (
      await stateDb().query<{ outcome: string; error_message: string | null }>(
        `SELECT outcome, error_message FROM ledger_intent WHERE kind = $1 AND odoo_id = $2`,
        [kind, odooId],
      )
    ).rows;

  async function customerWithContract(kind: 'mobile' | 'fiber' = 'mobile') {
    const partner = await insertPartner(db, { email: `op${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, { partnerId: partner.id, mandateId: mandate.mandateId, kind });
    const s = await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    return { partner, contract, mandate, subscription: s };
  }

  it('force-iban puts the contract’s new IBAN on its own account only, where the IBAN change had dead-lettered (two accounts)', async () => {
    const { partner, subscription: first } = await customerWithContract();
    // a second contract with another bank account gets a second customer account ({ref}_1)
    const other = await insertBankAccountAndMandate(db, partner.id);
    const second = await insertContract(db, {
      partnerId: partner.id,
      mandateId: other.mandateId,
      kind: 'fiber',
    });
    const s2 = await eventually(
      async () => (await sub(second.code)) ?? undefined,
      60_000,
      'second subscription',
    );
    expect(s2.userAccount, 'two customer accounts').not.to.equal(first.userAccount);
    const firstIban = await ibanOf(String(first.userAccount));
    // the second contract's IBAN changes (as the IBAN wizard's write): refused with several accounts
    const NEW_IBAN = 'ES7921000813610123456789';
    const changed = await insertBankAccountAndMandate(db, partner.id, { iban: NEW_IBAN });
    await db.query(
      `UPDATE contract_contract SET mandate_id = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
      [second.id, changed.mandateId],
    );
    const dead = await eventually(
      async () =>
        (await ledgerRows('update_subscription', second.id)).find((r) => r.outcome === 'dead_lettered'),
      60_000,
      'the IBAN change dead-lettered',
    );
    expect(dead.error_message).to.contain('more than one customer account');
    expect((await ibanOf(String(s2.userAccount))).preferred).not.to.equal(NEW_IBAN);

    const plan = await cli('force-iban', second.code);
    expect(plan.status, plan.stderr).to.equal(2);
    expect(plan.stdout).to.contain('would force IBAN ES79…6789').and.not.contain(NEW_IBAN);

    const r = await cli('force-iban', second.code, '--yes', '--wait', '60');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('outcome: applied');
    expect((await ibanOf(String(s2.userAccount))).preferred, 'the chosen account').to.equal(NEW_IBAN);
    const untouched = await ibanOf(String(first.userAccount));
    expect(untouched, 'the other account').to.deep.equal(firstIban);
    expect(untouched.all).not.to.include(NEW_IBAN);
    expect(await ledgerRows('force_iban', second.id)).to.deep.equal([
      { outcome: 'applied', error_message: null },
    ]);
    const events = await syncEvents('force_iban', second.id);
    expect(events.map((e) => [e.outcome, e.opencell.entity, e.opencell.code])).to.deep.equal([
      ['applied', 'customer_account', String(s2.userAccount)],
    ]);
  });

  it('force-iban sends the IBAN of a terminated contract to its account, and force-create takes a terminated contract, as the wizards did (no refusal of their own, issue 14 W3 / W4)', async () => {
    const { partner, contract, subscription } = await customerWithContract();
    const today = new Date().toISOString().slice(0, 10);
    await db.query(
      `UPDATE contract_contract SET is_terminated = true, terminate_date = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
      [contract.id, today],
    );
    await eventually(
      async () =>
        (await ledgerRows('terminate_subscription', contract.id)).find((r) => r.outcome === 'applied'),
      60_000,
      'the termination applied',
    );
    // the IBAN wizard's write on a terminated contract sends nothing (W2); the force wizard did send it
    const NEW_IBAN = 'ES9121000418450200051332';
    const changed = await insertBankAccountAndMandate(db, partner.id, { iban: NEW_IBAN });
    await db.query(
      `UPDATE contract_contract SET mandate_id = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
      [contract.id, changed.mandateId],
    );
    const r = await cli('force-iban', contract.code, '--yes', '--wait', '60');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('outcome: applied');
    expect((await ibanOf(String(subscription.userAccount))).preferred).to.equal(NEW_IBAN);
    const created = await cli('force-create', contract.code, '--yes');
    expect(created.status, created.stderr).to.equal(0);
    expect(created.stdout).to.contain(`forced create_subscription for contract ${contract.code}`);
  });

  it('force-iban refuses an unknown contract and one without bank account, terminated or not (the wizard forced terminated contracts: no refusal of its own), producing nothing', async () => {
    expect((await cli('force-iban', `NOPE-${uniqueSuffix()}`, '--yes')).stderr).to.contain(
      'no contract with code',
    );
    const partner = await insertPartner(db, { email: `op${uniqueSuffix()}@example.org` });
    const noBank = await insertContract(db, { partnerId: partner.id, mandateId: null, kind: 'mobile' });
    const r = await cli('force-iban', noBank.code, '--yes');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain('no mandate with a bank account');
    await db.query(`UPDATE contract_contract SET is_terminated = true WHERE id = $1`, [noBank.id]);
    const terminated = await cli('force-iban', noBank.code, '--yes');
    expect(terminated.stderr).to.contain('no mandate with a bank account').and.not.contain('terminated');
    expect(await ledgerRows('force_iban', noBank.id)).to.deep.equal([]);
  });

  /** The subscription's compensation charges in the sandbox. */
  const compensations = (code: string) =>
    t.sandbox.state.subscriptions.get(code)?.oneShots.filter((o) => o.code === 'CH_SC_OSO_COMPENSATION') ??
    [];
  const compensationCalls = (code: string) =>
    t.sandbox.journal
      .entries({ method: 'POST', path: '/billing/subscription/applyOneShotChargeInstance' })
      .filter((e) => (e.body as { subscription?: string } | undefined)?.subscription === code);

  it('compensate applies one CH_SC_OSO_COMPENSATION for −amount with description and date; the same key again applies nothing', async () => {
    const { contract } = await customerWithContract();
    const key = `ticket-${uniqueSuffix()}`;
    const args = ['compensate', contract.code, '--amount', '12.34567', '--description', 'Outage 20 days'];
    const noYes = await cli(...args, '--date', '2026-11-30', '--key', key);
    expect(noYes.status).to.equal(2);
    expect(noYes.stdout).to.contain('would apply compensation -12.3457 EUR');

    const r = await cli(...args, '--date', '2026-11-30', '--key', key, '--yes', '--wait', '60');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('outcome: applied');
    const [charge, ...more] = compensations(contract.code);
    expect(more, 'one charge').to.deep.equal([]);
    expect(charge.amountWithoutTax).to.equal(-12.3457);
    expect(charge.description).to.equal('Outage 20 days');
    expect(new Date(charge.operationDate).toISOString().slice(0, 10)).to.equal('2026-11-30');

    const again = await cli(...args, '--date', '2026-11-30', '--key', key, '--yes', '--wait', '60');
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('was already applied');
    expect(compensations(contract.code), 'still one').to.have.length(1);
    expect(compensationCalls(contract.code)).to.have.length(1);
    // the same key for another compensation is refused
    const reused = await cli(
      'compensate',
      contract.code,
      '--amount',
      '3',
      '--description',
      'x',
      '--key',
      key,
      '--yes',
    );
    expect(reused.status).to.equal(1);
    expect(reused.stderr).to.contain('already used for another compensation');
    // so is a key whose earlier try's outcome is still unknown ('pending', written ahead) when it names another charge
    const pendingKey = `pending-${uniqueSuffix()}`;
    await stateDb().query(
      `INSERT INTO ledger_effect (effect_key, intent_id, op, opencell_code, outcome, charge_code)
       VALUES ($1, 'other-intent', 'applyOneShotChargeInstance', 'SC-OTHER', 'pending', 'CH_SC_OSO_COMPENSATION|-1.0000|x')`,
      [`compensation:${pendingKey}`],
    );
    const pendingOther = await cli(...args, '--key', pendingKey, '--yes');
    await stateDb().query('DELETE FROM ledger_effect WHERE effect_key = $1', [`compensation:${pendingKey}`]);
    expect(pendingOther.status).to.equal(1);
    expect(pendingOther.stderr).to.contain('already used for another compensation (subscription SC-OTHER');
    expect(compensations(contract.code), 'still one').to.have.length(1);

    // a different key with the same amount is a new compensation
    const other = await cli(...args, '--date', '2026-11-30', '--key', `${key}-b`, '--yes', '--wait', '60');
    expect(other.status, other.stderr).to.equal(0);
    expect(compensations(contract.code)).to.have.length(2);
    expect((await ledgerRows('apply_compensation', contract.id)).map((x) => x.outcome)).to.deep.equal([
      'applied',
      'applied',
    ]);
    const events = await syncEvents('apply_compensation', contract.id);
    expect(events.map((e) => [e.outcome, e.opencell.code])).to.deep.equal([
      ['applied', 'CH_SC_OSO_COMPENSATION'],
      ['applied', 'CH_SC_OSO_COMPENSATION'],
    ]);
  });

  it('compensate without --key: each run is one charge, as each confirmation of the wizard, and it waits for the outcome by default (the wizard answered at once)', async () => {
    const { contract } = await customerWithContract();
    const args = ['compensate', contract.code, '--amount', '2.5', '--description', 'No key', '--yes'];
    for (const n of [1, 2]) {
      const r = await cli(...args);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout, 'the outcome, without --wait').to.contain('outcome: applied');
      expect(compensations(contract.code), `run ${n}`).to.have.length(n);
    }
  });

  it('compensate with --days × --monthly-price ÷ 30, and refused for a terminated contract', async () => {
    const { contract } = await customerWithContract();
    const r = await cli(
      'compensate',
      contract.code,
      '--days',
      '10',
      '--monthly-price',
      '17.36',
      '--description',
      'Sense servei',
      '--key',
      `d-${uniqueSuffix()}`,
      '--yes',
      '--wait',
      '60',
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(compensations(contract.code).map((c) => c.amountWithoutTax)).to.deep.equal([-5.7867]);
    await db.query(`UPDATE contract_contract SET is_terminated = true WHERE id = $1`, [contract.id]);
    const refused = await cli(
      'compensate',
      contract.code,
      '--amount',
      '1',
      '--description',
      'x',
      '--key',
      `t-${uniqueSuffix()}`,
      '--yes',
    );
    expect(refused.status).to.equal(1);
    expect(refused.stderr).to.contain('is terminated');
    expect(compensations(contract.code)).to.have.length(1);
  });

  it('a compensation whose answer is lost after OpenCell applied it is charged once (the retry finds it)', async () => {
    const { contract } = await customerWithContract();
    // an earlier compensation of another amount, as the original module left them (unknown to this ledger)
    await t.pipeline.client.applyOneShotChargeInstance({
      subscription: contract.code,
      oneShotCharge: 'CH_SC_OSO_COMPENSATION',
      amountWithoutTax: -9,
      description: 'Old compensation',
    });
    // OpenCell applies the charge, then its answer is lost (502 after the commit)
    const rule = t.sandbox.faults.add({
      kind: 'error',
      status: 502,
      count: 1,
      path: 'applyOneShotChargeInstance',
      phase: 'after',
    });
    const key = `lost-${uniqueSuffix()}`;
    const r = await cli(
      'compensate',
      contract.code,
      '--amount',
      '4.5',
      '--description',
      'Lost answer',
      '--key',
      key,
      '--yes',
      '--wait',
      '60',
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(
      t.sandbox.faults.list().some((x) => x.id === rule.id),
      'the fault rule was spent',
    ).to.equal(false);
    const lost = compensations(contract.code).filter((c) => c.description === 'Lost answer');
    expect(
      lost.map((c) => c.amountWithoutTax),
      'charged once',
    ).to.deep.equal([-4.5]);
    expect(compensations(contract.code)).to.have.length(2);
    const calls = compensationCalls(contract.code).filter(
      (e) => (e.body as { description?: string }).description === 'Lost answer',
    );
    expect(
      calls.map((e) => [e.status, e.fault]),
      'one call, applied by OpenCell and answered 502 (the fault landed on it)',
    ).to.deep.equal([[502, 'error']]);
    expect(r.stdout).to.contain('outcome: skipped');
    const effect = await stateDb().query(`SELECT outcome FROM ledger_effect WHERE effect_key = $1`, [
      `compensation:${key}`,
    ]);
    expect(effect.rows).to.deep.equal([{ outcome: 'already_present' }]);
    const again = await cli(
      'compensate',
      contract.code,
      '--amount',
      '4.5',
      '--description',
      'Lost answer',
      '--key',
      key,
      '--yes',
    );
    expect(again.stdout).to.contain('was already applied');
    expect(compensations(contract.code)).to.have.length(2);
  });
});
