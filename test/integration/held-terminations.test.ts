import { expect } from 'chai';
import { PoolClient } from 'pg';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertPartner,
  terminateContract,
} from '../../testkit/demo-seed';
import { defaultPgSetupOptions, setupStateDatabase } from '../../src/app/pg-setup';
import { loadConfig } from '../../src/core/config';
import { startHeldIntentScheduler, type HeldIntentScheduler } from '../../src/flows/projection/held-intents';
import { startTestPipeline, TestPipeline } from './support/pipeline';
import { eventually, odooDb, stateDb, testKafka, uniqueSuffix } from './support/stack';

/**
 * T2 / T5 timing on the real stack (issue 14 §2; docs/parity.md rows T2, T5, R-termination): a contract terminated
 * with a date after today reaches OpenCell only when that day comes, as the original's queue_job ETAs. The projector
 * holds both terminations in the state database; the scheduler, its clock moved two days ahead by
 * HELD_INTENTS_CLOCK_OFFSET_MS rather than waiting, puts them back on the customer's queue, and they are applied.
 */
describe('held terminations: a future-dated termination is not sent until due (real CDC, OpenCell sandbox)', function () {
  this.timeout(180_000);
  let t: TestPipeline;
  let db: PoolClient;
  let scheduler: HeldIntentScheduler | undefined;

  before(async () => {
    await setupStateDatabase(defaultPgSetupOptions()); // migration 090 (held_intent) on a stack set up before it
    t = await startTestPipeline();
    db = await odooDb().connect();
  });
  after(async () => {
    await scheduler?.stop();
    db?.release();
    await t?.stop();
  });

  it('holds the subscription and service terminations dated tomorrow (no OpenCell call), then sends them once the scheduler finds them due', async () => {
    const partner = await insertPartner(db, { email: `held${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'fiber',
    });
    const code = contract.code;
    await eventually(
      async () =>
        (await t.pipeline.client.getSubscription(code))?.services?.serviceInstance?.length ? true : undefined,
      60_000,
      'subscription with its service',
    );
    const now = Date.now();
    const tomorrow = new Date(now + 86_400_000).toISOString().slice(0, 10);
    await terminateContract(db, contract.id, { date: tomorrow });

    const heldRows = () =>
      stateDb()
        .query<{ kind: string; not_before: Date }>(
          'SELECT kind, not_before FROM held_intent WHERE topic = $1 AND contract_id = $2 ORDER BY kind',
          [t.config.topics.intents, contract.id],
        )
        .then((r) => r.rows);
    // The fault is "the day has not come": count that both terminations landed in the held table.
    const held = await eventually(
      async () => {
        const rows = await heldRows();
        const kinds = new Set(rows.map((r) => r.kind));
        return kinds.has('terminate_subscription') && kinds.has('terminate_service') ? rows : undefined;
      },
      60_000,
      'both terminations held',
    );
    const day = Date.parse(`${tomorrow}T00:00:00Z`);
    expect(held.find((r) => r.kind === 'terminate_subscription')?.not_before.getTime()).to.equal(
      day + 300_000,
    );
    expect(held.find((r) => r.kind === 'terminate_service')?.not_before.getTime()).to.equal(day);

    const terminations = () =>
      t.sandbox.journal
        .entries()
        .filter(
          (e) =>
            /\/billing\/subscription\/terminate(Services)?$/.test(e.path) &&
            JSON.stringify(e.body ?? '').includes(code),
        );
    await new Promise((r) => setTimeout(r, 3000));
    expect(terminations(), 'nothing sent while held').to.deep.equal([]);

    // Two days later, as far as the scheduler knows: both are due.
    const later = loadConfig({
      ...process.env,
      OPENCELL_PASSWORD: 'unused-here',
      ODOO_PASSWORD: 'unused-here',
      INTENTS_TOPIC: t.config.topics.intents,
      HELD_INTENTS_POLL_MS: '200',
      HELD_INTENTS_CLOCK_OFFSET_MS: String(2 * 86_400_000),
    });
    scheduler = await startHeldIntentScheduler(later, { pool: stateDb(), kafka: testKafka() });
    const sent = await eventually(
      async () => {
        const e = terminations();
        return e.some((x) => x.path.endsWith('/terminate')) &&
          e.some((x) => x.path.endsWith('/terminateServices'))
          ? e
          : undefined;
      },
      60_000,
      'terminations sent once due',
    );
    const sub = sent.find((x) => x.path.endsWith('/terminate'));
    expect((sub?.body as { terminationDate?: string }).terminationDate).to.equal(tomorrow);
    expect(JSON.stringify(sub?.body)).to.contain('CC_TERMINATION');
    expect(
      sent.filter((x) => x.path.endsWith('/terminate')),
      'one subscription termination',
    ).to.have.length(1);
    expect(await heldRows(), 'released rows are deleted').to.deep.equal([]);
    expect(scheduler.released).to.be.at.least(2);
  });
});
