/** Odoo change capture: the captured-table registry, Debezium event codecs, the billing diff. */
export * from './columns';
export * from './tables';
export * from './envelope';
export * from './diff';
