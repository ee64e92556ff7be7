import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  assertIncludeListsInSync,
  connectorConfig,
  loadConnectorTemplate,
  renderConnectorConfig,
} from '../../src/capture/connector';
import { ConfigError } from '../../src/errors';
import {
  captureTopics,
  generateIncludeLists,
  publicationTables,
  TABLE_NAMES,
  topicFor,
} from '../../src/capture/tables';

const FILE = path.resolve(__dirname, '..', '..', 'connectors', 'odoo-billing.json');

describe('connector: connectors/odoo-billing.json', () => {
  const template = loadConnectorTemplate(FILE);

  it('carries exactly the include lists generated from src/capture/tables.ts', () => {
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
      'provide.transaction.metadata': 'true',
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

  it('holds its hosts and credentials only as placeholders', () => {
    expect(template['database.hostname']).to.equal('${env:ODOO_DB_HOST}');
    expect(template['database.password']).to.equal('${env:DEBEZIUM_DB_PASSWORD}');
  });

  it('renders placeholders from the environment, with defaults', () => {
    const d = renderConnectorConfig(template, {});
    expect(d).to.include({
      'database.hostname': '127.0.0.1',
      'database.port': '5432',
      'database.dbname': 'odoo',
      'database.user': 'debezium',
      'database.password': 'debezium',
    });
    const e = connectorConfig({
      ODOO_DB_HOST: 'db.internal',
      ODOO_DB_PORT: '6543',
      ODOO_DB_NAME: 'odoo_test',
      DEBEZIUM_DB_USER: 'cdc',
      DEBEZIUM_DB_PASSWORD: 'pw-1',
    });
    expect(e).to.include({
      'database.hostname': 'db.internal',
      'database.port': '6543',
      'database.dbname': 'odoo_test',
      'database.user': 'cdc',
      'database.password': 'pw-1',
    });
    expect(JSON.stringify(e)).to.not.match(/\$\{env:|\{\{/);
  });

  it('supports {{VAR}} and throws, naming every missing variable', () => {
    expect(renderConnectorConfig({ a: 'x-{{ FOO }}-${env:BAR}' }, { FOO: '1', BAR: '2' })).to.deep.equal({
      a: 'x-1-2',
    });
    try {
      renderConnectorConfig({ a: '${env:NOPE_ONE}', b: '{{NOPE_TWO}}' }, {});
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      expect((e as ConfigError).problems.join(' '))
        .to.contain('NOPE_ONE')
        .and.to.contain('NOPE_TWO');
    }
  });

  it('names topics <prefix>.public.<table>', () => {
    expect(topicFor('res_partner')).to.equal('odoo.public.res_partner');
    expect(captureTopics()).to.not.include('odoo.public.debezium_signal');
    expect(captureTopics()).to.have.length(TABLE_NAMES.length - 1);
  });
});
