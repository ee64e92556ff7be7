import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { get } from 'node:http';
import { join } from 'node:path';
import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, SECRET_SETTINGS, type Config } from '../../src/core/config';
import { TABLE_NAMES, topicFor } from '../../src/domain/capture/tables';
import { ALL_ROLES, ROLE_SECRETS, ROLE_STARTERS, type RoleName } from '../../src/app/run';
import { COMMANDS } from '../../src/app/cli';
import { parseArgs } from '../../src/app/args';
import { startOpsServer } from '../../src/app/http';
import {
  ensurePipelineTopics,
  PROJECTOR_GROUP,
  ROUTER_GROUP,
  routerTopics,
} from '../../src/flows/projection/stages';
import { ensureInvoiceTopics } from '../../src/flows/invoices/stages';
import { INVOICE_LOADER_GROUP } from '../../src/flows/invoices/loader';
import {
  CONNECT_GROUP,
  CONNECT_TOPICS,
  generatedFiles,
  STRIMZI_API_VERSION,
} from '../../scripts/gen-strimzi';
import { imageNodeOptions } from '../../bench/processes';

/**
 * No Kubernetes cluster and no Strimzi operator run here: this keeps deploy/kubernetes (kustomize base) and
 * deploy/strimzi in agreement with the code — the connector config, the topics the code uses and creates, the config
 * spec, the roles, the ops HTTP server's paths and the image — as docker-compose.test.ts does for compose.
 */
