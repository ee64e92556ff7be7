/**
 * The request bodies OpenCell accepts, field by field, as its Jackson provider reads them:
 * field-based DTOs, unknown properties rejected with 400 INVALID_PARAMETER. The operation catalogue
 * (operations.ts) names the schema of each call; the OpenCell sandbox (testkit/) parses requests with them, so the
 * client's payloads and the sandbox's parser share one description. Data only (the parser lives in the sandbox).
 */
export type FieldSpec =
  | 'string'
  | 'number'
  | 'int'
  | 'long'
  | 'boolean'
  | 'date'
  | 'any'
  | { enum: readonly string[]; javaType: string }
  | { obj: Schema }
  | { arr: FieldSpec }
  | { map: true };

export interface Schema {
  /** Fully-qualified Java class, used in Jackson-style messages. */
  cls: string;
  fields: Record<string, FieldSpec>;
  /** Names whitelisted by @JsonIgnoreProperties: accepted and dropped. */
  ignored?: readonly string[];
}

// ------------------------------------------------------------------------------------------------ DTO schemas

const pkg = 'org.meveo.api.dto';
const S = 'string' as const;
const D = 'date' as const;
const B = 'boolean' as const;
const N = 'number' as const;

export const NameSchema: Schema = {
  cls: `${pkg}.account.NameDto`,
  fields: { title: S, firstName: S, lastName: S },
};
export const AddressSchema: Schema = {
  cls: `${pkg}.account.AddressDto`,
  fields: {
    address1: S,
    address2: S,
    address3: S,
    address4: S,
    address5: S,
    zipCode: S,
    city: S,
    country: S,
    state: S,
  },
};
export const ContactInformationSchema: Schema = {
  cls: `${pkg}.account.ContactInformationDto`,
  fields: { email: S, phone: S, mobile: S, fax: S, address: { obj: AddressSchema } },
};
export const CustomFieldSchema: Schema = {
  cls: `${pkg}.CustomFieldDto`,
  fields: {
    code: S,
    description: S,
    fieldType: S,
    stringValue: S,
    longValue: 'long',
    doubleValue: N,
    booleanValue: B,
    dateValue: D,
    value: { arr: 'any' },
    mapValue: { map: true },
    entityReferenceValue: { obj: { cls: `${pkg}.EntityReferenceDto`, fields: { classname: S, code: S } } },
    fileValue: 'any',
    valueDate: D,
    valuePeriodStartDate: D,
    valuePeriodEndDate: D,
    valuePeriodPriority: 'int',
    formattedValue: 'any',
  },
};
export const CustomFieldsSchema: Schema = {
  cls: `${pkg}.CustomFieldsDto`,
  fields: {
    customField: { arr: { obj: CustomFieldSchema } },
    inheritedCustomField: { arr: { obj: CustomFieldSchema } },
  },
};
export const BankCoordinatesSchema: Schema = {
  cls: `${pkg}.payment.BankCoordinatesDto`,
  fields: {
    bankCode: S,
    branchCode: S,
    accountNumber: S,
    key: S,
    iban: S,
    bic: S,
    accountOwner: S,
    bankName: S,
    bankId: S,
    issuerNumber: S,
    issuerName: S,
    ics: S,
  },
};
export const PAYMENT_METHOD_TYPES = [
  'CHECK',
  'DIRECTDEBIT',
  'WIRETRANSFER',
  'CARD',
  'PAYPAL',
  'STRIPE',
  'CASH',
] as const;
export const PaymentMethodSchema: Schema = {
  cls: `${pkg}.payment.PaymentMethodDto`,
  fields: {
    id: 'long',
    paymentMethodType: { enum: PAYMENT_METHOD_TYPES, javaType: 'org.meveo.model.payments.PaymentMethodEnum' },
    disabled: B,
    alias: S,
    preferred: B,
    customerAccountCode: S,
    info1: S,
    info2: S,
    info3: S,
    info4: S,
    info5: S,
    bankCoordinates: { obj: BankCoordinatesSchema },
    mandateIdentification: S,
    mandateDate: D,
    cardType: {
      enum: ['VISA', 'MASTERCARD', 'AMERICAN_EXPRESS', 'CB'],
      javaType: 'org.meveo.model.payments.CreditCardTypeEnum',
    },
    owner: S,
    monthExpiration: 'int',
    yearExpiration: 'int',
    tokenId: S,
    cardNumber: S,
    issueNumber: S,
    userId: S,
    email: S,
    referenceDocumentCode: S,
    customFields: { obj: CustomFieldsSchema },
  },
};

