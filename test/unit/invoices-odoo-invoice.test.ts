import { expect } from 'chai';
import { ProjectionRejectedError, SyncError } from '../../src/domain/errors';
import {
  invoiceCodes,
  keptLines,
  odooInvoiceFromEvent,
  type ContractInfo,
  type InvoiceLookups,
} from '../../src/domain/invoices/odoo-invoice';
import type { InvoiceIssuedEvent } from '../../src/domain/outbox/events';
import { fullInvoiceEvent } from '../../testkit/outbox';

type Line = InvoiceIssuedEvent['lines'][number];
const line = (over: Partial<Line>): Line => ({
  categoryCode: 'SC_SUBSCRIPTION',
  subCategoryCode: 'SC_MOBILE',
  description: 'Tarifa',
  accountingCode: '705000',
  taxCode: 'TAX_HIGH',
  taxPercent: '21.00',
  productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
  subscriptionCode: 'SC-31',
  quantity: '1.00',
  unitAmountWithoutTax: '14.876',
  amountWithoutTax: '14.88',
  amountTax: '3.12',
  amountWithTax: '18.00',
  ...over,
});

function event(over: Partial<InvoiceIssuedEvent> = {}): InvoiceIssuedEvent {
  return fullInvoiceEvent({
    invoiceNumber: 'SC-2025-0000042',
    invoiceDate: '2025-03-01',
    dueDate: '2025-03-16',
    billingAccountCode: '812_0',
    customerAccountCode: '812_0',
    customerCode: '812',
    subscriptionCodes: ['SC-31', 'SC-32'],
    lines: [
      line({}),
      line({
        description: 'Descompte',
        amountWithoutTax: '0.00',
        amountTax: '0.00',
        amountWithTax: '0.00',
        accountingCode: '708000',
        productCode: 'CH_X',
      }),
      line({
        categoryCode: 'SC_ONE_SHOT',
        subCategoryCode: 'SC_OSO_SALES',
        description: 'Targeta SIM',
        accountingCode: '700000',
        productCode: 'CH_SC_OSO_SIM',
        subscriptionCode: 'SC-32',
        unitAmountWithoutTax: '2.0661',
        amountWithoutTax: '2.07',
        amountTax: '0.43',
        amountWithTax: '2.50',
      }),
    ],
    billingRunId: '17',
    ...over,
  });
}

const contract = (id: number, code: string, over: Partial<ContractInfo> = {}): ContractInfo => ({
  id,
  code,
  groupId: 7,
  mandateId: 70 + id,
  paymentModeId: 3,
  emails: [`c${id}@example.org`],
  ...over,
});

function lookups(over: Partial<InvoiceLookups> = {}): InvoiceLookups {
  return {
    journalId: 1,
    journalXmlId: 'invoice_somconnexio.customer_services_invoices_journal',
    // contract_ids[0] in OCA's order (code, name): SC-30, not the lowest id
    group: {
      id: 7,
      code: '812_0',
      partnerId: 812,
      firstContract: { id: 40, code: 'SC-30', paymentModeId: 5 },
    },
    partnerByRef: null,
    accounts: new Map([
      ['705000', 2],
      ['700000', 3],
    ]),
    taxes: new Map([['TAX_HIGH', 1]]),
    products: new Map([
      ['SE_SC_REC_MOBILE_T_UNL_20480', 10],
      ['CH_SC_OSO_SIM', 11],
    ]),
    contracts: new Map([
      ['SC-31', contract(31, 'SC-31')],
      ['SC-32', contract(32, 'SC-32', { mandateId: null, emails: ['a@example.org', 'b@example.org'] })],
    ]),
    ...over,
  };
}

function rejection(fn: () => unknown): ProjectionRejectedError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ProjectionRejectedError);
    expect((e as SyncError).retriable).to.equal(false);
    expect((e as SyncError).code).to.equal('PROJECTION_REJECTED');
    return e as ProjectionRejectedError;
  }
  throw new Error('expected a rejection');
}

