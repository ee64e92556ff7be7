/**
 * The invoice poller: OpenCell invoices → InvoiceIssued outbox rows.
 *
 * Each poll reads every invoice date of a window [from, today + 1 + lookahead) one date at a time, each date page by
 * page in a stable order (sortBy id, ASCENDING: a late invoice gets a higher id, so it lands after the ones already
 * paged and shifts none of them) until a short or empty page — the total of the list response is not trusted, some
 * OpenCell versions omit it (docs/operations.md, "Invoice poller"). It skips the invoice numbers it already emitted,
 * reads each new invoice in full (lines, taxes, amounts: GET /invoice?includeTransactions=true), maps it to an event
 * with a stable id, and then — in ONE state-DB transaction per page — remembers the invoice (processed_event,
 * consumer = the poller's name), appends its outbox row and records its progress in the cursor (cursor_position).
 * The relay publishes the rows afterwards.
 *
 * The cursor keeps a watermark per invoice date (invoices listed, highest id, read completely or not) and
 * `windowEnd`: every date before it has been read completely. The next window starts `lookbackDays` before the
 * earlier of today and `windowEnd`: the last `lookbackDays` days are read again by every poll, so an invoice that
 * appears late, dated inside a window already polled (a billing run validated after its invoice date), is still
 * found. Dates older than that (up to `verifyDays`, 35) are checked with one call each (their highest invoice id
 * against the watermark) and read again when an invoice was issued on them since. A poll that fails on a date
 * leaves `windowEnd` at that date, so the next poll starts over there (pages
 * already committed are skipped, nothing after the failure is skipped) and a poller that was stopped for days
 * reads every date it missed.
 *
 * An invoice listed without a number is not validated yet (OpenCell numbers an invoice when it validates it): it is
 * not read, but counted (`unnumbered` of the poll result, one log line naming the ids) and kept in its date's mark,
 * so the date is not finished while the invoice waits. Its date is read again by every poll, inside the window and
 * after it left the window (the highest-id check below does not see a number being assigned, so a date that holds an
 * invoice waiting for its number is read whole), for as long as the date is within `verifyDays`: once validated,
 * the invoice is listed with its number and emitted once, as any other — as the original, which received invoices
 * once OpenCell had validated them. A date that leaves `verifyDays` while it still holds unnumbered invoices is out
 * of reach: the poller warns once, naming them, and reports them in `unnumberedPastLookback` (docs/operations.md
 * "Invoice poller" says what the operator does then).
 *
 * Re-polling a window emits nothing new: an invoice already remembered is skipped before it is even fetched, and
 * the insert into processed_event is the guard inside the transaction (ON CONFLICT DO NOTHING; only a newly
 * remembered invoice gets an outbox row). The outbox event id (stable per invoice number) is unique as well, and the
 * relay publishes only unpublished rows, so no second Kafka message appears either — also after the relay's
 * retention cleanup deleted the published row. Concurrent pollers with the same name serialise their transactions
 * on an advisory lock.
 */
import type { Pool, PoolClient } from 'pg';
import { MalformedEventError, OpenCellBusinessError, SyncError, errorCodeOf } from '../../domain/errors';
import { componentLogger, type Logger } from '../../core/log';
import { traceFromSeed, withTrace } from '../../core/trace';
import type { OpenCellClient } from '../../adapters/opencell/client';
import type { Invoice } from '../../domain/opencell/codecs';
import { validatePayload } from '../../domain/outbox/codecs';
import type { InvoiceIssuedEvent } from '../../domain/outbox/events';
import { outboxInsertManySql, outboxRowJson, outboxRowValues } from '../../adapters/postgres/outbox-store';
import { OutboxWakeup } from '../../adapters/postgres/outbox-wakeup';
import {
  invoiceEventFromOpenCell,
  invoiceEventId,
  type InvoiceMappingOptions,
} from '../../domain/invoices/invoice-event';

const DAY = 86_400_000;

export const DEFAULT_POLLER_NAME = 'invoice-poller';
/** Days before today every poll reads again (INVOICE_POLL_LOOKBACK_DAYS). */
export const DEFAULT_LOOKBACK_DAYS = 3;

