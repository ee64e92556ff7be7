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
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const pom = read('infra/stack/pom.xml');
const prop = (name: string) => {
  const m = new RegExp(`<${name}>([^<]+)</${name}>`).exec(pom);
  if (!m) throw new Error(`pom has no <${name}>`);
  return m[1];
};
const properties = (tmpl: string): Record<string, string> =>
  Object.fromEntries(
    read(tmpl)
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]),
  );
const stackScript = read('scripts/stack');
const stackPort = (v: string) => {
  const m = new RegExp(`${v}=\\$\\{${v}:-(\\d+)\\}`).exec(stackScript);
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
    expect(cmd).to.include('src/ops/pg-setup.ts');
    expect(cmd).to.include('src/ops/connectors-apply.ts');
    expect(stackScript).to.include('src/ops/pg-setup.ts');
    expect(stackScript).to.include('src/ops/connectors-apply.ts');
  });
});
