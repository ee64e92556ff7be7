import { isValidIban, maskIban } from './iban';
import { ProjectionRejectedError } from '../errors';
import type {
  AccessDto,
  ActivateServicesRequestDto,
  AddressDto,
  ApplyOneShotChargeInstanceRequestDto,
  ContactInformationDto,
  CRMAccountHierarchyDto,
  CustomerDto,
  CustomFieldsDto,
  NameDto,
  PaymentMethodDto,
  ServiceToActivateDto,
  SubscriptionDto,
  TerminateSubscriptionRequestDto,
  TerminateSubscriptionServicesRequestDto,
} from '../opencell/dto';
import type { ContractView, IsoDate, LineView, OcSubscriptionState, PartnerView } from './views';
import { odooPhone } from './views';

/**
 * Payloads: Odoo views → OpenCell request bodies, exactly as the original module's `opencell_models` (the reference
 * calls them presenters; docs/behaviour.md §3.2). Bodies use OpenCell's JSON field names (types from
 * src/domain/opencell/dto.ts). Absent Odoo values (null) are left out of create bodies (OpenCell: absent ⇒
 * unchanged / default).
 */

export type {
  AccessDto,
  ActivateServicesRequestDto,
  ApplyOneShotChargeInstanceRequestDto,
  CRMAccountHierarchyDto,
  CustomerDto,
  SubscriptionDto,
  TerminateSubscriptionRequestDto,
  TerminateSubscriptionServicesRequestDto,
};

/** The settings the payloads read (from Config.opencell). */
export interface ProjectionConfig {
  /** `opencell_seller_code`, default 'SC'. */
  seller: string;
  /** `opencell_customer_category_code`, default 'CLIENT'. */
  customerCategory: string;
  /**
   * The original sends `customerCategory: "CLIENT"` hard-coded in the CRM account hierarchy, whatever the setting
   * (docs/parity.md P-crm-category); true sends `customerCategory` there too (opt-in). Absent = false.
   */
  hierarchyUsesCustomerCategory?: boolean;
  /**
   * The original sent any stored IBAN (docs/parity.md P-iban-check); true refuses one failing the ISO 13616 or
   * national check digits before any call (opt-in `REFUSE_INVALID_IBAN`). Absent = false.
   */
  refuseInvalidIban?: boolean;
  /**
   * The original's account owner is Python's `"{} {}".format(firstname, lastname)`, so an empty name part is the text
   * "False" (docs/parity.md P-payment); true joins the parts present and falls back to the partner's name (opt-in
   * `ACCOUNT_OWNER_NAME_FALLBACK`). Absent = false.
   */
  accountOwnerNameFallback?: boolean;
  /**
   * The original's forced creation (W4) ran the create service only — customer, hierarchy, subscription, access — and
   * left the lines to their own jobs, re-queued by hand (docs/parity.md W4); true makes force-create also activate the
   * contract's current service lines and apply its one-shots (opt-in `FORCE_CREATE_WITH_LINES`). Absent = false.
   */
  forceCreateWithLines?: boolean;
  /**
   * The original sent Odoo's `"-"` phone placeholder as it is: the access code and the subscription description
   * (docs/parity.md P-access, T7); true makes `"-"` no number, like an empty one (opt-in
   * `PHONE_PLACEHOLDER_IS_NO_NUMBER`). Absent = false.
   */
  phonePlaceholderIsNoNumber?: boolean;
}

export const DEFAULT_PROJECTION_CONFIG: ProjectionConfig = { seller: 'SC', customerCategory: 'CLIENT' };

/** The original's hierarchy category (docs/behaviour.md: hard-coded, not the config value). */
export const HIERARCHY_CUSTOMER_CATEGORY = 'CLIENT' as const;

export function projectionConfig(config: {
  opencell: {
    seller: string;
    customerCategory: string;
    hierarchyUsesCustomerCategory?: boolean;
    refuseInvalidIban?: boolean;
    accountOwnerNameFallback?: boolean;
    forceCreateWithLines?: boolean;
    phonePlaceholderIsNoNumber?: boolean;
  };
}): ProjectionConfig {
  return {
    seller: config.opencell.seller,
    customerCategory: config.opencell.customerCategory,
    hierarchyUsesCustomerCategory: config.opencell.hierarchyUsesCustomerCategory ?? false,
    refuseInvalidIban: config.opencell.refuseInvalidIban ?? false,
    accountOwnerNameFallback: config.opencell.accountOwnerNameFallback ?? false,
    forceCreateWithLines: config.opencell.forceCreateWithLines ?? false,
    phonePlaceholderIsNoNumber: config.opencell.phonePlaceholderIsNoNumber ?? false,
  };
}

