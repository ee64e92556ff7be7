/**
 * InvoiceIssuedEvent → Odoo `account.move` create values (pure), mapped like the original `invoice_somconnexio`
 * 16.0 process (docs/behaviour.md §6, docs/parity.md §7):
 * - partner = the contract group's partner (group code = the customer account / billing account code); an unknown
 *   group or a group without partner is rejected. The Odoo 12 rule (partner whose `ref` is the customer code, no
 *   group) is only used when the operator turned on INVOICE_PARTNER_BY_REF (src/core/config.ts), off by default.
 * - journal = the journal with XML id `invoice_somconnexio.customer_services_invoices_journal`; invoice_date = the
 *   OpenCell invoice date; billing_run_id = the OpenCell billing run; ref = the OpenCell invoice number (this
 *   project's exactly-once key); left in draft (no action_post).
 * - move_type: out_invoice, or out_refund for an OpenCell credit note (invoice type ADJ by default, or a negative
 *   total); a negative credit note is loaded with its signs turned, so the refund's amounts are positive.
 * - only lines with a non-zero amountWithoutTax; each needs an account (by `code`), a tax (by `oc_code`) and a
 *   product (by `default_code`): a line without one of them, or with an unknown code, rejects the invoice, every
 *   problem named in the one rejection; price_unit = amountWithoutTax with quantity 1.
 * - contract links: each line is linked to the contract of its subscription (contract.account.invoice.line.relation).
 * - mandate and emails from the first contract named by the invoice's first line; payment mode from the group's
 *   first contract (`contract_ids[0]`: OCA contract's order `code, name`, active contracts only).
 */
import { ProjectionRejectedError } from '../errors';
import type { InvoiceIssuedEvent } from '../outbox/events';
import type { InvoiceLine } from './invoice-event';

/** The XML id of the journal the original loads the invoices into. */
export const INVOICE_JOURNAL_XMLID = 'invoice_somconnexio.customer_services_invoices_journal';
/** OpenCell's default credit note invoice type (docs: opencell-api reference §9.2, `ADJ` = adjustment). */
export const DEFAULT_CREDIT_NOTE_TYPES: readonly string[] = ['ADJ'];

export interface ContractInfo {
  id: number;
  code: string;
  groupId: number | null;
  mandateId: number | null;
  paymentModeId: number | null;
  emails: string[];
}

export interface InvoiceGroup {
  id: number;
  code: string;
  partnerId: number | null;
  /** the group's first contract (`contract_ids[0]`), null when the group has no active contract */
  firstContract: { id: number; code: string | null; paymentModeId: number | null } | null;
}

export interface InvoiceLookups {
  /** the customer services invoices journal, null when its XML id does not resolve */
  journalId: number | null;
  journalXmlId: string;
  /** the contract group whose code is the invoice's customer account / billing account code */
  group: InvoiceGroup | null;
  /** the partner whose ref is the invoice's customer code (only looked up with INVOICE_PARTNER_BY_REF, no group) */
  partnerByRef: { id: number; ref: string } | null;
  /** account.account code → id */
  accounts: ReadonlyMap<string, number>;
  /** account.tax oc_code → id (the journal's company) */
  taxes: ReadonlyMap<string, number>;
  /** product.product default_code → id */
  products: ReadonlyMap<string, number>;
  /** contract.contract code → contract (the invoice's subscriptions) */
  contracts: ReadonlyMap<string, ContractInfo>;
}

