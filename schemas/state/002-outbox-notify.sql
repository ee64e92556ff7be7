-- Outbox relay support (src/outbox/relay.ts).
-- 1. Wake the relay as soon as outbox rows are committed (NOTIFY is delivered only on commit, so rolled-back
--    rows never wake it). The relay also polls on a short interval, so a lost notification only delays.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_pending', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify_insert
  AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- 2. A row the relay cannot encode (it does not match the registered Avro schema) is parked with its reason
--    instead of being skipped: later rows of the same aggregate wait behind it, other aggregates go on.
ALTER TABLE outbox ADD COLUMN publish_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error text;

-- 3. Cleanup of old published rows.
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