export const CRM_ACCOUNT_TYPE = 'CA_UA' as const;
export const CURRENCY = 'EUR';
export const BILLING_CYCLE = 'BC_SC_MONTHLY_1ST';
export const MAILING_TYPE = 'Manual';
export const EMAIL_TEMPLATE = 'EMAIL_TEMPLATE_TEST';
export const TERMINATION_REASON = 'CC_TERMINATION';
export const COMPENSATION_CHARGE = 'CH_SC_OSO_COMPENSATION';
export const CANARY_ISLANDS_STATE_CODES: readonly string[] = ['TF', 'GC'];

export const CF_SERVICE_ADDRESS = 'CF_OF_SC_SUB_SERVICE_ADDRESS';
export const CF_SERVICE_ZIP = 'CF_OF_SC_SUB_SERVICE_CP';
export const CF_SERVICE_CITY = 'CF_OF_SC_SUB_SERVICE_CITY';
export const CF_SERVICE_SUBDIVISION = 'CF_OF_SC_SUB_SERVICE_SUBDIVISION';

// ---------------------------------------------------------------------------------------------------------------
// Types of the original (opencell_types)
// ---------------------------------------------------------------------------------------------------------------

/** The original's `Description` type: text cut to 50 characters (code points, so no surrogate is split). */
export function description50(text: string | null | undefined): string {
  if (text === null || text === undefined) return '';
  const chars = Array.from(text);
  return chars.length <= 50 ? text : chars.slice(0, 50).join('');
}

/** Odoo language → OpenCell TradingLanguage: ca_ES → CAT, es_ES → ESP; anything else is refused. */
export function ocLanguage(lang: string | null, partner?: Pick<PartnerView, 'id' | 'ref'>): 'CAT' | 'ESP' {
  if (lang === 'ca_ES') return 'CAT';
  if (lang === 'es_ES') return 'ESP';
  const who = partner ? `partner ${partner.id}${partner.ref ? ` (ref ${partner.ref})` : ''}` : 'partner';
  throw new ProjectionRejectedError(
    `${who} has language ${lang === null ? '(none)' : `"${lang}"`}; OpenCell only accepts ca_ES (CAT) and es_ES (ESP)`,
    { partnerId: partner?.id, lang },
  );
}

/** Billing-account TradingCountry: 'ES_CN' for the Canary Islands (state TF or GC), 'SP' otherwise. */
export function ocBillingCountry(stateCode: string | null): 'SP' | 'ES_CN' {
  return stateCode !== null && CANARY_ISLANDS_STATE_CODES.includes(stateCode) ? 'ES_CN' : 'SP';
}

/** somconnexio's `full_street`: street and street2 separated by a space (empty parts skipped). */
export function fullStreet(p: Pick<PartnerView, 'street' | 'street2'>): string {
  return [p.street, p.street2].filter((s): s is string => typeof s === 'string' && s.trim() !== '').join(' ');
}

function put<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | null | undefined): void {
  if (value !== null && value !== undefined) target[key] = value;
}

/** The original's `Address` dictionary: address1 / zipCode / city / state (name) / country (ISO code). */
export function addressFromPartner(p: PartnerView): AddressDto {
  const a: AddressDto = { address1: fullStreet(p) };
  put(a, 'zipCode', p.zip);
  put(a, 'city', p.city);
  put(a, 'state', p.stateName);
  put(a, 'country', p.countryCode);
  return a;
}

/** firstName = firstname or ""; lastName = lastname or name or ""; both cut to 50. Companies: ("", name). */
export function nameFromPartner(p: PartnerView): NameDto {
  return { firstName: description50(p.firstname ?? ''), lastName: description50(p.lastname || p.name || '') };
}

// ---------------------------------------------------------------------------------------------------------------
// service_contract_type (docs/behaviour.md §8) and offer template
// ---------------------------------------------------------------------------------------------------------------

export type ServiceContractType =
  | 'mobile'
  | 'adsl'
  | 'router4G'
  | 'vodafone'
  | 'asociatel'
  | 'masmovil'
  | 'xoln'
  | 'orange'
  | 'switchboard'
  | 'multimedia'
  | 'filmin'
  | '';