export interface InvoiceMappingRules {
  /** Legacy rule (INVOICE_PARTNER_BY_REF): without a group, the partner whose ref is the customer code. */
  partnerByRef?: boolean;
  /** OpenCell invoice types loaded as out_refund (default ADJ); a negative total is a credit note too. */
  creditNoteTypes?: readonly string[];
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
  moveType: 'out_invoice' | 'out_refund';
  /** account.move create values (invoice_line_ids as create commands, one per kept line, in order) */
  vals: Record<string, unknown>;
  /** the original's duplicate guard: another move with this (invoice_date, contract_group_id, journal_id) */
  duplicateKey: { invoiceDate: string; groupId: number; journalId: number } | null;
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

/** The contract code that gives mandate and emails: the first line's (the original's `invoiceLines[0]`). */
function firstLineContractCode(event: InvoiceIssuedEvent): string | null {
  return event.lines.find((l) => l.subscriptionCode)?.subscriptionCode ?? null;
}

/** The codes to look up for an event (of the kept lines, plus the first line's contract). */
export function invoiceCodes(event: InvoiceIssuedEvent): InvoiceCodes {
  const lines = keptLines(event);
  return {
    groupCode: event.customerAccountCode ?? event.billingAccountCode,
    customerCode: event.customerCode,
    accountingCodes: uniq(lines.map((l) => l.accountingCode)),
    taxCodes: uniq(lines.map((l) => l.taxCode)),
    productCodes: uniq(lines.map((l) => l.productCode)),
    subscriptionCodes: uniq([...lines.map((l) => l.subscriptionCode), firstLineContractCode(event)]),
  };
}

/** Whether an event is a credit note: a credit note invoice type, or a negative total. */
export function isCreditNote(
  event: Pick<InvoiceIssuedEvent, 'invoiceType' | 'amountWithTax' | 'amountWithoutTax'>,
  creditNoteTypes: readonly string[] = DEFAULT_CREDIT_NOTE_TYPES,
): boolean {
  return creditNoteTypes.includes(event.invoiceType) || negativeTotal(event);
}

function negativeTotal(event: Pick<InvoiceIssuedEvent, 'amountWithTax' | 'amountWithoutTax'>): boolean {
  const total = Number(event.amountWithTax);
  return total < 0 || (total === 0 && Number(event.amountWithoutTax) < 0);
}

/** Decimal string → number for Odoo (amounts are at most 6 decimals, well within a double). */
const num = (d: string) => Number(d);

/**
 * Maps an invoice event and its resolved lookups to the account.move to create. Throws ProjectionRejectedError
 * (not retriable → dead letter) naming every unknown or missing journal, group / partner, account, tax and product.
 */
export function odooInvoiceFromEvent(
  event: InvoiceIssuedEvent,
  lookups: InvoiceLookups,
  rules: InvoiceMappingRules = {},
): OdooInvoicePlan {
  const problems: string[] = [];
  const unknown: Record<string, string[]> = {};
  const miss = (kind: string, code: string) => {
    const list = (unknown[kind] ??= []);
    if (!list.includes(code)) list.push(code);
  };

  if (lookups.journalId === null) problems.push(`journal "${lookups.journalXmlId}" not found`);

  const groupCode = event.customerAccountCode ?? event.billingAccountCode;
  let partnerId: number | null = null;
  let group: InvoiceGroup | null = null;
  if (lookups.group) {
    group = lookups.group;
    partnerId = group.partnerId;
    if (partnerId === null) problems.push(`contract group "${group.code}" has no partner`);
    // contract_ids[0] on a group without contracts fails the original's import too
    if (group.firstContract === null)
      problems.push(`contract group "${group.code}" has no contract to take the payment mode from`);
  } else if (rules.partnerByRef && lookups.partnerByRef) {
    partnerId = lookups.partnerByRef.id;
  } else {
    miss('customer', groupCode);
    problems.push(
      `unknown customer: no contract group "${groupCode}"` +
        (!rules.partnerByRef
          ? ''
          : event.customerCode
            ? ` and no partner with ref "${event.customerCode}"`
            : ' (and no customer code to look up)'),
    );
  }

  const creditNote = isCreditNote(event, rules.creditNoteTypes);
  // A credit note with negative amounts becomes a refund with positive ones (Odoo's out_refund sign convention).
  const sign = creditNote && negativeTotal(event) ? -1 : 1;

  const lines = keptLines(event);
  const droppedZeroLines = event.lines.length - lines.length;
  const commands: Array<[0, 0, Record<string, unknown>]> = [];
  const lineContracts: number[][] = [];
  const unknownContracts = new Set<string>();
  lines.forEach((l, i) => {
    const where = `line ${i + 1} "${l.description}"`;
    let accountId: number | undefined;
    if (l.accountingCode === null) problems.push(`${where} has no account code`);
    else {
      accountId = lookups.accounts.get(l.accountingCode);
      if (accountId === undefined) miss('account', l.accountingCode);
    }
    let taxId: number | undefined;
    if (l.taxCode === null) problems.push(`${where} has no tax`);
    else {
      taxId = lookups.taxes.get(l.taxCode);
      if (taxId === undefined) miss('tax', l.taxCode);
    }
    let productId: number | undefined;
    if (l.productCode === null) problems.push(`${where} has no product`);
    else {
      productId = lookups.products.get(l.productCode);
      if (productId === undefined) miss('product', l.productCode);
    }
    commands.push([
      0,
      0,
      {
        name: l.description,
        quantity: 1,
        price_unit: sign * num(l.amountWithoutTax),
        tax_ids: [[6, 0, taxId === undefined ? [] : [taxId]]],
        account_id: accountId,
        product_id: productId,
      },
    ]);
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

  const firstCode = firstLineContractCode(event);
  const firstLineContract = firstCode ? lookups.contracts.get(firstCode) : undefined;
  const moveType = creditNote ? 'out_refund' : 'out_invoice';

  const vals: Record<string, unknown> = {
    move_type: moveType,
    ref: event.invoiceNumber,
    partner_id: partnerId,
    journal_id: lookups.journalId,
    invoice_date: event.invoiceDate,
    invoice_line_ids: commands,
  };
  if (event.dueDate) vals.invoice_date_due = event.dueDate;
  if (event.billingRunId) vals.billing_run_id = event.billingRunId;
  if (group) vals.contract_group_id = group.id;
  if (group?.firstContract?.paymentModeId) vals.payment_mode_id = group.firstContract.paymentModeId;
  if (firstLineContract?.mandateId) vals.mandate_id = firstLineContract.mandateId;
  if (firstLineContract && firstLineContract.emails.length > 0)
    vals.emails = firstLineContract.emails.join(',');

  return {
    ref: event.invoiceNumber,
    moveType,
    vals,
    duplicateKey:
      group && lookups.journalId !== null
        ? { invoiceDate: event.invoiceDate, groupId: group.id, journalId: lookups.journalId }
        : null,
    lineContracts,
    keptLines: lines.length,
    droppedZeroLines,
    unknownContracts: [...unknownContracts].sort(),
  };
}
