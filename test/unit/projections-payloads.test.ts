import { expect } from 'chai';
import { samplePartner } from '../../testkit/views';
import * as E from 'fp-ts/Either';
import { ProjectionRejectedError, UnknownProductError } from '../../src/domain/errors';
import {
  DEFAULT_PROJECTION_CONFIG,
  accessFromContract,
  activateServicesRequest,
  addressFromPartner,
  compensationAmount,
  compensationRequest,
  crmAccountHierarchyFromContract,
  crmFromPartnerAddress,
  crmToChangeEmail,
  crmToChangeIban,
  customerFromPartner,
  description50,
  mandateDateSeconds,
  paymentMethodsFromContract,
  fullStreet,
  ocBillingCountry,
  ocLanguage,
  offerTemplateFor,
  oneShotChargeRequest,
  productCatalogCheck,
  assertKnownProduct,
  productKind,
  projectionConfig,
  serviceContractType,
  serviceToActivate,
  subscriptionDescriptionUpdate,
  subscriptionFromContract,
  terminateServicesRequest,
  terminateSubscriptionRequest,
} from '../../src/domain/projection';
import type { ContractView, LineView, PartnerView, ProjectionConfig } from '../../src/domain/projection';

function partner(over: Partial<PartnerView> = {}): PartnerView {
  return samplePartner({ phone: '930000000', street2: '2n 1a', ...over });
}

function contract(over: Partial<ContractView> = {}): ContractView {
  return {
    id: 41,
    code: 'SC-0041',
    partner: partner(),
    invoicePartner: partner({ id: 8, phone: '931111111', mobile: '699999999' }),
    servicePartner: null,
    emails: [{ id: 9, email: 'invoices@example.org' }],
    mandate: {
      id: 3,
      iban: 'ES9121000418450200051332',
      bic: 'CAIXESBBXXX',
      bankName: 'CaixaBank',
      bankAccountId: 55,
      bankAccountCreateDate: '2024-01-15',
      reference: 'MANDATE-3',
      signatureDate: '2024-01-16',
    },
    serviceTechnology: 'somconnexio.service_technology_mobile',
    serviceSupplier: 'somconnexio.service_supplier_masmovil',
    phoneNumber: '600111222',
    ispInfo: { table: 'mobile_service_contract_info', id: 5, phoneNumber: '600111222' },
    dateStart: '2024-02-01',
    dateEnd: null,
    isTerminated: false,
    terminateDate: null,
    lines: [],
    ...over,
  };
}

const line = (over: Partial<LineView> = {}): LineView => ({
  id: 100,
  contractId: 41,
  productId: 1,
  productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
  kind: 'service',
  name: 'Unlimited 20 GB',
  dateStart: '2024-02-01',
  dateEnd: null,
  isCanceled: false,
  ...over,
});

const cfg = { seller: 'SELLER_X', customerCategory: 'CATEGORY_Y' };

