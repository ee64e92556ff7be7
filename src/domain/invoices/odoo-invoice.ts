/**
 * InvoiceIssuedEvent → Odoo `account.move` create values (pure), mapped like the original invoice process
 * (docs/behaviour.md §6):
 * - partner = the contract group's partner (group code = the customer account / billing account code); without
 *   a group, the partner whose `ref` is the customer code (the legacy rule). Neither → rejected.
 * - journal = the customer services invoices journal; invoice_date = the OpenCell invoice date; ref = the OpenCell
 *   invoice number (the exactly-once key); move_type out_invoice; left in draft (no action_post).
 * - only lines with a non-zero amountWithoutTax; account by `accountingCode`, tax by `oc_code`, product by
 *   `default_code`; price_unit = amountWithoutTax with quantity 1 (the original's price_unit/price_subtotal).
 * - contract links: each line is linked to the contract of its subscription (contract.account.invoice.line.relation).
 * - mandate and emails from the first contract named by the first line; payment mode from the group's first
 *   contract (else that same contract).
 * Every unknown code is reported at once in one non-retriable rejection.
 */
import { ProjectionRejectedError } from '../errors';
import type { InvoiceIssuedEvent } from '../outbox/events';
import type { InvoiceLine } from './invoice-event';

export interface ContractInfo {
  id: number;
  code: string;
  groupId: number | null;
  mandateId: number | null;
  paymentModeId: number | null;
  emails: string[];
}

export interface InvoiceLookups {
  /** the customer services invoices journal, null when not found */
  journalId: number | null;
  journalCode: string;
  /** the contract group whose code is the invoice's customer account / billing account code */
  group: { id: number; code: string; partnerId: number | null } | null;
  /** the partner whose ref is the invoice's customer code (used without a group) */
  partnerByRef: { id: number; ref: string } | null;
  /** account.account code → id */
  accounts: ReadonlyMap<string, number>;
  /** account.tax oc_code → id (sale taxes) */
  taxes: ReadonlyMap<string, number>;
  /** product.product default_code → id */
  products: ReadonlyMap<string, number>;
  /** contract.contract code → contract (the invoice's subscriptions, and the group's first contract) */
  contracts: ReadonlyMap<string, ContractInfo>;
}

/** What the loader needs to resolve for an event. */
export interface InvoiceCodes {
  groupCode: string;
  customerCode: string | null;
  accountingCodes: string[];
  taxCodes: string[];
  productCodes: string[];
  subscriptionCodes: string[];
}

export interface OdooInvoicePlan {
  ref: string;
  /** account.move create values (invoice_line_ids as create commands, one per kept line, in order) */
  vals: Record<string, unknown>;
  /** per created invoice line (same order), the contract ids to link it to */
  lineContracts: number[][];
  keptLines: number;
  droppedZeroLines: number;
  /** subscription codes without an Odoo contract (their lines are not linked) */
  unknownContracts: string[];
}

const isZero = (d: string) => Number(d) === 0;

/** The lines the original keeps: non-zero amountWithoutTax. */
export function keptLines(event: InvoiceIssuedEvent): InvoiceLine[] {
  return event.lines.filter((l) => !isZero(l.amountWithoutTax));
}

const uniq = (xs: Array<string | null>) =>
  [...new Set(xs.filter((x): x is string => x !== null && x !== ''))].sort();

/** The codes to look up for an event (only of the kept lines). */
export function invoiceCodes(event: InvoiceIssuedEvent): InvoiceCodes {
  const lines = keptLines(event);
  return {
    groupCode: event.customerAccountCode ?? event.billingAccountCode,
    customerCode: event.customerCode,
    accountingCodes: uniq(lines.map((l) => l.accountingCode)),
    taxCodes: uniq(lines.map((l) => l.taxCode)),
    productCodes: uniq(lines.map((l) => l.productCode)),
    subscriptionCodes: uniq([...lines.map((l) => l.subscriptionCode), ...event.subscriptionCodes]),
  };
}

/** Decimal string → number for Odoo (amounts are at most 6 decimals, well within a double). */
const num = (d: string) => Number(d);

/**
 * Maps an invoice event and its resolved lookups to the account.move to create. Throws ProjectionRejectedError
 * (not retriable → dead letter) naming every unknown journal, group / partner, account, tax and product.
 */
