/**
 * The invoice poller: OpenCell invoices → InvoiceIssued outbox rows.
 *
 * Each poll lists the invoices of a date window [cursor − overlap, today + lookahead) page by page through the
 * production OpenCell client, skips the invoice numbers it already emitted, reads each new invoice in full (lines,
 * taxes, amounts: GET /invoice?includeTransactions=true), maps it to an event with a stable id, and then — in ONE
 * state-DB transaction — remembers the invoice (processed_event, consumer = the poller's name), appends its
 * outbox row and advances the cursor (cursor_position). The relay publishes the rows afterwards.
 *
 * Re-polling an overlapping window emits nothing new: an invoice already remembered is skipped before it is even
 * fetched, and the insert into processed_event is the guard inside the transaction (ON CONFLICT DO NOTHING; only a
 * newly remembered invoice gets an outbox row). The outbox event id (stable per invoice number) is unique as well,
 * and the relay publishes only unpublished rows, so no second Kafka message appears either — also after the
 * relay's retention cleanup deleted the published row.
 *
 * The overlap (default 3 days) catches invoices that appear late in a window already polled (a billing run
 * validated after its invoice date). Concurrent pollers with the same name serialise on an advisory lock.
 */
import type { Pool, PoolClient } from 'pg';
import { MalformedEventError, SyncError, errorCodeOf } from '../../domain/errors';
import { componentLogger, type Logger } from '../../core/log';
import type { OpenCellClient } from '../../adapters/opencell/client';
import type { Invoice } from '../../domain/opencell/codecs';
import { validatePayload } from '../../domain/outbox/codecs';
import type { InvoiceIssuedEvent } from '../../domain/outbox/events';
import { appendOutbox } from '../../adapters/postgres/outbox-store';
import { OutboxWakeup } from '../../adapters/postgres/outbox-wakeup';
import {
  invoiceEventFromOpenCell,
  invoiceEventId,
  type InvoiceMappingOptions,
} from '../../domain/invoices/invoice-event';

const DAY = 86_400_000;

export const DEFAULT_POLLER_NAME = 'invoice-poller';

export interface InvoiceCursor {
  /** Exclusive end (YYYY-MM-DD) of the last polled window; the next window starts `overlapDays` before it. */
  windowEnd: string;
  lastPolledAt?: string;
  lastEmitted?: number;
}

export interface InvoicePollResult {
  window: { from: string; to: string };
  /** invoices listed in the window */
  listed: number;
  /** new invoices appended to the outbox */
  emitted: number;
  /** already emitted earlier (overlap) */
  skipped: number;
  /** invoice numbers that cannot become an event (logged; retried by every poll of their window) */
  rejected: string[];
  eventIds: string[];
  invoiceNumbers: string[];
  cursor: InvoiceCursor;
  ms: number;
}

export type InvoiceSource = Pick<OpenCellClient, 'listInvoices' | 'getInvoiceByNumber'>;

export interface InvoicePollerOptions extends InvoiceMappingOptions {
  /** The pipeline's state database (outbox, processed_event, cursor_position). */
  pool: Pool;
  opencell: InvoiceSource;
  /** The invoice events topic (config.topics.invoiceEvents). */
  topic: string;
  /** Cursor name and processed_event consumer (default 'invoice-poller'). */
  name?: string;
  /** Default: componentLogger('invoice-poller'). */
  log?: Logger;
  /** First window start (YYYY-MM-DD) when no cursor is persisted yet; default today − overlapDays. */
  startDate?: string;
  /** Safety margin: each window re-reads this many days before the last window's end (default 3). */
  overlapDays?: number;
  /** Days after today included in the window (clock skew, invoices dated tomorrow); default 1. */
  lookaheadDays?: number;
  /** OpenCell page size (default 100). */
  pageSize?: number;
  /** Parallel invoice reads (default 4). */
  concurrency?: number;
  /** Interval of `start()` (default 60 s). */
  intervalMs?: number;
  now?: () => number;
  onPoll?: (r: InvoicePollResult) => void;
  onError?: (e: unknown) => void;
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayMs = (d: string) => Date.parse(`${d}T00:00:00Z`);

/** The next window for a cursor (pure). */
export function nextWindow(
  cursor: InvoiceCursor | null,
  now: number,
  o: { overlapDays: number; lookaheadDays: number; startDate?: string },
): { from: string; to: string } {
  const today = dayMs(isoDay(now));
  const to = today + (1 + o.lookaheadDays) * DAY;
  const from = cursor
    ? dayMs(cursor.windowEnd) - o.overlapDays * DAY
    : o.startDate
      ? dayMs(o.startDate)
      : today - o.overlapDays * DAY;
  return { from: isoDay(Math.min(from, to - DAY)), to: isoDay(to) };
}

function dbError(e: unknown, what: string): SyncError {
  if (e instanceof SyncError) return e;
  return new SyncError('DATABASE', `invoice poller: ${what}: ${(e as Error).message}`, {
    retriable: true,
    cause: e,
  });
}

export class InvoicePoller {
  private readonly log: Logger;
  private readonly o: Required<
    Omit<InvoicePollerOptions, 'startDate' | 'onPoll' | 'onError' | 'currency' | 'timeZone' | 'log'>
  > &
    InvoicePollerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  private wakeupOf: OutboxWakeup | undefined;

