import { expect } from 'chai';
import { Ledger, type IntentResult, type LedgerIntentMessage } from '../../src/adapters/postgres/ledger';
import { stateDb, uniqueSuffix } from './support/stack';

/**
 * Issue 15 defect 1 on the real state database: ledger outcomes are monotonic (applied > skipped > dead_lettered >
 * failed). A dead letter written after the intent was applied — a success dead-lettered around a rebalance, or a
 * stale owner's late write — leaves `applied` in place and emits no sync event.
 */
describe('ledger outcomes never regress (real PostgreSQL)', function () {
  this.timeout(30_000);
  const topic = `test.ledger-outcomes.${uniqueSuffix()}`;
  const ledger = new Ledger(stateDb(), topic);

  function intentMessage(): LedgerIntentMessage {
    const id = uniqueSuffix();
    return {
      v: 1,
      intentId: `test-ledger-outcome-${id}`,
      aggregateKey: `partner:${id}`,
      partnerId: 1,
      contractId: null,
      intent: { kind: 'update_customer' },
      force: undefined,
      repair: undefined,
      source: {
        table: 'res_partner',
        op: 'u',
        rowId: 1,
        lsn: 1,
        txId: 1,
        tsMs: Date.now(),
        snapshot: false,
        topic: 'odoo.public.res_partner',
        partition: 0,
        offset: '0',
      },
    } as unknown as LedgerIntentMessage;
  }

  function result(outcome: IntentResult['outcome'], extra: Partial<IntentResult> = {}): IntentResult {
    return {
      outcome,
      calls: outcome === 'applied' ? ['updateCustomer'] : [],
      entities: [],
      opencell: { entity: 'customer', code: 'C1' },
      odooRecord: { model: 'res.partner', id: 1 },
      odooRef: null,
      attempt: 1,
      ...extra,
    };
  }

  async function row(intentId: string) {
    const r = await stateDb().query(
      `SELECT outcome, calls, error_code FROM ledger_intent WHERE intent_id = $1`,
      [intentId],
    );
    return r.rows[0] as { outcome: string; calls: string[]; error_code: string | null };
  }

  async function events(intentId: string): Promise<string[]> {
    const r = await stateDb().query(
      `SELECT payload->>'outcome' AS outcome FROM outbox WHERE topic = $1 AND payload->'source'->>'table' = 'res_partner'
          AND aggregate_id = $2 ORDER BY id`,
      [topic, `partner:${intentId.replace('test-ledger-outcome-', '')}`],
    );
    return r.rows.map((x) => String(x.outcome));
  }

  after(async () => {
    await stateDb().query(`DELETE FROM outbox WHERE topic = $1`, [topic]);
    await stateDb().query(`DELETE FROM ledger_intent WHERE intent_id LIKE 'test-ledger-outcome-%'`);
  });

  it('applied is never overwritten by dead_lettered, failed or skipped', async () => {
    const msg = intentMessage();
    await ledger.finish(msg, result('applied'));
    await ledger.finish(
      msg,
      result('dead_lettered', { errorCode: 'INTERNAL', errorMessage: 'heartbeat: rebalancing', attempt: 2 }),
    );
    await ledger.finish(msg, result('failed', { errorCode: 'INTERNAL', errorMessage: 'x' }));
    await ledger.finish(msg, result('skipped'));
    const r = await row(msg.intentId);
    expect(r.outcome).to.equal('applied');
    expect(r.calls).to.deep.equal(['updateCustomer']);
    expect(r.error_code).to.equal(null);
    expect(await ledger.isFinished(msg.intentId)).to.equal(true);
    expect(await events(msg.intentId), 'one sync event: the regressing writes emit none').to.deep.equal([
      'applied',
    ]);
  });

  it('a dead-lettered intent can still become applied (a replay after the fix), and then stays applied; the replay checks see it finished only then', async () => {
    const msg = intentMessage();
    await ledger.finish(
      msg,
      result('dead_lettered', { errorCode: 'UNKNOWN_PRODUCT', errorMessage: 'no SE_X' }),
    );
    await ledger.finish(
      msg,
      result('dead_lettered', { errorCode: 'UNKNOWN_PRODUCT', errorMessage: 'again' }),
    );
    expect((await row(msg.intentId)).error_code).to.equal('UNKNOWN_PRODUCT');
    expect(
      [...(await ledger.finishedAmong([msg.intentId, 'test-ledger-outcome-none']))],
      'dead-lettered: not finished',
    ).to.deep.equal([]);
    await ledger.finish(msg, result('applied'));
    expect(
      [...(await ledger.finishedAmong(['test-ledger-outcome-none', msg.intentId]))],
      "the router's replay check",
    ).to.deep.equal([msg.intentId]);
    await ledger.finish(msg, result('dead_lettered', { errorCode: 'INTERNAL', errorMessage: 'late' }));
    expect((await row(msg.intentId)).outcome).to.equal('applied');
    expect(await events(msg.intentId)).to.deep.equal(['dead_lettered', 'dead_lettered', 'applied']);
  });
});
