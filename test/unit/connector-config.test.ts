import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  assertIncludeListsInSync,
  connectorEnvVariables,
  loadConnectorTemplate,
} from '../../src/adapters/kafka-connect/connector-config';
import { notificationTopicOf } from '../../src/adapters/kafka-connect/notifications';
import { SNAPSHOT_HEARTBEAT_FUNCTION } from '../../src/app/pg-setup';
import { ConfigError } from '../../src/domain/errors';
import {
  captureTopics,
  generateIncludeLists,
  publicationTables,
  TABLE_NAMES,
  topicFor,
} from '../../src/domain/capture/tables';

const FILE = path.resolve(__dirname, '..', '..', 'connectors', 'odoo-billing.json');

describe('connector: connectors/odoo-billing.json', () => {
  const template = loadConnectorTemplate(FILE);

  it('carries exactly the include lists generated from src/domain/capture/tables.ts', () => {
    const generated = generateIncludeLists();
    expect(template['table.include.list']).to.equal(generated['table.include.list']);
    expect(template['column.include.list']).to.equal(generated['column.include.list']);
    expect(() => assertIncludeListsInSync(template)).to.not.throw();
    expect(() =>
      assertIncludeListsInSync({ ...template, 'column.include.list': 'public.res_partner.id' }),
    ).to.throw(ConfigError);
  });

  it('is a bare config map of strings with the required Debezium settings', () => {
    const raw = JSON.parse(readFileSync(FILE, 'utf8')) as Record<string, unknown>;
    expect(raw).to.not.have.property('name');
    expect(raw).to.not.have.property('config');
    expect(template).to.include({
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'plugin.name': 'pgoutput',
      'topic.prefix': 'odoo',
      'slot.name': 'odoo_billing',
      'publication.name': 'odoo_billing_pub',
      'publication.autocreate.mode': 'disabled',
      'snapshot.mode': 'initial',
      'decimal.handling.mode': 'string',
      'time.precision.mode': 'adaptive',
      'tombstones.on.delete': 'false',
      'heartbeat.interval.ms': '10000',
      // nothing reads BEGIN / END markers; off, they cost no capture CPU (docs/decisions/0011-no-transaction-metadata.md)
      'provide.transaction.metadata': 'false',
      'skip.messages.without.change': 'true',
      'skipped.operations': 'none',
      'signal.data.collection': 'public.debezium_signal',
      'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'key.converter.schemas.enable': 'false',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter.schemas.enable': 'false',
      'topic.creation.default.replication.factor': '1',
      'topic.creation.default.partitions': '3',
    });
  });

  it('never includes write_date / write_uid / display_name, and includes the signal table with its columns', () => {
    const cols = template['column.include.list'].split(',');
    expect(cols.filter((c) => /\.(write_date|write_uid|display_name)$/.test(c))).to.deep.equal([]);
    expect(cols).to.include.members([
      'public.debezium_signal.id',
      'public.debezium_signal.type',
      'public.debezium_signal.data',
    ]);
    expect(cols).to.include('public.res_partner.block_contract_creation_in_OC');
    expect(template['table.include.list'].split(',')).to.deep.equal(publicationTables());
  });

  it('takes incremental snapshots read-only, signalled through the source table, and publishes notifications on Kafka', () => {
    // read.only: watermarks from pg_current_snapshot(), no writes to public.debezium_signal by the connector role
    // (docs/decisions/0002-snapshot-signals.md); the CLI inserts the signal row with its own role.
    expect(template['read.only']).to.equal('true');
    expect(template['signal.enabled.channels'].split(',')).to.deep.equal(['source']);
    expect(template['signal.data.collection']).to.equal('public.debezium_signal');
    expect(template['table.include.list'].split(',')).to.include('public.debezium_signal');
    // notifications: STARTED / IN_PROGRESS / TABLE_SCAN_COMPLETED / COMPLETED / ABORTED, read by `snapshot`
    expect(template['notification.enabled.channels'].split(',')).to.include('sink');
    expect(notificationTopicOf(template)).to.equal('odoo.debezium-notifications');
    expect(captureTopics()).to.not.include(notificationTopicOf(template));
    expect(notificationTopicOf({ ...template, 'notification.enabled.channels': 'log' })).to.equal(undefined);
    expect(notificationTopicOf({ ...template, 'notification.sink.topic.name': ' ' })).to.equal(undefined);
  });

  it('calls the heartbeat function pg-setup creates with every heartbeat, so a snapshot chunk is released on a quiet database', () => {
    // docs/decisions/0002-snapshot-signals.md, "Closing the chunk window on a quiet database"
    expect(Number(template['heartbeat.interval.ms'])).to.be.greaterThan(0);
    expect(template['heartbeat.action.query']).to.equal(`SELECT ${SNAPSHOT_HEARTBEAT_FUNCTION}()`);
  });

  it('holds its hosts and credentials only as placeholders', () => {
    expect(template['database.hostname']).to.equal('${env:ODOO_DB_HOST}');
    expect(template['database.password']).to.equal('${env:DEBEZIUM_DB_PASSWORD}');
  });

  it('expects only variables that the Connect workers of scripts/stack and docker-compose.yml are started with', () => {
    const vars = connectorEnvVariables(template);
    expect(vars).to.have.members([
      'DEBEZIUM_DB_PASSWORD',
      'DEBEZIUM_DB_USER',
      'ODOO_DB_HOST',
      'ODOO_DB_NAME',
      'ODOO_DB_PORT',
    ]);
    const root = path.join(__dirname, '..', '..');
    const stack = readFileSync(path.join(root, 'scripts', 'stack'), 'utf8');
    const connectLaunch = stack.slice(stack.indexOf('connect_up() {'), stack.indexOf('connect_ready() {'));
    const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
      services: { connect: { environment: Record<string, string> } };
    };
    for (const v of vars) {
      expect(connectLaunch, `scripts/stack starts Connect with ${v}`).to.match(new RegExp(`\\b${v}=`));
      expect(compose.services.connect.environment, `docker-compose connect has ${v}`).to.have.property(v);
    }
  });

  it('names topics <prefix>.public.<table>', () => {
    expect(topicFor('res_partner')).to.equal('odoo.public.res_partner');
    expect(captureTopics()).to.not.include('odoo.public.debezium_signal');
    expect(captureTopics()).to.have.length(TABLE_NAMES.length - 1);
  });
});
