/**
 * The scheduler: puts held intents back on the intents topic when they are due (docs/operations.md "Held
 * terminations"). The projector holds a termination dated after today (src/domain/intents/hold.ts, the original's
 * queue_job ETA) in the state database; every `HELD_INTENTS_POLL_MS` this publishes the due ones with their key
 * (`partner:<id>`, the customer's queue) and `heldUntil` set, so the projector applies them then — reading the
 * contract from Odoo afresh, as the original's job did — and deletes their rows. The publish is acknowledged
 * (acks=all) before the delete commits; a crash in between publishes the intent again, and the ledger skips a
 * finished intent id.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { Config } from '../../core/config';
import { componentLogger } from '../../core/log';
import { PgHeldIntents, type HeldIntentRow } from '../../adapters/postgres/held-intents';
import { createProducer } from './stages';

const log = componentLogger('scheduler');

export interface HeldIntentScheduler {
  /** Releases what is due now (the loop calls it; tests too). Returns how many were published. */
  releaseDue(): Promise<number>;
  /** Rows released since start. */
  readonly released: number;
  stop(): Promise<void>;
}

/** The intents-topic record of a released held intent. */
export function releasedRecord(row: HeldIntentRow): {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
} {
  return {
    key: row.aggregateKey,
    value: Buffer.from(JSON.stringify({ ...row.message, heldUntil: row.notBefore })),
    headers: { intent_id: row.intentId, intent_kind: row.kind, held_until: String(row.notBefore) },
  };
}

export async function startHeldIntentScheduler(
  config: Config,
  deps: { pool: Pool; kafka: Kafka; now?: () => number },
): Promise<HeldIntentScheduler> {
  const held = new PgHeldIntents(deps.pool, config.topics.intents);
  const producer: Producer = createProducer(deps.kafka);
  await producer.connect();
  const now = () => (deps.now ?? Date.now)() + config.heldIntents.clockOffsetMs;
  let released = 0;
  let running: Promise<number> | undefined;
  const releaseDue = () =>
    (running ??= (async () => {
      try {
        let total = 0;
        for (;;) {
          const n = await held.releaseDue(now(), 100, async (rows) => {
            await producer.send({
              topic: config.topics.intents,
              acks: -1,
              messages: rows.map(releasedRecord),
            });
          });
          total += n;
          if (n < 100) break;
        }
        if (total) log.info(`released ${total} held intent(s)`);
        released += total;
        return total;
      } finally {
        running = undefined;
      }
    })());
  const timer = setInterval(() => {
    releaseDue().catch((e) => log.error(`releasing held intents failed: ${(e as Error).message}`));
  }, config.heldIntents.pollMs);
  timer.unref();
  return {
    releaseDue,
    get released() {
      return released;
    },
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
      await producer.disconnect();
    },
  };
}
