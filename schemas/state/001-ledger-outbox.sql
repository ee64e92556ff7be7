-- The pipeline's own state (database odoo_opencell_sync, owner `sync`). Applied once by src/ops/pg-setup.ts.

-- Every OpenCell object the pipeline created or manages, keyed by OpenCell entity and code.
-- This is what makes projections idempotent: a create whose object is here (or already in OpenCell) is skipped.
CREATE TABLE ledger_entity (
  entity      text        NOT NULL,  -- customer | customer_account | subscription | access | service_instance | one_shot
  code        text        NOT NULL,  -- the OpenCell code (service_instance: '<subscription>#<line id>')
  odoo_model  text        NOT NULL,  -- res.partner | contract.contract | contract.line | …
  odoo_id     bigint      NOT NULL,
  partner_id  bigint,                -- the Odoo partner behind the OpenCell customer (aggregate)
  status      text        NOT NULL,  -- active | terminated | deleted | applied
  data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (entity, code)
);
CREATE INDEX ledger_entity_odoo ON ledger_entity (odoo_model, odoo_id);
CREATE INDEX ledger_entity_partner ON ledger_entity (partner_id);

-- Each intent (one Odoo change turned into OpenCell effects) and its outcome. The id is derived from the source
-- position (table, lsn, txId, row, intent kind), so a replayed event finds its earlier outcome.
CREATE TABLE ledger_intent (
  intent_id        text        PRIMARY KEY,
  kind             text        NOT NULL,
  aggregate_key    text        NOT NULL,
  odoo_model       text        NOT NULL,
  odoo_id          bigint      NOT NULL,
  source_table     text,
  source_lsn       bigint,
  source_tx_id     bigint,
  outcome          text        NOT NULL,  -- applied | skipped | failed | dead_lettered
  calls            jsonb       NOT NULL DEFAULT '[]'::jsonb,
  attempts         integer     NOT NULL DEFAULT 0,
  error_code       text,
  error_message    text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_intent_aggregate ON ledger_intent (aggregate_key, created_at);
CREATE INDEX ledger_intent_outcome ON ledger_intent (outcome);

-- Transactional outbox: written in the same transaction as the ledger row it reports; the relay publishes rows
-- in id order per aggregate and marks them. A crash repeats at most an event with the same event_id.
CREATE TABLE outbox (
  id              bigserial   PRIMARY KEY,
  event_id        uuid        NOT NULL UNIQUE,
  topic           text        NOT NULL,
  aggregate_type  text        NOT NULL,
  aggregate_id    text        NOT NULL,
  event_type      text        NOT NULL,
  payload         jsonb       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  published_at    timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- Consumers that write outside Kafka remember what they processed (invoice loader into Odoo, …).
CREATE TABLE processed_event (
  consumer      text        NOT NULL,
  event_id      text        NOT NULL,
  result        jsonb,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

-- Persisted cursors (the invoice poller's window, …).
CREATE TABLE cursor_position (
  name        text        PRIMARY KEY,
  position    jsonb       NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
