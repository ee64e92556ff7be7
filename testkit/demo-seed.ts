import { composeIBAN } from 'ibantools';
import { isValidIban } from '../src/domain/projection/iban';
import { randomInt } from 'node:crypto';
import type { ClientBase } from 'pg';
import { seededRng, type Rng } from './seeded-random';

/**
 * Demo data for the Odoo database created from schemas/odoo/*.sql: realistic, deterministic (seeded PRNG)
 * SomConnexió partners, bank accounts with valid Spanish IBANs, SEPA mandates, contract groups, contracts
 * with lines, contract emails and ISP info — written the way Odoo writes them (each contract with its lines
 * in ONE transaction: INSERTs, then UPDATEs of the stored computed fields), so the CDC stream looks real.
 *
 * The small helpers (insertPartner, insertContract, …) are for integration tests: every argument has a
 * sensible default and `overrides` reach any column.
 */

/** The catalog (same codes as the OpenCell sandbox), by category XML id. Also inserted by 80-reference-data.sql. */
export const CATALOG = [
  {
    code: 'SE_SC_REC_MOBILE_T_UNL_20480',
    category: 'somconnexio.mobile_service',
    price: '17.36',
    en: 'Unlimited calls 20 GB',
    ca: 'Trucades il·limitades 20 GB',
  },
  {
    code: 'SE_SC_REC_MOBILE_T_150_1024',
    category: 'somconnexio.mobile_service',
    price: '6.61',
    en: '150 min 1 GB',
    ca: '150 min 1 GB',
  },
  {
    code: 'SE_SC_REC_MOBILE_T_0_0',
    category: 'somconnexio.mobile_service',
    price: '1.65',
    en: '0 min 0 GB',
    ca: '0 min 0 GB',
  },
  {
    code: 'SE_SC_REC_MOBILE_PACK_UNL_1024',
    category: 'somconnexio.mobile_additional_service',
    price: '2.48',
    en: 'Unlimited calls pack 1 GB',
    ca: 'Paquet trucades il·limitades 1 GB',
  },
  {
    code: 'SE_SC_REC_BA_F_600',
    category: 'somconnexio.broadband_fiber_service',
    price: '28.93',
    en: 'Fiber 600 Mb',
    ca: 'Fibra 600 Mb',
  },
  {
    code: 'SE_SC_REC_BA_F_100',
    category: 'somconnexio.broadband_fiber_service',
    price: '20.66',
    en: 'Fiber 100 Mb',
    ca: 'Fibra 100 Mb',
  },
  {
    code: 'SE_SC_REC_BA_F_1000',
    category: 'somconnexio.broadband_fiber_service',
    price: '37.19',
    en: 'Fiber 1 Gb',
    ca: 'Fibra 1 Gb',
  },
  {
    code: 'SE_SC_REC_BA_ADSL_SF',
    category: 'somconnexio.broadband_adsl_service',
    price: '24.79',
    en: 'ADSL without landline',
    ca: 'ADSL sense fix',
  },
  {
    code: 'SE_SC_REC_BA_4G',
    category: 'somconnexio.broadband_4G_service',
    price: '28.93',
    en: '4G Router',
    ca: 'Router 4G',
  },
  {
    code: 'SE_SC_REC_BA_LANDLINE_UNL',
    category: 'somconnexio.broadband_additional_service',
    price: '4.13',
    en: 'Landline unlimited calls',
    ca: 'Fix trucades il·limitades',
  },
  {
    code: 'CH_SC_OSO_SIM',
    category: 'somconnexio.mobile_oneshot_service',
    price: '2.05',
    en: 'SIM card',
    ca: 'Targeta SIM',
  },
  {
    code: 'CH_SC_OSO_ROUTER_RETURN',
    category: 'somconnexio.broadband_oneshot_service',
    price: '57.85',
    en: 'Router return',
    ca: 'Retorn del router',
  },
  {
    code: 'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB',
    category: 'somconnexio.mobile_oneshot_service',
    price: '1.65',
    en: 'Additional data 1 GB',
    ca: 'Dades addicionals 1 GB',
  },
  /** Unknown to OpenCell; never used by the default contracts (tests use it to provoke UNKNOWN_PRODUCT). */
  {
    code: 'SE_SC_REC_UNKNOWN_X',
    category: 'somconnexio.mobile_additional_service',
    price: '0.99',
    en: 'Unknown extra X',
    ca: 'Extra desconegut X',
  },
  /** In the "Other" category: a line with it triggers nothing. */
  {
    code: 'SC_OTHER_DONATION',
    category: 'somconnexio.other_products',
    price: '5.00',
    en: 'Donation',
    ca: 'Donació',
  },
] as const;

export type ProductCode = (typeof CATALOG)[number]['code'];
export const UNKNOWN_PRODUCT_CODE: ProductCode = 'SE_SC_REC_UNKNOWN_X';
export const OTHER_PRODUCT_CODE: ProductCode = 'SC_OTHER_DONATION';

export type ContractKind = 'mobile' | 'fiber' | 'adsl' | '4G';
export type FiberSupplier = 'vodafone' | 'masmovil' | 'orange' | 'xoln';

/** Anything with pg's `query` on ONE connection (pg.Client or a PoolClient — not a Pool: transactions). */
export type Db = Pick<ClientBase, 'query'>;

// ---------------------------------------------------------------------------------------------------------
// Deterministic randomness.