export function odooInvoiceFromEvent(event: InvoiceIssuedEvent, lookups: InvoiceLookups): OdooInvoicePlan {
  const problems: string[] = [];
  const unknown: Record<string, string[]> = {};
  const miss = (kind: string, code: string) => {
    const list = (unknown[kind] ??= []);
    if (!list.includes(code)) list.push(code);
  };

  if (lookups.journalId === null) problems.push(`journal "${lookups.journalCode}" not found`);

  const groupCode = event.customerAccountCode ?? event.billingAccountCode;
  let partnerId: number | null = null;
  let groupId: number | null = null;
  if (lookups.group) {
    groupId = lookups.group.id;
    partnerId = lookups.group.partnerId;
    if (partnerId === null) problems.push(`contract group "${lookups.group.code}" has no partner`);
  } else if (lookups.partnerByRef) {
    partnerId = lookups.partnerByRef.id;
  } else {
    miss('customer', groupCode);
    problems.push(
      `unknown customer: no contract group "${groupCode}"` +
        (event.customerCode
          ? ` and no partner with ref "${event.customerCode}"`
          : ' (and no customer code to look up)'),
    );
  }

  const lines = keptLines(event);
  const droppedZeroLines = event.lines.length - lines.length;
  const commands: Array<[0, 0, Record<string, unknown>]> = [];
  const lineContracts: number[][] = [];
  const unknownContracts = new Set<string>();
  lines.forEach((l, i) => {
    const where = `line ${i + 1} "${l.description}"`;
    let accountId: number | undefined;
    if (l.accountingCode === null) problems.push(`${where} has no accountingCode`);
    else {
      accountId = lookups.accounts.get(l.accountingCode);
      if (accountId === undefined) miss('account', l.accountingCode);
    }
    let taxId: number | undefined;
    if (l.taxCode !== null) {
      taxId = lookups.taxes.get(l.taxCode);
      if (taxId === undefined) miss('tax', l.taxCode);
    }
    let productId: number | undefined;
    if (l.productCode !== null) {
      productId = lookups.products.get(l.productCode);
      if (productId === undefined) miss('product', l.productCode);
    }
    const vals: Record<string, unknown> = {
      name: l.description,
      quantity: 1,
      price_unit: num(l.amountWithoutTax),
      tax_ids: [[6, 0, taxId === undefined ? [] : [taxId]]],
    };
    if (accountId !== undefined) vals.account_id = accountId;
    if (productId !== undefined) vals.product_id = productId;
    commands.push([0, 0, vals]);
    const contracts: number[] = [];
    if (l.subscriptionCode) {
      const c = lookups.contracts.get(l.subscriptionCode);
      if (c) contracts.push(c.id);
      else unknownContracts.add(l.subscriptionCode);
    }
    lineContracts.push(contracts);
  });
  if (lines.length === 0) problems.push('no line with a non-zero amount');

  const labels: Record<string, string> = {
    customer: 'customer',
    account: 'account code',
    tax: 'tax oc_code',
    product: 'product default_code',
  };
  for (const [kind, codes] of Object.entries(unknown)) {
    if (kind === 'customer') continue; // already described
    problems.push(`unknown ${labels[kind]} ${codes.map((c) => `"${c}"`).join(', ')}`);
  }
  if (problems.length > 0) {
    throw new ProjectionRejectedError(
      `invoice ${event.invoiceNumber} cannot be loaded into Odoo: ${problems.join('; ')}`,
      {
        invoiceNumber: event.invoiceNumber,
        eventId: event.eventId,
        unknown,
      },
    );
  }

  // The first contract named by the first line gives mandate and emails; the group's first contract the payment mode.
  const firstLineContract = lines
    .map((l) => (l.subscriptionCode ? lookups.contracts.get(l.subscriptionCode) : undefined))
    .find((c): c is ContractInfo => c !== undefined);
  const groupContracts = [...lookups.contracts.values()]
    .filter((c) => groupId !== null && c.groupId === groupId)
    .sort((a, b) => a.id - b.id);
  const paymentSource = groupContracts[0] ?? firstLineContract;

  const vals: Record<string, unknown> = {
    move_type: 'out_invoice',
    ref: event.invoiceNumber,
    partner_id: partnerId,
    journal_id: lookups.journalId,
    invoice_date: event.invoiceDate,
    invoice_line_ids: commands,
  };
  if (event.dueDate) vals.invoice_date_due = event.dueDate;
  if (groupId !== null) vals.contract_group_id = groupId;
  if (paymentSource?.paymentModeId) vals.payment_mode_id = paymentSource.paymentModeId;
  if (firstLineContract?.mandateId) vals.mandate_id = firstLineContract.mandateId;
  if (firstLineContract && firstLineContract.emails.length > 0)
    vals.emails = firstLineContract.emails.join(',');

  return {
    ref: event.invoiceNumber,
    vals,
    lineContracts,
    keptLines: lines.length,
    droppedZeroLines,
    unknownContracts: [...unknownContracts].sort(),
  };
}
