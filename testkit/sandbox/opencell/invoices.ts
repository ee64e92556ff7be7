import type {
  InvoiceSubCategoryEntry,
  OneShotChargeTemplateEntry,
  ServiceTemplateEntry,
  TaxEntry,
} from './sandbox-catalog';
import { q, qBool, success, type Ctx } from './context';
import { invalid, missing, notFound, notFoundMsg } from './errors';
import { applyPaging, pagingFrom, type FieldMap } from './filters';
import { FetchPdfSchema, GenericPagingSchema, parseObject } from './schemas';
import type {
  BillingAccountRec,
  CategoryAggRec,
  InvoiceRec,
  Json,
  OneShotInstanceRec,
  RatedTransactionRec,
  SandboxState,
  SubCategoryAggRec,
  TaxAggRec,
} from './state';
import { compact, DAY, isoDay, monthStart, parseOcDate, round2, seededRandom, startOfDay } from './util';

// ------------------------------------------------------------------------------------------------ invoice building

interface Line {
  subCategory: InvoiceSubCategoryEntry;
  rt: Omit<RatedTransactionRec, 'amountTax' | 'amountWithTax'>;
}

const cents = (n: number) => Math.round(n * 100);

/** One month of a service at its template's price, as the synthetic billing runs rate it. */
function monthlyLine(
  tpl: { code: string; description?: string; monthlyPrice: number },
  subCategory: InvoiceSubCategoryEntry,
  period: { periodStart: number; periodEnd: number },
  userAccountCode: string,
  subscriptionCode: string,
): Line {
  return {
    subCategory,
    rt: {
      code: tpl.code,
      description: tpl.description ?? tpl.code,
      unitAmountWithoutTax: tpl.monthlyPrice,
      quantity: 1,
      amountWithoutTax: round2(tpl.monthlyPrice),
      usageDate: period.periodStart,
      startDate: period.periodStart,
      endDate: period.periodEnd,
      userAccountCode,
      subscriptionCode,
      serviceInstanceCode: tpl.code,
    },
  };
}

function taxFor(
  state: SandboxState,
  ba: { country?: string } | undefined,
  sc: InvoiceSubCategoryEntry,
): TaxEntry {
  const countryTax = ba?.country
    ? state.catalog.tradingCountries.find((c) => c.code === ba.country)?.taxCode
    : undefined;
  const code = countryTax ?? sc.taxCode;
  return state.index.get<TaxEntry>('Tax', code) ?? { code, percent: 0 };
}

