-- Issue 17 §3: the relay's query skips rows queued behind a parked row of their aggregate (NOT EXISTS over parked
-- rows with a lower id). Without an index of its own that probe walked every pending row below each candidate — a
-- quadratic scan that took minutes per batch with a 100,000-row backlog (a monthly billing run). Parked rows are
-- rare: this partial index is nearly always empty and makes the probe one index lookup.
CREATE INDEX IF NOT EXISTS outbox_parked ON outbox (topic, aggregate_id, id)
  WHERE published_at IS NULL AND last_error IS NOT NULL;
