/**
 * Requests made at about the same time, sent as one (issue 17: the projector's state-database round trips per
 * intent). The handlers of a fetched batch run concurrently (keyed consumer), so their replay checks, fence checks and
 * outcomes arrive together; each group of requests (a key: e.g. one partition's fencing epoch) has at most
 * `maxInFlight` batches in flight, and what arrives meanwhile leaves in the next one. A request that finds its group
 * idle leaves on the next turn of the event loop (setImmediate), with whatever arrived in the same turn.
 *
 * A request is always answered by a batch sent after it was made: a batch in flight takes no late joiner, so a read
 * (a fence check, a replay check) never answers with what the database held before it was asked.
 */

/** One request of a batch: `run` settles each (an entry it leaves unsettled is rejected with its error, if any). */
export interface Pending<Req, Res> {
  readonly req: Req;
  resolve(res: Res): void;
  reject(err: unknown): void;
}

export interface CoalescerOptions<Req> {
  /** Requests per batch at most (1: every request alone, as without coalescing). */
  maxBatch: number;
  /** Batches of one key in flight at once. */
  maxInFlight: number;
  /**
   * Whether `next` may join the batch being built (e.g. one statement cannot upsert a row twice); a refused request
   * and the ones after it leave in a later batch, in order.
   */
  accepts?: (batch: readonly Req[], next: Req) => boolean;
}

/**
 * A request waiting for its batch: settled once, and what `run` leaves unsettled is rejected after it — without a
 * wrapper entry and a `Set` entry per request (a replay's reads: thousands per fetched batch). `resolve` and `reject`
 * are bound (a `run` may destructure them).
 */
class Request<Req, Res> implements Pending<Req, Res> {
  settled = false;
  readonly resolve: (res: Res) => void;
  readonly reject: (err: unknown) => void;
  constructor(
    readonly req: Req,
    onResolve: (res: Res) => void,
    onReject: (err: unknown) => void,
  ) {
    this.resolve = (res) => {
      if (this.settled) return;
      this.settled = true;
      onResolve(res);
    };
    this.reject = (err) => {
      if (this.settled) return;
      this.settled = true;
      onReject(err);
    };
  }
}

interface Group<Req, Res> {
  queue: Request<Req, Res>[];
  inFlight: number;
  scheduled: boolean;
}

export class Coalescer<Req, Res> {
  private readonly groups = new Map<string, Group<Req, Res>>();

  constructor(
    private readonly run: (key: string, batch: readonly Pending<Req, Res>[]) => Promise<void>,
    private readonly opts: CoalescerOptions<Req>,
  ) {}

  submit(key: string, req: Req): Promise<Res> {
    let group = this.groups.get(key);
    if (!group) {
      group = { queue: [], inFlight: 0, scheduled: false };
      this.groups.set(key, group);
    }
    const g = group;
    return new Promise<Res>((resolve, reject) => {
      g.queue.push(new Request(req, resolve, reject));
      if (g.inFlight >= this.opts.maxInFlight || g.scheduled) return;
      if (this.opts.maxBatch <= 1) this.flush(key, g);
      else {
        g.scheduled = true;
        setImmediate(() => {
          g.scheduled = false;
          this.flush(key, g);
        });
      }
    });
  }

  private flush(key: string, g: Group<Req, Res>): void {
    while (g.inFlight < this.opts.maxInFlight && g.queue.length > 0) {
      const batch = this.take(g);
      g.inFlight++;
      void this.run(key, batch)
        .then(
          () => {
            for (const p of batch) if (!p.settled) p.reject(new Error('coalesced request left unanswered'));
          },
          (err: unknown) => {
            for (const p of batch) p.reject(err);
          },
        )
        .finally(() => {
          g.inFlight--;
          if (g.queue.length > 0) this.flush(key, g);
          else this.release(key, g);
        });
    }
    this.release(key, g);
  }

  /** Forgets an idle group (keys such as fencing epochs come and go). */
  private release(key: string, g: Group<Req, Res>): void {
    if (g.inFlight === 0 && g.queue.length === 0 && !g.scheduled && this.groups.get(key) === g)
      this.groups.delete(key);
  }

  private take(g: Group<Req, Res>): Request<Req, Res>[] {
    const q = g.queue;
    const max = Math.min(this.opts.maxBatch, q.length);
    let n = 1;
    const accepts = this.opts.accepts;
    if (accepts) {
      const reqs = [q[0].req];
      while (n < max && accepts(reqs, q[n].req)) reqs.push(q[n++].req);
    } else n = max;
    // one splice, not a shift per request (a queue of thousands: a fetched batch's reads)
    return q.splice(0, n);
  }
}
