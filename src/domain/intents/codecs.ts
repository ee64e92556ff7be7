/** io-ts pieces the intent kinds' codecs share. */
import * as t from 'io-ts';
import type { IntentBase } from './kind';

export const nullable = <C extends t.Mixed>(c: C) => t.union([c, t.null]);

/** `YYYY-MM-DD` (Odoo dates are decoded to ISO days at capture). */
export const IsoDateC = t.string;

/** Set on contract-level intents derived from a snapshot read ('r'). */
export const snapshotFlag = { snapshot: t.literal(true) };

/**
 * A kind's codec: the kind tag, its required and optional fields. Decoding returns the message's object as it is
 * (no stripping), so an intent decoded from the topic is the one the router produced.
 */
export function kindCodec<I extends IntentBase>(
  kind: I['kind'],
  required: t.Props,
  optional: t.Props = {},
): t.Type<I, I, unknown> {
  const shape = t.intersection([t.type({ kind: t.literal(kind), ...required }), t.partial(optional)]);
  return new t.Type<I, I, unknown>(
    `Intent<${kind}>`,
    (u): u is I => shape.is(u),
    (u, c) => {
      const r = shape.validate(u, c);
      return r._tag === 'Left' ? r : t.success(u as I);
    },
    t.identity,
  );
}
