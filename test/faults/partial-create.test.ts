import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, type PoolClient } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../src/capture/demo-seed';
import { loadConfig } from '../../src/config';
import { OpenCellClient } from '../../src/opencell/client';
import { CatalogCache } from '../../src/projections/catalog-cache';
import { OdooViews } from '../../src/projections/odoo-views';
import { OpenCellState } from '../../src/projections/opencell-state';
import { projectionConfig } from '../../src/projections/payloads';
import type { IntentMessage } from '../../src/projections/runtime/intent-message';
import { Ledger } from '../../src/projections/runtime/ledger';
import { Projector } from '../../src/projections/runtime/projector';
import { startOpenCellSandbox } from '../../src/sandbox/opencell';
import type { Sandbox } from '../integration/support/pipeline';
import { odooDb, ROOT, STATE_DATABASE_URL, stateDb, uniqueSuffix } from '../integration/support/stack';

/**
 * Regression (found by the kill -9 run): a create chain interrupted after createCustomer and before the CRM account
 * hierarchy (a crash, or a retriable failure of the second call) was refused on replay as "Customer with code X found
 * with no customer accounts associated" and dead-lettered: the contract never reached OpenCell.
 */
describe('a create chain interrupted between createCustomer and the account hierarchy resumes', function () {
  this.timeout(60_000);
  const schema = `faults_pc_${uniqueSuffix()}`;
  let pool: Pool;
  let sandbox: Sandbox;
  let client: OpenCellClient;
  let db: PoolClient;

  before(async () => {
    const c = await stateDb().connect();
    try {
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.query(`SET search_path TO ${schema}`);
      const dir = join(ROOT, 'schemas', 'state');
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.sql')).sort()) await c.query(readFileSync(join(dir, f), 'utf8'));
    } finally {
      await c.query('RESET search_path').catch(() => undefined);
      c.release();
    }
    pool = new Pool({ connectionString: `${STATE_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, max: 2 });
    sandbox = await startOpenCellSandbox({ port: 0 });
    db = await odooDb().connect();
  });
  after(async () => {
    db?.release();
    client?.close();
    await sandbox?.close();
    await pool?.end();
    await stateDb().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('a failed CRM hierarchy call after the customer was created is retried to completion, not dead-lettered', async () => {
    const config = loadConfig({
      ...process.env,
      OPENCELL_BASEURL: sandbox.url,
      OPENCELL_PASSWORD: sandbox.credentials.password,
      ODOO_PASSWORD: 'unused-here',
      OPENCELL_TIMEOUT_MS: '3000',
    });
    client = new OpenCellClient(config.opencell);
    const projector = new Projector({
      odoo: new OdooViews(odooDb()),
      opencell: new OpenCellState(client),
      client,
      ledger: new Ledger(pool, `test.faults-pc-${uniqueSuffix()}`),
      catalog: new CatalogCache(client),
      config: projectionConfig(config),
    });
    const partner = await insertPartner(db, { email: `pc${uniqueSuffix()}@example.org` });
    const mandate = await insertBankAccountAndMandate(db, partner.id);
    const contract = await insertContract(db, { partnerId: partner.id, mandateId: mandate.mandateId, kind: 'fiber' });
    const msg = {
      v: 1,
      intentId: `pc-${uniqueSuffix()}`,
      aggregateKey: `partner:${partner.id}`,
      partnerId: partner.id,
      contractId: contract.id,
      intent: { kind: 'create_subscription', contractId: contract.id },
      force: undefined,
      source: { table: 'contract_contract', op: 'c', rowId: contract.id, lsn: 1, txId: 1, tsMs: Date.now(), snapshot: false, topic: 't', partition: 0, offset: '0' },
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
    const creates = sandbox.journal.entries({ method: 'POST', path: '/account/customer' }).filter((e) => e.status < 300);
    expect(creates, 'one customer create').to.have.length(1);
  });
});
