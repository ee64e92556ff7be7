/**
 * Issue 15 §4 with a fresh connector: `snapshot.mode=initial` on a new Debezium connector (its own name, slot and
 * topic prefix) reads existing Odoo rows as `r` events into a pipeline whose OpenCell already holds some of them.
 * The rows, all this test's: contract A was projected live before (its customer, subscription, services and SIM
 * one-shot are in OpenCell); contract B is active and never reached OpenCell; contract C was terminated and never
 * reached OpenCell; A and B each carry a SIM one-shot line. Expected: A → nothing, B → created (subscription and
 * services, its one-shot not charged), C → skipped with the reason in the ledger, no one-shot charged again.
 *
 * The shared stack is used by others: the connector's initial snapshot is restricted to this test's rows with
 * `snapshot.select.statement.overrides` (what an operator would do for a partial go-live), its table list to the
 * tables whose rows give intents, and it is deleted (its slot dropped) as soon as its snapshot arrived. Rows of
 * others it may stream meanwhile are left out of every check (the journal and the ledger are read for this test's
 * customers only).
 */
import { expect } from 'chai';
import { isStateChanging } from '../../testkit/sandbox/opencell/journal';
import type { Admin } from 'kafkajs';
import type { PoolClient } from 'pg';
import { testPool } from '../support/pg';
import { ConnectClient } from '../../src/adapters/kafka-connect/client';
import { ensureTopics } from '../../src/adapters/kafka/kafka';
import { routerTopics } from '../../src/flows/projection/stages';
import { loadConnectorTemplate } from '../../src/adapters/kafka-connect/connector-config';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertPartner,
  terminateContract,
  type InsertedContract,
  type InsertedPartner,
} from '../../testkit/demo-seed';
import { startTestPipeline, type TestPipeline } from './support/pipeline';
import {
  CONNECT_URL,
  eventually,
  ODOO_DATABASE_URL,
  odooDb,
  stateDb,
  testKafka,
  uniqueSuffix,
} from './support/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TABLES = [
  'res_partner',
  'contract_contract',
  'contract_line',
  'mobile_service_contract_info',
  'vodafone_fiber_service_contract_info',
];