const FIBER_SUPPLIERS: Record<string, ServiceContractType> = {
  'somconnexio.service_supplier_vodafone': 'vodafone',
  'somconnexio.service_supplier_asociatel_vdf': 'asociatel',
  'somconnexio.service_supplier_asociatel': 'asociatel',
  'somconnexio.service_supplier_masmovil': 'masmovil',
  'somconnexio.service_supplier_xoln': 'xoln',
  'somconnexio.service_supplier_orange': 'orange',
};

/** `filmin_somconnexio.service_supplier_filmin`: filmin_somconnexio's `is_filmin` is this supplier. */
export const FILMIN_SUPPLIER = 'filmin_somconnexio.service_supplier_filmin';

/**
 * `contract.service_contract_type` is not stored: derived from the technology and supplier XML ids as the addons
 * compute it (docs/behaviour.md §8, §3.2). Fiber depends on the supplier; switchboard comes from its addon; the
 * multimedia technology is `multimedia` (multimedia_somconnexio), and a contract whose **supplier** is Filmin is
 * `filmin` whatever its technology (filmin_somconnexio's `is_filmin`, computed from `service_supplier_id`, overrides
 * the type). Unknown combinations give '' (which maps to the broadband offer, as in the original).
 */
export function serviceContractType(technology: string | null, supplier: string | null): ServiceContractType {
  if (supplier === FILMIN_SUPPLIER) return 'filmin';
  switch (technology) {
    case 'somconnexio.service_technology_mobile':
      return 'mobile';
    case 'somconnexio.service_technology_adsl':
      return 'adsl';
    case 'somconnexio.service_technology_4G':
      return 'router4G';
    case 'somconnexio.service_technology_fiber':
      return (supplier !== null && FIBER_SUPPLIERS[supplier]) || '';
    case 'switchboard_somconnexio.service_technology_switchboard':
      return 'switchboard';
    case 'multimedia_somconnexio.service_technology_multimedia':
      return 'multimedia';
    default:
      return '';
  }
}

/**
 * Offer by service type (`SubscriptionFromContract.offerTemplate`): mobile → MOB, switchboard → CV, filmin → CT,
 * anything else (multimedia of another supplier included) → BA.
 */
