/**
 * Fencing of a consumer group's partitions in the state database (schemas/state/080-partition-fence.sql, issue 15 §2).
 *
 * The group assigns a partition to one instance; on every assignment that instance takes the partition's next epoch
 * (one sequence: a later take is always larger). The epoch travels with every message of the partition it then
 * handles (FenceToken) and every effect of the message's aggregate is checked against it — before each OpenCell call
 * (`check`) and inside each ledger write (`lockShared`, same transaction). A process paused past its session timeout
 * (a zombie) wakes up with an older epoch than the partition's: its next check fails with FencedError, so it applies
 * nothing more, records no outcome and commits no offset.
 */
import type { Pool, PoolClient } from 'pg';
import { FencedError } from '../../domain/errors';
import { componentLogger } from '../../core/log';
import { CallLease, DEFAULT_FENCE_LEASE_MS, FENCE_GRACE_MARGIN_MS, monotonicMs } from '../../core/call-lease';

/** The epoch an instance holds for one partition of one group, as taken on its assignment. */
export interface FenceToken {
  groupId: string;
  topic: string;
  partition: number;
  /** bigint as a decimal string */
  epoch: string;
  /**
   * How long each successful check of this token is trusted for a call (src/core/call-lease.ts); renewed by
   * checkFence and lockFenceShared. Absent: calls are not held to a lease.
   */
  lease?: CallLease;
  /**
   * monotonicMs before which this owner neither reads nor calls for the partition: a take from a previous owner
   * waits out that owner's last lease (awaitTakeoverGrace). Absent or past: no wait.
   */
  graceUntil?: number;
}

/** What the keyed consumer needs: take the assigned partitions, and the current token of one of them. */
export interface PartitionFence {
  /** Called on every group join with this member's assignment (topic → partitions): takes their epochs. */
  assigned(assignment: Record<string, number[]>): void;
  /** The token of the partition's current assignment (waits for its take). */
  token(topic: string, partition: number): Promise<FenceToken>;
  /**
   * Takes the partition again when `stale` is still this process's token of it (no assignment since) and the caller
   * has shown it is still a current member of the group (see KeyedConsumer: two heartbeats answered after the fence
   * was seen): the newer epoch came from a take of an older assignment that committed late. Returns undefined when
   * `stale` is no longer this process's token (a new assignment took it already).
   */
  retake?(topic: string, partition: number, stale: FenceToken): Promise<FenceToken> | undefined;
}

// `previous_epoch`: the take this one replaced (schemas/state/098-fence-previous-epoch.sql), null on a first take
const TAKE_SQL = `INSERT INTO sync_fence (group_id, topic, partition, epoch, owner)
  VALUES ($1, $2, $3, nextval('sync_fence_epoch'), $4)
  ON CONFLICT (group_id, topic, partition) DO UPDATE
    SET previous_epoch = sync_fence.epoch, epoch = EXCLUDED.epoch, owner = EXCLUDED.owner, taken_at = now()
  RETURNING epoch::text AS epoch, previous_epoch::text AS previous_epoch`;

/** The error of a write or check whose token is no longer its partition's epoch (`current`: the row's, if any). */
export function fencedError(token: FenceToken, current: string | undefined): FencedError {
  return new FencedError(
    `fenced: ${token.topic}[${token.partition}] of group ${token.groupId} was taken by another instance (epoch ${current ?? 'none'}, ours ${token.epoch})`,
    {
      groupId: token.groupId,
      topic: token.topic,
      partition: token.partition,
      epoch: token.epoch,
      current: current ?? null,
    },
  );
}

async function currentEpoch(
  q: Pick<Pool | PoolClient, 'query'>,
  token: FenceToken,
  lock: boolean,
): Promise<string | undefined> {
  const r = await q.query<{ epoch: string }>(
    `SELECT epoch::text AS epoch FROM sync_fence WHERE group_id = $1 AND topic = $2 AND partition = $3${lock ? ' FOR SHARE' : ''}`,
    [token.groupId, token.topic, token.partition],
  );
  return r.rows[0]?.epoch;
}

/** Throws FencedError unless the token's epoch is still the partition's (a plain read: before an OpenCell call). */
export async function checkFence(pool: Pick<Pool, 'query'>, token: FenceToken): Promise<void> {
  const sentAt = monotonicMs();
  const current = await currentEpoch(pool, token, false);
  if (current !== token.epoch) throw fencedError(token, current);
  token.lease?.renew(sentAt);
}

/**
 * Waits out a previous owner's last lease before this owner reads or calls for the partition (src/core/call-lease.ts):
 * what that owner may still send has reached the server when this owner reads. Once per take; no wait after a first
 * take.
 */
export async function awaitTakeoverGrace(token: FenceToken | undefined): Promise<void> {
  const until = token?.graceUntil;
  if (until === undefined) return;
  const wait = until - monotonicMs();
  if (wait > 0) await new Promise((r) => setTimeout(r, Math.ceil(wait)));
  if (token!.graceUntil === until) delete token!.graceUntil;
}

/**
 * Inside a transaction: throws FencedError unless the token is current, and holds the partition's row FOR SHARE until
 * the transaction ends, so that no take commits between this check and the transaction's writes.
 */
