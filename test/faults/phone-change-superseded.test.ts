import { expect } from 'chai';
import type { PoolClient } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import type { IntentMessage } from '../../src/domain/intents/message';
import { type ProjectorHarness, startProjectorHarness } from '../integration/support/projector-harness';
import { odooDb, uniqueSuffix } from '../integration/support/stack';

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

  const source = (table: string, rowId: number, op: 'c' | 'u') => ({
    table,
    op,
    rowId,
    lsn: 1,
    txId: 1,
    tsMs: Date.now(),
    snapshot: false,
    topic: 't',
    partition: 0,
    offset: '0',
  });

  const setPhone = async (infoTable: string, infoId: number, contractId: number, phone: string) => {
    await db.query('BEGIN');
    await db.query(`UPDATE ${infoTable} SET phone_number = $2, write_date = now() WHERE id = $1`, [
      infoId,
      phone,
    ]);
    await db.query(`UPDATE contract_contract SET phone_number = $2, write_date = now() WHERE id = $1`, [
      contractId,
      phone,
    ]);
    await db.query('COMMIT');
  };

  it('the superseded retry deletes the old access it had left: only the newest number remains', async () => {
    const { projector, sandbox } = harness;
    const partner = await insertPartner(db, { email: `ps${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
    });
    const base = {
      v: 1,
      aggregateKey: `partner:${partner.id}`,
      partnerId: partner.id,
      contractId: contract.id,
    };
    const created = await projector.handle(
      {
        ...base,
        intentId: `ps-create-${uniqueSuffix()}`,
        intent: { kind: 'create_subscription', contractId: contract.id },
        source: source('contract_contract', contract.id, 'c'),
      } as IntentMessage,
      1,
    );
    expect(created?.outcome).to.equal('applied');
    const a = contract.phoneNumber;
    const b = `6${String(10_000_000 + Math.floor(Math.random() * 89_999_999))}`;
    const c = `7${String(10_000_000 + Math.floor(Math.random() * 89_999_999))}`;
    const accesses = () =>
      (sandbox.state.accessesBySubscription.get(contract.code) ?? []).map((x) => x.code).sort();
    expect(accesses(), 'the creation made access A').to.deep.equal([a]);

    const change = (phone: string, previousPhone: string) =>
      ({
        ...base,
        intentId: `ps-${phone}-${uniqueSuffix()}`,
        intent: {
          kind: 'update_phone_number',
          infoTable: contract.infoTable,
          infoId: contract.infoId,
          phone,
          previousPhone,
        },
        source: source(contract.infoTable, contract.infoId, 'u'),
      }) as IntentMessage;
    const toB = change(b, a);
    const toC = change(c, b);

    // A → B: the description update lands, the access delete fails (as a kill -9 between the two would leave it)
    await setPhone(contract.infoTable, contract.infoId, contract.id, b);
    const rule = sandbox.faults.add({ kind: 'error', status: 503, count: 1, operation: 'deleteAccess' });
    const first = await projector.handle(toB, 1).then(
      () => null,
      (e: unknown) => e as { retriable?: boolean },
    );
    sandbox.faults.remove(rule.id);
    // the fault landed in its window
    expect(first?.retriable, 'the first try fails retriably').to.equal(true);
    expect(sandbox.state.subscriptions.get(contract.code)?.description, 'description already B').to.equal(b);
    expect(accesses(), 'access A still there after the failed delete').to.deep.equal([a]);

    // B → C is committed in Odoo before A → B is tried again
    await setPhone(contract.infoTable, contract.infoId, contract.id, c);
    const retry = await projector.handle(toB, 2);
    expect(retry?.calls, 'the superseded retry removes only the access it had left').to.deep.equal([
      'deleteAccess',
    ]);
    expect(accesses(), 'A gone, B never created').to.deep.equal([]);
    const newest = await projector.handle(toC, 1);
    expect(newest?.outcome).to.equal('applied');
    expect(accesses(), 'only the newest number').to.deep.equal([c]);
    expect(sandbox.state.subscriptions.get(contract.code)?.description).to.equal(c);
  });

  it('a superseded change whose old number is the current one again (A → B → A) leaves access A alone', async () => {
    const { projector, sandbox } = harness;
    const partner = await insertPartner(db, { email: `pa${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
    });
    const base = {
      v: 1,
      aggregateKey: `partner:${partner.id}`,
      partnerId: partner.id,
      contractId: contract.id,
    };
    await projector.handle(
      {
        ...base,
        intentId: `pa-create-${uniqueSuffix()}`,
        intent: { kind: 'create_subscription', contractId: contract.id },
        source: source('contract_contract', contract.id, 'c'),
      } as IntentMessage,
      1,
    );
    const a = contract.phoneNumber;
    const b = `6${String(10_000_000 + Math.floor(Math.random() * 89_999_999))}`;
    const accesses = () =>
      (sandbox.state.accessesBySubscription.get(contract.code) ?? []).map((x) => x.code).sort();
    const toB = {
      ...base,
      intentId: `pa-b-${uniqueSuffix()}`,
      intent: {
        kind: 'update_phone_number',
        infoTable: contract.infoTable,
        infoId: contract.infoId,
        phone: b,
        previousPhone: a,
      },
      source: source(contract.infoTable, contract.infoId, 'u'),
    } as IntentMessage;
    await setPhone(contract.infoTable, contract.infoId, contract.id, b);
    const rule = sandbox.faults.add({ kind: 'error', status: 503, count: 1, operation: 'deleteAccess' });
    const first = await projector.handle(toB, 1).then(
      () => null,
      (e: unknown) => e as { retriable?: boolean },
    );
    sandbox.faults.remove(rule.id);
    expect(first?.retriable).to.equal(true);
    expect(accesses()).to.deep.equal([a]);
    await setPhone(contract.infoTable, contract.infoId, contract.id, a);
    const retry = await projector.handle(toB, 2);
    expect(retry?.outcome, 'superseded: nothing to do').to.equal('skipped');
    expect(accesses(), 'A is the current number: kept').to.deep.equal([a]);
  });
});
