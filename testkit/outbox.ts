/** Sample events for tests and demos: every field set, realistic Som Connexió values. */
import type { InvoiceIssuedEvent, SyncEvent } from '../src/domain/outbox/events';
import { EVENT_ID_NAMESPACES, newEventId, stableEventId } from '../src/adapters/postgres/outbox-store';

export function fullSyncEvent(over: Partial<SyncEvent> = {}): SyncEvent {
  return {
    eventId: newEventId(),
    occurredAt: Date.parse('2025-03-01T10:00:00.123Z'),
    source: {
      table: 'contract_contract',
      lsn: 123456789012,
      txId: 9876,
      topic: 'odoo.public.contract_contract',
      partition: 2,
      offset: '42',
    },
    odoo: { model: 'contract.contract', id: 31, ref: 'SC-000031' },
    opencell: { entity: 'subscription', code: 'SC-000031' },
    action: 'create_subscription',
    outcome: 'applied',
    calls: ['createSubscription', 'activateServices'],
    errorCode: null,
    errorMessage: null,
    attempt: 1,
    ...over,
  };
}

export function fullInvoiceEvent(over: Partial<InvoiceIssuedEvent> = {}): InvoiceIssuedEvent {
  return {
    eventId: stableEventId(EVENT_ID_NAMESPACES.invoice, over.invoiceNumber ?? 'F2025-000001'),
    occurredAt: Date.parse('2025-03-01T00:00:00Z'),
    invoiceNumber: 'F2025-000001',
    invoiceId: 1001,
    invoiceType: 'COM',
    invoiceDate: '2025-03-01',
    dueDate: '2025-03-31',
    billingAccountCode: 'BA-812',
    customerAccountCode: 'CA-812',
    customerCode: 'C-812',
    subscriptionCodes: ['SC-000031'],
    currency: 'EUR',
    amountWithoutTax: '24.71',
    amountTax: '5.19',
    amountWithTax: '29.90',
    lines: [
      {
        categoryCode: 'MOBILE',
        subCategoryCode: 'MOBILE_FEE',
        description: 'Tarifa 10GB',
        accountingCode: '705000',
        taxCode: 'TAX_21',
        taxPercent: '21.00',
        productCode: 'SE_SC_REC_MOBILE_T_UNL_10240',
        subscriptionCode: 'SC-000031',
        quantity: '1',
        unitAmountWithoutTax: '24.71',
        amountWithoutTax: '24.71',
        amountTax: '5.19',
        amountWithTax: '29.90',
      },
      {
        categoryCode: 'DISCOUNT',
        subCategoryCode: null,
        description: 'Descompte',
        accountingCode: null,
        taxCode: null,
        taxPercent: null,
        productCode: null,
        subscriptionCode: null,
        quantity: '1',
        unitAmountWithoutTax: '0.00',
        amountWithoutTax: '0.00',
        amountTax: '0.00',
        amountWithTax: '0.00',
      },
    ],
    pdfAvailable: false,
    billingRunId: '12',
    ...over,
  };
}
