import { userError, validationError } from './errors';
import {
  applyX2many,
  assertVals,
  ensureExist,
  getModel,
  insertRow,
  mandatoryError,
  splitVals,
  updateRows,
  type Env,
  type Vals,
} from './orm';

/**
 * account.move / account.move.line as Odoo 16 computes them for invoices: product lines carry price_subtotal /
 * price_total (percent taxes on the subtotal, rounded per line), the move gets one tax line per tax and one
 * payment-term (receivable) line so that it balances, and the header totals amount_untaxed / amount_tax /
 * amount_total / amount_residual (+ signed variants). Draft moves are named '/', `action_post` gives them the
 * journal sequence name `{CODE}/{YYYY}/{NNNNN}`.
 */

const MOVE = () => getModel('account.move');
const LINE = () => getModel('account.move.line');

export const INVOICE_TYPES = new Set([
  'out_invoice',
  'out_refund',
  'in_invoice',
  'in_refund',
  'out_receipt',
  'in_receipt',
]);
export const SALE_TYPES = new Set(['out_invoice', 'out_refund', 'out_receipt']);
const ACCOUNTABLE = new Set(['product']);
export const INVOICE_LINE_TYPES = new Set(['product', 'line_section', 'line_note']);

/** Odoo's float_round to the currency's 0.01, half away from zero. */
export function round2(x: number): number {
  const s = x < 0 ? -1 : 1;
  return (s * Math.round(Math.abs(x) * 100 + 1e-7)) / 100;
}

/** -1 when product lines are credits (customer invoices, vendor refunds), +1 otherwise. */
export function directionSign(moveType: string): number {
  return ['out_invoice', 'out_receipt', 'in_refund'].includes(moveType) ? -1 : 1;
}

export const todayUtc = () => new Date().toISOString().slice(0, 10);

export interface MoveRow {
  id: number;
  name: string | null;
  ref: string | null;
  state: string;
  move_type: string;
  journal_id: number;
  company_id: number | null;
  currency_id: number;
  partner_id: number | null;
  commercial_partner_id: number | null;
  date: string;
  invoice_date: string | null;
  invoice_date_due: string | null;
  payment_reference: string | null;
}

/** The columns of an account.move row its lines and totals are computed from (loadMove, and RETURNING of a create). */
export const MOVE_ROW_SQL = `id, name, ref, state, move_type, journal_id, company_id, currency_id, partner_id, commercial_partner_id,
            to_char(date, 'YYYY-MM-DD') AS date, to_char(invoice_date, 'YYYY-MM-DD') AS invoice_date,
            to_char(invoice_date_due, 'YYYY-MM-DD') AS invoice_date_due, payment_reference`;

async function loadMove(env: Env, id: number): Promise<MoveRow | undefined> {
  const r = await env.db.query<MoveRow>(`SELECT ${MOVE_ROW_SQL} FROM account_move WHERE id = $1`, [id]);
  return r.rows[0];
}

export interface JournalRow {
  id: number;
  code: string;
  type: string;
  company_id: number;
  currency_id: number | null;
  default_account_id: number | null;
  company_currency_id: number;
}

const JOURNAL_SQL = `SELECT j.id, j.code, j.type, j.company_id, j.currency_id, j.default_account_id, c.currency_id AS company_currency_id
       FROM account_journal j JOIN res_company c ON c.id = j.company_id`;

async function loadJournal(env: Env, id: number): Promise<JournalRow | undefined> {
  const r = await env.db.query<JournalRow>(`${JOURNAL_SQL} WHERE j.id = $1`, [id]);
  return r.rows[0];
}

/** The journals of `ids`, in one statement. */
export async function loadJournals(env: Env, ids: number[]): Promise<Map<number, JournalRow>> {
  const r = await env.db.query<JournalRow>(`${JOURNAL_SQL} WHERE j.id = ANY($1::int[])`, [ids]);
  return new Map(r.rows.map((j) => [j.id, j]));
}

export function fkError(model: string, description: string, constraint: string) {
  return validationError(
    'The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\n' +
      `Model: ${description} (${model})\nConstraint: ${constraint}`,
  );
}

