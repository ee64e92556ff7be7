-- The W3C trace context of the work that wrote the event (src/core/trace.ts); the relay sends it as the event's
-- `traceparent` header. Null for rows written outside a trace.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent text;
