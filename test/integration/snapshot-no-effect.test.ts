/**
 * Issue 15 §4, "How it is checked": a snapshot of every captured table that produces intents, taken after a small
 * history was projected, changes nothing in OpenCell. The real stack (Odoo's PostgreSQL, Debezium with read-only
 * incremental snapshots, Kafka, the router and projector on kafkajs, the ledger in the state database) and an
 * in-process OpenCell sandbox; the `snapshot` command is the operator's, spawned as `odoo-opencell-sync snapshot
 * <table> --where … --wait`. A fresh connector's initial snapshot (`snapshot.mode=initial`) emits the same `r` events.
 *
 * The snapshots are restricted (`--where`) to this test's rows: the stack is shared, and the test's sandbox holds
 * only what this test's pipeline created, so other rows would be "missing and active" here (and rightly created).
 * For the same reason the journal and the ledger are read for this test's customers only.
 */
import { expect } from 'chai';
import { isStateChanging } from '../../testkit/sandbox/opencell/journal';
import type { Admin } from 'kafkajs';
import { applyReset } from '../../src/adapters/kafka/groups';
import type { PoolClient } from 'pg';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertContractLine,
  insertPartner,
  terminateContract,
  type InsertedContract,
  type InsertedPartner,
} from '../../testkit/demo-seed';
import { runCli } from '../support/cli-process';
import { startTestPipeline, type TestPipeline } from './support/pipeline';
import { eventually, odooDb, stateDb, testKafka, uniqueSuffix } from './support/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('snapshots reconcile, they do not replay history (issue 15 §4, real stack)', function () {
  this.timeout(600_000);
  let t: TestPipeline;
  let db: PoolClient;
  let admin: Admin;

  before(async () => {
    t = await startTestPipeline();
    db = await odooDb().connect();
    admin = testKafka().admin();
    await admin.connect();
  });
  after(async () => {
    await admin?.disconnect();
    db?.release();
    await t?.stop();
  });

  async function topicEnds(topic: string): Promise<{ partition: number; offset: string }[]> {
    return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
  }

  /** The `op: "r"` events of rows `ids` on `topic` after `from` (read until `expected` arrived, then 2 s more). */
  async function snapshotReads(
    topic: string,
    from: { partition: number; offset: string }[],
    ids: ReadonlySet<number>,
  ): Promise<number[]> {
    const groupId = `test-snapshot-no-effect-${uniqueSuffix()}`;
    await applyReset(
      testKafka(),
      admin,
      groupId,
      from.map((p) => ({ topic, partition: p.partition, target: p.offset })),
    );
    const consumer = testKafka().consumer({ groupId, maxWaitTimeInMs: 100 });
    const reads: number[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          const v = JSON.parse(message.value.toString()) as { op: string; after: { id: number } | null };
          if (v.op === 'r' && v.after && ids.has(v.after.id)) reads.push(v.after.id);
        },
      });
      await eventually(
        async () => (reads.length >= ids.size ? true : undefined),
        60_000,
        `${ids.size} op r event(s) on ${topic} (got ${reads.length})`,
      ).catch(() => undefined);
      await sleep(2000);
    } finally {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return reads;
  }

  it('a snapshot of every captured table after the history changes nothing in OpenCell', async () => {
    // --- the history: three customers, a tariff change, one-shots, a terminated contract ---------------------------
    const partners: InsertedPartner[] = [];
    const contracts: InsertedContract[] = [];
    const customer = async (opts: Omit<Parameters<typeof insertContract>[1], 'partnerId' | 'mandateId'>) => {
      const partner = await insertPartner(db, { email: `snap${uniqueSuffix()}@example.org` });
      const mandate = await insertBankAccountAndMandate(db, partner.id);
      const contract = await insertContract(db, {
        partnerId: partner.id,
        mandateId: mandate.mandateId,
        ...opts,
      });
      partners.push(partner);
      contracts.push(contract);
      return contract;
    };
    const mobile = await customer({
      kind: 'mobile',
      lines: ['SE_SC_REC_MOBILE_T_UNL_20480', 'CH_SC_OSO_SIM'],
    });
    const fiber = await customer({ kind: 'fiber' });
    const ended = await customer({ kind: 'mobile', lines: ['SE_SC_REC_MOBILE_T_150_1024', 'CH_SC_OSO_SIM'] });
    const refs = partners.map((p) => p.ref as string);
    const codes = contracts.map((c) => c.code);
    const ours = (e: { path: string; body?: unknown }) => {
      const s = `${e.path} ${JSON.stringify(e.body ?? '')}`;
      return refs.some((r) => s.includes(r)) || codes.some((c) => s.includes(c));
    };
    const ourWrites = () => t.sandbox.journal.entries().filter((e) => isStateChanging(e) && ours(e));
    const sub = (code: string) => t.sandbox.state.subscriptions.get(code);
    await eventually(
      async () => (contracts.every((c) => sub(c.code)) ? true : undefined),
      90_000,
      'the three subscriptions',
    );
    // a tariff change (new tariff, the old line ended), then the third contract terminated
    await db.query('BEGIN');
    const newTariff = await insertContractLine(db, mobile.id, { productCode: 'SE_SC_REC_MOBILE_T_150_1024' });
    await db.query(`UPDATE contract_line SET date_end = CURRENT_DATE, write_date = now() WHERE id = $1`, [
      mobile.lineIds[0],
    ]);
    await db.query('COMMIT');
    await terminateContract(db, ended.id, {});
    const oneShots = (code: string) =>
      (sub(code)?.oneShots ?? []).filter((o) => o.code === 'CH_SC_OSO_SIM').length;
    let history = '';
    await eventually(
      async () => {
        // a termination dated today is scheduled in OpenCell (the subscription stays ACTIVE until the date): the call
        const terminated = ourWrites().some(
          (e) => e.path === '/billing/subscription/terminate' && JSON.stringify(e.body).includes(ended.code),
        );
        const changed = ourWrites().some(
          (e) => e.path.includes('terminateServices') && JSON.stringify(e.body).includes(mobile.code),
        );
        history = `terminated ${terminated}, tariff change ${changed}, one-shots ${oneShots(mobile.code)}/${oneShots(ended.code)}`;
        return terminated && changed && oneShots(mobile.code) === 1 && oneShots(ended.code) === 1
          ? true
          : undefined;
      },
      120_000,
      'the history projected (tariff change, termination, one-shots)',
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}: ${history}; writes ${ourWrites()
          .map((w) => `${w.path} ${w.status}`)
          .join(', ')}`,
      );
    });
    const aggregates = partners.map((p) => `partner:${p.id}`);
    const ledgerRows = async () =>
      (
        await stateDb().query<{
          intent_id: string;
          kind: string;
          outcome: string;
          source_table: string;
          error_message: string | null;
        }>(
          `SELECT intent_id, kind, outcome, source_table, error_message FROM ledger_intent WHERE aggregate_key = ANY($1)`,
          [aggregates],
        )
      ).rows;
    const appliedEffects = async () =>
      Number(
        (
          await stateDb().query(
            `SELECT count(*) AS n FROM ledger_effect e JOIN ledger_intent i USING (intent_id)
              WHERE i.aggregate_key = ANY($1) AND e.outcome <> 'pending'`,
            [aggregates],
          )
        ).rows[0].n,
      );
    // quiet: no call and no ledger row of ours for 8 s (the history's last skipped intents too)
    const progress = async () => `${ourWrites().length}/${(await ledgerRows()).length}`;
    let seen = await progress();
    for (let quietSince = Date.now(); Date.now() - quietSince < 8000; await sleep(500)) {
      const n = await progress();
      if (n !== seen) {
        seen = n;
        quietSince = Date.now();
      }
    }
    const before = new Set((await ledgerRows()).map((r) => r.intent_id));
    const historyWrites = ourWrites().length;
    const effectsBefore = await appliedEffects();

    // --- the snapshot of every table that produces intents, restricted to this test's rows ------------------------
    const lineIds = [...mobile.lineIds, newTariff, ...fiber.lineIds, ...ended.lineIds];
    const infoTables = new Map<string, number[]>();
    for (const c of contracts)
      infoTables.set(c.infoTable, [...(infoTables.get(c.infoTable) ?? []), c.infoId]);
    const tables: [string, number[]][] = [
      ['res_partner', partners.map((p) => p.id)],
      ['contract_contract', contracts.map((c) => c.id)],
      ['contract_line', lineIds],
      ...[...infoTables.entries()],
    ];
    const figures: Record<string, { rows: number; reads: number; reported: number }> = {};
    for (const [table, ids] of tables) {
      const topic = `odoo.public.${table}`;
      const from = await topicEnds(topic);
      const where = `id IN (${ids.join(', ')})`;
      const r = await runCli(['snapshot', table, '--where', where, '--wait', '--json', '--yes']);
      expect(r.code, `snapshot ${table}: ${r.stderr}`).to.equal(0);
      // first: how many snapshot events of these rows arrived on the table's topic
      const reads = await snapshotReads(topic, from, new Set(ids));
      const out = JSON.parse(r.stdout) as { rowsEmitted: number; completed: boolean };
      figures[table] = { rows: ids.length, reads: reads.length, reported: out.rowsEmitted };
      expect(reads.length, `op r events on ${topic}`).to.equal(ids.length);
      expect([...new Set(reads)].sort((a, b) => a - b)).to.deep.equal([...ids].sort((a, b) => a - b));
      expect(out.completed).to.equal(true);
      expect(out.rowsEmitted).to.equal(ids.length);
    }

    // --- then: the projector handled the snapshot intents, and OpenCell got nothing ---------------------------------
    // contract_contract: create_subscription ×3 + terminate_subscription ×1; contract_line: one intent per line at
    // least (activate_service / apply_one_shot), plus terminate_service for the service lines that ended
    const minimum = contracts.length + 1 + lineIds.length;
    const fresh = async () => (await ledgerRows()).filter((r) => !before.has(r.intent_id));
    await eventually(
      async () =>
        (await fresh()).filter(
          (r) => r.source_table === 'contract_contract' || r.source_table === 'contract_line',
        ).length >= minimum
          ? true
          : undefined,
      120_000,
      `at least ${minimum} snapshot intents in the ledger`,
    );
    await sleep(5000); // any late one too
    const freshRows = await fresh();
    // the intents of the snapshotted tables (a late live event of another table, e.g. the history's e-mail link,
    // may still be recorded meanwhile: it is held to the same "nothing applied" below)
    const snapshotRows = freshRows.filter((r) => tables.some(([table]) => table === r.source_table));
    const byKind: Record<string, number> = {};
    for (const r of freshRows)
      byKind[`${r.source_table} ${r.kind} ${r.outcome}`] =
        (byKind[`${r.source_table} ${r.kind} ${r.outcome}`] ?? 0) + 1;
    console.log(`      op r events per table: ${JSON.stringify(figures)}`);
    console.log(`      snapshot intents: ${JSON.stringify(byKind)}`);
    console.log(
      `      state-changing OpenCell calls: history ${historyWrites}, after the snapshots ${ourWrites().length - historyWrites}`,
    );

    expect(
      ourWrites()
        .slice(historyWrites)
        .map((e) => `${e.method} ${e.path}`),
      'state-changing calls',
    ).to.deep.equal([]);
    expect(await appliedEffects(), 'effects in the ledger').to.equal(effectsBefore);
    expect(
      freshRows.filter((r) => r.outcome !== 'skipped'),
      'every intent since the history skipped',
    ).to.deep.equal([]);
    // only contract_contract and contract_line rows give intents when read (res_partner and the ISP info tables: none)
    expect([...new Set(snapshotRows.map((r) => r.source_table))].sort()).to.deep.equal([
      'contract_contract',
      'contract_line',
    ]);
    expect(snapshotRows.length, 'snapshot intents').to.be.at.least(minimum);
    for (const r of snapshotRows) expect(r.error_message, `${r.kind}: the reason`).to.match(/^snapshot: /);
    expect(
      snapshotRows.filter((r) => r.kind === 'apply_one_shot').map((r) => r.error_message),
    ).to.have.length(2);
    expect(oneShots(mobile.code)).to.equal(1);
    expect(oneShots(ended.code)).to.equal(1);
  });
});
