/**
 * End-to-end freshness (issue 16, "Observability"): the histogram sync_e2e_freshness_seconds is observed for each
 * intent the projector finishes, from the Odoo commit (source ts_ms of the Debezium change event) to the OpenCell
 * calls done. Real CDC, the app's Metrics wired as `run` wires it (stageHooks).
 */
import { expect } from 'chai';
import { PoolClient } from 'pg';
import { Metrics } from '../../src/app/metrics';
import type { IntentMessage } from '../../src/domain/intents/message';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import { startTestPipeline, TestPipeline } from './support/pipeline';
import { eventually, odooDb, uniqueSuffix } from './support/stack';

describe('end-to-end freshness histogram', function () {
  this.timeout(120_000);
  let t: TestPipeline | undefined;
  let db: PoolClient | undefined;
  after(async () => {
    db?.release();
    await t?.stop();
  });

  it('observes Odoo commit → OpenCell call done for each projected intent of a change', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const projected: { msg: IntentMessage; at: number; outcome: string }[] = [];
    const hooks = metrics.stageHooks();
    t = await startTestPipeline(
      {},
      {
        ...hooks,
        onProjected: (msg, result) => {
          hooks.onProjected?.(msg, result);
          projected.push({ msg, at: Date.now(), outcome: result.outcome });
        },
      },
    );
    db = await odooDb().connect();
    const startedAt = Date.now();
    const partner = await insertPartner(db, { email: `fresh${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, {
      partnerId: partner.id,
      mandateId: mandate.mandateId,
      kind: 'mobile',
      lines: ['SE_SC_REC_MOBILE_T_UNL_20480'],
    });
    const mine = () => projected.filter((p) => p.msg.partnerId === partner.id);
    await eventually(
      async () =>
        mine().some((p) => p.outcome === 'applied' && p.msg.contractId === contract.id) ? true : undefined,
      60_000,
      `the contract ${contract.code} projected`,
    );

    const applied = mine().filter((p) => p.outcome === 'applied');
    expect(applied.length, 'applied intents of the test').to.be.greaterThan(0);
    // each intent's source time is the Odoo commit the test made: after the test started, before it was projected
    for (const p of applied) {
      expect(p.msg.source.op).to.be.oneOf(['c', 'u']);
      expect(p.msg.source.tsMs).to.be.within(startedAt - 1000, p.at);
    }
    const hist = (await metrics.freshness.get()).values;
    const count = hist.find(
      (v) =>
        v.metricName === 'sync_e2e_freshness_seconds_count' &&
        v.labels.origin === 'change' &&
        v.labels.outcome === 'applied',
    )?.value;
    const sum = hist.find(
      (v) =>
        v.metricName === 'sync_e2e_freshness_seconds_sum' &&
        v.labels.origin === 'change' &&
        v.labels.outcome === 'applied',
    )?.value;
    // every applied change the pipeline finished is observed once, with its own commit-to-done time (within the few
    // ms between the metric's hook and the test's); the router starts at the end, so these are the test's changes
    const allApplied = projected.filter(
      (p) => p.outcome === 'applied' && !['r', 'ops'].includes(p.msg.source.op),
    );
    expect(count, 'observations of applied changes').to.equal(allApplied.length);
    const expected = allApplied.reduce((s, p) => s + (p.at - p.msg.source.tsMs) / 1000, 0);
    expect(sum).to.be.closeTo(expected, 0.01 * allApplied.length + 0.01);
    expect(sum! / count!).to.be.greaterThan(0);
    const text = await metrics.text();
    expect(text).to.match(
      /sync_e2e_freshness_seconds_bucket\{le="\+Inf",origin="change",outcome="applied"\} \d+/,
    );
    console.log(
      `      ${applied.length} applied intent(s); freshness ${applied.map((p) => p.at - p.msg.source.tsMs).join(', ')} ms`,
    );
  });
});
