import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * docker-compose.yml cannot run here (no Docker engine); this keeps it in agreement with the local stack that the
 * tests do run: same versions as infra/stack/pom.xml, same ports, same Kafka/Connect/registry settings.
 */
const ROOT = join(__dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

interface Service {
  image?: string;
  ports?: string[];
  environment?: Record<string, string>;
  command?: string[] | string;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const pkg = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  engines: { node: string };
};
const pom = read('infra/stack/pom.xml');
const prop = (name: string) => {
  const m = new RegExp(`<${name}>([^<]+)</${name}>`).exec(pom);
  if (!m) throw new Error(`pom has no <${name}>`);
  return m[1];
};
/** A template of infra/stack as scripts/stack renders it for one node (compose runs one broker). */
const properties = (tmpl: string): Record<string, string> =>
  Object.fromEntries(
    read(tmpl)
      .replace(/@RF@|@MIN_ISR@/g, '1')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]),
  );
const stackScript = read('scripts/stack');
const stackPort = (v: string) => {
  // `V=${V:-9092}`, or `V=${V:-$((9092 + OFFSET))}` for the ports a second stack moves (STACK_PORT_OFFSET)
  const m = new RegExp(`${v}=\\$\\{${v}:-(?:\\$\\(\\()?(\\d+)`).exec(stackScript);
  if (!m) throw new Error(`scripts/stack has no default for ${v}`);
  return m[1];
};
const hostPort = (svc: Service) => (svc.ports ?? []).map((p) => p.split(':').slice(-2)[0]);

describe('docker-compose.yml agrees with the local stack', () => {
  const s = compose.services;

  it('has the same parts: postgres, kafka, connect, registry, setup and the pipeline', () => {
    expect(s).to.include.keys('postgres', 'kafka', 'connect', 'registry', 'setup', 'pipeline');
  });

  it('uses the versions that infra/stack/pom.xml downloads', () => {
    expect(s.kafka.image).to.equal(`apache/kafka:${prop('kafka.version')}`);
    expect(s.connect.image).to.equal(`quay.io/debezium/connect:${prop('debezium.version')}`);
    expect(s.registry.image).to.equal(`apicurio/apicurio-registry:${prop('apicurio.version')}`);
  });

  it('publishes the ports the local stack listens on, on loopback only', () => {
    expect(hostPort(s.kafka)).to.deep.equal([stackPort('KAFKA_PORT')]);
    expect(hostPort(s.connect)).to.deep.equal([stackPort('CONNECT_PORT')]);
    expect(hostPort(s.registry)).to.deep.equal([stackPort('REGISTRY_PORT')]);
    expect(hostPort(s.postgres)).to.deep.equal([stackPort('PGPORT')]);
    for (const svc of Object.values(s)) for (const p of svc.ports ?? []) expect(p).to.match(/^127\.0\.0\.1:/);
  });

  it('runs PostgreSQL with logical decoding', () => {
    expect(s.postgres.command).to.include('wal_level=logical');
  });

  it('configures the Kafka broker like infra/stack/server.properties.tmpl', () => {
    const local = properties('infra/stack/server.properties.tmpl');
    const env = s.kafka.environment ?? {};
    for (const key of [
      'process.roles',
      'num.partitions',
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
      'group.initial.rebalance.delay.ms',
      'auto.create.topics.enable',
    ]) {
      const envKey = `KAFKA_${key.toUpperCase().replace(/\./g, '_')}`;
      expect(env[envKey], envKey).to.equal(local[key]);
    }
  });

  it('configures Kafka Connect like infra/stack/connect-distributed.properties.tmpl', () => {
    const local = properties('infra/stack/connect-distributed.properties.tmpl');
    const env = s.connect.environment ?? {};
    expect(env.GROUP_ID).to.equal(local['group.id']);
    expect(env.CONFIG_STORAGE_TOPIC).to.equal(local['config.storage.topic']);
    expect(env.OFFSET_STORAGE_TOPIC).to.equal(local['offset.storage.topic']);
    expect(env.STATUS_STORAGE_TOPIC).to.equal(local['status.storage.topic']);
    expect(env.KEY_CONVERTER).to.equal(local['key.converter']);
    expect(env.VALUE_CONVERTER).to.equal(local['value.converter']);
    expect(env.CONNECT_VALUE_CONVERTER_SCHEMAS_ENABLE).to.equal(local['value.converter.schemas.enable']);
    expect(env.CONNECT_CONFIG_PROVIDERS_ENV_CLASS).to.equal(local['config.providers.env.class']);
  });

  it('sets the registry-wide BACKWARD rule that scripts/stack sets', () => {
    expect(stackScript).to.include('-Dapicurio.rules.global.compatibility=BACKWARD');
    expect(s.registry.environment?.APICURIO_RULES_GLOBAL_COMPATIBILITY).to.equal('BACKWARD');
  });

  it('sets up PostgreSQL and the connectors with the same code as the local stack', () => {
    const cmd = String(s.setup.command);
    expect(cmd).to.include('npm run setup:db');
    expect(cmd).to.include('npm run setup:connectors');
    const script = (name: string) => {
      const m = /^tsx (\S+\.ts)$/.exec(pkg.scripts[name] ?? '');
      if (!m) throw new Error(`package.json script ${name} is not "tsx <file>.ts"`);
      return m[1];
    };
    expect(stackScript).to.include(script('setup:db'));
    expect(stackScript).to.include(script('setup:connectors'));
  });

  it("runs the Node services on the project's runtime (Node 24) and waits for the setup to finish", () => {
    const major = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(major).to.be.at.least(24);
    for (const name of ['setup', 'opencell-sandbox', 'pipeline']) {
      expect(s[name].image, name).to.equal(`node:${major}`);
    }
    for (const name of ['opencell-sandbox', 'pipeline', 'sync']) {
      expect(s[name].depends_on?.setup, name).to.deep.equal({ condition: 'service_completed_successfully' });
    }
  });
});

describe('Dockerfile (the production image)', () => {
  const dockerfile = read('Dockerfile');
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);

  it('builds on the Node major that package.json requires, slim, in two stages', () => {
    const major = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    expect(froms).to.have.length(2);
    for (const f of froms) expect(f).to.equal(`node:${major}-slim`);
  });

  it('ships production dependencies and the compiled CLI only, as a non-root user, with a health check', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).to.match(/npm ci --omit=dev/);
    expect(runtime).to.match(/COPY --from=build \/app\/dist/);
    expect(runtime).not.to.match(/COPY (src|test|testkit)\b/);
    expect(runtime).to.match(/^USER 1000:1000$/m); // the node image's user "node", by number (runAsNonRoot)
    expect(runtime).to.match(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(runtime).to.match(/ENTRYPOINT \["node", "bin\/odoo-opencell-sync"\]/);
  });
});