function buildInvoice(
  state: SandboxState,
  opts: {
    billingAccountCode: string;
    ba?: BillingAccountRec;
    lines: Line[];
    invoiceDate: number;
    periodStart?: number;
    periodEnd?: number;
    now: number;
    withPdf: boolean;
    billingRunId: number;
    sellerCode: string;
    paymentMethod?: string;
  },
): InvoiceRec {
  const cats = new Map<string, CategoryAggRec>();
  const subs = new Map<string, SubCategoryAggRec>();
  const taxes = new Map<string, TaxAggRec>();
  const totals = { wo: 0, tax: 0 };
  for (const { subCategory: sc, rt } of opts.lines) {
    const tax = taxFor(state, opts.ba, sc);
    const wo = cents(rt.amountWithoutTax);
    const tx = Math.round((wo * tax.percent) / 100);
    const full: RatedTransactionRec = {
      ...rt,
      amountWithoutTax: wo / 100,
      amountTax: tx / 100,
      amountWithTax: (wo + tx) / 100,
    };
    const catEntry = state.index.get('InvoiceCategory', sc.category);
    let cat = cats.get(sc.category);
    if (!cat) {
      cat = {
        categoryInvoiceCode: sc.category,
        description: catEntry?.description ?? sc.category,
        userAccountCode: rt.userAccountCode,
        itemNumber: 0,
        amountWithoutTax: 0,
        amountTax: 0,
        amountWithTax: 0,
        subCategoryInvoiceAgregateDto: [],
      };
      cats.set(sc.category, cat);
    }
    let sub = subs.get(sc.code);
    if (!sub) {
      sub = {
        invoiceSubCategoryCode: sc.code,
        description: sc.description ?? sc.code,
        accountingCode: sc.accountingCode,
        userAccountCode: rt.userAccountCode,
        itemNumber: 0,
        amountWithoutTax: 0,
        amountTax: 0,
        amountWithTax: 0,
        amountByTax: [],
        ratedTransaction: [],
      };
      subs.set(sc.code, sub);
      cat.subCategoryInvoiceAgregateDto.push(sub);
    }
    let byTax = sub.amountByTax.find((a) => a.tax.code === tax.code);
    if (!byTax) {
      byTax = {
        amountWithoutTax: 0,
        amountTax: 0,
        amountWithTax: 0,
        tax: compact({ code: tax.code, description: tax.description, percent: tax.percent }),
      };
      sub.amountByTax.push(byTax);
    }
    let tagg = taxes.get(tax.code);
    if (!tagg) {
      tagg = compact({
        taxCode: tax.code,
        taxPercent: tax.percent,
        description: tax.description,
        accountingCode: tax.accountingCode,
        itemNumber: 0,
        amountWithoutTax: 0,
        amountTax: 0,
        amountWithTax: 0,
      });
      taxes.set(tax.code, tagg);
    }
    for (const agg of [cat, sub, byTax, tagg]) {
      agg.amountWithoutTax = (cents(agg.amountWithoutTax) + wo) / 100;
      agg.amountTax = (cents(agg.amountTax) + tx) / 100;
      agg.amountWithTax = (cents(agg.amountWithTax) + wo + tx) / 100;
    }
    cat.itemNumber++;
    sub.itemNumber++;
    tagg.itemNumber++;
    sub.ratedTransaction.push(full);
    totals.wo += wo;
    totals.tax += tx;
  }
  const seq = state.nextInvoiceSeq();
  const year = new Date(opts.invoiceDate).getUTCFullYear();
  const invoiceNumber = `${state.catalog.invoicing.numberPrefix}${year}-${String(seq).padStart(7, '0')}`;
  const amountWithTax = (totals.wo + totals.tax) / 100;
  return {
    invoiceId: 100_000 + seq,
    invoiceNumber,
    invoiceType: 'COM',
    billingAccountCode: opts.billingAccountCode,
    sellerCode: opts.sellerCode,
    invoiceDate: opts.invoiceDate,
    dueDate: opts.invoiceDate + state.catalog.invoicing.dueDateDelayDays * DAY,
    startDate: opts.periodStart,
    endDate: opts.periodEnd,
    status: 'VALIDATED',
    statusDate: opts.now,
    paymentStatus: 'PENDING',
    paymentMethod: opts.paymentMethod,
    amountWithoutTax: totals.wo / 100,
    amountTax: totals.tax / 100,
    amountWithTax,
    netToPay: amountWithTax,
    dueBalance: amountWithTax,
    categoryInvoiceAgregate: [...cats.values()].sort((a, b) =>
      a.categoryInvoiceCode.localeCompare(b.categoryInvoiceCode),
    ),
    taxAggregate: [...taxes.values()].sort((a, b) => a.taxCode.localeCompare(b.taxCode)),
    hasPdf: opts.withPdf,
    pdfDate: opts.withPdf ? opts.now : undefined,
    billingRunId: opts.billingRunId,
  };
}

