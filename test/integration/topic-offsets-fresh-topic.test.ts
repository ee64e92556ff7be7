/**
 * `topicOffsets` (src/adapters/kafka/groups.ts) on the real broker. Regression (the demo on a fresh stack): a topic's
 * partitions answer NOT_LEADER_FOR_PARTITION for a moment after it is created, and kafkajs's
 * `admin.fetchTopicOffsets` gives up at once. Here each topic is created without waiting for its leaders, as Debezium
 * creates the router topics while the demo asks their end offsets.
 */
import { expect } from 'chai';
import type { Admin } from 'kafkajs';
import { topicOffsets } from '../../src/adapters/kafka/groups';
import { testKafka, uniqueSuffix } from './support/stack';

const TOPICS = 3;
const PARTITIONS = 6;

describe('end offsets of a topic created a moment ago (real broker)', function () {
  this.timeout(120_000);
  let creator: Admin;
  let reader: Admin;
  const created: string[] = [];

  before(async () => {
    creator = testKafka().admin();
    reader = testKafka().admin();
    await Promise.all([creator.connect(), reader.connect()]);
  });
  after(async () => {
    await creator?.deleteTopics({ topics: created }).catch(() => undefined);
    await Promise.all([creator?.disconnect(), reader?.disconnect()]);
  });

  const fresh = async (): Promise<string> => {
    const topic = `test.fresh-offsets-${uniqueSuffix()}`;
    created.push(topic);
    await creator.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: false });
    return topic;
  };

  it('kafkajs alone fails on it; topicOffsets asks again and reads every partition', async () => {
    // the fault: kafkajs's own call on a topic just created
    const raw = await reader.fetchTopicOffsets(await fresh()).then(
      () => 'answered',
      (e: unknown) => (e as { type?: string }).type ?? String(e),
    );
    expect(raw, 'kafkajs alone, right after the creation').to.equal('NOT_LEADER_FOR_PARTITION');

    let asked = 0;
    const counting = {
      fetchTopicOffsets: (t: string) => {
        asked++;
        return reader.fetchTopicOffsets(t);
      },
    } as unknown as Admin;
    for (let i = 0; i < TOPICS; i++) {
      const offsets = await topicOffsets(counting, await fresh());
      expect(
        offsets.map((o) => [o.partition, o.high]).sort((a, b) => Number(a[0]) - Number(b[0])),
      ).to.deep.equal(Array.from({ length: PARTITIONS }, (_, p) => [p, '0']));
    }
    // the fault landed on this path too: some requests were refused and asked again
    expect(asked, 'requests, including those asked again').to.be.greaterThan(TOPICS);
  });
});
