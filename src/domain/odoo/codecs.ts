import * as t from 'io-ts';

/**
 * io-ts codecs for Odoo 16's JSON-RPC envelope (`POST /jsonrpc`) and for the records the invoice loader reads.
 *
 * Odoo's value conventions: a Many2one is `[id, "Display Name"]` or `false`; an empty Char/Text/Date is `false`
 * (never `""` or null); Integer/Float/Monetary are numbers (0 when empty); One2many/Many2many are id lists.
 */

/** `error.data` as produced by `odoo.http.serialize_exception`. */
export const RpcErrorData = t.intersection([
  t.type({ name: t.string }),
  t.partial({
    message: t.string,
    arguments: t.array(t.unknown),
    debug: t.string,
    context: t.unknown,
  }),
]);
export type RpcErrorData = t.TypeOf<typeof RpcErrorData>;

export const RpcError = t.intersection([
  t.type({ code: t.number, message: t.string }),
  t.partial({ data: RpcErrorData }),
]);
export type RpcError = t.TypeOf<typeof RpcError>;

/** A JSON-RPC 2.0 response: exactly one of `result` / `error`. */
export const RpcEnvelope = t.intersection([
  t.type({ jsonrpc: t.literal('2.0') }),
  t.partial({ id: t.union([t.number, t.string, t.null]), result: t.unknown, error: RpcError }),
]);
export type RpcEnvelope = t.TypeOf<typeof RpcEnvelope>;

// ------------------------------------------------------------------------------------------- value codecs

/** Many2one as read: `[id, display_name]` or `false`. */
export const Many2one = t.union([t.tuple([t.number, t.string]), t.literal(false)], 'Many2one');
export type Many2one = t.TypeOf<typeof Many2one>;

/** Char / Text / Selection as read: a string, or `false` when empty. */
export const OdooChar = t.union([t.string, t.literal(false)], 'OdooChar');
export type OdooChar = t.TypeOf<typeof OdooChar>;

/** Date as read: "YYYY-MM-DD" or `false`. */
export const OdooDate = new t.Type<string | false, string | false, unknown>(
  'OdooDate',
  (u): u is string | false => u === false || (typeof u === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(u)),
  (u, c) =>
    u === false || (typeof u === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(u)) ? t.success(u) : t.failure(u, c),
  t.identity,
);

export const Ids = t.array(t.number, 'Ids');
export const Id = t.number;

/** The id of a Many2one value, or null. */
export function m2oId(v: Many2one): number | null {
  return v === false ? null : v[0];
}

/** A Char value, or null when Odoo sent `false`. */
export function charOrNull(v: OdooChar): string | null {
  return v === false ? null : v;
}

// ------------------------------------------------------------------------------------------ common results

/** `common.version()`. */
export const VersionInfo = t.intersection([
  t.type({ server_version: t.string }),
  t.partial({
    server_version_info: t.array(t.union([t.number, t.string])),
    server_serie: t.string,
    protocol_version: t.number,
  }),
]);
export type VersionInfo = t.TypeOf<typeof VersionInfo>;

/** `common.login` / `common.authenticate`: the uid, or `false` for bad credentials. */
export const LoginResult = t.union([t.number, t.literal(false)]);

// -------------------------------------------------------------------------------- records the loader reads

/** A record spec: the model, the fields to ask for and the codec of one returned record. */
export interface RecordSpec<C extends t.Mixed> {
  model: string;
  fields: string[];
  codec: C;
}

function spec<P extends t.Props>(model: string, props: P): RecordSpec<t.TypeC<P & { id: t.NumberC }>> {
  const all = { id: t.number, ...props } as P & { id: t.NumberC };
  return { model, fields: Object.keys(props), codec: t.type(all, model) };
}

export const Partner = spec('res.partner', {
  name: OdooChar,
  display_name: OdooChar,
  ref: OdooChar,
  vat: OdooChar,
  email: OdooChar,
  parent_id: Many2one,
  commercial_partner_id: Many2one,
  active: t.boolean,
});
export type PartnerRecord = t.TypeOf<typeof Partner.codec>;