export interface BillingRunOptions {
  /** Invoice date (default: today on the sandbox clock). */
  invoiceDate?: number | string;
  /** Billed period [periodStart, periodEnd); default: the calendar month before the invoice date. */
  periodStart?: number | string;
  periodEnd?: number | string;
  /** Only billing accounts of this billing cycle. */
  billingCycle?: string;
  /** Produce the PDFs now (default true); otherwise reads answer "no PDF yet" until asked to generate. */
  withPdf?: boolean;
  /**
   * Validate the run's invoices now (default true). false: each invoice is a draft (status `DRAFT`) listed without
   * `invoiceNumber`, as OpenCell numbers an invoice only when it validates it; `validateInvoices` validates them.
   */
  validate?: boolean;
}

export interface BillingRunResult {
  billingRunId: number;
  invoiceCount: number;
  /** the numbers of the run's validated invoices (none for a run left in draft) */
  invoiceNumbers: string[];
  /** the ids of the run's invoices, in the order of `invoiceNumbers` for a validated run */
  invoiceIds: number[];
  amountWithTax: number;
}

/** The number a draft gets when it is validated (reserved when it is built, so numbers follow the ids). */
const draftNumbers = new WeakMap<InvoiceRec, string>();

/** Keeps `inv` as a draft: listed and read by id, without number, status DRAFT. */
function addDraft(state: SandboxState, inv: InvoiceRec): void {
  draftNumbers.set(inv, inv.invoiceNumber);
  const rec = inv as unknown as Record<string, unknown>;
  delete rec.invoiceNumber;
  rec.status = 'DRAFT';
  state.invoices.push(inv);
  state.invoicesById.set(inv.invoiceId, inv);
}

/**
 * Validates draft invoices (OpenCell's invoice validation): each gets its number and status VALIDATED, keeping its
 * id and invoice date; from then on it is listed with its number and read by number. Returns the numbers, in order.
 */
export function validateInvoices(state: SandboxState, now: number, invoiceIds: readonly number[]): string[] {
  return invoiceIds.map((id) => {
    const inv = state.invoicesById.get(id);
    if (!inv) throw notFound('Invoice', id, 'id');
    const number = draftNumbers.get(inv);
    if (number === undefined) throw invalid(`Invoice ${id} is not a draft`);
    draftNumbers.delete(inv);
    inv.invoiceNumber = number;
    inv.status = 'VALIDATED';
    inv.statusDate = now;
    state.invoicesByNumber.set(`${inv.invoiceType}|${number}`, inv);
    return number;
  });
}

const dateOpt = (v: number | string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const ms = parseOcDate(v);
  if (ms === undefined) throw invalid(`Invalid value '${String(v)}' for field ${name}`);
  return ms;
};

/**
 * Issues one invoice per billing account that has something to bill: recurring service charges pro rata over the
 * period (never billing the same days twice) and every unbilled one-shot up to the period end.
 */
