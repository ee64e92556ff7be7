import { expect } from 'chai';
import { MalformedEventError } from '../../src/domain/errors';
import {
  calendarDay,
  customerCodeOf,
  decimalString,
  invoiceEventFromOpenCell,
  invoiceEventId,
} from '../../src/domain/invoices/invoice-event';
import { nextWindow, windowDays } from '../../src/flows/invoices/poller';
import type { Invoice } from '../../src/domain/opencell/codecs';
import { validatePayload } from '../../src/domain/outbox/codecs';
import { EVENT_ID_NAMESPACES, stableEventId } from '../../src/adapters/postgres/outbox-store';

const FEB1 = Date.parse('2024-02-01T00:00:00Z');

/** An invoice as GET /invoice?includeTransactions=true answers (sandbox billing run of a mobile line, a SIM, a 0 €). */
function invoice(over: Partial<Invoice> = {}): Invoice {
  return {
    invoiceId: 100001,
    invoiceNumber: 'SC-2024-0000001',
    invoiceType: 'COM',
    billingAccountCode: '1234_0',
    invoiceDate: FEB1,
    dueDate: FEB1 + 15 * 86_400_000,
    amountWithoutTax: 9.75,
    amountTax: 2.04,
    amountWithTax: 11.79,
    pdfFilename: 'invoice_SC-2024-0000001.pdf',
    categoryInvoiceAgregate: [
      {
        categoryInvoiceCode: 'SC_ONE_SHOT',
        amountWithoutTax: 2.07,
        amountTax: 0.43,
        amountWithTax: 2.5,
        subCategoryInvoiceAgregateDto: [
          {
            invoiceSubCategoryCode: 'SC_OSO_SALES',
            description: 'Vendes',
            accountingCode: '700000',
            amountWithoutTax: 2.07,
            amountTax: 0.43,
            amountWithTax: 2.5,
            amountByTax: [
              {
                amountWithoutTax: 2.07,
                amountTax: 0.43,
                amountWithTax: 2.5,
                tax: { code: 'TAX_HIGH', percent: 21 },
              },
            ],
            ratedTransaction: [
              {
                code: 'CH_SC_OSO_SIM',
                description: 'Targeta SIM',
                unitAmountWithoutTax: 2.0661,
                quantity: 1,
                amountWithoutTax: 2.07,
                amountTax: 0.43,
                amountWithTax: 2.5,
                subscriptionCode: 'SC-1',
              },
            ],
          },
          {
            invoiceSubCategoryCode: 'SC_OSO_COMPENSATION',
            accountingCode: '708000',
            amountWithoutTax: 0,
            amountTax: 0,
            amountWithTax: 0,
            amountByTax: [
              { amountWithoutTax: 0, amountTax: 0, amountWithTax: 0, tax: { code: 'TAX_HIGH', percent: 21 } },
            ],
            ratedTransaction: [
              {
                code: 'CH_SC_OSO_COMPENSATION',
                amountWithoutTax: 0,
                amountTax: 0,
                amountWithTax: 0,
                subscriptionCode: 'SC-1',
              },
            ],
          },
        ],
      },
      {
        categoryInvoiceCode: 'SC_SUBSCRIPTION',
        amountWithoutTax: 7.68,
        amountTax: 1.61,
        amountWithTax: 9.29,
        subCategoryInvoiceAgregateDto: [
          {
            invoiceSubCategoryCode: 'SC_MOBILE',
            description: 'Telefonia mòbil',
            accountingCode: '705000',
            amountWithoutTax: 7.68,
            amountTax: 1.61,
            amountWithTax: 9.29,
            amountByTax: [
              {
                amountWithoutTax: 7.68,
                amountTax: 1.61,
                amountWithTax: 9.29,
                tax: { code: 'TAX_HIGH', percent: 21 },
              },
            ],
            ratedTransaction: [
              {
                code: 'SE_SC_REC_MOBILE_T_UNL_20480',
                description: 'Tarifa mòbil il·limitades 20 GB',
                unitAmountWithoutTax: 14.876,
                quantity: 1,
                amountWithoutTax: 7.68,
                amountTax: 1.61,
                amountWithTax: 9.29,
                subscriptionCode: 'SC-2',
                serviceInstanceCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
              },
            ],
          },
        ],
      },
    ],
    taxAggregate: [
      { taxCode: 'TAX_HIGH', taxPercent: 21, amountWithoutTax: 9.75, amountTax: 2.04, amountWithTax: 11.79 },
    ],
    ...over,
  } as Invoice;
}