/** What the poller knows of one invoice date. */
export interface InvoiceDayMark {
  /** invoices listed on that date by its last read */
  listed: number;
  /** highest invoice id listed */
  maxId?: number;
  /** the last read reached a short or empty page */
  complete: boolean;
  at: string;
  /**
   * Invoice ids listed without a number (not validated yet) by the last read: the date is not finished while any is
   * left, and is read again by every poll while it is within `verifyDays`.
   */
  unnumbered?: number[];
  /** Unnumbered invoice ids the poller gave up on when the date left `verifyDays` (warned once). */
  unnumberedPastLookback?: number[];
}

export interface InvoiceCursor {
  /** Every invoice date before this day (YYYY-MM-DD, exclusive) has been read completely. */
  windowEnd: string;
  /** Watermark per invoice date (the dates of the last window). */
  days?: Record<string, InvoiceDayMark>;
  lastPolledAt?: string;
  lastEmitted?: number;
}

export interface InvoicePollResult {
  window: { from: string; to: string };
  /** invoices listed in the window */
  listed: number;
  /** list pages read */
  pages: number;
  /**
   * dates before the window read again: an invoice was issued there since (late beyond the lookback), or the date
   * holds an invoice waiting for its number
   */
  reread: string[];
  /** new invoices appended to the outbox */
  emitted: number;
  /** already emitted earlier (overlap) */
  skipped: number;
  /** invoice numbers that cannot become an event (logged; retried by every poll of their window) */
  rejected: string[];
  /** ids of the invoices listed without a number (not validated yet; their dates are read again by the next polls) */
  unnumbered: number[];
  /** ids of unnumbered invoices whose date left `verifyDays` with this poll: no later poll reads them (warned) */
  unnumberedPastLookback: number[];
  eventIds: string[];
  invoiceNumbers: string[];
  cursor: InvoiceCursor;
  ms: number;
}

export type InvoiceSource = Pick<OpenCellClient, 'listInvoices' | 'getInvoiceByNumber'> &
  Partial<Pick<OpenCellClient, 'invoiceBillingRuns'>>;

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
  /** First window start (YYYY-MM-DD) when no cursor is persisted yet; default today − lookbackDays. */
  startDate?: string;
  /** Days before today (and before an unfinished window's end) that every poll reads again (default 3). */
  lookbackDays?: number;
  /**
   * Days before today whose per-date watermark is kept: a date older than the window is checked with one call per
   * poll (its highest invoice id) and read again when an invoice was issued on it since, or read whole while it holds
   * an invoice waiting for its number (default 35).
   */
  verifyDays?: number;
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
  /** Called after each page's transaction committed (tests and progress). */
  onPage?: (p: { date: string; offset: number; listed: number; emitted: number }) => void;
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayMs = (d: string) => Date.parse(`${d}T00:00:00Z`);

/**
 * The next window for a cursor (pure): from `lookbackDays` before the earlier of today and the cursor's
 * `windowEnd` (the first date not read completely), to the end of today + `lookaheadDays`.
 */
export function nextWindow(
  cursor: InvoiceCursor | null,
  now: number,
  o: { lookbackDays: number; lookaheadDays: number; startDate?: string },
): { from: string; to: string } {
  const today = dayMs(isoDay(now));
  const to = today + (1 + o.lookaheadDays) * DAY;
  const from = cursor
    ? Math.min(today, dayMs(cursor.windowEnd)) - o.lookbackDays * DAY
    : o.startDate
      ? dayMs(o.startDate)
      : today - o.lookbackDays * DAY;
  return { from: isoDay(Math.min(from, to - DAY)), to: isoDay(to) };
}

/** The dates of a window, in order. */
export function windowDays(w: { from: string; to: string }): string[] {
  const out: string[] = [];
  for (let d = dayMs(w.from); d < dayMs(w.to); d += DAY) out.push(isoDay(d));
  return out;
}

interface PollTotals {
  listed: number;
  pages: number;
  known: number;
  reread: string[];
  /** invoice id → date, of the invoices listed without a number */
  unnumbered: Map<number, string>;
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
    Omit<
      InvoicePollerOptions,
      'startDate' | 'onPoll' | 'onError' | 'onPage' | 'currency' | 'timeZone' | 'log'
    >
  > &
    InvoicePollerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  private noBillingRuns = false;
  private wakeupOf: OutboxWakeup | undefined;

  private get wakeup(): OutboxWakeup {
    return (this.wakeupOf ??= new OutboxWakeup(this.o.pool));
  }