  private get wakeup(): OutboxWakeup {
    return (this.wakeupOf ??= new OutboxWakeup(this.o.pool));
  }

  constructor(opts: InvoicePollerOptions) {
    this.log = opts.log ?? componentLogger('invoice-poller');
    this.o = {
      name: DEFAULT_POLLER_NAME,
      overlapDays: 3,
      lookaheadDays: 1,
      pageSize: 100,
      concurrency: 4,
      intervalMs: 60_000,
      now: Date.now,
      ...opts,
    };
  }

  get name(): string {
    return this.o.name;
  }

  /** The persisted cursor, or null before the first poll. */
  async cursor(): Promise<InvoiceCursor | null> {
    const r = await this.o.pool.query<{ position: InvoiceCursor }>(
      'SELECT position FROM cursor_position WHERE name = $1',
      [this.o.name],
    );
    return r.rows[0]?.position ?? null;
  }

  /** One poll: list the window, read and append the new invoices, advance the cursor (one transaction). */
  async pollOnce(): Promise<InvoicePollResult> {
    const t0 = Date.now();
    const cursor = await this.cursor().catch((e: unknown) => {
      throw dbError(e, 'reading the cursor');
    });
    const window = nextWindow(cursor, this.o.now(), this.o);

    // 1. list the window (headers only), page by page
    const listed: Invoice[] = [];
    for await (const inv of this.iterate(window)) listed.push(inv);
    const numbered = listed.filter((i): i is Invoice & { invoiceNumber: string } => Boolean(i.invoiceNumber));
    const byNumber = new Map(numbered.map((i) => [i.invoiceNumber, i]));

    // 2. skip what was already emitted
    const known = await this.knownIds([...byNumber.keys()].map(invoiceEventId)).catch((e: unknown) => {
      throw dbError(e, 'reading emitted invoices');
    });
    const fresh = [...byNumber.values()].filter((i) => !known.has(invoiceEventId(i.invoiceNumber)));

    // 3. read each new invoice in full and map it
    const { events, rejected } = await this.readAll(fresh);

    // 4. one transaction: remember, append, advance
    const newEnd = cursor && cursor.windowEnd > window.to ? cursor.windowEnd : window.to;
    const next: InvoiceCursor = {
      windowEnd: newEnd,
      lastPolledAt: new Date(this.o.now()).toISOString(),
      lastEmitted: 0,
    };
    const emitted: InvoiceIssuedEvent[] = [];
    const client = await this.o.pool.connect().catch((e: unknown) => {
      throw dbError(e, 'connecting');
    });
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`invoice-poller:${this.o.name}`]);
      for (const ev of events) {
        if (await this.remember(client, ev)) {
          await appendOutbox(client, {
            type: 'InvoiceIssued',
            topic: this.o.topic,
            aggregateType: 'invoice',
            aggregateId: ev.invoiceNumber,
            payload: ev,
          });
          emitted.push(ev);
        }
      }
      next.lastEmitted = emitted.length;
      await client.query(
        `INSERT INTO cursor_position (name, position, updated_at) VALUES ($1, $2::jsonb, now())
         ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
        [this.o.name, JSON.stringify(next)],
      );
      await client.query('COMMIT');
      if (emitted.length > 0) this.wakeup.poke();
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw dbError(e, 'appending invoice events');
    } finally {
      client.release();
    }
    const result: InvoicePollResult = {
      window,
      listed: listed.length,
      emitted: emitted.length,
      skipped: byNumber.size - emitted.length - rejected.length,
      rejected,
      eventIds: emitted.map((e) => e.eventId),
      invoiceNumbers: emitted.map((e) => e.invoiceNumber),
      cursor: next,
      ms: Date.now() - t0,
    };
    if (result.emitted > 0)
      this.log.info(`emitted ${result.emitted} invoice event(s)`, { window, listed: result.listed });
    this.o.onPoll?.(result);
    return result;
  }

  private async *iterate(window: { from: string; to: string }): AsyncGenerator<Invoice> {
    let offset = 0;
    for (;;) {
      const page = await this.o.opencell.listInvoices({
        from: window.from,
        to: window.to,
        offset,
        limit: this.o.pageSize,
        sortBy: 'id',
      });
      yield* page.items;
      offset += page.items.length;
      if (page.items.length === 0 || page.items.length < this.o.pageSize || offset >= page.total) return;
    }
  }

  private async knownIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const r = await this.o.pool.query<{ event_id: string }>(
      'SELECT event_id FROM processed_event WHERE consumer = $1 AND event_id = ANY($2::text[])',
      [this.o.name, ids],
    );
    return new Set(r.rows.map((x) => x.event_id));
  }

  private async remember(client: PoolClient, ev: InvoiceIssuedEvent): Promise<boolean> {
    const r = await client.query(
      `INSERT INTO processed_event (consumer, event_id, result) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (consumer, event_id) DO NOTHING`,
      [
        this.o.name,
        ev.eventId,
        JSON.stringify({ invoiceNumber: ev.invoiceNumber, invoiceDate: ev.invoiceDate }),
      ],
    );
    return (r.rowCount ?? 0) > 0;
  }

  /** Reads the new invoices in full (bounded concurrency) and maps them; an invoice gone meanwhile is skipped. */
  private async readAll(
    fresh: Array<Invoice & { invoiceNumber: string }>,
  ): Promise<{ events: InvoiceIssuedEvent[]; rejected: string[] }> {
    const out: Array<InvoiceIssuedEvent | undefined> = new Array(fresh.length);
    const rejected: string[] = [];
    let next = 0;
    const drain = async () => {
      while (next < fresh.length) {
        const i = next++;
        const head = fresh[i]!;
        const full = await this.o.opencell.getInvoiceByNumber(head.invoiceNumber, {
          invoiceType: head.invoiceType ?? 'COM',
          includeTransactions: true,
        });
        if (!full) {
          this.log.warn(`invoice ${head.invoiceNumber} listed but not found when read; next poll retries it`);
          continue;
        }
        try {
          const ev = invoiceEventFromOpenCell(full, this.o);
          const problems = validatePayload('InvoiceIssued', ev);
          if (problems.length > 0) {
            throw new MalformedEventError(
              'opencell:invoice',
              undefined,
              head.invoiceNumber,
              'event',
              problems.join('; '),
            );
          }
          out[i] = ev;
        } catch (e) {
          if (!(e instanceof MalformedEventError)) throw e;
          // One unmappable invoice must not hold back the others; it stays unremembered (and logged each poll).
          this.log.error(`invoice ${head.invoiceNumber} cannot become an event: ${e.message}`);
          rejected.push(head.invoiceNumber);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, fresh.length) }, drain));
    return { events: out.filter((e): e is InvoiceIssuedEvent => e !== undefined), rejected };
  }

  /** Polls now and then every `intervalMs` (a failed poll is logged and retried at the next tick). */
  start(): this {
    if (!this.stopped) return this;
    this.stopped = false;
    const tick = async () => {
      if (this.stopped) return;
      this.running = this.pollOnce().catch((e: unknown) => {
        this.log.warn(`invoice poll failed: ${(e as Error).message}`, { code: errorCodeOf(e) });
        this.o.onError?.(e);
      });
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.o.intervalMs);
    };
    void tick();
    return this;
  }

  /** Stops the interval and waits for a poll in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
