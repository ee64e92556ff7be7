/**
 * Sample Odoo views for unit tests of the pure projection (payloads, plans, resume planning, the intent catalogue):
 * one partner, one contract with a mandate, one service line. Tests override what they are about.
 */
import type { ContractView, LineView, PartnerView } from '../src/domain/projection/views';

export const SAMPLE_IBAN = 'ES9121000418450200051332';

export function samplePartner(over: Partial<PartnerView> = {}): PartnerView {
  return {
    id: 7,
    ref: '1234',
    name: 'Anna Puig Vila',
    firstname: 'Anna',
    lastname: 'Puig Vila',
    isCompany: false,
    vat: 'ES12345678Z',
    email: 'anna@example.org',
    mobile: '600111222',
    phone: null,
    street: 'C/ Major 1',
    street2: null,
    zip: '08001',
    city: 'Barcelona',
    stateCode: 'B',
    stateName: 'Barcelona',
    countryCode: 'ES',
    lang: 'ca_ES',
    blockContractCreationInOC: false,
    parentId: null,
    ...over,
  };
}

export function sampleLine(over: Partial<LineView> = {}): LineView {
  return {
    id: 100,
    contractId: 41,
    productId: 1,
    productCode: 'SE_MOBILE',
    kind: 'service',
    name: 'Tariff',
    dateStart: '2024-02-01',
    dateEnd: null,
    isCanceled: false,
    ...over,
  };
}

/** A mobile contract of `partner` (default samplePartner()) with a mandate on SAMPLE_IBAN and no lines. */
export function sampleContract(over: Partial<ContractView> = {}, partner = samplePartner()): ContractView {
  return {
    id: 41,
    code: 'SC-0041',
    partner,
    invoicePartner: partner,
    servicePartner: null,
    emails: [{ id: 9, email: 'invoices@example.org' }],
    mandate: {
      id: 3,
      iban: SAMPLE_IBAN,
      bic: 'CAIXESBBXXX',
      bankName: 'CaixaBank',
      bankAccountId: 55,
      bankAccountCreateDate: '2024-01-15',
      reference: null,
      signatureDate: null,
    },
    serviceTechnology: 'somconnexio.service_technology_mobile',
    serviceSupplier: null,
    phoneNumber: '600111222',
    ispInfo: null,
    dateStart: '2024-02-01',
    dateEnd: null,
    isTerminated: false,
    terminateDate: null,
    lines: [],
    ...over,
  };
}
