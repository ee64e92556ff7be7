/**
 * Input types of the pure projection core: plain snapshots of Odoo data as the pipeline loads them (from the
 * change events and from Odoo's database), and of the OpenCell state the strategies need.
 *
 * Conventions:
 * - Dates are 'YYYY-MM-DD' strings (`IsoDate`); `toIsoDate` converts Debezium's epoch days.
 * - Odoo's "False" for an empty Char/Many2one is `null`.
 * - Partners, contracts and lines carry their Odoo database ids; OpenCell objects are keyed by codes
 *   (customer = partner.ref, subscription = contract.code, CA = `{ref}_{n}`, service = product default_code).
 */

export type IsoDate = string;

/** `res.partner` as the projections need it (contract holder, invoice partner, service address, contract email). */
export interface PartnerView {
  id: number;
  /** OpenCell customer code. Only the contract holder needs it. */
  ref: string | null;
  name: string | null;
  firstname: string | null;
  lastname: string | null;
  isCompany: boolean;
  vat: string | null;
  email: string | null;
  mobile: string | null;
  phone: string | null;
  street: string | null;
  street2: string | null;
  zip: string | null;
  city: string | null;
  /** `res_country_state.code` (e.g. 'B', 'TF', 'GC'). */
  stateCode: string | null;
  /** `res_country_state.name` (sent as `address.state` and as the service-address subdivision). */
  stateName: string | null;
  /** `res_country.code` (ISO, e.g. 'ES'). */
  countryCode: string | null;
  /** e.g. 'ca_ES', 'es_ES'. */
  lang: string | null;
  /** `block_contract_creation_in_OC`. */
  blockContractCreationInOC: boolean;
  parentId: number | null;
}

/** A contract email: a partner (usually of type `contract-email`) of `contract.email_ids`, in relation order. */
export type EmailView = Pick<PartnerView, 'id' | 'email'>;

/** `account.banking.mandate` with its `res.partner.bank` and `res.bank`. */
export interface MandateView {
  id: number;
  /** `res_partner_bank.sanitized_acc_number` (no spaces, upper case). */
  iban: string | null;
  /** `res_bank.bic`. */
  bic: string | null;
  /** `res_bank.name`. */
  bankName: string | null;
  /** `res_partner_bank.id`: the original used it as payment-method alias and mandate identification. */
  bankAccountId: number | null;
  /**
   * `res_partner_bank.create_date` (the original's mandate date), Odoo's naive UTC timestamp 'YYYY-MM-DDTHH:MM:SS'
   * (a date alone counts as midnight); sent as epoch seconds (`mandateDateSeconds`, payloads.ts).
   */
  bankAccountCreateDate: string | null;
  /** `account_banking_mandate.unique_mandate_reference` (informative; the original did not send it). */
  reference: string | null;
  signatureDate: IsoDate | null;
}

/** The four ISP-info tables whose `phone_number` is watched (docs/behaviour.md T7). */
export const WATCHED_ISP_INFO_TABLES = [
  'mobile_service_contract_info',
  'vodafone_fiber_service_contract_info',
  'mm_fiber_service_contract_info',
  'orange_fiber_service_contract_info',
] as const;
export type WatchedIspInfoTable = (typeof WATCHED_ISP_INFO_TABLES)[number];

/**
 * Odoo's phone placeholder: several info models default `phone_number` to "-" (router 4G, Orange fiber, ADSL, older
 * switchboard) and the contract's stored `phone_number` copies it.
 */
export const NO_PHONE_PLACEHOLDER = '-';

/**
 * A phone number as the projection uses it (access code, subscription description, T7's number); null = no number.
 * Empty or blank is no number (the original would have sent Python's False, which OpenCell refuses). "-" is a number,
 * sent as it is, as the original did (docs/parity.md T7, P-access), unless `placeholderIsNoNumber` (the opt-in
 * `PHONE_PLACEHOLDER_IS_NO_NUMBER`), which makes it no number too.
 */
export function odooPhone(value: string | null | undefined, placeholderIsNoNumber = false): string | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  return v === '' || (placeholderIsNoNumber && v === NO_PHONE_PLACEHOLDER) ? null : value;
}

export interface IspInfoView {
  table: string;
  id: number;
  phoneNumber: string | null;
}

/** What a contract line does in OpenCell when created, from its product category (docs/behaviour.md §2.1). */
export type ProductKind = 'service' | 'one_shot' | 'none';

