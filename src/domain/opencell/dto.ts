/**
 * Request DTOs for the OpenCell REST API (classic v1, 11.x behaviour). Field names are exactly OpenCell's JSON keys
 * (OpenCell's REST API DTOs): build payloads against these types and send nothing else, since
 * OpenCell rejects unknown properties with 400 INVALID_PARAMETER.
 *
 * Dates sent to OpenCell may be "yyyy-MM-dd", an ISO date-time or epoch milliseconds; dates read back are epoch ms.
 */

/** A date as accepted by OpenCell on input: "2024-02-01", "2024-02-01T10:00:00Z" or epoch milliseconds. */
export type OcDateIn = string | number;

export type CrmAccountType =
  'C' | 'C_CA' | 'C_BA' | 'C_UA' | 'CA' | 'CA_BA' | 'CA_UA' | 'BA' | 'BA_UA' | 'UA';

export type PaymentMethodType =
  'CHECK' | 'DIRECTDEBIT' | 'WIRETRANSFER' | 'CARD' | 'PAYPAL' | 'STRIPE' | 'CASH';

export interface NameDto {
  title?: string;
  firstName?: string;
  lastName?: string;
}

export interface AddressDto {
  address1?: string;
  address2?: string;
  address3?: string;
  address4?: string;
  address5?: string;
  zipCode?: string;
  city?: string;
  /** Country ISO code (e.g. "ES") or description. */
  country?: string;
  state?: string;
}

export interface ContactInformationDto {
  email?: string;
  phone?: string;
  mobile?: string;
  fax?: string;
  address?: AddressDto;
}

export interface CustomFieldDto {
  code: string;
  stringValue?: string;
  longValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  dateValue?: OcDateIn;
  /** `listValue` in Java; the JSON key is `value`. */
  value?: unknown[];
  mapValue?: Record<string, unknown>;
  entityReferenceValue?: { classname: string; code: string };
  valueDate?: OcDateIn;
}

export interface CustomFieldsDto {
  customField?: CustomFieldDto[];
}

export interface BankCoordinatesDto {
  iban?: string;
  bic?: string;
  accountOwner?: string;
  bankName?: string;
  bankCode?: string;
  branchCode?: string;
  accountNumber?: string;
  key?: string;
  bankId?: string;
  issuerNumber?: string;
  issuerName?: string;
  ics?: string;
}

export interface PaymentMethodDto {
  paymentMethodType: PaymentMethodType;
  id?: number;
  disabled?: boolean;
  alias?: string;
  preferred?: boolean;
  customerAccountCode?: string;
  bankCoordinates?: BankCoordinatesDto;
  mandateIdentification?: string;
  mandateDate?: OcDateIn;
  email?: string;
}

/** POST /account/customer, PUT /account/customer (CustomerDto). */
export interface CustomerDto {
  code: string;
  description?: string;
  /** Rename on update. */
  updatedCode?: string;
  externalRef1?: string;
  externalRef2?: string;
  name?: NameDto;
  address?: AddressDto;
  contactInformation?: ContactInformationDto;
  jobTitle?: string;
  vatNo?: string;
  registrationNo?: string;
  /** CustomerCategory code, required on create (e.g. "CLIENT"). */
  customerCategory?: string;
  customerBrand?: string;
  /** Seller code (e.g. "SC"). */
  seller?: string;
  mandateIdentification?: string;
  mandateDate?: OcDateIn;
  customFields?: CustomFieldsDto;
  isCompany?: boolean;
}

/** POST /account/accountHierarchy/{create,update,createOrUpdate}CRMAccountHierarchy (CRMAccountHierarchyDto). */
export interface CRMAccountHierarchyDto {
  crmAccountType: CrmAccountType;
  /** Parent of the top level: the seller (C_*), the customer (CA_*), the customer account (BA_*), the BA (UA). */
  crmParentCode?: string;
  code: string;
  description?: string;
  externalRef1?: string;
  externalRef2?: string;
  name?: NameDto;
  address?: AddressDto;
  contactInformation?: ContactInformationDto;
  jobTitle?: string;
  vatNo?: string;
  registrationNo?: string;
  /** TradingLanguage code: "ESP", "CAT", … (CA and BA). */
  language?: string;
  /** TradingCurrency code: "EUR" (CA). */
  currency?: string;
  /** TradingCountry code of the billing account: "SP", "ES_CN" (BA). */
  country?: string;
  customerCategory?: string;
  customerBrand?: string;
  /** Deprecated; overrides crmParentCode as the customer's seller for C-topped types. */
  seller?: string;
  billingCycle?: string;
  electronicBilling?: boolean;
  /** Invoice e-mail of the billing account (BA only). */
  email?: string;
  /** "manual" / "auto" / "batch", case-insensitive. */
  mailingType?: string;
  emailTemplate?: string;
  /** null: unchanged (what the original sends with a single contract email). */
  ccedEmails?: string | null;
  /** `paymentMethods` in Java; the JSON key is `methodOfPayment`. */
  methodOfPayment?: PaymentMethodDto[];
  caStatus?: 'ACTIVE' | 'CLOSE';
  baStatus?: 'ACTIVE' | 'CANCELED' | 'TERMINATED' | 'CLOSED';
  uaStatus?: 'ACTIVE' | 'CANCELED' | 'TERMINATED' | 'CLOSED';
  subscriptionDate?: OcDateIn;
  terminationDate?: OcDateIn;
  terminationReason?: string;
  nextInvoiceDate?: OcDateIn;
  customFields?: CustomFieldsDto;
}