export async function defaultJournal(env: Env, moveType: string): Promise<number | null> {
  const type = SALE_TYPES.has(moveType) ? 'sale' : INVOICE_TYPES.has(moveType) ? 'purchase' : 'general';
  const r = await env.db.query<{ id: number }>(
    `SELECT id FROM account_journal WHERE type = $1 AND active IS NOT FALSE ORDER BY sequence, id LIMIT 1`,
    [type],
  );
  if (!r.rows[0] && type !== 'general') {
    throw userError(`No journal could be found in company for any of those types: ${type}`);
  }
  return r.rows[0]?.id ?? null;
}

export interface PartnerInfo {
  commercial: number;
  display: string;
}

async function partnerInfo(env: Env, partnerId: number | null): Promise<PartnerInfo | null> {
  if (!partnerId) return null;
  return (await partnerInfos(env, [partnerId])).get(partnerId) ?? null;
}

/** The commercial partner and display name of each partner of `ids` (absent ones are left out), in one statement. */
export async function partnerInfos(env: Env, ids: number[]): Promise<Map<number, PartnerInfo>> {
  const r = await env.db.query<{ id: number; c: number | null; n: string | null }>(
    `SELECT id, commercial_partner_id AS c, COALESCE(display_name, name) AS n FROM res_partner WHERE id = ANY($1::int[])`,
    [ids],
  );
  return new Map(r.rows.map((x) => [x.id, { commercial: x.c ?? x.id, display: x.n ?? '' }]));
}

export interface ProductInfo {
  price: string | null;
  uom: number | null;
  label: string;
}

/** The list price, unit and line label of each product of `ids`, in one statement. */
export async function productInfos(env: Env, ids: number[]): Promise<Map<number, ProductInfo>> {
  const r = await env.db.query<ProductInfo & { id: number }>(
    `SELECT p.id, t.list_price AS price, t.uom_id AS uom,
            CASE WHEN p.default_code IS NOT NULL THEN '[' || p.default_code || '] ' ELSE '' END
              || COALESCE(t.name->>'${env.lang}', t.name->>'en_US', '') AS label
       FROM product_product p JOIN product_template t ON t.id = p.product_tmpl_id WHERE p.id = ANY($1::int[])`,
    [ids],
  );
  return new Map(r.rows.map(({ id, ...info }) => [id, info]));
}

// ------------------------------------------------------------------------------------------------ create

function lineHooks(moveId: number) {
  void moveId;
  return {
    create: (e: Env, vals: Vals) => insertLine(e, vals),
    write: (e: Env, ids: number[], vals: Vals) => writeLinesRaw(e, ids, vals),
  };
}

/** The move type a create gets: its vals, else the context's `default_move_type`, else 'entry'. */
export function moveTypeOf(env: Env, cols: Record<string, unknown>): string {
  return (
    (cols.move_type as string | null) ?? (env.context.default_move_type as string | undefined) ?? 'entry'
  );
}

/**
 * Completes a new move's columns from its journal and partner (company, currency, date, draft state and name,
 * partner fields, due date); answers whether the vals asked for it posted (it is posted after its lines).
 */
export function moveHeader(
  cols: Record<string, unknown>,
  moveType: string,
  journal: JournalRow,
  partner: PartnerInfo | null,
): boolean {
  cols.company_id = journal.company_id;
  cols.currency_id = cols.currency_id ?? journal.currency_id ?? journal.company_currency_id;
  cols.date = cols.date ?? cols.invoice_date ?? todayUtc();
  const wantPosted = cols.state === 'posted';
  cols.state = 'draft';
  if (cols.name === undefined || cols.name === null) cols.name = '/';
  if (partner) {
    cols.commercial_partner_id = partner.commercial;
    cols.invoice_partner_display_name = partner.display;
  }
  if (
    INVOICE_TYPES.has(moveType) &&
    (cols.invoice_date_due === undefined || cols.invoice_date_due === null)
  ) {
    cols.invoice_date_due = cols.invoice_date ?? cols.date;
  }
  cols.payment_state = 'not_paid';
  cols.auto_post = cols.auto_post ?? 'no';
  return wantPosted;
}

