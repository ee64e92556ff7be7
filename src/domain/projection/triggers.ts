import type { RowChange } from '../capture/envelope';
import type { TriggerContext } from '../intents/kind';
import { INTENTS, type IntentRegistry } from '../intents/registry';
import type { IntentBase } from '../intents/kind';
import { changedWatchedFields } from './filter';

/**
 * Trigger detection: a decoded change → the list of intents (what must happen in OpenCell), per
 * docs/behaviour.md T1–T7 and W1–W2 plus the project's new rules. Each kind's trigger lives in its module of
 * src/domain/intents/ (`trigger.detect`); this asks every kind of the registry, in the registry's order. Pure: the facts that are not in the row (the line's product and
 * category, whether a partner has contracts) come from a context the runtime fills from Odoo.
 *
 * Decisions where the original is silent (see also the module docs):
 * - 'r' (snapshot read) is interpreted like 'c' (a diff from nothing) and every intent is flagged
 *   `snapshot: true`: the projector reconciles such intents against OpenCell before any call (the kind's
 *   `reconcileSnapshot`, src/domain/intents/snapshot.ts): present → nothing, missing and active → created, ended and
 *   missing → skipped with a reason, one-shots never applied unless SNAPSHOT_ONE_SHOTS_SINCE lets them through.
 * - 'c' of a contract already terminated, or of a service line that already has `date_end`, yields its termination
 *   only with the opt-in `syncTerminationAtCreation` (the original's T2 / T5 reacted to writes only); a snapshot
 *   ('r') always does (reconciled as above).
 * - 'd' (row delete) and `active` true→false (archive) trigger nothing on any table: the original had no unlink
 *   handler, contract termination is `is_terminated`, a line's end is `date_end`, and `contract_line.active` is a
 *   related copy of the contract's. Relation-table deletes are the exception (an email removed from a contract).
 * - `update_customer` also fires for name / firstname / lastname / VAT / email / mobile / phone changes when the
 *   opt-in `syncPartnerIdentity` is on (off by default: the original only reacted to the address).
 * - Any write of a line that has a `date_end` → terminate_service (carrying that date), whatever its product, as the
 *   original's listener; cleared → nothing (docs/behaviour.md T5).
 * - W1 / W2 (update_subscription) react to writes of an existing contract only; what its creation writes gives
 *   nothing unless the opt-in `syncEmailIbanAtCreation` is on.
 */

export type { Intent, IntentKind } from '../intents/registry';
export type { TriggerContext } from '../intents/kind';

/**
 * The intents a decoded change (capture's `decodeChange`: ISO dates, decimal strings, translation objects)
 * triggers, in the order they must be applied. `fields` defaults to `changedWatchedFields(change)`: capture's
 * `changedBillingFields` restricted to the watched columns of filter.ts.
 */
export function detectIntents<I extends IntentBase = import('../intents/registry').Intent>(
  change: RowChange,
  ctx: TriggerContext,
  fields: readonly string[] = changedWatchedFields(change),
  registry: IntentRegistry<I> = INTENTS as unknown as IntentRegistry<I>,
): I[] {
  const kinds = registry.triggeredBy(change.table);
  let intents: I[] = [];
  for (const k of kinds) {
    const found = k.trigger.detect(change, fields, ctx);
    if (found.length > 0) intents = intents.length === 0 ? found : intents.concat(found);
  }
  if (change.op === 'r') {
    return intents.map((i) =>
      registry.spec(i).trigger.flagsSnapshot ? { ...i, snapshot: true as const } : i,
    );
  }
  return intents;
}