  constructor(opts: InvoicePollerOptions) {
    this.log = opts.log ?? componentLogger('invoice-poller');
    this.o = {
      name: DEFAULT_POLLER_NAME,
      lookbackDays: DEFAULT_LOOKBACK_DAYS,
      verifyDays: 35,
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

  /**
   * One poll: every date of the window in order, each page by page; per page one transaction (remember, append,
   * record the date's progress). A failure stops the poll, keeps what was committed and leaves `windowEnd` at the
   * failed date, so the next poll resumes there.
   */
  async pollOnce(): Promise<InvoicePollResult> {
    const t0 = Date.now();
    const cursor = await this.cursor().catch((e: unknown) => {
      throw dbError(e, 'reading the cursor');
    });
    const window = nextWindow(cursor, this.o.now(), this.o);
    // Marks are kept for `verifyDays` (older dates are checked against them, below); the window's dates get fresh
    // ones as they are read.
    const verifyFrom = isoDay(dayMs(isoDay(this.o.now())) - this.o.verifyDays * DAY);
    const pastLookback: Array<{ id: number; date: string }> = [];
    const days: Record<string, InvoiceDayMark> = {};
    for (const [d, m] of Object.entries(cursor?.days ?? {})) {
      // before the verify range: the date is no longer read, so its unnumbered invoices are given up (warned below)
      if (d < window.from && d < verifyFrom) this.giveUpUnnumbered(d, m, pastLookback);
      if (d >= window.from || d >= verifyFrom) days[d] = m;
    }
    // warned before the cursor that forgets them is saved
    this.warnPastLookback(pastLookback, window);
    const next: InvoiceCursor = {
      windowEnd: cursor?.windowEnd ?? window.from,
      days,
      lastPolledAt: new Date(this.o.now()).toISOString(),
      lastEmitted: 0,
    };
    const totals: PollTotals = { listed: 0, pages: 0, known: 0, reread: [], unnumbered: new Map() };
    const emitted: InvoiceIssuedEvent[] = [];
    const rejected: string[] = [];
    try {
      // Dates older than the window, read completely before: a date holding an invoice that waits for its number is
      // read again whole (its number is not seen otherwise); for the others one call each (the highest id of the
      // date) tells whether an invoice was issued there since (late beyond the lookback): such a date is read again.
      for (const date of Object.keys(days).sort()) {
        const mark = days[date]!;
        if (date >= window.from || !mark.complete) continue;
        if ((mark.unnumbered?.length ?? 0) === 0) {
          const top = await this.o.opencell.listInvoices({
            from: date,
            to: isoDay(dayMs(date) + DAY),
            offset: 0,
            limit: 1,
            sortBy: 'id',
            sortOrder: 'DESCENDING',
          });
          totals.pages++;
          const topId = top.items[0]?.invoiceId;
          if (typeof topId !== 'number' || topId <= (mark.maxId ?? -1)) continue;
        }
        totals.reread.push(date);
        const fresh = await this.pollDay(date, next, totals, emitted, rejected);
        // those given up before (past the verify range of an earlier poller) stay given up, reported no more
        const gaveUp = new Set(mark.unnumberedPastLookback ?? []);
        if (gaveUp.size > 0) {
          const still = fresh.unnumbered ?? [];
          fresh.unnumbered = still.filter((id) => !gaveUp.has(id));
          if (fresh.unnumbered.length === 0) delete fresh.unnumbered;
          const kept = still.filter((id) => gaveUp.has(id));
          if (kept.length > 0) fresh.unnumberedPastLookback = kept;
          for (const id of kept) totals.unnumbered.delete(id);
        }
        days[date] = fresh;
        await this.saveCursor(next);
      }
      for (const date of windowDays(window)) {
        days[date] = await this.pollDay(date, next, totals, emitted, rejected);
        // Dates are read in order: every date up to this one is now read completely.
        const end = isoDay(dayMs(date) + DAY);
        if (end > next.windowEnd) next.windowEnd = end;
        await this.saveCursor(next);
      }
    } catch (e) {
      this.log.warn(`invoice poll stopped at ${next.windowEnd}; the next poll resumes there`, {
        window,
        emitted: emitted.length,
        code: errorCodeOf(e),
      });
      throw e;
    } finally {
      if (emitted.length > 0) this.wakeup.poke();
    }
    next.lastEmitted = emitted.length;
    await this.saveCursor(next);
    const unnumbered = [...totals.unnumbered.keys()].sort((a, b) => a - b);
    if (unnumbered.length > 0)
      this.log.info(
        `${unnumbered.length} OpenCell invoice(s) listed without a number (not validated yet), read again by the ` +
          `next polls while their date is within the last ${this.o.verifyDays} days: ${unnumbered.map((id) => `${id} (${totals.unnumbered.get(id)})`).join(', ')}`,
        { window, invoiceIds: unnumbered },
      );
    const result: InvoicePollResult = {
      window,
      listed: totals.listed,
      pages: totals.pages,
      reread: totals.reread,
      emitted: emitted.length,
      skipped: totals.known,
      rejected,
      unnumbered,
      unnumberedPastLookback: pastLookback.map((x) => x.id),
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

  private warnPastLookback(list: ReadonlyArray<{ id: number; date: string }>, window: object): void {
    if (list.length === 0) return;
    this.log.warn(
      `${list.length} OpenCell invoice(s) still without a number when their date left the last ${this.o.verifyDays} days: no later poll ` +
        `reads them; once validated in OpenCell, read their dates again (docs/operations.md "Invoice poller"): ` +
        list.map((x) => `${x.id} (${x.date})`).join(', '),
      { window, invoiceIds: list.map((x) => x.id), dates: [...new Set(list.map((x) => x.date))] },
    );
  }

  /**
   * A date before the verify range: its unnumbered invoices are read by no later poll, so they are moved to
   * `unnumberedPastLookback` (kept with the mark, so a later read of the date does not report them again).
   */
  private giveUpUnnumbered(
    date: string,
    mark: InvoiceDayMark,
    out: Array<{ id: number; date: string }>,
  ): void {
    const ids = mark.unnumbered ?? [];
    if (ids.length === 0) return;
    for (const id of ids) out.push({ id, date });
    mark.unnumberedPastLookback = [...new Set([...(mark.unnumberedPastLookback ?? []), ...ids])].sort(
      (a, b) => a - b,
    );
    delete mark.unnumbered;
  }

  /** Every page of one invoice date (stable order by id) until a short or empty page. */
  private async pollDay(
    date: string,
    cursor: InvoiceCursor,
    totals: PollTotals,
    emitted: InvoiceIssuedEvent[],
    rejected: string[],
  ): Promise<InvoiceDayMark> {
    const to = isoDay(dayMs(date) + DAY);
    const mark: InvoiceDayMark = { listed: 0, complete: false, at: new Date(this.o.now()).toISOString() };
    let offset = 0;
    for (;;) {
      const page = await this.o.opencell.listInvoices({
        from: date,
        to,
        offset,
        limit: this.o.pageSize,
        sortBy: 'id',
        sortOrder: 'ASCENDING',
      });
      totals.pages++;
      totals.listed += page.items.length;
      mark.listed += page.items.length;
      for (const i of page.items)
        if (typeof i.invoiceId === 'number' && (mark.maxId === undefined || i.invoiceId > mark.maxId))
          mark.maxId = i.invoiceId;
      const numbered = page.items.filter((i): i is Invoice & { invoiceNumber: string } =>
        Boolean(i.invoiceNumber),
      );
      // Not validated yet (OpenCell numbers an invoice when it validates it): kept in the mark, read again later.
      for (const i of page.items) {
        if (i.invoiceNumber || typeof i.invoiceId !== 'number') continue;
        (mark.unnumbered ??= []).push(i.invoiceId);
        totals.unnumbered.set(i.invoiceId, date);
      }
      const byNumber = new Map(numbered.map((i) => [i.invoiceNumber, i]));
      const known = await this.knownIds([...byNumber.keys()].map(invoiceEventId)).catch((e: unknown) => {
        throw dbError(e, 'reading emitted invoices');
      });
      const fresh = [...byNumber.values()].filter((i) => !known.has(invoiceEventId(i.invoiceNumber)));
      totals.known += byNumber.size - fresh.length;
      // with its billing run (Odoo billing_run_id), which InvoiceDto does not carry
      const { events, rejected: bad } = await this.readAll(fresh, await this.billingRuns(fresh));
      rejected.push(...bad);
      let n = 0;
      if (events.length > 0) {
        (cursor.days ??= {})[date] = mark; // the same object pollOnce saves
        const appended = await this.commitPage(events, cursor);
        emitted.push(...appended);
        n = appended.length;
      }
      this.o.onPage?.({ date, offset, listed: page.items.length, emitted: n });
      offset += page.items.length;
      // A full page may be followed by more: only a short or empty page ends the date (the total is optional).
      if (page.items.length < this.o.pageSize) break;
    }
    mark.complete = true;
    return mark;
  }

  /**
   * One transaction: remember each invoice, append its outbox row, save the cursor. A page costs the same few
   * statements whatever its size (issue 17 §3): one INSERT of every invoice's processed_event row, which returns those
   * not remembered before, then one INSERT of their outbox rows; a row per invoice made two round trips each.
   */
  private async commitPage(
    events: InvoiceIssuedEvent[],
    cursor: InvoiceCursor,
  ): Promise<InvoiceIssuedEvent[]> {
    const client = await this.o.pool.connect().catch((e: unknown) => {
      throw dbError(e, 'connecting');
    });
    try {
      // an invoice starts its own trace (src/core/trace.ts), the same for the same invoice number: its outbox row
      // carries it; a payload that does not match its schema fails the page before anything is written
      const rows = events.map((ev) =>
        withTrace(traceFromSeed(`invoice|${ev.invoiceNumber}`), () =>
          outboxRowValues({
            type: 'InvoiceIssued',
            topic: this.o.topic,
            aggregateType: 'invoice',
            aggregateId: ev.invoiceNumber,
            payload: ev,
          }),
        ),
      );
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`invoice-poller:${this.o.name}`]);
      const remembered = await client.query<{ event_id: string }>(
        `INSERT INTO processed_event (consumer, event_id, result)
         SELECT $1, e, r FROM unnest($2::text[], $3::jsonb[]) AS t(e, r)
         ON CONFLICT (consumer, event_id) DO NOTHING
         RETURNING event_id`,
        [
          this.o.name,
          events.map((ev) => ev.eventId),
          events.map((ev) =>
            JSON.stringify({ invoiceNumber: ev.invoiceNumber, invoiceDate: ev.invoiceDate }),
          ),
        ],
      );
      const fresh = new Set(remembered.rows.map((r) => r.event_id));
      const emitted = events.filter((ev) => fresh.has(ev.eventId));
      if (emitted.length > 0)
        await client.query(outboxInsertManySql(1), [
          `[${rows
            .filter((_, i) => fresh.has(events[i]!.eventId))
            .map((v) => outboxRowJson(v))
            .join(',')}]`,
        ]);
      await this.writeCursor(client, cursor);
      await client.query('COMMIT');
      return emitted;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw dbError(e, 'appending invoice events');
    } finally {
      client.release();
    }
  }

  private async saveCursor(cursor: InvoiceCursor): Promise<void> {
    await this.writeCursor(this.o.pool, cursor).catch((e: unknown) => {
      throw dbError(e, 'saving the cursor');
    });
  }

  private async writeCursor(db: Pick<Pool, 'query'> | PoolClient, cursor: InvoiceCursor): Promise<void> {
    await db.query(
      `INSERT INTO cursor_position (name, position, updated_at) VALUES ($1, $2::jsonb, now())
       ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
      [this.o.name, JSON.stringify(cursor)],
    );
  }

  private async knownIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const r = await this.o.pool.query<{ event_id: string }>(
      'SELECT event_id FROM processed_event WHERE consumer = $1 AND event_id = ANY($2::text[])',
      [this.o.name, ids],
    );
    return new Set(r.rows.map((x) => x.event_id));
  }

  /**
   * The billing runs of the new invoices (Odoo's billing_run_id). An OpenCell without the API v2 generic search
   * (before 7.x: 404) gives none: the invoices are still emitted, without a billing run (logged once).
   */
  private async billingRuns(fresh: Invoice[]): Promise<ReadonlyMap<number, string | null>> {
    const ids = fresh.map((i) => i.invoiceId).filter((id): id is number => typeof id === 'number');
    if (ids.length === 0 || !this.o.opencell.invoiceBillingRuns || this.noBillingRuns) return new Map();
    try {
      return await this.o.opencell.invoiceBillingRuns(ids);
    } catch (e) {
      if (!(e instanceof OpenCellBusinessError) || e.httpStatus !== 404) throw e;
      this.noBillingRuns = true;
      this.log.warn(
        `OpenCell has no API v2 generic search (${e.message}): invoices are loaded without billing run`,
      );
      return new Map();
    }
  }

  /** Reads the new invoices in full (bounded concurrency) and maps them; an invoice gone meanwhile is skipped. */
  private async readAll(
    fresh: Array<Invoice & { invoiceNumber: string }>,
    runs: ReadonlyMap<number, string | null>,
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
          const ev = invoiceEventFromOpenCell(full, this.o, runs.get(full.invoiceId) ?? null);
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
