/**
 * A projector driven directly (no Kafka), against the OpenCell sandbox and a ledger in a schema of its own in the
 * state database, migrated like the real one: for tests that call `Projector.handle` step by step (retries, resumes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import { loadConfig } from '../../../src/config';
import { OpenCellClient } from '../../../src/opencell/client';
import { CatalogCache } from '../../../src/projections/catalog-cache';
import { OdooViews } from '../../../src/projections/odoo-views';
import { OpenCellState } from '../../../src/projections/opencell-state';
import { projectionConfig } from '../../../src/projections/payloads';
import { Ledger } from '../../../src/projections/runtime/ledger';
import { Projector } from '../../../src/projections/runtime/projector';
import { startOpenCellSandbox } from '../../../src/sandbox/opencell';
import type { Sandbox } from './pipeline';
import { odooDb, ROOT, STATE_DATABASE_URL, stateDb, uniqueSuffix } from './stack';

export interface ProjectorHarness {
  projector: Projector;
  sandbox: Sandbox;
  client: OpenCellClient;
  ledgerPool: Pool;
  close(): Promise<void>;
}

export async function startProjectorHarness(name: string): Promise<ProjectorHarness> {
  const schema = `${name}_${uniqueSuffix()}`;
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
  const ledgerPool = new Pool({ connectionString: `${STATE_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, max: 4 });
  const sandbox = await startOpenCellSandbox({ port: 0 });
  const config = loadConfig({
    ...process.env,
    OPENCELL_BASEURL: sandbox.url,
    OPENCELL_PASSWORD: sandbox.credentials.password,
    ODOO_PASSWORD: 'unused-here',
    OPENCELL_TIMEOUT_MS: '3000',
  });
  const client = new OpenCellClient(config.opencell);
  const projector = new Projector({
    odoo: new OdooViews(odooDb()),
    opencell: new OpenCellState(client),
    client,
    ledger: new Ledger(ledgerPool, `test.${name}-${uniqueSuffix()}`),
    catalog: new CatalogCache(client),
    config: projectionConfig(config),
  });
  return {
    projector,
    sandbox,
    client,
    ledgerPool,
    async close() {
      client.close();
      await sandbox.close();
      await ledgerPool.end();
      await stateDb().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}
