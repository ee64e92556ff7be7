/**
 * Intents an operator emits (force-create, force-iban, compensate, reconcile --fix): fresh intent ids (or one the
 * command derives, e.g. from a compensation's caller key), the same message shape and key as
 * the router's (`partner:<id>`, so they queue behind that customer's other intents), produced to the intents topic.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { PgContractRoutes } from '../../adapters/postgres/contract-routes';
import type { Config } from '../../core/config';
import { encodeIntentMessage, IntentMessage } from '../../domain/intents/message';
import { createProducer } from './stages';
import { ensureTopics } from '../../adapters/kafka/kafka';
import type { Intent } from '../../domain/projection/triggers';

export function newIntentId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * The queue an operator's intent about a contract joins: the contract's pinned queue (the router's, issue 15 §8: a
 * contract that changed partner keeps the queue of the partner it was first routed under), else its holder's. A
 * creation (`create_subscription`) always goes to the holder's queue: it numbers the holder's customer accounts,
 * which only that queue may do (the projector refuses a creation from another partner's queue).
 */
export async function contractQueue(
  statePool: Pool,
  contractId: number,
  holderId: number,
  kind?: string,
): Promise<{ partnerId: number; contractId: number }> {
  if (kind === 'create_subscription') return { partnerId: holderId, contractId };
  const pinned = await new PgContractRoutes(statePool).pinned(contractId);
  return { partnerId: pinned ?? holderId, contractId };
}

export function operatorIntent(
  intent: Intent,
  target: { partnerId: number; contractId: number | null },
  opts: { origin: string; force?: boolean; repair?: boolean; now?: number; intentId?: string },
): IntentMessage {
  return {
    v: 1,
    intentId: opts.intentId ?? newIntentId(),
    aggregateKey: `partner:${target.partnerId}`,
    partnerId: target.partnerId,
    contractId: target.contractId,
    intent,
    force: opts.force ? true : undefined,
    repair: opts.repair ? true : undefined,
    source: {
      table: `ops:${opts.origin}`,
      op: 'ops',
      rowId: target.contractId ?? target.partnerId,
      lsn: null,
      txId: null,
      tsMs: opts.now ?? Date.now(),
      snapshot: false,
      topic: null,
      partition: null,
      offset: null,
    },
  };
}

/** Produces intent messages to the intents topic (created when missing); returns partition@offset per message. */
export async function produceIntents(
  kafka: Kafka,
  config: Config,
  messages: readonly IntentMessage[],
): Promise<string[]> {
  if (messages.length === 0) return [];
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(
      admin,
      [{ topic: config.topics.intents, numPartitions: config.topics.intentsPartitions }],
      config.kafka.replication,
    );
  } finally {
    await admin.disconnect();
  }
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    const out: string[] = [];
    for (const m of messages) {
      const [meta] = await producer.send({
        topic: config.topics.intents,
        acks: -1,
        messages: [
          {
            key: m.aggregateKey,
            value: encodeIntentMessage(m),
            headers: { intent_id: m.intentId, intent_kind: m.intent.kind, source_table: m.source.table },
          },
        ],
      });
      out.push(`${meta.partition}@${meta.baseOffset ?? '?'}`);
    }
    return out;
  } finally {
    await producer.disconnect();
  }
}
