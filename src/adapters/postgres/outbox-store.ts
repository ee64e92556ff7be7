/**
 * Writing to the transactional outbox. `appendOutbox` runs on the caller's client, inside the caller's
 * transaction: the event exists if and only if the ledger change it reports was committed (no dual write).
 * The relay (relay.ts) publishes committed rows to Kafka later.
 */
import type { Client, PoolClient } from 'pg';
import { SyncError } from '../../domain/errors';
import { validatePayload } from '../../domain/outbox/codecs';
import { isUuid } from '../../domain/outbox/event-ids';
import type { OutboxEvent } from '../../domain/outbox/events';
import { currentTraceparent } from '../../core/trace';

export { EVENT_ID_NAMESPACES, isUuid, newEventId, stableEventId } from '../../domain/outbox/event-ids';

/**
 * Appends one event to the outbox using the caller's client (and so the caller's open transaction, if any).
 * event_id = payload.eventId. Appending the same event id twice is a no-op (ON CONFLICT DO NOTHING), so a
 * retried transaction or a re-polled invoice does not produce a second row. The payload is validated first
 * (MALFORMED_EVENT), so the caller's transaction fails instead of a poison row reaching the relay.
 */
/** Checks an outbox event and returns the values of its row (event_id, topic, aggregate type and id, type, payload, traceparent). */
export function outboxRowValues(
  event: OutboxEvent,
): [string, string, string, string, string, string, string | null] {
  const eventId = event.payload.eventId;
  if (!isUuid(eventId)) {
    throw new SyncError('INTERNAL', `outbox event id must be a uuid, got ${JSON.stringify(eventId)}`, {
      details: { eventType: event.type, aggregateId: event.aggregateId },
    });
  }
  if (!event.topic || !event.aggregateId) {
    throw new SyncError('INTERNAL', 'outbox event needs a topic and an aggregate id', {
      details: { eventType: event.type, eventId },
    });
  }
  // A payload the relay could not encode must never enter the outbox: it would hold back its aggregate.
  const problems = validatePayload(event.type, event.payload);
  if (problems.length > 0) {
    throw new SyncError(
      'MALFORMED_EVENT',
      `outbox ${event.type} event ${eventId} does not match its schema: ${problems.join('; ')}`,
      {
        details: { eventType: event.type, aggregateId: event.aggregateId, problems },
      },
    );
  }
  return [
    eventId,
    event.topic,
    event.aggregateType,
    event.aggregateId,
    event.type,
    JSON.stringify(event.payload),
    // the trace the event belongs to (src/core/trace.ts): the relay sends it as the event's `traceparent` header
    currentTraceparent(),
  ];
}

/**
 * The outbox INSERT for parameters $n … $n+6 (as returned by outboxRowValues); with `onlyIf` (an SQL condition,
 * e.g. `EXISTS (SELECT 1 FROM intent)` in a data-modifying CTE), the row is written only when it holds.
 */
export function outboxInsertSql(n = 1, onlyIf?: string): string {
  const p = (i: number) => `$${n + i}`;
  const row = `${p(0)}::uuid, ${p(1)}::text, ${p(2)}::text, ${p(3)}::text, ${p(4)}::text, ${p(5)}::jsonb, ${p(6)}::text`;
  return `INSERT INTO outbox (event_id, topic, aggregate_type, aggregate_id, event_type, payload, traceparent)
     ${onlyIf === undefined ? `VALUES (${row})` : `SELECT ${row} WHERE ${onlyIf}`}
     ON CONFLICT (event_id) DO NOTHING`;
}

/**
 * The outbox INSERT of several rows at once, from parameter `$n` (a jsonb array of objects with the columns of
 * outboxRowValues, by name: event_id, topic, aggregate_type, aggregate_id, event_type, payload, traceparent, and any
 * `extra` columns, e.g. the ledger intent a row reports); with `onlyIf`, a condition on each row `o`.
 */
export function outboxInsertManySql(n: number, onlyIf?: string, extra = ''): string {
  return `INSERT INTO outbox (event_id, topic, aggregate_type, aggregate_id, event_type, payload, traceparent)
     SELECT o.event_id, o.topic, o.aggregate_type, o.aggregate_id, o.event_type, o.payload, o.traceparent
       FROM jsonb_to_recordset($${n}::jsonb) AS o(event_id uuid, topic text, aggregate_type text, aggregate_id text,
                                              event_type text, payload jsonb, traceparent text${extra ? `, ${extra}` : ''})
     ${onlyIf === undefined ? '' : `WHERE ${onlyIf}`}
     ON CONFLICT (event_id) DO NOTHING`;
}

/**
 * The row of outboxRowValues as a JSON object for outboxInsertManySql, with `extra` columns; the payload, already
 * JSON, is spliced in as it is (not parsed and written again).
 */
export function outboxRowJson(
  v: ReturnType<typeof outboxRowValues>,
  extra: Record<string, unknown> = {},
): string {
  const rest = JSON.stringify({
    ...extra,
    event_id: v[0],
    topic: v[1],
    aggregate_type: v[2],
    aggregate_id: v[3],
    event_type: v[4],
    traceparent: v[6],
  });
  return `{"payload":${v[5]},${rest.slice(1)}`;
}

export async function appendOutbox(client: PoolClient | Client, event: OutboxEvent): Promise<void> {
  await client.query(outboxInsertSql(1), outboxRowValues(event));
}
