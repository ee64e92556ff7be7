/**
 * Writing to the transactional outbox. `appendOutbox` runs on the caller's client, inside the caller's
 * transaction: the event exists if and only if the ledger change it reports was committed (no dual write).
 * The relay (relay.ts) publishes committed rows to Kafka later.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Client, PoolClient } from 'pg';
import { SyncError } from '../errors';
import { validatePayload } from './codecs';
import type { OutboxEvent } from './events';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A fresh random event id (uuid v4). */
export function newEventId(): string {
  return randomUUID();
}

/** Well-known namespaces for `stableEventId` (themselves fixed uuids, so ids never change across releases). */
export const EVENT_ID_NAMESPACES = {
  /** invoice events, keyed by OpenCell invoice number */
  invoice: '6f2c1a7e-3b0d-4c55-9a51-0e4b7d2f9c10',
  /** sync outcome events, keyed by intent id (a retried intent's outcome keeps its id) */
  syncOutcome: 'b1d0e7c4-58a2-4f3e-8c6b-2a9f41d3e7a5',
} as const;

/**
 * A deterministic uuid for (namespace, name), derived like RFC 4122 version 5: sha1(namespace bytes ‖ name utf-8),
 * first 16 bytes, version nibble 5, variant 10xx. The same invoice number always gives the same event id,
 * so re-polling an invoice produces a duplicate that subscribers drop by event id.
 * `namespace` is a uuid; any other string is first hashed into one (so callers may pass a plain label).
 */
export function stableEventId(namespace: string, name: string): string {
  const ns = UUID_RE.test(namespace)
    ? Buffer.from(namespace.replace(/-/g, ''), 'hex')
    : labelNamespace(namespace);
  const hash = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest();
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  return formatUuid(b);
}

function labelNamespace(label: string): Buffer {
  return createHash('sha1').update('odoo-opencell-sync:').update(label, 'utf8').digest().subarray(0, 16);
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/**
 * Appends one event to the outbox using the caller's client (and so the caller's open transaction, if any).
 * event_id = payload.eventId. Appending the same event id twice is a no-op (ON CONFLICT DO NOTHING), so a
 * retried transaction or a re-polled invoice does not produce a second row. The payload is validated first
 * (MALFORMED_EVENT), so the caller's transaction fails instead of a poison row reaching the relay.
 */
/** Checks an outbox event and returns the values of its row (event_id, topic, aggregate type and id, type, payload). */
export function outboxRowValues(event: OutboxEvent): [string, string, string, string, string, string] {
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
  ];
}

/** The outbox INSERT for parameters $n … $n+5 (as returned by outboxRowValues). */
export function outboxInsertSql(n = 1): string {
  const p = (i: number) => `$${n + i}`;
  return `INSERT INTO outbox (event_id, topic, aggregate_type, aggregate_id, event_type, payload)
     VALUES (${p(0)}, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}::jsonb)
     ON CONFLICT (event_id) DO NOTHING`;
}

export async function appendOutbox(client: PoolClient | Client, event: OutboxEvent): Promise<void> {
  await client.query(outboxInsertSql(1), outboxRowValues(event));
}
