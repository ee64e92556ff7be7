/**
 * Generates the Strimzi resources that must follow the code (docs/decisions/0003-kustomize-manifests.md):
 *
 * - deploy/strimzi/kafka-connector.yaml — the `KafkaConnector` from connectors/odoo-billing.json. `connector.class`
 *   and `tasks.max` become `spec.class` / `spec.tasksMax`; every `${env:NAME}` placeholder (resolved by the local
 *   stack's EnvVarConfigProvider) becomes `${secrets:<namespace>/<secret>:NAME}`, resolved inside the Connect worker
 *   by Strimzi's KubernetesSecretConfigProvider from one Secret; CLUSTER_OVERRIDES replaces the settings that only
 *   suit a one-broker stack (replication factor 1).
 * - deploy/strimzi/kafka-topics.yaml — one `KafkaTopic` per topic the pipeline, Debezium and Connect use: the topic
 *   names come from the ConfigMap (deploy/kubernetes/configmap.yaml) decoded by src/core/config.ts, the capture
 *   topics from the capture registry (src/domain/capture/tables.ts).
 * - deploy/strimzi/kafka-users.yaml — one SCRAM-SHA-512 `KafkaUser` per role, one for the operator's CLI and one for
 *   Kafka Connect, with the ACLs each needs.
 *
 *   scripts/gen-strimzi            # (re)write the three files
 *   scripts/gen-strimzi --check    # exit 1 when a file differs from what the code generates
 *
 * test/unit/deploy-manifests.test.ts checks the files against the code independently of this script.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfig, type Config } from '../src/core/config';
import { TABLE_NAMES, topicFor } from '../src/domain/capture/tables';
import { routerTopics, PROJECTOR_GROUP, ROUTER_GROUP } from '../src/flows/projection/stages';
import { INVOICE_LOADER_GROUP } from '../src/flows/invoices/loader';

export const ROOT = join(__dirname, '..');

/**
 * Strimzi's API version: `v1`, served since Strimzi 0.49 and the only one from 0.52 / 1.0 on (the releases that run
 * Kafka 4.3, kafka-connect.yaml); `v1beta2` resources fail `kubectl apply` there (docs/decisions/0003-kustomize-manifests.md).
 */
export const STRIMZI_API_VERSION = 'kafka.strimzi.io/v1';

/** Where the Kafka cluster, its topic and user operators and the Connect cluster live (Strimzi's quick-start names). */
export const STRIMZI = {
  namespace: 'kafka',
  kafkaCluster: 'my-cluster',
  connectCluster: 'odoo-cdc',
  /** the Secret the connector's `${secrets:…}` placeholders read (deploy/strimzi/debezium-db-secret.example.yaml) */
  connectorSecret: 'odoo-debezium-db',
  replicationFactor: 3,
  minInsyncReplicas: 2,
} as const;

/** Settings of connectors/odoo-billing.json that suit the one-broker local stack only. */
export const CLUSTER_OVERRIDES: Record<string, string> = {
  'topic.creation.default.replication.factor': String(STRIMZI.replicationFactor),
};

/** Connect's own topics and group (set in deploy/strimzi/kafka-connect.yaml). */
export const CONNECT_GROUP = `${STRIMZI.connectCluster}-connect`;
export const CONNECT_TOPICS = {
  config: `${CONNECT_GROUP}-configs`,
  offset: `${CONNECT_GROUP}-offsets`,
  status: `${CONNECT_GROUP}-status`,
};

/** Consumer-group prefixes of the CLI's throw-away readers (src/app/dlq-admin.ts, src/adapters/kafka-connect/notifications.ts). */
export const OPS_GROUP_PREFIXES = ['ops-dlq-reader-', 'odoo-opencell-sync-snapshot-'];

const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

// ---------------------------------------------------------------------------------------------------------------
// the connector
// ---------------------------------------------------------------------------------------------------------------

/** `${env:NAME}` → `${secrets:<ns>/<secret>:NAME}` (every occurrence in a value). */
export function toStrimziPlaceholders(value: string): string {
  return value.replace(
    /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g,
    (_, name: string) => `\${secrets:${STRIMZI.namespace}/${STRIMZI.connectorSecret}:${name}}`,
  );
}

/** The env names the connector JSON refers to (= the keys the connector Secret must hold). */
export function connectorEnvNames(json: Record<string, string>): string[] {
  const names = new Set<string>();
  for (const v of Object.values(json))
    for (const m of v.matchAll(/\$\{env:([A-Za-z0-9_]+)\}/g)) names.add(m[1]);
  return [...names].sort();
}

