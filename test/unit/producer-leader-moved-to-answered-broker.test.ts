/**
 * Regression (bench/three-brokers.md, a line end lost under broker kills): kafkajs 2.2.4 retries a send inside one
 * call that remembers which brokers already answered. A broker that fails after another answered, whose partition
 * then moves to the broker that answered, gets nothing on the retry and the send resolves: its messages were never
 * written. Driven here through kafkajs's own send path (sendMessages and its retrier) over a fake two-broker
 * cluster, with the producer the stages use (createProducer).
 */
import { expect } from 'chai';
import { createProducer } from '../../src/flows/projection/stages';
import { twoBrokerKafka } from '../support/two-broker-kafka';

describe('producer: a partition whose leader moved to a broker that had answered', () => {
  it('is sent again on the retry: a send that resolves wrote every message (kafkajs kept the answered broker)', async () => {
    const { kafka, written } = twoBrokerKafka({ partitionByMessage: true });
    const producer = createProducer(kafka);
    await producer.sendBatch({
      acks: -1,
      topicMessages: [
        {
          topic: 't',
          messages: [
            { key: 'a', value: 'a', partition: 0 },
            { key: 'b', value: 'b', partition: 1 },
          ],
        },
      ],
    });
    const keys = new Set(written.map((w) => w.key));
    expect(
      written.some((w) => w.broker === 2),
      'the fault landed: broker 2 wrote nothing',
    ).to.equal(false);
    expect([...keys].sort(), 'every message of the resolved send written').to.deep.equal(['a', 'b']);
    expect(
      written.filter((w) => w.key === 'b').map(({ broker, partition }) => ({ broker, partition })),
    ).to.deep.equal([{ broker: 1, partition: 1 }]);
  });
});