const ACCOUNT_STATUS = {
  enum: ['ACTIVE', 'CANCELED', 'TERMINATED', 'CLOSED'],
  javaType: 'org.meveo.model.billing.AccountStatusEnum',
} as const;
const CHECK_THRESHOLD = {
  enum: ['BEFORE_DISCOUNT', 'AFTER_DISCOUNT', 'POSITIVE_RT', 'POSITIVE_IL'],
  javaType: 'org.meveo.model.billing.ThresholdOptionsEnum',
} as const;

const accountFields: Record<string, FieldSpec> = {
  code: S,
  description: S,
  updatedCode: S,
  externalRef1: S,
  externalRef2: S,
  name: { obj: NameSchema },
  address: { obj: AddressSchema },
  contactInformation: { obj: ContactInformationSchema },
  jobTitle: S,
  vatNo: S,
  registrationNo: S,
  customFields: { obj: CustomFieldsSchema },
  businessAccountModel: 'any',
  minimumAmountEl: S,
  minimumLabelEl: S,
  minimumTargetAccount: S,
  minimumChargeTemplate: S,
  isCompany: B,
  legalEntityType: 'any',
};

export const CRMAccountHierarchySchema: Schema = {
  cls: `${pkg}.account.CRMAccountHierarchyDto`,
  fields: {
    ...accountFields,
    crmAccountType: S,
    crmParentCode: S,
    language: S,
    currency: S,
    country: S,
    customerCategory: S,
    customerBrand: S,
    seller: S,
    billingCycle: S,
    electronicBilling: B,
    email: S,
    mailingType: S,
    emailTemplate: S,
    ccedEmails: S,
    methodOfPayment: { arr: { obj: PaymentMethodSchema } },
    mandateIdentification: S,
    mandateDate: D,
    caStatus: { enum: ['ACTIVE', 'CLOSE'], javaType: 'org.meveo.model.payments.CustomerAccountStatusEnum' },
    creditCategory: S,
    dateStatus: D,
    dateDunningLevel: D,
    dunningLevel: {
      enum: ['R0', 'R1', 'R2', 'R3', 'R4', 'R5', 'R6'],
      javaType: 'org.meveo.model.payments.DunningLevelEnum',
    },
    baStatus: ACCOUNT_STATUS,
    uaStatus: ACCOUNT_STATUS,
    subscriptionDate: D,
    terminationDate: D,
    terminationReason: S,
    nextInvoiceDate: D,
    invoicingThreshold: N,
    customerInvoicingThreshold: N,
    customerAccountInvoicingThreshold: N,
    checkThreshold: CHECK_THRESHOLD,
    customerCheckThreshold: CHECK_THRESHOLD,
    customerAccountCheckThreshold: CHECK_THRESHOLD,
    thresholdPerEntity: B,
    customerThresholdPerEntity: B,
    customerAccountThresholdPerEntity: B,
    discountPlanForInstantiation: { arr: 'any' },
    discountPlanForTermination: { arr: S },
    taxCategoryCode: S,
  },
};

export const CustomerSchema: Schema = {
  cls: `${pkg}.account.CustomerDto`,
  fields: {
    ...accountFields,
    customerCategory: S,
    customerBrand: S,
    seller: S,
    mandateIdentification: S,
    mandateDate: D,
    customerAccounts: 'any',
    additionalDetails: 'any',
    invoicingThreshold: N,
    checkThreshold: CHECK_THRESHOLD,
    thresholdPerEntity: B,
    infoGdpr: 'any',
    anonymizationDate: D,
  },
};

export const SubscriptionSchema: Schema = {
  cls: `${pkg}.billing.SubscriptionDto`,
  fields: {
    id: 'long',
    code: S,
    updatedCode: S,
    description: S,
    userAccount: S,
    offerTemplate: S,
    subscriptionDate: D,
    endAgreementDate: D,
    terminationDate: D,
    terminationReason: S,
    status: {
      enum: ['CREATED', 'ACTIVE', 'SUSPENDED', 'RESILIATED', 'CANCELED', 'CLOSED'],
      javaType: 'org.meveo.model.billing.SubscriptionStatusEnum',
    },
    statusDate: D,
    seller: S,
    billingCycle: S,
    customFields: { obj: CustomFieldsSchema },
    renewalRule: 'any',
    renewed: B,
    autoEndOfEngagement: B,
    subscribedTillDate: D,
    renewalNotifiedDate: D,
    electronicBilling: B,
    email: S,
    mailingType: S,
    emailTemplate: S,
    ccedEmails: S,
    orderNumber: S,
    ratingGroup: S,
    minimumAmountEl: S,
    minimumLabelEl: S,
    minimumChargeTemplate: S,
    validityDate: D,
    versionNumber: 'int',
    paymentMethod: 'any',
    accesses: 'any',
    services: 'any',
    products: 'any',
    productInstances: 'any',
    discountPlanForInstantiation: { arr: 'any' },
    discountPlanForTermination: { arr: S },
    discountPlanInstance: { arr: 'any' },
    customerService: S,
    auditableField: 'any',
  },
};

