-- The relay is no longer woken by a trigger. pg_notify takes a database-wide lock that is held through the commit's
-- WAL flush, so a NOTIFY in every ledger transaction made all of them commit one at a time (seen as "Lock:object"
-- waits at 200 intents/s). Writers now wake the relay after their commit (src/outbox/wakeup.ts): a NOTIFY of its
-- own, outside their transaction, coalesced per process. The relay still polls, so a lost wake-up only delays.
DROP TRIGGER IF EXISTS outbox_notify_insert ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
