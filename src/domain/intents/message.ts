/**
 * The message on the intents topic: one intent (what must happen in OpenCell) derived from one Odoo change,
 * re-keyed by the customer it concerns (`partner:<id>`), so that every OpenCell call for one customer goes through
 * one partition, in order, whatever table the change came from. io-ts at the boundary.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/Either';
import { hash } from 'node:crypto';
import { MalformedEventError } from '../errors';
import type { IntentBase } from './kind';
import { INTENTS, type IntentRegistry } from './registry';

const nullable = <C extends t.Mixed>(c: C) => t.union([c, t.null]);

/** An intent of a kind the registry knows, checked by that kind's codec (src/domain/intents/<kind>.ts). */
function intentCodec<I extends IntentBase>(registry: IntentRegistry<I>): t.Type<I, I, unknown> {
  return new t.Type<I, I, unknown>(
    'Intent',
    (u): u is I => typeof u === 'object' && u !== null && typeof (u as { kind?: unknown }).kind === 'string',
    (u, c) => {
      if (typeof u !== 'object' || u === null) return t.failure(u, c, 'intent must be an object');
      const kind = (u as { kind?: unknown }).kind;
      if (typeof kind !== 'string' || !registry.has(kind))
        return t.failure(u, c, `unknown intent kind ${String(kind)}`);
      return registry.spec(kind).codec.validate(u, c);
    },
    t.identity,
  );
}

/** The message codec for the kinds of `registry`. */
export function intentMessageCodec<I extends IntentBase>(registry: IntentRegistry<I>) {
  return t.intersection([
    t.type({
      v: t.literal(1),
      intentId: t.string,
      aggregateKey: t.string,
      partnerId: t.number,
      /** the contract the intent concerns (null for partner-level intents) */
      contractId: nullable(t.number),
      intent: intentCodec(registry),
      /** set by an operator's force-create (docs/behaviour.md W4): create even for a blocked partner */
      force: t.union([t.boolean, t.undefined]),
      /** set by `reconcile --fix`: OpenCell's state is the only authority (the ledger's record of past effects is not) */
      repair: t.union([t.boolean, t.undefined]),
      source: t.type({
        table: t.string,
        op: t.string,
        rowId: nullable(t.number),
        lsn: nullable(t.number),
        txId: nullable(t.number),
        tsMs: t.number,
        snapshot: t.boolean,
        topic: nullable(t.string),
        partition: nullable(t.number),
        offset: nullable(t.string),
      }),
    }),
    t.partial({
      /**
       * set when the scheduler releases a held intent (the time, epoch ms, it was held until): the projector applies
       * it at once (docs/operations.md "Held terminations")
       */
      heldUntil: t.number,
    }),
  ]);
}

export const IntentMessageCodec = intentMessageCodec(INTENTS);
export type IntentMessage = t.TypeOf<typeof IntentMessageCodec>;

export function encodeIntentMessage(m: IntentMessage): Buffer {
  return Buffer.from(JSON.stringify(m));
}

export function decodeIntentMessage(
  topic: string,
  partition: number,
  offset: string,
  value: Buffer | null,
): IntentMessage {
  if (value === null)
    throw new MalformedEventError(topic, partition, offset, 'value', 'empty intent message');
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (e) {
    throw new MalformedEventError(topic, partition, offset, 'value', `not JSON: ${(e as Error).message}`);
  }
  const r = IntentMessageCodec.decode(json);
  if (isLeft(r)) {
    const e = r.left[0];
    const field =
      e.context
        .map((x) => x.key)
        .filter(Boolean)
        .join('.') || '(root)';
    throw new MalformedEventError(topic, partition, offset, field, e.message ?? 'invalid value');
  }
  return r.right;
}

/**
 * Deterministic id of an intent: the same Odoo change (table, row, LSN, transaction) and intent always give the
 * same id, whether the change is read again after an offset reset or re-emitted by Debezium after a restart.
 */
export function intentIdOf(source: IntentMessage['source'], intent: IntentBase, index: number): string {
  const where =
    source.lsn !== null
      ? `${source.lsn}/${source.txId ?? ''}`
      : `${source.topic}/${source.partition}/${source.offset}`;
  // crypto.hash: the one-shot digest (no Hash object per intent), the same bytes as createHash's
  return hash(
    'sha1',
    `${source.table}|${source.rowId ?? ''}|${source.op}|${where}|${intent.kind}|${index}|${JSON.stringify(intent)}`,
    'hex',
  ).slice(0, 32);
}

/** The Odoo record an intent is about (for the ledger and sync events): its kind's `odooRecord`. */
export function odooRecordOf<I extends IntentBase>(
  intent: I,
  registry: IntentRegistry<I> = INTENTS as unknown as IntentRegistry<I>,
): { model: string; id: number } {
  return registry.spec(intent).odooRecord(intent);
}