export async function createMove(env: Env, raw: unknown): Promise<number> {
  const M = MOVE();
  const vals = assertVals(raw, 'create');
  const { cols, x2m } = splitVals(env, M, vals);
  const moveType = moveTypeOf(env, cols);
  cols.move_type = moveType;
  if (cols.journal_id === undefined || cols.journal_id === null)
    cols.journal_id = await defaultJournal(env, moveType);
  if (cols.journal_id === null) throw mandatoryError(M, 'journal_id');
  const journal = await loadJournal(env, cols.journal_id as number);
  if (!journal) throw fkError(M.name, M.description, 'account_move_journal_id_fkey');
  const wantPosted = moveHeader(
    cols,
    moveType,
    journal,
    await partnerInfo(env, (cols.partner_id as number | null) ?? null),
  );
  const id = await insertRow(env, M, cols);
  for (const [name, cmds] of x2m) await applyX2many(env, M, id, name, cmds, lineHooks(id));
  await recompute(env, id);
  if (wantPosted) await actionPost(env, [id]);
  return id;
}

/** The display type a new line gets (product unless its vals say otherwise). */
export function lineDisplayType(cols: Record<string, unknown>): string {
  return (cols.display_type as string | null) ?? 'product';
}

/**
 * Completes a new line's columns from its vals (`raw`: what was given, as opposed to defaulted), its move, its
 * journal and its product (when it is a product line with one): label, price and unit from the product, quantity,
 * account, the move's header fields, and the balance of a journal entry's line.
 */
export function lineColumns(
  raw: Vals,
  cols: Record<string, unknown>,
  move: MoveRow,
  journal: JournalRow | undefined,
  product: ProductInfo | undefined,
): void {
  const displayType = lineDisplayType(cols);
  cols.display_type = displayType;
  if (displayType === 'product') {
    if (product) {
      if (!('price_unit' in raw)) cols.price_unit = Number(product.price ?? 0);
      if (!('name' in raw)) cols.name = product.label;
      if (!('product_uom_id' in raw)) cols.product_uom_id = product.uom;
    }
    if (!('quantity' in raw)) cols.quantity = 1;
    if (!('account_id' in raw) || cols.account_id === null)
      cols.account_id = cols.account_id ?? journal?.default_account_id ?? null;
    if (!('discount' in raw)) cols.discount = 0;
  } else if (INVOICE_LINE_TYPES.has(displayType)) {
    cols.account_id = null;
    cols.quantity = 0;
    cols.price_unit = 0;
  }
  if (!('partner_id' in raw)) cols.partner_id = move.commercial_partner_id ?? move.partner_id;
  Object.assign(cols, {
    currency_id: move.currency_id,
    journal_id: move.journal_id,
    company_id: move.company_id,
    company_currency_id: journal?.company_currency_id ?? move.currency_id,
    date: move.date,
    move_name: move.name,
    parent_state: move.state,
    ref: move.ref,
  });
  if (cols.sequence === undefined) cols.sequence = 10;
  if (move.move_type === 'entry') {
    const debit = Number(cols.debit ?? 0);
    const credit = Number(cols.credit ?? 0);
    const balance = 'balance' in raw ? Number(cols.balance ?? 0) : round2(debit - credit);
    Object.assign(cols, {
      balance,
      debit: Math.max(balance, 0),
      credit: Math.max(-balance, 0),
      amount_currency: balance,
    });
  }
}

