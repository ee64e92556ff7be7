import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, SyncError } from '../errors';
import { registerSecret } from '../log';
import { generateIncludeLists, publicationTables } from './tables';

/**
 * The Debezium source connector config (connectors/odoo-billing.json, a bare config map for
 * `PUT /connectors/odoo-billing/config`) and the function that fills its placeholders from the environment.
 *
 * Placeholders: `${env:NAME}` (Kafka Connect's EnvVarConfigProvider syntax, so an unrendered file still
 * means the right thing to a worker configured with that provider) or `{{NAME}}`.
 */

export const CONNECTOR_NAME = 'odoo-billing';
export type ConnectorConfig = Record<string, string>;

/** Defaults match the local stack (scripts/stack). */
export const CONNECTOR_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  ODOO_DB_HOST: '127.0.0.1',
  ODOO_DB_PORT: '5432',
  ODOO_DB_NAME: 'odoo',
  DEBEZIUM_DB_USER: 'debezium',
  DEBEZIUM_DB_PASSWORD: 'debezium',
};

const PLACEHOLDER = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}|\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Finds connectors/odoo-billing.json from src/capture (ts-node) or dist/src/capture (compiled). */
export function connectorConfigPath(name = CONNECTOR_NAME): string {
  const candidates = [
    path.resolve(__dirname, '..', '..', 'connectors', `${name}.json`),
    path.resolve(__dirname, '..', '..', '..', 'connectors', `${name}.json`),
    path.resolve(process.cwd(), 'connectors', `${name}.json`),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new SyncError(
      'CONFIG_INVALID',
      `connector config ${name}.json not found (looked in ${candidates.join(', ')})`,
    );
  return found;
}

/** Reads the connector JSON as is (placeholders not rendered). */
export function loadConnectorTemplate(file = connectorConfigPath()): ConnectorConfig {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`${file}: expected a JSON object (a bare connector config map)`]);
  }
  const out: ConnectorConfig = {};
  const problems: string[] = [];
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v !== 'string')
      problems.push(`${file}: "${k}" must be a string (Kafka Connect configs are strings)`);
    else out[k] = v;
  }
  if (problems.length) throw new ConfigError(problems);
  return out;
}

/**
 * Fills every `${env:NAME}` / `{{NAME}}` from `env`, falling back to CONNECTOR_ENV_DEFAULTS; throws a
 * ConfigError listing every variable that is neither set nor defaulted. An empty value counts as unset.
 * The rendered password is registered with the logger's redaction.
 */
export function renderConnectorConfig(
  json: ConnectorConfig | Record<string, unknown>,
  env: Record<string, string | undefined> = process.env,
  defaults: Readonly<Record<string, string>> = CONNECTOR_ENV_DEFAULTS,
): ConnectorConfig {
  const missing = new Set<string>();
  const out: ConnectorConfig = {};
  for (const [key, raw] of Object.entries(json)) {
    const value = typeof raw === 'string' ? raw : String(raw);
    out[key] = value.replace(PLACEHOLDER, (whole, a: string | undefined, b: string | undefined) => {
      const name = (a ?? b) as string;
      const v = env[name] !== undefined && env[name] !== '' ? env[name] : defaults[name];
      if (v === undefined) {
        missing.add(name);
        return whole;
      }
      return v;
    });
  }
  if (missing.size) {
    throw new ConfigError(
      [...missing].map((n) => `connector config needs environment variable ${n}, which is not set`),
    );
  }
  registerSecret(out['database.password']);
  return out;
}

/** The rendered connector config, ready for PUT /connectors/odoo-billing/config. */
export function connectorConfig(env: Record<string, string | undefined> = process.env): ConnectorConfig {
  return renderConnectorConfig(loadConnectorTemplate(), env);
}

/** Throws if the file's include lists drifted from the registry (tables.ts). */
export function assertIncludeListsInSync(config: ConnectorConfig): void {
  const generated = generateIncludeLists();
  const problems: string[] = [];
  for (const key of ['table.include.list', 'column.include.list'] as const) {
    if (config[key] !== generated[key])
      problems.push(`${key} differs from generateIncludeLists() (src/capture/tables.ts)`);
  }
  if (problems.length) throw new ConfigError(problems);
}

/**
 * Creates or updates the connector (PUT is idempotent). Returns Connect's answer; throws SyncError with the
 * HTTP status and Connect's message (never the config, which holds the password).
 */
export async function putConnectorConfig(
  connectUrl: string,
  config: ConnectorConfig,
  name = CONNECTOR_NAME,
): Promise<unknown> {
  const url = `${connectUrl.replace(/\/+$/, '')}/connectors/${encodeURIComponent(name)}/config`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(config),
    });
  } catch (e) {
    throw new SyncError('NETWORK', `Kafka Connect ${url}: ${(e as Error).message}`, {
      retriable: true,
      cause: e,
    });
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      /* not JSON */
    }
    throw new SyncError(
      'CONFIG_INVALID',
      `Kafka Connect rejected ${name} config (${res.status}): ${message}`,
      {
        retriable: res.status >= 500,
        details: { status: res.status },
      },
    );
  }
  return text ? (JSON.parse(text) as unknown) : null;
}

/*
 * CLI: prints the rendered config (for shell scripts), or applies it.
 *   npx ts-node --transpile-only src/capture/connector.ts            # rendered JSON on stdout
 *   npx ts-node --transpile-only src/capture/connector.ts --tables   # publication tables, one a line
 *   npx ts-node --transpile-only src/capture/connector.ts --apply [CONNECT_URL]
 */
if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--tables') {
    process.stdout.write(`${publicationTables().join('\n')}\n`);
  } else {
    const cfg = connectorConfig();
    assertIncludeListsInSync(cfg);
    if (args[0] === '--apply') {
      const url = args[1] ?? process.env.CONNECT_URL ?? 'http://127.0.0.1:8083';
      putConnectorConfig(url, cfg).then(
        () => process.stdout.write(`connector ${CONNECTOR_NAME} applied at ${url}\n`),
        (e: unknown) => {
          process.stderr.write(`${(e as Error).message}\n`);
          process.exit(1);
        },
      );
    } else {
      process.stdout.write(`${JSON.stringify(cfg, null, 2)}\n`);
    }
  }
}