export async function lockFenceShared(client: PoolClient, token: FenceToken): Promise<void> {
  const sentAt = monotonicMs();
  const current = await currentEpoch(client, token, true);
  if (current !== token.epoch) throw fencedError(token, current);
  token.lease?.renew(sentAt);
}

/** How long a fenced write's transaction may sit idle before the server ends it (see withFencedWrite). */
export const FENCE_WRITE_IDLE_MS = 10_000;

/**
 * One fenced write: in a transaction that first checks the partition's epoch and holds it FOR SHARE, so the write
 * commits only while this instance owns the partition (ledger writes, the invoice loader's write-ahead and outcome);
 * without a token, on the pool.
 */
export async function withFencedWrite<T>(
  pool: Pool,
  fence: FenceToken | undefined,
  fn: (q: Pick<PoolClient, 'query'>) => Promise<T>,
): Promise<T> {
  if (!fence) return fn(pool);
  const client = await pool.connect();
  let broken: unknown;
  // A session lost mid-transaction (see below) errors on the checked-out client: recorded, not an uncaught event.
  const onError = (e: unknown) => (broken ??= e);
  client.on('error', onError);
  try {
    // The FOR SHARE lock blocks the partition's next take. A process paused inside this transaction (SIGSTOP, a VM
    // freeze) would hold it, and so its partitions' new owner, for as long as it is paused: the server ends such a
    // transaction after FENCE_WRITE_IDLE_MS idle, which frees the take (the paused write then fails to commit).
    await client.query(`BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${FENCE_WRITE_IDLE_MS}`);
    try {
      await lockFenceShared(client, fence);
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch((re: unknown) => (broken = re));
      throw e;
    }
  } finally {
    client.off('error', onError);
    client.release(broken as Error | undefined);
  }
}

export class PgPartitionFence implements PartitionFence {
  private readonly takes = new Map<string, Promise<FenceToken>>();
  /** this process's last token of each partition (its lease tells when its calls end) */
  private readonly last = new Map<string, FenceToken>();
  private readonly log = componentLogger('fence');

  constructor(
    private readonly pool: Pool,
    private readonly groupId: string,
    /** who takes (logs, the row's `owner`): e.g. host and pid */
    private readonly owner: string,
    /** FENCE_LEASE_MS: how long a fence check is trusted for a call (src/core/call-lease.ts); 0 = no lease */
    private readonly leaseMs: number = DEFAULT_FENCE_LEASE_MS,
  ) {}

  assigned(assignment: Record<string, number[]>): void {
    for (const [topic, partitions] of Object.entries(assignment))
      for (const partition of partitions) {
        const t = this.take(topic, partition);
        // A take that fails (the database refusing connections) before a batch asks for its token must not be an
        // unhandled rejection, which ends the process: token() sees the failure and the next batch takes again.
        t.catch(() => undefined);
        this.takes.set(`${topic}/${partition}`, t);
      }
  }

  token(topic: string, partition: number): Promise<FenceToken> {
    const k = `${topic}/${partition}`;
    let t = this.takes.get(k);
    if (!t) {
      // a batch of a partition whose assignment was not seen (cannot happen with kafkajs' GROUP_JOIN): take it now
      t = this.take(topic, partition);
      this.takes.set(k, t);
    }
    // a failed take (database unavailable) is tried again by the partition's next batch
    return t.catch((e: unknown) => {
      if (this.takes.get(k) === t) this.takes.delete(k);
      throw e;
    });
  }

  retake(topic: string, partition: number, stale: FenceToken): Promise<FenceToken> | undefined {
    const k = `${topic}/${partition}`;
    if (this.last.get(k)?.epoch !== stale.epoch) return undefined;
    this.log.warn(
      `${topic}[${partition}] was taken by a late take of an earlier assignment (ours ${stale.epoch}); this member still holds it: taking it again`,
      { group: this.groupId },
    );
    const t = this.take(topic, partition);
    t.catch(() => undefined);
    this.takes.set(k, t);
    return t;
  }

  private async take(topic: string, partition: number): Promise<FenceToken> {
    const k = `${topic}/${partition}`;
    const mine = this.last.get(k);
    const r = await this.pool.query<{ epoch: string; previous_epoch: string | null }>(TAKE_SQL, [
      this.groupId,
      topic,
      partition,
      this.owner,
    ]);
    const token: FenceToken = { groupId: this.groupId, topic, partition, epoch: r.rows[0].epoch };
    if (this.leaseMs > 0) {
      token.lease = new CallLease(this.leaseMs, `${topic}[${partition}] of group ${this.groupId}`);
      const previous = r.rows[0].previous_epoch ?? null;
      // Replacing its own last take, this process knows when that take's lease ends; replacing another's (or a take
      // of this process it no longer knows, e.g. before a restart), a whole lease counted from after this take
      // committed: later than the take, as the previous owner's checks were earlier.
      const until =
        previous === null
          ? undefined
          : mine?.lease && mine.epoch === previous
            ? mine.lease.liveUntil + FENCE_GRACE_MARGIN_MS
            : monotonicMs() + this.leaseMs + FENCE_GRACE_MARGIN_MS;
      if (until !== undefined && until > monotonicMs()) token.graceUntil = until;
    }
    this.last.set(k, token);
    this.log.debug(`took ${topic}[${partition}] with epoch ${token.epoch}`, { group: this.groupId });
    return token;
  }
}
