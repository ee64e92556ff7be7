import {
  accountWhere,
  actionPost,
  createMove,
  defaultJournal,
  directionSign,
  dynamicLineRows,
  fkError,
  INVOICE_TYPES,
  invoiceAmounts,
  lineColumns,
  lineDisplayType,
  TAX_COLUMNS_SQL,
  loadJournals,
  MOVE_ROW_SQL,
  moveHeader,
  moveTotals,
  moveTypeOf,
  partnerInfos,
  productInfos,
  SALE_TYPES,
  TAX_ACCOUNT,
  TERM_ACCOUNT,
  type JournalRow,
  type MoveRow,
  type ProductLineRow,
  type TaxRow,
} from './account';
import { validationError } from './errors';
import {
  assertVals,
  checkIds,
  createList,
  getModel,
  insertMany,
  insertRows,
  mandatoryError,
  splitVals,
  type Env,
  type Vals,
} from './orm';

/**
 * `account.move` `create(vals_list)` set-based, as Odoo 16 creates a list: its ORM inserts the records of a list
 * with one multi-row INSERT (`_create`, odoo/models.py), creates the lines of all the moves as one list, and
 * account.move's create syncs the tax and payment-term lines of all the moves together (`_sync_dynamic_lines` over
 * the created records). The sandbox does the same: a few statements per list (the moves, their lines, their taxes,
 * the lines' amounts, the tax and payment-term lines, the totals) instead of about 31 per move
 * (BENCHMARKS.md, session 8), with the rows `createMove` makes one by one.
 *
 * Only invoices whose lines are created by commands `(0, _, vals)` (with `tax_ids` as ids, `(6, _, ids)`,
 * `(4, id)`, `(3, id)` or `(5,)`) take that way; any other list, and any list that fails on the way, is created
 * again move by move in a savepoint, so that its errors are exactly those of single creates.
 */

const MOVE = () => getModel('account.move');
const LINE = () => getModel('account.move.line');
const MOVE_X2M = new Set(['line_ids', 'invoice_line_ids']);
const LINE_TYPES = new Set(['product', 'line_section', 'line_note']);
const isDict = (v: unknown): v is Vals => v !== null && typeof v === 'object' && !Array.isArray(v);
const isIdList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

/** Whether `cmds` is a tax_ids value the set-based create applies (ids, or commands 3 to 6 without creates). */
function plainTaxCommands(cmds: unknown): boolean {
  if (isIdList(cmds)) return true;
  if (!Array.isArray(cmds)) return false;
  return cmds.every((c) => Array.isArray(c) && [3, 4, 5, 6].includes(c[0] as number));
}

/** Whether the list's shape is one the set-based create handles (checked before any statement). */
function setBased(env: Env, list: unknown[]): boolean {
  for (const raw of list) {
    if (!isDict(raw)) return false;
    const type = (raw.move_type as unknown) ?? env.context.default_move_type ?? 'entry';
    if (typeof type !== 'string' || !INVOICE_TYPES.has(type)) return false;
    for (const name of MOVE_X2M) {
      if (!(name in raw)) continue;
      const cmds = raw[name];
      if (!Array.isArray(cmds)) return false;
      for (const c of cmds) {
        if (!Array.isArray(c) || c[0] !== 0 || !isDict(c[2])) return false;
        const line = c[2];
        const dt = line.display_type;
        if (
          dt !== undefined &&
          dt !== null &&
          dt !== false &&
          !(typeof dt === 'string' && LINE_TYPES.has(dt))
        )
          return false;
        if ('tax_ids' in line && !plainTaxCommands(line.tax_ids)) return false;
      }
    }
  }
  return true;
}

/** The taxes a new line ends with after its tax_ids commands, and every id the commands name. */
function taxSet(cmds: unknown): { ids: number[]; named: number[] } {
  const list: unknown[][] = isIdList(cmds) ? [[6, 0, cmds]] : (cmds as unknown[][]);
  let set = new Set<number>();
  const named: number[] = [];
  for (const [code, a1, a2] of list) {
    if (code === 6) {
      const keep = checkIds(a2 ?? [], 'write');
      named.push(...keep);
      set = new Set(keep);
    } else if (code === 4) {
      const ids = checkIds(a1, 'write');
      named.push(...ids);
      for (const id of ids) set.add(id);
    } else if (code === 3) {
      for (const id of checkIds(a1, 'write')) set.delete(id);
    } else set = new Set();
  }
  return { ids: [...set], named };
}

/** `ORDER BY sequence, id` (NULL sequences last, as PostgreSQL sorts them). */
const bySequence = (sa: number | null | undefined, ia: number, sb: number | null | undefined, ib: number) =>
  sa === sb ? ia - ib : (sa ?? Infinity) - (sb ?? Infinity) || ia - ib;
