-- Effects: each OpenCell operation of a plan, recorded as soon as it succeeded, under the plan's effect key
-- (e.g. 'line:42:activate', 'subscription:50001'). A replayed intent, or one resumed after a crash in the middle of
-- its plan, skips the operations already done — the guard that makes non-idempotent OpenCell calls (one-shot
-- charges) happen once.
CREATE TABLE ledger_effect (
  effect_key     text        PRIMARY KEY,
  intent_id      text        NOT NULL,
  op             text        NOT NULL,
  opencell_code  text,
  outcome        text        NOT NULL,  -- applied | already_present
  applied_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_effect_intent ON ledger_effect (intent_id);