const ServiceToActivateSchema: Schema = {
  cls: `${pkg}.billing.ServiceToActivateDto`,
  fields: {
    code: S,
    quantity: N,
    subscriptionDate: D,
    description: S,
    overrideCode: S,
    rateUntilDate: D,
    chargeInstanceOverrides: 'any',
    customFields: { obj: CustomFieldsSchema },
    amountPS: N,
    calendarPSCode: S,
    paymentDayInMonthPS: 'int',
    minimumAmountEl: S,
    minimumLabelEl: S,
    minimumChargeTemplate: S,
    subscribedTillDate: D,
    serviceRenewal: 'any',
  },
};
export const ActivateServicesSchema: Schema = {
  cls: `${pkg}.billing.ActivateServicesRequestDto`,
  fields: {
    subscription: S,
    subscriptionValidityDate: D,
    servicesToActivate: {
      obj: {
        cls: `${pkg}.billing.ServicesToActivateDto`,
        fields: { service: { arr: { obj: ServiceToActivateSchema } } },
      },
    },
  },
  ignored: ['orderNumber', 'orderItemId', 'orderItemAction'],
};
export const InstantiateServicesSchema: Schema = {
  cls: `${pkg}.billing.InstantiateServicesRequestDto`,
  fields: {
    subscription: S,
    subscriptionValidityDate: D,
    orderNumber: S,
    servicesToInstantiate: {
      obj: {
        cls: `${pkg}.billing.ServicesToInstantiateDto`,
        fields: { service: { arr: { obj: ServiceToActivateSchema } } },
      },
    },
  },
};

export const TerminateSubscriptionSchema: Schema = {
  cls: `${pkg}.billing.TerminateSubscriptionRequestDto`,
  fields: { subscriptionCode: S, terminationReason: S, terminationDate: D, subscriptionValidityDate: D },
  ignored: ['orderItemId', 'orderItemAction'],
};
export const TerminateServicesSchema: Schema = {
  cls: `${pkg}.billing.TerminateSubscriptionServicesRequestDto`,
  fields: {
    subscriptionCode: S,
    terminationReason: S,
    terminationDate: D,
    services: { arr: S },
    serviceIds: { arr: 'long' },
    subscriptionValidityDate: D,
    orderNumber: S,
  },
};
export const ApplyOneShotSchema: Schema = {
  cls: `${pkg}.account.ApplyOneShotChargeInstanceRequestDto`,
  fields: {
    oneShotCharge: S,
    subscription: S,
    wallet: S,
    createWallet: B,
    operationDate: D,
    quantity: N,
    description: S,
    amountWithoutTax: N,
    amountWithTax: N,
    criteria1: S,
    criteria2: S,
    criteria3: S,
    subscriptionValidityDate: D,
    customFields: { obj: CustomFieldsSchema },
    productCode: S,
  },
};
export const AccessSchema: Schema = {
  cls: `${pkg}.account.AccessDto`,
  fields: {
    code: S,
    subscription: S,
    subscriptionValidityDate: D,
    startDate: D,
    endDate: D,
    disabled: B,
    customFields: { obj: CustomFieldsSchema },
  },
};
export const PagingSchema: Schema = {
  cls: `${pkg}.response.PagingAndFiltering`,
  fields: {
    fullTextFilter: S,
    filters: { map: true },
    fields: S,
    offset: 'int',
    limit: 'int',
    sortBy: S,
    sortOrder: {
      enum: ['ASCENDING', 'DESCENDING'],
      javaType: 'org.meveo.api.dto.response.PagingAndFiltering$SortOrder',
    },
    multiSortOrder: S,
    totalNumberOfRecords: 'int',
    loadReferenceDepth: 'int',
  },
};
/** API v2 generic search body (org.meveo.apiv2.generic.GenericPagingAndFiltering). */
export const GenericPagingSchema: Schema = {
  cls: 'org.meveo.apiv2.generic.ImmutableGenericPagingAndFiltering',
  fields: {
    genericFields: { arr: S },
    nestedEntities: { arr: S },
    nestedDepth: 'long',
    fullTextFilter: S,
    filters: { map: true },
    total: 'long',
    limit: 'long',
    offset: 'long',
    sortBy: S,
    sortOrder: S,
  },
};
export const FetchPdfSchema: Schema = {
  cls: `${pkg}.invoice.GetPdfInvoiceRequestDto`,
  fields: { id: 'long', invoiceNumber: S, invoiceType: S, generatePdf: B },
};
