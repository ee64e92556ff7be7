-- Issue 14 §2 (T2, T5 timing): intents held until the time the original's queue_job ETA would have run them
-- (src/domain/intents/hold.ts). The projector stores a future-dated termination here instead of projecting it; the
-- scheduler role re-publishes it to the intents topic, with its key, once `not_before` has passed, and then deletes
-- the row. A crash between the two re-publishes it again, which the ledger's finished intents make harmless.
CREATE TABLE IF NOT EXISTS held_intent (
  intent_id      text        NOT NULL,
  topic          text        NOT NULL,  -- the intents topic it came from and goes back to
  aggregate_key  text        NOT NULL,
  kind           text        NOT NULL,
  contract_id    bigint,
  not_before     timestamptz NOT NULL,
  message        jsonb       NOT NULL,
  held_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, intent_id)
);
CREATE INDEX IF NOT EXISTS held_intent_due ON held_intent (topic, not_before);