export { seededRng, type Rng };

/** A non-deterministic Rng for test helpers when none is given. */
const cryptoRng: Rng = () => randomInt(0, 2 ** 32) / 2 ** 32;

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const digits = (rng: Rng, n: number): string =>
  Array.from({ length: n }, () => Math.floor(rng() * 10)).join('');

// ---------------------------------------------------------------------------------------------------------
// Spanish identifiers.

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** A valid DNI (8 digits + control letter). */
export function dni(rng: Rng): string {
  const n = Math.floor(rng() * 99_999_999) + 1;
  return `${String(n).padStart(8, '0')}${DNI_LETTERS[n % 23]}`;
}

/** A valid CIF for an SL (B) / cooperative (F) / association (G): letter + 7 digits + control digit. */
export function cif(rng: Rng, letter: 'B' | 'F' | 'G' = 'B'): string {
  const body = digits(rng, 7);
  let sum = 0;
  for (let i = 0; i < 7; i++) {
    const d = Number(body[i]);
    if (i % 2 === 0) {
      const x = d * 2;
      sum += Math.floor(x / 10) + (x % 10);
    } else sum += d;
  }
  return `${letter}${body}${(10 - (sum % 10)) % 10}`;
}

export { isValidIban };

/** Spanish CCC control digit (weights 1,2,4,8,5,10,9,7,3,6). */
function cccDigit(ten: string): number {
  const w = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6];
  const sum = [...ten].reduce((s, d, i) => s + Number(d) * w[i], 0);
  const r = 11 - (sum % 11);
  return r === 11 ? 0 : r === 10 ? 1 : r;
}

/** A valid Spanish IBAN (ES + mod-97 check digits + bank + branch + CCC control digits + account). */
export function spanishIban(rng: Rng, bankCode: string): string {
  const branch = digits(rng, 4);
  const account = digits(rng, 10);
  const dc = `${cccDigit(`00${bankCode}${branch}`)}${cccDigit(account)}`;
  const iban = composeIBAN({ countryCode: 'ES', bban: `${bankCode}${branch}${dc}${account}` });
  if (!iban) throw new Error(`not a Spanish BBAN: ${bankCode}${branch}${dc}${account}`);
  return iban;
}

/** "ES91 2100 0418 4502 0005 1332", as users type it in Odoo. */
export const formatIban = (iban: string): string => iban.replace(/(.{4})(?=.)/g, '$1 ');

/** Spanish bank entity code by BIC (res_bank rows of 80-reference-data.sql). */
export const BANK_CODES: Readonly<Record<string, string>> = {
  CAIXESBBXXX: '2100',
  BBVAESMMXXX: '0182',
  BSCHESMMXXX: '0049',
  BSABESBBXXX: '0081',
  TRIOESMMXXX: '1491',
  CDENESBBXXX: '3025',
  ETICES21XXX: '1550',
};

// ---------------------------------------------------------------------------------------------------------
// Names and places.

// prettier-ignore
const FIRST_NAMES = [
  'Jordi', 'Montserrat', 'Núria', 'Marc', 'Laia', 'Pau', 'Mireia', 'Oriol', 'Anna', 'Joan', 'Mercè', 'Arnau',
  'Carme', 'Xavier', 'Meritxell', 'Pere', 'Roser', 'Queralt', 'Martí', 'Aina', 'María', 'José', 'Carmen',
  'Antonio', 'Lucía', 'Javier', 'Elena', 'Manuel', 'Pilar', 'Alejandro', 'Begoña', 'Iñaki', 'Ainhoa',
  'Dácil', 'Yeray', 'Guacimara', 'Itziar', 'Sergi', 'Judit', 'Àlex',
] as const;
// prettier-ignore
const SURNAMES = [
  'Puig', 'Soler', 'Vila', 'Ferrer', 'Serra', 'Font', 'Pujol', 'Roca', 'Casas', 'Vidal', 'Sala', 'Riera',
  'Costa', 'Bosch', 'Martí', 'Camps', 'Mas', 'Planas', 'Garcia', 'Martínez', 'López', 'Sánchez', 'Pérez',
  'Gómez', 'Fernández', 'Rodríguez', 'Díaz', 'Moreno', 'Álvarez', 'Romero', 'Navarro', 'Torres', 'Domínguez',
  'Cabrera', 'Hernández', 'Rivero', 'Etxeberria', 'Castells', "d'Urgell", 'Sabaté',
] as const;
// prettier-ignore
const COMPANY_STEMS = [
  'Cooperativa Obrera', 'Fusteria', 'Llibreria', 'Taller', 'Forn de pa', 'Associació Veïnal',
  'Escola Bressol', 'Cafeteria', 'Distribucions', 'Serveis Agrícoles', 'Gestoria', 'Arquitectes',
  'Editorial', 'Ateneu',
] as const;
const COMPANY_SUFFIXES = ['SCCL', 'SL', 'SLL', 'SCCL', 'SLU'] as const;
// prettier-ignore
const STREETS = [
  'Carrer Major', 'Carrer de Sants', 'Rambla de Catalunya', 'Passeig de Gràcia', 'Carrer de Pere IV',
  'Avinguda Diagonal', 'Carrer de la Riera', 'Plaça del Sol', 'Carrer Nou', "Carrer de l'Església",
  'Calle Mayor', 'Calle de Alcalá', 'Avenida de Anaga', 'Calle Triana', 'Calle del Castillo',
  'Carrer dels Ciutadans',
] as const;