export function offerTemplateFor(type: ServiceContractType): string {
  switch (type) {
    case 'mobile':
      return 'OF_SC_TEMPLATE_MOB';
    case 'switchboard':
      return 'OF_SC_TEMPLATE_CV';
    case 'filmin':
      return 'OF_SC_TEMPLATE_CT';
    default:
      return 'OF_SC_TEMPLATE_BA';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Customer
// ---------------------------------------------------------------------------------------------------------------

export function requireRef(partner: PartnerView): string {
  if (!partner.ref) {
    throw new ProjectionRejectedError(
      `partner ${partner.id} has no ref, so it has no OpenCell customer code`,
      {
        partnerId: partner.id,
      },
    );
  }
  return partner.ref;
}

/** `CustomerFromPartner`: the full Customer payload (create and update). */
export function customerFromPartner(partner: PartnerView, config: ProjectionConfig): CustomerDto {
  const contact: ContactInformationDto = {};
  put(contact, 'email', partner.email);
  put(contact, 'mobile', partner.mobile || partner.phone);
  const c: CustomerDto = {
    code: requireRef(partner),
    seller: config.seller,
    description: description50(partner.name),
    name: nameFromPartner(partner),
    address: addressFromPartner(partner),
    contactInformation: contact,
    customerCategory: config.customerCategory,
  };
  put(c, 'vatNo', partner.vat);
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// CRM account hierarchy (CA_UA)
// ---------------------------------------------------------------------------------------------------------------

export function requireFirstEmail(contract: ContractView): string {
  const first = contract.emails[0]?.email;
  if (!first) {
    throw new ProjectionRejectedError(
      `contract ${contract.code} has no email: OpenCell's electronic billing needs one for the customer account`,
      { contractId: contract.id, contractCode: contract.code },
    );
  }
  return first;
}

/**
 * All contract emails but the first, joined with ","; null when there is only one — the original's `ccedEmails`
 * (`None`, sent as JSON null by its presenters, in the create and in the email update alike).
 */
export function ccedEmails(contract: ContractView): string | null {
  const others = contract.emails
    .slice(1)
    .map((e) => e.email)
    .filter((e): e is string => !!e);
  return others.length ? others.join(',') : null;
}

/**
 * `{email: first contract email, phone: invoice partner phone or "", mobile: invoice partner mobile or "", fax:
 * ""}`.
 */
export function crmContactInformation(contract: ContractView): ContactInformationDto {
  return {
    email: requireFirstEmail(contract),
    phone: contract.invoicePartner?.phone || '',
    mobile: contract.invoicePartner?.mobile || '',
    fax: '',
  };
}

/**
 * The original's `Description("{} {}".format(partner.firstname, partner.lastname)).text`: an empty Odoo Char is
 * `False` in Python, so a company (partner_firstname puts its name in `lastname`) is "False <name>" and a partner
 * without either part "False False" — what the original sent. `nameFallback` (opt-in ACCOUNT_OWNER_NAME_FALLBACK):
 * the parts present, or the partner's name when it has neither. Cut to 50 either way.
 */
export function accountOwner(partner: PartnerView, nameFallback = false): string {
  if (nameFallback) {
    const full = [partner.firstname, partner.lastname].filter((s) => !!s).join(' ');
    return description50(full || partner.name || '');
  }
  const py = (s: string | null) => (s ? s : 'False');
  return description50(`${py(partner.firstname)} ${py(partner.lastname)}`);
}

/**
 * The original's `mandateDate`: the bank account's `create_date` (Odoo's naive UTC timestamp, 'YYYY-MM-DDTHH:MM:SS';
 * a date alone is midnight) in whole epoch **seconds** — `int(time.mktime(create_date.timetuple()))` on an Odoo
 * server running in UTC. OpenCell reads a number as epoch milliseconds; the value is sent as the original sent it.
 * null when the date is unknown or unreadable.
 */
export function mandateDateSeconds(createDate: string | null): number | null {
  if (createDate === null) return null;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}:\d{2}))?/.exec(createDate.trim());
  if (!m) return null;
  const ms = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}Z`);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/**
 * The single DIRECTDEBIT payment method from the contract's mandate bank account; [] without one. The IBAN is sent as
 * stored, as the original, unless `refuseInvalidIban` (opt-in REFUSE_INVALID_IBAN).
 */
export function paymentMethodsFromContract(
  contract: ContractView,
  caCode: string,
  config: Pick<ProjectionConfig, 'refuseInvalidIban' | 'accountOwnerNameFallback'> = {},
): PaymentMethodDto[] {
  const m = contract.mandate;
  if (!m || !m.iban) return [];
  if (config.refuseInvalidIban && !isValidIban(m.iban)) {
    // OpenCell takes any IBAN up to 100 characters: a bad one would only fail at the bank, at the first direct debit.
    throw new ProjectionRejectedError(
      `contract ${contract.code}: the mandate's IBAN ${maskIban(m.iban)} is not a valid IBAN (ISO 13616 or national check digits failed); ` +
        'fix the bank account in Odoo, then replay the dead letter',
      { contract: contract.code, bankAccountId: m.bankAccountId, reason: 'invalid_iban' },
    );
  }
  const bank: NonNullable<PaymentMethodDto['bankCoordinates']> = {
    iban: m.iban,
    accountOwner: accountOwner(contract.partner, config.accountOwnerNameFallback === true),
  };
  put(bank, 'bic', m.bic);
  // OpenCell's BankCoordinates.bankName is at most 50 characters (400 INVALID_PARAMETER beyond: opencell-api.md);
  // the original sent it whole, so its job failed there (docs/parity.md P-payment).
  put(bank, 'bankName', m.bankName === null ? null : description50(m.bankName));
  const pm: PaymentMethodDto = {
    paymentMethodType: 'DIRECTDEBIT',
    disabled: false,
    preferred: true,
    customerAccountCode: caCode,
    bankCoordinates: bank,
  };
  if (m.bankAccountId !== null) {
    pm.alias = String(m.bankAccountId);
    pm.mandateIdentification = String(m.bankAccountId);
  }
  put(pm, 'mandateDate', mandateDateSeconds(m.bankAccountCreateDate));
  return [pm];
}