describe('invoices: InvoiceIssuedEvent → Odoo account.move (odooInvoiceFromEvent)', () => {
  it('maps like the original: partner of the group, journal, date, ref, draft out_invoice, lines only for non-zero amounts', () => {
    const plan = odooInvoiceFromEvent(event(), lookups());
    expect(plan.ref).to.equal('SC-2025-0000042');
    expect(plan.keptLines).to.equal(2);
    expect(plan.droppedZeroLines).to.equal(1);
    expect(plan.vals).to.deep.equal({
      move_type: 'out_invoice',
      ref: 'SC-2025-0000042',
      partner_id: 812,
      journal_id: 1,
      invoice_date: '2025-03-01',
      invoice_date_due: '2025-03-16',
      contract_group_id: 7,
      billing_run_id: '17',
      payment_mode_id: 5,
      mandate_id: 101,
      emails: 'c31@example.org',
      invoice_line_ids: [
        [
          0,
          0,
          {
            name: 'Tarifa',
            quantity: 1,
            price_unit: 14.88,
            tax_ids: [[6, 0, [1]]],
            account_id: 2,
            product_id: 10,
          },
        ],
        [
          0,
          0,
          {
            name: 'Targeta SIM',
            quantity: 1,
            price_unit: 2.07,
            tax_ids: [[6, 0, [1]]],
            account_id: 3,
            product_id: 11,
          },
        ],
      ],
    });
    expect(plan.vals).not.to.have.property('state');
    expect(plan.moveType).to.equal('out_invoice');
    expect(plan.duplicateKey).to.deep.equal({ invoiceDate: '2025-03-01', groupId: 7, journalId: 1 });
    expect(plan.lineContracts).to.deep.equal([[31], [32]]);
    expect(plan.unknownContracts).to.deep.equal([]);
  });

  it('partner through the contract group only: an unknown group is rejected, not matched by partner ref (original)', () => {
    const e = rejection(() =>
      odooInvoiceFromEvent(event(), lookups({ group: null, partnerByRef: { id: 900, ref: '812' } })),
    );
    expect(e.message).to.include('SC-2025-0000042').and.include('no contract group "812_0"');
    expect(e.message).not.to.include('partner with ref');
    expect(e.details.unknown).to.deep.equal({ customer: ['812_0'] });
  });

  it('INVOICE_PARTNER_BY_REF (opt-in): without a group, the partner whose ref is the customer code, no group, no payment mode', () => {
    const plan = odooInvoiceFromEvent(
      event(),
      lookups({ group: null, partnerByRef: { id: 900, ref: '812' } }),
      { partnerByRef: true },
    );
    expect(plan.vals.partner_id).to.equal(900);
    expect(plan.vals).not.to.have.property('contract_group_id');
    expect(plan.vals).not.to.have.property('payment_mode_id');
    expect(plan.duplicateKey).to.equal(null);
    const e = rejection(() =>
      odooInvoiceFromEvent(event(), lookups({ group: null }), { partnerByRef: true }),
    );
    expect(e.message).to.include('no contract group "812_0"').and.include('no partner with ref "812"');
  });

  it('a group without partner, or without any contract (no first contract for the payment mode) → rejected', () => {
    const e = rejection(() =>
      odooInvoiceFromEvent(
        event(),
        lookups({ group: { id: 7, code: '812_0', partnerId: null, firstContract: null } }),
      ),
    );
    expect(e.message)
      .to.include('contract group "812_0" has no partner')
      .and.include('contract group "812_0" has no contract');
  });

  it('payment mode from the group first contract (contract_ids[0]), mandate and emails from the first line contract', () => {
    const plan = odooInvoiceFromEvent(
      event(),
      lookups({
        group: {
          id: 7,
          code: '812_0',
          partnerId: 812,
          firstContract: { id: 32, code: 'SC-32', paymentModeId: null },
        },
      }),
    );
    expect(plan.vals).not.to.have.property('payment_mode_id');
    expect(plan.vals).to.include({ mandate_id: 101, emails: 'c31@example.org' });
  });

  it('billing_run_id: set from the event, absent for an event written before the field', () => {
    const old = event();
    delete old.billingRunId;
    expect(odooInvoiceFromEvent(old, lookups()).vals).not.to.have.property('billing_run_id');
    expect(odooInvoiceFromEvent(event({ billingRunId: 'BR-9' }), lookups()).vals.billing_run_id).to.equal(
      'BR-9',
    );
  });

  it('credit notes: an ADJ invoice or a negative total becomes out_refund with positive amounts; a COM invoice stays out_invoice', () => {
    const adj = odooInvoiceFromEvent(event({ invoiceType: 'ADJ' }), lookups());
    expect(adj.moveType).to.equal('out_refund');
    expect(adj.vals.move_type).to.equal('out_refund');
    const prices = (p: { vals: Record<string, unknown> }) =>
      (p.vals.invoice_line_ids as Array<[0, 0, { price_unit: number }]>).map((c) => c[2].price_unit);
    expect(prices(adj)).to.deep.equal([14.88, 2.07]);
    const negative = odooInvoiceFromEvent(
      event({
        amountWithoutTax: '-14.88',
        amountTax: '-3.12',
        amountWithTax: '-18.00',
        lines: [line({ amountWithoutTax: '-14.88', amountTax: '-3.12', amountWithTax: '-18.00' })],
      }),
      lookups(),
    );
    expect(negative.vals.move_type).to.equal('out_refund');
    expect(prices(negative)).to.deep.equal([14.88]);
    expect(odooInvoiceFromEvent(event(), lookups(), { creditNoteTypes: ['CN'] }).moveType).to.equal(
      'out_invoice',
    );
    expect(
      odooInvoiceFromEvent(event({ invoiceType: 'CN' }), lookups(), { creditNoteTypes: ['CN'] }).moveType,
    ).to.equal('out_refund');
  });

  it('unknown account, tax and product are all named in one rejection; zero lines are never checked', () => {
    const bad = event({
      lines: [
        line({ taxCode: 'TAX_NOWHERE' }),
        line({ accountingCode: '705010', productCode: 'SE_NOPE' }),
        line({
          amountWithoutTax: '0.00',
          accountingCode: '999999',
          taxCode: 'TAX_ZERO',
          productCode: 'ZERO',
        }),
      ],
    });
    const e = rejection(() => odooInvoiceFromEvent(bad, lookups()));
    expect(e.message).to.include('unknown account code "705010"');
    expect(e.message).to.include('unknown tax oc_code "TAX_NOWHERE"');
    expect(e.message).to.include('unknown product default_code "SE_NOPE"');
    expect(e.message).not.to.include('999999').and.not.include('TAX_ZERO');
    expect(e.details.unknown).to.deep.equal({
      tax: ['TAX_NOWHERE'],
      account: ['705010'],
      product: ['SE_NOPE'],
    });
  });

  it('a line without account code, a missing journal, or no non-zero line → rejected', () => {
    expect(
      rejection(() => odooInvoiceFromEvent(event({ lines: [line({ accountingCode: null })] }), lookups()))
        .message,
    ).to.include('line 1 "Tarifa" has no account code');
    expect(rejection(() => odooInvoiceFromEvent(event(), lookups({ journalId: null }))).message).to.include(
      'journal "invoice_somconnexio.customer_services_invoices_journal" not found',
    );
    expect(
      rejection(() => odooInvoiceFromEvent(event({ lines: [line({ amountWithoutTax: '0.00' })] }), lookups()))
        .message,
    ).to.include('no line with a non-zero amount');
  });

  it('a line without product or without tax rejects the invoice naming them (original); unknown contracts only skip the link', () => {
    const e = rejection(() =>
      odooInvoiceFromEvent(
        event({
          lines: [
            line({ productCode: null }),
            line({ description: 'Sense IVA', taxCode: null }),
            line({ description: 'Zero', productCode: null, taxCode: null, amountWithoutTax: '0.00' }),
          ],
        }),
        lookups(),
      ),
    );
    expect(e.message)
      .to.include('line 1 "Tarifa" has no product')
      .and.include('line 2 "Sense IVA" has no tax');
    expect(e.message).not.to.include('Zero');
    const plan = odooInvoiceFromEvent(event({ lines: [line({ subscriptionCode: 'SC-99' })] }), lookups());
    expect(plan.lineContracts).to.deep.equal([[]]);
    expect(plan.unknownContracts).to.deep.equal(['SC-99']);
    expect(plan.vals).not.to.have.property('mandate_id');
  });

  it('negative amounts (compensations) are kept as negative price units', () => {
    const plan = odooInvoiceFromEvent(
      event({ lines: [line({}), line({ description: 'Compensació', amountWithoutTax: '-1.00' })] }),
      lookups(),
    );
    expect(
      (plan.vals.invoice_line_ids as Array<[0, 0, { price_unit: number }]>).map((c) => c[2].price_unit),
    ).to.deep.equal([14.88, -1]);
  });

  it('invoiceCodes lists what to look up, for kept lines only', () => {
    const ev = event();
    expect(keptLines(ev)).to.have.length(2);
    expect(invoiceCodes(ev)).to.deep.equal({
      groupCode: '812_0',
      customerCode: '812',
      accountingCodes: ['700000', '705000'],
      taxCodes: ['TAX_HIGH'],
      productCodes: ['CH_SC_OSO_SIM', 'SE_SC_REC_MOBILE_T_UNL_20480'],
      subscriptionCodes: ['SC-31', 'SC-32'],
    });
    expect(invoiceCodes(event({ customerAccountCode: null })).groupCode).to.equal('812_0');
  });
});
