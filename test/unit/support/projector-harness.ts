/**
 * The in-process projector harness of the unit tests: an OpenCell sandbox with a client of it (mocha hooks), and a
 * Projector over that client with an in-memory ledger, a catalogue that accepts every plan and the default config.
 */
import { OpenCellClient } from '../../../src/adapters/opencell/client';
import { OpenCellState } from '../../../src/adapters/opencell/opencell-state';
import { DEFAULT_PROJECTION_CONFIG } from '../../../src/domain/projection/payloads';
import type { ContractView } from '../../../src/domain/projection/views';
import { Projector, type OdooReader, type ProjectorDeps } from '../../../src/flows/projection/projector';
import type { InMemoryLedger } from '../../../testkit/ledger';
import {
  startOpenCellSandbox,
  type OpenCellSandbox,
  type OpenCellSandboxOptions,
} from '../../../testkit/sandbox/opencell';

/** An OpenCell sandbox and a client of it, set once the describe's before hook ran. */
export interface OpenCellHarness {
  readonly sandbox: OpenCellSandbox;
  readonly client: OpenCellClient;
}

/**
 * Registers before/after hooks in the calling describe: starts an OpenCell sandbox (`opts.sandbox`, default user
 * 'u' / password 'p') and a client of it (`opts.timeoutMs`, default 2000), and closes them after the describe's tests.
 */
export function withOpenCellSandbox(
  opts: { sandbox?: OpenCellSandboxOptions; timeoutMs?: number } = {},
): OpenCellHarness {
  const h = {} as { sandbox: OpenCellSandbox; client: OpenCellClient };
  before(async () => {
    h.sandbox = await startOpenCellSandbox({ port: 0, ...(opts.sandbox ?? { user: 'u', password: 'p' }) });
    h.client = new OpenCellClient({
      baseUrl: h.sandbox.url,
      user: h.sandbox.credentials.user,
      password: h.sandbox.credentials.password,
      timeoutMs: opts.timeoutMs ?? 2000,
      concurrency: 2,
    });
  });
  after(async () => {
    h.client.close();
    await h.sandbox.close();
  });
  return h;
}

/** Odoo as the projector reads it when it holds one contract (read through `current`, so a test can change it). */
export function oneContractOdoo(current: () => ContractView): OdooReader {
  return {
    partner: async (id) => (id === current().partner.id ? current().partner : null),
    contract: async (id) => (id === current().id ? current() : null),
    contractsOfPartner: async () => [current()],
  };
}

/** A projector over `client` whose catalogue accepts every plan; `extra` adds or overrides dependencies. */
export function projectorOver(
  odoo: OdooReader,
  client: OpenCellClient,
  ledger: InMemoryLedger,
  extra: Partial<ProjectorDeps> = {},
): Projector {
  return new Projector({
    odoo,
    opencell: new OpenCellState(client),
    client,
    ledger,
    catalog: { check: async (ops) => ({ _tag: 'Right', right: ops }) },
    config: DEFAULT_PROJECTION_CONFIG,
    ...extra,
  });
}