/** Inserts one account.move.line (no recompute of its move). */
async function insertLine(env: Env, raw: Vals): Promise<number> {
  const L = LINE();
  const { cols, x2m } = splitVals(env, L, raw);
  const moveId = cols.move_id as number | null | undefined;
  if (!moveId) throw mandatoryError(L, 'move_id');
  const move = await loadMove(env, moveId);
  if (!move) throw fkError(L.name, L.description, 'account_move_line_move_id_fkey');
  if (move.state === 'posted')
    throw userError(`You cannot modify a posted entry (${move.name}); reset it to draft first.`);
  const journal = await loadJournal(env, move.journal_id);
  let product: ProductInfo | undefined;
  if (lineDisplayType(cols) === 'product' && cols.product_id) {
    product = (await productInfos(env, [cols.product_id as number])).get(cols.product_id as number);
    if (!product) throw fkError(L.name, L.description, 'account_move_line_product_id_fkey');
  }
  lineColumns(raw, cols, move, journal, product);
  const id = await insertRow(env, L, cols);
  for (const [name, cmds] of x2m) await applyX2many(env, L, id, name, cmds);
  return id;
}

async function writeLinesRaw(env: Env, ids: number[], raw: Vals): Promise<void> {
  const L = LINE();
  await ensureExist(env, L, ids, true);
  const posted = await env.db.query<{ name: string }>(
    `SELECT m.name FROM account_move_line l JOIN account_move m ON m.id = l.move_id WHERE l.id = ANY($1::int[]) AND m.state = 'posted' LIMIT 1`,
    [ids],
  );
  if (posted.rows[0])
    throw userError(`You cannot modify a posted entry (${posted.rows[0].name}); reset it to draft first.`);
  const { cols, x2m } = splitVals(env, L, raw);
  delete cols.move_id;
  if (Object.keys(cols).length) await updateRows(env, L, ids, cols);
  for (const id of ids) for (const [name, cmds] of x2m) await applyX2many(env, L, id, name, cmds);
}

/** `account.move.line` create: the line, then its move's totals. */
export async function createLine(env: Env, raw: unknown): Promise<number> {
  const id = await insertLine(env, assertVals(raw, 'create'));
  const r = await env.db.query<{ move_id: number }>(`SELECT move_id FROM account_move_line WHERE id = $1`, [
    id,
  ]);
  await recompute(env, r.rows[0].move_id);
  return id;
}

export async function writeLines(env: Env, ids: number[], raw: unknown): Promise<void> {
  await writeLinesRaw(env, ids, assertVals(raw, 'write'));
  const r = await env.db.query<{ move_id: number }>(
    `SELECT DISTINCT move_id FROM account_move_line WHERE id = ANY($1::int[])`,
    [ids],
  );
  for (const m of r.rows) await recompute(env, m.move_id);
}

// ------------------------------------------------------------------------------------------------ write

const POSTED_LOCKED = new Set([
  'line_ids',
  'invoice_line_ids',
  'partner_id',
  'journal_id',
  'date',
  'invoice_date',
  'currency_id',
  'move_type',
]);

export async function writeMove(env: Env, ids: number[], raw: unknown): Promise<void> {
  const M = MOVE();
  const vals = assertVals(raw, 'write');
  await ensureExist(env, M, ids, true);
  const { cols, x2m } = splitVals(env, M, vals);
  const locked = Object.keys(vals).filter((k) => POSTED_LOCKED.has(k));
  if (locked.length) {
    const posted = await env.db.query<{ id: number; name: string }>(
      `SELECT id, name FROM account_move WHERE id = ANY($1::int[]) AND state = 'posted' LIMIT 1`,
      [ids],
    );
    if (posted.rows[0]) {
      throw userError(`You cannot modify a posted entry (${posted.rows[0].name}); reset it to draft first.`);
    }
  }
  if ('state' in cols) {
    if (cols.state === 'posted') throw userError('Use action_post to post a journal entry.');
    if (cols.state === 'draft') cols.posted_before = true;
  }
  if ('partner_id' in cols) {
    const partner = await partnerInfo(env, (cols.partner_id as number | null) ?? null);
    cols.commercial_partner_id = partner?.commercial ?? null;
    cols.invoice_partner_display_name = partner?.display ?? null;
  }
  if ('journal_id' in cols && cols.journal_id !== null) {
    const j = await loadJournal(env, cols.journal_id as number);
    if (!j) throw fkError(M.name, M.description, 'account_move_journal_id_fkey');
    cols.company_id = j.company_id;
  }
  if ('invoice_date' in cols && cols.invoice_date && !('date' in cols)) cols.date = cols.invoice_date;
  if (Object.keys(cols).length) await updateRows(env, M, ids, cols);
  for (const id of ids) {
    for (const [name, cmds] of x2m) await applyX2many(env, M, id, name, cmds, lineHooks(id));
    await syncLineHeaders(env, id);
    await recompute(env, id);
  }
}

