import type { Config } from '../../src/core/config';

/**
 * The URL the demo writes Odoo's data with, playing Odoo itself: ODOO_OWNER_DATABASE_URL, else the pipeline's
 * ODOO_DATABASE_URL with the owner role `odoo` (trusted on the local stack) instead of the read-only role.
 */
export function odooOwnerUrl(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  if (env.ODOO_OWNER_DATABASE_URL) return env.ODOO_OWNER_DATABASE_URL;
  const u = new URL(config.odooDatabaseUrl);
  u.username = 'odoo';
  u.password = '';
  return u.toString();
}
