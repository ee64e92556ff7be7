import { expect } from 'chai';
import type { PoolClient } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import type { IntentMessage } from '../../src/domain/intents/message';
import { type ProjectorHarness, startProjectorHarness } from '../integration/support/projector-harness';
import { odooDb, uniqueSuffix } from '../integration/support/stack';
import { contractIntentMessage } from '../unit/support/intent-message';
import type { ContractView } from '../../src/domain/projection/views';

/**
 * Regression (found by the CI run of stop 27, kill -9 scenario: "old access … still there"): a number change A → B
 * interrupted after the subscription's description became B and before access A was deleted, then a second change
 * B → C committed before the retry. The retry of A → B was superseded (Odoo holds C) and did nothing; the change
 * B → C deleted the description's number B (absent) and created C: access A stayed in OpenCell for ever.
 */
describe('a number change interrupted after the description update, then superseded by a newer number', function () {
  this.timeout(60_000);
  let harness: ProjectorHarness;
  let db: PoolClient;

  before(async () => {
    harness = await startProjectorHarness('faults_phone');
    db = await odooDb().connect();
  });
  after(async () => {
    db?.release();
    await harness?.close();
  });

  /** A mobile contract of a new partner, created in OpenCell by its create_subscription intent. */
  const contractInOpenCell = async (tag: string) => {
    const partner = await insertPartner(db, { email: `${tag}${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
    });
    const message = (intent: IntentMessage['intent'], op: 'c' | 'u' = 'u') =>
      contractIntentMessage({ id: contract.id } as ContractView, intent, {
        intentId: `${tag}-${uniqueSuffix()}`,
        partnerId: partner.id,
        source: op === 'c' ? { op } : { op, table: contract.infoTable, rowId: contract.infoId },
      });
    const created = await harness.projector.handle(
      message({ kind: 'create_subscription', contractId: contract.id }, 'c'),
      1,
    );
    expect(created?.outcome, 'the contract in OpenCell').to.equal('applied');
    /** the intent of a number change of the contract's ISP info record */
    const change = (phone: string, previousPhone: string) =>
      message({
        kind: 'update_phone_number',
        infoTable: contract.infoTable,
        infoId: contract.infoId,
        phone,
        previousPhone,
      } as IntentMessage['intent']);
    const accesses = () =>
      (harness.sandbox.state.accessesBySubscription.get(contract.code) ?? []).map((x) => x.code).sort();
    return { contract, change, accesses };
  };

  /** A number as Odoo writes it: the ISP info's and the contract's stored one, in one transaction. */
  const setPhone = async (contract: { id: number; infoTable: string; infoId: number }, phone: string) => {
    await db.query('BEGIN');
    await db.query(`UPDATE ${contract.infoTable} SET phone_number = $2, write_date = now() WHERE id = $1`, [
      contract.infoId,
      phone,
    ]);
    await db.query(`UPDATE contract_contract SET phone_number = $2, write_date = now() WHERE id = $1`, [
      contract.id,
      phone,
    ]);
    await db.query('COMMIT');
  };

  const newNumber = (first: string) =>
    `${first}${String(10_000_000 + Math.floor(Math.random() * 89_999_999))}`;

  /** A → B with the access delete refused once: the description is B, access A still there. */
  const interruptedChange = async (
    c: Awaited<ReturnType<typeof contractInOpenCell>>,
    a: string,
    b: string,
  ) => {
    await setPhone(c.contract, b);
    const toB = c.change(b, a);
    const rule = harness.sandbox.faults.add({
      kind: 'error',
      status: 503,
      count: 1,
      operation: 'deleteAccess',
    });
    const first = await harness.projector.handle(toB, 1).then(
      () => null,
      (e: unknown) => e as { retriable?: boolean },
    );
    harness.sandbox.faults.remove(rule.id);
    // the fault landed in its window
    expect(first?.retriable, 'the first try fails retriably').to.equal(true);
    expect(
      harness.sandbox.state.subscriptions.get(c.contract.code)?.description,
      'description already B',
    ).to.equal(b);
    expect(c.accesses(), 'access A still there after the failed delete').to.deep.equal([a]);
    return toB;
  };

  it('the superseded retry deletes the old access it had left: only the newest number remains', async () => {
    const c = await contractInOpenCell('ps');
    const a = c.contract.phoneNumber;
    const b = newNumber('6');
    const cc = newNumber('7');
    expect(c.accesses(), 'the creation made access A').to.deep.equal([a]);
    const toB = await interruptedChange(c, a, b);
    // B → C is committed in Odoo before A → B is tried again
    await setPhone(c.contract, cc);
    const retry = await harness.projector.handle(toB, 2);
    expect(retry?.calls, 'the superseded retry removes only the access it had left').to.deep.equal([
      'deleteAccess',
    ]);
    expect(c.accesses(), 'A gone, B never created').to.deep.equal([]);
    const newest = await harness.projector.handle(c.change(cc, b), 1);
    expect(newest?.outcome).to.equal('applied');
    expect(c.accesses(), 'only the newest number').to.deep.equal([cc]);
    expect(harness.sandbox.state.subscriptions.get(c.contract.code)?.description).to.equal(cc);
  });

  it('a superseded change whose old number is the current one again (A → B → A) leaves access A alone', async () => {
    const c = await contractInOpenCell('pa');
    const a = c.contract.phoneNumber;
    const toB = await interruptedChange(c, a, newNumber('6'));
    await setPhone(c.contract, a);
    const retry = await harness.projector.handle(toB, 2);
    expect(retry?.outcome, 'superseded: nothing to do').to.equal('skipped');
    expect(c.accesses(), 'A is the current number: kept').to.deep.equal([a]);
  });
});
