import type { Pool, QueryResultRow } from 'pg';
import { Coalescer } from '../../core/coalescer';
import { pickTranslation } from '../../domain/capture/columns';
import type { Row } from '../../domain/capture/tables';
import { DEFAULT_TECHNOLOGY_SERVICE_CATEGORIES, productKind } from '../../domain/projection/products';
import { optionalOdooColumns, partnerBlockedSql, type OdooOptionalColumns } from './odoo-schema';
import { statementName } from './prepared';
import type { ContractView, LineView, PartnerView, ProductView } from '../../domain/projection/views';

/**
 * The thin, read-only SQL adapter that loads the projection views from Odoo's PostgreSQL database: one query
 * per view (partners, emails, mandate, lines and products are nested with json_build_object / json_agg), so a
 * contract costs one round trip. Only SELECTs; never a write.
 *
 * Odoo semantics reproduced here:
 * - `email_ids` is ordered like Odoo orders a Many2many of res.partner: by the comodel's `_order`
 *   (display_name, id DESC); the first email drives the customer account.
 * - "contracts of a partner / of an info record" follow the ORM's active_test: archived contracts
 *   (`active` not true) are left out. A terminated contract is still active.
 * - The mandate's IBAN is `res_partner_bank.sanitized_acc_number` (the IBAN without spaces, upper case; derived
 *   from acc_number when the stored compute is empty).
 * - Technologies, suppliers and product categories are identified by their XML ids (`module.name`).
 * - Contract lines without a product (sections, notes) are not lines for OpenCell and are left out.
 * - Dates are 'YYYY-MM-DD'; Odoo's "False" for an empty Char / Many2one is null.
 * - Phone numbers: empty and blank are null; Odoo's "-" placeholder (the default of several info models, copied to
 *   the contract) is read as it is: whether it is a number is the domain's setting (`odooPhone`).
 * - Columns only some addons add (`block_contract_creation_in_OC`, the switchboard info) are read only when the
 *   database has them (odoo-schema.ts, asked once).
 */

/** Anything that runs a query: a pg Pool, a PoolClient or a Client. */
export type OdooQueryable = Pick<Pool, 'query'>;

/** The ISP info tables and the contract_contract column pointing at each (note the odd names). */
export const INFO_TABLE_CONTRACT_COLUMN = {
  mobile_service_contract_info: 'mobile_contract_service_info_id',
  vodafone_fiber_service_contract_info: 'vodafone_fiber_service_contract_info_id',
  mm_fiber_service_contract_info: 'mm_fiber_service_contract_info_id',
  orange_fiber_service_contract_info: 'orange_fiber_service_contract_info_id',
  adsl_service_contract_info: 'adsl_service_contract_info_id',
  router_4g_service_contract_info: 'router_4G_service_contract_info_id',
  xoln_fiber_service_contract_info: 'xoln_fiber_service_contract_info_id',
  switchboard_service_contract_info: 'switchboard_service_contract_info_id',
} as const satisfies Record<string, keyof Row<'contract_contract'>>;

export type IspInfoTable = keyof typeof INFO_TABLE_CONTRACT_COLUMN;

export function isIspInfoTable(table: string): table is IspInfoTable {
  return Object.prototype.hasOwnProperty.call(INFO_TABLE_CONTRACT_COLUMN, table);
}

// ---------------------------------------------------------------------------------------------------------------
// SQL fragments
// ---------------------------------------------------------------------------------------------------------------

const qi = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The XML id (`module.name`) of a record, the oldest one when it has several. */
const xmlId = (model: string, idExpr: string) =>
  `(SELECT d.module || '.' || d.name FROM ir_model_data d
     WHERE d.model = '${model}' AND d.res_id = ${idExpr} ORDER BY d.id LIMIT 1)`;

const text = (expr: string) => `NULLIF(${expr}, '')`;

/** A phone number column: null when empty or blank; "-" is left to the domain (`odooPhone`, PHONE_PLACEHOLDER_IS_NO_NUMBER). */
const phone = (expr: string) => `NULLIF(btrim(${expr}), '')`;

