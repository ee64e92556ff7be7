/** One JSON-RPC call as the sandbox received it, for test assertions. Never holds a password. */
export interface OdooJournalEntry {
  seq: number;
  /** Epoch ms when the call arrived. */
  time: number;
  service: string;
  /** RPC method: login, version, execute_kw, … */
  rpcMethod: string;
  /** For execute_kw: the model method (search_read, create, action_post, …); otherwise the RPC method. */
  method: string;
  model?: string;
  db?: string;
  uid?: number;
  /** For login/authenticate. */
  login?: string;
  /** Positional args after the credentials (execute_kw: the method's args; login: none). */
  args: unknown[];
  kwargs: Record<string, unknown>;
  outcome: 'ok' | 'error' | 'fault';
  /** error.data.name when the call failed. */
  errorName?: string;
  errorMessage?: string;
  httpStatus: number;
  durationMs: number;
  fault?: string;
  /** the W3C `traceparent` header the caller sent, if any */
  traceparent?: string;
}

export interface OdooJournalFilter {
  service?: string;
  method?: string;
  model?: string;
  /** Entries with seq > since. */
  since?: number;
}

export class OdooJournal {
  private list: OdooJournalEntry[] = [];
  private seq = 0;

  constructor(private readonly limit = 100_000) {}

  nextSeq(): number {
    return ++this.seq;
  }

  record(e: OdooJournalEntry): void {
    this.list.push(e);
    if (this.list.length > this.limit) this.list.splice(0, Math.ceil(this.limit / 10));
  }

  entries(filter: OdooJournalFilter = {}): OdooJournalEntry[] {
    return this.list.filter(
      (e) =>
        (filter.service === undefined || e.service === filter.service) &&
        (filter.method === undefined || e.method === filter.method || e.rpcMethod === filter.method) &&
        (filter.model === undefined || e.model === filter.model) &&
        (filter.since === undefined || e.seq > filter.since),
    );
  }

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
