/**
 * The Odoo models the sandbox serves, mapped onto the Odoo-shaped PostgreSQL tables (schemas/odoo/*.sql).
 * Only what the invoice loader (and its tests) use; field names, types and display names follow Odoo 16.
 */
export type FieldType =
  | 'integer'
  | 'float'
  | 'monetary'
  | 'char'
  | 'text'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'selection'
  | 'many2one'
  | 'one2many'
  | 'many2many';

export interface FieldDef {
  type: FieldType;
  string?: string;
  /** Column name when it differs from the field name (stored fields). */
  column?: string;
  /** Char stored as jsonb translations (Odoo 16 translate=True). */
  translated?: boolean;
  /** Not stored: read (and searched) through this SQL expression of the table alias. */
  expr?: (alias: string, lang: string) => string;
  relation?: string;
  /** one2many: the many2one column on the comodel pointing back. */
  inverse?: string;
  /** one2many: extra SQL filter on the comodel rows (alias `c`). */
  filter?: string;
  /**
   * one2many: false when the field reads archived comodel rows too (`context={"active_test": False}` on the field,
   * e.g. OCA contract's contract_line_ids); by default Odoo reads a one2many in the comodel's `_order`, active only.
   */
  activeTest?: boolean;
  /** many2many relation table and its columns (this side, other side). */
  relTable?: string;
  col1?: string;
  col2?: string;
  required?: boolean;
  /** Computed by the sandbox: writes are ignored (as Odoo ignores writes to computed fields without inverse). */
  computed?: boolean;
  selection?: readonly string[];
}

export interface ModelDef {
  name: string;
  description: string;
  table: string;
  fields: Record<string, FieldDef>;
  /** Default order (SQL over field names). */
  order: string;
  /** Display name as an SQL expression of the table alias. */
  displayName: (alias: string, lang: string) => string;
}

/** The translation of a jsonb column in `lang`, falling back to en_US and then to any value. */
export const tr = (col: string, lang: string) =>
  `COALESCE(${col}->>'${lang}', ${col}->>'en_US', (SELECT v FROM jsonb_each_text(${col}) AS j(k, v) LIMIT 1))`;

const magic = (): Record<string, FieldDef> => ({
  id: { type: 'integer', computed: true },
  create_uid: { type: 'many2one', relation: 'res.users', computed: true },
  create_date: { type: 'datetime', computed: true },
  write_uid: { type: 'many2one', relation: 'res.users', computed: true },
  write_date: { type: 'datetime', computed: true },
});

function model(
  name: string,
  description: string,
  table: string,
  fields: Record<string, FieldDef>,
  displayName: ModelDef['displayName'],
  order = 'id',
): ModelDef {
  const all: Record<string, FieldDef> = { ...magic(), ...fields };
  all.display_name = all.display_name ?? { type: 'char', expr: displayName, computed: true };
  return { name, description, table, fields: all, order, displayName };
}

const m2o = (relation: string, extra: Partial<FieldDef> = {}): FieldDef => ({
  type: 'many2one',
  relation,
  ...extra,
});
const char = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'char', ...extra });
const bool = (): FieldDef => ({ type: 'boolean' });
const money = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'monetary', ...extra });
const date = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'date', ...extra });
const int = (extra: Partial<FieldDef> = {}): FieldDef => ({ type: 'integer', ...extra });
const sel = (selection: readonly string[], extra: Partial<FieldDef> = {}): FieldDef => ({
  type: 'selection',
  selection,
  ...extra,
});
const named = (a: string) => `${a}.name`;
const trNamed = (a: string, lang: string) => tr(`${a}.name`, lang);

export const MOVE_TYPES = [
  'entry',
  'out_invoice',
  'out_refund',
  'in_invoice',
  'in_refund',
  'out_receipt',
  'in_receipt',
] as const;
export const LINE_DISPLAY_TYPES = [
  'product',
  'cogs',
  'tax',
  'rounding',
  'payment_term',
  'line_section',
  'line_note',
  'epd',
] as const;

