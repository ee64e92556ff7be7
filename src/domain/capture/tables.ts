import * as t from 'io-ts';
import { MissingColumnError } from '../errors';
import { col, Column } from './columns';

/**
 * The declarative registry of captured Odoo tables: for each, its key columns and its billing-relevant
 * columns (what the projections and the invoice side read — docs/behaviour.md §2, §3.2, §8). Nothing else
 * is captured: never write_date / write_uid / display_name, so Odoo's write churn produces no event
 * (column.include.list + skip.messages.without.change=true + REPLICA IDENTITY FULL).
 *
 * This one list generates the connector's table.include.list / column.include.list (generateIncludeLists),
 * the row codecs decodeChange uses, and the column list changedBillingFields compares. A unit test checks
 * that connectors/odoo-billing.json carries exactly the generated include lists.
 *
 * Quoted mixed-case Odoo columns keep their case in events: res_partner."block_contract_creation_in_OC",
 * contract_contract."router_4G_service_contract_info_id".
 *
 * Columns and nullability follow the upstream models (schemas/odoo/manifest.json; test/unit/odoo-manifest.test.ts
 * fails on a column the manifest lacks or a non-null codec for a column Odoo lets be empty). A column absent from
 * an event (e.g. res_partner."block_contract_creation_in_OC", which only the replaced opencell_somconnexio module
 * adds) does not fail decoding: only a trigger reading it fails, with MissingColumnError.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ColumnsSpec = Record<string, Column<any>>;
export type RowOf<S extends ColumnsSpec> = {
  readonly [K in keyof S]: S[K] extends Column<infer A> ? A : never;
};

export type TableRole =
  /** an Odoo table whose changes drive the pipeline */
  | 'odoo'
  /** Debezium's signalling table (incremental snapshots); consumers ignore it */
  | 'signal';

export interface TableSpec<S extends ColumnsSpec = ColumnsSpec> {
  readonly schema: 'public';
  readonly name: string;
  readonly role: TableRole;
  /** Primary key columns, in key-message order. */
  readonly key: readonly (keyof S & string)[];
  /** Every captured column (key + billing), in the order they are listed. */
  readonly columns: S;
  /** Billing-relevant columns: captured columns that are not key columns. */
  readonly billing: readonly (keyof S & string)[];
  /**
   * Decodes an event's before/after image: extra fields are dropped; a missing key column is an error, a missing
   * other column reads as `MissingColumnError` (see `missingColumnsOf`).
   */
  readonly rowCodec: t.Type<RowOf<S>, unknown, unknown>;
  /** Decodes the message key ({"id": 42}). */
  readonly keyCodec: t.Type<Record<string, unknown>, unknown, unknown>;
  /** One-line description for docs and logs. */
  readonly description: string;
}

const MISSING = Symbol('missing columns');

/**
 * The columns a decoded row lacked in its event (empty for a complete row). Such a column is present on the row as
 * a non-enumerable property whose read throws `MissingColumnError(table, column)`: a trigger that needs it fails
 * with that typed error, anything else (the diff, triggers reading other columns, logging) is unaffected.
 */
export function missingColumnsOf(row: unknown): readonly string[] {
  if (typeof row !== 'object' || row === null) return NONE_MISSING;
  return (row as { [MISSING]?: readonly string[] })[MISSING] ?? NONE_MISSING;
}

/** shared by every complete row (asked twice per routed change: no array each time) */
const NONE_MISSING: readonly string[] = Object.freeze([]);

/**
 * A column absent from the event: a non-enumerable property whose read throws. Out of the decoding loop, so that no
 * closure there captures the loop's column (which would allocate a scope per column and row).
 */
function defineMissing(out: Record<string, unknown>, table: string, column: string): void {
  delete out[column];
  Object.defineProperty(out, column, {
    enumerable: false,
    get() {
      throw new MissingColumnError(table, column);
    },
  });
}