/** `CRMAccountHierarchyFromContract`: creates CA, BA and UA `caCode` under the customer `partner.ref`. */
export function crmAccountHierarchyFromContract(
  contract: ContractView,
  caCode: string,
  config: ProjectionConfig,
): CRMAccountHierarchyDto {
  const partner = contract.partner;
  const dto: CRMAccountHierarchyDto = {
    crmAccountType: CRM_ACCOUNT_TYPE,
    crmParentCode: requireRef(partner),
    code: caCode,
    description: description50(partner.name),
    name: nameFromPartner(partner),
    address: addressFromPartner(partner),
    email: requireFirstEmail(contract),
    contactInformation: crmContactInformation(contract),
    language: ocLanguage(partner.lang, partner),
    methodOfPayment: paymentMethodsFromContract(contract, caCode, config),
    customerCategory: config.hierarchyUsesCustomerCategory
      ? config.customerCategory
      : HIERARCHY_CUSTOMER_CATEGORY,
    currency: CURRENCY,
    billingCycle: BILLING_CYCLE,
    country: ocBillingCountry(partner.stateCode),
    electronicBilling: true,
    mailingType: MAILING_TYPE,
    emailTemplate: EMAIL_TEMPLATE,
  };
  put(dto, 'vatNo', partner.vat);
  dto.ccedEmails = ccedEmails(contract);
  return dto;
}

function crmUpdateBase(caCode: string, partner: PartnerView): CRMAccountHierarchyDto {
  return {
    code: caCode,
    crmAccountType: CRM_ACCOUNT_TYPE,
    currency: CURRENCY,
    language: ocLanguage(partner.lang, partner),
  };
}

/**
 * `CRMAccountHierarchyFromContractToChangeEmail`. With a single email `ccedEmails` is null, as the original sends it
 * (OpenCell keeps the value it has).
 */
export function crmToChangeEmail(contract: ContractView, caCode: string): CRMAccountHierarchyDto {
  return {
    ...crmUpdateBase(caCode, contract.partner),
    email: requireFirstEmail(contract),
    ccedEmails: ccedEmails(contract),
    contactInformation: crmContactInformation(contract),
  };
}

/** `CRMAccountHierarchyFromContractToChangeIBAN`. */
export function crmToChangeIban(
  contract: ContractView,
  caCode: string,
  config: Pick<ProjectionConfig, 'refuseInvalidIban' | 'accountOwnerNameFallback'> = {},
): CRMAccountHierarchyDto {
  return {
    ...crmUpdateBase(caCode, contract.partner),
    methodOfPayment: paymentMethodsFromContract(contract, caCode, config),
  };
}