describe('invoices: OpenCell invoice → InvoiceIssuedEvent (invoiceEventFromOpenCell)', () => {
  it('maps header, amounts and one line per rated transaction, and the event matches its schema', () => {
    const ev = invoiceEventFromOpenCell(invoice());
    expect(validatePayload('InvoiceIssued', ev)).to.deep.equal([]);
    expect(ev).to.deep.include({
      eventId: stableEventId(EVENT_ID_NAMESPACES.invoice, 'SC-2024-0000001'),
      occurredAt: FEB1,
      invoiceNumber: 'SC-2024-0000001',
      invoiceId: 100001,
      invoiceType: 'COM',
      invoiceDate: '2024-02-01',
      dueDate: '2024-02-16',
      billingAccountCode: '1234_0',
      customerAccountCode: '1234_0',
      customerCode: '1234',
      subscriptionCodes: ['SC-1', 'SC-2'],
      currency: 'EUR',
      amountWithoutTax: '9.75',
      amountTax: '2.04',
      amountWithTax: '11.79',
      pdfAvailable: true,
    });
    expect(ev.lines).to.have.length(3);
    expect(ev.lines[0]).to.deep.equal({
      categoryCode: 'SC_ONE_SHOT',
      subCategoryCode: 'SC_OSO_SALES',
      description: 'Targeta SIM',
      accountingCode: '700000',
      taxCode: 'TAX_HIGH',
      taxPercent: '21.00',
      productCode: 'CH_SC_OSO_SIM',
      subscriptionCode: 'SC-1',
      quantity: '1.00',
      unitAmountWithoutTax: '2.0661',
      amountWithoutTax: '2.07',
      amountTax: '0.43',
      amountWithTax: '2.50',
    });
    // a zero line is carried (the loader drops it); description falls back to the charge code
    expect(ev.lines[1]).to.include({
      description: 'CH_SC_OSO_COMPENSATION',
      amountWithoutTax: '0.00',
      accountingCode: '708000',
    });
    expect(ev.lines[2]).to.include({
      productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
      unitAmountWithoutTax: '14.876',
      subscriptionCode: 'SC-2',
    });
  });

  it('is deterministic: the same invoice gives the same event (stable id, occurredAt = invoice date)', () => {
    expect(invoiceEventFromOpenCell(invoice())).to.deep.equal(invoiceEventFromOpenCell(invoice()));
    expect(invoiceEventId('SC-2024-0000001')).to.equal(invoiceEventFromOpenCell(invoice()).eventId);
    expect(invoiceEventId('SC-2024-0000002')).not.to.equal(invoiceEventId('SC-2024-0000001'));
  });

  it('carries the billing run the poller read (InvoiceDto has none), null when unknown', () => {
    expect(invoiceEventFromOpenCell(invoice()).billingRunId).to.equal(null);
    const ev = invoiceEventFromOpenCell(invoice(), {}, '42');
    expect(ev.billingRunId).to.equal('42');
    expect(validatePayload('InvoiceIssued', ev)).to.deep.equal([]);
  });

  it('without rated transactions: one line per sub-category and tax, without product or subscription', () => {
    const inv = invoice();
    for (const c of inv.categoryInvoiceAgregate ?? [])
      for (const s of c.subCategoryInvoiceAgregateDto ?? []) delete s.ratedTransaction;
    const ev = invoiceEventFromOpenCell(inv);
    expect(
      ev.lines.map((l) => [l.subCategoryCode, l.description, l.productCode, l.taxCode, l.amountWithoutTax]),
    ).to.deep.equal([
      ['SC_OSO_SALES', 'Vendes', null, 'TAX_HIGH', '2.07'],
      ['SC_OSO_COMPENSATION', 'SC_OSO_COMPENSATION', null, 'TAX_HIGH', '0.00'],
      ['SC_MOBILE', 'Telefonia mòbil', null, 'TAX_HIGH', '7.68'],
    ]);
    expect(ev.subscriptionCodes).to.deep.equal([]);
  });

  it('a sub-category with several taxes becomes one line per tax', () => {
    const inv = invoice();
    const mobile = inv.categoryInvoiceAgregate![1]!.subCategoryInvoiceAgregateDto![0]!;
    mobile.amountByTax = [
      { amountWithoutTax: 5, amountTax: 1.05, amountWithTax: 6.05, tax: { code: 'TAX_HIGH', percent: 21 } },
      { amountWithoutTax: 2.68, amountTax: 0.19, amountWithTax: 2.87, tax: { code: 'TAX_IGIC', percent: 7 } },
    ];
    const lines = invoiceEventFromOpenCell(inv).lines.filter((l) => l.subCategoryCode === 'SC_MOBILE');
    expect(lines.map((l) => [l.taxCode, l.taxPercent, l.amountWithoutTax, l.productCode])).to.deep.equal([
      ['TAX_HIGH', '21.00', '5.00', null],
      ['TAX_IGIC', '7.00', '2.68', null],
    ]);
  });

  it('an invoice without number or billing account is malformed', () => {
    expect(() => invoiceEventFromOpenCell(invoice({ invoiceNumber: null }))).to.throw(
      MalformedEventError,
      /invoiceNumber/,
    );
    expect(() => invoiceEventFromOpenCell(invoice({ billingAccountCode: undefined }))).to.throw(
      MalformedEventError,
      /billingAccountCode/,
    );
  });

  it('dates are calendar days in Europe/Madrid (OpenCell midnight local or UTC both give the right day)', () => {
    expect(calendarDay(Date.parse('2024-01-31T23:00:00Z'))).to.equal('2024-02-01'); // Madrid midnight (CET)
    expect(calendarDay(Date.parse('2024-07-31T22:00:00Z'))).to.equal('2024-08-01'); // Madrid midnight (CEST)
    expect(calendarDay(Date.parse('2024-02-01T00:00:00Z'))).to.equal('2024-02-01');
    expect(calendarDay(Date.parse('2024-02-01T00:00:00Z'), 'UTC')).to.equal('2024-02-01');
    expect(invoiceEventFromOpenCell(invoice(), { timeZone: 'America/New_York' }).invoiceDate).to.equal(
      '2024-01-31',
    );
  });

  it('decimal strings and customer codes', () => {
    expect([24.71, 14.876, -1, 0, -0, 1e-7, 1234567.5, 0.1 + 0.2].map(decimalString)).to.deep.equal([
      '24.71',
      '14.876',
      '-1.00',
      '0.00',
      '0.00',
      '0.00',
      '1234567.50',
      '0.30',
    ]);
    expect(customerCodeOf('1234_0')).to.equal('1234');
    expect(customerCodeOf('T9x_12')).to.equal('T9x');
    expect(customerCodeOf('CA-812')).to.equal(null);
  });
});