const byTaxOrder = (a: TaxRow, b: TaxRow) => bySequence(a.sequence, a.tax_id, b.sequence, b.tax_id);

/** Creates the moves of `list` set-based (see above); the ids in the list's order. */
async function createSetBased(env: Env, list: unknown[]): Promise<number[]> {
  const M = MOVE();
  const L = LINE();
  // the moves' columns, as createMove completes them
  const moves = list.map((raw) => {
    const { cols, x2m } = splitVals(env, M, assertVals(raw, 'create'));
    const moveType = moveTypeOf(env, cols);
    cols.move_type = moveType;
    const lines = x2m.flatMap(([, cmds]) => (cmds as unknown[][]).map((c) => assertVals(c[2], 'create')));
    return { cols, moveType, lines, wantPosted: false };
  });
  const defaults = new Map<string, number | null>();
  for (const m of moves) {
    if (m.cols.journal_id !== undefined && m.cols.journal_id !== null) continue;
    if (!defaults.has(m.moveType)) defaults.set(m.moveType, await defaultJournal(env, m.moveType));
    m.cols.journal_id = defaults.get(m.moveType)!;
    if (m.cols.journal_id === null) throw mandatoryError(M, 'journal_id');
  }
  const journals = await loadJournals(env, [...new Set(moves.map((m) => m.cols.journal_id as number))]);
  const partnerIds = moves
    .map((m) => m.cols.partner_id as number | null | undefined)
    .filter((p): p is number => !!p);
  const partners = partnerIds.length ? await partnerInfos(env, [...new Set(partnerIds)]) : new Map();
  for (const m of moves) {
    const journal = journals.get(m.cols.journal_id as number);
    if (!journal) throw fkError(M.name, M.description, 'account_move_journal_id_fkey');
    const partnerId = m.cols.partner_id as number | null | undefined;
    m.wantPosted = moveHeader(m.cols, m.moveType, journal, (partnerId && partners.get(partnerId)) || null);
  }
  const rows = await insertRows<MoveRow>(
    env,
    M,
    moves.map((m) => m.cols),
    MOVE_ROW_SQL,
  );

  // their lines, as insertLine completes them
  const lines = moves.flatMap((m, i) =>
    m.lines.map((vals) => {
      const raw = { ...vals, move_id: rows[i].id };
      const { cols, x2m } = splitVals(env, L, raw);
      for (const [name] of x2m) if (name !== 'tax_ids') throw new Error(`unexpected ${name}`);
      const taxes = x2m.length ? taxSet(x2m[x2m.length - 1][1]) : { ids: [], named: [] };
      return { raw, cols, move: rows[i], taxes };
    }),
  );
  const productIds = lines
    .filter((l) => lineDisplayType(l.cols) === 'product' && l.cols.product_id)
    .map((l) => l.cols.product_id as number);
  const products = productIds.length ? await productInfos(env, [...new Set(productIds)]) : new Map();
  for (const l of lines) {
    const pid = lineDisplayType(l.cols) === 'product' ? (l.cols.product_id as number | null) : null;
    const product = pid ? products.get(pid) : undefined;
    if (pid && !product) throw fkError(L.name, L.description, 'account_move_line_product_id_fkey');
    lineColumns(l.raw, l.cols, l.move, journals.get(l.move.journal_id), product);
  }
  const inserted = await insertRows<
    ProductLineRow & { move_id: number; display_type: string; sequence: number }
  >(
    env,
    L,
    lines.map((l) => l.cols),
    'id, move_id, display_type, sequence, quantity, price_unit, discount',
  );

  // their taxes (the many2many), every tax named checked as applyX2many does
  const named = [...new Set(lines.flatMap((l) => l.taxes.named))];
  const allTaxes = [...new Set([...named, ...lines.flatMap((l) => l.taxes.ids)])];
  const taxRows = allTaxes.length
    ? (
        await env.db.query<Omit<TaxRow, 'line_id'>>(
          `SELECT ${TAX_COLUMNS_SQL(env.lang)}
             FROM account_tax t WHERE t.id = ANY($1::int[])`,
          [allTaxes],
        )
      ).rows
    : [];
  const tax = new Map(taxRows.map((t) => [t.tax_id, t]));
  if (named.some((id) => !tax.has(id))) {
    throw validationError(
      'The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\n' +
        `Model: ${L.description} (${L.name})\nConstraint: account_move_line_account_tax_rel_account_tax_id_fkey`,
    );
  }
  const pairs = lines.flatMap((l, i) => l.taxes.ids.map((t) => [inserted[i].id, t] as const));
  if (pairs.length)
    await env.db.query(
      `INSERT INTO account_move_line_account_tax_rel (account_move_line_id, account_tax_id)
       SELECT * FROM unnest($1::int[], $2::int[]) ON CONFLICT DO NOTHING`,
      [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );

  // the amounts, as recompute computes them, move by move
  const productLinesOf = new Map<number, ProductLineRow[]>();
  const taxesOf = new Map<number, TaxRow[]>();
  let sections = false;
  inserted.forEach((l, i) => {
    if (l.display_type !== 'product') {
      sections = true;
      return;
    }
    productLinesOf.set(l.move_id, [...(productLinesOf.get(l.move_id) ?? []), l]);
    const ts = lines[i].taxes.ids.map((t) => ({ ...tax.get(t)!, line_id: l.id }));
    taxesOf.set(l.id, ts.sort(byTaxOrder));
  });
  const seqOf = new Map(inserted.map((l) => [l.id, l.sequence]));
  const accounts = new Map<string, number | null>();
  const account = async (company: number, [where, args]: [string, unknown[]]) => {
    const key = `${company}\u0000${where}\u0000${String(args[0])}`;
    if (!accounts.has(key)) accounts.set(key, await accountWhere(env, company, where, args));
    return accounts.get(key)!;
  };
  const lineUpdates: Array<{ id: number; subtotal: number; total: number; balance: number }> = [];
  const dynamic: Array<Record<string, unknown>> = [];
  const totals: number[][] = [];
  for (const move of rows) {
    const sign = directionSign(move.move_type);
    const productLines = (productLinesOf.get(move.id) ?? []).sort((a, b) =>
      bySequence(seqOf.get(a.id), a.id, seqOf.get(b.id), b.id),
    );
    const amounts = invoiceAmounts(productLines, taxesOf, sign);
    lineUpdates.push(...amounts.lines);
    const journal: JournalRow | undefined = journals.get(move.journal_id);
    const isSale = SALE_TYPES.has(move.move_type);
    const company = move.company_id ?? journal?.company_id ?? 1;
    const fallback = journal?.default_account_id ?? null;
    const taxAccount = (await account(company, TAX_ACCOUNT(isSale))) ?? fallback;
    const receivable =
      productLines.length > 0 ? ((await account(company, TERM_ACCOUNT(isSale))) ?? fallback) : undefined;
    dynamic.push(...dynamicLineRows(env, move, journal, amounts, sign, taxAccount, receivable));
    totals.push([move.id, ...moveTotals(amounts, sign)]);
  }
  if (lineUpdates.length)
    await env.db.query(
      `UPDATE account_move_line l SET price_subtotal = v.s, price_total = v.t, balance = v.b, debit = v.d,
              credit = v.c, amount_currency = v.b, amount_residual = 0, tax_base_amount = 0
         FROM unnest($1::int[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[])
              AS v(id, s, t, b, d, c)
        WHERE l.id = v.id`,
      [
        lineUpdates.map((l) => l.id),
        lineUpdates.map((l) => l.subtotal),
        lineUpdates.map((l) => l.total),
        lineUpdates.map((l) => l.balance),
        lineUpdates.map((l) => Math.max(l.balance, 0)),
        lineUpdates.map((l) => Math.max(-l.balance, 0)),
      ],
    );
  if (sections)
    await env.db.query(
      `UPDATE account_move_line SET price_subtotal = 0, price_total = 0, balance = 0, debit = 0, credit = 0, amount_currency = 0
        WHERE move_id = ANY($1::int[]) AND display_type IN ('line_section', 'line_note')`,
      [rows.map((m) => m.id)],
    );
  await insertMany(env, 'account_move_line', dynamic);
  const col = (k: number) => totals.map((t) => t[k]);
  await env.db.query(
    `UPDATE account_move m SET amount_untaxed = v.u, amount_tax = v.x, amount_total = v.t, amount_residual = v.t,
            amount_untaxed_signed = v.us, amount_tax_signed = v.xs, amount_total_signed = v.ts,
            amount_total_in_currency_signed = v.ts, amount_residual_signed = v.ts
       FROM unnest($1::int[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[])
            AS v(id, u, x, t, us, xs, ts)
      WHERE m.id = v.id`,
    [col(0), col(1), col(2), col(3), col(4), col(5), col(6)],
  );
  for (const [i, m] of moves.entries()) if (m.wantPosted) await actionPost(env, [rows[i].id]);
  return rows.map((r) => r.id);
}

/** `account.move` `create(vals_list)`: set-based when it can be, else (and on any error) move by move. */
export async function createMoves(env: Env, list: unknown[]): Promise<number[]> {
  const oneByOne = async () => {
    const ids: number[] = [];
    for (const vals of list) ids.push(await createMove(env, vals));
    return ids;
  };
  if (list.length < 2 || !setBased(env, list)) return oneByOne();
  return createList(env, () => createSetBased(env, list), oneByOne);
}
