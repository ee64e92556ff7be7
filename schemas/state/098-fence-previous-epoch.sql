-- Issue 15 §2, the fence check's lease (src/core/call-lease.ts): a take records the epoch it replaced, so an owner
-- taking its own partition back (an eager rebalance hands most partitions back to the same member) knows it replaced
-- its own last take and waits only until that take's lease ends, not a full lease as after another owner.
ALTER TABLE sync_fence ADD COLUMN IF NOT EXISTS previous_epoch bigint;