function recordCodec<S extends ColumnsSpec>(
  name: string,
  columns: S,
  required: readonly string[] = Object.keys(columns),
): t.Type<RowOf<S>, unknown, unknown> {
  const entries = Object.entries(columns);
  const keys = entries.map(([k]) => k);
  const cols = entries.map(([, c]) => c);
  // A decoded row starts as a copy of this template (every column, in order): one allocation of the row's final
  // shape, instead of a property store grown column by column (the router's largest garbage, bench/interpretation.md).
  const template: Record<string, unknown> = Object.fromEntries(keys.map((k) => [k, null]));
  const table = name.replace(/\.key$/, '');
  return new t.Type<RowOf<S>, unknown, unknown>(
    name,
    (u): u is RowOf<S> =>
      typeof u === 'object' &&
      u !== null &&
      entries.every(([k, c]) => missingColumnsOf(u).includes(k) || c.codec.is((u as never)[k])),
    (u, c) => {
      if (typeof u !== 'object' || u === null || Array.isArray(u)) {
        return t.failure(u, c, `expected a row object, got ${u === null ? 'null' : typeof u}`);
      }
      const src = u as Record<string, unknown>;
      const out: Record<string, unknown> = { ...template };
      let errors: t.Errors | undefined;
      let missing: string[] | undefined;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const column = cols[i];
        const v = src[k];
        // The common case first, without a context entry per column (an allocation per column and row): a value
        // its codec passes unchanged, then any value its codec accepts. The context (the field path of the error)
        // is built only for a column that fails.
        if (v !== undefined) {
          if (column.passThrough === true && column.codec.is(v)) {
            out[k] = v;
            continue;
          }
          const fast = column.codec.validate(v, c);
          if (fast._tag === 'Right') {
            out[k] = fast.right;
            continue;
          }
        }
        const ctx = t.appendContext(c, k, column.codec, v);
        if (!(k in src)) {
          if (!required.includes(k)) {
            // Extra columns of an event are ignored; an absent one fails only the trigger that reads it.
            (missing ??= []).push(k);
            defineMissing(out, table, k);
            continue;
          }
          (errors ??= []).push({
            value: undefined,
            context: ctx,
            message: 'column missing from the event (is it in column.include.list?)',
          });
          continue;
        }
        const r = column.codec.validate(v, ctx);
        if (r._tag === 'Left') (errors ??= []).push(...r.left);
        else out[k] = r.right;
      }
      if (missing) Object.defineProperty(out, MISSING, { enumerable: false, value: missing });
      return errors ? t.failures(errors) : t.success(out as RowOf<S>);
    },
    (a) => a,
  );
}

function defineTable<S extends ColumnsSpec>(
  name: string,
  description: string,
  key: readonly (keyof S & string)[],
  columns: S,
  role: TableRole = 'odoo',
): TableSpec<S> {
  const keyColumns: ColumnsSpec = {};
  for (const k of key) keyColumns[k] = columns[k];
  return {
    schema: 'public',
    name,
    role,
    key,
    columns,
    billing: Object.keys(columns).filter((c) => !key.includes(c)) as (keyof S & string)[],
    rowCodec: recordCodec(name, columns, key),
    keyCodec: recordCodec(`${name}.key`, keyColumns) as unknown as t.Type<
      Record<string, unknown>,
      unknown,
      unknown
    >,
    description,
  };
}

const res_partner = defineTable(
  'res_partner',
  'partners: OpenCell Customer / CA data (ref = customer code)',
  ['id'],
  {
    id: col.int(),
    name: col.strN(),
    firstname: col.strN(),
    lastname: col.strN(),
    ref: col.strN(),
    vat: col.strN(),
    email: col.strN(),
    phone: col.strN(),
    mobile: col.strN(),
    street: col.strN(),
    street2: col.strN(),
    full_street: col.strN(),
    zip: col.strN(),
    city: col.strN(),
    state_id: col.intN(),
    country_id: col.intN(),
    lang: col.strN(),
    parent_id: col.intN(),
    type: col.strN(),
    is_company: col.bool(),
    active: col.bool(),
    block_contract_creation_in_OC: col.bool(),
  },
);

const res_partner_bank = defineTable(
  'res_partner_bank',
  'bank accounts: IBAN of the mandate (methodOfPayment)',
  ['id'],
  {
    id: col.int(),
    acc_number: col.str(),
    sanitized_acc_number: col.strN(),
    acc_holder_name: col.strN(),
    partner_id: col.int(),
    bank_id: col.intN(),
    active: col.bool(),
    /** mandateDate = the bank record's create_date (never changes after insert). */
    create_date: col.timestampN(),
  },
);

