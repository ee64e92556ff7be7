/**
 * The intent catalogue: one line per kind. The router, projector, ledger, reconcile and the CLI go through it; the
 * order is the order in which one change's intents are applied (and numbered: intent ids depend on it).
 *
 * Adding a kind: one module in this folder (see kind.ts for what it holds) and one line below.
 */
import { activateService } from './activate-service';
import { applyCompensation } from './apply-compensation';
import { applyOneShot } from './apply-one-shot';
import { createSubscription } from './create-subscription';
import { forceIban } from './force-iban';
import type { IntentBase, IntentKindSpec } from './kind';
import { terminateService } from './terminate-service';
import { terminateSubscription } from './terminate-subscription';
import { updateAccountsAddress } from './update-accounts-address';
import { updateCustomer } from './update-customer';
import { updatePhoneNumber } from './update-phone-number';
import { updateSubscription } from './update-subscription';
import { unsyncedChange } from './unsynced-change';

export const INTENT_KINDS = [
  createSubscription,
  terminateSubscription,
  activateService,
  applyOneShot,
  terminateService,
  updateCustomer,
  updateAccountsAddress,
  updatePhoneNumber,
  updateSubscription,
  forceIban,
  applyCompensation,
  unsyncedChange,
] as const;

type IntentOf<S> = S extends IntentKindSpec<infer I> ? I : never;

/** Every intent the catalogue knows. */
export type Intent = IntentOf<(typeof INTENT_KINDS)[number]>;
export type IntentKind = Intent['kind'];

/** What the runtime needs of a registry, whatever its kinds: a kind's spec by name. */
export interface IntentLookup {
  has(kind: string): boolean;
  /** The spec of an intent's kind, for handling intents of any kind (throws for an unknown kind). */
  lookup(kind: string): IntentKindSpec<IntentBase>;
}

/** A set of kinds, looked up by name (the catalogue's, or one extended by a test). */
const NO_KINDS: readonly never[] = Object.freeze([]);

export class IntentRegistry<I extends IntentBase = IntentBase> implements IntentLookup {
  readonly #byKind: ReadonlyMap<string, IntentKindSpec<I>>;
  readonly #byTable: ReadonlyMap<string, readonly IntentKindSpec<I>[]>;

  constructor(readonly kinds: readonly IntentKindSpec<I>[]) {
    const byKind = new Map<string, IntentKindSpec<I>>();
    const byTable = new Map<string, IntentKindSpec<I>[]>();
    for (const k of kinds) {
      if (byKind.has(k.kind)) throw new Error(`intent kind ${k.kind} is registered twice`);
      byKind.set(k.kind, k);
      for (const table of k.trigger.tables) {
        const list = byTable.get(table);
        if (list) list.push(k);
        else byTable.set(table, [k]);
      }
    }
    this.#byKind = byKind;
    this.#byTable = byTable;
  }

  /**
   * The kinds a change of this table can trigger (their `trigger.tables`), in the registry's order: the router asks
   * only these (a unit test checks that no other kind's trigger fires on the table).
   */
  triggeredBy(table: string): readonly IntentKindSpec<I>[] {
    return this.#byTable.get(table) ?? NO_KINDS;
  }

  has(kind: string): boolean {
    return this.#byKind.has(kind);
  }

  /** The kind's spec; throws for a kind the registry does not know. */
  spec<J extends I>(intent: J | J['kind']): IntentKindSpec<J> {
    const kind = typeof intent === 'string' ? intent : intent.kind;
    const spec = this.#byKind.get(kind);
    if (!spec) throw new Error(`unknown intent kind ${kind}`);
    return spec as unknown as IntentKindSpec<J>;
  }

  lookup(kind: string): IntentKindSpec<IntentBase> {
    return this.spec(kind as I['kind']) as unknown as IntentKindSpec<IntentBase>;
  }

  /** A registry with more kinds (tests add throw-away ones this way). */
  with<J extends IntentBase>(...more: IntentKindSpec<J>[]): IntentRegistry<I | J> {
    return new IntentRegistry<I | J>([...this.kinds, ...more] as IntentKindSpec<I | J>[]);
  }
}

/** The catalogue's registry. */
export const INTENTS: IntentRegistry<Intent> = new IntentRegistry<Intent>(
  INTENT_KINDS as unknown as readonly IntentKindSpec<Intent>[],
);
