/**
 * io-ts codecs for the outbox events (events.ts). Used to validate payloads before they enter the outbox and by
 * subscribers to validate what they decode. The compile-time checks at the bottom keep them in step with the types.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/Either';
import type { InvoiceIssuedEvent, SyncEvent } from './events';

const Nullable = <C extends t.Mixed>(c: C) => t.union([c, t.null]);
const UuidString = t.refinement(
  t.string,
  (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  'Uuid',
);
const EpochMs = t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 0, 'EpochMs');
const SafeInt = t.refinement(t.number, (n) => Number.isSafeInteger(n), 'SafeInteger');
const Int32 = t.refinement(
  t.number,
  (n) => Number.isInteger(n) && n >= -2147483648 && n <= 2147483647,
  'Int32',
);
const Decimal = t.refinement(t.string, (s) => /^-?\d+(\.\d+)?$/.test(s), 'DecimalString');
const IsoDate = t.refinement(t.string, (s) => /^\d{4}-\d{2}-\d{2}$/.test(s), 'YYYY-MM-DD');

export const SyncOutcomeC = t.keyof({ applied: null, skipped: null, failed: null, dead_lettered: null });

export const SyncEventC = t.type({
  eventId: UuidString,
  occurredAt: EpochMs,
  source: t.type({
    table: t.string,
    lsn: Nullable(SafeInt),
    txId: Nullable(SafeInt),
    topic: Nullable(t.string),
    partition: Nullable(Int32),
    offset: Nullable(t.string),
  }),
  odoo: t.type({ model: t.string, id: SafeInt, ref: Nullable(t.string) }),
  opencell: t.type({ entity: t.string, code: Nullable(t.string) }),
  action: t.string,
  outcome: SyncOutcomeC,
  calls: t.array(t.string),
  errorCode: Nullable(t.string),
  errorMessage: Nullable(t.string),
  attempt: Int32,
});

export const InvoiceLineC = t.type({
  categoryCode: t.string,
  subCategoryCode: Nullable(t.string),
  description: t.string,
  accountingCode: Nullable(t.string),
  taxCode: Nullable(t.string),
  taxPercent: Nullable(Decimal),
  productCode: Nullable(t.string),
  subscriptionCode: Nullable(t.string),
  quantity: Decimal,
  unitAmountWithoutTax: Decimal,
  amountWithoutTax: Decimal,
  amountTax: Decimal,
  amountWithTax: Decimal,
});

export const InvoiceIssuedEventC = t.intersection([
  t.type({
    eventId: UuidString,
    occurredAt: EpochMs,
    invoiceNumber: t.string,
    invoiceId: Nullable(SafeInt),
    invoiceType: t.string,
    invoiceDate: IsoDate,
    dueDate: Nullable(IsoDate),
    billingAccountCode: t.string,
    customerAccountCode: Nullable(t.string),
    customerCode: Nullable(t.string),
    subscriptionCodes: t.array(t.string),
    currency: t.string,
    amountWithoutTax: Decimal,
    amountTax: Decimal,
    amountWithTax: Decimal,
    lines: t.array(InvoiceLineC),
    pdfAvailable: t.boolean,
  }),
  // Added later with an Avro default (null): events written before it decode without the field.
  t.partial({ billingRunId: Nullable(t.string) }),
]);

/** The outbox `event_type` values and their payload codecs. */
export const EVENT_CODECS = {
  SyncOutcome: SyncEventC,
  InvoiceIssued: InvoiceIssuedEventC,
} as const;
export type OutboxEventType = keyof typeof EVENT_CODECS;
export interface EventPayloads {
  SyncOutcome: SyncEvent;
  InvoiceIssued: InvoiceIssuedEvent;
}

export function isOutboxEventType(s: string): s is OutboxEventType {
  return Object.prototype.hasOwnProperty.call(EVENT_CODECS, s);
}

/** Validates a payload against its event type; returns the first problems as readable `path: reason` strings. */
export function validatePayload(type: OutboxEventType, payload: unknown): string[] {
  const r = EVENT_CODECS[type].decode(payload);
  if (!isLeft(r)) return [];
  return r.left.slice(0, 5).map((e) => {
    const path = e.context
      .map((c) => c.key)
      .filter(Boolean)
      .join('.');
    const last = e.context[e.context.length - 1];
    return `${path || '(root)'}: expected ${last?.type.name ?? '?'}, got ${JSON.stringify(e.value)}`;
  });
}

// Compile-time agreement between the codecs and the contract types (both directions).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const syncAgrees: Same<t.TypeOf<typeof SyncEventC>, SyncEvent> = true;
const invoiceAgrees: Same<t.TypeOf<typeof InvoiceIssuedEventC>, InvoiceIssuedEvent> = true;
void syncAgrees;
void invoiceAgrees;