const res_bank = defineTable('res_bank', 'banks: BIC and name for bankCoordinates', ['id'], {
  id: col.int(),
  name: col.str(),
  bic: col.strN(),
  active: col.bool(),
});

const res_country = defineTable('res_country', 'countries: ISO code for addresses', ['id'], {
  id: col.int(),
  code: col.strN(),
  name: col.translated(),
});

const res_country_state = defineTable(
  'res_country_state',
  'states: name for addresses, code TF/GC → ES_CN',
  ['id'],
  {
    id: col.int(),
    country_id: col.int(),
    name: col.str(),
    code: col.str(),
  },
);

const account_banking_mandate = defineTable(
  'account_banking_mandate',
  'SEPA mandates: contract.mandate_id → bank account',
  ['id'],
  {
    id: col.int(),
    partner_bank_id: col.intN(),
    partner_id: col.intN(),
    unique_mandate_reference: col.strN(),
    signature_date: col.dateN(),
    state: col.strN(),
    format: col.str(),
    type: col.strN(),
    scheme: col.strN(),
  },
);

const product_category = defineTable(
  'product_category',
  'product categories (classified by XML id)',
  ['id'],
  {
    id: col.int(),
    name: col.str(),
    complete_name: col.strN(),
    parent_id: col.intN(),
  },
);

const product_template = defineTable(
  'product_template',
  'product templates: category, name, list price',
  ['id'],
  {
    id: col.int(),
    name: col.translated(),
    default_code: col.strN(),
    categ_id: col.int(),
    list_price: col.numericN(),
    active: col.bool(),
  },
);

const product_product = defineTable(
  'product_product',
  'product variants: default_code = OpenCell product code',
  ['id'],
  {
    id: col.int(),
    default_code: col.strN(),
    product_tmpl_id: col.int(),
    active: col.bool(),
  },
);

const ir_model_data = defineTable(
  'ir_model_data',
  'XML ids: resolve product categories, technologies, suppliers',
  ['id'],
  {
    id: col.int(),
    module: col.str(),
    name: col.str(),
    model: col.str(),
    res_id: col.intN(),
  },
);

const service_technology = defineTable(
  'service_technology',
  'service technologies: main tariff category per technology',
  ['id'],
  {
    id: col.int(),
    name: col.strN(),
    service_product_category_id: col.intN(),
  },
);

const service_supplier = defineTable(
  'service_supplier',
  'service suppliers: decide the fiber contract type',
  ['id'],
  {
    id: col.int(),
    name: col.strN(),
    ref: col.strN(),
  },
);

const contract_group = defineTable(
  'contract_group',
  'contract groups: code = OpenCell customer-account code',
  ['id'],
  {
    id: col.int(),
    code: col.strN(),
    partner_id: col.intN(),
  },
);

const contract_contract = defineTable(
  'contract_contract',
  'contracts: OpenCell Subscription (code) and Access (phone)',
  ['id'],
  {
    id: col.int(),
    name: col.str(),
    code: col.strN(),
    active: col.bool(),
    partner_id: col.int(),
    invoice_partner_id: col.intN(),
    service_partner_id: col.intN(),
    date_start: col.dateN(),
    date_end: col.dateN(),
    is_terminated: col.bool(),
    terminate_date: col.dateN(),
    terminate_reason_id: col.intN(),
    terminate_user_reason_id: col.intN(),
    mandate_id: col.intN(),
    payment_mode_id: col.intN(),
    journal_id: col.intN(),
    contract_group_id: col.intN(),
    service_technology_id: col.intN(),
    service_supplier_id: col.intN(),
    phone_number: col.strN(),
    mobile_contract_service_info_id: col.intN(),
    vodafone_fiber_service_contract_info_id: col.intN(),
    mm_fiber_service_contract_info_id: col.intN(),
    orange_fiber_service_contract_info_id: col.intN(),
    adsl_service_contract_info_id: col.intN(),
    router_4G_service_contract_info_id: col.intN(),
    xoln_fiber_service_contract_info_id: col.intN(),
    /** switchboard_somconnexio; absent (and read as missing) where that addon is not installed. */
    switchboard_service_contract_info_id: col.intN(),
    parent_pack_contract_id: col.intN(),
  },
);

