export * from '../../domain/invoices/invoice-event';
export * from './poller';
export * from '../../domain/invoices/odoo-invoice';
export * from './loader';
export * from './stages';