/** PartnerView of the res_partner whose id is `idExpr` (null when absent). */
const partnerJson = (idExpr: string, o: OdooOptionalColumns) => `(
  SELECT json_build_object(
    'id', p.id,
    'ref', ${text('p.ref')},
    'name', ${text('p.name')},
    'firstname', ${text('p.firstname')},
    'lastname', ${text('p.lastname')},
    'isCompany', COALESCE(p.is_company, false),
    'vat', ${text('p.vat')},
    'email', ${text('p.email')},
    'mobile', ${text('p.mobile')},
    'phone', ${text('p.phone')},
    'street', ${text('p.street')},
    'street2', ${text('p.street2')},
    'zip', ${text('p.zip')},
    'city', ${text('p.city')},
    'stateCode', ${text('s.code')},
    'stateName', ${text('s.name')},
    'countryCode', ${text('c.code')},
    'lang', ${text('p.lang')},
    'blockContractCreationInOC', ${partnerBlockedSql('p', o)},
    'parentId', p.parent_id
  )
  FROM res_partner p
  LEFT JOIN res_country_state s ON s.id = p.state_id
  LEFT JOIN res_country c ON c.id = p.country_id
  WHERE p.id = ${idExpr})`;

/** The product fields of ProductView for `product_product pp` joined to `product_template pt`. */
const productFields = (pp: string, pt: string) => `
    'id', ${pp}.id,
    'defaultCode', ${text(`${pp}.default_code`)},
    'name', ${pt}.name,
    'categoryXmlId', ${xmlId('product.category', `${pt}.categ_id`)},
    'categoryAncestorXmlIds', COALESCE((
      WITH RECURSIVE up(id, parent_id, depth) AS (
        SELECT c.id, c.parent_id, 0 FROM product_category c WHERE c.id = ${pt}.categ_id
        UNION ALL
        SELECT c.id, c.parent_id, up.depth + 1 FROM product_category c JOIN up ON c.id = up.parent_id
         WHERE up.depth < 64
      )
      SELECT json_agg(COALESCE(x.xml_id, '') ORDER BY up.depth)
        FROM up
        LEFT JOIN LATERAL (SELECT d.module || '.' || d.name AS xml_id FROM ir_model_data d
                       WHERE d.model = 'product.category' AND d.res_id = up.id ORDER BY d.id LIMIT 1) x ON true
       WHERE up.depth > 0
    ), '[]'::json)`;

const TECHNOLOGY_CATEGORIES_SQL = `COALESCE((
  SELECT json_agg(DISTINCT x.xml_id)
    FROM service_technology st
    JOIN LATERAL (SELECT d.module || '.' || d.name AS xml_id FROM ir_model_data d
                   WHERE d.model = 'product.category' AND d.res_id = st.service_product_category_id
                   ORDER BY d.id LIMIT 1) x ON true
), '[]'::json)`;

/** Raw line as the SQL returns it (kind resolved in TypeScript with productKind). */
const lineJson = (l: string) => `json_build_object(
    'id', ${l}.id,
    'contractId', ${l}.contract_id,
    'productId', ${l}.product_id,
    'name', ${text(`${l}.name`)},
    'dateStart', ${l}.date_start,
    'dateEnd', ${l}.date_end,
    'isCanceled', COALESCE(${l}.is_canceled, false),
    'product', (SELECT json_build_object(${productFields('pp', 'pt')})
                  FROM product_product pp JOIN product_template pt ON pt.id = pp.product_tmpl_id
                 WHERE pp.id = ${l}.product_id)
  )`;

