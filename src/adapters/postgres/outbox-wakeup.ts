/**
 * Wakes the outbox relay after outbox rows were committed: `NOTIFY outbox_pending` on a connection of its own,
 * outside the writer's transaction (a NOTIFY inside it would serialise every commit on PostgreSQL's notify lock).
 *
 * Pokes are coalesced: at most one NOTIFY in flight per process and at most one per `minIntervalMs`; pokes made
 * meanwhile cause exactly one more, as soon as allowed (a relay that is awake drains everything committed anyway).
 * A failed NOTIFY is only logged: the relay also polls, so a lost wake-up delays and loses nothing.
 */
import type { Pool } from 'pg';
import { componentLogger, type Logger } from '../../core/log';

export const OUTBOX_CHANNEL = 'outbox_pending';

export class OutboxWakeup {
  private busy = false;
  private again = false;
  /** NOTIFYs sent (for tests and metrics) */
  sent = 0;

  constructor(
    private readonly pool: Pick<Pool, 'query'>,
    private readonly minIntervalMs = 20,
    private readonly log: Logger = componentLogger('outbox'),
  ) {}

  /** Call after the commit that added outbox rows. Never throws, never waits. */
  poke(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.again = false;
    this.sent++;
    const started = Date.now();
    this.pool
      .query(`SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL])
      .catch((e: unknown) =>
        this.log.debug(
          `outbox wake-up failed (the relay's poll will pick the rows up): ${(e as Error).message}`,
        ),
      )
      .finally(() => {
        const release = () => {
          this.busy = false;
          if (this.again) this.poke();
        };
        const wait = this.minIntervalMs - (Date.now() - started);
        if (wait > 0) setTimeout(release, wait).unref();
        else release();
      });
  }
}