interface Place {
  city: string;
  state: string;
  zipPrefix: string;
  lang: 'ca_ES' | 'es_ES';
  landline: string;
  weight: number;
}
const PLACES: readonly Place[] = [
  { city: 'Barcelona', state: 'B', zipPrefix: '080', lang: 'ca_ES', landline: '93', weight: 30 },
  { city: 'Sabadell', state: 'B', zipPrefix: '082', lang: 'ca_ES', landline: '93', weight: 6 },
  { city: 'Terrassa', state: 'B', zipPrefix: '082', lang: 'ca_ES', landline: '93', weight: 5 },
  { city: 'Girona', state: 'GI', zipPrefix: '170', lang: 'ca_ES', landline: '972', weight: 8 },
  { city: 'Olot', state: 'GI', zipPrefix: '178', lang: 'ca_ES', landline: '972', weight: 3 },
  { city: 'Lleida', state: 'L', zipPrefix: '250', lang: 'ca_ES', landline: '973', weight: 5 },
  { city: 'Tarragona', state: 'T', zipPrefix: '430', lang: 'ca_ES', landline: '977', weight: 5 },
  { city: 'Reus', state: 'T', zipPrefix: '432', lang: 'ca_ES', landline: '977', weight: 3 },
  { city: 'Madrid', state: 'M', zipPrefix: '280', lang: 'es_ES', landline: '91', weight: 14 },
  {
    city: 'Santa Cruz de Tenerife',
    state: 'TF',
    zipPrefix: '380',
    lang: 'es_ES',
    landline: '922',
    weight: 5,
  },
  {
    city: 'San Cristóbal de La Laguna',
    state: 'TF',
    zipPrefix: '382',
    lang: 'es_ES',
    landline: '922',
    weight: 3,
  },
  {
    city: 'Las Palmas de Gran Canaria',
    state: 'GC',
    zipPrefix: '350',
    lang: 'es_ES',
    landline: '928',
    weight: 6,
  },
];

function pickPlace(rng: Rng): Place {
  const total = PLACES.reduce((s, p) => s + p.weight, 0);
  let x = rng() * total;
  for (const p of PLACES) {
    x -= p.weight;
    if (x < 0) return p;
  }
  return PLACES[0];
}

const slug = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '.')
    .replace(/^\.|\.$/g, '');

/** A 9-digit Spanish mobile number (6xxxxxxxx / 7xxxxxxxx). */
export const mobileNumber = (rng: Rng): string => `6${digits(rng, 8)}`;
/** A 9-digit Spanish landline number with the province prefix (9xxxxxxxx). */
export const landlineNumber = (rng: Rng, prefix = '93'): string =>
  `${prefix}${digits(rng, 9 - prefix.length)}`;

// ---------------------------------------------------------------------------------------------------------
// Lookups.

async function one<T>(db: Db, sql: string, params: unknown[], what: string): Promise<T> {
  const r = await db.query(sql, params);
  if (!r.rows.length)
    throw new Error(`demo seed: ${what} not found (is schemas/odoo/80-reference-data.sql applied?)`);
  return r.rows[0] as T;
}

export async function xmlIdResId(db: Db, xmlId: string): Promise<number> {
  const [module, name] = xmlId.split('.');
  const r = await one<{ res_id: number }>(
    db,
    'SELECT res_id FROM ir_model_data WHERE module = $1 AND name = $2',
    [module, name],
    `XML id ${xmlId}`,
  );
  return r.res_id;
}

export async function productIdByCode(db: Db, code: string): Promise<number> {
  const r = await one<{ id: number }>(
    db,
    'SELECT id FROM product_product WHERE default_code = $1 AND active ORDER BY id LIMIT 1',
    [code],
    `product ${code}`,
  );
  return r.id;
}

export async function stateIdByCode(db: Db, code: string, country = 'ES'): Promise<number> {
  const r = await one<{ id: number }>(
    db,
    'SELECT s.id FROM res_country_state s JOIN res_country c ON c.id = s.country_id WHERE c.code = $1 AND s.code = $2',
    [country, code],
    `state ${country}-${code}`,
  );
  return r.id;
}

export async function countryIdByCode(db: Db, code: string): Promise<number> {
  return (
    await one<{ id: number }>(db, 'SELECT id FROM res_country WHERE code = $1', [code], `country ${code}`)
  ).id;
}

async function nextSequence(
  db: Db,
  xmlId: 'somconnexio.sequence_partner' | 'somconnexio.sequence_contract',
): Promise<string> {
  const id = await xmlIdResId(db, xmlId);
  const seq = `ir_sequence_${String(id).padStart(3, '0')}`;
  const r = await db.query(
    `SELECT nextval('${seq}') AS n, prefix, suffix, padding FROM ir_sequence WHERE id = $1`,
    [id],
  );
  const row = r.rows[0] as { n: string; prefix: string | null; suffix: string | null; padding: number };
  return `${row.prefix ?? ''}${String(row.n).padStart(row.padding, '0')}${row.suffix ?? ''}`;
}

