/**
 * Regression (bench/three-brokers.md, a line end lost under broker kills): kafkajs 2.2.4 retries a send inside one
 * call that remembers which brokers already answered. A broker that fails after another answered, whose partition
 * then moves to the broker that answered, gets nothing on the retry and the send resolves: its messages were never
 * written. Driven here through kafkajs's own send path (sendMessages and its retrier) over a fake two-broker
 * cluster, with the producer the stages use (createProducer).
 */
import { expect } from 'chai';
import type { Kafka, ProducerConfig } from 'kafkajs';
import { createProducer } from '../../src/flows/projection/stages';

/* eslint-disable @typescript-eslint/no-require-imports */
const createSendMessages = require('kafkajs/src/producer/sendMessages') as (
  o: unknown,
) => (b: unknown) => Promise<unknown>;
const createRetry = require('kafkajs/src/retry') as (
  o: unknown,
) => <T>(fn: (bail: unknown, n: number, t: number) => Promise<T>) => Promise<T>;
/* eslint-enable @typescript-eslint/no-require-imports */

type TopicData = { topic: string; partitions: { partition: number; messages: { key: string }[] }[] }[];

/** Topic `t` with partition 0 led by broker 1 and partition 1 by broker 2; broker 2 dies on its first request. */
function twoBrokerKafka() {
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  const written: { broker: number; partition: number; key: string }[] = [];
  let broker2Failed = false;
  const broker = (nodeId: number) => ({
    nodeId,
    async produce({ topicData }: { topicData: TopicData }) {
      if (nodeId === 2 && !broker2Failed) {
        broker2Failed = true;
        // it fails after broker 1 answered (a killed broker's connection closes late)
        await new Promise((r) => setTimeout(r, 20));
        throw Object.assign(new Error('Connection closed'), {
          name: 'KafkaJSConnectionError',
          retriable: true,
        });
      }
      for (const t of topicData)
        for (const p of t.partitions)
          for (const m of p.messages) written.push({ broker: nodeId, partition: p.partition, key: m.key });
      return {
        topics: topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
        })),
      };
    },
  });
  const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
  const cluster = {
    isConnected: () => true,
    refreshMetadataIfNecessary: async () => undefined,
    // the metadata after the failure: broker 2's partition is led by broker 1
    refreshMetadata: async () => {
      leaders[1] = 1;
    },
    addMultipleTargetTopics: async () => undefined,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () =>
      [0, 1].map((partitionId) => ({ partitionId, leader: leaders[partitionId] })),
    findLeaderForPartitions: (_topic: string, partitions: string[]) =>
      partitions.reduce<Record<number, number[]>>((acc, id) => {
        const leader = leaders[Number(id)];
        (acc[leader] ??= []).push(Number(id));
        return acc;
      }, {}),
    findBroker: async ({ nodeId }: { nodeId: number | string }) => brokers.get(Number(nodeId)),
  };
  const eosManager = {
    isTransactional: () => false,
    acquireBrokerLock: async () => undefined,
    releaseBrokerLock: async () => undefined,
    getSequence: () => 0,
    updateSequence: () => undefined,
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
  };
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const kafka = {
    producer(config: ProducerConfig = {}) {
      // the client's retry (createKafka) unless the producer names its own
      const retrier = createRetry({
        factor: 0,
        multiplier: 1,
        maxRetryTime: 50,
        initialRetryTime: 5,
        retries: 8,
        ...config.retry,
      });
      const sendMessages = createSendMessages({
        logger,
        cluster,
        eosManager,
        retrier,
        partitioner: ({ message }: { message: { partition: number } }) => message.partition,
      });
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        sendBatch: ({ topicMessages, acks }: { topicMessages: unknown; acks: number }) =>
          sendMessages({ topicMessages, acks }),
        send: ({ topic, messages, acks }: { topic: string; messages: unknown; acks: number }) =>
          sendMessages({ topicMessages: [{ topic, messages }], acks }),
      };
    },
  };
  return { kafka: kafka as unknown as Kafka, written };
}

describe('producer: a partition whose leader moved to a broker that had answered', () => {
  it('is sent again on the retry: a send that resolves wrote every message (kafkajs kept the answered broker)', async () => {
    const { kafka, written } = twoBrokerKafka();
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
    expect(written.filter((w) => w.key === 'b')).to.deep.equal([{ broker: 1, partition: 1, key: 'b' }]);
  });
});