const ROOT = join(__dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const docs = (p: string): Doc[] =>
  parseAllDocuments(read(p))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
const ofKind = (p: string, kind: string) => docs(p).filter((d) => d.kind === kind);

const K8S = 'deploy/kubernetes';
const kustomization = parse(read(`${K8S}/kustomization.yaml`)) as Doc;
const base: Doc[] = (kustomization.resources as string[]).flatMap((f) => docs(`${K8S}/${f}`));
const configMap = base.find((d) => d.kind === 'ConfigMap') as Doc;
const cmData = configMap.data as Record<string, string>;
const secretExample = parse(read(`${K8S}/secret.example.yaml`)) as Doc;
const secretData = secretExample.stringData as Record<string, string>;
const deployments = base.filter((d) => d.kind === 'Deployment');
const pdbs = base.filter((d) => d.kind === 'PodDisruptionBudget');
const container = (d: Doc): Doc => d.spec.template.spec.containers[0];
const roleOf = (d: Doc): string => {
  const args = container(d).args as string[];
  return args[args.indexOf('--only') + 1];
};

type EnvVar = { name: string; value?: string; valueFrom?: Doc };
const envVar = (d: Doc, name: string): EnvVar | undefined =>
  (container(d).env as EnvVar[]).find((e) => e.name === name);
/** A Deployment's settings given as values: the ConfigMap's, then its container's literals. */
const literalEnv = (d: Doc): Record<string, string> => {
  const env: Record<string, string> = { ...cmData };
  for (const e of container(d).env as EnvVar[]) if (e.value !== undefined) env[e.name] = e.value;
  return env;
};
/**
 * The Secret volume that puts the file `path` in a Deployment's container (its mount, the volume, the Secret's key),
 * or undefined when no read-only mount of a Secret key gives that path.
 */
function mountedSecretFile(d: Doc, path: string): { mount: Doc; volume: Doc; key: string } | undefined {
  for (const mount of (container(d).volumeMounts ?? []) as Doc[]) {
    const dir = `${(mount.mountPath as string).replace(/\/$/, '')}/`;
    if (!path.startsWith(dir) || mount.readOnly !== true) continue;
    const volume = (d.spec.template.spec.volumes as Doc[]).find((v) => v.name === mount.name);
    if (!volume?.secret) continue;
    const rel = path.slice(dir.length);
    const items = volume.secret.items as { key: string; path: string }[] | undefined;
    const key = items ? items.find((i) => i.path === rel)?.key : rel; // no items: every key is a file
    if (key) return { mount, volume, key };
  }
  return undefined;
}
/** The CA settings of the config spec: each names a PEM file the pod must have. */
const CA_SETTINGS = () => [...SPEC_KEYS].filter((k) => k.endsWith('_CA'));
/** The KafkaUser a Deployment authenticates as (its KAFKA_SASL_USERNAME). */
const saslUserOf = (d: Doc): string | undefined => envVar(d, 'KAFKA_SASL_USERNAME')?.value;
/** The Kafka cluster CA lives in the pod, not here: a stand-in PEM file so that each Deployment's config decodes. */
const CA_STAND_IN = join(mkdtempSync(join(tmpdir(), 'deploy-ca-')), 'ca.crt');
writeFileSync(CA_STAND_IN, '-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n');

const connectorJson = JSON.parse(read('connectors/odoo-billing.json')) as Record<string, string>;
const [kafkaConnect] = ofKind('deploy/strimzi/kafka-connect.yaml', 'KafkaConnect');
const [connector] = ofKind('deploy/strimzi/kafka-connector.yaml', 'KafkaConnector');
const kafkaTopics = ofKind('deploy/strimzi/kafka-topics.yaml', 'KafkaTopic');
const kafkaUsers = ofKind('deploy/strimzi/kafka-users.yaml', 'KafkaUser');
const topicByName = new Map(kafkaTopics.map((t) => [t.spec.topicName as string, t]));
/** KafkaConnect's internal topics: spec fields of Strimzi's v1 API. */
const CONNECT_STORAGE_TOPICS = ['configStorageTopic', 'offsetStorageTopic', 'statusStorageTopic'] as const;

/** The variables of the config spec (src/core/config.ts `SPEC`), read from its source. */
const SPEC_KEYS = (() => {
  const src = read('src/core/config.ts');
  const block = /const SPEC = \{([\s\S]*?)\n\} as const/.exec(src);
  if (!block) throw new Error('src/core/config.ts has no `const SPEC = { … } as const`');
  return new Set([...block[1].matchAll(/^\s+([A-Z][A-Z0-9_]*): \[/gm)].map((m) => m[1]));
})();
/** Process variables the code reads outside the spec (src/core/log.ts), and Node's own. */
const LOG_KEYS = ['LOG_FORMAT', 'LOG_LEVEL', 'LOG_FILE'];
const NODE_KEYS = ['NODE_OPTIONS'];

/** The config every Deployment sees (ConfigMap; secrets from the example). */
const clusterConfig: Config = loadConfig({ ...cmData, ...secretData }, []);

const pom = read('infra/stack/pom.xml');
const pomProp = (name: string) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(pom)?.[1];

/** The topics the code creates when missing (ensureTopics), by running its start-up code against a recording admin. */
async function topicsTheCodeCreates(config: Config): Promise<ITopicConfig[]> {
  const created: ITopicConfig[] = [];
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listTopics: async () => [],
    // a cluster of 3 brokers, like the Strimzi cluster the manifests target
    describeCluster: async () => ({ brokers: [1, 2, 3].map((nodeId) => ({ nodeId })), controller: 1 }),
    createTopics: async ({ topics }: { topics: ITopicConfig[] }) => {
      created.push(...topics);
      return true;
    },
  } as unknown as Admin;
  const kafka = { admin: () => admin } as unknown as Kafka;
  await ensurePipelineTopics(kafka, config);
  await ensureInvoiceTopics(kafka, config);
  return created;
}

function httpGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('deploy/ agrees with the code (Kubernetes kustomize base and Strimzi resources)', () => {
  describe('kustomize base', () => {
    it('lists every manifest of deploy/kubernetes except the secret example', () => {
      const files = readdirSync(join(ROOT, K8S)).filter(
        (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
      );
      expect([...(kustomization.resources as string[])].sort()).to.deep.equal(
        files.filter((f) => f !== 'secret.example.yaml').sort(),
      );
      expect(kustomization.resources).to.not.include('secret.example.yaml');
    });

    it('has one Deployment per role of src/app/run.ts, each running `run --only <role>`', () => {
      expect(Object.keys(ROLE_STARTERS).sort()).to.deep.equal([...ALL_ROLES].sort());
      expect(deployments.map(roleOf).sort()).to.deep.equal([...ALL_ROLES].sort());
      for (const d of deployments) {
        const args = container(d).args as string[];
        expect(args, d.metadata.name).to.deep.equal(['run', '--only', roleOf(d)]);
        expect(d.metadata.name).to.equal(`odoo-opencell-sync-${roleOf(d)}`);
        expect(d.spec.selector.matchLabels).to.deep.include({ 'app.kubernetes.io/component': roleOf(d) });
        expect(d.spec.template.metadata.labels).to.deep.include(d.spec.selector.matchLabels);
      }
    });

    it('has a PodDisruptionBudget per role that selects its pods and never blocks a drain by itself', () => {
      for (const d of deployments) {
        const pdb = pdbs.filter((p) =>
          Object.entries(p.spec.selector.matchLabels as Record<string, string>).every(
            ([k, v]) => d.spec.template.metadata.labels[k] === v,
          ),
        );
        expect(pdb, `PDB of ${d.metadata.name}`).to.have.length(1);
        expect(pdb[0].spec.maxUnavailable).to.equal(1);
        expect(pdb[0].spec.unhealthyPodEvictionPolicy).to.equal('AlwaysAllow');
      }
    });

    it('runs the image of the Dockerfile with its entrypoint, as the non-root user of the image', () => {
      const dockerfile = read('Dockerfile');
      const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? 'null') as string[];
      expect(entrypoint).to.deep.equal(['node', 'bin/odoo-opencell-sync']);
      expect(existsSync(join(ROOT, entrypoint[1]))).to.equal(true);
      const user = /^USER (\S+)$/m.exec(dockerfile)?.[1];
      expect(user, 'the Dockerfile runs as the node image user node, by number').to.equal('1000:1000');
      expect(/^FROM node:\S+-slim$/m.test(dockerfile)).to.equal(true);
      const images = kustomization.images as { name: string }[];
      for (const d of deployments) {
        const c = container(d);
        expect(c.command, 'no command: the image ENTRYPOINT runs').to.equal(undefined);
        expect(images.map((i) => i.name)).to.include((c.image as string).split(':')[0]);
        const pod = d.spec.template.spec;
        expect(pod.securityContext).to.deep.include({ runAsNonRoot: true, runAsUser: 1000 });
        expect(c.securityContext).to.deep.include({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
        });
        expect(c.securityContext.capabilities.drop).to.deep.equal(['ALL']);
        expect(pod.automountServiceAccountToken).to.equal(false);
      }
    });

    it('probes /readyz and /healthz on HTTP_PORT, the port the ops HTTP server serves them on', async () => {
      const exposed = /^EXPOSE (\d+)$/m.exec(read('Dockerfile'))?.[1];
      expect(cmData.HTTP_PORT).to.equal(exposed);
      expect(clusterConfig.httpPort).to.equal(Number(exposed));
      const paths = new Set<string>();
      for (const d of deployments) {
        const c = container(d);
        const ops = (c.ports as { name: string; containerPort: number }[]).find((p) => p.name === 'ops');
        expect(ops?.containerPort).to.equal(clusterConfig.httpPort);
        expect(c.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'ops' });
        expect(c.livenessProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'ops' });
        expect(c.startupProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'ops' });
        const ann = d.spec.template.metadata.annotations as Record<string, string>;
        expect(ann['prometheus.io/port']).to.equal(String(clusterConfig.httpPort));
        for (const p of [
          c.readinessProbe,
          c.livenessProbe,
          c.startupProbe,
          { httpGet: { path: ann['prometheus.io/path'] } },
        ])
          paths.add(p.httpGet.path as string);
      }
      // the real ops server answers each path 200 (no readiness checks registered: ready)
      const server = await startOpsServer({ port: 0, registry: new Registry(), checks: {} });
      try {
        for (const path of paths) expect(await httpGet(server.port, path), path).to.equal(200);
      } finally {
        await server.close();
      }
    });

    it('takes every setting from the config spec (src/core/config.ts) or the logger, and each Deployment decodes', () => {
      for (const key of Object.keys(cmData))
        expect(SPEC_KEYS.has(key) || LOG_KEYS.includes(key), key).to.equal(true);
      for (const key of Object.keys(secretData)) expect(SPEC_KEYS.has(key), key).to.equal(true);
      const log = read('src/core/log.ts');
      for (const key of LOG_KEYS) expect(log).to.include(`process.env.${key}`);
      for (const d of deployments) {
        const c = container(d);
        expect(c.envFrom).to.deep.equal([{ configMapRef: { name: configMap.metadata.name } }]);
        const env: Record<string, string> = { ...cmData };
        for (const e of c.env as { name: string; value?: string; valueFrom?: Doc }[]) {
          expect(
            SPEC_KEYS.has(e.name) || NODE_KEYS.includes(e.name),
            `${d.metadata.name}: ${e.name}`,
          ).to.equal(true);
          if (e.valueFrom && e.name === 'KAFKA_SASL_PASSWORD') {
            env[e.name] = 'stand-in-scram-password'; // the KafkaUser's Secret (checked by the Kafka security test)
          } else if (e.valueFrom) {
            const ref = e.valueFrom.secretKeyRef as { name: string; key: string };
            expect(ref.name).to.equal(secretExample.metadata.name);
            expect(secretData, `${d.metadata.name}: secret key ${ref.key}`).to.have.property(ref.key);
            env[e.name] = secretData[ref.key];
          } else if (!NODE_KEYS.includes(e.name)) env[e.name] = e.value as string;
        }
        // the secrets `run --only <role>` demands (src/app/cli.ts) are there, and every value decodes
        const args = parseArgs((c.args as string[]).slice(1), COMMANDS.run.spec);
        const required = COMMANDS.run.requires(args);
        for (const ca of CA_SETTINGS()) if (env[ca]) env[ca] = CA_STAND_IN; // mounted in the pod (checked below)
        expect(() => loadConfig(env, required), d.metadata.name).to.not.throw();
      }
    });

    it('takes every secret setting its role reads (ROLE_SECRETS, src/app/run.ts) from a Secret, never a ConfigMap', () => {
      const secrets: readonly string[] = SECRET_SETTINGS;
      for (const key of secrets) expect(cmData, `the ConfigMap holds ${key}`).to.not.have.property(key);
      expect(Object.keys(ROLE_SECRETS).sort()).to.deep.equal([...ALL_ROLES].sort());
      for (const d of deployments) {
        const name = d.metadata.name as string;
        const env = container(d).env as EnvVar[];
        for (const key of ROLE_SECRETS[roleOf(d) as RoleName]) {
          const e = envVar(d, key);
          expect(e, `${name}: ${key} not set`).to.not.equal(undefined);
          expect(e?.valueFrom?.secretKeyRef, `${name}: ${key} from a Secret`).to.be.an('object');
        }
        // no secret setting as a literal, or from a ConfigMap key
        for (const e of env.filter((v) => secrets.includes(v.name))) {
          expect(e.value, `${name}: ${e.name} as a literal`).to.equal(undefined);
          expect(e.valueFrom?.configMapKeyRef, `${name}: ${e.name} from a ConfigMap`).to.equal(undefined);
        }
        // the registry's and Connect's user names come with their passwords, from the same Secret, and may be left
        // out of it (no authentication)
        for (const svc of ['SCHEMA_REGISTRY', 'CONNECT']) {
          const password = envVar(d, `${svc}_PASSWORD`)?.valueFrom?.secretKeyRef as Doc;
          expect(
            envVar(d, `${svc}_USERNAME`)?.valueFrom?.secretKeyRef,
            `${name}: ${svc}_USERNAME`,
          ).to.deep.equal({ name: password.name, key: `${svc}_USERNAME`, optional: true });
          expect(password, `${name}: ${svc}_PASSWORD`).to.deep.equal({
            name: secretExample.metadata.name,
            key: `${svc}_PASSWORD`,
            optional: true,
          });
        }
      }
    });

    it('every Deployment reaches Kafka through SASL_SSL as its own KafkaUser, trusting the cluster CA; none in plaintext', () => {
      const cluster = kafkaTopics[0].metadata.labels['strimzi.io/cluster'] as string;
      const users = new Set<string>();
      for (const d of deployments) {
        const name = d.metadata.name as string;
        const c = container(d);
        const env = literalEnv(d);
        // TLS and SCRAM-SHA-512 (Strimzi's KafkaUser mechanism), never Strimzi's plaintext 9092 listener
        expect(env.KAFKA_SSL, name).to.equal('true');
        expect(env.KAFKA_SASL_MECHANISM, name).to.equal('scram-sha-512');
        for (const broker of env.KAFKA_BROKERS.split(','))
          expect(broker.trim(), `${name}: plaintext listener`).to.not.match(/:9092$/);
        // its own KafkaUser, and the password from the Secret the user operator makes for it (key `password`)
        const user = saslUserOf(d) as string;
        expect(user, name).to.equal(`odoo-opencell-sync-${roleOf(d)}`);
        expect(
          kafkaUsers.map((u) => u.metadata.name),
          name,
        ).to.include(user);
        expect(users.has(user), `${name} shares ${user}`).to.equal(false);
        users.add(user);
        expect(envVar(d, 'KAFKA_SASL_PASSWORD')?.valueFrom?.secretKeyRef, name).to.deep.equal({
          name: user,
          key: 'password',
        });
        // …which is the user operator's own Secret, not a copy: the KafkaUser lives in the Deployment's namespace
        // KAFKA_SSL_CA is the `ca.crt` of <cluster>-cluster-ca-cert, mounted read-only
        const volume = (d.spec.template.spec.volumes as Doc[]).find(
          (v) => v.secret?.secretName === `${cluster}-cluster-ca-cert`,
        );
        expect(volume, `${name}: the cluster CA volume`).to.not.equal(undefined);
        const item = (volume?.secret.items as Doc[]).find((i) => i.key === 'ca.crt') as Doc;
        const mount = (c.volumeMounts as Doc[]).find((m) => m.name === volume?.name) as Doc;
        expect(mount.readOnly, name).to.equal(true);
        expect(env.KAFKA_SSL_CA, name).to.equal(`${mount.mountPath}/${item.path}`);
      }
      // One namespace for the KafkaUsers (their Secrets), the Kafka cluster (its CA Secret, named by the bootstrap
      // service) and the Deployments: a pod can reference Secrets of its own namespace only, so anywhere else
      // they would be copies that go stale when Strimzi renews the CA or a password.
      const clusterNs = /^[^.]+\.([^.]+)\.svc:/.exec(clusterConfig.kafka.brokers[0])?.[1];
      expect(clusterNs, 'the Kafka cluster namespace').to.be.a('string');
      expect(kustomization.namespace, "the pipeline's namespace").to.equal(clusterNs);
      for (const u of kafkaUsers)
        expect(u.metadata.namespace, u.metadata.name).to.equal(kustomization.namespace);
      // Kafka Connect too: SCRAM-SHA-512 over TLS, trusting the same CA
      expect(kafkaConnect.spec.authentication.type).to.equal('scram-sha-512');
      expect(kafkaConnect.spec.tls.trustedCertificates[0].secretName).to.equal(`${cluster}-cluster-ca-cert`);
      expect(kafkaConnect.spec.bootstrapServers).to.not.match(/:9092$/);
    });

    it('every CA setting (*_CA) names a file mounted read-only from a Secret in the pod, also those an overlay sets', () => {
      expect(CA_SETTINGS().sort()).to.deep.equal(['CONNECT_CA', 'KAFKA_SSL_CA', 'SCHEMA_REGISTRY_CA']);
      // what the base sets, and what the ConfigMap's comments offer an overlay (`# SCHEMA_REGISTRY_CA: <path>`)
      const offered = [
        ...read(`${K8S}/configmap.yaml`).matchAll(/^\s*#\s*([A-Z][A-Z0-9_]*_CA): (\S+)$/gm),
      ].map((m) => ({ setting: m[1], path: m[2] }));
      expect(offered.map((o) => o.setting).sort()).to.deep.equal(['CONNECT_CA', 'SCHEMA_REGISTRY_CA']);
      for (const d of deployments) {
        const name = d.metadata.name as string;
        const env = literalEnv(d);
        expect(env.KAFKA_SSL_CA, `${name}: KAFKA_SSL_CA`).to.be.a('string');
        const set = CA_SETTINGS()
          .filter((k) => env[k])
          .map((k) => ({ setting: k, path: env[k] }));
        for (const { setting, path } of [...set, ...offered]) {
          const file = mountedSecretFile(d, path);
          expect(file, `${name}: ${setting}=${path} is not a mounted Secret file`).to.not.equal(undefined);
          if (!set.some((s) => s.setting === setting)) {
            // offered only: the base must start without that Secret
            expect(file?.volume.secret.optional, `${name}: ${setting}'s Secret optional`).to.equal(true);
          }
        }
        // the REST CAs' Secret is the one the example tells operators to create
        const rest = mountedSecretFile(d, offered[0].path);
        expect(read(`${K8S}/secret.example.yaml`)).to.contain(
          `create secret generic ${rest?.volume.secret.secretName as string} --from-file=${rest?.key as string}=`,
        );
      }
    });

    it('binds the ops HTTP server on the pod address if the config spec can choose the address', () => {
      // The server binds 127.0.0.1 by default (HTTP_HOST): the ConfigMap must set the pod address, or the kubelet's
      // probes cannot reach it.
      expect(SPEC_KEYS.has('HTTP_HOST')).to.equal(true);
      expect(cmData.HTTP_HOST).to.equal('0.0.0.0');
    });

    it('sizes every role against the 250 MiB per-process goal (issue 17) with a hard memory limit', () => {
      for (const d of deployments) {
        const r = container(d).resources;
        expect(r.requests.memory, d.metadata.name).to.equal('256Mi');
        expect(r.limits.memory, d.metadata.name).to.match(/^\d+Mi$/);
        const heap = /--max-old-space-size=(\d+)/.exec(
          (container(d).env as { name: string; value?: string }[]).find((e) => e.name === 'NODE_OPTIONS')
            ?.value ?? '',
        );
        expect(Number(heap?.[1]), 'V8 heap below the limit').to.be.below(parseInt(r.limits.memory, 10));
      }
    });

    it("every role runs with the image's V8 flags, the ones the benchmarks measure (Dockerfile ENV NODE_OPTIONS)", () => {
      const image = /^ENV NODE_OPTIONS="([^"]*)"$/m.exec(read('Dockerfile'))?.[1];
      expect(image, 'Dockerfile ENV NODE_OPTIONS').to.match(/--max-old-space-size=\d+/);
      expect(image).to.equal(imageNodeOptions());
      for (const d of deployments)
        expect(
          (container(d).env as { name: string; value?: string }[]).find((e) => e.name === 'NODE_OPTIONS')
            ?.value,
          d.metadata.name,
        ).to.equal(image);
    });
  });

  describe('Strimzi', () => {
    it("every Strimzi resource is of Strimzi's v1 API, with the fields v1 requires and the ACLs its schema accepts", () => {
      // Strimzi 0.52 / 1.0 and later (the releases that run Kafka 4.3) serve kafka.strimzi.io/v1 only, and v1 has
      // no defaults for Connect's group and internal topics (its `config` keys for them are ignored)
      const strimziDocs = readdirSync(join(ROOT, 'deploy/strimzi'))
        .filter((f) => f.endsWith('.yaml'))
        .flatMap((f) => parseAllDocuments(read(`deploy/strimzi/${f}`)).map((d) => d.toJS() as Doc))
        .filter((d) => d && String(d.apiVersion).startsWith('kafka.strimzi.io/'));
      expect(strimziDocs.map((d) => d.kind)).to.include.members([
        'KafkaConnect',
        'KafkaConnector',
        'KafkaTopic',
        'KafkaUser',
      ]);
      for (const d of strimziDocs) {
        expect(d.apiVersion, `${d.kind} ${d.metadata.name}`).to.equal(STRIMZI_API_VERSION);
        expect(d.spec, `${d.kind} ${d.metadata.name}: spec is required in v1`).to.be.an('object');
      }
      expect(STRIMZI_API_VERSION).to.equal('kafka.strimzi.io/v1');
      expect(kafkaConnect.spec.replicas).to.be.a('number');
      expect(kafkaConnect.spec.groupId).to.equal(CONNECT_GROUP);
      expect(CONNECT_STORAGE_TOPICS.map((k) => kafkaConnect.spec[k])).to.deep.equal([
        CONNECT_TOPICS.config,
        CONNECT_TOPICS.offset,
        CONNECT_TOPICS.status,
      ]);
      const cfg = kafkaConnect.spec.config as Record<string, unknown>;
      for (const k of ['group.id', 'config.storage.topic', 'offset.storage.topic', 'status.storage.topic'])
        expect(cfg, `${k}: a v1 field, ignored in config`).to.not.have.property(k);
      // KafkaUser v1 schema: `operations` (the singular `operation` is gone), these enums
      const OPERATIONS = [
        'Read',
        'Write',
        'Create',
        'Delete',
        'Alter',
        'Describe',
        'ClusterAction',
        'AlterConfigs',
        'DescribeConfigs',
        'IdempotentWrite',
        'All',
      ];
      for (const u of kafkaUsers) {
        if (!u.spec.authorization) continue;
        expect(u.spec.authorization.type).to.equal('simple');
        for (const a of u.spec.authorization.acls as Doc[]) {
          expect(a, u.metadata.name).to.not.have.property('operation');
          expect(['topic', 'group', 'cluster', 'transactionalId'], u.metadata.name).to.include(
            a.resource.type,
          );
          if (a.resource.patternType !== undefined)
            expect(['literal', 'prefix'], u.metadata.name).to.include(a.resource.patternType);
          expect(a.operations, u.metadata.name).to.be.an('array').with.length.greaterThan(0);
          for (const op of a.operations as string[])
            expect(OPERATIONS, `${u.metadata.name}: ${op}`).to.include(op);
        }
      }
      expect(connector.spec.state).to.equal('running');
      expect(connector.spec).to.not.have.property('pause');
    });

    it('the generated files are what scripts/gen-strimzi makes of the code today', () => {
      for (const [path, text] of Object.entries(generatedFiles()))
        expect(read(path), `${path}: run scripts/gen-strimzi`).to.equal(text);
    });

    it('KafkaConnector config = connectors/odoo-billing.json with ${env:X} → ${secrets:<ns>/<secret>:X}', () => {
      expect(connector.metadata.name).to.equal('odoo-billing');
      expect(connector.metadata.labels['strimzi.io/cluster']).to.equal(kafkaConnect.metadata.name);
      expect(connector.spec.class).to.equal(connectorJson['connector.class']);
      expect(connector.spec.tasksMax).to.equal(Number(connectorJson['tasks.max']));
      const { 'connector.class': _c, 'tasks.max': _t, ...rest } = connectorJson;
      void _c;
      void _t;
      const config = connector.spec.config as Record<string, string>;
      expect(Object.keys(config).sort()).to.deep.equal(Object.keys(rest).sort());
      const secretNames = new Set<string>();
      const envNames = new Set<string>();
      for (const [key, value] of Object.entries(rest)) {
        if (key === 'topic.creation.default.replication.factor') {
          // the local stack has one broker; the cluster's topics have 3 replicas
          expect(config[key]).to.equal('3');
          continue;
        }
        const expected = value.replace(/\$\{env:([A-Za-z0-9_]+)\}/g, (_, name: string) => {
          envNames.add(name);
          return `\${secrets:${kafkaConnect.metadata.namespace}/<secret>:${name}}`;
        });
        const actual = config[key].replace(
          /\$\{secrets:([^/]+)\/([^:]+):/g,
          (_, ns: string, secret: string) => {
            secretNames.add(secret);
            return `\${secrets:${ns}/<secret>:`;
          },
        );
        expect(actual, key).to.equal(expected);
      }
      expect(envNames.size).to.be.greaterThan(0);
      expect(secretNames.size).to.equal(1);
      const [secretName] = [...secretNames];
      // the worker resolves ${secrets:…} and may read exactly that Secret, whose example has exactly those keys
      const cfg = kafkaConnect.spec.config as Record<string, string>;
      expect(cfg['config.providers'].split(',')).to.include('secrets');
      expect(cfg['config.providers.secrets.class']).to.equal(
        'io.strimzi.kafka.KubernetesSecretConfigProvider',
      );
      const [role] = ofKind('deploy/strimzi/kafka-connect.yaml', 'Role');
      expect(role.rules).to.deep.equal([
        { apiGroups: [''], resources: ['secrets'], resourceNames: [secretName], verbs: ['get'] },
      ]);
      const [binding] = ofKind('deploy/strimzi/kafka-connect.yaml', 'RoleBinding');
      expect(binding.subjects[0].name).to.equal(`${kafkaConnect.metadata.name}-connect`);
      const example = parse(read('deploy/strimzi/debezium-db-secret.example.yaml')) as Doc;
      expect(example.metadata.name).to.equal(secretName);
      expect(Object.keys(example.stringData as object).sort()).to.deep.equal([...envNames].sort());
    });

    it('the pipeline reaches the Connect REST API and the Kafka bootstrap of these resources', () => {
      const ns = kafkaConnect.metadata.namespace as string;
      const connectUrl = new URL(clusterConfig.connectUrl);
      expect(connectUrl.hostname).to.equal(`${kafkaConnect.metadata.name}-connect-api.${ns}.svc`);
      const [policy] = ofKind('deploy/strimzi/kafka-connect.yaml', 'NetworkPolicy');
      expect(policy.spec.podSelector.matchLabels['strimzi.io/cluster']).to.equal(kafkaConnect.metadata.name);
      const from = policy.spec.ingress[0].from[0];
      expect(from.namespaceSelector.matchLabels['kubernetes.io/metadata.name']).to.equal(
        kustomization.namespace,
      );
      for (const d of deployments)
        expect(d.spec.template.metadata.labels, d.metadata.name).to.deep.include(
          from.podSelector.matchLabels,
        );
      expect(policy.spec.ingress[0].ports[0].port).to.equal(Number(connectUrl.port));
      const cluster = kafkaTopics[0].metadata.labels['strimzi.io/cluster'] as string;
      for (const broker of clusterConfig.kafka.brokers)
        expect(broker).to.match(new RegExp(`^${cluster}-kafka-bootstrap\\.${ns}\\.svc:\\d+$`));
      expect(kafkaConnect.spec.bootstrapServers).to.match(new RegExp(`^${cluster}-kafka-bootstrap:`));
    });

    it('KafkaConnect builds the Debezium plugin and runs the Kafka version of infra/stack/pom.xml', () => {
      expect(kafkaConnect.metadata.annotations['strimzi.io/use-connector-resources']).to.equal('true');
      expect(String(kafkaConnect.spec.version)).to.equal(pomProp('kafka.version'));
      const v = pomProp('debezium.version') as string;
      const artifacts = (kafkaConnect.spec.build.plugins as Doc[]).flatMap((p) => p.artifacts as Doc[]);
      expect(artifacts.map((a) => a.url)).to.deep.equal([
        `https://repo1.maven.org/maven2/io/debezium/debezium-connector-postgres/${v}/debezium-connector-postgres-${v}-plugin.tar.gz`,
      ]);
      expect(kafkaConnect.spec.build.output.image).to.include(v);
      expect(kafkaConnect.spec.authentication.type).to.equal('scram-sha-512');
      expect(kafkaUsers.map((u) => u.metadata.name)).to.include(kafkaConnect.spec.authentication.username);
    });

    it('every topic the code uses or creates has a KafkaTopic, with the partitions the code creates it with', async () => {
      const prefix = connectorJson['topic.prefix'];
      expect(clusterConfig.topics.prefix).to.equal(prefix);
      const used = [
        ...TABLE_NAMES.map((t) => topicFor(t, prefix)),
        ...routerTopics(clusterConfig.topics.prefix),
        clusterConfig.topics.intents,
        clusterConfig.topics.dlq,
        clusterConfig.topics.syncEvents,
        clusterConfig.topics.invoiceEvents,
        connectorJson['notification.sink.topic.name'],
        `__debezium-heartbeat.${prefix}`,
        ...CONNECT_STORAGE_TOPICS.map((k) => kafkaConnect.spec[k] as string),
      ];
      for (const t of used) expect(topicByName.has(t), `KafkaTopic for ${t}`).to.equal(true);
      expect(topicByName.get(clusterConfig.topics.intents)?.spec.partitions).to.equal(
        clusterConfig.topics.intentsPartitions,
      );
      for (const created of await topicsTheCodeCreates(clusterConfig)) {
        const kt = topicByName.get(created.topic);
        expect(kt, `KafkaTopic for ${created.topic} (created by the code when missing)`).to.not.equal(
          undefined,
        );
        expect(kt?.spec.partitions, created.topic).to.equal(created.numPartitions);
        // the code, left to its defaults (auto) on a 3-broker cluster, creates what the KafkaTopic declares
        expect(created.replicationFactor, created.topic).to.equal(kt?.spec.replicas);
        expect(
          Number(created.configEntries?.find((e) => e.name === 'min.insync.replicas')?.value),
          created.topic,
        ).to.equal(kt?.spec.config['min.insync.replicas']);
      }
      for (const kt of kafkaTopics) {
        expect(kt.spec.replicas, kt.spec.topicName).to.equal(3);
        expect(kt.spec.config['min.insync.replicas'], kt.spec.topicName).to.equal(2);
        expect(kt.metadata.name).to.match(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
      }
      expect(new Set(kafkaTopics.map((t) => t.metadata.name)).size).to.equal(kafkaTopics.length);
      expect(
        CONNECT_STORAGE_TOPICS.map(
          (k) => topicByName.get(kafkaConnect.spec[k] as string)?.spec.config['cleanup.policy'],
        ),
      ).to.deep.equal(['compact', 'compact', 'compact']);
    });

    it('KafkaUsers: SCRAM-SHA-512, each role may read its input and group and write its outputs, nothing unmanaged', () => {
      // the KafkaUser each role's Deployment authenticates as (KAFKA_SASL_USERNAME): its ACLs must cover the role
      const user = (n: string) =>
        kafkaUsers.find(
          (u) => u.metadata.name === saslUserOf(deployments.find((d) => roleOf(d) === n) as Doc),
        ) as Doc;
      const can = (n: string, type: string, name: string | undefined, op: string) =>
        ((user(n)?.spec.authorization?.acls ?? []) as Doc[]).some(
          (a) =>
            a.resource.type === type &&
            (name === undefined || a.resource.name === name) &&
            a.operations.includes(op),
        );
      for (const role of ALL_ROLES) expect(user(role), `KafkaUser for ${role}`).to.not.equal(undefined);
      for (const u of kafkaUsers)
        expect(u.spec.authentication.type, u.metadata.name).to.equal('scram-sha-512');
      const t = clusterConfig.topics;
      for (const topic of routerTopics(t.prefix))
        expect(can('router', 'topic', topic, 'Read'), topic).to.equal(true);
      expect(can('router', 'group', ROUTER_GROUP, 'Read')).to.equal(true);
      expect(can('router', 'topic', t.intents, 'Write')).to.equal(true);
      expect(can('projector', 'topic', t.intents, 'Read')).to.equal(true);
      expect(can('projector', 'group', PROJECTOR_GROUP, 'Read')).to.equal(true);
      expect(can('relay', 'topic', t.syncEvents, 'Write')).to.equal(true);
      expect(can('relay', 'topic', t.invoiceEvents, 'Write')).to.equal(true);
      expect(
        can('relay', 'cluster', undefined, 'IdempotentWrite'),
        'the relay producer is idempotent',
      ).to.equal(true);
      expect(can('loader', 'topic', t.invoiceEvents, 'Read')).to.equal(true);
      expect(can('loader', 'group', INVOICE_LOADER_GROUP, 'Read')).to.equal(true);
      expect(can('loader', 'cluster', undefined, 'IdempotentWrite')).to.equal(true);
      for (const role of ['router', 'projector', 'loader'])
        expect(can(role, 'topic', t.dlq, 'Write'), role).to.equal(true);
      // router and projector start with ensurePipelineTopics: they must see every topic it checks
      for (const topic of [t.intents, t.dlq, t.syncEvents, t.invoiceEvents, ...routerTopics(t.prefix)])
        for (const role of ['router', 'projector'])
          expect(can(role, 'topic', topic, 'Describe'), `${role} ${topic}`).to.equal(true);
      expect(user('poller').spec.authorization, 'the poller needs no ACL').to.equal(undefined);
      // no role may create topics: they are KafkaTopics; every literal topic ACL names one
      for (const u of kafkaUsers)
        for (const a of (u.spec.authorization?.acls ?? []) as Doc[]) {
          if (a.resource.type !== 'topic') continue;
          expect(topicByName.has(a.resource.name), `${u.metadata.name}: ${a.resource.name}`).to.equal(true);
          if (u.metadata.name.startsWith('odoo-opencell-sync-'))
            expect(a.operations).to.not.include('Create');
        }
      // Connect: its group and internal topics, and the topics Debezium writes
      const connectUser = kafkaConnect.spec.authentication.username as string;
      const connectCan = (type: string, name: string, op: string) =>
        (
          (kafkaUsers.find((u) => u.metadata.name === connectUser)?.spec.authorization.acls ?? []) as Doc[]
        ).some((a) => a.resource.type === type && a.resource.name === name && a.operations.includes(op));
      expect(connectCan('group', kafkaConnect.spec.groupId as string, 'Read')).to.equal(true);
      for (const k of CONNECT_STORAGE_TOPICS) {
        const topic = kafkaConnect.spec[k] as string;
        for (const op of ['Read', 'Write', 'Describe'])
          expect(connectCan('topic', topic, op), `${topic} ${op}`).to.equal(true);
      }
      for (const table of TABLE_NAMES)
        expect(connectCan('topic', topicFor(table, connectorJson['topic.prefix']), 'Write'), table).to.equal(
          true,
        );
      expect(connectCan('topic', connectorJson['notification.sink.topic.name'], 'Write')).to.equal(true);
    });
  });
});