export function billingRun(state: SandboxState, now: number, opts: BillingRunOptions = {}): BillingRunResult {
  const invoiceDate = startOfDay(dateOpt(opts.invoiceDate, 'invoiceDate') ?? now);
  const periodEnd = dateOpt(opts.periodEnd, 'periodEnd') ?? monthStart(invoiceDate);
  const periodStart = dateOpt(opts.periodStart, 'periodStart') ?? monthStart(periodEnd - 1);
  if (periodEnd <= periodStart) throw invalid('periodEnd must be after periodStart');
  const periodLength = periodEnd - periodStart;
  const billingRunId = ++state.billingRunSeq;
  const idx = state.index;
  const created: InvoiceRec[] = [];
  for (const ba of state.billingAccounts.values()) {
    if (opts.billingCycle && ba.billingCycle !== opts.billingCycle) continue;
    const lines: Line[] = [];
    const billed: OneShotInstanceRec[] = [];
    for (const ua of state.userAccountsOf(ba.code)) {
      for (const sub of state.subscriptionsOf(ua.code)) {
        for (const si of sub.services) {
          if (si.status === 'INACTIVE' || si.status === 'CANCELED') continue;
          const tpl = idx.get<ServiceTemplateEntry>('ServiceTemplate', si.code);
          const sc = tpl && idx.get<InvoiceSubCategoryEntry>('InvoiceSubCategory', tpl.invoiceSubCategory);
          if (!tpl || !sc) continue;
          const from = Math.max(periodStart, si.subscriptionDate, si.billedUntil ?? -Infinity);
          const to = Math.min(periodEnd, si.terminationDate ?? Infinity);
          if (to <= from) continue;
          const quantity = si.quantity;
          const amount = round2((tpl.monthlyPrice * quantity * (to - from)) / periodLength);
          si.billedUntil = to;
          lines.push({
            subCategory: sc,
            rt: {
              code: si.code,
              description: tpl.description ?? si.code,
              unitAmountWithoutTax: tpl.monthlyPrice,
              quantity,
              amountWithoutTax: amount,
              usageDate: from,
              startDate: from,
              endDate: to,
              userAccountCode: ua.code,
              subscriptionCode: sub.code,
              serviceInstanceCode: si.code,
            },
          });
        }
        for (const os of sub.oneShots) {
          if (os.status !== 'OPEN' || os.operationDate >= periodEnd) continue;
          const tpl = idx.get<OneShotChargeTemplateEntry>('OneShotChargeTemplate', os.code);
          const sc = tpl && idx.get<InvoiceSubCategoryEntry>('InvoiceSubCategory', tpl.invoiceSubCategory);
          if (!sc) continue;
          lines.push({
            subCategory: sc,
            rt: {
              code: os.code,
              description: os.description ?? os.code,
              unitAmountWithoutTax: os.unitAmountWithoutTax,
              quantity: os.quantity,
              amountWithoutTax: round2(os.amountWithoutTax),
              usageDate: os.operationDate,
              userAccountCode: ua.code,
              subscriptionCode: sub.code,
            },
          });
          os.status = 'BILLED';
          billed.push(os);
        }
      }
    }
    if (lines.length === 0) continue;
    const ca = state.customerAccounts.get(ba.customerAccount);
    const customer = ca && state.customers.get(ca.customer);
    const inv = buildInvoice(state, {
      billingAccountCode: ba.code,
      ba,
      lines,
      invoiceDate,
      periodStart,
      periodEnd,
      now,
      withPdf: opts.withPdf !== false,
      billingRunId,
      sellerCode: customer?.seller ?? state.catalog.sellers[0]?.code ?? 'SC',
      paymentMethod: ca?.methodOfPayment.find((m) => m.preferred)?.paymentMethodType,
    });
    for (const os of billed) os.invoiceId = inv.invoiceId;
    if (opts.validate === false) addDraft(state, inv);
    else state.addInvoice(inv);
    created.push(inv);
  }
  return {
    billingRunId,
    invoiceCount: created.length,
    invoiceNumbers: opts.validate === false ? [] : created.map((i) => i.invoiceNumber),
    invoiceIds: created.map((i) => i.invoiceId),
    amountWithTax: created.reduce((s, i) => s + cents(i.amountWithTax), 0) / 100,
  };
}

export interface SyntheticInvoiceOptions {
  count: number;
  invoiceDate?: number | string;
  /** Billing accounts to spread the invoices over; default: the existing ones, else `${100000+i}_0`. */
  billingAccountCodes?: string[];
  seed?: number;
  withPdf?: boolean;
  /**
   * The subscription a billing account's lines are rated on, by billing account code (an invoice of a contract the
   * loader knows, so its lines are linked to it); default: synthetic codes `SYN-<invoice>-<line>`.
   */
  subscriptionCodes?: Record<string, string>;
}