/** `CRMAccountHierarchyFromPartner`: the address update of one customer account. */
export function crmFromPartnerAddress(partner: PartnerView, caCode: string): CRMAccountHierarchyDto {
  return {
    ...crmUpdateBase(caCode, partner),
    address: addressFromPartner(partner),
    country: ocBillingCountry(partner.stateCode),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Subscription, access, services, one-shots, terminations
// ---------------------------------------------------------------------------------------------------------------

/** The 4 service-address custom fields when the contract has a service partner; `{}` otherwise. */
export function serviceAddressCustomFields(contract: ContractView): CustomFieldsDto {
  const sp = contract.servicePartner;
  if (!sp) return {};
  const cf = (code: string, value: string | null) =>
    value === null ? { code } : { code, stringValue: value };
  return {
    customField: [
      cf(CF_SERVICE_ADDRESS, fullStreet(sp)),
      cf(CF_SERVICE_ZIP, sp.zip),
      cf(CF_SERVICE_CITY, sp.city),
      cf(CF_SERVICE_SUBDIVISION, sp.stateName),
    ],
  };
}

export function requireDate(value: IsoDate | null, what: string, details: Record<string, unknown>): IsoDate {
  if (!value) throw new ProjectionRejectedError(`${what} is not set`, details);
  return value;
}

/** `SubscriptionFromContract`; description = the contract's phone number (`odooPhone`), left out without one. */
export function subscriptionFromContract(
  contract: ContractView,
  caCode: string,
  config: Pick<ProjectionConfig, 'phonePlaceholderIsNoNumber'> = {},
): SubscriptionDto {
  const dto: SubscriptionDto = {
    code: contract.code,
    userAccount: caCode,
    offerTemplate: offerTemplateFor(
      serviceContractType(contract.serviceTechnology, contract.serviceSupplier),
    ),
    subscriptionDate: requireDate(contract.dateStart, `date_start of contract ${contract.code}`, {
      contractId: contract.id,
    }),
    customFields: serviceAddressCustomFields(contract),
  };
  put(dto, 'description', odooPhone(contract.phoneNumber, config.phonePlaceholderIsNoNumber === true));
  return dto;
}

/**
 * `AccessFromContract`: `{code: phone number, subscription: contract code}`; null without a phone number (`odooPhone`:
 * empty or blank; Odoo's "-" placeholder only with `phonePlaceholderIsNoNumber`, the original sent it as the code).
 * The projector's creation and `reconcile`'s access check both use it.
 */
export function accessFromContract(
  contract: Pick<ContractView, 'code' | 'phoneNumber'>,
  config: Pick<ProjectionConfig, 'phonePlaceholderIsNoNumber'> = {},
): AccessDto | null {
  const phone = odooPhone(contract.phoneNumber, config.phonePlaceholderIsNoNumber === true);
  return phone ? { code: phone, subscription: contract.code } : null;
}

/** `ContractLineToOCServiceDict`: `{code: default_code, quantity: 1, subscriptionDate: line date_start}`. */
export function serviceToActivate(line: LineView): ServiceToActivateDto {
  if (!line.productCode) {
    throw new ProjectionRejectedError(`contract line ${line.id}: product ${line.productId} has no code`, {
      lineId: line.id,
      productId: line.productId,
    });
  }
  return {
    code: line.productCode,
    quantity: 1,
    subscriptionDate: requireDate(line.dateStart, `date_start of contract line ${line.id}`, {
      lineId: line.id,
    }),
  };
}

export function activateServicesRequest(
  subscriptionCode: string,
  lines: readonly LineView[],
): ActivateServicesRequestDto {
  return { subscription: subscriptionCode, servicesToActivate: { service: lines.map(serviceToActivate) } };
}

/** `applyOneShotCharge(default_code)` as the add_one_shot job sends it: subscription and charge only. */
export function oneShotChargeRequest(
  subscriptionCode: string,
  chargeCode: string,
): ApplyOneShotChargeInstanceRequestDto {
  return { subscription: subscriptionCode, oneShotCharge: chargeCode };
}

export function terminateSubscriptionRequest(
  subscriptionCode: string,
  date: IsoDate,
): TerminateSubscriptionRequestDto {
  return { subscriptionCode, terminationDate: date, terminationReason: TERMINATION_REASON };
}

export function terminateServicesRequest(
  subscriptionCode: string,
  date: IsoDate,
  target: { services: string[] } | { serviceIds: number[] },
): TerminateSubscriptionServicesRequestDto {
  return { subscriptionCode, terminationDate: date, ...target, terminationReason: TERMINATION_REASON };
}

/**
 * A description-only subscription update. OpenCell's update requires `subscriptionDate` and overwrites
 * `endAgreementDate`, so both are echoed from the subscription as read.
 */
export function subscriptionDescriptionUpdate(
  subscription: OcSubscriptionState,
  description: string,
): SubscriptionDto {
  const dto: SubscriptionDto = { code: subscription.code, description };
  put(dto, 'subscriptionDate', subscription.subscriptionDate);
  put(dto, 'endAgreementDate', subscription.endAgreementDate);
  return dto;
}

// ---------------------------------------------------------------------------------------------------------------
// Compensation (docs/behaviour.md W5, operator-driven): the `compensate` command and its intent kind
// (src/domain/intents/apply-compensation.ts).
// ---------------------------------------------------------------------------------------------------------------

/** price (tax excluded, pricelist 0IVA) ÷ 30 × days without service. */
export function compensationAmount(days: number, monthlyPriceWithoutTax: number): number {
  return (monthlyPriceWithoutTax / 30) * days;
}

/** The compensation one-shot: code CH_SC_OSO_COMPENSATION, −amount rounded to 4 decimals. */
export function compensationRequest(
  contract: Pick<ContractView, 'code' | 'isTerminated'>,
  amount: number,
  description: string,
  operationDate: IsoDate,
): ApplyOneShotChargeInstanceRequestDto {
  if (contract.isTerminated) {
    throw new ProjectionRejectedError(
      `contract ${contract.code} is terminated: no compensation can be applied`,
      {
        contractCode: contract.code,
      },
    );
  }
  const rounded = Math.round(amount * 10_000) / 10_000;
  return {
    subscription: contract.code,
    oneShotCharge: COMPENSATION_CHARGE,
    amountWithoutTax: rounded === 0 ? 0 : -rounded,
    description,
    operationDate,
  };
}
