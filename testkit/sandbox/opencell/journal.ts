/** One request as the sandbox received it, for test assertions. */
export interface JournalEntry {
  seq: number;
  /** Epoch ms (wall clock) when the request arrived. */
  time: number;
  method: string;
  /** Path below `/api/rest` (e.g. `/billing/subscription`); the full path for requests outside the API. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON body (or the raw text when it is not JSON); undefined when empty. */
  body: unknown;
  status: number;
  durationMs: number;
  /** the W3C `traceparent` header the caller sent, if any */
  traceparent?: string;
  /** the `Authorization` header the caller sent, if any (docs/parity.md K-client: Basic auth on every call) */
  authorization?: string;
  errorCode?: string;
  /** The fault injected into this request, if any. */
  fault?: string;
  /**
   * The caller hung up while the request was in flight (its connection closed before the answer was sent, e.g. the
   * calling process was killed while a latency rule held the request).
   */
  abandoned?: boolean;
  /** `applyThenTimeout`: the status of the answer the sandbox made (the change is done) and never sent. */
  withheldStatus?: number;
}

/**
 * A request that may change OpenCell's state: every method but GET, except the list queries OpenCell takes as POST
 * (`…/list`, `…/listGetAll`: paging and filters in the body; they read only). The catalogue's cache refresh and the
 * projector's reads are such queries.
 */
export function isStateChanging(e: Pick<JournalEntry, 'method' | 'path'>): boolean {
  return e.method !== 'GET' && !/\/list(GetAll)?$/.test(e.path);
}

export interface JournalFilter {
  method?: string;
  /** Exact path, or a RegExp tested against it. */
  path?: string | RegExp;
  /** Entries with seq > since. */
  since?: number;
}

export class Journal {
  private list: JournalEntry[] = [];
  private seq = 0;

  constructor(private readonly limit = 100_000) {}

  nextSeq(): number {
    return ++this.seq;
  }

  record(e: JournalEntry): void {
    this.list.push(e);
    if (this.list.length > this.limit) this.list.splice(0, Math.ceil(this.limit / 10));
  }

  entries(filter: JournalFilter = {}): JournalEntry[] {
    return this.list.filter(
      (e) =>
        (filter.method === undefined || e.method === filter.method.toUpperCase()) &&
        (filter.path === undefined ||
          (typeof filter.path === 'string' ? e.path === filter.path : filter.path.test(e.path))) &&
        (filter.since === undefined || e.seq > filter.since),
    );
  }

  /** The last entry's seq (use as `since` to look only at later requests). */
  get lastSeq(): number {
    return this.seq;
  }

  get size(): number {
    return this.list.length;
  }

  clear(): void {
    this.list = [];
  }
}