export const Product = spec('product.product', {
  default_code: OdooChar,
  display_name: OdooChar,
  name: OdooChar,
  active: t.boolean,
});
export type ProductRecord = t.TypeOf<typeof Product.codec>;

export const Tax = spec('account.tax', {
  name: OdooChar,
  oc_code: OdooChar,
  amount: t.number,
  amount_type: t.string,
  type_tax_use: t.string,
  price_include: t.boolean,
  company_id: Many2one,
  active: t.boolean,
});
export type TaxRecord = t.TypeOf<typeof Tax.codec>;

export const Account = spec('account.account', {
  code: t.string,
  name: OdooChar,
  account_type: t.string,
  company_id: Many2one,
  deprecated: t.boolean,
});
export type AccountRecord = t.TypeOf<typeof Account.codec>;

export const Journal = spec('account.journal', {
  name: OdooChar,
  code: t.string,
  type: t.string,
  company_id: Many2one,
  active: t.boolean,
});
export type JournalRecord = t.TypeOf<typeof Journal.codec>;

export const ContractGroup = spec('contract.group', {
  code: OdooChar, // Char, not required (schemas/odoo/manifest.json): Odoo sends false when empty
  partner_id: Many2one,
});
export type ContractGroupRecord = t.TypeOf<typeof ContractGroup.codec>;

export const Contract = spec('contract.contract', {
  name: OdooChar,
  code: OdooChar,
  partner_id: Many2one,
  contract_group_id: Many2one,
  mandate_id: Many2one,
  payment_mode_id: Many2one,
  email_ids: Ids,
  is_terminated: t.boolean,
  active: t.boolean,
});
export type ContractRecord = t.TypeOf<typeof Contract.codec>;

export const Move = spec('account.move', {
  name: OdooChar,
  ref: OdooChar,
  state: t.string,
  move_type: t.string,
  partner_id: Many2one,
  journal_id: Many2one,
  invoice_date: OdooDate,
  date: OdooDate,
  contract_group_id: Many2one,
  billing_run_id: OdooChar,
  amount_untaxed: t.number,
  amount_tax: t.number,
  amount_total: t.number,
  amount_residual: t.number,
  invoice_line_ids: Ids,
});
export type MoveRecord = t.TypeOf<typeof Move.codec>;

export const MoveLine = spec('account.move.line', {
  move_id: Many2one,
  name: OdooChar,
  display_type: t.string,
  account_id: Many2one,
  product_id: Many2one,
  quantity: t.number,
  price_unit: t.number,
  price_subtotal: t.number,
  price_total: t.number,
  debit: t.number,
  credit: t.number,
  balance: t.number,
  tax_ids: Ids,
});
export type MoveLineRecord = t.TypeOf<typeof MoveLine.codec>;

/** Every spec above, by short name. */
export const Records = {
  Partner,
  Product,
  Tax,
  Account,
  Journal,
  ContractGroup,
  Contract,
  Move,
  MoveLine,
} as const;

// ------------------------------------------------------------------------------------------ write values

/** A domain: Polish-notation list of `[field, operator, value]` leaves and '&' / '|' / '!' operators. */
export type DomainLeaf = [string, string, unknown];
export type Domain = Array<DomainLeaf | '&' | '|' | '!'>;

/** x2many commands as accepted by create/write. */
export const cmd = {
  create: (vals: Record<string, unknown>): [0, 0, Record<string, unknown>] => [0, 0, vals],
  update: (id: number, vals: Record<string, unknown>): [1, number, Record<string, unknown>] => [1, id, vals],
  delete: (id: number): [2, number, 0] => [2, id, 0],
  unlink: (id: number): [3, number, 0] => [3, id, 0],
  link: (id: number): [4, number, 0] => [4, id, 0],
  clear: (): [5, 0, 0] => [5, 0, 0],
  set: (ids: number[]): [6, 0, number[]] => [6, 0, ids],
};