/** Runs fn in a transaction on this connection (skipped when `own` is false: the caller holds one). */
async function tx<T>(db: Db, own: boolean, fn: () => Promise<T>): Promise<T> {
  if (!own) return fn();
  await db.query('BEGIN');
  try {
    const out = await fn();
    await db.query('COMMIT');
    return out;
  } catch (e) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

type Values = Record<string, unknown>;

async function insertRow(db: Db, table: string, values: Values): Promise<number> {
  const cols = Object.keys(values);
  const sql = `INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols
    .map((_, i) => `$${i + 1}`)
    .join(', ')}) RETURNING id`;
  const r = await db.query(
    sql,
    cols.map((c) => values[c]),
  );
  return (r.rows[0] as { id: number }).id;
}

async function updateRow(db: Db, table: string, id: number, values: Values): Promise<void> {
  const cols = Object.keys(values);
  if (!cols.length) return;
  await db.query(
    `UPDATE ${table} SET ${cols.map((c, i) => `"${c}" = $${i + 2}`).join(', ')}, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
    [id, ...cols.map((c) => values[c])],
  );
}

/** Makes sure every CATALOG product exists (idempotent: XML id claimed with ON CONFLICT DO NOTHING). */
export async function ensureCatalog(db: Db): Promise<void> {
  const uom = await xmlIdResId(db, 'uom.product_uom_unit');
  for (const p of CATALOG) {
    const claim = await db.query(
      `INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES ('somconnexio', $1, 'product.product', NULL, false)
       ON CONFLICT DO NOTHING RETURNING id`,
      [p.code.toLowerCase()],
    );
    if (!claim.rowCount) continue;
    const categ = await xmlIdResId(db, p.category);
    const tmpl = await insertRow(db, 'product_template', {
      name: JSON.stringify({ en_US: p.en, ca_ES: p.ca }),
      detailed_type: 'service',
      type: 'service',
      categ_id: categ,
      list_price: p.price,
      uom_id: uom,
      uom_po_id: uom,
      default_code: p.code,
      purchase_ok: false,
    });
    const prod = await insertRow(db, 'product_product', { default_code: p.code, product_tmpl_id: tmpl });
    await db.query('UPDATE ir_model_data SET res_id = $2 WHERE id = $1', [
      (claim.rows[0] as { id: number }).id,
      prod,
    ]);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Test helpers.

export interface PartnerInput {
  /** person (default) or company */
  isCompany?: boolean;
  firstname?: string;
  lastname?: string;
  /** company name (companies) */
  name?: string;
  /** default: next value of somconnexio.sequence_partner */
  ref?: string;
  email?: string;
  city?: string;
  /** state code, e.g. 'B', 'TF' */
  state?: string;
  lang?: 'ca_ES' | 'es_ES';
  parentId?: number;
  type?: string;
  rng?: Rng;
  /** any res_partner column, written as is (e.g. {block_contract_creation_in_OC: true}) */
  overrides?: Values;
}

export interface InsertedPartner {
  id: number;
  ref: string | null;
  name: string;
  email: string | null;
}

/** Inserts a partner like Odoo: INSERT, then UPDATE of the stored computes (display_name, commercial_partner_id). */
export async function insertPartner(db: Db, input: PartnerInput = {}): Promise<InsertedPartner> {
  const rng = input.rng ?? cryptoRng;
  const place = input.city ? (PLACES.find((p) => p.city === input.city) ?? pickPlace(rng)) : pickPlace(rng);
  const stateCode = input.state ?? place.state;
  const isCompany = input.isCompany ?? false;
  const isChild = input.parentId !== undefined;
  // partner_firstname: an explicit name on a non-company is split into lastname (its inverse).
  const explicitName = input.name !== undefined && !isCompany && !input.firstname && !input.lastname;
  const firstname = isCompany || explicitName ? null : (input.firstname ?? pick(rng, FIRST_NAMES));
  const lastname = isCompany
    ? null
    : explicitName
      ? input.name!
      : (input.lastname ?? `${pick(rng, SURNAMES)} ${pick(rng, SURNAMES)}`);
  const companySuffix = pick(rng, COMPANY_SUFFIXES);
  const stem = pick(rng, COMPANY_STEMS);
  const name =
    input.name ??
    (isCompany ? `${stem} ${pick(rng, SURNAMES)} ${companySuffix}` : `${firstname} ${lastname}`);
  const cifLetter = /^(Associació|Ateneu)/.test(name) ? 'G' : /SCCL$/.test(name) ? 'F' : 'B';
  const ref = input.ref ?? (isChild ? null : await nextSequence(db, 'somconnexio.sequence_partner'));
  const email =
    input.email ??
    `${slug(name).slice(0, 30)}.${ref ?? digits(rng, 5)}@example.${pick(rng, ['org', 'cat', 'coop', 'net'])}`;
  let street = `${pick(rng, STREETS)}, ${1 + Math.floor(rng() * 180)}`;
  let street2: string | null =
    rng() < 0.4 ? `${1 + Math.floor(rng() * 6)}r ${pick(rng, ['1a', '2a', '3a', 'A', 'B'])}` : null;
  let zip = `${place.zipPrefix}${digits(rng, 2)}`;
  let city = place.city;
  let stateId = await stateIdByCode(db, stateCode);
  if (isChild && input.type !== 'service') {
    // Odoo syncs the address of a contact from its commercial entity; a service address is the place served.
    const parent = (
      await db.query('SELECT street, street2, zip, city, state_id FROM res_partner WHERE id = $1', [
        input.parentId,
      ])
    ).rows[0] as
      { street: string; street2: string | null; zip: string; city: string; state_id: number } | undefined;
    if (parent) ({ street, street2, zip, city, state_id: stateId } = parent);
  }
  const values: Values = {
    name,
    firstname,
    lastname,
    is_company: isCompany,
    // somconnexio's res.partner.type selection has no 'contact'; its default is 'representative'.
    type: input.type ?? 'representative',
    parent_id: input.parentId ?? null,
    ref,
    lang: input.lang ?? place.lang,
    vat: isChild ? null : `ES${isCompany ? cif(rng, cifLetter) : dni(rng)}`,
    email,
    phone: rng() < 0.5 ? landlineNumber(rng, place.landline) : null,
    mobile: mobileNumber(rng),
    street,
    street2,
    full_street: street2 ? `${street} ${street2}` : street,
    zip,
    city,
    state_id: stateId,
    country_id: await countryIdByCode(db, 'ES'),
    company_id: 1,
    active: true,
    customer_rank: 1,
    create_uid: 2,
    write_uid: 2,
    ...input.overrides,
  };
  const id = await insertRow(db, 'res_partner', values);
  await updateRow(db, 'res_partner', id, {
    display_name: name,
    commercial_partner_id: input.parentId ?? id,
  });
  return {
    id,
    ref: (values.ref as string | null) ?? null,
    name: values.name as string,
    email: (values.email as string | null) ?? null,
  };
}

export interface InsertedBank {
  bankAccountId: number;
  iban: string;
  mandateId: number;
}

/** A bank account with a valid Spanish IBAN and a valid SEPA mandate on it. */
export async function insertBankAccountAndMandate(
  db: Db,
  partnerId: number,
  opts: { iban?: string; rng?: Rng; holder?: string; signatureDate?: string; overrides?: Values } = {},
): Promise<InsertedBank> {
  const rng = opts.rng ?? cryptoRng;
  const banks = (
    await db.query('SELECT id, bic FROM res_bank WHERE bic = ANY($1) ORDER BY id', [Object.keys(BANK_CODES)])
  ).rows as { id: number; bic: string }[];
  if (!banks.length) throw new Error('demo seed: no res_bank rows (is 80-reference-data.sql applied?)');
  const bank = opts.iban
    ? (banks.find((b) => BANK_CODES[b.bic] === opts.iban!.replace(/\s/g, '').slice(4, 8)) ?? null)
    : pick(rng, banks);
  const iban = (opts.iban ?? spanishIban(rng, BANK_CODES[bank!.bic])).replace(/\s+/g, '').toUpperCase();
  const bankAccountId = await insertRow(db, 'res_partner_bank', {
    acc_number: formatIban(iban),
    sanitized_acc_number: iban,
    acc_holder_name: opts.holder ?? null,
    partner_id: partnerId,
    bank_id: bank?.id ?? null,
    company_id: 1,
    allow_out_payment: false,
    create_uid: 2,
    write_uid: 2,
    ...opts.overrides,
  });
  const mandateId = await insertRow(db, 'account_banking_mandate', {
    format: 'sepa',
    type: 'recurrent',
    partner_bank_id: bankAccountId,
    partner_id: partnerId,
    company_id: 1,
    signature_date: opts.signatureDate ?? '2024-01-15',
    state: 'draft',
    recurrent_sequence_type: 'first',
    scheme: 'CORE',
    create_uid: 2,
    write_uid: 2,
  });
  // Odoo: the reference comes from a sequence on validate(), which moves the state to valid.
  await updateRow(db, 'account_banking_mandate', mandateId, {
    unique_mandate_reference: `SC${String(mandateId).padStart(8, '0')}`,
    state: 'valid',
  });
  return { bankAccountId, iban, mandateId };
}

/** A contract group (OpenCell customer account): code defaults to "{ref}_{n}" with n = existing groups. */
export async function insertContractGroup(
  db: Db,
  partnerId: number,
  code?: string,
): Promise<{ id: number; code: string }> {
  let c = code;
  if (!c) {
    const r = await db.query(
      'SELECT p.ref, (SELECT count(*) FROM contract_group g WHERE g.partner_id = p.id)::int AS n FROM res_partner p WHERE p.id = $1',
      [partnerId],
    );
    const row = r.rows[0] as { ref: string | null; n: number } | undefined;
    if (!row?.ref) throw new Error(`demo seed: partner ${partnerId} has no ref`);
    c = `${row.ref}_${row.n}`;
  }
  const id = await insertRow(db, 'contract_group', {
    code: c,
    partner_id: partnerId,
    create_uid: 2,
    write_uid: 2,
  });
  return { id, code: c };
}

export interface LineInput {
  /** product default_code */
  productCode: string;
  dateStart?: string;
  dateEnd?: string | null;
  quantity?: number;
  /** contract_line.specific_price (OCA Float without digits: float8) */
  specificPrice?: number | null;
  overrides?: Values;
}

export interface ContractInput {
  partnerId: number;
  kind?: ContractKind;
  /** fiber supplier (fiber only; default vodafone) */
  supplier?: FiberSupplier;
  /** product codes or line inputs; default: one tariff for the kind */
  lines?: (string | LineInput)[];
  /** date_start of the lines (default today, UTC) */
  dateStart?: string;
  phoneNumber?: string;
  /** contract email partners (email_ids); default: the partner itself */
  emailPartnerIds?: number[];
  mandateId?: number | null;
  contractGroupId?: number | null;
  invoicePartnerId?: number;
  servicePartnerId?: number | null;
  /** default: next value of somconnexio.sequence_contract */
  code?: string;
  rng?: Rng;
  /** false when the caller already holds a transaction on this connection */
  ownTransaction?: boolean;
  /** any contract_contract column */
  overrides?: Values;
}

export interface InsertedContract {
  id: number;
  code: string;
  phoneNumber: string;
  infoId: number;
  infoTable: string;
  lineIds: number[];
}

const DEFAULT_TARIFF: Record<ContractKind, string> = {
  mobile: 'SE_SC_REC_MOBILE_T_UNL_20480',
  fiber: 'SE_SC_REC_BA_F_600',
  adsl: 'SE_SC_REC_BA_ADSL_SF',
  '4G': 'SE_SC_REC_BA_4G',
};

const todayUtc = (): string => new Date().toISOString().slice(0, 10);

async function insertInfo(
  db: Db,
  kind: ContractKind,
  supplier: FiberSupplier,
  phone: string,
  rng: Rng,
): Promise<{ table: string; column: string; id: number }> {
  // As somconnexio's models write them (schemas/odoo/manifest.json): no `active`; the broadband infos carry the
  // provider's order id; router 4G has no phone number of its own ("-", its default).
  const base = { phone_number: phone, create_uid: 2, write_uid: 2 };
  const router = async () => xmlIdResId(db, 'somconnexio.router_product');
  switch (kind) {
    case 'mobile':
      return {
        table: 'mobile_service_contract_info',
        column: 'mobile_contract_service_info_id',
        id: await insertRow(db, 'mobile_service_contract_info', { ...base, icc: `89343${digits(rng, 14)}` }),
      };
    case 'adsl':
      return {
        table: 'adsl_service_contract_info',
        column: 'adsl_service_contract_info_id',
        id: await insertRow(db, 'adsl_service_contract_info', {
          ...base,
          id_order: digits(rng, 6),
          administrative_number: digits(rng, 9),
          router_product_id: await router(),
          ppp_user: `sc${digits(rng, 8)}`,
          ppp_password: digits(rng, 8),
          endpoint_user: `ep${digits(rng, 6)}`,
          endpoint_password: digits(rng, 8),
        }),
      };
    case '4G':
      return {
        table: 'router_4g_service_contract_info',
        column: 'router_4G_service_contract_info_id',
        id: await insertRow(db, 'router_4g_service_contract_info', {
          ...base,
          id_order: digits(rng, 6),
          icc: `89340${digits(rng, 14)}`,
          imei: digits(rng, 15),
          ssid: `SC-4G-${digits(rng, 4)}`,
        }),
      };
    case 'fiber':
      switch (supplier) {
        case 'vodafone':
          return {
            table: 'vodafone_fiber_service_contract_info',
            column: 'vodafone_fiber_service_contract_info_id',
            id: await insertRow(db, 'vodafone_fiber_service_contract_info', {
              ...base,
              id_order: digits(rng, 6),
              vodafone_id: digits(rng, 10),
              vodafone_offer_code: 'VFF600',
            }),
          };
        case 'masmovil':
          return {
            table: 'mm_fiber_service_contract_info',
            column: 'mm_fiber_service_contract_info_id',
            id: await insertRow(db, 'mm_fiber_service_contract_info', {
              ...base,
              id_order: digits(rng, 6),
              mm_id: digits(rng, 8),
            }),
          };
        case 'orange':
          return {
            table: 'orange_fiber_service_contract_info',
            column: 'orange_fiber_service_contract_info_id',
            id: await insertRow(db, 'orange_fiber_service_contract_info', {
              ...base,
              id_order: digits(rng, 6),
              suma_id: digits(rng, 8),
            }),
          };
        case 'xoln':
          return {
            table: 'xoln_fiber_service_contract_info',
            column: 'xoln_fiber_service_contract_info_id',
            id: await insertRow(db, 'xoln_fiber_service_contract_info', {
              ...base,
              id_order: digits(rng, 6),
              external_id: digits(rng, 8),
              project_id: 1,
              router_product_id: await router(),
            }),
          };
      }
  }
}

/** Inserts one contract line (no transaction of its own; Odoo adds lines to existing contracts this way too). */
export async function insertContractLine(db: Db, contractId: number, line: LineInput): Promise<number> {
  const productId = await productIdByCode(db, line.productCode);
  const r = await db.query(
    `SELECT t.name->>'ca_ES' AS ca, t.name->>'en_US' AS en FROM product_product p JOIN product_template t ON t.id = p.product_tmpl_id WHERE p.id = $1`,
    [productId],
  );
  const names = r.rows[0] as { ca: string | null; en: string | null };
  return insertRow(db, 'contract_line', {
    contract_id: contractId,
    product_id: productId,
    name: names.ca ?? names.en ?? line.productCode,
    quantity: line.quantity ?? 1,
    uom_id: 1,
    automatic_price: line.specificPrice === undefined || line.specificPrice === null,
    specific_price: line.specificPrice ?? null,
    date_start: line.dateStart ?? todayUtc(),
    date_end: line.dateEnd ?? null,
    recurring_next_date: line.dateStart ?? todayUtc(),
    create_uid: 2,
    write_uid: 2,
    ...line.overrides,
  });
}

/**
 * Creates a contract the way Odoo does, in ONE transaction: the ISP info row, the contract, its lines and
 * its emails are INSERTed, then the stored computed fields (date_start, phone_number, commercial_partner_id,
 * recurring_next_date) are written by UPDATEs.
 */
export async function insertContract(db: Db, input: ContractInput): Promise<InsertedContract> {
  const rng = input.rng ?? cryptoRng;
  const kind = input.kind ?? 'mobile';
  const supplier = input.supplier ?? 'vodafone';
  const dateStart = input.dateStart ?? todayUtc();
  return tx(db, input.ownTransaction ?? true, async () => {
    const partner = (
      await db.query(
        `SELECT p.id, p.commercial_partner_id, s.code AS state FROM res_partner p
           LEFT JOIN res_country_state s ON s.id = p.state_id WHERE p.id = $1`,
        [input.partnerId],
      )
    ).rows[0] as { id: number; commercial_partner_id: number | null; state: string | null } | undefined;
    if (!partner) throw new Error(`demo seed: partner ${input.partnerId} not found`);
    const landlinePrefix = PLACES.find((p) => p.state === partner.state)?.landline ?? '93';
    // A 4G router has no number of its own: somconnexio's router 4G info defaults phone_number to "-", and the
    // contract's stored phone_number copies it.
    const phone =
      input.phoneNumber ??
      (kind === '4G'
        ? '-'
        : kind === 'adsl' || kind === 'fiber'
          ? landlineNumber(rng, landlinePrefix)
          : mobileNumber(rng));
    const info = await insertInfo(db, kind, supplier, phone, rng);
    const code = input.code ?? (await nextSequence(db, 'somconnexio.sequence_contract'));
    const technology = await xmlIdResId(db, `somconnexio.service_technology_${kind === '4G' ? '4G' : kind}`);
    const supplierId =
      kind === 'fiber'
        ? await xmlIdResId(db, `somconnexio.service_supplier_${supplier}`)
        : await xmlIdResId(
            db,
            kind === 'mobile'
              ? 'somconnexio.service_supplier_masmovil'
              : 'somconnexio.service_supplier_vodafone',
          );
    const id = await insertRow(db, 'contract_contract', {
      name: code,
      code,
      partner_id: input.partnerId,
      invoice_partner_id: input.invoicePartnerId ?? input.partnerId,
      service_partner_id:
        input.servicePartnerId === undefined
          ? kind === 'mobile'
            ? null
            : input.partnerId
          : input.servicePartnerId,
      company_id: 1,
      journal_id: await xmlIdResId(db, 'invoice_somconnexio.customer_services_invoices_journal'),
      pricelist_id: 1,
      contract_type: 'sale',
      mandate_id: input.mandateId ?? null,
      payment_mode_id: await xmlIdResId(db, 'somconnexio.payment_mode_inbound_sepa'),
      contract_group_id: input.contractGroupId ?? null,
      service_technology_id: technology,
      service_supplier_id: supplierId,
      [info.column]: info.id,
      create_uid: 2,
      write_uid: 2,
      ...input.overrides,
    });
    const lines = (input.lines ?? [DEFAULT_TARIFF[kind]]).map((l) =>
      typeof l === 'string' ? { productCode: l } : l,
    );
    const lineIds: number[] = [];
    for (const l of lines) lineIds.push(await insertContractLine(db, id, { dateStart, ...l }));
    for (const emailPartner of input.emailPartnerIds ?? [input.partnerId]) {
      await db.query(
        'INSERT INTO contract_contract_res_partner_rel (contract_contract_id, res_partner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [id, emailPartner],
      );
    }
    // Stored computes, flushed by Odoo after the create.
    const starts = (
      await db.query('SELECT min(date_start)::text AS s FROM contract_line WHERE contract_id = $1', [id])
    ).rows[0] as { s: string | null };
    await updateRow(db, 'contract_contract', id, {
      date_start: starts.s,
      recurring_next_date: starts.s,
      phone_number: phone,
      commercial_partner_id: partner.commercial_partner_id ?? partner.id,
    });
    return { id, code, phoneNumber: phone, infoId: info.id, infoTable: info.table, lineIds };
  });
}

/**
 * Terminates a contract like somconnexio's terminate_contract: ends every open line (date_end), then writes
 * is_terminated, terminate_reason_id, terminate_comment, terminate_date (and date_end, a stored compute)
 * — all in one transaction.
 */
export async function terminateContract(
  db: Db,
  contractId: number,
  opts: { date?: string; reasonId?: number; comment?: string; ownTransaction?: boolean } = {},
): Promise<void> {
  const date = opts.date ?? todayUtc();
  await tx(db, opts.ownTransaction ?? true, async () => {
    await db.query(
      `UPDATE contract_line SET date_end = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE contract_id = $1 AND date_end IS NULL`,
      [contractId, date],
    );
    await updateRow(db, 'contract_contract', contractId, {
      is_terminated: true,
      terminate_reason_id: opts.reasonId ?? 1,
      terminate_comment: opts.comment ?? null,
      terminate_date: date,
    });
    await updateRow(db, 'contract_contract', contractId, { date_end: date });
  });
}

// ---------------------------------------------------------------------------------------------------------
// The demo.

export interface SeedOptions {
  partners: number;
  seed?: number;
  /** first date_start of demo contracts (default 2024-01-01); dates are spread over the following year */
  since?: string;
  log?: (msg: string) => void;
}

export interface SeedResult {
  partners: number;
  skipped: number;
  contracts: number;
  lines: number;
}

const DEMO_MODULE = 'sync_demo';

function addDays(iso: string, days: number): string {
  return new Date(Date.parse(`${iso}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

function demoLines(rng: Rng, kind: ContractKind): string[] {
  switch (kind) {
    case 'mobile': {
      const lines: string[] = [
        pick(rng, ['SE_SC_REC_MOBILE_T_UNL_20480', 'SE_SC_REC_MOBILE_T_150_1024', 'SE_SC_REC_MOBILE_T_0_0']),
      ];
      if (rng() < 0.3) lines.push('SE_SC_REC_MOBILE_PACK_UNL_1024');
      if (rng() < 0.5) lines.push('CH_SC_OSO_SIM');
      if (rng() < 0.15) lines.push('CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB');
      return lines;
    }
    case 'fiber': {
      const lines: string[] = [
        pick(rng, ['SE_SC_REC_BA_F_600', 'SE_SC_REC_BA_F_100', 'SE_SC_REC_BA_F_1000']),
      ];
      if (rng() < 0.5) lines.push('SE_SC_REC_BA_LANDLINE_UNL');
      return lines;
    }
    case 'adsl':
      return ['SE_SC_REC_BA_ADSL_SF'];
    case '4G':
      return ['SE_SC_REC_BA_4G'];
  }
}

/**
 * Seeds `partners` demo partners (≈ 1 in 5 a company) with bank account + valid mandate, a contract group,
 * 1–3 contracts (mobile ≈ 60 %, fiber ≈ 30 % across Vodafone/MásMóvil/Orange/XOLN, ADSL, 4G) with lines,
 * contract emails (sometimes a second contract-email contact) and ISP info. Deterministic for a given
 * seed; idempotent: partner i of seed s is recorded as XML id sync_demo.s{seed}_partner_{i} and skipped
 * when already there, and the catalog is ensured with ON CONFLICT.
 */
export async function seedDemo(db: Db, opts: SeedOptions): Promise<SeedResult> {
  const seed = opts.seed ?? 42;
  const since = opts.since ?? '2024-01-01';
  const log = opts.log ?? (() => undefined);
  await ensureCatalog(db);
  const result: SeedResult = { partners: 0, skipped: 0, contracts: 0, lines: 0 };
  for (let i = 0; i < opts.partners; i++) {
    // One PRNG per partner: partner i is the same whatever was seeded before it.
    const rng = seededRng(seed * 100_003 + i);
    const xmlName = `s${seed}_partner_${i}`;
    const exists = await db.query('SELECT 1 FROM ir_model_data WHERE module = $1 AND name = $2', [
      DEMO_MODULE,
      xmlName,
    ]);
    if (exists.rowCount) {
      result.skipped++;
      continue;
    }
    // The partner with its bank account, mandate, group and contact in one transaction (one Odoo form save
    // each, close enough), then each contract with its lines in its own transaction, as Odoo does.
    const isCompany = rng() < 0.2;
    const { partner, bank, group, emails } = await tx(db, true, async () => {
      const partner = await insertPartner(db, { isCompany, rng });
      const bank = await insertBankAccountAndMandate(db, partner.id, {
        rng,
        holder: isCompany ? partner.name : undefined,
        signatureDate: addDays(since, -Math.floor(rng() * 200)),
      });
      const group = await insertContractGroup(db, partner.id);
      const emails = [partner.id];
      if (rng() < 0.25) {
        const extra = await insertPartner(db, {
          parentId: partner.id,
          type: 'contract-email',
          name: partner.name,
          email: `factures.${partner.ref}@example.coop`,
          rng,
        });
        emails.push(extra.id);
      }
      return { partner, bank, group, emails };
    });
    result.partners++;
    const n = 1 + Math.floor(rng() * rng() * 3.5);
    for (let k = 0; k < n; k++) {
      const r = rng();
      const kind: ContractKind = r < 0.6 ? 'mobile' : r < 0.9 ? 'fiber' : r < 0.95 ? 'adsl' : '4G';
      const supplier = pick(rng, ['vodafone', 'masmovil', 'orange', 'xoln'] as const);
      // Broadband is served at an address: often a `service` address of the customer (somconnexio's type), as the
      // contract's service_partner_id; otherwise the customer itself.
      const servicePartnerId =
        kind !== 'mobile' && rng() < 0.5
          ? (await insertPartner(db, { parentId: partner.id, type: 'service', name: partner.name, rng })).id
          : undefined;
      const c = await insertContract(db, {
        ...(servicePartnerId === undefined ? {} : { servicePartnerId }),
        partnerId: partner.id,
        kind,
        supplier,
        lines: demoLines(rng, kind),
        dateStart: addDays(since, Math.floor(rng() * 365)),
        emailPartnerIds: emails,
        mandateId: bank.mandateId,
        contractGroupId: group.id,
        rng,
      });
      result.contracts++;
      result.lines += c.lineIds.length;
    }
    // Recorded last: a partner whose contracts failed half-way is seeded again on the next run.
    await db.query(
      `INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES ($1, $2, 'res.partner', $3, true) ON CONFLICT DO NOTHING`,
      [DEMO_MODULE, xmlName, partner.id],
    );
    if ((i + 1) % 25 === 0) log(`seeded ${i + 1}/${opts.partners} partners`);
  }
  log(
    `demo seed done: ${result.partners} partners (${result.skipped} already there), ${result.contracts} contracts, ${result.lines} lines`,
  );
  return result;
}
