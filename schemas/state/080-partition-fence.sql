-- Issue 15 §2 (zombies): fencing. Each consumer group's partition has an epoch, taken from one sequence by the
-- instance the group assigns the partition to (on every assignment, so a newer owner always has a larger epoch).
-- Every effect of an aggregate (key) of that partition is checked against it: before each OpenCell call, and in the
-- same transaction as each ledger write (write-ahead, effect, outcome), which holds the row FOR SHARE so that a take
-- cannot slip between the check and the write. An instance paused past its session timeout (a zombie) finds a newer
-- epoch and stops before its next effect; its outcome write fails and it commits no offset.
CREATE SEQUENCE IF NOT EXISTS sync_fence_epoch;

CREATE TABLE IF NOT EXISTS sync_fence (
  group_id  text        NOT NULL,
  topic     text        NOT NULL,
  partition integer     NOT NULL,
  epoch     bigint      NOT NULL,
  owner     text        NOT NULL,
  taken_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);