async function syncLineHeaders(env: Env, moveId: number): Promise<void> {
  await env.db.query(
    `UPDATE account_move_line l SET date = m.date, journal_id = m.journal_id, company_id = m.company_id,
            currency_id = m.currency_id, move_name = m.name, parent_state = m.state, ref = m.ref,
            partner_id = COALESCE(m.commercial_partner_id, m.partner_id, l.partner_id)
       FROM account_move m WHERE m.id = $1 AND l.move_id = m.id`,
    [moveId],
  );
}

// ------------------------------------------------------------------------------------------------ totals

export interface TaxRow {
  line_id: number;
  tax_id: number;
  amount: string;
  amount_type: string;
  price_include: boolean | null;
  tax_group_id: number;
  type_tax_use: string;
  name: string;
  sequence: number;
}

/** An invoice's product line as its amounts are computed from. */
export interface ProductLineRow {
  id: number;
  quantity: string | null;
  price_unit: string | null;
  discount: string | null;
}

export interface InvoiceAmounts {
  /** per product line (in the lines' order) */
  lines: Array<{ id: number; subtotal: number; total: number; balance: number }>;
  /** per tax, in the order the lines first use them */
  perTax: Map<number, { tax: TaxRow; amount: number; base: number }>;
  untaxed: number;
  taxTotal: number;
  total: number;
}

/**
 * An invoice's amounts from its product lines (ordered by sequence, id) and each line's taxes (ordered by the
 * tax's sequence, id): subtotals (percent taxes included in the price taken out), taxes rounded per line.
 */
export function invoiceAmounts(
  lines: ProductLineRow[],
  taxesOf: Map<number, TaxRow[]>,
  sign: number,
): InvoiceAmounts {
  const perTax = new Map<number, { tax: TaxRow; amount: number; base: number }>();
  const out: InvoiceAmounts['lines'] = [];
  let untaxed = 0;
  let taxTotal = 0;
  for (const l of lines) {
    const qty = Number(l.quantity ?? 0);
    const gross = qty * Number(l.price_unit ?? 0) * (1 - Number(l.discount ?? 0) / 100);
    const taxes = taxesOf.get(l.id) ?? [];
    const inclPct = taxes
      .filter((t) => t.price_include && t.amount_type === 'percent')
      .reduce((s, t) => s + Number(t.amount), 0);
    const subtotal = round2(inclPct ? gross / (1 + inclPct / 100) : gross);
    let lineTax = 0;
    for (const t of taxes) {
      const rate = Number(t.amount);
      let amt: number;
      if (t.amount_type === 'fixed') amt = round2(rate * qty);
      else if (t.amount_type === 'division')
        amt = round2(rate >= 100 ? 0 : subtotal / (1 - rate / 100) - subtotal);
      else amt = round2((subtotal * rate) / 100);
      lineTax += amt;
      const acc = perTax.get(t.tax_id) ?? { tax: t, amount: 0, base: 0 };
      acc.amount = round2(acc.amount + amt);
      acc.base = round2(acc.base + subtotal);
      perTax.set(t.tax_id, acc);
    }
    out.push({ id: l.id, subtotal, total: round2(subtotal + lineTax), balance: round2(sign * subtotal) });
    untaxed = round2(untaxed + subtotal);
    taxTotal = round2(taxTotal + lineTax);
  }
  return { lines: out, perTax, untaxed, taxTotal, total: round2(untaxed + taxTotal) };
}

/** The first non-deprecated account of the company matching `where` (by code), or null. */
export async function accountWhere(
  env: Env,
  companyId: number,
  where: string,
  args: unknown[],
): Promise<number | null> {
  const r = await env.db.query<{ id: number }>(
    `SELECT id FROM account_account WHERE company_id = $1 AND deprecated IS NOT TRUE AND ${where} ORDER BY code, id LIMIT 1`,
    [companyId, ...args],
  );
  return r.rows[0]?.id ?? null;
}