describe('snapshot.mode=initial on a fresh connector reconciles existing rows (issue 15 §4, real stack)', function () {
  this.timeout(600_000);
  const sfx = uniqueSuffix()
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase();
  const prefix = `snapinit${sfx}`;
  const connector = `test-snapshot-initial-${sfx}`;
  const slot = `snapinit_${sfx}`;
  const connect = new ConnectClient(CONNECT_URL);
  let live: TestPipeline;
  let snap: TestPipeline | undefined;
  let db: PoolClient;
  let admin: Admin;

  before(async () => {
    live = await startTestPipeline();
    db = await odooDb().connect();
    admin = testKafka().admin();
    await admin.connect();
  });
  after(async () => {
    await connect.delete(connector).catch(() => undefined);
    await dropSlot(slot).catch(() => undefined);
    await snap?.stop().catch(() => undefined);
    await live?.pipeline.stop().catch(() => undefined);
    await live?.sandbox.close().catch(() => undefined);
    if (admin) {
      const mine = (t: string) => t.startsWith(`${prefix}.`) || t === `__debezium-heartbeat.${prefix}`;
      const topics = (await admin.listTopics()).filter(mine);
      await admin.deleteTopics({ topics }).catch(() => undefined);
    }
    await admin?.disconnect();
    db?.release();
  });

  /**
   * The slot goes when the deleted connector's task has let it go (active = false); dropped as the connector's own
   * database user (scripts/stack: DEBEZIUM_DB_USER, with the REPLICATION attribute the Odoo user lacks).
   */
  async function dropSlot(name: string): Promise<void> {
    const url = new URL(ODOO_DATABASE_URL);
    url.username = process.env.DEBEZIUM_DB_USER ?? 'debezium';
    url.password = process.env.DEBEZIUM_DB_PASSWORD ?? 'debezium';
    const pg = testPool({ connectionString: url.toString(), max: 1 });
    try {
      await eventually(
        async () => {
          const r = await pg.query<{ active: boolean }>(
            `SELECT active FROM pg_replication_slots WHERE slot_name = $1`,
            [name],
          );
          if (r.rows.length === 0) return true;
          if (r.rows[0].active) return undefined;
          await pg.query(`SELECT pg_drop_replication_slot($1)`, [name]);
          return true;
        },
        60_000,
        `slot ${name} dropped`,
      );
    } finally {
      await pg.end();
    }
  }

  it('present → nothing, missing and active → created, terminated and missing → skipped and recorded, one-shots never charged', async () => {
    // --- the history: A projected live; then B (active) and C (terminated) written while nothing projects -----------
    const partners: InsertedPartner[] = [];
    const customer = async (lines: string[]): Promise<InsertedContract> => {
      const partner = await insertPartner(db, { email: `snapinit${uniqueSuffix()}@example.org` });
      const mandate = await insertBankAccountAndMandate(db, partner.id);
      partners.push(partner);
      return insertContract(db, {
        partnerId: partner.id,
        mandateId: mandate.mandateId,
        kind: 'mobile',
        lines,
      });
    };
    const a = await customer(['SE_SC_REC_MOBILE_T_UNL_20480', 'CH_SC_OSO_SIM']);
    const oc = live.sandbox;
    const sub = (code: string) => oc.state.subscriptions.get(code);
    const oneShots = (code: string) =>
      (sub(code)?.oneShots ?? []).filter((o) => o.code === 'CH_SC_OSO_SIM').length;
    await eventually(
      async () => (sub(a.code) && oneShots(a.code) === 1 ? true : undefined),
      90_000,
      'contract A in OpenCell, its SIM charged',
    );
    await live.pipeline.stop(); // B and C must not reach OpenCell before the snapshot
    const b = await customer(['SE_SC_REC_MOBILE_T_UNL_20480', 'CH_SC_OSO_SIM']);
    const c = await customer(['SE_SC_REC_MOBILE_T_150_1024', 'CH_SC_OSO_SIM']);
    await terminateContract(db, c.id, {});
    const contracts = [a, b, c];
    const refs = partners.map((p) => p.ref as string);
    const codes = contracts.map((x) => x.code);
    const ours = (e: { path: string; body?: unknown }) => {
      const s = `${e.path} ${JSON.stringify(e.body ?? '')}`;
      return refs.some((r) => s.includes(r)) || codes.some((x) => s.includes(x));
    };
    const ourWrites = () => oc.journal.entries().filter((e) => isStateChanging(e) && ours(e));
    const historyWrites = ourWrites().length;

    // --- the pipeline on the new connector's topics, OpenCell the same sandbox ---------------------------------------
    // the new prefix's topics, created here and given their leaders before the pipeline's router starts at their end
    const newTopics = routerTopics(prefix);
    await ensureTopics(
      admin,
      newTopics.map((topic) => ({ topic, numPartitions: 3 })),
    );
    await eventually(
      async () => {
        for (const topic of newTopics) await admin.fetchTopicOffsets(topic);
        return true;
      },
      30_000,
      'the new topics led',
    );
    snap = await startTestPipeline({
      TOPIC_PREFIX: prefix,
      OPENCELL_BASEURL: oc.url,
      OPENCELL_USER: oc.credentials.user,
      OPENCELL_PASSWORD: oc.credentials.password,
    });
    const rows: Record<string, number[]> = {
      res_partner: partners.map((p) => p.id),
      contract_contract: contracts.map((x) => x.id),
      contract_line: contracts.flatMap((x) => x.lineIds),
      mobile_service_contract_info: contracts.map((x) => x.infoId),
    };
    // r events counted on the new topics from the start
    const reads = new Map<string, number[]>();
    const tap = testKafka().consumer({ groupId: `test-snapinit-tap-${sfx}`, maxWaitTimeInMs: 100 });
    await tap.connect();
    for (const t of Object.keys(rows))
      await tap.subscribe({ topic: `${prefix}.public.${t}`, fromBeginning: true });
    await tap.run({
      eachMessage: async ({ topic, message }) => {
        if (!message.value) return;
        const v = JSON.parse(message.value.toString()) as { op: string; after: { id: number } | null };
        const table = topic.slice(`${prefix}.public.`.length);
        if (v.op === 'r' && v.after && rows[table]?.includes(v.after.id))
          reads.set(table, [...(reads.get(table) ?? []), v.after.id]);
      },
    });

    const template = loadConnectorTemplate();
    const config: Record<string, string> = {
      ...template,
      'topic.prefix': prefix,
      'slot.name': slot,
      'snapshot.mode': 'initial',
      'table.include.list': TABLES.map((t) => `public.${t}`).join(','),
      'notification.sink.topic.name': `${prefix}.debezium-notifications`,
      'snapshot.select.statement.overrides': Object.keys(rows)
        .map((t) => `public.${t}`)
        .join(','),
      ...Object.fromEntries(
        Object.entries(rows).map(([t, ids]) => [
          `snapshot.select.statement.overrides.public.${t}`,
          `SELECT * FROM public.${t} WHERE id IN (${ids.join(', ')})`,
        ]),
      ),
    };
    // the signal table stays captured (the source signal channel reads it) but none of its rows is snapshotted
    config['table.include.list'] += ',public.debezium_signal';
    config['snapshot.select.statement.overrides'] += ',public.debezium_signal';
    config['snapshot.select.statement.overrides.public.debezium_signal'] =
      'SELECT * FROM public.debezium_signal WHERE false';
    const t0 = Date.now();
    await connect.putConfig(connector, config);
    try {
      await connect.waitRunning(connector, 90_000);
      await eventually(
        async () =>
          Object.entries(rows).every(([t, ids]) => (reads.get(t)?.length ?? 0) >= ids.length)
            ? true
            : undefined,
        120_000,
        'every row of the initial snapshot on the new topics',
      );
    } finally {
      await connect.delete(connector);
    }
    const snapshotSeconds = (Date.now() - t0) / 1000;
    await sleep(1500);
    await tap.disconnect();
    await admin.deleteGroups([`test-snapinit-tap-${sfx}`]).catch(() => undefined);
    await dropSlot(slot);

    // --- then: B created, A untouched, C skipped; no one-shot charged by the snapshot ----------------------------------
    const aggregates = partners.map((p) => `partner:${p.id}`);
    const ledger = async () =>
      (
        await stateDb().query<{
          kind: string;
          outcome: string;
          source_table: string;
          odoo_id: string;
          error_message: string | null;
        }>(
          `SELECT kind, outcome, source_table, odoo_id::text, error_message FROM ledger_intent
            WHERE aggregate_key = ANY($1) AND source_table = ANY($2) AND created_at >= to_timestamp($3 / 1000.0)`,
          [aggregates, ['contract_contract', 'contract_line'], t0],
        )
      ).rows;
    await eventually(
      async () => {
        const l = await ledger();
        const bSub = sub(b.code);
        const contractsDone = contracts.every((x) =>
          l.some((r) => r.source_table === 'contract_contract' && r.odoo_id === String(x.id)),
        );
        return contractsDone &&
          bSub?.status === 'ACTIVE' &&
          bSub.services.some((x) => x.code === 'SE_SC_REC_MOBILE_T_UNL_20480' && x.status === 'ACTIVE')
          ? true
          : undefined;
      },
      120_000,
      'B created from the snapshot, an intent of each contract in the ledger',
    );
    // quiet: no new ledger row of ours for 5 s (the line intents behind the contracts' too)
    let seen = (await ledger()).length;
    for (let quietSince = Date.now(); Date.now() - quietSince < 5000; await sleep(500)) {
      const n = (await ledger()).length;
      if (n !== seen) {
        seen = n;
        quietSince = Date.now();
      }
    }
    const l = await ledger();
    const byKind: Record<string, number> = {};
    for (const r of l) {
      const who = contracts.find(
        (x) => String(x.id) === r.odoo_id || x.lineIds.map(String).includes(r.odoo_id),
      );
      const k = `${who === a ? 'A' : who === b ? 'B' : 'C'} ${r.kind} ${r.outcome}`;
      byKind[k] = (byKind[k] ?? 0) + 1;
    }
    const after = ourWrites().slice(historyWrites);
    const writesOf = (code: string) =>
      after.filter((e) => JSON.stringify(e.body ?? '').includes(code) || e.path.includes(code));
    const readCounts = Object.fromEntries(
      Object.entries(rows).map(([t, ids]) => [t, `${reads.get(t)?.length ?? 0}/${ids.length}`]),
    );
    console.log(
      `      op r events (read/rows): ${JSON.stringify(readCounts)} in ${snapshotSeconds.toFixed(1)} s`,
    );
    console.log(`      snapshot intents: ${JSON.stringify(byKind)}`);
    console.log(
      `      state-changing calls after the snapshot: ${after.map((e) => `${e.method} ${e.path}`).join(', ')}`,
    );

    for (const [t, ids] of Object.entries(rows))
      expect([...new Set(reads.get(t))].sort(), `op r events of ${t}`).to.deep.equal([...ids].sort());
    // A: present → nothing
    expect(
      writesOf(a.code).map((e) => `${e.method} ${e.path}`),
      'calls for A',
    ).to.deep.equal([]);
    expect(oneShots(a.code), "A's SIM charged once (by the history)").to.equal(1);
    // B: missing and active → created, its one-shot not charged
    expect(sub(b.code)?.status).to.equal('ACTIVE');
    expect(oneShots(b.code), "B's SIM (a snapshot one-shot) not charged").to.equal(0);
    const oneShotIntents = l.filter((r) => r.kind === 'apply_one_shot');
    expect(oneShotIntents.length, 'one-shot intents of A and B (at least)').to.be.at.least(2);
    expect(
      oneShotIntents.filter((r) => r.outcome !== 'skipped'),
      'one-shot intents not skipped',
    ).to.deep.equal([]);
    // C: terminated and missing → skipped, recorded
    expect(sub(c.code), 'C not created').to.equal(undefined);
    const cRows = l.filter((r) => r.odoo_id === String(c.id) && r.source_table === 'contract_contract');
    expect(cRows.length, "C's contract intents").to.be.above(0);
    for (const r of cRows) {
      expect(r.outcome).to.equal('skipped');
      expect(r.error_message).to.match(
        /^snapshot: contract .* is terminated in Odoo and its subscription is not in OpenCell/,
      );
    }
    expect(
      after.filter((e) => /applyOneShotChargeInstance/.test(e.path)).length,
      'one-shot charges after the snapshot',
    ).to.equal(0);
  });
});
