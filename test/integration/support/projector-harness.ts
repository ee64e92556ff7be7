/**
 * A projector driven directly (no Kafka), against the OpenCell sandbox and a ledger in a schema of its own in the
 * state database, migrated like the real one: for tests that call `Projector.handle` step by step (retries, resumes).
 */
import type { Pool } from 'pg';
import { testPool } from '../../support/pg';
import { loadConfig } from '../../../src/core/config';
import { OpenCellClient } from '../../../src/adapters/opencell/client';
import { CatalogCache } from '../../../src/adapters/opencell/catalog-cache';
import { OdooViews } from '../../../src/adapters/postgres/odoo-views';
import { OpenCellState } from '../../../src/adapters/opencell/opencell-state';
import { projectionConfig } from '../../../src/domain/projection/payloads';
import { Ledger } from '../../../src/adapters/postgres/ledger';
import { Projector } from '../../../src/flows/projection/projector';
import { startOpenCellSandbox } from '../../../testkit/sandbox/opencell';
import type { Sandbox } from './pipeline';
import { createStateSchema, odooDb, stateDb, stateUrlFor, uniqueSuffix } from './stack';

export interface ProjectorHarness {
  projector: Projector;
  sandbox: Sandbox;
  client: OpenCellClient;
  ledgerPool: Pool;
  close(): Promise<void>;
}

export async function startProjectorHarness(name: string): Promise<ProjectorHarness> {
  const schema = `${name}_${uniqueSuffix()}`;
  await createStateSchema(schema);
  const ledgerPool = testPool({ connectionString: stateUrlFor(schema), max: 4 });
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
