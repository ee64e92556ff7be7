/**
 * Event ids of the outbox: random (sync outcomes) or derived from a stable name (invoices), so a re-polled invoice
 * gives the same id and subscribers drop the duplicate. Pure (hashing only).
 */
import { createHash, randomUUID } from 'node:crypto';

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