describe('projections: payloads (port of opencell_models tests)', () => {
  describe('Description type', () => {
    it('cuts text to 50 characters', () => {
      const long = 'x'.repeat(49) + 'ABCDEF';
      expect(description50(long)).to.equal('x'.repeat(49) + 'A');
      expect(description50(long)).to.have.length(50);
    });
    it('keeps shorter text and turns null into ""', () => {
      expect(description50('short')).to.equal('short');
      expect(description50(null)).to.equal('');
    });
    it('never splits a character made of two UTF-16 units', () => {
      const text = '😀'.repeat(60);
      expect(Array.from(description50(text))).to.have.length(50);
    });
  });

  describe('Address', () => {
    it('has the address1 / zipCode / city / state / country shape with full_street', () => {
      expect(addressFromPartner(partner())).to.deep.equal({
        address1: 'C/ Major 1 2n 1a',
        zipCode: '08001',
        city: 'Barcelona',
        state: 'Barcelona',
        country: 'ES',
      });
    });
    it('full_street skips an empty street2', () => {
      expect(fullStreet({ street: 'C/ Major 1', street2: null })).to.equal('C/ Major 1');
    });
  });

  describe('CustomerFromPartner', () => {
    it('maps code, seller, description, name, address, vatNo, contactInformation and customerCategory', () => {
      expect(customerFromPartner(partner(), cfg)).to.deep.equal({
        code: '1234',
        seller: 'SELLER_X',
        description: 'Anna Puig Vila',
        name: { firstName: 'Anna', lastName: 'Puig Vila' },
        address: {
          address1: 'C/ Major 1 2n 1a',
          zipCode: '08001',
          city: 'Barcelona',
          state: 'Barcelona',
          country: 'ES',
        },
        vatNo: 'ES12345678Z',
        contactInformation: { email: 'anna@example.org', mobile: '600111222' },
        customerCategory: 'CATEGORY_Y',
      });
    });
    it('takes seller and customer category from the config (defaults SC / CLIENT)', () => {
      const c = customerFromPartner(partner(), projectionConfig({ opencell: DEFAULT_PROJECTION_CONFIG }));
      expect(c.seller).to.equal('SC');
      expect(c.customerCategory).to.equal('CLIENT');
    });
    it('sends the phone as mobile when the partner has no mobile', () => {
      expect(customerFromPartner(partner({ mobile: null }), cfg).contactInformation).to.deep.equal({
        email: 'anna@example.org',
        mobile: '930000000',
      });
    });
    it('sends a company as firstName "" and lastName = name', () => {
      const c = customerFromPartner(
        partner({ isCompany: true, firstname: null, lastname: null, name: 'Coop SCCL' }),
        cfg,
      );
      expect(c.name).to.deep.equal({ firstName: '', lastName: 'Coop SCCL' });
    });
    it('cuts description and names to 50 characters', () => {
      const long = 'N'.repeat(70);
      const c = customerFromPartner(partner({ name: long, firstname: long, lastname: long }), cfg);
      expect(c.description).to.have.length(50);
      expect(c.name?.firstName).to.have.length(50);
      expect(c.name?.lastName).to.have.length(50);
    });
    it('refuses a partner without ref', () => {
      expect(() => customerFromPartner(partner({ ref: null }), cfg)).to.throw(
        ProjectionRejectedError,
        /no ref/,
      );
    });
  });

  describe('CRMAccountHierarchyFromContract', () => {
    it('builds the CA_UA hierarchy with the original constants', () => {
      const dto = crmAccountHierarchyFromContract(contract(), '1234_0', cfg);
      expect(dto).to.include({
        crmAccountType: 'CA_UA',
        crmParentCode: '1234',
        code: '1234_0',
        language: 'CAT',
        customerCategory: 'CLIENT',
        currency: 'EUR',
        billingCycle: 'BC_SC_MONTHLY_1ST',
        country: 'SP',
        electronicBilling: true,
        mailingType: 'Manual',
        emailTemplate: 'EMAIL_TEMPLATE_TEST',
        email: 'invoices@example.org',
        description: 'Anna Puig Vila',
        vatNo: 'ES12345678Z',
      });
      expect(dto.name).to.deep.equal({ firstName: 'Anna', lastName: 'Puig Vila' });
      expect(dto.address?.address1).to.equal('C/ Major 1 2n 1a');
    });
    it('sends customerCategory CLIENT in the hierarchy whatever the configured category, as the original (hard-coded); the customer keeps the configured one (P-crm-category)', () => {
      expect(cfg.customerCategory).to.equal('CATEGORY_Y');
      expect(crmAccountHierarchyFromContract(contract(), '1234_0', cfg).customerCategory).to.equal('CLIENT');
      expect(customerFromPartner(partner(), cfg).customerCategory).to.equal('CATEGORY_Y');
    });
    it('opt-in OPENCELL_HIERARCHY_USES_CUSTOMER_CATEGORY sends the configured category in the hierarchy too', () => {
      const optIn = { ...cfg, hierarchyUsesCustomerCategory: true };
      expect(crmAccountHierarchyFromContract(contract(), '1234_0', optIn).customerCategory).to.equal(
        'CATEGORY_Y',
      );
    });
    it('uses the first contract email and sends ccedEmails null with a single email, as the original presenter (None)', () => {
      const dto = crmAccountHierarchyFromContract(contract(), '1234_0', cfg);
      expect(dto.email).to.equal('invoices@example.org');
      expect(dto).to.have.property('ccedEmails', null);
      expect(JSON.parse(JSON.stringify(dto))).to.have.property('ccedEmails', null);
    });
    it('puts the 2nd and 3rd emails in ccedEmails', () => {
      const c = contract({
        emails: [
          { id: 1, email: 'a@x.org' },
          { id: 2, email: 'b@x.org' },
          { id: 3, email: 'c@x.org' },
        ],
      });
      const dto = crmAccountHierarchyFromContract(c, '1234_0', cfg);
      expect(dto.email).to.equal('a@x.org');
      expect(dto.ccedEmails).to.equal('b@x.org,c@x.org');
    });
    it('has contactInformation {email, phone, mobile, fax:""} from the invoice partner', () => {
      expect(crmAccountHierarchyFromContract(contract(), '1234_0', cfg).contactInformation).to.deep.equal({
        email: 'invoices@example.org',
        phone: '931111111',
        mobile: '699999999',
        fax: '',
      });
      const noInvoicePhones = contract({ invoicePartner: partner({ phone: null, mobile: null }) });
      expect(
        crmAccountHierarchyFromContract(noInvoicePhones, '1234_0', cfg).contactInformation,
      ).to.deep.equal({
        email: 'invoices@example.org',
        phone: '',
        mobile: '',
        fax: '',
      });
    });
    it('has one DIRECTDEBIT methodOfPayment from the mandate bank', () => {
      expect(crmAccountHierarchyFromContract(contract(), '1234_0', cfg).methodOfPayment).to.deep.equal([
        {
          paymentMethodType: 'DIRECTDEBIT',
          disabled: false,
          preferred: true,
          customerAccountCode: '1234_0',
          bankCoordinates: {
            iban: 'ES9121000418450200051332',
            bic: 'CAIXESBBXXX',
            accountOwner: 'Anna Puig Vila',
            bankName: 'CaixaBank',
          },
          alias: '55',
          mandateIdentification: '55',
          mandateDate: 1705276800,
        },
      ]);
    });
    it('cuts bankName to 50 characters, OpenCell BankCoordinates.bankName limit: the original sent it whole and OpenCell refused it (P-payment)', () => {
      const long = "Caixa d'Estalvis i Pensions de Barcelona, Oficina Principal";
      expect(long.length).to.be.greaterThan(50);
      const pm = paymentMethodsFromContract(
        contract({ mandate: { ...contract().mandate!, bankName: long } }),
        '1234_0',
      )[0];
      expect(pm?.bankCoordinates?.bankName).to.equal(long.slice(0, 50));
    });
    it('sends mandateDate as the bank account create_date in whole epoch seconds, as the original (int(time.mktime(create_date)))', () => {
      const pm = (createDate: string | null) =>
        paymentMethodsFromContract(
          contract({ mandate: { ...contract().mandate!, bankAccountCreateDate: createDate } }),
          '1234_0',
        )[0];
      expect(pm('2024-01-15T10:20:30')?.mandateDate).to.equal(1705314030);
      expect(pm('2024-01-15 10:20:30.123456')?.mandateDate).to.equal(1705314030);
      expect(pm('2024-01-15')?.mandateDate).to.equal(1705276800);
      expect(pm(null)).not.to.have.property('mandateDate');
      expect(mandateDateSeconds('not a date')).to.equal(null);
    });
    it('sends methodOfPayment [] without a mandate bank', () => {
      expect(
        crmAccountHierarchyFromContract(contract({ mandate: null }), '1234_0', cfg).methodOfPayment,
      ).to.deep.equal([]);
    });
    it('account owner as the original’s "{} {}".format(firstname, lastname): an empty part is Python’s "False" (P-payment)', () => {
      const owner = (p: Partial<PartnerView>, config: ProjectionConfig = cfg) =>
        crmAccountHierarchyFromContract(contract({ partner: partner(p) }), '1234_0', config)
          .methodOfPayment?.[0].bankCoordinates?.accountOwner;
      // partner_firstname puts a company's name in lastname
      expect(owner({ firstname: null, lastname: 'Coop SCCL', name: 'Coop SCCL' })).to.equal(
        'False Coop SCCL',
      );
      expect(owner({ firstname: null, lastname: null, name: 'Coop SCCL' })).to.equal('False False');
      expect(owner({ firstname: 'Anna', lastname: null, name: 'Anna' })).to.equal('Anna False');
      expect(owner({ firstname: 'Anna', lastname: 'Puig Vila' })).to.equal('Anna Puig Vila');
      expect(owner({ firstname: 'A'.repeat(30), lastname: 'B'.repeat(30) })).to.have.length(50);
    });
    it('ACCOUNT_OWNER_NAME_FALLBACK: the parts present, or the partner name when there is no first/last name', () => {
      const fallback = { ...cfg, accountOwnerNameFallback: true };
      const owner = (p: Partial<PartnerView>) =>
        crmAccountHierarchyFromContract(contract({ partner: partner(p) }), '1234_0', fallback)
          .methodOfPayment?.[0].bankCoordinates?.accountOwner;
      expect(owner({ firstname: null, lastname: null, name: 'Coop SCCL' })).to.equal('Coop SCCL');
      expect(owner({ firstname: null, lastname: 'Coop SCCL', name: 'Coop SCCL' })).to.equal('Coop SCCL');
      expect(owner({ firstname: 'Anna', lastname: 'Puig Vila' })).to.equal('Anna Puig Vila');
    });
    it('maps es_ES to ESP', () => {
      const c = contract({ partner: partner({ lang: 'es_ES' }) });
      expect(crmAccountHierarchyFromContract(c, '1234_0', cfg).language).to.equal('ESP');
    });
    it('refuses any other language with a clear error', () => {
      const c = contract({ partner: partner({ lang: 'en_US' }) });
      expect(() => crmAccountHierarchyFromContract(c, '1234_0', cfg))
        .to.throw(ProjectionRejectedError)
        .with.property('message')
        .that.matches(/partner 7 \(ref 1234\) has language "en_US"/);
      expect(() => ocLanguage(null)).to.throw(ProjectionRejectedError, /\(none\)/);
    });
    for (const state of ['TF', 'GC']) {
      it(`sends country ES_CN for the Canary Islands (state ${state}), also in the address update`, () => {
        const p = partner({
          stateCode: state,
          stateName: state === 'TF' ? 'Santa Cruz de Tenerife' : 'Las Palmas',
        });
        expect(crmAccountHierarchyFromContract(contract({ partner: p }), '1234_0', cfg).country).to.equal(
          'ES_CN',
        );
        expect(crmFromPartnerAddress(p, '1234_0').country).to.equal('ES_CN');
      });
    }
    it('sends SP elsewhere', () => {
      expect(ocBillingCountry('B')).to.equal('SP');
      expect(ocBillingCountry(null)).to.equal('SP');
    });
    it('refuses a contract without email', () => {
      expect(() => crmAccountHierarchyFromContract(contract({ emails: [] }), '1234_0', cfg)).to.throw(
        ProjectionRejectedError,
        /SC-0041 has no email/,
      );
    });
  });

  describe('CRMAccountHierarchy update variants', () => {
    const c = contract({
      emails: [
        { id: 1, email: 'a@x.org' },
        { id: 2, email: 'b@x.org' },
      ],
    });
    it('FromContractToChangeEmail sends code, crmAccountType, currency, language, email, ccedEmails, contactInformation', () => {
      const dto = crmToChangeEmail(c, '1234_0');
      expect(Object.keys(dto).sort()).to.deep.equal(
        [
          'code',
          'crmAccountType',
          'currency',
          'language',
          'email',
          'ccedEmails',
          'contactInformation',
        ].sort(),
      );
      expect(dto).to.include({
        code: '1234_0',
        crmAccountType: 'CA_UA',
        currency: 'EUR',
        language: 'CAT',
        email: 'a@x.org',
      });
      expect(dto.ccedEmails).to.equal('b@x.org');
    });
    it('FromContractToChangeEmail sends ccedEmails null when one email is left, as the original presenter (None)', () => {
      expect(crmToChangeEmail(contract(), '1234_0')).to.have.property('ccedEmails', null);
    });
    it('FromContractToChangeIBAN sends code, crmAccountType, currency, language, methodOfPayment', () => {
      const dto = crmToChangeIban(c, '1234_1');
      expect(Object.keys(dto).sort()).to.deep.equal(
        ['code', 'crmAccountType', 'currency', 'language', 'methodOfPayment'].sort(),
      );
      expect(dto.methodOfPayment?.[0].customerAccountCode).to.equal('1234_1');
      expect(dto.methodOfPayment?.[0].bankCoordinates?.iban).to.equal('ES9121000418450200051332');
    });
    it('FromPartner (address) sends code, crmAccountType, currency, language, address, country', () => {
      const dto = crmFromPartnerAddress(partner(), '1234_0');
      expect(Object.keys(dto).sort()).to.deep.equal(
        ['code', 'crmAccountType', 'currency', 'language', 'address', 'country'].sort(),
      );
      expect(dto.address).to.deep.equal(addressFromPartner(partner()));
      expect(dto.country).to.equal('SP');
    });
  });

  describe('SubscriptionFromContract', () => {
    it('maps code, description = phone, userAccount, date YYYY-MM-DD and the mobile offer', () => {
      expect(subscriptionFromContract(contract(), '1234_0')).to.deep.equal({
        code: 'SC-0041',
        description: '600111222',
        userAccount: '1234_0',
        subscriptionDate: '2024-02-01',
        offerTemplate: 'OF_SC_TEMPLATE_MOB',
        customFields: {},
      });
    });
    it('P-subscription: description "-" for Odoo\'s placeholder, as the original; none with PHONE_PLACEHOLDER_IS_NO_NUMBER or a blank number', () => {
      expect(subscriptionFromContract(contract({ phoneNumber: '-' }), '1234_0')).to.include({
        description: '-',
      });
      expect(
        subscriptionFromContract(contract({ phoneNumber: '-' }), '1234_0', {
          phonePlaceholderIsNoNumber: true,
        }),
      ).to.not.have.property('description');
      expect(subscriptionFromContract(contract({ phoneNumber: '' }), '1234_0')).to.not.have.property(
        'description',
      );
    });
    it('sends the 4 service-address custom fields for broadband', () => {
      const sp = partner({
        id: 90,
        street: 'Av. Diagonal 1',
        street2: null,
        zip: '08019',
        city: 'Barcelona',
        stateName: 'Barcelona',
      });
      const dto = subscriptionFromContract(
        contract({
          servicePartner: sp,
          serviceTechnology: 'somconnexio.service_technology_fiber',
          serviceSupplier: 'somconnexio.service_supplier_vodafone',
        }),
        '1234_0',
      );
      expect(dto.offerTemplate).to.equal('OF_SC_TEMPLATE_BA');
      expect(dto.customFields).to.deep.equal({
        customField: [
          { code: 'CF_OF_SC_SUB_SERVICE_ADDRESS', stringValue: 'Av. Diagonal 1' },
          { code: 'CF_OF_SC_SUB_SERVICE_CP', stringValue: '08019' },
          { code: 'CF_OF_SC_SUB_SERVICE_CITY', stringValue: 'Barcelona' },
          { code: 'CF_OF_SC_SUB_SERVICE_SUBDIVISION', stringValue: 'Barcelona' },
        ],
      });
    });
    it('chooses the offer by service type: mobile MOB, switchboard CV, filmin CT, anything else BA', () => {
      expect(offerTemplateFor('mobile')).to.equal('OF_SC_TEMPLATE_MOB');
      expect(offerTemplateFor('switchboard')).to.equal('OF_SC_TEMPLATE_CV');
      expect(offerTemplateFor('filmin')).to.equal('OF_SC_TEMPLATE_CT');
      for (const t of [
        'adsl',
        'vodafone',
        'masmovil',
        'orange',
        'xoln',
        'router4G',
        'asociatel',
        '',
      ] as const) {
        expect(offerTemplateFor(t), t).to.equal('OF_SC_TEMPLATE_BA');
      }
      const sw = contract({ serviceTechnology: 'switchboard_somconnexio.service_technology_switchboard' });
      expect(subscriptionFromContract(sw, '1234_0').offerTemplate).to.equal('OF_SC_TEMPLATE_CV');
    });
    it('Filmin is recognised by its supplier (filmin_somconnexio is_filmin): OF_SC_TEMPLATE_CT; another multimedia supplier gets OF_SC_TEMPLATE_BA', () => {
      const multimedia = 'multimedia_somconnexio.service_technology_multimedia';
      const filmin = contract({
        serviceTechnology: multimedia,
        serviceSupplier: 'filmin_somconnexio.service_supplier_filmin',
      });
      expect(subscriptionFromContract(filmin, '1234_0').offerTemplate).to.equal('OF_SC_TEMPLATE_CT');
      const otherMedia = contract({
        serviceTechnology: multimedia,
        serviceSupplier: 'x_media.service_supplier_other',
      });
      expect(subscriptionFromContract(otherMedia, '1234_0').offerTemplate).to.equal('OF_SC_TEMPLATE_BA');
      expect(
        subscriptionFromContract(contract({ serviceTechnology: multimedia, serviceSupplier: null }), '1234_0')
          .offerTemplate,
      ).to.equal('OF_SC_TEMPLATE_BA');
      expect(offerTemplateFor('multimedia')).to.equal('OF_SC_TEMPLATE_BA');
    });
    it('refuses a contract without date_start', () => {
      expect(() => subscriptionFromContract(contract({ dateStart: null }), '1234_0')).to.throw(
        ProjectionRejectedError,
        /date_start/,
      );
    });
    it('a description update echoes subscriptionDate and endAgreementDate', () => {
      expect(
        subscriptionDescriptionUpdate(
          {
            code: 'SC-1',
            userAccount: '1_0',
            description: '600',
            subscriptionDate: 1706745600000,
            endAgreementDate: null,
            services: [],
          },
          '611',
        ),
      ).to.deep.equal({ code: 'SC-1', description: '611', subscriptionDate: 1706745600000 });
    });
  });

  describe('service_contract_type (§8)', () => {
    const cases: [string | null, string | null, string][] = [
      ['somconnexio.service_technology_mobile', null, 'mobile'],
      ['somconnexio.service_technology_adsl', 'somconnexio.service_supplier_jazztel', 'adsl'],
      ['somconnexio.service_technology_4G', null, 'router4G'],
      ['somconnexio.service_technology_fiber', 'somconnexio.service_supplier_vodafone', 'vodafone'],
      ['somconnexio.service_technology_fiber', 'somconnexio.service_supplier_asociatel_vdf', 'asociatel'],
      ['somconnexio.service_technology_fiber', 'somconnexio.service_supplier_masmovil', 'masmovil'],
      ['somconnexio.service_technology_fiber', 'somconnexio.service_supplier_xoln', 'xoln'],
      ['somconnexio.service_technology_fiber', 'somconnexio.service_supplier_orange', 'orange'],
      ['somconnexio.service_technology_fiber', null, ''],
      ['switchboard_somconnexio.service_technology_switchboard', null, 'switchboard'],
      ['multimedia_somconnexio.service_technology_multimedia', null, 'multimedia'],
      [
        'multimedia_somconnexio.service_technology_multimedia',
        'filmin_somconnexio.service_supplier_filmin',
        'filmin',
      ],
      [
        'multimedia_somconnexio.service_technology_multimedia',
        'x_media.service_supplier_other',
        'multimedia',
      ],
      [null, null, ''],
    ];
    for (const [tech, supplier, expected] of cases) {
      it(`${tech} + ${supplier} → "${expected}"`, () => {
        expect(serviceContractType(tech, supplier)).to.equal(expected);
      });
    }
  });

  describe('Access, services, one-shots and terminations', () => {
    it('AccessFromContract is {code: phone number, subscription: contract code}', () => {
      expect(accessFromContract(contract())).to.deep.equal({ code: '600111222', subscription: 'SC-0041' });
      expect(accessFromContract(contract({ phoneNumber: null }))).to.equal(null);
    });
    it('P-access: Odoo\'s "-" placeholder is the access code, as the original sent it; no access with PHONE_PLACEHOLDER_IS_NO_NUMBER; blank is none', () => {
      expect(accessFromContract(contract({ phoneNumber: '-' }))).to.deep.equal({
        code: '-',
        subscription: 'SC-0041',
      });
      expect(
        accessFromContract(contract({ phoneNumber: '-' }), { phonePlaceholderIsNoNumber: true }),
      ).to.equal(null);
      expect(accessFromContract(contract({ phoneNumber: '  ' }))).to.equal(null);
    });
    it('a service line becomes {code, quantity: 1, subscriptionDate}', () => {
      expect(serviceToActivate(line())).to.deep.equal({
        code: 'SE_SC_REC_MOBILE_T_UNL_20480',
        quantity: 1,
        subscriptionDate: '2024-02-01',
      });
      expect(activateServicesRequest('SC-0041', [line()])).to.deep.equal({
        subscription: 'SC-0041',
        servicesToActivate: {
          service: [{ code: 'SE_SC_REC_MOBILE_T_UNL_20480', quantity: 1, subscriptionDate: '2024-02-01' }],
        },
      });
    });
    it('a one-shot sends only subscription and charge code', () => {
      expect(oneShotChargeRequest('SC-0041', 'CH_SC_OSO_SIM')).to.deep.equal({
        subscription: 'SC-0041',
        oneShotCharge: 'CH_SC_OSO_SIM',
      });
    });
    it('terminations carry the reason CC_TERMINATION', () => {
      expect(terminateSubscriptionRequest('SC-0041', '2024-06-30')).to.deep.equal({
        subscriptionCode: 'SC-0041',
        terminationDate: '2024-06-30',
        terminationReason: 'CC_TERMINATION',
      });
      expect(terminateServicesRequest('SC-0041', '2024-06-30', { services: ['SE_X'] })).to.deep.equal({
        subscriptionCode: 'SC-0041',
        terminationDate: '2024-06-30',
        services: ['SE_X'],
        terminationReason: 'CC_TERMINATION',
      });
    });
  });

  describe('compensation (W5)', () => {
    it('amount = days × price ÷ 30', () => {
      expect(compensationAmount(3, 30)).to.equal(3);
      expect(compensationAmount(10, 17.36)).to.be.closeTo(5.786666, 1e-5);
    });
    it('applies CH_SC_OSO_COMPENSATION with −amount (4 decimals), description and operation date', () => {
      expect(
        compensationRequest(contract(), compensationAmount(10, 17.36), 'Outage', '2024-03-01'),
      ).to.deep.equal({
        subscription: 'SC-0041',
        oneShotCharge: 'CH_SC_OSO_COMPENSATION',
        amountWithoutTax: -5.7867,
        description: 'Outage',
        operationDate: '2024-03-01',
      });
    });
    it('refuses a terminated contract', () => {
      expect(() => compensationRequest(contract({ isTerminated: true }), 1, 'x', '2024-03-01')).to.throw(
        ProjectionRejectedError,
      );
    });
  });

  describe('product categories (§2.1) and the catalog check', () => {
    const kind = (categoryXmlId: string | null, ancestors: string[] = []) =>
      productKind({ categoryXmlId, categoryAncestorXmlIds: ancestors });
    it('one-shot categories → one_shot', () => {
      expect(kind('somconnexio.mobile_oneshot_service')).to.equal('one_shot');
      expect(kind('somconnexio.broadband_oneshot_service')).to.equal('one_shot');
      expect(kind('somconnexio.broadband_oneshot_adsl_service')).to.equal('one_shot');
    });
    it('technology tariff categories and additional services → service', () => {
      for (const c of [
        'somconnexio.mobile_service',
        'somconnexio.broadband_fiber_service',
        'somconnexio.broadband_adsl_service',
        'somconnexio.broadband_4G_service',
        'somconnexio.broadband_additional_service',
        'somconnexio.mobile_additional_service',
      ]) {
        expect(kind(c), c).to.equal('service');
      }
    });
    it('children of multimedia_service and switchboard_additional_service → service, the parents themselves → none', () => {
      expect(
        kind('filmin_somconnexio.filmin_service', [
          'multimedia_somconnexio.multimedia_service',
          'product.product_category_all',
        ]),
      ).to.equal('service');
      expect(
        kind('switchboard_somconnexio.switchboard_extras_service', [
          'switchboard_somconnexio.switchboard_additional_service',
        ]),
      ).to.equal('service');
      expect(kind('multimedia_somconnexio.multimedia_service', ['product.product_category_all'])).to.equal(
        'none',
      );
    });
    it('only direct children of multimedia_service and switchboard_additional_service are services, as the original listener (parent_id =): a grandchild → none', () => {
      expect(
        kind('x.filmin_promo', [
          'filmin_somconnexio.filmin_service',
          'multimedia_somconnexio.multimedia_service',
        ]),
      ).to.equal('none');
      expect(kind('x.extras_sub', ['', 'switchboard_somconnexio.switchboard_additional_service'])).to.equal(
        'none',
      );
      expect(kind(null, ['switchboard_somconnexio.switchboard_additional_service'])).to.equal('service');
    });
    it('on the Som Connexió tree (mobile_service and broadband_service roots, their additional and one-shot children), kinds follow the XML ids, not the parent', () => {
      // somconnexio/data/product_categories.xml: mobile_oneshot_service and mobile_additional_service are children of
      // mobile_service, the broadband ones of broadband_service (schemas/odoo/80-reference-data.sql).
      expect(kind('somconnexio.mobile_oneshot_service', ['somconnexio.mobile_service'])).to.equal('one_shot');
      expect(kind('somconnexio.broadband_oneshot_adsl_service', ['somconnexio.broadband_service'])).to.equal(
        'one_shot',
      );
      expect(kind('somconnexio.mobile_additional_service', ['somconnexio.mobile_service'])).to.equal(
        'service',
      );
      expect(kind('somconnexio.broadband_fiber_service', ['somconnexio.broadband_service'])).to.equal(
        'service',
      );
      expect(kind('somconnexio.mobile_service', [])).to.equal('service');
      // A category someone adds under mobile_service is in neither set: the original sends nothing for it.
      expect(kind(null, ['somconnexio.mobile_service'])).to.equal('none');
      expect(kind('x.mobile_promo', ['somconnexio.mobile_service'])).to.equal('none');
    });
    it('any other category → none', () => {
      expect(kind('somconnexio.other_products', ['product.product_category_all'])).to.equal('none');
      expect(kind(null)).to.equal('none');
    });
    it('the technology categories can be given (as loaded from service_technology)', () => {
      expect(
        productKind({ categoryXmlId: 'x.custom_tariff', categoryAncestorXmlIds: [] }, ['x.custom_tariff']),
      ).to.equal('service');
      expect(
        productKind({ categoryXmlId: 'somconnexio.mobile_service', categoryAncestorXmlIds: [] }, []),
      ).to.equal('none');
    });
    it('a known code passes the catalog check', () => {
      expect(productCatalogCheck({ id: 5, defaultCode: 'SE_A' }, new Set(['SE_A']))).to.deep.equal(
        E.right('SE_A'),
      );
      expect(assertKnownProduct({ id: 5, defaultCode: 'SE_A' }, new Set(['SE_A']))).to.equal('SE_A');
    });
    it('an unknown code yields UnknownProductError naming product and code', () => {
      const r = productCatalogCheck({ id: 5, defaultCode: 'SE_NOPE' }, new Set(['SE_A']));
      expect(E.isLeft(r)).to.equal(true);
      if (E.isLeft(r)) {
        expect(r.left).to.be.instanceOf(UnknownProductError);
        expect(r.left.message).to.contain('product 5').and.contain('"SE_NOPE"');
        expect(r.left.code).to.equal('UNKNOWN_PRODUCT');
        expect(r.left.retriable).to.equal(false);
      }
      expect(() => assertKnownProduct({ id: 6, defaultCode: null }, new Set())).to.throw(
        UnknownProductError,
        /\(none\)/,
      );
    });
  });
});
