import { expect } from 'chai';
import type { PoolClient } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import type { IntentMessage } from '../../src/domain/intents/message';
import { type ProjectorHarness, startProjectorHarness } from '../integration/support/projector-harness';
import { odooDb, uniqueSuffix } from '../integration/support/stack';

/**
 * Regression (found by the kill -9 run): a create chain interrupted after createCustomer and before the CRM account
 * hierarchy (a crash, or a retriable failure of the second call) was refused on replay as "Customer with code X found
 * with no customer accounts associated" and dead-lettered: the contract never reached OpenCell.
 */
describe('a create chain interrupted between createCustomer and the account hierarchy resumes', function () {
  this.timeout(60_000);
  let harness: ProjectorHarness;
  let db: PoolClient;

  before(async () => {
    harness = await startProjectorHarness('faults_pc');
    db = await odooDb().connect();
  });
  after(async () => {
    db?.release();
    await harness?.close();
  });

  it('a failed CRM hierarchy call after the customer was created is retried to completion, not dead-lettered', async () => {
    const { projector, sandbox } = harness;
    const partner = await insertPartner(db, { email: `pc${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'fiber',
    });
    const msg = {
      v: 1,
      intentId: `pc-${uniqueSuffix()}`,
      aggregateKey: `partner:${partner.id}`,
      partnerId: partner.id,
      contractId: contract.id,
      intent: { kind: 'create_subscription', contractId: contract.id },
      force: undefined,
      source: {
        table: 'contract_contract',
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
    } as IntentMessage;
    sandbox.faults.add({ kind: 'error', status: 503, count: 1, path: 'createCRMAccountHierarchy' });
    const first = await projector.handle(msg, 1).then(
      () => null,
      (e: unknown) => e as { code?: string; retriable?: boolean },
    );
    expect(first?.retriable, 'the first attempt fails retriably').to.equal(true);
    expect(sandbox.state.customers.has(partner.ref!), 'the customer was created').to.equal(true);
    const second = await projector.handle(msg, 2);
    expect(second?.outcome).to.equal('applied');
    const sub = sandbox.state.subscriptions.get(contract.code);
    expect(sub?.status, 'subscription created (services follow with the line intents)').to.equal('CREATED');
    const creates = sandbox.journal
      .entries({ method: 'POST', path: '/account/customer' })
      .filter((e) => e.status < 300);
    expect(creates, 'one customer create').to.have.length(1);
  });

  it('a kill -9 right after an accepted createCustomer does not lose the contract: the write-ahead row (PostgreSQL ledger) lets the retry finish the hierarchy', async () => {
    const { projector, sandbox, ledgerPool } = harness;
    const partner = await insertPartner(db, { email: `pk${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
    });
    const msg = {
      v: 1,
      intentId: `pk-${uniqueSuffix()}`,
      aggregateKey: `partner:${partner.id}`,
      partnerId: partner.id,
      contractId: contract.id,
      intent: { kind: 'create_subscription', contractId: contract.id },
      source: {
        table: 'contract_contract',
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
    } as IntentMessage;
    // OpenCell creates the customer, and its answer never reaches the pipeline (as when the process dies then)
    sandbox.faults.add({
      kind: 'error',
      status: 502,
      count: 1,
      method: 'POST',
      path: '^/account/customer$',
      phase: 'after',
    });
    const first = await projector.handle(msg, 1).then(
      () => null,
      (e: unknown) => e as { retriable?: boolean },
    );
    expect(first?.retriable, 'the first attempt fails retriably').to.equal(true);
    expect(sandbox.state.customers.has(partner.ref!), 'OpenCell created the customer').to.equal(true);
    const row = await ledgerPool.query(`SELECT outcome FROM ledger_effect WHERE effect_key = $1`, [
      `customer:${partner.ref}`,
    ]);
    expect(
      row.rows.map((r) => r.outcome),
      'createCustomer written ahead of its call',
    ).to.deep.equal(['pending']);
    const second = await projector.handle(msg, 2);
    expect(second?.outcome).to.equal('applied');
    expect(second?.calls).to.deep.equal(['crmAccountHierarchyCreate', 'createSubscription', 'createAccess']);
    expect(sandbox.state.subscriptions.get(contract.code)?.userAccount).to.equal(`${partner.ref}_0`);
    const creates = sandbox.journal
      .entries({ method: 'POST', path: '/account/customer' })
      .filter((e) => e.status < 300);
    expect(creates, 'one customer create').to.have.length(1);
  });
});
