import { expect } from 'chai';
import { PoolClient } from 'pg';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertContractLine,
  insertPartner,
  UNKNOWN_PRODUCT_CODE,
} from '../../testkit/demo-seed';
import type { SyncEvent } from '../../src/domain/outbox/events';
import { createOutboxRelay, OutboxRelay } from '../../src/flows/outbox/relay';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { subscribeEvents, Subscription } from '../../src/flows/outbox/subscriber';
import { startTestPipeline, TestPipeline } from './support/pipeline';
import { eventually, odooDb, testKafka, uniqueSuffix } from './support/stack';

/**
 * Every projection outcome leaves through the outbox: ledger row and outbox row in one transaction, the relay
 * publishes Avro through the registry, and a subscriber (what another service would run) decodes it.
 */
describe('sync events for subscribers (outbox → relay → Avro → subscriber)', function () {
  this.timeout(180_000);
  let t: TestPipeline;
  let relay: OutboxRelay;
  let sub: Subscription;
  let db: PoolClient;
  const seen: SyncEvent[] = [];

  before(async () => {
    t = await startTestPipeline();
    relay = createOutboxRelay(t.config, { pool: t.pipeline.statePool, kafka: testKafka() }, { pollMs: 200 });
    await relay.start();
    sub = await subscribeEvents({
      kafka: testKafka(),
      registry: new EventSchemas({
        registryUrl: t.config.registryUrl,
        topics: { syncEvents: t.config.topics.syncEvents, invoiceEvents: t.config.topics.invoiceEvents },
      }),
      topic: t.config.topics.syncEvents,
      groupId: `subscriber-${uniqueSuffix()}`,
      fromBeginning: true,
      onEvent: (d) => {
        if (d.type === 'SyncOutcome') seen.push(d.event as SyncEvent);
      },
    });
    db = await odooDb().connect();
  });
  after(async () => {
    db?.release();
    await sub?.stop();
    await relay?.stop();
    await t?.stop();
  });

  it('publishes one decoded sync event per projected change, with source position and outcome', async () => {
    const partner = await insertPartner(db, { email: `se${uniqueSuffix()}@example.org` });
    const bank = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: bank.mandateId,
      kind: 'mobile',
      lines: ['SE_SC_REC_MOBILE_T_UNL_20480'],
    });
    const created = await eventually(
      async () => seen.find((e) => e.action === 'create_subscription' && e.odoo.id === contract.id),
      60_000,
      'create_subscription event',
    );
    expect(created.odoo.model).to.equal('contract.contract');
    expect(['applied', 'skipped']).to.include(created.outcome);
    expect(created.source.table).to.equal('contract_contract');
    expect(created.source.lsn).to.be.a('number');
    expect(created.source.txId).to.be.a('number');
    expect(created.opencell.entity).to.equal('subscription');
    expect(created.eventId).to.match(/^[0-9a-f-]{36}$/);
    const activated = await eventually(
      async () => seen.find((e) => e.action === 'activate_service' && e.odoo.id === contract.lineIds[0]),
      60_000,
      'activate_service event',
    );
    expect(activated.odoo.model).to.equal('contract.line');
    // The subscription, customer and account were created by exactly one of the two intents.
    const calls = seen
      .filter((e) => e.odoo.id === contract.id || e.odoo.id === contract.lineIds[0])
      .flatMap((e) => e.calls);
    expect(calls.filter((c) => c === 'createSubscription')).to.have.length(1);
    expect(calls).to.include('activateServices');
  });

  it('publishes a dead_lettered event with the error code for a rejected change', async () => {
    const partner = await insertPartner(db, { email: `se${uniqueSuffix()}@example.org` });
    const bank = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: bank.mandateId,
      kind: 'fiber',
    });
    const lineId = await insertContractLine(db, contract.id, { productCode: UNKNOWN_PRODUCT_CODE });
    const dead = await eventually(
      async () => seen.find((e) => e.odoo.id === lineId && e.outcome === 'dead_lettered'),
      60_000,
      'dead_lettered event',
    );
    expect(dead.errorCode).to.equal('UNKNOWN_PRODUCT');
    expect(dead.errorMessage).to.contain(UNKNOWN_PRODUCT_CODE);
    expect(dead.calls).to.deep.equal([]);
  });
});