/**
 * contract.email_ids (Many2many to res.partner). The relation has no order column: Odoo orders email_ids by
 * res.partner's _order (display_name, id desc) — the "first email" must be derived the same way.
 */
const contract_contract_res_partner_rel = defineTable(
  'contract_contract_res_partner_rel',
  'contract emails (email_ids): first email drives the customer account',
  ['contract_contract_id', 'res_partner_id'],
  {
    contract_contract_id: col.int(),
    res_partner_id: col.int(),
  },
);

const contract_line = defineTable(
  'contract_line',
  'contract lines: services / one-shots to activate or terminate',
  ['id'],
  {
    id: col.int(),
    contract_id: col.int(),
    product_id: col.intN(),
    name: col.str(),
    quantity: col.float(),
    date_start: col.date(),
    date_end: col.dateN(),
    is_canceled: col.bool(),
    automatic_price: col.bool(),
    /** OCA `Float` without digits: float8, a JSON number in the event (decimal.handling.mode does not apply). */
    specific_price: col.floatN(),
    active: col.bool(),
  },
);

/**
 * The ISP info tables (somconnexio `*.service.contract.info`; schemas/odoo/manifest.json). They have no `active`
 * column. `phone_number` is required, but router 4G, Orange fiber and ADSL default it to "-": a number, as the
 * original sent it, or no number with PHONE_PLACEHOLDER_IS_NO_NUMBER (`odooPhone`, src/domain/projection/views.ts).
 */
const isp = <S extends ColumnsSpec>(name: string, extra: S) =>
  defineTable(name, 'ISP info: phone_number = OpenCell Access code', ['id'], {
    id: col.int(),
    phone_number: col.str(),
    ...extra,
  });

const mobile_service_contract_info = isp('mobile_service_contract_info', { icc: col.strN() });
const vodafone_fiber_service_contract_info = isp('vodafone_fiber_service_contract_info', {
  vodafone_id: col.str(),
  vodafone_offer_code: col.str(),
});
const mm_fiber_service_contract_info = isp('mm_fiber_service_contract_info', { mm_id: col.str() });
const orange_fiber_service_contract_info = isp('orange_fiber_service_contract_info', { suma_id: col.str() });
const adsl_service_contract_info = isp('adsl_service_contract_info', { administrative_number: col.str() });
const router_4g_service_contract_info = isp('router_4g_service_contract_info', { icc: col.strN() });
const xoln_fiber_service_contract_info = isp('xoln_fiber_service_contract_info', { external_id: col.str() });

/**
 * switchboard_somconnexio's info record: its `phone_number` is not required (and older versions default it to "-").
 * Switchboard contracts take their `phone_number` from it.
 */
const switchboard_service_contract_info = defineTable(
  'switchboard_service_contract_info',
  'switchboard info: phone_number = OpenCell Access code of a switchboard contract',
  ['id'],
  {
    id: col.int(),
    phone_number: col.strN(),
  },
);

const account_move = defineTable(
  'account_move',
  'invoices (imported from OpenCell and their Odoo state)',
  ['id'],
  {
    id: col.int(),
    name: col.strN(),
    ref: col.strN(),
    move_type: col.str(),
    state: col.str(),
    payment_state: col.strN(),
    date: col.date(),
    invoice_date: col.dateN(),
    invoice_date_due: col.dateN(),
    partner_id: col.intN(),
    journal_id: col.int(),
    currency_id: col.int(),
    amount_untaxed: col.numericN(),
    amount_tax: col.numericN(),
    amount_total: col.numericN(),
    amount_residual: col.numericN(),
    payment_reference: col.strN(),
    payment_mode_id: col.intN(),
    mandate_id: col.intN(),
    old_contract_id: col.intN(),
    contract_group_id: col.intN(),
    billing_run_id: col.strN(),
    emails: col.strN(),
    b2_file_id: col.strN(),
  },
);

const account_move_line = defineTable('account_move_line', 'invoice lines', ['id'], {
  id: col.int(),
  move_id: col.int(),
  name: col.strN(),
  display_type: col.str(),
  product_id: col.intN(),
  account_id: col.intN(),
  partner_id: col.intN(),
  quantity: col.numericN(),
  price_unit: col.numericN(),
  discount: col.numericN(),
  price_subtotal: col.numericN(),
  price_total: col.numericN(),
  debit: col.numericN(),
  credit: col.numericN(),
  balance: col.numericN(),
  tax_line_id: col.intN(),
  contract_line_id: col.intN(),
});