const ispInfoJson = (cc: string, o: OdooOptionalColumns) => `(
  SELECT json_build_object('table', i.tbl, 'id', i.id, 'phoneNumber', ${phone('i.phone')})
    FROM (VALUES ${Object.entries(INFO_TABLE_CONTRACT_COLUMN)
      .filter(([table]) => o.switchboardInfo || table !== 'switchboard_service_contract_info')
      .map(
        ([table, column], ord) =>
          `('${table}', ${cc}.${qi(column)}, (SELECT t.phone_number FROM ${table} t WHERE t.id = ${cc}.${qi(column)}), ${ord})`,
      )
      .join(',\n            ')}) AS i(tbl, id, phone, ord)
   WHERE i.id IS NOT NULL
   ORDER BY i.ord
   LIMIT 1)`;

/** ContractView (lines still raw) of `contract_contract cc`. */
const contractJson = (cc: string, o: OdooOptionalColumns) => `json_build_object(
  'id', ${cc}.id,
  'code', ${cc}.code,
  'partner', ${partnerJson(`${cc}.partner_id`, o)},
  'invoicePartner', ${partnerJson(`${cc}.invoice_partner_id`, o)},
  'servicePartner', ${partnerJson(`${cc}.service_partner_id`, o)},
  'emails', COALESCE((
    SELECT json_agg(json_build_object('id', e.id, 'email', ${text('e.email')}) ORDER BY e.display_name, e.id DESC)
      FROM contract_contract_res_partner_rel r JOIN res_partner e ON e.id = r.res_partner_id
     WHERE r.contract_contract_id = ${cc}.id
  ), '[]'::json),
  'mandate', (
    SELECT json_build_object(
      'id', m.id,
      'iban', COALESCE(${text('b.sanitized_acc_number')}, ${text(`upper(regexp_replace(b.acc_number, '\\s', '', 'g'))`)}),
      'bic', ${text('bk.bic')},
      'bankName', ${text('bk.name')},
      'bankAccountId', b.id,
      'bankAccountCreateDate', to_char(b.create_date, 'YYYY-MM-DD"T"HH24:MI:SS'),
      'reference', ${text('m.unique_mandate_reference')},
      'signatureDate', m.signature_date
    )
    FROM account_banking_mandate m
    LEFT JOIN res_partner_bank b ON b.id = m.partner_bank_id
    LEFT JOIN res_bank bk ON bk.id = b.bank_id
    WHERE m.id = ${cc}.mandate_id),
  'serviceTechnology', ${xmlId('service.technology', `${cc}.service_technology_id`)},
  'serviceSupplier', ${xmlId('service.supplier', `${cc}.service_supplier_id`)},
  'phoneNumber', ${phone(`${cc}.phone_number`)},
  'ispInfo', ${ispInfoJson(cc, o)},
  'dateStart', ${cc}.date_start,
  'dateEnd', ${cc}.date_end,
  'isTerminated', COALESCE(${cc}.is_terminated, false),
  'terminateDate', ${cc}.terminate_date,
  'lines', COALESCE((
    SELECT json_agg(${lineJson('l')} ORDER BY l.id)
      FROM contract_line l
     WHERE l.contract_id = ${cc}.id AND l.product_id IS NOT NULL
  ), '[]'::json)
)`;

// ---------------------------------------------------------------------------------------------------------------
// Row shapes and conversion
// ---------------------------------------------------------------------------------------------------------------

interface RawProduct {
  id: number;
  defaultCode: string | null;
  name: Readonly<Record<string, string>> | string | null;
  categoryXmlId: string | null;
  categoryAncestorXmlIds: string[];
}

interface RawLine extends Omit<LineView, 'productCode' | 'kind'> {
  product: RawProduct | null;
}

interface RawContract extends Omit<ContractView, 'lines' | 'code'> {
  code: string | null;
  lines: RawLine[];
}

function toProduct(raw: RawProduct, lang: string): ProductView {
  const name =
    raw.name === null ? null : typeof raw.name === 'string' ? raw.name : pickTranslation(raw.name, lang);
  return {
    id: raw.id,
    defaultCode: raw.defaultCode,
    name,
    categoryXmlId: raw.categoryXmlId,
    categoryAncestorXmlIds: raw.categoryAncestorXmlIds ?? [],
  };
}