const MODELS: ModelDef[] = [
  model(
    'ir.model.data',
    'Model Data',
    'ir_model_data',
    {
      name: char({ required: true }),
      module: char({ required: true }),
      model: char({ required: true }),
      res_id: { type: 'integer' },
      noupdate: bool(),
      complete_name: char({
        computed: true,
        expr: (a) => `${a}.module || '.' || ${a}.name`,
      }),
    },
    (a) => `${a}.module || '.' || ${a}.name`,
    'module, name',
  ),
  model(
    'res.currency',
    'Currency',
    'res_currency',
    { name: char({ required: true }), symbol: char(), active: bool() },
    named,
  ),
  model('res.country', 'Country', 'res_country', { name: char({ translated: true }), code: char() }, trNamed),
  model(
    'res.country.state',
    'Country state',
    'res_country_state',
    { name: char(), code: char(), country_id: m2o('res.country') },
    (a) => `${a}.name`,
  ),
  model(
    'res.company',
    'Companies',
    'res_company',
    {
      name: char({ required: true }),
      partner_id: m2o('res.partner'),
      currency_id: m2o('res.currency'),
      active: bool(),
    },
    named,
  ),
  model(
    'res.users',
    'User',
    'res_users',
    {
      login: char({ required: true }),
      partner_id: m2o('res.partner', { required: true }),
      company_id: m2o('res.company', { required: true }),
      active: bool(),
      name: char({
        expr: (a) => `(SELECT p.name FROM res_partner p WHERE p.id = ${a}.partner_id)`,
        computed: true,
      }),
    },
    (a) => `(SELECT p.name FROM res_partner p WHERE p.id = ${a}.partner_id)`,
  ),
  model(
    'res.partner',
    'Contact',
    'res_partner',
    {
      name: char(),
      firstname: char(),
      lastname: char(),
      ref: char(),
      vat: char(),
      email: char(),
      phone: char(),
      mobile: char(),
      lang: char(),
      street: char(),
      street2: char(),
      zip: char(),
      city: char(),
      state_id: m2o('res.country.state'),
      country_id: m2o('res.country'),
      parent_id: m2o('res.partner'),
      commercial_partner_id: m2o('res.partner', { computed: true }),
      company_id: m2o('res.company'),
      type: sel([
        'contact',
        'invoice',
        'delivery',
        'other',
        'private',
        'contract-email',
        'service',
        'representative',
      ]),
      is_company: bool(),
      active: bool(),
      customer_rank: int(),
      supplier_rank: int(),
      comment: { type: 'text' },
    },
    (a) =>
      `COALESCE(${a}.display_name, CASE WHEN ${a}.parent_id IS NOT NULL AND ${a}.name IS NOT NULL THEN (SELECT pp.name FROM res_partner pp WHERE pp.id = ${a}.parent_id) || ', ' || ${a}.name ELSE ${a}.name END, '')`,
    'name, id desc',
  ),
  model(
    'uom.uom',
    'Product Unit of Measure',
    'uom_uom',
    { name: char({ translated: true }), category_id: int(), active: bool() },
    trNamed,
  ),
  model(
    'product.category',
    'Product Category',
    'product_category',
    { name: char({ required: true }), complete_name: char(), parent_id: m2o('product.category') },
    (a) => `COALESCE(${a}.complete_name, ${a}.name)`,
  ),
  model(
    'product.template',
    'Product',
    'product_template',
    {
      name: char({ translated: true, required: true }),
      default_code: char(),
      list_price: { type: 'float' },
      categ_id: m2o('product.category'),
      uom_id: m2o('uom.uom'),
      detailed_type: char(),
      active: bool(),
      sale_ok: bool(),
    },
    (a, l) =>
      `CASE WHEN ${a}.default_code IS NOT NULL THEN '[' || ${a}.default_code || '] ' ELSE '' END || ${tr(`${a}.name`, l)}`,
  ),
  model(
    'product.product',
    'Product Variant',
    'product_product',
    {
      default_code: char(),
      active: bool(),
      barcode: char(),
      product_tmpl_id: m2o('product.template', { required: true }),
      name: char({
        computed: true,
        expr: (a, l) =>
          `(SELECT ${tr('t.name', l)} FROM product_template t WHERE t.id = ${a}.product_tmpl_id)`,
      }),
      list_price: {
        type: 'float',
        computed: true,
        expr: (a) => `(SELECT t.list_price FROM product_template t WHERE t.id = ${a}.product_tmpl_id)`,
      },
      lst_price: {
        type: 'float',
        computed: true,
        expr: (a) => `(SELECT t.list_price FROM product_template t WHERE t.id = ${a}.product_tmpl_id)`,
      },
      categ_id: m2o('product.category', {
        computed: true,
        expr: (a) => `(SELECT t.categ_id FROM product_template t WHERE t.id = ${a}.product_tmpl_id)`,
      }),
      uom_id: m2o('uom.uom', {
        computed: true,
        expr: (a) => `(SELECT t.uom_id FROM product_template t WHERE t.id = ${a}.product_tmpl_id)`,
      }),
    },
    (a, l) =>
      `CASE WHEN ${a}.default_code IS NOT NULL THEN '[' || ${a}.default_code || '] ' ELSE '' END || COALESCE((SELECT ${tr('t.name', l)} FROM product_template t WHERE t.id = ${a}.product_tmpl_id), '')`,
    'default_code, id',
  ),
  model(
    'account.account',
    'Account',
    'account_account',
    {
      name: char({ required: true }),
      code: char({ required: true }),
      account_type: char({ required: true }),
      internal_group: char(),
      reconcile: bool(),
      deprecated: bool(),
      company_id: m2o('res.company', { required: true }),
      currency_id: m2o('res.currency'),
    },
    (a) => `${a}.code || ' ' || ${a}.name`,
    'code, company_id',
  ),
  model(
    'account.journal',
    'Journal',
    'account_journal',
    {
      name: char({ translated: true, required: true }),
      code: char({ required: true }),
      type: sel(['sale', 'purchase', 'cash', 'bank', 'general'], { required: true }),
      active: bool(),
      default_account_id: m2o('account.account'),
      company_id: m2o('res.company', { required: true }),
      currency_id: m2o('res.currency'),
      sequence: int(),
    },
    trNamed,
    'sequence, type, code',
  ),
  model(
    'account.tax.group',
    'Tax Group',
    'account_tax_group',
    { name: char({ translated: true }), sequence: int() },
    trNamed,
    'sequence, id',
  ),
  model(
    'account.tax',
    'Tax',
    'account_tax',
    {
      name: char({ translated: true, required: true }),
      type_tax_use: sel(['sale', 'purchase', 'none'], { required: true }),
      amount_type: sel(['group', 'fixed', 'percent', 'division'], { required: true }),
      amount: { type: 'float', required: true },
      active: bool(),
      company_id: m2o('res.company', { required: true }),
      sequence: int(),
      description: char({ translated: true }),
      price_include: bool(),
      include_base_amount: bool(),
      tax_group_id: m2o('account.tax.group', { required: true }),
      country_id: m2o('res.country'),
      oc_code: char(),
    },
    trNamed,
    'sequence, id',
  ),
  model(
    'account.payment.mode',
    'Payment Modes',
    'account_payment_mode',
    {
      name: char({ translated: true }),
      company_id: m2o('res.company'),
      payment_type: char(),
      active: bool(),
    },
    trNamed,
  ),
  model(
    'account.banking.mandate',
    'A generic banking mandate',
    'account_banking_mandate',
    {
      unique_mandate_reference: char(),
      partner_id: m2o('res.partner'),
      state: char(),
      format: char(),
      company_id: m2o('res.company'),
    },
    (a) => `COALESCE(${a}.unique_mandate_reference, ${a}.display_name, '')`,
  ),
  model(
    'contract.group',
    'Contract Group',
    'contract_group',
    // somconnexio's contract.group: neither field is required (schemas/odoo/manifest.json)
    {
      code: char(),
      partner_id: m2o('res.partner'),
      contract_ids: { type: 'one2many', relation: 'contract.contract', inverse: 'contract_group_id' },
      account_move_ids: { type: 'one2many', relation: 'account.move', inverse: 'contract_group_id' },
    },
    (a) => `${a}.code`,
  ),
  model(
    'contract.line',
    'Contract Line',
    'contract_line',
    {
      contract_id: m2o('contract.contract', { required: true }),
      product_id: m2o('product.product'),
      name: { type: 'text', required: true },
      quantity: { type: 'float' },
      date_start: date({ required: true }),
      date_end: date(),
      active: bool(),
    },
    (a) => `${a}.name`,
    'sequence, id',
  ),
  model(
    'contract.contract',
    'Contract',
    'contract_contract',
    {
      name: char({ required: true }),
      code: char(),
      active: bool(),
      partner_id: m2o('res.partner', { required: true }),
      invoice_partner_id: m2o('res.partner'),
      journal_id: m2o('account.journal'),
      company_id: m2o('res.company', { required: true }),
      contract_group_id: m2o('contract.group'),
      mandate_id: m2o('account.banking.mandate'),
      payment_mode_id: m2o('account.payment.mode'),
      service_partner_id: m2o('res.partner'),
      phone_number: char(),
      date_start: date(),
      date_end: date(),
      is_terminated: bool(),
      email_ids: {
        type: 'many2many',
        relation: 'res.partner',
        relTable: 'contract_contract_res_partner_rel',
        col1: 'contract_contract_id',
        col2: 'res_partner_id',
      },
      contract_line_ids: {
        type: 'one2many',
        relation: 'contract.line',
        inverse: 'contract_id',
        activeTest: false,
      },
    },
    (a) => `${a}.name`,
    // OCA contract 16.0: _order = "code, name asc"
    'code, name asc',
  ),
  model(
    'account.move',
    'Journal Entry',
    'account_move',
    {
      name: char(),
      ref: char(),
      date: date({ required: true }),
      state: sel(['draft', 'posted', 'cancel']),
      move_type: sel(MOVE_TYPES),
      journal_id: m2o('account.journal', { required: true }),
      company_id: m2o('res.company', { computed: true }),
      currency_id: m2o('res.currency'),
      partner_id: m2o('res.partner'),
      commercial_partner_id: m2o('res.partner', { computed: true }),
      partner_bank_id: m2o('res.partner.bank'),
      payment_reference: char(),
      invoice_date: date(),
      invoice_date_due: date(),
      invoice_origin: char(),
      invoice_user_id: m2o('res.users'),
      narration: { type: 'text' },
      invoice_partner_display_name: char({ computed: true }),
      sequence_prefix: char({ computed: true }),
      sequence_number: int({ computed: true }),
      amount_untaxed: money({ computed: true }),
      amount_tax: money({ computed: true }),
      amount_total: money({ computed: true }),
      amount_residual: money({ computed: true }),
      amount_untaxed_signed: money({ computed: true }),
      amount_tax_signed: money({ computed: true }),
      amount_total_signed: money({ computed: true }),
      amount_total_in_currency_signed: money({ computed: true }),
      amount_residual_signed: money({ computed: true }),
      payment_state: sel(['not_paid', 'in_payment', 'paid', 'partial', 'reversed', 'invoicing_legacy'], {
        computed: true,
      }),
      posted_before: { type: 'boolean', computed: true },
      auto_post: sel(['no', 'at_date', 'monthly', 'quarterly', 'yearly']),
      to_check: bool(),
      is_move_sent: bool(),
      payment_mode_id: m2o('account.payment.mode'),
      mandate_id: m2o('account.banking.mandate'),
      old_contract_id: m2o('contract.contract'),
      contract_group_id: m2o('contract.group'),
      billing_run_id: char(),
      emails: char(),
      b2_file_id: char(),
      line_ids: { type: 'one2many', relation: 'account.move.line', inverse: 'move_id' },
      invoice_line_ids: {
        type: 'one2many',
        relation: 'account.move.line',
        inverse: 'move_id',
        filter: `c.display_type IN ('product', 'line_section', 'line_note')`,
      },
    },
    (a) =>
      `CASE WHEN COALESCE(${a}.name, '/') <> '/' THEN ${a}.name ELSE ` +
      `(CASE ${a}.move_type WHEN 'out_invoice' THEN 'Draft Invoice' WHEN 'out_refund' THEN 'Draft Credit Note' ` +
      `WHEN 'in_invoice' THEN 'Draft Bill' WHEN 'in_refund' THEN 'Draft Vendor Credit Note' ` +
      `WHEN 'out_receipt' THEN 'Draft Sales Receipt' WHEN 'in_receipt' THEN 'Draft Purchase Receipt' ` +
      `ELSE 'Draft Entry' END) || ' (* ' || ${a}.id || ')' END`,
    'date desc, name desc, id desc',
  ),
  model(
    'account.move.line',
    'Journal Item',
    'account_move_line',
    {
      move_id: m2o('account.move', { required: true }),
      journal_id: m2o('account.journal', { computed: true }),
      company_id: m2o('res.company', { computed: true }),
      company_currency_id: m2o('res.currency', { computed: true }),
      move_name: char({ computed: true }),
      parent_state: char({ computed: true }),
      date: date({ computed: true }),
      ref: char({ computed: true }),
      sequence: int(),
      account_id: m2o('account.account'),
      name: char(),
      debit: money(),
      credit: money(),
      balance: money(),
      amount_currency: money(),
      currency_id: m2o('res.currency'),
      partner_id: m2o('res.partner'),
      date_maturity: date(),
      tax_line_id: m2o('account.tax', { computed: true }),
      tax_group_id: m2o('account.tax.group', { computed: true }),
      tax_base_amount: money({ computed: true }),
      amount_residual: money({ computed: true }),
      reconciled: { type: 'boolean', computed: true },
      product_id: m2o('product.product'),
      product_uom_id: m2o('uom.uom'),
      quantity: { type: 'float' },
      price_unit: { type: 'float' },
      discount: { type: 'float' },
      price_subtotal: money({ computed: true }),
      price_total: money({ computed: true }),
      display_type: sel(LINE_DISPLAY_TYPES),
      contract_line_id: m2o('contract.line'),
      tax_ids: {
        type: 'many2many',
        relation: 'account.tax',
        relTable: 'account_move_line_account_tax_rel',
        col1: 'account_move_line_id',
        col2: 'account_tax_id',
      },
    },
    (a) =>
      `COALESCE((SELECT CASE WHEN COALESCE(m.name, '/') <> '/' THEN m.name ELSE '' END FROM account_move m WHERE m.id = ${a}.move_id), '')` +
      ` || CASE WHEN ${a}.name IS NOT NULL THEN ' ' || ${a}.name ELSE '' END`,
    'date desc, move_name desc, id',
  ),
  model(
    'contract.account.invoice.line.relation',
    'Contract / invoice line relation',
    'contract_account_invoice_line_relation',
    {
      account_invoice_line_id: m2o('account.move.line'),
      contract_id: m2o('contract.contract'),
    },
    (a) => `'contract.account.invoice.line.relation,' || ${a}.id`,
  ),
];

export const REGISTRY: ReadonlyMap<string, ModelDef> = new Map(MODELS.map((m) => [m.name, m]));

export function modelByTable(table: string | undefined): ModelDef | undefined {
  if (!table) return undefined;
  return MODELS.find((m) => m.table === table);
}