/** Bulk invoices with realistic aggregates (for load tests of the invoice import: 10,000 in well under a second). */
export function generateSyntheticInvoices(
  state: SandboxState,
  now: number,
  opts: SyntheticInvoiceOptions,
): BillingRunResult {
  if (!Number.isInteger(opts.count) || opts.count < 0 || opts.count > 1_000_000)
    throw invalid('count must be an integer from 0 to 1000000');
  const invoiceDate = startOfDay(dateOpt(opts.invoiceDate, 'invoiceDate') ?? now);
  const periodEnd = monthStart(invoiceDate);
  const periodStart = monthStart(periodEnd - 1);
  const rnd = seededRandom(opts.seed ?? 42);
  const codes = opts.billingAccountCodes?.length
    ? opts.billingAccountCodes
    : [...state.billingAccounts.keys()];
  const services = state.catalog.serviceTemplates;
  const oneShots = state.catalog.oneShotChargeTemplates.filter((o) => o.price > 0);
  const billingRunId = ++state.billingRunSeq;
  const numbers: string[] = [];
  const ids: number[] = [];
  let total = 0;
  for (let i = 0; i < opts.count; i++) {
    const baCode = codes.length ? codes[i % codes.length]! : `${100000 + i}_0`;
    const ba = state.billingAccounts.get(baCode);
    const lines: Line[] = [];
    const nServices = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < nServices; k++) {
      const tpl = services[Math.floor(rnd() * services.length)]!;
      const sc = state.index.get<InvoiceSubCategoryEntry>('InvoiceSubCategory', tpl.invoiceSubCategory);
      if (!sc) continue;
      lines.push(
        monthlyLine(
          tpl,
          sc,
          { periodStart, periodEnd },
          baCode,
          opts.subscriptionCodes?.[baCode] ?? `SYN-${i + 1}-${k + 1}`,
        ),
      );
    }
    if (oneShots.length && rnd() < 0.2) {
      const tpl = oneShots[Math.floor(rnd() * oneShots.length)]!;
      const sc = state.index.get<InvoiceSubCategoryEntry>('InvoiceSubCategory', tpl.invoiceSubCategory);
      if (sc) {
        lines.push({
          subCategory: sc,
          rt: {
            code: tpl.code,
            description: tpl.description ?? tpl.code,
            unitAmountWithoutTax: tpl.price,
            quantity: 1,
            amountWithoutTax: round2(tpl.price),
            usageDate: periodStart + DAY,
            userAccountCode: baCode,
            subscriptionCode: opts.subscriptionCodes?.[baCode] ?? `SYN-${i + 1}-1`,
          },
        });
      }
    }
    const inv = buildInvoice(state, {
      billingAccountCode: baCode,
      ba,
      lines,
      invoiceDate,
      periodStart,
      periodEnd,
      now,
      withPdf: opts.withPdf !== false,
      billingRunId,
      sellerCode: state.catalog.sellers[0]?.code ?? 'SC',
      paymentMethod: 'DIRECTDEBIT',
    });
    state.addInvoice(inv);
    numbers.push(inv.invoiceNumber);
    ids.push(inv.invoiceId);
    total += cents(inv.amountWithTax);
  }
  return {
    billingRunId,
    invoiceCount: numbers.length,
    invoiceNumbers: numbers,
    invoiceIds: ids,
    amountWithTax: total / 100,
  };
}

export interface MalformedInvoiceOptions {
  /**
   * The field the planted invoice lacks: `invoiceNumber` (OpenCell numbers an invoice when it is validated, so a
   * draft is listed without one) or `billingAccountCode`.
   */
  missing: 'invoiceNumber' | 'billingAccountCode';
  /** Invoice date (default: today on the sandbox clock). */
  invoiceDate?: number | string;
}

export interface MalformedInvoice {
  invoiceId: number;
  /** null when the number is the missing field */
  invoiceNumber: string | null;
}

/**
 * Plants one invoice lacking `missing` (docs/parity.md I-validation), otherwise as a billing run issues it: one
 * recurring line of the catalog's first service. Listed and read like any other; an invoice without number cannot
 * be read by number.
 */