/** The account lookups of an invoice's tax lines and of its payment-term line. */
export const TAX_ACCOUNT = (isSale: boolean): [string, unknown[]] => [
  `code LIKE $2`,
  [isSale ? '477%' : '472%'],
];
export const TERM_ACCOUNT = (isSale: boolean): [string, unknown[]] => [
  `account_type = $2`,
  [isSale ? 'asset_receivable' : 'liability_payable'],
];

/**
 * The rows of an invoice's tax lines (one per tax) and of its payment-term line (when it has product lines),
 * each a full account_move_line row to insert.
 */
export function dynamicLineRows(
  env: Env,
  move: MoveRow,
  journal: JournalRow | undefined,
  amounts: InvoiceAmounts,
  sign: number,
  taxAccount: number | null,
  receivable: number | null | undefined,
): Array<Record<string, unknown>> {
  const base = {
    move_id: move.id,
    journal_id: move.journal_id,
    company_id: move.company_id,
    company_currency_id: journal?.company_currency_id ?? move.currency_id,
    currency_id: move.currency_id,
    partner_id: move.commercial_partner_id ?? move.partner_id,
    date: move.date,
    move_name: move.name,
    parent_state: move.state,
    ref: move.ref,
    create_uid: env.uid,
    write_uid: env.uid,
  };
  const rows: Array<Record<string, unknown>> = [];
  for (const { tax, amount, base: taxBase } of amounts.perTax.values()) {
    const balance = round2(sign * amount);
    rows.push({
      ...base,
      display_type: 'tax',
      name: tax.name,
      account_id: taxAccount,
      tax_line_id: tax.tax_id,
      tax_group_id: tax.tax_group_id,
      tax_base_amount: taxBase,
      balance,
      debit: Math.max(balance, 0),
      credit: Math.max(-balance, 0),
      amount_currency: balance,
      amount_residual: 0,
      sequence: 10,
    });
  }
  if (amounts.lines.length > 0) {
    const balance = round2(-sign * amounts.total);
    rows.push({
      ...base,
      display_type: 'payment_term',
      name: move.payment_reference ?? '',
      account_id: receivable ?? null,
      date_maturity: move.invoice_date_due ?? move.invoice_date ?? move.date,
      balance,
      debit: Math.max(balance, 0),
      credit: Math.max(-balance, 0),
      amount_currency: balance,
      amount_residual: balance,
      sequence: 10,
    });
  }
  return rows;
}

/** amount_untaxed, amount_tax, amount_total (= residual), then their signed variants. */
export function moveTotals(amounts: InvoiceAmounts, sign: number): number[] {
  const signed = (x: number) => round2(-sign * x);
  const { untaxed, taxTotal, total } = amounts;
  return [untaxed, taxTotal, total, signed(untaxed), signed(taxTotal), signed(total)];
}

/** The columns of a tax as an invoice's amounts use it (`t`: account_tax), answered as a TaxRow's fields. */
export const TAX_COLUMNS_SQL = (lang: string) =>
  `t.id AS tax_id, t.amount, t.amount_type, t.price_include, t.tax_group_id, t.type_tax_use,
   COALESCE(t.name->>'${lang}', t.name->>'en_US') AS name, t.sequence`;