describe('invoices: poller window (nextWindow)', () => {
  const now = Date.parse('2024-03-10T15:00:00Z');
  const o = { lookbackDays: 3, lookaheadDays: 1 };
  it('first poll: from startDate (or today − lookback) to today + 1 + lookahead (exclusive)', () => {
    expect(nextWindow(null, now, { ...o, startDate: '2024-01-01' })).to.deep.equal({
      from: '2024-01-01',
      to: '2024-03-12',
    });
    expect(nextWindow(null, now, o)).to.deep.equal({ from: '2024-03-07', to: '2024-03-12' });
  });
  it('the poller loses invoices (issue 15 §5): a later poll reads the whole lookback again, not 1 day', () => {
    // The last window ended after tomorrow (lookahead): the lookback counts from today, not from that end.
    expect(nextWindow({ windowEnd: '2024-03-12' }, now, o)).to.deep.equal({
      from: '2024-03-07',
      to: '2024-03-12',
    });
    expect(nextWindow({ windowEnd: '2024-03-12' }, now + 86_400_000, o)).to.deep.equal({
      from: '2024-03-08',
      to: '2024-03-13',
    });
    expect(nextWindow({ windowEnd: '2024-03-12' }, now, { ...o, lookbackDays: 7 }).from).to.equal(
      '2024-03-03',
    );
  });
  it('a window not read completely (a failed poll, a stopped poller) is read again from its end minus the lookback', () => {
    expect(nextWindow({ windowEnd: '2024-03-01' }, now, o)).to.deep.equal({
      from: '2024-02-27',
      to: '2024-03-12',
    });
  });
  it('windowDays lists every date of the window in order', () => {
    expect(windowDays({ from: '2024-02-28', to: '2024-03-02' })).to.deep.equal([
      '2024-02-28',
      '2024-02-29',
      '2024-03-01',
    ]);
  });
});
