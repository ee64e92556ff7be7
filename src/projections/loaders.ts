/**
 * The I/O side of the projections: loaders of the views from Odoo's PostgreSQL, of the OpenCell state through
 * the OpenCell client, and the catalog cache. Kept out of index.ts, which exports the pure core only.
 */
export * from './odoo-views';
export * from './opencell-state';
export * from './catalog-cache';