/** Recomputes line amounts, tax and payment-term lines and the move totals (draft moves only). */
export async function recompute(env: Env, moveId: number): Promise<void> {
  const move = await loadMove(env, moveId);
  if (!move || move.state === 'posted') return;
  const sign = directionSign(move.move_type);
  if (!INVOICE_TYPES.has(move.move_type)) {
    const r = await env.db.query<{ total: string | null }>(
      `SELECT sum(debit) AS total FROM account_move_line WHERE move_id = $1`,
      [moveId],
    );
    const total = Number(r.rows[0].total ?? 0);
    await env.db.query(
      `UPDATE account_move SET amount_untaxed = $2, amount_tax = 0, amount_total = $2, amount_residual = 0,
              amount_untaxed_signed = $2, amount_tax_signed = 0, amount_total_signed = $2,
              amount_total_in_currency_signed = $2, amount_residual_signed = 0 WHERE id = $1`,
      [moveId, total],
    );
    return;
  }
  const lines = (
    await env.db.query<ProductLineRow>(
      `SELECT id, quantity, price_unit, discount FROM account_move_line WHERE move_id = $1 AND display_type = 'product' ORDER BY sequence, id`,
      [moveId],
    )
  ).rows;
  const taxRows = (
    await env.db.query<TaxRow>(
      `SELECT r.account_move_line_id AS line_id, ${TAX_COLUMNS_SQL(env.lang)}
         FROM account_move_line_account_tax_rel r JOIN account_tax t ON t.id = r.account_tax_id
         JOIN account_move_line l ON l.id = r.account_move_line_id
        WHERE l.move_id = $1 AND l.display_type = 'product' ORDER BY t.sequence, t.id`,
      [moveId],
    )
  ).rows;
  const taxesOf = new Map<number, TaxRow[]>();
  for (const t of taxRows) taxesOf.set(t.line_id, [...(taxesOf.get(t.line_id) ?? []), t]);
  const amounts = invoiceAmounts(lines, taxesOf, sign);
  for (const l of amounts.lines) {
    await env.db.query(
      `UPDATE account_move_line SET price_subtotal = $2, price_total = $3, balance = $4, debit = $5, credit = $6,
              amount_currency = $4, amount_residual = 0, tax_base_amount = 0 WHERE id = $1`,
      [l.id, l.subtotal, l.total, l.balance, Math.max(l.balance, 0), Math.max(-l.balance, 0)],
    );
  }
  await env.db.query(
    `UPDATE account_move_line SET price_subtotal = 0, price_total = 0, balance = 0, debit = 0, credit = 0, amount_currency = 0
      WHERE move_id = $1 AND display_type IN ('line_section', 'line_note')`,
    [moveId],
  );
  await env.db.query(
    `DELETE FROM account_move_line WHERE move_id = $1 AND display_type IN ('tax', 'payment_term')`,
    [moveId],
  );
  const journal = await loadJournal(env, move.journal_id);
  const isSale = SALE_TYPES.has(move.move_type);
  const company = move.company_id ?? journal?.company_id ?? 1;
  const fallback = journal?.default_account_id ?? null;
  const taxAccount = (await accountWhere(env, company, ...TAX_ACCOUNT(isSale))) ?? fallback;
  const receivable =
    lines.length > 0 ? ((await accountWhere(env, company, ...TERM_ACCOUNT(isSale))) ?? fallback) : undefined;
  for (const row of dynamicLineRows(env, move, journal, amounts, sign, taxAccount, receivable)) {
    const keys = Object.keys(row);
    await env.db.query(
      `INSERT INTO account_move_line (${keys.join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')})`,
      Object.values(row),
    );
  }
  await env.db.query(
    `UPDATE account_move SET amount_untaxed = $2, amount_tax = $3, amount_total = $4, amount_residual = $4,
            amount_untaxed_signed = $5, amount_tax_signed = $6, amount_total_signed = $7,
            amount_total_in_currency_signed = $7, amount_residual_signed = $7 WHERE id = $1`,
    [moveId, ...moveTotals(amounts, sign)],
  );
}

// ------------------------------------------------------------------------------------------------ post

