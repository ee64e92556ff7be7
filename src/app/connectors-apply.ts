/**
 * Applies every connector in connectors/*.json to Kafka Connect with `PUT /connectors/<name>/config` (idempotent)
 * and waits until each runs. Hosts and credentials stay `${env:…}` placeholders that Connect's
 * EnvVarConfigProvider resolves inside the worker, so no secret travels over REST or lands in a config topic.
 * The replication of the topics Debezium creates follows the cluster (KAFKA_REPLICATION_FACTOR /
 * KAFKA_MIN_INSYNC_REPLICAS, `auto` by default), and DEBEZIUM_SLOT_NAME replaces the file's slot when set.
 * Usage: node --require tsx/cjs src/app/connectors-apply.ts [--no-wait]
 */
import {
  assertIncludeListsInSync,
  CONNECTOR_NAME,
  renderConnectorConfig,
} from '../adapters/kafka-connect/connector-config';
import { ConnectClient, connectorFiles } from '../adapters/kafka-connect/client';
import { createKafka, resolveReplication, type Replication } from '../adapters/kafka/kafka';
import { loadConfig, type BasicAuth } from '../core/config';
import { componentLogger, redactString } from '../core/log';

const log = componentLogger('connectors');

export async function applyConnectors(
  connectUrl: string,
  wait = true,
  opts: {
    replication: Replication;
    slotName?: string | null;
    auth?: BasicAuth | null;
    /** CONNECT_CA's certificates (null: the system's) */
    ca?: string | null;
  },
): Promise<string[]> {
  const client = new ConnectClient(connectUrl, opts.auth ?? null, opts.ca ?? null);
  const applied: string[] = [];
  for (const { name, raw } of connectorFiles()) {
    if (name === CONNECTOR_NAME) assertIncludeListsInSync(raw); // never apply lists that drifted from the registry
    const result = await client.putConfig(name, renderConnectorConfig(raw, opts));
    log.info(
      `connector ${name} ${result} (topics: replication factor ${opts.replication.factor}, min.insync.replicas ${opts.replication.minInsync})`,
    );
    if (wait) await client.waitRunning(name, 90_000);
    applied.push(name);
  }
  return applied;
}

async function main(): Promise<string[]> {
  const config = loadConfig(process.env, []);
  const admin = createKafka(config.kafka, `${config.kafka.clientId}-connectors`).admin();
  await admin.connect();
  let replication: Replication;
  try {
    replication = await resolveReplication(admin, config.kafka.replication);
  } finally {
    await admin.disconnect();
  }
  return applyConnectors(config.connectUrl, !process.argv.includes('--no-wait'), {
    replication,
    slotName: config.debeziumSlotName,
    auth: config.connectAuth,
    ca: config.connectCa,
  });
}

if (require.main === module) {
  main()
    .then((names) => console.error(`[connectors] applied and running: ${names.join(', ')}`))
    .catch((e) => {
      console.error(`[connectors] ${redactString((e as Error).message)}`);
      process.exit(1);
    });
}