const debezium_signal = defineTable(
  'debezium_signal',
  'Debezium signalling table (incremental snapshots); not an Odoo table',
  ['id'],
  { id: col.str(), type: col.str(), data: col.strN() },
  'signal',
);

/** Every captured table, by name. Order = the order of the generated include lists. */
export const TABLES = {
  res_partner,
  res_partner_bank,
  res_bank,
  res_country,
  res_country_state,
  account_banking_mandate,
  product_category,
  product_template,
  product_product,
  ir_model_data,
  service_technology,
  service_supplier,
  contract_group,
  contract_contract,
  contract_contract_res_partner_rel,
  contract_line,
  mobile_service_contract_info,
  vodafone_fiber_service_contract_info,
  mm_fiber_service_contract_info,
  orange_fiber_service_contract_info,
  adsl_service_contract_info,
  router_4g_service_contract_info,
  xoln_fiber_service_contract_info,
  switchboard_service_contract_info,
  account_move,
  account_move_line,
  debezium_signal,
} as const;

export type Tables = typeof TABLES;
export type TableName = keyof Tables;
/** The decoded row type of one captured table, e.g. `Row<'res_partner'>`. */
export type Row<T extends TableName> = RowOf<Tables[T]['columns']>;

export type ResPartnerRow = Row<'res_partner'>;
export type ResPartnerBankRow = Row<'res_partner_bank'>;
export type ContractRow = Row<'contract_contract'>;
export type ContractLineRow = Row<'contract_line'>;
export type ProductProductRow = Row<'product_product'>;
export type ProductTemplateRow = Row<'product_template'>;
export type AccountMoveRow = Row<'account_move'>;

export const TABLE_NAMES = Object.keys(TABLES) as TableName[];

export function isCapturedTable(name: string): name is TableName {
  return Object.prototype.hasOwnProperty.call(TABLES, name);
}

export function tableSpec<T extends TableName>(name: T): Tables[T] {
  return TABLES[name];
}

/** The untyped view of a table's spec (columns, key, billing, codecs). */
export function specOf(name: TableName): TableSpec {
  return TABLES[name] as unknown as TableSpec;
}

/** Odoo tables whose changes drive the pipeline (the signal table excluded). */
export function capturedOdooTables(): TableName[] {
  return TABLE_NAMES.filter((n) => specOf(n).role === 'odoo');
}

/**
 * Every table the publication must contain (and the connector user must SELECT), schema-qualified:
 * the Odoo tables plus public.debezium_signal. For the stack script: REPLICA IDENTITY FULL on each
 * (debezium_signal too is harmless), CREATE PUBLICATION odoo_billing_pub FOR TABLE <these>.
 */
export function publicationTables(): string[] {
  return TABLE_NAMES.map((n) => `${TABLES[n].schema}.${n}`);
}

/** Kafka topic of a table: `<prefix>.public.<table>` (Debezium's default topic naming). */
export function topicFor(table: TableName, prefix = 'odoo'): string {
  return `${prefix}.${TABLES[table].schema}.${table}`;
}

/** Topics the pipeline's consumers subscribe to (Odoo tables only). */
export function captureTopics(prefix = 'odoo'): string[] {
  return capturedOdooTables().map((n) => topicFor(n, prefix));
}

export interface IncludeLists {
  'table.include.list': string;
  'column.include.list': string;
}

/**
 * The connector's include lists, generated from this registry. Debezium matches them as anchored,
 * case-insensitive regular expressions on `schema.table` and `schema.table.column`; names are listed
 * verbatim (an unescaped "." matches itself too, and no Odoo name differs from another by one character
 * where a "." stands).
 */
export function generateIncludeLists(): IncludeLists {
  const tables: string[] = [];
  const columns: string[] = [];
  for (const name of TABLE_NAMES) {
    const spec = specOf(name);
    tables.push(`${spec.schema}.${name}`);
    for (const c of Object.keys(spec.columns)) columns.push(`${spec.schema}.${name}.${c}`);
  }
  return { 'table.include.list': tables.join(','), 'column.include.list': columns.join(',') };
}
