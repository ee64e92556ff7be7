/**
 * A fake two-broker Kafka driven through kafkajs 2.2.4's own send path (sendMessages and its retrier), for the
 * regression of bench/three-brokers.md's loss: kafkajs retries a send inside one call that remembers which brokers
 * already answered; a broker that fails after another answered, whose partitions then move to the broker that
 * answered, gets nothing on the retry and the send resolves — its messages were never written.
 *
 * Every topic has partitions 0 and 1, led by brokers 1 and 2. Broker 2 fails its first request (after 20 ms, once
 * broker 1 answered); the metadata refreshed after the failure names broker 1 the leader of both. `failFirst` makes
 * the first n requests (to any broker) fail with `failWith` before that.
 */
import type { Kafka, Message, ProducerConfig } from 'kafkajs';

/* eslint-disable @typescript-eslint/no-require-imports */
const createSendMessages = require('kafkajs/src/producer/sendMessages') as (
  o: unknown,
) => (b: unknown) => Promise<unknown>;
const createRetry = require('kafkajs/src/retry') as (
  o: unknown,
) => <T>(fn: (bail: unknown, n: number, t: number) => Promise<T>) => Promise<T>;
/* eslint-enable @typescript-eslint/no-require-imports */

type TopicData = {
  topic: string;
  partitions: { partition: number; messages: Message[] }[];
}[];

export interface Written {
  broker: number;
  topic: string;
  partition: number;
  key: string;
  headers: Message['headers'];
}

export interface TwoBrokerKafka {
  kafka: Kafka;
  written: Written[];
  /** produce requests that failed (the fault landed) */
  failures: { broker: number; error: string }[];
}

export function twoBrokerKafka(
  opts: { failFirst?: number; failWith?: () => Error; partitionByMessage?: boolean } = {},
): TwoBrokerKafka {
  const leaders: Record<number, number> = { 0: 1, 1: 2 };
  const written: Written[] = [];
  const failures: { broker: number; error: string }[] = [];
  let broker2Failed = false;
  let toFail = opts.failFirst ?? 0;
  const broker = (nodeId: number) => ({
    nodeId,
    async produce({ topicData }: { topicData: TopicData }) {
      if (toFail > 0) {
        toFail--;
        const e = opts.failWith?.() ?? new Error('Request timed out');
        failures.push({ broker: nodeId, error: e.message });
        throw e;
      }
      if (nodeId === 2 && !broker2Failed) {
        broker2Failed = true;
        // it fails after broker 1 answered (a killed broker's connection closes late)
        await new Promise((r) => setTimeout(r, 20));
        failures.push({ broker: 2, error: 'Connection closed' });
        throw Object.assign(new Error('Connection closed'), {
          name: 'KafkaJSConnectionError',
          retriable: true,
        });
      }
      for (const t of topicData)
        for (const p of t.partitions)
          for (const m of p.messages)
            written.push({
              broker: nodeId,
              topic: t.topic,
              partition: p.partition,
              key: String(m.key),
              headers: m.headers,
            });
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
      if (broker2Failed) leaders[1] = 1;
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
      if (config.idempotent && (config.retry?.retries ?? 1) < 1)
        throw new Error('Idempotent producer must allow retries to protect against transient errors');
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
        partitioner:
          opts.partitionByMessage || !config.createPartitioner
            ? ({ message }: { message: { partition: number } }) => message.partition
            : config.createPartitioner(),
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
  return { kafka: kafka as unknown as Kafka, written, failures };
}
