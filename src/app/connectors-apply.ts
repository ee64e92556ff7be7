/**
 * Applies every connector in connectors/*.json to Kafka Connect with `PUT /connectors/<name>/config` (idempotent)
 * and waits until each runs. Hosts and credentials stay `${env:…}` placeholders that Connect's
 * EnvVarConfigProvider resolves inside the worker, so no secret travels over REST or lands in a config topic.
 * Usage: node --require tsx/cjs src/app/connectors-apply.ts [--no-wait]
 */
import { assertIncludeListsInSync, CONNECTOR_NAME } from '../adapters/kafka-connect/connector-config';
import { ConnectClient, connectorFiles } from '../adapters/kafka-connect/client';
import { componentLogger } from '../core/log';

const log = componentLogger('connectors');

export async function applyConnectors(connectUrl: string, wait = true): Promise<string[]> {
  const client = new ConnectClient(connectUrl);
  const applied: string[] = [];
  for (const { name, raw } of connectorFiles()) {
    if (name === CONNECTOR_NAME) assertIncludeListsInSync(raw); // never apply lists that drifted from the registry
    const result = await client.putConfig(name, raw);
    log.info(`connector ${name} ${result}`);
    if (wait) await client.waitRunning(name, 90_000);
    applied.push(name);
  }
  return applied;
}

if (require.main === module) {
  const wait = !process.argv.includes('--no-wait');
  applyConnectors(process.env.CONNECT_URL ?? 'http://127.0.0.1:8083', wait)
    .then((names) => console.error(`[connectors] applied and running: ${names.join(', ')}`))
    .catch((e) => {
      console.error(`[connectors] ${(e as Error).message}`);
      process.exit(1);
    });
}
