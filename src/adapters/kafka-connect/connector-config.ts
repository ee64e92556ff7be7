import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, SyncError } from '../../domain/errors';
import { generateIncludeLists } from '../../domain/capture/tables';
import { packageRoot } from '../../core/package-root';

/**
 * The Debezium source connector config (connectors/odoo-billing.json, a bare config map for
 * `PUT /connectors/odoo-billing/config`, applied by src/app/connectors-apply.ts).
 *
 * Hosts and credentials are `${env:NAME}` placeholders that Kafka Connect's EnvVarConfigProvider resolves inside
 * the worker (scripts/stack and docker-compose.yml start it with those variables): they are never rendered here,
 * so no password travels over REST or lands in Connect's config topic.
 */

export const CONNECTOR_NAME = 'odoo-billing';
export type ConnectorConfig = Record<string, string>;

const ENV_PLACEHOLDER = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Finds connectors/<name>.json in the package (sources or build), else in the working directory. */
export function connectorConfigPath(name = CONNECTOR_NAME): string {
  const candidates = [
    path.resolve(packageRoot(), 'connectors', `${name}.json`),
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

/** Throws if the file's include lists drifted from the registry (tables.ts). */
export function assertIncludeListsInSync(config: ConnectorConfig): void {
  const generated = generateIncludeLists();
  const problems: string[] = [];
  for (const key of ['table.include.list', 'column.include.list'] as const) {
    if (config[key] !== generated[key])
      problems.push(`${key} differs from generateIncludeLists() (src/domain/capture/tables.ts)`);
  }
  if (problems.length) throw new ConfigError(problems);
}

/**
 * The config to apply: the file's, with what depends on the cluster and the deployment (issue 15 §9) — the replicas
 * and `min.insync.replicas` of the topics Debezium makes (`topic.creation.default.*`; the file's replication factor
 * only suits a one-broker stack), and the replication slot when the deployment names its own.
 */
export function renderConnectorConfig(
  template: ConnectorConfig,
  opts: { replication: { factor: number; minInsync: number }; slotName?: string | null },
): ConnectorConfig {
  return {
    ...template,
    'topic.creation.default.replication.factor': String(opts.replication.factor),
    'topic.creation.default.min.insync.replicas': String(opts.replication.minInsync),
    ...(opts.slotName && 'slot.name' in template ? { 'slot.name': opts.slotName } : {}),
  };
}

/** Placeholders (`${env:NAME}`) the config expects the Connect worker's environment to provide. */
export function connectorEnvVariables(config: ConnectorConfig): string[] {
  const names = new Set<string>();
  for (const v of Object.values(config)) for (const m of v.matchAll(ENV_PLACEHOLDER)) names.add(m[1]);
  return [...names].sort();
}
