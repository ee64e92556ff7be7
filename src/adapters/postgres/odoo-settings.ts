/**
 * The original module's OpenCell settings, kept in Odoo's ir.config_parameter (original-module.md §1.2; its
 * OpenCellConfiguration wrapper reads them with get_param): the seller code and the customer category code. Read
 * through a SECURITY DEFINER function that returns these two keys only (src/app/pg-setup.ts; README "Database
 * roles"), as the table also holds Odoo's own secrets.
 */
import type { Pool } from 'pg';

export const OPENCELL_SETTINGS_FUNCTION = 'public.odoo_opencell_sync_opencell_settings';
export const SELLER_KEY = 'opencell_somconnexio.opencell_seller_code';
export const CUSTOMER_CATEGORY_KEY = 'opencell_somconnexio.opencell_customer_category_code';
export const OPENCELL_SETTINGS_KEYS = [SELLER_KEY, CUSTOMER_CATEGORY_KEY] as const;

export type OdooOpenCellSettings =
  | { readable: true; seller?: string; customerCategory?: string }
  /** the function is missing (pg-setup not run on this database) or the role may not execute it */
  | { readable: false; why: string };

export async function readOdooOpenCellSettings(db: Pick<Pool, 'query'>): Promise<OdooOpenCellSettings> {
  try {
    const r = await db.query<{ key: string; value: string }>(
      `SELECT key, value FROM ${OPENCELL_SETTINGS_FUNCTION}()`,
    );
    const get = (k: string) => r.rows.find((x) => x.key === k)?.value?.trim() || undefined;
    return { readable: true, seller: get(SELLER_KEY), customerCategory: get(CUSTOMER_CATEGORY_KEY) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === '42883') return { readable: false, why: `${OPENCELL_SETTINGS_FUNCTION}() does not exist` };
    if (code === '42501') return { readable: false, why: `no EXECUTE on ${OPENCELL_SETTINGS_FUNCTION}()` };
    throw e;
  }
}
