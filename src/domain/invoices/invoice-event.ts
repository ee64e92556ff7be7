/**
 * OpenCell invoice → InvoiceIssuedEvent (pure). The event carries what the Odoo loader needs to build the invoice
 * like the original process (docs/behaviour.md §6): one line per rated transaction (product = the service /
 * one-shot code = Odoo `default_code`, subscription = Odoo contract code), with the sub-category's accounting code
 * and tax; amounts as decimal strings.
 */
import { MalformedEventError } from '../errors';
import type { Invoice } from '../opencell/codecs';
import type { InvoiceIssuedEvent } from '../outbox/events';
import { EVENT_ID_NAMESPACES, stableEventId } from '../outbox/event-ids';

export type InvoiceLine = InvoiceIssuedEvent['lines'][number];

export interface InvoiceMappingOptions {
  /** Currency of the invoices (OpenCell's invoice DTO does not carry it). Default EUR. */
  currency?: string;
  /** Time zone in which OpenCell's epoch-ms dates are calendar days. Default Europe/Madrid. */
  timeZone?: string;
}

/** The stable event id of an invoice: the same invoice number always gives the same id. */
export function invoiceEventId(invoiceNumber: string): string {
  return stableEventId(EVENT_ID_NAMESPACES.invoice, invoiceNumber);
}

const dayFormatters = new Map<string, Intl.DateTimeFormat>();

/** "YYYY-MM-DD" of an epoch-ms instant in `timeZone`. */
export function calendarDay(ms: number, timeZone = 'Europe/Madrid'): string {
  let f = dayFormatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dayFormatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** A number as a decimal string without exponent: at least 2 and at most 6 decimals ("24.71", "14.876", "-1.00"). */
export function decimalString(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite amount: ${n}`);
  let s = n.toFixed(6);
  s = s.replace(/0+$/, '');
  const [int, frac = ''] = s.split('.');
  const out = `${int}.${frac.padEnd(2, '0')}`;
  return /^-0\.0+$/.test(out) ? out.slice(1) : out;
}

/** Customer code of a Som Connexió billing account code "{ref}_{n}" (the legacy rule), else null. */
export function customerCodeOf(billingAccountCode: string): string | null {
  const m = /^(.+)_\d+$/.exec(billingAccountCode);
  return m ? m[1]! : null;
}

const malformed = (inv: Partial<Invoice>, field: string, reason: string) =>
  new MalformedEventError(
    'opencell:invoice',
    undefined,
    inv.invoiceNumber ?? String(inv.invoiceId ?? '?'),
    field,
    reason,
  );

/**
 * Maps one OpenCell invoice (as GET /invoice?includeTransactions=true returns it) to its InvoiceIssuedEvent.
 * Deterministic: the same invoice always gives the same event (id from the invoice number, occurredAt = the
 * invoice date), so a re-polled invoice is a duplicate by event id.
 *
 * Lines: one per rated transaction of each sub-category aggregate whose tax is unambiguous (a single
 * `amountByTax`); otherwise (no transactions listed, or several taxes in one sub-category) one line per
 * (sub-category, tax) without product and subscription. Zero-amount lines are kept here; the loader drops them.
 */
export function invoiceEventFromOpenCell(
  inv: Invoice,
  opts: InvoiceMappingOptions = {},
  /** The invoice's billing run: OpenCell's InvoiceDto has none, the poller reads it separately. */
  billingRunId: string | null = null,
): InvoiceIssuedEvent {
  const tz = opts.timeZone ?? 'Europe/Madrid';
  const invoiceNumber = inv.invoiceNumber ?? null;
  if (!invoiceNumber) throw malformed(inv, 'invoiceNumber', 'missing (the invoice is not validated yet)');
  const billingAccountCode = inv.billingAccountCode ?? null;
  if (!billingAccountCode) throw malformed(inv, 'billingAccountCode', 'missing');

  const lines: InvoiceLine[] = [];
  const subscriptions = new Set<string>();
  if (inv.subscriptionCode) subscriptions.add(inv.subscriptionCode);
  for (const cat of inv.categoryInvoiceAgregate ?? []) {
    for (const sub of cat.subCategoryInvoiceAgregateDto ?? []) {
      const byTax = sub.amountByTax ?? [];
      const singleTax = byTax.length <= 1 ? (byTax[0]?.tax ?? null) : undefined;
      const base = {
        categoryCode: cat.categoryInvoiceCode,
        subCategoryCode: sub.invoiceSubCategoryCode,
        accountingCode: sub.accountingCode ?? null,
      };
      const rts = sub.ratedTransaction ?? [];
      if (singleTax !== undefined && rts.length > 0) {
        for (const rt of rts) {
          if (rt.subscriptionCode) subscriptions.add(rt.subscriptionCode);
          lines.push({
            ...base,
            description: rt.description ?? sub.description ?? rt.code,
            taxCode: singleTax?.code ?? null,
            taxPercent: singleTax?.percent == null ? null : decimalString(singleTax.percent),
            productCode: rt.serviceInstanceCode ?? rt.code,
            subscriptionCode: rt.subscriptionCode ?? null,
            quantity: decimalString(rt.quantity ?? 1),
            unitAmountWithoutTax: decimalString(rt.unitAmountWithoutTax ?? rt.amountWithoutTax),
            amountWithoutTax: decimalString(rt.amountWithoutTax),
            amountTax: decimalString(rt.amountTax),
            amountWithTax: decimalString(rt.amountWithTax),
          });
        }
        continue;
      }
      const parts =
        byTax.length > 0
          ? byTax.map((a) => ({ ...a, tax: a.tax ?? null }))
          : [
              {
                amountWithoutTax: sub.amountWithoutTax,
                amountTax: sub.amountTax,
                amountWithTax: sub.amountWithTax,
                tax: null,
              },
            ];
      for (const p of parts) {
        lines.push({
          ...base,
          description: sub.description ?? sub.invoiceSubCategoryCode,
          taxCode: p.tax?.code ?? null,
          taxPercent: p.tax?.percent == null ? null : decimalString(p.tax.percent),
          productCode: null,
          subscriptionCode: null,
          quantity: '1.00',
          unitAmountWithoutTax: decimalString(p.amountWithoutTax),
          amountWithoutTax: decimalString(p.amountWithoutTax),
          amountTax: decimalString(p.amountTax),
          amountWithTax: decimalString(p.amountWithTax),
        });
      }
    }
  }

  return {
    eventId: invoiceEventId(invoiceNumber),
    occurredAt: inv.invoiceDate,
    invoiceNumber,
    invoiceId: inv.invoiceId,
    invoiceType: inv.invoiceType ?? 'COM',
    invoiceDate: calendarDay(inv.invoiceDate, tz),
    dueDate: inv.dueDate == null ? null : calendarDay(inv.dueDate, tz),
    billingAccountCode,
    // Som Connexió's hierarchy (crmAccountHierarchy CA_UA) gives the CA, BA and UA one code: the contract group's.
    customerAccountCode: billingAccountCode,
    customerCode: customerCodeOf(billingAccountCode),
    subscriptionCodes: [...subscriptions].sort(),
    currency: opts.currency ?? 'EUR',
    amountWithoutTax: decimalString(inv.amountWithoutTax),
    amountTax: decimalString(inv.amountTax),
    amountWithTax: decimalString(inv.amountWithTax),
    lines,
    pdfAvailable: Boolean(inv.pdfFilename || inv.pdf),
    billingRunId,
  };
}
