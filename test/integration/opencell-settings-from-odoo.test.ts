/**
 * docs/parity.md K-config: the original reads its OpenCell seller and customer category from Odoo's
 * ir.config_parameter (get_param, defaults SC / CLIENT). With OPENCELL_SELLER and OPENCELL_CUSTOMER_CATEGORY unset,
 * the projector reads them there at start — through pg-setup's function that returns those two keys only — and a
 * customer created afterwards carries them; a setting given in the environment wins over Odoo. Real Odoo database,
 * Debezium, Kafka, router and projector, OpenCell sandbox.
 */
import { expect } from 'chai';
import { Client } from 'pg';
import { defaultPgSetupOptions, setupOpenCellSettingsFunction } from '../../src/app/pg-setup';
import { CUSTOMER_CATEGORY_KEY, SELLER_KEY } from '../../src/adapters/postgres/odoo-settings';
import { defaultCatalog } from '../../testkit/sandbox/opencell';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import { startTestPipeline, type TestPipeline } from './support/pipeline';
import { createStateSchema, eventually, odooDb, stateDb, stateUrlFor, uniqueSuffix } from './support/stack';

describe("K-config: OpenCell seller and customer category from Odoo's ir.config_parameter (real stack)", function () {
  this.timeout(240_000);
  const schemas = [0, 1].map((i) => `oc_settings_${uniqueSuffix()}_${i}`);
  const pipelines: TestPipeline[] = [];
  let saved: { key: string; value: string }[] = [];

  const admin = () => {
    const url = new URL(defaultPgSetupOptions().adminUrl);
    url.pathname = `/${defaultPgSetupOptions().odooDb}`;
    return new Client({ connectionString: url.toString() });
  };

  before(async () => {
    const c = admin();
    await c.connect();
    try {
      await setupOpenCellSettingsFunction(c);
    } finally {
      await c.end();
    }
    saved = (
      await odooDb().query<{ key: string; value: string }>(
        'SELECT key, value FROM ir_config_parameter WHERE key = ANY($1)',
        [[SELLER_KEY, CUSTOMER_CATEGORY_KEY]],
      )
    ).rows;
    for (const [key, value] of [
      [SELLER_KEY, 'SCO'],
      [CUSTOMER_CATEGORY_KEY, 'PARTICULAR'],
    ])
      await odooDb().query(
        `INSERT INTO ir_config_parameter (key, value) VALUES ($1, $2)
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        [key, value],
      );
    for (const s of schemas) await createStateSchema(s);
  });
  after(async () => {
    for (const p of pipelines) await p.stop();
    await odooDb().query('DELETE FROM ir_config_parameter WHERE key = ANY($1)', [
      [SELLER_KEY, CUSTOMER_CATEGORY_KEY],
    ]);
    for (const r of saved)
      await odooDb().query('INSERT INTO ir_config_parameter (key, value) VALUES ($1, $2)', [r.key, r.value]);
    for (const s of schemas) await stateDb().query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  });

  it('unset settings are read from Odoo and reach the customer; a setting in the environment wins', async () => {
    const catalog = defaultCatalog();
    catalog.sellers.push({ code: 'SCO', description: 'Som Connexió (Odoo setting)' });
    catalog.customerCategories.push({ code: 'PARTICULAR', description: 'Particular' });
    for (const o of catalog.offerTemplates) if (o.sellers?.length) o.sellers.push('SCO');
    const fromOdoo = await startTestPipeline(
      { OPENCELL_SELLER: '', OPENCELL_CUSTOMER_CATEGORY: '', STATE_DATABASE_URL: stateUrlFor(schemas[0]!) },
      {},
      { catalog },
    );
    pipelines.push(fromOdoo);
    const mixed = await startTestPipeline(
      { OPENCELL_SELLER: 'SC', OPENCELL_CUSTOMER_CATEGORY: '', STATE_DATABASE_URL: stateUrlFor(schemas[1]!) },
      {},
      { catalog },
    );
    pipelines.push(mixed);
    expect(fromOdoo.pipeline.opencellSettings).to.deep.equal({
      seller: 'SCO',
      customerCategory: 'PARTICULAR',
    });
    expect(mixed.pipeline.opencellSettings, 'OPENCELL_SELLER wins over Odoo').to.deep.equal({
      seller: 'SC',
      customerCategory: 'PARTICULAR',
    });

    const db = await odooDb().connect();
    try {
      const partner = await insertPartner(db, { email: `k${uniqueSuffix()}@example.org` });
      const mandate = await insertBankAccountAndMandate(db, partner.id);
      await insertContract(db, {
        partnerId: partner.id,
        mandateId: mandate.mandateId,
        kind: 'mobile',
        lines: ['SE_SC_REC_MOBILE_T_UNL_20480'],
      });
      for (const [p, seller] of [
        [fromOdoo, 'SCO'],
        [mixed, 'SC'],
      ] as const) {
        const created = await eventually(
          async () =>
            p.sandbox.journal
              .entries()
              .find(
                (e) =>
                  e.method === 'POST' &&
                  e.path === '/account/customer' &&
                  e.status === 200 &&
                  (e.body as { code?: string })?.code === partner.ref,
              ),
          120_000,
          `the customer ${partner.ref} created`,
        );
        expect(created.body, seller).to.include({ seller, customerCategory: 'PARTICULAR' });
      }
    } finally {
      db.release();
    }
  });
});
