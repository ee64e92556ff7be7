/**
 * The I/O side of the projections: loaders of the views from Odoo's PostgreSQL, of the OpenCell state through
 * the OpenCell client, and the catalog cache. Kept out of index.ts, which exports the pure core only.
 */
export * from './postgres/odoo-views';
export * from './opencell/opencell-state';
export * from './opencell/catalog-cache';
