-- Dead letters by consumer group, stage and source position (issue 19 §3). A dead letter is identified by the
-- consumer group and stage that gave up on it and the position of the message it read (topic, partition, offset):
-- another group reading the same source (a second deployment, a test, a bench) has dead letters of its own. The keyed consumer claims the key here
-- before publishing to the dead-letter topic and records where the copy landed right after: a replay of the group
-- (`resync --to earliest`) that fails the same message again finds its copy and does not publish a second one,
-- unless that copy was replayed (table dlq_replay) — then the new failure is a new dead letter.
-- `status` lists the last rows under "Last errors" (every stage, also the router's MALFORMED_EVENT).
CREATE TABLE IF NOT EXISTS dead_letter (
  stage             text        NOT NULL,
  source_topic      text        NOT NULL,
  source_partition  integer     NOT NULL,
  source_offset     bigint      NOT NULL,
  consumer_group    text        NOT NULL DEFAULT '',
  code              text        NOT NULL,
  reason            text        NOT NULL,
  attempts          integer     NOT NULL,
  dlq_topic         text,                  -- where the copy is; NULL while the publish is in flight (or failed)
  dlq_partition     integer,
  dlq_offset        bigint,
  repeats           integer     NOT NULL DEFAULT 0,  -- later failures of the same message not published again
  failed_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer_group, stage, source_topic, source_partition, source_offset)
);
CREATE INDEX IF NOT EXISTS dead_letter_failed_at ON dead_letter (failed_at);
