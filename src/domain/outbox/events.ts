/**
 * The events other services subscribe to. Written to the outbox table in the same transaction as the ledger
 * change they report, then relayed to Kafka Avro-encoded (schemas/avro/*.avsc must match these types).
 */

/** One sync outcome: an Odoo change projected (or not) into OpenCell. Topic: SYNC_EVENTS_TOPIC, key: aggregateId. */
export interface SyncEvent {
  eventId: string; // uuid
  occurredAt: number; // epoch ms
  source: {
    table: string;
    lsn: number | null;
    txId: number | null;
    topic: string | null;
    partition: number | null;
    offset: string | null;
  };
  odoo: { model: string; id: number; ref: string | null };
  opencell: { entity: string; code: string | null };
  /** intent kind, e.g. create_subscription, activate_service, update_customer */
  action: string;
  outcome: 'applied' | 'skipped' | 'failed' | 'dead_lettered';
  /** OpenCell operations executed, in order (e.g. ["createCustomer","crmAccountHierarchyCreate"]) */
  calls: string[];
  errorCode: string | null;
  errorMessage: string | null;
  attempt: number;
}

/** An invoice issued in OpenCell, to be loaded into Odoo. Topic: INVOICE_EVENTS_TOPIC, key: invoiceNumber. */
export interface InvoiceIssuedEvent {
  eventId: string; // uuid, stable per invoice number (uuid v5-like derivation)
  occurredAt: number;
  invoiceNumber: string;
  invoiceId: number | null;
  invoiceType: string;
  invoiceDate: string; // YYYY-MM-DD
  dueDate: string | null;
  billingAccountCode: string;
  customerAccountCode: string | null;
  customerCode: string | null;
  subscriptionCodes: string[];
  currency: string;
  amountWithoutTax: string; // decimal string
  amountTax: string;
  amountWithTax: string;
  lines: {
    categoryCode: string;
    subCategoryCode: string | null;
    description: string;
    accountingCode: string | null;
    taxCode: string | null;
    taxPercent: string | null;
    productCode: string | null;
    subscriptionCode: string | null;
    quantity: string;
    unitAmountWithoutTax: string;
    amountWithoutTax: string;
    amountTax: string;
    amountWithTax: string;
  }[];
  pdfAvailable: boolean;
  /** The OpenCell billing run that issued the invoice (Odoo `billing_run_id`); absent in events written before it. */
  billingRunId?: string | null;
}

export type OutboxEvent =
  | {
      type: 'SyncOutcome';
      topic: string;
      aggregateType: 'contract' | 'partner' | string;
      aggregateId: string;
      payload: SyncEvent;
    }
  | {
      type: 'InvoiceIssued';
      topic: string;
      aggregateType: 'invoice';
      aggregateId: string;
      payload: InvoiceIssuedEvent;
    };
