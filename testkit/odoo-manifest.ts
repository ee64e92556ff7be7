import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ColumnKind } from '../src/domain/capture/columns';
import type { ColumnsSpec } from '../src/domain/capture/tables';

/**
 * The upstream field manifest (schemas/odoo/manifest.json, built from the Odoo / OCA / Som Connexió model sources;
 * schemas/odoo/MANIFEST.md) and the checks the tests run against it: the row codecs of
 * src/domain/capture/tables.ts (unit test) and the tables schemas/odoo/*.sql create (integration test).
 */

export interface ManifestColumn {
  /** PostgreSQL type: integer, varchar, varchar(n), text, jsonb, boolean, date, timestamp, float8, numeric */
  type: string;
  /** NOT NULL upstream (`required=True`) */
  required: boolean;
  default?: unknown;
  /** present only where an addon is installed (e.g. block_contract_creation_in_OC) */
  conditional?: string;
}

export interface ManifestTable {
  model: string;
  table: string;
  captured: boolean;
  columns: Readonly<Record<string, ManifestColumn>>;
}

interface ManifestJson {
  models: Record<string, { table: string; captured?: boolean; columns: Record<string, ManifestColumn> }>;
  relations: Record<string, { model: string; captured?: boolean; columns: Record<string, ManifestColumn> }>;
  unverified: { item: string; reason: string }[];
}

export const MANIFEST_PATH = join(__dirname, '..', 'schemas', 'odoo', 'manifest.json');

export function loadManifest(path = MANIFEST_PATH): {
  tables: ReadonlyMap<string, ManifestTable>;
  unverified: readonly { item: string; reason: string }[];
} {
  const json = JSON.parse(readFileSync(path, 'utf8')) as ManifestJson;
  const tables = new Map<string, ManifestTable>();
  for (const [model, m] of Object.entries(json.models))
    tables.set(m.table, { model, table: m.table, captured: m.captured === true, columns: m.columns });
  for (const [table, r] of Object.entries(json.relations))
    tables.set(table, { model: r.model, table, captured: r.captured === true, columns: r.columns });
  return { tables, unverified: json.unverified };
}

/** The manifest type family each codec kind decodes. */
const KIND_TYPES: Record<ColumnKind, (pgType: string) => boolean> = {
  int: (t) => t === 'integer',
  bool: (t) => t === 'boolean',
  string: (t) => t === 'varchar' || t.startsWith('varchar(') || t === 'text',
  numeric: (t) => t === 'numeric',
  float: (t) => t === 'float8',
  date: (t) => t === 'date',
  timestamp: (t) => t === 'timestamp',
  translated: (t) => t === 'jsonb',
};

/**
 * What is wrong with one table's row codec against the manifest: a column the manifest lacks (the codec would
 * expect a column real Odoo does not have), a codec of another type family, or a non-null codec for a column the
 * model lets be empty. Empty when the codec agrees.
 */
export function codecProblems(
  table: string,
  columns: ColumnsSpec,
  manifest: ReadonlyMap<string, ManifestTable>,
): string[] {
  const m = manifest.get(table);
  if (!m) return [`${table}: no such table in the manifest`];
  const out: string[] = [];
  for (const [name, c] of Object.entries(columns)) {
    const mc = m.columns[name];
    if (!mc) {
      out.push(`${table}.${name}: decoded, but the manifest (${m.model}) has no such column`);
      continue;
    }
    if (!KIND_TYPES[c.kind](mc.type))
      out.push(`${table}.${name}: decoded as ${c.kind}, but the column is ${mc.type} upstream`);
    if (!c.nullable && !mc.required)
      out.push(`${table}.${name}: decoded as non-null, but ${m.model} lets it be empty (not required)`);
  }
  return out;
}

/** information_schema's (data_type, character_maximum_length) for a manifest type. */
export function informationSchemaType(manifestType: string): { dataType: string; maxLength: number | null } {
  const m = /^varchar\((\d+)\)$/.exec(manifestType);
  if (m) return { dataType: 'character varying', maxLength: Number(m[1]) };
  const byType: Record<string, string> = {
    integer: 'integer',
    varchar: 'character varying',
    text: 'text',
    jsonb: 'jsonb',
    boolean: 'boolean',
    date: 'date',
    timestamp: 'timestamp without time zone',
    float8: 'double precision',
    numeric: 'numeric',
  };
  const dataType = byType[manifestType];
  if (!dataType) throw new Error(`manifest type ${manifestType} has no information_schema mapping`);
  return { dataType, maxLength: null };
}

/**
 * Columns of captured tables that schemas/odoo/*.sql keeps although the manifest does not list them: real Odoo 16
 * columns (of base, account, sale …) whose upstream text was not read. Each one is named in the manifest's
 * `unverified` list; the integration test checks that it still is.
 */
export const UNVERIFIED_SQL_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  res_partner: ['barcode', 'email_normalized', 'customer_rank', 'supplier_rank', 'invoice_warn'],
  res_country: ['state_required', 'zip_required'],
  product_template: ['detailed_type', 'uom_po_id', 'invoice_policy'],
  contract_line: ['analytic_distribution'],
  account_move: ['to_check', 'payment_id', 'sequence_prefix', 'sequence_number'],
  account_move_line: ['blocked', 'tax_tag_invert'],
};
