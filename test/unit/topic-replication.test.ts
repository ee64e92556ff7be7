import { expect } from 'chai';
import type { Admin, ITopicConfig } from 'kafkajs';
import { loadConfig } from '../../src/core/config';
import { ConfigError } from '../../src/domain/errors';
import { ensureTopics, replicationFor } from '../../src/adapters/kafka/kafka';
import {
  loadConnectorTemplate,
  renderConnectorConfig,
} from '../../src/adapters/kafka-connect/connector-config';

/** An admin client of a cluster of `brokers` brokers that records the topics it is asked to create. */
function recordingAdmin(brokers: number, existing: Record<string, number> = {}) {
  const created: ITopicConfig[] = [];
  const admin = {
    describeCluster: async () => ({
      brokers: Array.from({ length: brokers }, (_, i) => ({
        nodeId: i + 1,
        host: '127.0.0.1',
        port: 9092 + i,
      })),
      controller: 1,
      clusterId: 'test',
    }),
    listTopics: async () => Object.keys(existing),
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
      topics: topics.map((name) => ({
        name,
        partitions: [
          { partitionId: 0, leader: 1, replicas: Array.from({ length: existing[name] }, (_, i) => i) },
        ],
      })),
    }),
    createTopics: async ({ topics }: { topics: ITopicConfig[] }) => {
      created.push(...topics);
      return true;
    },
  } as unknown as Admin;
  return { admin, created };
}

const minInsync = (t: ITopicConfig) => t.configEntries?.find((e) => e.name === 'min.insync.replicas')?.value;

/** Defect 9 of issue 15: replication factor 1 was hard-coded in the topics the pipeline and the connector create. */
describe('defect 9: topic replication follows the cluster and the settings, not a hard-coded 1', () => {
  const env = { OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y' };

  it('auto: replicas = the cluster size up to 3; min.insync.replicas 2 once there are 2 replicas, else 1', () => {
    const auto = { factor: 'auto', minInsync: 'auto' } as const;
    expect(replicationFor(1, auto)).to.deep.equal({ factor: 1, minInsync: 1 });
    expect(replicationFor(2, auto)).to.deep.equal({ factor: 2, minInsync: 2 });
    expect(replicationFor(3, auto)).to.deep.equal({ factor: 3, minInsync: 2 });
    expect(replicationFor(6, auto)).to.deep.equal({ factor: 3, minInsync: 2 });
    expect(replicationFor(5, { factor: 5, minInsync: 'auto' })).to.deep.equal({ factor: 5, minInsync: 2 });
    expect(replicationFor(5, { factor: 'auto', minInsync: 3 })).to.deep.equal({ factor: 3, minInsync: 3 });
  });

  it('a replication the cluster cannot honour is a configuration error naming the setting', () => {
    expect(() => replicationFor(1, { factor: 3, minInsync: 'auto' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.matches(/KAFKA_REPLICATION_FACTOR=3: the Kafka cluster has 1 broker/);
    expect(() => replicationFor(3, { factor: 'auto', minInsync: 4 })).to.throw(/KAFKA_MIN_INSYNC_REPLICAS=4/);
  });

  it('settings: KAFKA_REPLICATION_FACTOR / KAFKA_MIN_INSYNC_REPLICAS are auto by default, integers otherwise, checked together', () => {
    expect(loadConfig(env).kafka.replication).to.deep.equal({ factor: 'auto', minInsync: 'auto' });
    expect(
      loadConfig({ ...env, KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2' }).kafka.replication,
    ).to.deep.equal({ factor: 3, minInsync: 2 });
    expect(() => loadConfig({ ...env, KAFKA_REPLICATION_FACTOR: 'three' })).to.throw(
      /KAFKA_REPLICATION_FACTOR="three": must be auto or an integer/,
    );
    expect(() =>
      loadConfig({ ...env, KAFKA_REPLICATION_FACTOR: '2', KAFKA_MIN_INSYNC_REPLICAS: '3' }),
    ).to.throw(/KAFKA_MIN_INSYNC_REPLICAS=3: must not exceed KAFKA_REPLICATION_FACTOR=2/);
  });

  it('on a 3-broker cluster the topics are created with 3 replicas and min.insync.replicas 2', async () => {
    const { admin, created } = recordingAdmin(3);
    await ensureTopics(admin, [
      { topic: 'a', numPartitions: 3 },
      { topic: 'b', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] },
    ]);
    expect(created.map((t) => [t.topic, t.replicationFactor, minInsync(t)])).to.deep.equal([
      ['a', 3, '2'],
      ['b', 3, '2'],
    ]);
    expect(created[1].configEntries).to.deep.include({ name: 'retention.ms', value: '-1' });
  });

  it('on one broker they get 1 replica; an explicit setting wins over auto; existing topics are not recreated', async () => {
    const one = recordingAdmin(1);
    await ensureTopics(one.admin, [{ topic: 'a', numPartitions: 3 }]);
    expect(one.created.map((t) => [t.replicationFactor, minInsync(t)])).to.deep.equal([[1, '1']]);
    const five = recordingAdmin(5, { old: 3 });
    await ensureTopics(
      five.admin,
      [
        { topic: 'old', numPartitions: 3 },
        { topic: 'new', numPartitions: 3 },
      ],
      { factor: 5, minInsync: 3 },
    );
    expect(five.created.map((t) => [t.topic, t.replicationFactor, minInsync(t)])).to.deep.equal([
      ['new', 5, '3'],
    ]);
  });

  it('the connector config applied carries the resolved replication and the deployment slot, the file is not changed', () => {
    const template = loadConnectorTemplate();
    const applied = renderConnectorConfig(template, {
      replication: { factor: 3, minInsync: 2 },
      slotName: 'odoo_billing_b',
    });
    expect(applied['topic.creation.default.replication.factor']).to.equal('3');
    expect(applied['topic.creation.default.min.insync.replicas']).to.equal('2');
    expect(applied['slot.name']).to.equal('odoo_billing_b');
    expect(applied['topic.creation.default.partitions']).to.equal(
      template['topic.creation.default.partitions'],
    );
    const unchanged = renderConnectorConfig(template, { replication: { factor: 1, minInsync: 1 } });
    expect(unchanged['slot.name']).to.equal(template['slot.name']);
    expect(unchanged['topic.creation.default.replication.factor']).to.equal('1');
  });
});