export async function actionPost(env: Env, ids: number[]): Promise<false> {
  const M = MOVE();
  await ensureExist(env, M, ids, true);
  for (const id of [...ids].sort((a, b) => a - b)) {
    const move = (await loadMove(env, id))!;
    if (move.state === 'posted') throw userError(`The entry ${move.name} (id ${id}) is already posted.`);
    if (move.state === 'cancel') throw userError(`You cannot post a cancelled entry (id ${id}).`);
    const counts = (
      await env.db.query<{ n: string; unaccounted: string }>(
        `SELECT count(*) FILTER (WHERE display_type NOT IN ('line_section', 'line_note')) AS n,
                count(*) FILTER (WHERE display_type = ANY($2::text[]) AND account_id IS NULL) AS unaccounted
           FROM account_move_line WHERE move_id = $1`,
        [id, [...ACCOUNTABLE]],
      )
    ).rows[0];
    if (Number(counts.n) === 0) throw userError('You need to add a line before posting.');
    const isInvoice = INVOICE_TYPES.has(move.move_type);
    if (isInvoice) {
      if (!move.partner_id) {
        throw userError(
          SALE_TYPES.has(move.move_type)
            ? "The field 'Customer' is required, please complete it to validate the Customer Invoice."
            : "The field 'Vendor' is required, please complete it to validate the Vendor Bill.",
        );
      }
      if (Number(counts.unaccounted) > 0)
        throw userError('Missing required account on accountable invoice line.');
      const tot = await env.db.query<{ t: string | null }>(
        `SELECT amount_total AS t FROM account_move WHERE id = $1`,
        [id],
      );
      if (Number(tot.rows[0].t ?? 0) < 0) {
        throw userError(
          'You cannot validate an invoice with a negative total amount. You should create a credit note instead. ' +
            'Use the action menu to transform it into a credit note or refund.',
        );
      }
    } else {
      const bal = await env.db.query<{ d: string | null; c: string | null }>(
        `SELECT sum(debit) AS d, sum(credit) AS c FROM account_move_line WHERE move_id = $1`,
        [id],
      );
      if (round2(Number(bal.rows[0].d ?? 0) - Number(bal.rows[0].c ?? 0)) !== 0) {
        throw userError('The move is not balanced.');
      }
    }
    let date = move.date;
    if (isInvoice && !move.invoice_date) {
      date = todayUtc();
      await env.db.query(
        `UPDATE account_move SET invoice_date = $2, date = $2, invoice_date_due = COALESCE(invoice_date_due, $2) WHERE id = $1`,
        [id, date],
      );
    }
    let name = move.name;
    let prefix: string | null = null;
    let number: number | null = null;
    if (!name || name === '/') {
      const journal = (await loadJournal(env, move.journal_id))!;
      const refund = move.move_type === 'out_refund' || move.move_type === 'in_refund';
      prefix = `${refund ? 'R' : ''}${journal.code}/${date.slice(0, 4)}/`;
      await env.db.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [
        `account_move_sequence:${journal.id}:${prefix}`,
      ]);
      const r = await env.db.query<{ n: number | null }>(
        `SELECT max(sequence_number) AS n FROM account_move WHERE journal_id = $1 AND sequence_prefix = $2`,
        [journal.id, prefix],
      );
      number = (r.rows[0].n ?? 0) + 1;
      name = `${prefix}${String(number).padStart(5, '0')}`;
    }
    const paymentRef = move.payment_reference ?? (SALE_TYPES.has(move.move_type) ? name : null);
    await env.db.query(
      `UPDATE account_move SET state = 'posted', posted_before = true, name = $2,
              sequence_prefix = COALESCE($3, sequence_prefix), sequence_number = COALESCE($4, sequence_number),
              payment_reference = $5, write_uid = $6, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
      [id, name, prefix, number, paymentRef, env.uid],
    );
    await syncLineHeaders(env, id);
    await env.db.query(
      `UPDATE account_move_line SET name = $2 WHERE move_id = $1 AND display_type = 'payment_term' AND COALESCE(name, '') = ''`,
      [id, paymentRef ?? ''],
    );
  }
  return false;
}

export async function unlinkMoves(env: Env, ids: number[]): Promise<void> {
  const M = MOVE();
  await ensureExist(env, M, ids, true);
  const r = await env.db.query<{ id: number }>(
    `SELECT id FROM account_move WHERE id = ANY($1::int[]) AND (state = 'posted' OR posted_before)`,
    [ids],
  );
  if (r.rows.length) throw userError('You cannot delete an entry which has been posted once.');
  await env.db.query(`DELETE FROM account_move WHERE id = ANY($1::int[])`, [ids]);
}