export function connectorFile(): { name: string; json: Record<string, string> } {
  return {
    name: 'odoo-billing',
    json: JSON.parse(read('connectors/odoo-billing.json')) as Record<string, string>,
  };
}

export function kafkaConnector(name: string, json: Record<string, string>): Record<string, unknown> {
  const { 'connector.class': cls, 'tasks.max': tasksMax, ...rest } = json;
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(rest)) config[k] = toStrimziPlaceholders(CLUSTER_OVERRIDES[k] ?? v);
  return {
    apiVersion: STRIMZI_API_VERSION,
    kind: 'KafkaConnector',
    metadata: {
      name,
      namespace: STRIMZI.namespace,
      labels: { 'strimzi.io/cluster': STRIMZI.connectCluster },
    },
    spec: { class: cls, tasksMax: Number(tasksMax), state: 'running', config },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// topics
// ---------------------------------------------------------------------------------------------------------------

/** The pipeline's config as the Deployments see it: the ConfigMap's values decoded by src/core/config.ts. */
export function configOfConfigMap(): Config {
  const doc = parse(read('deploy/kubernetes/configmap.yaml')) as { data: Record<string, string> };
  return loadConfig({ ...doc.data }, []);
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  config: Record<string, string | number>;
  /** who writes it, why it exists */
  purpose: string;
}

const DAY_MS = 86_400_000;

/** Every topic the deployment uses, with partitions and settings (partitions follow what the code creates). */
export function topicSpecs(cfg: Config, connector: Record<string, string>): TopicSpec[] {
  const prefix = connector['topic.prefix'];
  const capturePartitions = Number(connector['topic.creation.default.partitions'] ?? 3);
  const retention = (days: number) => ({ 'retention.ms': days < 0 ? -1 : days * DAY_MS });
  const compact = { 'cleanup.policy': 'compact' };
  return [
    ...TABLE_NAMES.map((t) => ({
      topic: topicFor(t, prefix),
      partitions: capturePartitions,
      config: retention(7),
      purpose:
        'Debezium change events (router input); retention bounds how far back `resync sync-router` goes',
    })),
    {
      topic: `__debezium-heartbeat.${prefix}`,
      partitions: 1,
      config: retention(1),
      purpose: 'Debezium heartbeats (heartbeat.interval.ms): keeps the slot confirmed LSN moving',
    },
    {
      topic: connector['notification.sink.topic.name'],
      partitions: 1,
      config: retention(7),
      purpose: 'Debezium notifications, followed by `snapshot` (docs/decisions/0002-snapshot-signals.md)',
    },
    {
      topic: cfg.topics.intents,
      partitions: cfg.topics.intentsPartitions,
      config: retention(7),
      purpose: 'intents, keyed by customer (router → projector); partitions = INTENTS_PARTITIONS',
    },
    {
      topic: cfg.topics.dlq,
      partitions: 1,
      config: retention(-1),
      purpose: 'dead letters of every stage, kept until replayed (`dlq replay`)',
    },
    {
      topic: cfg.topics.syncEvents,
      partitions: 3,
      config: retention(7),
      purpose: 'Avro sync events for subscribers (relay)',
    },
    {
      topic: cfg.topics.invoiceEvents,
      partitions: 3,
      config: retention(7),
      purpose: 'Avro invoice events (relay → invoice loader)',
    },
    {
      topic: CONNECT_TOPICS.config,
      partitions: 1,
      config: compact,
      purpose: 'Kafka Connect: connector configs',
    },
    {
      topic: CONNECT_TOPICS.offset,
      partitions: 25,
      config: compact,
      purpose: 'Kafka Connect: source offsets (the LSN Debezium confirmed)',
    },
    {
      topic: CONNECT_TOPICS.status,
      partitions: 5,
      config: compact,
      purpose: 'Kafka Connect: connector and task states',
    },
  ];
}

/** A Kubernetes name for a topic name (lower case, `_` → `-`, no leading `-` or `.`). */
export function resourceName(topic: string): string {
  return topic
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[-.]+/, '');
}