/** `product.product` with its category, as needed to classify a contract line. */
export interface ProductView {
  id: number;
  /** `product_product.default_code`: the OpenCell service / one-shot charge code. */
  defaultCode: string | null;
  name?: string | null;
  /** XML id of `categ_id` (e.g. 'somconnexio.mobile_service'), null when the category has none. */
  categoryXmlId: string | null;
  /**
   * XML ids of the category's ancestors, parent first, '' for an ancestor without one (so the first entry is always
   * the direct parent): the "direct child of" sets of docs/behaviour.md §2.1.
   */
  categoryAncestorXmlIds: readonly string[];
}

/** `contract.line`. */
export interface LineView {
  id: number;
  contractId: number;
  productId: number;
  /** `product_product.default_code`. */
  productCode: string | null;
  /** Resolved with `productKind` (docs/behaviour.md §2.1). */
  kind: ProductKind;
  name: string | null;
  dateStart: IsoDate | null;
  dateEnd: IsoDate | null;
  isCanceled: boolean;
}

/** `contract.contract` with everything the create / update strategies and payloads read. */
export interface ContractView {
  id: number;
  /** OpenCell subscription code. */
  code: string;
  partner: PartnerView;
  invoicePartner: PartnerView | null;
  /** `service_partner_id`: the service address (broadband), null for mobile. */
  servicePartner: PartnerView | null;
  /** `email_ids`, ordered: the first one drives the customer account. */
  emails: readonly EmailView[];
  mandate: MandateView | null;
  /** XML id of `service_technology_id`, e.g. 'somconnexio.service_technology_fiber'. */
  serviceTechnology: string | null;
  /** XML id of `service_supplier_id`, e.g. 'somconnexio.service_supplier_vodafone'. */
  serviceSupplier: string | null;
  /** `phone_number` (stored compute): subscription description and access code. */
  phoneNumber: string | null;
  ispInfo: IspInfoView | null;
  dateStart: IsoDate | null;
  dateEnd: IsoDate | null;
  isTerminated: boolean;
  terminateDate: IsoDate | null;
  lines: readonly LineView[];
}

// ---------------------------------------------------------------------------------------------------------------
// OpenCell-side state (read by the runtime before planning; only what the strategies look at)
// ---------------------------------------------------------------------------------------------------------------

/** A customer account (CA_UA: the same code for CA, BA and UA) as returned inside `Customer.get`. */
export interface OcCustomerAccountState {
  code: string;
  /** `contactInformation.email`: the first contract email the CA was created from. */
  email: string | null;
  /** `ccedEmails` of the billing account, when known. */
  ccedEmails?: string | null;
  /** `methodOfPayment[0].bankCoordinates.iban`: what the original's account match (§3.1) reads. */
  iban: string | null;
  /**
   * The IBAN of the preferred payment method (else of the first): the account's current IBAN. OpenCell 10.x+ keeps
   * the former methods after an IBAN change, un-preferred and listed first (reference opencell-api.md §5.1.1), so
   * `iban` is then the old one. Absent: not known, `iban` stands for it.
   */
  preferredIban?: string | null;
}

export interface OcCustomerState {
  code: string;
  customerAccounts: readonly OcCustomerAccountState[];
}

export interface OcServiceInstanceState {
  id?: number;
  code: string;
  /** 'ACTIVE' | 'INACTIVE' | 'SUSPENDED' | 'TERMINATED' | 'CANCELED' | 'CLOSED'. */
  status?: string;
  terminationDate?: string | number | null;
}

export interface OcSubscriptionState {
  code: string;
  userAccount: string;
  description: string | null;
  /** 'CREATED' | 'ACTIVE' | 'SUSPENDED' | 'RESILIATED' | 'CANCELED' | 'CLOSED'. */
  status?: string;
  /** As read (epoch ms) or as sent; echoed back on a description update. */
  subscriptionDate: string | number | null;
  endAgreementDate?: string | number | null;
  /** Set once a termination was applied or scheduled. */
  terminationDate?: string | number | null;
  services: readonly OcServiceInstanceState[];
  /** Access codes of the subscription; undefined when the runtime did not read them. */
  accesses?: readonly string[];
}

/** Converts an Odoo/Debezium date (epoch days, 'YYYY-MM-DD', ISO date-time, Date) to 'YYYY-MM-DD'. */
export function toIsoDate(value: unknown): IsoDate | null {
  if (value === null || value === undefined || value === false || value === '') return null;
  if (typeof value === 'number' && Number.isFinite(value)) {
    return new Date(Math.round(value) * 86_400_000).toISOString().slice(0, 10);
  }
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString().slice(0, 10);
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) return value.slice(0, 10);
  throw new TypeError(`not a date: ${JSON.stringify(value)}`);
}
