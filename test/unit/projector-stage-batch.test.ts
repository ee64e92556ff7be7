/**
 * The projector stage over a fetched batch (scripted, no broker): a replay's finished intents end in bulk — one
 * replay check for the batch, no handler run, wherever they stand on their key — while the unfinished ones still go
 * through the handler in order; a record without an `intent_id` header is left to the handler.
 */
import { expect } from 'chai';
import type { EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { loadConfig } from '../../src/core/config';
import type { KeyedConsumer } from '../../src/adapters/kafka/keyed-consumer';
import { encodeIntentMessage, type IntentMessage } from '../../src/domain/intents/message';
import { FencedError } from '../../src/domain/errors';
import {
  BULK_REPLAY_IDLE_MS,
  BULK_REPLAY_MIN_BATCH,
  createProjector,
} from '../../src/flows/projection/stages';
import type { Projector } from '../../src/flows/projection/projector';
import { batchPayload } from './support/kafka-batch';

const TOPIC = 'sync.intents';

/** An update_customer intent of partner `partnerId` at `offset`, with the headers the router writes (or none). */
function intentRecord(offset: number, partnerId: number, headers = true): KafkaMessage {
  const intentId = `i-${offset}`;
  const msg = {
    v: 1,
    intentId,
    aggregateKey: `partner:${partnerId}`,
    partnerId,
    contractId: null,
    intent: { kind: 'update_customer', partnerId, fields: ['street'] },
    source: {
      table: 'res_partner',
      op: 'u',
      rowId: partnerId,
      lsn: offset,
      txId: offset,
      tsMs: 0,
      snapshot: false,
      topic: 'odoo.public.res_partner',
      partition: 0,
      offset: String(offset),
    },
  } as unknown as IntentMessage;
  return {
    offset: String(offset),
    key: Buffer.from(msg.aggregateKey),
    value: encodeIntentMessage(msg),
    timestamp: '0',
    attributes: 0,
    headers: headers ? { intent_id: intentId, intent_kind: 'update_customer' } : {},
  } as KafkaMessage;
}

/** A projector whose ledger has finished `finished`; logs each replay check's ids and each handled intent. */
function fakeProjector(finished: Set<string>, log: string[], fenced = false) {
  return {
    finished: async (ids: readonly string[]) => {
      log.push(`check ${ids.join(',')}`);
      if (fenced) throw new FencedError('the partition moved');
      return ids.map((id) => finished.has(id));
    },
    handle: async (msg: IntentMessage) => {
      if (fenced) throw new FencedError('the partition moved');
      log.push(`handle ${msg.intentId}`);
      return finished.has(msg.intentId)
        ? null
        : { outcome: 'applied', calls: ['PUT /account/customer'], entities: [] };
    },
    recordDeadLetter: async () => undefined,
  } as unknown as Projector;
}

function projector(p: Projector, bulkReplayMinBatch = 1, now?: () => number): KeyedConsumer {
  return createProjector({
    kafka: {} as Kafka,
    producer: {} as Producer,
    config: loadConfig({ OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y', RETRY_INITIAL_MS: '5' }),
    projector: p,
    bulkReplayMinBatch,
    now,
  });
}

const onBatch = (kc: KeyedConsumer, p: EachBatchPayload) =>
  (kc as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(p);

describe('projector stage: a replay ends its finished intents in bulk', () => {
  it('a batch of finished intents: one replay check for all of them, no handler run, every offset committed', async () => {
    const log: string[] = [];
    const commits: string[] = [];
    const messages = [0, 1, 2, 3, 4].map((o) => intentRecord(o, 10 + (o % 2)));
    const finished = new Set(messages.map((m) => `i-${m.offset}`));
    await onBatch(projector(fakeProjector(finished, log)), batchPayload(messages, commits, 0, TOPIC));
    expect(log).to.deep.equal(['check i-0,i-1,i-2,i-3,i-4']);
    expect(commits[commits.length - 1]).to.equal('5');
  });

  it("a key's unfinished intent goes through the handler; the key's finished intents before and after it end in bulk", async () => {
    const log: string[] = [];
    const commits: string[] = [];
    // partner 10: finished, unfinished, finished, unfinished; partner 11: finished, finished
    const messages = [intentRecord(0, 10), intentRecord(1, 11), intentRecord(2, 10), intentRecord(3, 10)];
    messages.push(intentRecord(4, 11), intentRecord(5, 10));
    const finished = new Set(['i-0', 'i-1', 'i-3', 'i-4']);
    await onBatch(projector(fakeProjector(finished, log)), batchPayload(messages, commits, 0, TOPIC));
    expect(log[0]).to.equal('check i-0,i-1,i-2,i-3,i-4,i-5');
    // only partner 10's unfinished intents reach the handler, in order; its finished i-3 between them has no effect
    expect(log.slice(1)).to.deep.equal(['handle i-2', 'handle i-5']);
    expect(commits[commits.length - 1]).to.equal('6');
  });

  it('a record without an intent_id header is left to the handler, which decodes its value', async () => {
    const log: string[] = [];
    const commits: string[] = [];
    const messages = [intentRecord(0, 10), intentRecord(1, 12, false)];
    const finished = new Set(['i-0', 'i-1']);
    await onBatch(projector(fakeProjector(finished, log)), batchPayload(messages, commits, 0, TOPIC));
    expect(log).to.deep.equal(['check i-0', 'handle i-1']);
    expect(commits[commits.length - 1]).to.equal('2');
  });

  it('a live batch (smaller than BULK_REPLAY_MIN_BATCH) is not checked in bulk: each intent is checked once, by its handler', async () => {
    const log: string[] = [];
    const commits: string[] = [];
    const messages = [0, 1, 2].map((o) => intentRecord(o, 10 + o));
    await onBatch(
      projector(fakeProjector(new Set(), log), BULK_REPLAY_MIN_BATCH),
      batchPayload(messages, commits, 0, TOPIC),
    );
    expect(log).to.deep.equal(['handle i-0', 'handle i-1', 'handle i-2']);
    expect(commits[commits.length - 1]).to.equal('3');
  });

  it('a backlog of new intents (a lagging projector): after a bulk check that found none finished, the next batches skip it for BULK_REPLAY_IDLE_MS', async () => {
    const log: string[] = [];
    let clock = 1_000_000;
    const kc = projector(fakeProjector(new Set(), log), 1, () => clock);
    await onBatch(kc, batchPayload([intentRecord(0, 10), intentRecord(1, 11)], [], 0, TOPIC));
    await onBatch(kc, batchPayload([intentRecord(2, 10), intentRecord(3, 11)], [], 0, TOPIC));
    clock += BULK_REPLAY_IDLE_MS;
    await onBatch(kc, batchPayload([intentRecord(4, 10)], [], 0, TOPIC));
    expect(log).to.deep.equal([
      'check i-0,i-1',
      'handle i-0',
      'handle i-1',
      // the second batch, within the idle time: no bulk check
      'handle i-2',
      'handle i-3',
      // after it, checked again
      'check i-4',
      'handle i-4',
    ]);
  });

  it('a fenced replay check finishes nothing in bulk: the handlers meet the fence and the batch commits nothing', async () => {
    const log: string[] = [];
    const commits: string[] = [];
    const messages = [intentRecord(0, 10), intentRecord(1, 11)];
    await onBatch(
      projector(fakeProjector(new Set(['i-0', 'i-1']), log, true)),
      batchPayload(messages, commits, 0, TOPIC),
    );
    expect(log, 'the fault landed: the bulk check was fenced').to.deep.equal(['check i-0,i-1']);
    expect(commits).to.deep.equal([]);
  });
});
