export * from './mapping';
export * from './poller';
export * from './odoo-mapping';
export * from './loader';
export * from './worker';