function toLine(raw: RawLine, technologyCategories: readonly string[], lang: string): LineView {
  const product = raw.product ? toProduct(raw.product, lang) : null;
  return {
    id: raw.id,
    contractId: raw.contractId,
    productId: raw.productId,
    productCode: product?.defaultCode ?? null,
    kind: product ? productKind(product, technologyCategories) : 'none',
    name: raw.name,
    dateStart: raw.dateStart,
    dateEnd: raw.dateEnd,
    isCanceled: raw.isCanceled,
  };
}

function toContract(raw: RawContract, technologyCategories: readonly string[], lang: string): ContractView {
  return {
    ...raw,
    // A contract without a code cannot be an OpenCell subscription; the payloads reject the empty code.
    code: raw.code ?? '',
    lines: raw.lines.map((l) => toLine(l, technologyCategories, lang)),
  };
}

const orDefault = (cats: readonly string[] | null | undefined) =>
  cats && cats.length ? cats : DEFAULT_TECHNOLOGY_SERVICE_CATEGORIES;

// ---------------------------------------------------------------------------------------------------------------
// The adapter
// ---------------------------------------------------------------------------------------------------------------

/** Ids per coalesced read at most (partnerIdOfContract, partner). */
const COALESCED_READS_MAX = 500;

/** The language translated names are read in when none is given (ODOO_LANG's default, src/core/config.ts). */
export const DEFAULT_NAME_LANG = 'ca_ES';

export class OdooViews {
  readonly #db: OdooQueryable;
  /**
   * Odoo 16 keeps translated names (product_template.name) as jsonb: they are read in this language, then en_US
   * (Odoo's source language), as the original's jobs read them in their context language (ODOO_LANG).
   */
  readonly #lang: string;

  /**
   * The router asks a contract's holder once per contract it pins, a fetched batch's at once: the asks of one turn of
   * the event loop leave as one `= ANY($1)` query (issue 17 §2, src/core/coalescer.ts). Its other reads are asked
   * once per batch (products, partnersWithContracts, contractsInCreation).
   */
  readonly #holders: Coalescer<number, number | null>;
  /** The projector asks one partner per intent (update_customer): the asks of one turn leave as one query. */
  readonly #partners: Coalescer<number, PartnerView | null>;
  readonly #categories: Coalescer<null, string[]>;

