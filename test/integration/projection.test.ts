import { expect } from 'chai';
import { KafkaMessage } from 'kafkajs';
import { PoolClient } from 'pg';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertContractLine,
  insertPartner,
  terminateContract,
  UNKNOWN_PRODUCT_CODE,
} from '../../testkit/demo-seed';
import { DLQ_HEADER } from '../../src/adapters/kafka/dlq';
import { startTestPipeline, TestPipeline } from './support/pipeline';
import { routerTopics } from '../../src/flows/projection/stages';
import { readTopic } from '../../src/app/dlq-admin';
import { execFileSync } from 'node:child_process';
import {
  eventually,
  odooDb,
  resetGroupToEarliest,
  resetGroupToTime,
  ROOT,
  stateDb,
  testKafka,
  uniqueSuffix,
} from './support/stack';

/**
 * The whole Odoo → OpenCell flow through real CDC: a write in Odoo's PostgreSQL, Debezium, Kafka, the router and
 * the projector (kafkajs), the production OpenCell client, the OpenCell sandbox — asserted on the sandbox's journal
 * of calls and its final state.
 */
describe('projection of Odoo changes into OpenCell (real CDC, OpenCell sandbox)', function () {
  this.timeout(180_000);
  let t: TestPipeline;
  let db: PoolClient;

  before(async () => {
    t = await startTestPipeline();
    db = await odooDb().connect();
  });
  after(async () => {
    db?.release();
    await t?.stop();
  });

  const writes = (pred: (path: string, body: unknown) => boolean = () => true) =>
    t.sandbox.journal.entries().filter((e) => isStateChanging(e) && e.status < 300 && pred(e.path, e.body));
  const mentions = (needle: string) => (_p: string, body: unknown) =>
    JSON.stringify(body ?? '').includes(needle);
  const sub = (code: string) => t.pipeline.client.getSubscription(code);

  async function newCustomerWithContract(
    opts: Parameters<typeof insertContract>[1] extends infer O ? Partial<O> : never = {},
  ) {
    const partner = await insertPartner(db, { email: `p${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      ...opts,
    });
    return { partner, contract };
  }

  it('creates customer, account hierarchy, subscription, access and services for a contract created with its lines in one transaction', async () => {
    const { partner, contract } = await newCustomerWithContract({
      kind: 'mobile',
      lines: ['SE_SC_REC_MOBILE_T_UNL_20480', 'SE_SC_REC_MOBILE_PACK_UNL_1024', 'CH_SC_OSO_SIM'],
    });
    const s = await eventually(
      async () => {
        const x = await sub(contract.code);
        return x &&
          (x.services?.serviceInstance ?? []).length >= 2 &&
          writes(mentions(contract.code)).some((e) => e.path.includes('applyOneShot'))
          ? x
          : undefined;
      },
      60_000,
      `subscription ${contract.code} with its services`,
    );
    expect(s.status).to.equal('ACTIVE');
    const paths = writes((p, b) => mentions(partner.ref!)(p, b) || mentions(contract.code)(p, b)).map(
      (e) => e.path,
    );
    const order = (needle: string) => paths.findIndex((p) => p.includes(needle));
    expect(order('/account/customer')).to.be.greaterThan(-1);
    expect(order('/account/customer')).to.be.lessThan(order('createCRMAccountHierarchy'));
    expect(order('createCRMAccountHierarchy')).to.be.lessThan(paths.indexOf('/billing/subscription'));
    expect(paths.indexOf('/billing/subscription')).to.be.lessThan(order('/account/access'));
    expect(order('/account/access')).to.be.lessThan(order('activateServices'));
    expect(
      paths.filter((p) => p === '/billing/subscription'),
      'exactly one subscription create',
    ).to.have.length(1);
    expect(
      paths.filter((p) => p.includes('applyOneShot')),
      'the one-shot once',
    ).to.have.length(1);
    const codes = (s.services?.serviceInstance ?? []).map((i: { code: string }) => i.code).sort();
    expect(codes).to.deep.equal(['SE_SC_REC_MOBILE_PACK_UNL_1024', 'SE_SC_REC_MOBILE_T_UNL_20480']);
    const ledger = await stateDb().query(
      `SELECT entity, code FROM ledger_entity WHERE partner_id = $1 ORDER BY entity`,
      [partner.id],
    );
    expect(ledger.rows.map((r) => r.entity)).to.include.members([
      'customer',
      'customer_account',
      'subscription',
      'access',
      'service_instance',
    ]);
  });

  it('makes no OpenCell call for an irrelevant update', async () => {
    const { contract } = await newCustomerWithContract({ kind: 'fiber' });
    await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    await new Promise((r) => setTimeout(r, 1500));
    const before = t.sandbox.journal.entries().length;
    await db.query(
      `UPDATE contract_contract SET name = name || ' (renamed)', write_date = now() WHERE id = $1`,
      [contract.id],
    );
    await db.query(
      `UPDATE res_partner SET comment = 'note', write_date = now() WHERE id = (SELECT partner_id FROM contract_contract WHERE id = $1)`,
      [contract.id],
    );
    await new Promise((r) => setTimeout(r, 4000));
    expect(t.sandbox.journal.entries().slice(before).filter(isStateChanging)).to.deep.equal([]);
  });

  it('terminates a service when its line gets date_end, after activating the new tariff (tariff change)', async () => {
    const { contract } = await newCustomerWithContract({
      kind: 'mobile',
      lines: ['SE_SC_REC_MOBILE_T_150_1024'],
    });
    await eventually(
      async () => {
        const x = await sub(contract.code);
        return x && (x.services?.serviceInstance ?? []).length === 1 ? x : undefined;
      },
      60_000,
      'first tariff active',
    );
    const oldLine = contract.lineIds[0];
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await db.query('BEGIN');
    await insertContractLine(db, contract.id, {
      productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
      dateStart: tomorrow,
    });
    await db.query(`UPDATE contract_line SET date_end = $2 WHERE id = $1`, [
      oldLine,
      new Date().toISOString().slice(0, 10),
    ]);
    await db.query('COMMIT');
    await eventually(
      async () =>
        writes(mentions(contract.code)).some((e) => e.path.includes('terminateServices')) ? true : undefined,
      60_000,
      'termination',
    );
    const seq = writes(mentions(contract.code))
      .map((e) => e.path)
      .filter((p) => /activateServices|terminateServices/.test(p));
    expect(seq).to.deep.equal([
      '/billing/subscription/activateServices',
      '/billing/subscription/activateServices',
      '/billing/subscription/terminateServices',
    ]);
  });

  it('terminates the subscription with CC_TERMINATION at terminate_date, after its lines', async () => {
    const { contract } = await newCustomerWithContract({ kind: 'fiber' });
    await eventually(
      async () => ((await sub(contract.code))?.services?.serviceInstance?.length ? true : undefined),
      60_000,
      'active',
    );
    const date = new Date().toISOString().slice(0, 10);
    await db.query('BEGIN');
    await db.query(`UPDATE contract_line SET date_end = $2 WHERE contract_id = $1`, [contract.id, date]);
    await terminateContract(db, contract.id, { date, ownTransaction: false });
    await db.query('COMMIT');
    const term = await eventually(
      async () => writes(mentions(contract.code)).find((e) => e.path === '/billing/subscription/terminate'),
      60_000,
      'subscription termination',
    );
    expect(JSON.stringify(term.body)).to.contain('CC_TERMINATION');
    const paths = writes(mentions(contract.code)).map((e) => e.path);
    expect(paths.lastIndexOf('/billing/subscription/terminateServices')).to.be.lessThan(
      paths.indexOf('/billing/subscription/terminate'),
    );
    expect(paths.filter((p) => p === '/billing/subscription/terminate')).to.have.length(1);
  });

  it('applies a one-shot added to a terminated contract: the call is sent whatever the subscription status, as the original create_one_shot', async () => {
    // Terminated in the past, so that OpenCell closes the subscription at once (RESILIATED).
    const { contract } = await newCustomerWithContract({ kind: 'mobile', dateStart: '2024-01-01' });
    await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    await terminateContract(db, contract.id, { date: '2024-06-30' });
    await eventually(
      async () => ((await sub(contract.code))?.status === 'RESILIATED' ? true : undefined),
      60_000,
      'subscription RESILIATED',
    );
    await insertContractLine(db, contract.id, { productCode: 'CH_SC_OSO_SIM' });
    const call = await eventually(
      async () =>
        writes(mentions(contract.code)).find(
          (e) => e.path === '/billing/subscription/applyOneShotChargeInstance',
        ),
      60_000,
      'one-shot on the RESILIATED subscription',
    );
    expect(call.body).to.deep.equal({ subscription: contract.code, oneShotCharge: 'CH_SC_OSO_SIM' });
  });

  it('updates the customer and every account address when the partner moves', async () => {
    const { partner, contract } = await newCustomerWithContract({ kind: 'mobile' });
    await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    await db.query(
      `UPDATE res_partner SET street = 'Carrer de la Pau 12', zip = '08002', city = 'Barcelona' WHERE id = $1`,
      [partner.id],
    );
    await eventually(
      async () =>
        writes(
          (p, b) => p.includes('createOrUpdateCRMAccountHierarchy') && mentions('Carrer de la Pau 12')(p, b),
        ).length
          ? true
          : undefined,
      60_000,
      'account address update',
    );
    const customerUpdate = writes((p) => p === '/account/customer').filter(
      (e) => e.method === 'PUT' && mentions(partner.ref!)(e.path, e.body),
    );
    expect(customerUpdate.length).to.be.greaterThan(0);
    const customer = await t.pipeline.client.getCustomer(partner.ref!);
    expect(JSON.stringify(customer)).to.contain('Carrer de la Pau 12');
  });

  it('moves the access to the new number when the ISP info phone number changes', async () => {
    const { contract } = await newCustomerWithContract({ kind: 'mobile' });
    await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    const newPhone = `6${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
    await db.query(`UPDATE ${contract.infoTable} SET phone_number = $2 WHERE id = $1`, [
      contract.infoId,
      newPhone,
    ]);
    const accesses = await eventually(
      async () => {
        const list = await t.pipeline.client.listAccesses(contract.code);
        return list.some((a) => a.code === newPhone) && !list.some((a) => a.code === contract.phoneNumber)
          ? list
          : undefined;
      },
      60_000,
      'access moved',
    );
    expect(accesses.map((a) => a.code)).to.include(newPhone);
    expect((await sub(contract.code))?.description).to.equal(newPhone);
  });

  it('sends a contract line with a product OpenCell does not know to the dead-letter topic, naming the code', async () => {
    const { contract } = await newCustomerWithContract({ kind: 'fiber' });
    await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    await insertContractLine(db, contract.id, { productCode: UNKNOWN_PRODUCT_CODE });
    const dead = await readDeadLetters(t.config.topics.dlq, (m) =>
      (m.headers?.[DLQ_HEADER.message]?.toString() ?? '').includes(UNKNOWN_PRODUCT_CODE),
    );
    expect(dead.headers?.[DLQ_HEADER.code]?.toString()).to.equal('UNKNOWN_PRODUCT');
    expect(dead.headers?.[DLQ_HEADER.stage]?.toString()).to.equal('projector');
    // The partition moved on: a later change of the same customer is still applied.
    await db.query(`UPDATE contract_line SET date_end = CURRENT_DATE WHERE id = $1`, [contract.lineIds[0]]);
    await eventually(
      async () =>
        writes(mentions(contract.code)).some((e) => e.path.includes('terminateServices')) ? true : undefined,
      60_000,
      'later change applied',
    );
    const ledger = await stateDb().query(
      `SELECT outcome, error_code FROM ledger_intent WHERE odoo_model = 'contract.line' AND outcome = 'dead_lettered' AND error_code = 'UNKNOWN_PRODUCT' AND aggregate_key = (SELECT aggregate_key FROM ledger_intent WHERE odoo_model='contract.contract' AND odoo_id=$1 LIMIT 1)`,
      [contract.id],
    );
    expect(ledger.rowCount).to.be.greaterThan(0);
  });

  it('survives a burst of OpenCell 5xx with no loss', async () => {
    t.sandbox.faults.add({ kind: 'error', status: 503, count: 6, path: '/billing/subscription' });
    const { contract } = await newCustomerWithContract({ kind: 'mobile' });
    const s = await eventually(
      async () => {
        const x = await sub(contract.code).catch(() => null);
        return x && (x.services?.serviceInstance ?? []).length >= 1 ? x : undefined;
      },
      90_000,
      'subscription despite 5xx',
    );
    expect(s.code).to.equal(contract.code);
    expect(t.events.some(({ e }) => e.type === 'retry' && e.code === 'OPENCELL_UNAVAILABLE')).to.equal(true);
    expect(t.events.some(({ e }) => e.type === 'dead-letter' && e.code === 'OPENCELL_UNAVAILABLE')).to.equal(
      false,
    );
  });

  it('moves the customer account to the new IBAN when the contract gets a new mandate (W2)', async () => {
    const { partner, contract } = await newCustomerWithContract({ kind: 'fiber' });
    const s = await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    const bank = await insertBankAccountAndMandate(db, partner.id, { iban: 'ES7921000813610123456789' });
    // As the IBAN wizard's write(): Odoo moves write_date with the mandate.
    await db.query(
      `UPDATE contract_contract SET mandate_id = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
      [contract.id, bank.mandateId],
    );
    const call = await eventually(
      async () =>
        writes(
          (p, b) =>
            p.includes('createOrUpdateCRMAccountHierarchy') && mentions('ES7921000813610123456789')(p, b),
        )[0],
      60_000,
      'IBAN update',
    );
    expect(JSON.stringify(call.body)).to.contain(String(s.userAccount));
    const ca = await t.pipeline.client.getCustomerAccount(String(s.userAccount));
    expect(JSON.stringify(ca)).to.contain('ES7921000813610123456789');
  });

  it('sends no email or IBAN update for the email links and mandate a contract is created with (W1/W2 react to later writes only, as the original)', async () => {
    const { contract } = await newCustomerWithContract({ kind: 'mobile' });
    await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    const rel = await db.query(
      'SELECT count(*)::int AS n FROM contract_contract_res_partner_rel WHERE contract_contract_id = $1',
      [contract.id],
    );
    expect(rel.rows[0].n, 'the contract was created with its email links').to.be.above(0);
    await new Promise((r) => setTimeout(r, 4000));
    const rows = await stateDb().query<{ kind: string }>(
      `SELECT kind FROM ledger_intent WHERE odoo_model = 'contract.contract' AND odoo_id = $1`,
      [contract.id],
    );
    const kinds = rows.rows.map((r) => r.kind);
    expect(kinds).to.include('create_subscription');
    expect(kinds, 'no W1 / W2 intent for the creation').not.to.include('update_subscription');
  });

  it('moves the customer account to the new contract email when the email relation changes (W1)', async () => {
    const { partner, contract } = await newCustomerWithContract({ kind: 'mobile' });
    const s = await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'subscription');
    const newEmail = `new-${uniqueSuffix()}@example.org`;
    const emailPartner = await insertPartner(db, {
      parentId: partner.id,
      type: 'contract-email',
      email: newEmail,
    });
    await db.query('BEGIN');
    await db.query(`DELETE FROM contract_contract_res_partner_rel WHERE contract_contract_id = $1`, [
      contract.id,
    ]);
    await db.query(
      `INSERT INTO contract_contract_res_partner_rel (contract_contract_id, res_partner_id) VALUES ($1, $2)`,
      [contract.id, emailPartner.id],
    );
    // As the email wizard's write() of email_ids: Odoo moves the contract's write_date in the same transaction.
    await db.query(`UPDATE contract_contract SET write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`, [
      contract.id,
    ]);
    await db.query('COMMIT');
    await eventually(
      async () =>
        writes((p, b) => p.includes('createOrUpdateCRMAccountHierarchy') && mentions(newEmail)(p, b))[0],
      60_000,
      'email update',
    );
    const ca = await t.pipeline.client.getCustomerAccount(String(s.userAccount));
    expect(JSON.stringify(ca)).to.contain(newEmail);
  });

  it('dead-letters a new contract of a partner blocked for OpenCell, and force-create (W4) creates it', async () => {
    const { partner, contract } = await newCustomerWithContract({ kind: 'mobile' });
    await eventually(async () => (await sub(contract.code)) ?? undefined, 60_000, 'first subscription');
    await db.query(`UPDATE res_partner SET "block_contract_creation_in_OC" = true WHERE id = $1`, [
      partner.id,
    ]);
    const second = await insertContract(db, { partnerId: partner.id, kind: 'fiber' });
    const dead = await readDeadLetters(
      t.config.topics.dlq,
      (m) =>
        (m.headers?.[DLQ_HEADER.message]?.toString() ?? '').includes(
          'does not allow automatic subscription creation',
        ) && (m.value?.toString() ?? '').includes(`"contractId":${second.id}`),
    );
    expect(dead.headers?.[DLQ_HEADER.code]?.toString()).to.equal('PROJECTION_REJECTED');
    expect(await sub(second.code)).to.equal(null);
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, ['--require', 'tsx/cjs', 'src/app/cli.ts', ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          INTENTS_TOPIC: t.config.topics.intents,
          DLQ_TOPIC: t.config.topics.dlq,
          OPENCELL_PASSWORD: 'unused',
          ODOO_PASSWORD: 'unused',
          LOG_LEVEL: 'error',
        },
      });
    const out = cli('force-create', second.code, '--yes');
    expect(out).to.contain(second.code);
    const forced = await eventually(
      async () => (await sub(second.code)) ?? undefined,
      60_000,
      'forced subscription',
    );
    expect(forced.code).to.equal(second.code);
    // The original's forced creation sends no lines (FORCE_CREATE_WITH_LINES off, docs/parity.md W4): the line's
    // activation had dead-lettered too, and the operator replays it, as the original's failed job was re-queued.
    // Done here so the contract is whole before the replay test below counts state-changing calls.
    const blocked = (
      JSON.parse(cli('dlq', 'list', '--json')) as {
        deadLetters: { id: string; message: string | null; replayed: unknown }[];
      }
    ).deadLetters.filter(
      (d) => !d.replayed && (d.message ?? '').includes('does not allow automatic subscription creation'),
    );
    expect(blocked.length, 'the creation and the line dead-lettered').to.equal(2);
    cli('dlq', 'replay', ...blocked.flatMap((d) => ['--id', d.id]), '--yes');
    await eventually(
      async () =>
        t.sandbox.journal
          .entries({ method: 'POST', path: '/billing/subscription/activateServices' })
          .some((e) => e.status < 300 && JSON.stringify(e.body).includes(`"subscription":"${second.code}"`))
          ? true
          : undefined,
      60_000,
      'the line activated once its dead letter was replayed',
    );
  });

  it('replays from the earliest offset with no new state-changing call; finished intents end in bulk, also after a dead-lettered one of their key', async () => {
    // 40 address changes of one customer: 40 update_customer intents on one key, finished before the replay, so that
    // the replay fetches a batch of at least BULK_REPLAY_MIN_BATCH finished intents (the bulk replay check, issue 17).
    // Before them on the same key, an intent that was dead-lettered (a line with a product OpenCell lacks): a replay
    // tries it again, and the finished intents after it still end in bulk (a finished intent has no effect).
    const { partner, contract } = await newCustomerWithContract({ kind: 'mobile' });
    await eventually(
      async () => (await sub(contract.code)) ?? undefined,
      60_000,
      `subscription ${contract.code}`,
    );
    await insertContractLine(db, contract.id, { productCode: UNKNOWN_PRODUCT_CODE });
    const deadLettered = await eventually(
      async () => {
        const r = await stateDb().query<{ intent_id: string }>(
          `SELECT intent_id FROM ledger_intent WHERE aggregate_key = $1 AND outcome = 'dead_lettered'
              AND error_code = 'UNKNOWN_PRODUCT'`,
          [`partner:${partner.id}`],
        );
        return r.rows[0]?.intent_id;
      },
      60_000,
      'the line with an unknown product dead-lettered',
    );
    const changes = 40;
    for (let i = 1; i <= changes; i++)
      await db.query(`UPDATE res_partner SET street = $2, write_date = now() WHERE id = $1`, [
        partner.id,
        `Carrer del Replay ${i}`,
      ]);
    await eventually(
      async () => {
        const r = await stateDb().query(
          `SELECT count(*)::int AS n FROM ledger_intent
            WHERE kind = 'update_customer' AND aggregate_key = $1 AND outcome IN ('applied', 'skipped')`,
          [`partner:${partner.id}`],
        );
        return r.rows[0].n >= changes ? true : undefined;
      },
      60_000,
      `the ${changes} address changes projected`,
    );
    await new Promise((r) => setTimeout(r, 2000));
    await t.pipeline.stop();
    const eventsBefore = t.events.length;
    await resetGroupToEarliest(t.groups.projector, [t.config.topics.intents]);
    const before = t.sandbox.journal.entries().length;
    const intents = await stateDb().query(`SELECT count(*)::int AS n FROM ledger_intent`);
    await t.restart();
    const admin2 = testKafka().admin();
    await admin2.connect();
    await eventually(
      async () => {
        const lag = await groupLag(admin2, t.groups.projector, t.config.topics.intents);
        return lag === 0 ? true : undefined;
      },
      60_000,
      'projector caught up',
    );
    await admin2.disconnect();
    const replayWrites = t.sandbox.journal
      .entries()
      .slice(before)
      .filter((e) => isStateChanging(e) && e.status < 300);
    expect(replayWrites, 'no state-changing call on replay').to.deep.equal([]);
    const inBulk = t.events
      .slice(eventsBefore)
      .filter(({ stage, e }) => stage === 'projector' && e.type === 'batch-handled')
      .reduce((n, { e }) => n + (e.type === 'batch-handled' ? e.messages : 0), 0);
    expect(inBulk, 'finished intents ended by the bulk replay check').to.be.at.least(changes);
    // the fault landed: the dead-lettered intent before them on their key was read again and went to its handler
    const again = t.events
      .slice(eventsBefore)
      .filter(
        ({ stage, e }) => stage === 'projector' && e.type === 'dead-letter' && e.code === 'UNKNOWN_PRODUCT',
      );
    expect(again.length, `intent ${deadLettered} dead-lettered again by the replay`).to.be.at.least(1);
    expect((await stateDb().query(`SELECT count(*)::int AS n FROM ledger_intent`)).rows[0].n).to.be.at.least(
      intents.rows[0].n,
    );
  });

  it('a router replay does not produce again the intents the ledger has finished; an unfinished one of the same batch goes out again (issue 17 §2)', async () => {
    const { partner, contract } = await newCustomerWithContract({ kind: 'mobile' });
    await eventually(
      async () => (await sub(contract.code)) ?? undefined,
      60_000,
      `subscription ${contract.code}`,
    );
    const from = Date.now();
    const changes = 40;
    for (let i = 1; i <= changes; i++)
      await db.query(`UPDATE res_partner SET street = $2, write_date = now() WHERE id = $1`, [
        partner.id,
        `Carrer de la Represa ${i}`,
      ]);
    const key = `partner:${partner.id}`;
    const finished = async () =>
      (
        await stateDb().query<{ intent_id: string }>(
          `SELECT intent_id FROM ledger_intent
            WHERE kind = 'update_customer' AND aggregate_key = $1 AND outcome IN ('applied', 'skipped')
            ORDER BY created_at, intent_id`,
          [key],
        )
      ).rows.map((r) => r.intent_id);
    const ids = await eventually(
      async () => {
        const f = await finished();
        return f.length >= changes ? f : undefined;
      },
      60_000,
      `the ${changes} address changes projected`,
    );
    await new Promise((r) => setTimeout(r, 1000));
    await t.pipeline.stop();
    // one of them unfinished again (as if its projection had never ended): the replay must produce it
    const unfinished = ids[changes >> 1];
    await stateDb().query(`DELETE FROM ledger_intent WHERE intent_id = $1`, [unfinished]);
    const topics = routerTopics(t.config.topics.prefix);
    await resetGroupToTime(t.groups.router, topics, from);
    const leftOutBefore = t.alreadyFinished.reduce((n, x) => n + x.intents, 0);
    const before = t.sandbox.journal.entries().length;
    await t.restart();
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await eventually(
        async () => {
          let lag = 0;
          for (const topic of topics) lag += await groupLag(admin, t.groups.router, topic);
          lag += await groupLag(admin, t.groups.projector, t.config.topics.intents);
          return lag === 0 && (await finished()).includes(unfinished) ? true : undefined;
        },
        60_000,
        'the router replayed the changes and the projector finished the unfinished intent',
      );
    } finally {
      await admin.disconnect();
    }
    const leftOut = t.alreadyFinished.reduce((n, x) => n + x.intents, 0) - leftOutBefore;
    // the fault landed: the replay derived the finished intents again and left them out
    expect(leftOut, 'finished intents left out by the replay').to.equal(changes - 1);
    const copies = new Map<string, number>();
    const reader = testKafka().admin();
    await reader.connect();
    try {
      for (const { message } of await readTopic(testKafka(), reader, t.config.topics.intents)) {
        if (message.key?.toString() !== key) continue;
        const id = String(message.headers?.intent_id);
        copies.set(id, (copies.get(id) ?? 0) + 1);
      }
    } finally {
      await reader.disconnect();
    }
    expect(copies.get(unfinished), 'the unfinished intent produced again').to.equal(2);
    expect(
      ids.filter((id) => id !== unfinished && copies.get(id) !== 1),
      'finished intents in the topic once',
    ).to.deep.equal([]);
    // only the unfinished intent reached OpenCell again (its customer and account address updates, idempotent)
    const again = t.sandbox.journal
      .entries()
      .slice(before)
      .filter((e) => isStateChanging(e) && e.status < 300);
    expect(again.map((e) => `${e.method} ${e.path}`)).to.deep.equal([
      'PUT /account/customer',
      'POST /account/accountHierarchy/createOrUpdateCRMAccountHierarchy',
    ]);
  });
});

/** OpenCell's list endpoints are POSTs that read. */
function isStateChanging(e: { method: string; path: string }): boolean {
  return e.method !== 'GET' && !/\/list$/.test(e.path);
}

async function groupLag(
  admin: ReturnType<ReturnType<typeof testKafka>['admin']>,
  groupId: string,
  topic: string,
): Promise<number> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const ends = await admin.fetchTopicOffsets(topic);
  let lag = 0;
  for (const p of ends) {
    const c = committed.partitions.find((x) => x.partition === p.partition)?.offset ?? '-1';
    lag += Number(p.high) - Math.max(Number(c), 0);
  }
  return lag;
}

async function readDeadLetters(topic: string, pred: (m: KafkaMessage) => boolean): Promise<KafkaMessage> {
  const kafka = testKafka();
  const found: KafkaMessage[] = [];
  const c = kafka.consumer({ groupId: `dlq-reader-${uniqueSuffix()}`, maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({ eachMessage: async ({ message }) => void (pred(message) && found.push(message)) });
  try {
    return await eventually(async () => found[0], 60_000, `a dead letter on ${topic}`);
  } finally {
    await c.disconnect();
  }
}
