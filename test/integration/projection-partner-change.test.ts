/**
 * Issue 15 §8 on the real stack (Odoo's PostgreSQL, Debezium, Kafka, router and projector, OpenCell sandbox): a
 * contract that changes partner keeps one queue (its intents before and after the change in order, the partner
 * change reported with its reason, no other customer's account touched), and a same-product line replacement
 * activates the new line.
 */
import { expect } from 'chai';
import { PoolClient } from 'pg';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertContractLine,
  insertPartner,
} from '../../testkit/demo-seed';
import { startTestPipeline, TestPipeline } from './support/pipeline';
import { eventually, odooDb, stateDb, uniqueSuffix } from './support/stack';

const TARIFF = 'SE_SC_REC_MOBILE_T_UNL_20480';
const EXTRA = 'SE_SC_REC_MOBILE_PACK_UNL_1024';

describe('projection: a contract changing partner, and a same-product line replacement (issue 15 §8, real CDC)', function () {
  this.timeout(240_000);
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

  const sub = (code: string) => t.pipeline.client.getSubscription(code);
  const instances = async (code: string) =>
    ((await sub(code))?.services?.serviceInstance ?? []) as { code: string; status: string }[];
  const intentsOf = async (model: string, id: number) =>
    (
      await stateDb().query<{
        kind: string;
        aggregate_key: string;
        outcome: string;
        error_message: string | null;
      }>(
        `SELECT kind, aggregate_key, outcome, error_message FROM ledger_intent
          WHERE odoo_model = $1 AND odoo_id = $2 ORDER BY created_at`,
        [model, id],
      )
    ).rows;

  async function customerWithContract(lines: string[]) {
    const partner = await insertPartner(db, { email: `p${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
      lines,
    });
    await eventually(
      async () => ((await instances(contract.code)).length === lines.length ? true : undefined),
      90_000,
      `subscription ${contract.code} with its services`,
    );
    return { partner, contract };
  }

  it('regression (issue 15 §8 a): a contract that changes partner keeps its queue — its later line and IBAN change stay in order behind the partner change, which is dead-lettered with its reason; the new partner’s account is untouched', async () => {
    const a = await customerWithContract([TARIFF]);
    const b = await customerWithContract([TARIFF]); // the new holder, with a customer and an account of its own
    const bAccountBefore = JSON.stringify(await t.pipeline.client.getCustomerAccount(`${b.partner.ref}_0`));

    // the holder changes (a write of partner_id), then a line is added and a new mandate written, as Odoo would
    await db.query(
      `UPDATE contract_contract SET partner_id = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
      [a.contract.id, b.partner.id],
    );
    const lineId = await insertContractLine(db, a.contract.id, { productCode: EXTRA });
    const bank = await insertBankAccountAndMandate(db, b.partner.id, { iban: 'ES7921000813610123456789' });
    await db.query(
      `UPDATE contract_contract SET mandate_id = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
      [a.contract.id, bank.mandateId],
    );

    const contractIntents = await eventually(
      async () => {
        const rows = await intentsOf('contract.contract', a.contract.id);
        return rows.some((r) => r.kind === 'unsynced_change') &&
          rows.some((r) => r.kind === 'update_subscription')
          ? rows
          : undefined;
      },
      90_000,
      'the partner change and the IBAN change projected',
    );
    const lineIntents = await eventually(
      async () => {
        const rows = await intentsOf('contract.line', lineId);
        return rows.length ? rows : undefined;
      },
      90_000,
      'the new line projected',
    );
    const keys = new Set([...contractIntents, ...lineIntents].map((r) => r.aggregate_key));
    expect([...keys], 'every intent of the contract in one queue, before and after the change').to.deep.equal(
      [`partner:${a.partner.id}`],
    );
    const pin = await stateDb().query('SELECT partner_id FROM contract_route WHERE contract_id = $1', [
      a.contract.id,
    ]);
    expect(Number(pin.rows[0]?.partner_id)).to.equal(a.partner.id);

    const moved = contractIntents.find((r) => r.kind === 'unsynced_change')!;
    expect(moved.outcome).to.equal('dead_lettered');
    expect(moved.error_message).to.contain(`customer account ${a.partner.ref}_0`);
    expect(moved.error_message).to.contain(`${a.partner.ref} → ${b.partner.ref}`);
    const iban = contractIntents.find((r) => r.kind === 'update_subscription')!;
    expect(iban.outcome).to.equal('dead_lettered');
    expect(iban.error_message).to.contain(`not an account of its partner's customer ${b.partner.ref}`);
    expect(JSON.stringify(await t.pipeline.client.getCustomerAccount(`${b.partner.ref}_0`))).to.equal(
      bAccountBefore,
    );

    // the original's add_service works on the subscription by code, whoever holds the contract: so does the line
    expect(lineIntents[0].outcome).to.equal('applied');
    expect((await instances(a.contract.code)).map((i) => i.code).sort()).to.deep.equal(
      [EXTRA, TARIFF].sort(),
    );
    expect((await sub(a.contract.code))?.userAccount).to.equal(`${a.partner.ref}_0`);
  });

  it('regression (issue 15 §8 e): a line ended and a new line with the same product — the new line is activated, the old one terminated, nothing dead-lettered', async () => {
    // two contracts: the router may see the two line events in either order; both orders must give the same end
    const runs = await Promise.all([customerWithContract([TARIFF]), customerWithContract([TARIFF])]);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const newLines: number[] = [];
    for (const { contract } of runs) {
      await db.query('BEGIN');
      await db.query(`UPDATE contract_line SET date_end = $2 WHERE id = $1`, [contract.lineIds[0], today]);
      newLines.push(await insertContractLine(db, contract.id, { productCode: TARIFF, dateStart: tomorrow }));
      await db.query('COMMIT');
    }
    const orders: string[] = [];
    for (const [i, { contract }] of runs.entries()) {
      const states = await eventually(
        async () => {
          const s = (await instances(contract.code)).map((x) => x.status);
          return s.length === 2 && s.includes('ACTIVE') && s.includes('TERMINATED') ? s : undefined;
        },
        90_000,
        `${contract.code}: the old instance terminated and the new one active`,
      );
      expect(states.sort()).to.deep.equal(['ACTIVE', 'TERMINATED']);
      const rows = await stateDb().query<{ odoo_id: string; kind: string; outcome: string }>(
        `SELECT odoo_id, kind, outcome FROM ledger_intent
          WHERE odoo_model = 'contract.line' AND odoo_id = ANY($1) ORDER BY created_at`,
        [[contract.lineIds[0], newLines[i]]],
      );
      expect(
        rows.rows.filter((r) => r.outcome === 'dead_lettered'),
        'nothing dead-lettered',
      ).to.deep.equal([]);
      orders.push(rows.rows.map((r) => r.kind).join(' → '));
    }
    console.log(`      same-product replacement, intent orders seen: ${orders.join(' | ')}`);
  });
});