export function plantMalformedInvoice(
  state: SandboxState,
  now: number,
  opts: MalformedInvoiceOptions,
): MalformedInvoice {
  const invoiceDate = startOfDay(dateOpt(opts.invoiceDate, 'invoiceDate') ?? now);
  const periodEnd = monthStart(invoiceDate);
  const periodStart = monthStart(periodEnd - 1);
  const tpl = state.catalog.serviceTemplates[0];
  const sc = tpl && state.index.get<InvoiceSubCategoryEntry>('InvoiceSubCategory', tpl.invoiceSubCategory);
  if (!tpl || !sc) throw invalid('the catalog has no service template with an invoice sub-category');
  const inv = buildInvoice(state, {
    billingAccountCode: 'MALFORMED_0',
    lines: [monthlyLine(tpl, sc, { periodStart, periodEnd }, 'MALFORMED_0', 'MALFORMED')],
    invoiceDate,
    periodStart,
    periodEnd,
    now,
    withPdf: true,
    billingRunId: ++state.billingRunSeq,
    sellerCode: state.catalog.sellers[0]?.code ?? 'SC',
  });
  // The record's type has both fields; the answers leave out an undefined one (compact).
  const rec = inv as unknown as Record<string, unknown>;
  if (opts.missing === 'invoiceNumber') {
    addDraft(state, inv);
    return { invoiceId: inv.invoiceId, invoiceNumber: null };
  }
  delete rec.billingAccountCode;
  state.addInvoice(inv);
  return { invoiceId: inv.invoiceId, invoiceNumber: inv.invoiceNumber };
}

// ------------------------------------------------------------------------------------------------ PDF