  constructor(pool: OdooQueryable, opts: { lang?: string } = {}) {
    this.#db = pool;
    this.#lang = opts.lang ?? DEFAULT_NAME_LANG;
    const coalesced = { maxBatch: COALESCED_READS_MAX, maxInFlight: 2 };
    this.#holders = new Coalescer(async (_k, batch) => {
      const holders = await this.partnersOfContracts(batch.map((p) => p.req));
      for (const p of batch) p.resolve(holders.get(p.req) ?? null);
    }, coalesced);
    this.#partners = new Coalescer(async (_k, batch) => {
      const partners = await this.#partnersById(batch.map((p) => p.req));
      for (const p of batch) p.resolve(partners.get(p.req) ?? null);
    }, coalesced);
    // one answer for every ask of the turn (a replay's contract lines each ask it)
    this.#categories = new Coalescer(
      async (_k, batch) => {
        const cats = await this.#technologyServiceCategories();
        for (const p of batch) p.resolve(cats);
      },
      { maxBatch: Number.MAX_SAFE_INTEGER, maxInFlight: 1 },
    );
  }

  /** Every statement here is a fixed text: each is prepared once per connection (named by its text's hash). */
  /** The optional columns of this database, asked once (odoo-schema.ts). */
  #optional(): Promise<OdooOptionalColumns> {
    return optionalOdooColumns(this.#db);
  }

  async #rows<R extends QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    return (await this.#db.query<R>({ name: statementName(sql), text: sql, values: params })).rows;
  }

  /**
   * `res.partner` with its state and country; null when it does not exist. Read with the other partners asked in the
   * same turn of the event loop (one query for the intents a fetched batch handles at once).
   */
  partner(id: number): Promise<PartnerView | null> {
    return this.#partners.submit('', id);
  }

  /** Several partners in one query (missing ids are absent from the map). */
  async #partnersById(ids: readonly number[]): Promise<Map<number, PartnerView>> {
    const o = await this.#optional();
    const rows = await this.#rows<{ v: PartnerView | null }>(
      `SELECT ${partnerJson('x.id', o)} AS v FROM unnest($1::int[]) AS x(id)`,
      [[...new Set(ids)]],
    );
    const out = new Map<number, PartnerView>();
    for (const r of rows) if (r.v) out.set(r.v.id, r.v);
    return out;
  }

  /**
   * `contract.contract` with everything the strategies and payloads read (partner, invoice partner, service
   * address, ordered emails, mandate + bank, technology / supplier XML ids, ISP info, lines with product code and
   * kind), in one query; null when it does not exist.
   */
  async contract(id: number): Promise<ContractView | null> {
    const o = await this.#optional();
    const rows = await this.#rows<{ v: RawContract; cats: string[] }>(
      `SELECT ${contractJson('cc', o)} AS v, ${TECHNOLOGY_CATEGORIES_SQL} AS cats
         FROM contract_contract cc WHERE cc.id = $1`,
      [id],
    );
    return rows.length ? toContract(rows[0].v, orDefault(rows[0].cats), this.#lang) : null;
  }

  /** Several contracts in one query (missing ids are skipped), in the order of `ids`. */
  async contracts(ids: readonly number[]): Promise<ContractView[]> {
    if (ids.length === 0) return [];
    const o = await this.#optional();
    const rows = await this.#rows<{ v: RawContract; cats: string[] }>(
      `SELECT ${contractJson('cc', o)} AS v, ${TECHNOLOGY_CATEGORIES_SQL} AS cats
         FROM contract_contract cc WHERE cc.id = ANY($1::int[])`,
      [[...ids]],
    );
    const byId = new Map(rows.map((r) => [r.v.id, toContract(r.v, orDefault(r.cats), this.#lang)]));
    return ids.flatMap((id) => {
      const c = byId.get(id);
      return c ? [c] : [];
    });
  }

  /**
   * The partner's contracts (`partner_id`), oldest first, in one query. Archived contracts are left out unless
   * `includeArchived`; terminated ones are included (the strategies filter on OpenCell's active subscriptions).
   */
  async contractsOfPartner(
    partnerId: number,
    opts: { includeArchived?: boolean } = {},
  ): Promise<ContractView[]> {
    const o = await this.#optional();
    const rows = await this.#rows<{ v: RawContract; cats: string[] }>(
      `SELECT ${contractJson('cc', o)} AS v, ${TECHNOLOGY_CATEGORIES_SQL} AS cats
         FROM contract_contract cc
        WHERE cc.partner_id = $1 ${opts.includeArchived ? '' : 'AND cc.active IS TRUE'}
        ORDER BY cc.id`,
      [partnerId],
    );
    return rows.map((r) => toContract(r.v, orDefault(r.cats), this.#lang));
  }

  /**
   * Ids of the (non-archived) contracts pointing at an ISP info record (docs/behaviour.md T7's
   * `info.contract_ids`).
   */
  async contractIdsOfInfo(table: IspInfoTable, infoId: number): Promise<number[]> {
    if (!isIspInfoTable(table)) throw new TypeError(`not an ISP info table: ${String(table)}`);
    const column = INFO_TABLE_CONTRACT_COLUMN[table];
    const rows = await this.#rows<{ id: number }>(
      `SELECT id FROM contract_contract WHERE ${qi(column)} = $1 AND active IS TRUE ORDER BY id`,
      [infoId],
    );
    return rows.map((r) => r.id);
  }

  /** The contract of a contract line; null when the line does not exist. */
  async contractIdOfLine(lineId: number): Promise<number | null> {
    const rows = await this.#rows<{ contract_id: number }>(
      'SELECT contract_id FROM contract_line WHERE id = $1',
      [lineId],
    );
    return rows[0]?.contract_id ?? null;
  }

  /** The holder (`partner_id`) of a contract; null when the contract does not exist. */
  partnerIdOfContract(contractId: number): Promise<number | null> {
    return this.#holders.submit('', contractId);
  }

  /** The holders of these contracts, in one query (a contract that does not exist, or has no holder, is absent). */
  async partnersOfContracts(contractIds: readonly number[]): Promise<Map<number, number>> {
    if (contractIds.length === 0) return new Map();
    const rows = await this.#rows<{ id: number; partner_id: number | null }>(
      'SELECT id, partner_id FROM contract_contract WHERE id = ANY($1::int[])',
      [[...new Set(contractIds)]],
    );
    return new Map(rows.filter((r) => r.partner_id !== null).map((r) => [r.id, r.partner_id!]));
  }

  /** One contract line as a LineView (product code and kind resolved); null when absent or without product. */
  async line(lineId: number): Promise<LineView | null> {
    const rows = await this.#rows<{ v: RawLine; cats: string[] }>(
      `SELECT ${lineJson('l')} AS v, ${TECHNOLOGY_CATEGORIES_SQL} AS cats
         FROM contract_line l WHERE l.id = $1 AND l.product_id IS NOT NULL`,
      [lineId],
    );
    return rows.length ? toLine(rows[0].v, orDefault(rows[0].cats), this.#lang) : null;
  }

  /**
   * `product.product` by id, with its category XML id and its ancestors' (TriggerContext.product), in one query (the
   * router asks once per fetched batch); an absent id is left out.
   */
  async products(ids: readonly number[]): Promise<Map<number, ProductView>> {
    if (ids.length === 0) return new Map();
    const rows = await this.#rows<{ v: RawProduct }>(
      `SELECT json_build_object(${productFields('pp', 'pt')}) AS v
         FROM product_product pp JOIN product_template pt ON pt.id = pp.product_tmpl_id
        WHERE pp.id = ANY($1::int[])`,
      [[...new Set(ids)]],
    );
    return new Map(rows.map((r) => [r.v.id, toProduct(r.v, this.#lang)]));
  }

  /**
   * Which of these contracts have not been written since the transaction that created them: Odoo sets `create_date`
   * and `write_date` to the transaction's time on create, and every later `write()` (a wizard's mandate or email
   * change included) moves `write_date` (TriggerContext.contractInCreation).
   */
  async contractsInCreation(contractIds: readonly number[]): Promise<Set<number>> {
    if (contractIds.length === 0) return new Set();
    const rows = await this.#rows<{ id: number }>(
      `SELECT id FROM contract_contract
        WHERE id = ANY($1::int[]) AND create_date IS NOT DISTINCT FROM write_date`,
      [[...new Set(contractIds)]],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Which of these partners hold at least one (non-archived) contract, in one query. */
  async partnersWithContracts(partnerIds: readonly number[]): Promise<Set<number>> {
    if (partnerIds.length === 0) return new Set();
    const rows = await this.#rows<{ partner_id: number }>(
      'SELECT DISTINCT partner_id FROM contract_contract WHERE partner_id = ANY($1::int[]) AND active IS TRUE',
      [[...new Set(partnerIds)]],
    );
    return new Set(rows.map((r) => r.partner_id));
  }

  /**
   * `service.technology.service_product_category_id` XML ids (TriggerContext.technologyServiceCategories), sorted;
   * the known defaults when the table holds none.
   */
  technologyServiceCategories(): Promise<string[]> {
    return this.#categories.submit('', null);
  }

  async #technologyServiceCategories(): Promise<string[]> {
    const rows = await this.#rows<{ cats: string[] }>(`SELECT ${TECHNOLOGY_CATEGORIES_SQL} AS cats`, []);
    return [...orDefault(rows[0]?.cats)].sort();
  }
}