/** POST/PUT /billing/subscription, POST /billing/subscription/createOrUpdate (SubscriptionDto). */
export interface SubscriptionDto {
  code: string;
  updatedCode?: string;
  description?: string;
  /** UserAccount code; required on create. */
  userAccount?: string;
  /** OfferTemplate code; required on create. */
  offerTemplate?: string;
  /** Defaults to now on create; REQUIRED on update. */
  subscriptionDate?: OcDateIn;
  endAgreementDate?: OcDateIn;
  terminationDate?: OcDateIn;
  terminationReason?: string;
  seller?: string;
  billingCycle?: string;
  customFields?: CustomFieldsDto;
  renewed?: boolean;
  electronicBilling?: boolean;
  email?: string;
  mailingType?: string;
  emailTemplate?: string;
  ccedEmails?: string;
  orderNumber?: string;
}

export interface ServiceToActivateDto {
  /** ServiceTemplate code (= Odoo product default_code). */
  code: string;
  quantity: number | string;
  subscriptionDate: OcDateIn;
  description?: string;
  overrideCode?: string;
  rateUntilDate?: OcDateIn;
  subscribedTillDate?: OcDateIn;
  customFields?: CustomFieldsDto;
}

/** POST /billing/subscription/activateServices. */
export interface ActivateServicesRequestDto {
  subscription: string;
  servicesToActivate: { service: ServiceToActivateDto[] };
  subscriptionValidityDate?: OcDateIn;
  orderNumber?: string;
}

/** POST /billing/subscription/terminate. */
export interface TerminateSubscriptionRequestDto {
  subscriptionCode: string;
  /** SubscriptionTerminationReason code, e.g. "CC_TERMINATION". */
  terminationReason: string;
  terminationDate: OcDateIn;
  subscriptionValidityDate?: OcDateIn;
}

/** POST /billing/subscription/terminateServices. */
export interface TerminateSubscriptionServicesRequestDto {
  subscriptionCode: string;
  terminationReason: string;
  terminationDate: OcDateIn;
  services?: string[];
  serviceIds?: number[];
  subscriptionValidityDate?: OcDateIn;
  orderNumber?: string;
}

/** POST /billing/subscription/applyOneShotChargeInstance. */
export interface ApplyOneShotChargeInstanceRequestDto {
  /** OneShotChargeTemplate code. */
  oneShotCharge: string;
  /** Subscription code. */
  subscription: string;
  operationDate?: OcDateIn;
  quantity?: number | string;
  description?: string;
  amountWithoutTax?: number | string;
  amountWithTax?: number | string;
  criteria1?: string;
  criteria2?: string;
  criteria3?: string;
  wallet?: string;
  createWallet?: boolean;
  subscriptionValidityDate?: OcDateIn;
  customFields?: CustomFieldsDto;
  productCode?: string;
}

/** POST /account/access (AccessDto). */
export interface AccessDto {
  /** The access user id: phone number / MSISDN. */
  code: string;
  /** Subscription code. */
  subscription: string;
  startDate?: OcDateIn;
  endDate?: OcDateIn;
  disabled?: boolean;
  subscriptionValidityDate?: OcDateIn;
  customFields?: CustomFieldsDto;
}

/** POST .../list bodies (PagingAndFiltering). */
export interface PagingAndFilteringDto {
  fullTextFilter?: string;
  filters?: Record<string, unknown>;
  fields?: string;
  offset?: number;
  limit?: number;
  sortBy?: string;
  sortOrder?: 'ASCENDING' | 'DESCENDING';
  multiSortOrder?: string;
  loadReferenceDepth?: number;
}
