-- Operations (src/ops): dead letters replayed by `odoo-opencell-sync dlq replay`, so that `dlq list` shows which
-- ones were put back on their source topic, when, and where they landed.
CREATE TABLE IF NOT EXISTS dlq_replay (
  dlq_topic         text        NOT NULL,
  dlq_partition     integer     NOT NULL,
  dlq_offset        bigint      NOT NULL,
  source_topic      text        NOT NULL,
  source_partition  integer,
  replayed_offset   bigint,     -- offset of the re-published copy on the source topic
  replayed_by       text,
  replayed_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