export function kafkaTopic(t: TopicSpec): Record<string, unknown> {
  return {
    apiVersion: STRIMZI_API_VERSION,
    kind: 'KafkaTopic',
    metadata: {
      name: resourceName(t.topic),
      namespace: STRIMZI.namespace,
      labels: { 'strimzi.io/cluster': STRIMZI.kafkaCluster },
      annotations: { 'odoo-opencell-sync/purpose': t.purpose },
    },
    spec: {
      topicName: t.topic,
      partitions: t.partitions,
      replicas: STRIMZI.replicationFactor,
      config: { 'min.insync.replicas': STRIMZI.minInsyncReplicas, ...t.config },
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// users and ACLs
// ---------------------------------------------------------------------------------------------------------------

type Op = 'Read' | 'Write' | 'Describe' | 'Create' | 'Delete' | 'DescribeConfigs' | 'IdempotentWrite';
export interface Acl {
  resource: { type: 'topic' | 'group' | 'cluster'; name?: string; patternType?: 'literal' | 'prefix' };
  operations: Op[];
}

const topicAcl = (name: string, operations: Op[]): Acl => ({
  resource: { type: 'topic', name, patternType: 'literal' },
  operations,
});
const groupAcl = (name: string, operations: Op[], patternType: 'literal' | 'prefix' = 'literal'): Acl => ({
  resource: { type: 'group', name, patternType },
  operations,
});
const idempotentWrite: Acl = { resource: { type: 'cluster' }, operations: ['IdempotentWrite'] };

export interface UserSpec {
  user: string;
  /** the role(s) or component using it */
  purpose: string;
  acls: Acl[];
}

/**
 * The ACLs per user. Router and projector start through ensurePipelineTopics (src/flows/projection/stages.ts),
 * which lists the topics and creates the missing ones: with every topic a KafkaTopic, they need Describe on each
 * (an undescribable topic looks missing and its creation is refused), never Create.
 */
export function userSpecs(cfg: Config, connector: Record<string, string>): UserSpec[] {
  const prefix = connector['topic.prefix'];
  const router = routerTopics(cfg.topics.prefix);
  const capture = TABLE_NAMES.map((t) => topicFor(t, prefix));
  const notifications = connector['notification.sink.topic.name'];
  const pipelineTopics = [
    cfg.topics.intents,
    cfg.topics.dlq,
    cfg.topics.syncEvents,
    cfg.topics.invoiceEvents,
    ...router,
  ];
  const describeAll = pipelineTopics.map((t) => topicAcl(t, ['Describe']));
  const name = (role: string) => `odoo-opencell-sync-${role}`;
  const readWithDescribe = (topics: string[]) => topics.map((t) => topicAcl(t, ['Read', 'Describe']));
  const merge = (acls: Acl[]): Acl[] => {
    const byKey = new Map<string, Acl>();
    for (const a of acls) {
      const key = JSON.stringify(a.resource);
      const prev = byKey.get(key);
      if (prev) prev.operations = [...new Set([...prev.operations, ...a.operations])];
      else byKey.set(key, { resource: a.resource, operations: [...a.operations] });
    }
    return [...byKey.values()].map((a) => ({ ...a, operations: [...a.operations].sort() }));
  };
  return [
    {
      user: name('router'),
      purpose: 'role router: Debezium topics → intents (group sync-router)',
      acls: merge([
        ...describeAll,
        ...readWithDescribe(router),
        groupAcl(ROUTER_GROUP, ['Read']),
        topicAcl(cfg.topics.intents, ['Write']),
        topicAcl(cfg.topics.dlq, ['Write']),
      ]),
    },
    {
      user: name('projector'),
      purpose: 'role projector: intents → OpenCell (group sync-projector)',
      acls: merge([
        ...describeAll,
        ...readWithDescribe([cfg.topics.intents]),
        groupAcl(PROJECTOR_GROUP, ['Read']),
        topicAcl(cfg.topics.dlq, ['Write']),
      ]),
    },
    {
      user: name('relay'),
      purpose: 'role relay: outbox → sync events and invoice events (idempotent producer)',
      acls: merge([
        topicAcl(cfg.topics.syncEvents, ['Write', 'Describe']),
        topicAcl(cfg.topics.invoiceEvents, ['Write', 'Describe']),
        idempotentWrite,
      ]),
    },
    {
      user: name('poller'),
      purpose: 'role poller: OpenCell → outbox; uses Kafka for metadata only (readiness)',
      acls: [],
    },
    {
      user: name('loader'),
      purpose: 'role loader: invoice events → Odoo (group invoice-loader, idempotent dead-letter producer)',
      acls: merge([
        ...readWithDescribe([cfg.topics.invoiceEvents]),
        groupAcl(INVOICE_LOADER_GROUP, ['Read']),
        topicAcl(cfg.topics.dlq, ['Write', 'Describe']),
        idempotentWrite,
      ]),
    },
    {
      user: name('scheduler'),
      purpose: 'role scheduler: held terminations (state database) → intents, when due',
      acls: merge([topicAcl(cfg.topics.intents, ['Write', 'Describe'])]),
    },
    {
      user: name('ops'),
      purpose:
        'operator CLI: status, resync (offsets of the three groups), dlq list/show/replay (back to the source topic), ' +
        'snapshot (notifications), force-create and reconcile --fix (intents)',
      acls: merge([
        ...readWithDescribe([...pipelineTopics, notifications]),
        topicAcl(cfg.topics.intents, ['Write']),
        topicAcl(cfg.topics.invoiceEvents, ['Write']),
        ...router.map((t) => topicAcl(t, ['Write'])),
        ...[ROUTER_GROUP, PROJECTOR_GROUP, INVOICE_LOADER_GROUP].map((g) =>
          groupAcl(g, ['Read', 'Describe']),
        ),
        ...OPS_GROUP_PREFIXES.map((p) => groupAcl(p, ['Read', 'Describe', 'Delete'], 'prefix')),
      ]),
    },
    {
      user: `${STRIMZI.connectCluster}-connect`,
      purpose: 'Kafka Connect + Debezium: its internal topics and group, the topics Debezium writes',
      acls: merge([
        ...Object.values(CONNECT_TOPICS).map((t) =>
          topicAcl(t, ['Read', 'Write', 'Describe', 'DescribeConfigs', 'Create']),
        ),
        groupAcl(CONNECT_GROUP, ['Read', 'Describe']),
        ...[...capture, `__debezium-heartbeat.${prefix}`, notifications].map((t) =>
          topicAcl(t, ['Write', 'Describe', 'Create']),
        ),
        idempotentWrite,
      ]),
    },
  ];
}

export function kafkaUser(u: UserSpec): Record<string, unknown> {
  return {
    apiVersion: STRIMZI_API_VERSION,
    kind: 'KafkaUser',
    metadata: {
      name: u.user,
      namespace: STRIMZI.namespace,
      labels: { 'strimzi.io/cluster': STRIMZI.kafkaCluster },
      annotations: { 'odoo-opencell-sync/purpose': u.purpose },
    },
    spec: {
      authentication: { type: 'scram-sha-512' },
      // no authorization block = no ACLs at all (the poller only reads cluster metadata)
      ...(u.acls.length ? { authorization: { type: 'simple', acls: u.acls } } : {}),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------------------------------------------

const HEADER = (what: string) =>
  `# GENERATED by scripts/gen-strimzi from ${what} — do not edit; run scripts/gen-strimzi after changing them.\n` +
  '# test/unit/deploy-manifests.test.ts fails when this file and the code disagree.\n';

const yamlDocs = (docs: unknown[]) =>
  docs.map((d) => `---\n${stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })}`).join('');

export function generatedFiles(): Record<string, string> {
  const { name, json } = connectorFile();
  const cfg = configOfConfigMap();
  return {
    'deploy/strimzi/kafka-connector.yaml':
      HEADER('connectors/odoo-billing.json') + yamlDocs([kafkaConnector(name, json)]),
    'deploy/strimzi/kafka-topics.yaml':
      HEADER(
        'deploy/kubernetes/configmap.yaml (topic names), src/domain/capture/tables.ts and connectors/odoo-billing.json',
      ) + yamlDocs(topicSpecs(cfg, json).map(kafkaTopic)),
    'deploy/strimzi/kafka-users.yaml':
      HEADER('the topics and consumer groups of src/ (see userSpecs in scripts/gen-strimzi.ts)') +
      yamlDocs(userSpecs(cfg, json).map(kafkaUser)),
  };
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  let stale = 0;
  for (const [path, text] of Object.entries(generatedFiles())) {
    const current = existsSync(join(ROOT, path)) ? read(path) : '';
    if (current === text) continue;
    if (check) {
      process.stderr.write(`${path} is out of date: run scripts/gen-strimzi\n`);
      stale++;
    } else {
      writeFileSync(join(ROOT, path), text);
      process.stderr.write(`wrote ${path}\n`);
    }
  }
  return stale ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