/** A small but valid single-page PDF describing the invoice (built on demand; not stored). */
export function invoicePdf(inv: InvoiceRec): Buffer {
  const esc = (s: string) => s.replace(/[\\()]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, '?');
  const rows = [
    `Som Connexio - Invoice ${inv.invoiceNumber}`,
    `Billing account: ${inv.billingAccountCode}`,
    `Invoice date: ${isoDay(inv.invoiceDate)}   Due date: ${isoDay(inv.dueDate)}`,
    ...inv.categoryInvoiceAgregate.flatMap((c) =>
      c.subCategoryInvoiceAgregateDto.flatMap((s) =>
        s.ratedTransaction.map((rt) => `${rt.code}  ${rt.amountWithoutTax.toFixed(2)} EUR`),
      ),
    ),
    `Total without tax: ${inv.amountWithoutTax.toFixed(2)} EUR`,
    `Tax: ${inv.amountTax.toFixed(2)} EUR`,
    `Total: ${inv.amountWithTax.toFixed(2)} EUR`,
  ];
  const content = `BT /F1 11 Tf 50 790 Td 14 TL ${rows.map((r) => `(${esc(r)}) '`).join(' ')} ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

// ------------------------------------------------------------------------------------------------ API

function outInvoice(inv: InvoiceRec, opts: { transactions: boolean; pdf: boolean }): Json {
  const { hasPdf, billingRunId: _r, categoryInvoiceAgregate, ...rest } = inv;
  return compact({
    ...rest,
    pdfFilename: hasPdf ? `invoice_${inv.invoiceNumber}.pdf` : undefined,
    pdf: opts.pdf && hasPdf ? invoicePdf(inv).toString('base64') : undefined,
    categoryInvoiceAgregate: categoryInvoiceAgregate.map((c) => ({
      ...c,
      subCategoryInvoiceAgregateDto: c.subCategoryInvoiceAgregateDto.map((s) =>
        opts.transactions ? s : { ...s, ratedTransaction: undefined },
      ),
    })),
    checkAlreadySent: false,
    sentByEmail: false,
    discountAmount: 0,
  });
}

const INVOICE_FIELDS: FieldMap<InvoiceRec> = {
  id: { type: 'number', get: (i) => i.invoiceId },
  invoiceNumber: { type: 'string', get: (i) => i.invoiceNumber },
  invoiceDate: { type: 'date', get: (i) => i.invoiceDate },
  dueDate: { type: 'date', get: (i) => i.dueDate },
  status: { type: 'string', get: (i) => i.status },
  paymentStatus: { type: 'string', get: (i) => i.paymentStatus },
  invoiceType: { type: 'string', get: (i) => i.invoiceType },
  'invoiceType.code': { type: 'string', get: (i) => i.invoiceType },
  billingAccount: { type: 'string', get: (i) => i.billingAccountCode },
  'billingAccount.code': { type: 'string', get: (i) => i.billingAccountCode },
  seller: { type: 'string', get: (i) => i.sellerCode },
  'seller.code': { type: 'string', get: (i) => i.sellerCode },
  amountWithTax: { type: 'number', get: (i) => i.amountWithTax },
  amountWithoutTax: { type: 'number', get: (i) => i.amountWithoutTax },
};

export function listInvoices(method: 'GET' | 'POST') {
  return (ctx: Ctx): unknown => {
    const req = pagingFrom(ctx, method);
    // Sorted by the requested field (default id, the order of creation: a late invoice comes last), then paged.
    const { page, paging } = applyPaging(ctx.state.invoices, req, INVOICE_FIELDS, 'id');
    if (ctx.state.omitListTotal) delete paging.totalNumberOfRecords;
    const fields = (req.fields ?? '').split(',').map((f) => f.trim());
    const opts = { transactions: fields.includes('transactions'), pdf: fields.includes('pdf') };
    return { actionStatus: success(), paging, invoices: page.map((i) => outInvoice(i, opts)) };
  };
}

function findInvoice(
  ctx: Ctx,
  id: string | number | undefined,
  number: string | undefined,
  type: string | undefined,
): InvoiceRec {
  if (id === undefined && number === undefined) missingIdOrNumber();
  if (id !== undefined) {
    const inv = ctx.state.invoicesById.get(Number(id));
    if (!inv) throw notFound('Invoice', id, 'id');
    return inv;
  }
  if (type !== undefined && !ctx.state.index.has('InvoiceType', type)) throw notFound('InvoiceType', type);
  const inv = type === undefined ? undefined : ctx.state.invoicesByNumber.get(`${type}|${number}`);
  if (!inv)
    throw notFoundMsg(
      `Invoice with invoiceNumber=${number} and/or invoiceType=${type ?? 'null'} does not exists.`,
    );
  return inv;
}

function missingIdOrNumber(): never {
  throw missing(['id ,or, invoiceNumber']);
}

/** GET /invoice?id= | invoiceNumber=&invoiceType= (11.x: the type is required with a number). */
export function getInvoice(ctx: Ctx): unknown {
  const inv = findInvoice(ctx, q(ctx, 'id'), q(ctx, 'invoiceNumber'), q(ctx, 'invoiceType'));
  const includePdf = qBool(ctx, 'includePdf');
  if (includePdf && !inv.hasPdf) {
    inv.hasPdf = true;
    inv.pdfDate = ctx.now;
  }
  return {
    actionStatus: success(),
    invoice: outInvoice(inv, { transactions: qBool(ctx, 'includeTransactions'), pdf: includePdf }),
  };
}

function pdfResponse(ctx: Ctx, inv: InvoiceRec, generate: boolean): unknown {
  if (!inv.hasPdf && generate) {
    inv.hasPdf = true;
    inv.pdfDate = ctx.now;
  }
  // 11.x+: no PDF yet and not asked to generate → 200 SUCCESS without pdfContent.
  return inv.hasPdf
    ? { actionStatus: success(), pdfContent: invoicePdf(inv).toString('base64') }
    : { actionStatus: success() };
}

export function fetchPdfInvoice(ctx: Ctx): unknown {
  const dto = parseObject(FetchPdfSchema, ctx.body);
  const inv = findInvoice(
    ctx,
    dto.id as number | undefined,
    dto.invoiceNumber as string | undefined,
    (dto.invoiceType as string | undefined) ?? 'COM',
  );
  return pdfResponse(ctx, inv, dto.generatePdf === true);
}

export function getPdfInvoice(ctx: Ctx): unknown {
  const inv = findInvoice(ctx, q(ctx, 'invoiceId'), q(ctx, 'invoiceNumber'), q(ctx, 'invoiceType') ?? 'COM');
  return pdfResponse(ctx, inv, qBool(ctx, 'generatePdf'));
}

/** GET /invoice/getPdfInvoiceWithType?invoiceId=&invoiceNumber=&invoiceType= (10.x+): as getPdfInvoice, typed. */
export function getPdfInvoiceWithType(ctx: Ctx): unknown {
  const inv = findInvoice(ctx, q(ctx, 'invoiceId'), q(ctx, 'invoiceNumber'), q(ctx, 'invoiceType') ?? 'COM');
  return pdfResponse(ctx, inv, qBool(ctx, 'generatePdf'));
}

/**
 * GET /invoice/listInvoiceByCustomerAccount?customerAccountCode=: every invoice of the account's billing accounts,
 * under the capitalised key `CustomerInvoiceDtoList` (CustomerInvoicesResponse).
 */
export function listInvoicesByCustomerAccount(ctx: Ctx): unknown {
  const code = q(ctx, 'customerAccountCode');
  if (!code) throw missing(['customerAccountCode']);
  if (!ctx.state.customerAccounts.has(code)) throw notFound('CustomerAccount', code);
  const bas = new Set(ctx.state.billingAccountsOf(code).map((ba) => ba.code));
  const pdf = qBool(ctx, 'returnPdf');
  return {
    actionStatus: success(),
    CustomerInvoiceDtoList: ctx.state.invoices
      .filter((i) => bas.has(i.billingAccountCode))
      .map((i) => outInvoice(i, { transactions: false, pdf })),
  };
}

/**
 * POST /v2/generic/all/invoice (API v2 generic search, 7.x+): `{total, limit, offset, data}`; each row has `id` and
 * the `genericFields` asked for, an entity reference as `{id}` (the billing run). Filters served: `id` and
 * `invoiceNumber`, equal or `inList`.
 */
export function listInvoicesGeneric(ctx: Ctx): unknown {
  const dto = parseObject(GenericPagingSchema, ctx.body ?? {});
  let rows = ctx.state.invoices;
  for (const [key, value] of Object.entries((dto.filters ?? {}) as Record<string, unknown>)) {
    const m = /^(?:(inList)\s+)?(id|invoiceNumber)$/.exec(key.trim());
    if (!m) throw invalid(`Invalid filter ${key} (the sandbox serves id and invoiceNumber)`);
    const wanted = new Set(
      (Array.isArray(value) ? value : m[1] ? String(value).split(',') : [value]).map((v) => String(v).trim()),
    );
    rows = rows.filter((i) => wanted.has(m[2] === 'id' ? String(i.invoiceId) : i.invoiceNumber));
  }
  const offset = Number(dto.offset ?? 0);
  const limit = Number(dto.limit ?? 100);
  const fields = new Set((dto.genericFields as string[] | undefined) ?? []);
  const row = (i: InvoiceRec): Record<string, unknown> => {
    const all: Record<string, unknown> = {
      id: i.invoiceId,
      invoiceNumber: i.invoiceNumber,
      invoiceDate: i.invoiceDate,
      amountWithTax: i.amountWithTax,
      billingRun: { id: i.billingRunId },
    };
    if (fields.size === 0) return all;
    return Object.fromEntries(Object.entries(all).filter(([k]) => k === 'id' || fields.has(k)));
  };
  return { total: rows.length, limit, offset, data: rows.slice(offset, offset + limit).map(row) };
}
