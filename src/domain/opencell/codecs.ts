import * as t from 'io-ts';

/**
 * io-ts codecs for the OpenCell responses the integration reads. They are tolerant where OpenCell is loose
 * (a property may be missing, null or an empty list; extra properties are kept) and strict where the
 * integration depends on a value (codes, statuses, amounts, epoch-ms dates).
 */

/** Optional member: absent, null, or the given type. */
const opt = <C extends t.Mixed>(c: C) => t.union([c, t.null]);
const OcDate = t.number; // epoch milliseconds on output

export const ActionStatus = t.intersection([
  t.type({ status: t.keyof({ SUCCESS: null, FAIL: null, WARNING: null }) }),
  t.partial({
    errorCode: opt(t.string),
    message: opt(t.string),
    entityId: opt(t.number),
    entityCode: opt(t.string),
    nrAffected: opt(t.number),
  }),
]);
export type ActionStatus = t.TypeOf<typeof ActionStatus>;

export const Paging = t.partial({
  offset: opt(t.number),
  limit: opt(t.number),
  totalNumberOfRecords: opt(t.number),
  sortBy: opt(t.string),
  sortOrder: opt(t.string),
  filters: opt(t.UnknownRecord),
});
export type Paging = t.TypeOf<typeof Paging>;

const Name = t.partial({ title: opt(t.string), firstName: opt(t.string), lastName: opt(t.string) });
const Address = t.partial({
  address1: opt(t.string),
  address2: opt(t.string),
  address3: opt(t.string),
  zipCode: opt(t.string),
  city: opt(t.string),
  country: opt(t.string),
  state: opt(t.string),
});
const ContactInformation = t.partial({
  email: opt(t.string),
  phone: opt(t.string),
  mobile: opt(t.string),
  fax: opt(t.string),
  address: opt(Address),
});
export const CustomFieldValue = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    stringValue: opt(t.string),
    longValue: opt(t.number),
    doubleValue: opt(t.number),
    booleanValue: opt(t.boolean),
    dateValue: opt(t.union([t.number, t.string])),
  }),
]);
const CustomFields = t.partial({ customField: opt(t.array(CustomFieldValue)) });

const BankCoordinates = t.partial({
  iban: opt(t.string),
  bic: opt(t.string),
  accountOwner: opt(t.string),
  bankName: opt(t.string),
});
export const PaymentMethod = t.intersection([
  t.type({ paymentMethodType: t.string }),
  t.partial({
    id: opt(t.number),
    disabled: opt(t.boolean),
    preferred: opt(t.boolean),
    alias: opt(t.string),
    customerAccountCode: opt(t.string),
    mandateIdentification: opt(t.string),
    mandateDate: opt(OcDate),
    bankCoordinates: opt(BankCoordinates),
  }),
]);
export type PaymentMethod = t.TypeOf<typeof PaymentMethod>;

const AccountCommon = {
  id: opt(t.number),
  description: opt(t.string),
  externalRef1: opt(t.string),
  externalRef2: opt(t.string),
  name: opt(Name),
  address: opt(Address),
  contactInformation: opt(ContactInformation),
  vatNo: opt(t.string),
  registrationNo: opt(t.string),
  jobTitle: opt(t.string),
  customFields: opt(CustomFields),
};

export const CustomerAccount = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    ...AccountCommon,
    customer: opt(t.string),
    currency: opt(t.string),
    language: opt(t.string),
    status: opt(t.string),
    methodOfPayment: opt(t.array(PaymentMethod)),
    balance: opt(t.number),
  }),
]);
export type CustomerAccount = t.TypeOf<typeof CustomerAccount>;

export const Customer = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    ...AccountCommon,
    seller: opt(t.string),
    customerCategory: opt(t.string),
    customerBrand: opt(t.string),
    customerAccounts: opt(t.partial({ customerAccount: opt(t.array(CustomerAccount)) })),
  }),
]);
export type Customer = t.TypeOf<typeof Customer>;
export const GetCustomerResponse = t.type({ actionStatus: ActionStatus, customer: Customer });

/** CustomerCategoryDto (GET /account/customer/category/{code}): the client only needs to know it exists. */
export const CustomerCategory = t.intersection([
  t.type({ code: t.string }),
  t.partial({ description: opt(t.string) }),
]);
export type CustomerCategory = t.TypeOf<typeof CustomerCategory>;
export const GetCustomerCategoryResponse = t.type({
  actionStatus: ActionStatus,
  customerCategory: CustomerCategory,
});

export const BillingAccount = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    ...AccountCommon,
    customerAccount: opt(t.string),
    billingCycle: opt(t.string),
    country: opt(t.string),
    language: opt(t.string),
    email: opt(t.string),
    electronicBilling: opt(t.boolean),
    ccedEmails: opt(t.string),
    mailingType: opt(t.string),
    emailTemplate: opt(t.string),
    status: opt(t.string),
  }),
]);
export type BillingAccount = t.TypeOf<typeof BillingAccount>;
export const GetBillingAccountResponse = t.type({
  actionStatus: ActionStatus,
  billingAccount: BillingAccount,
});

export const UserAccount = t.intersection([
  t.type({ code: t.string }),
  t.partial({ ...AccountCommon, billingAccount: opt(t.string), status: opt(t.string) }),
]);
export type UserAccount = t.TypeOf<typeof UserAccount>;
export const GetUserAccountResponse = t.type({ actionStatus: ActionStatus, userAccount: UserAccount });
export const GetCustomerAccountResponse = t.type({
  actionStatus: ActionStatus,
  customerAccount: CustomerAccount,
});

export const ServiceInstance = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    id: opt(t.number),
    description: opt(t.string),
    status: opt(t.string),
    statusDate: opt(OcDate),
    quantity: opt(t.number),
    subscriptionDate: opt(OcDate),
    terminationDate: opt(OcDate),
    terminationReason: opt(t.string),
  }),
]);
export type ServiceInstance = t.TypeOf<typeof ServiceInstance>;

export const Access = t.intersection([
  t.type({ code: t.string, subscription: t.string }),
  t.partial({
    startDate: opt(OcDate),
    endDate: opt(OcDate),
    disabled: opt(t.boolean),
    customFields: opt(CustomFields),
  }),
]);
export type Access = t.TypeOf<typeof Access>;

export const Subscription = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    id: opt(t.number),
    description: opt(t.string),
    userAccount: opt(t.string),
    offerTemplate: opt(t.string),
    status: opt(t.string),
    statusDate: opt(OcDate),
    subscriptionDate: opt(OcDate),
    endAgreementDate: opt(OcDate),
    terminationDate: opt(OcDate),
    terminationReason: opt(t.string),
    subscribedTillDate: opt(OcDate),
    seller: opt(t.string),
    billingCycle: opt(t.string),
    renewed: opt(t.boolean),
    customFields: opt(CustomFields),
    accesses: opt(t.partial({ access: opt(t.array(Access)) })),
    services: opt(t.partial({ serviceInstance: opt(t.array(ServiceInstance)) })),
  }),
]);
export type Subscription = t.TypeOf<typeof Subscription>;
export const GetSubscriptionResponse = t.type({ actionStatus: ActionStatus, subscription: Subscription });
export const SubscriptionListResponse = t.intersection([
  t.type({ actionStatus: ActionStatus }),
  t.partial({
    paging: opt(Paging),
    subscriptions: opt(t.partial({ listSize: opt(t.number), subscription: opt(t.array(Subscription)) })),
  }),
]);

/** One applied one-shot charge (`OneShotChargeInstanceDto`, as listed for a subscription). */
export const OneShotChargeInstance = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    id: opt(t.number),
    description: opt(t.string),
    operationDate: opt(t.union([t.string, t.number])),
    quantity: opt(t.number),
    amountWithoutTax: opt(t.number),
    status: opt(t.string),
  }),
]);
export type OneShotChargeInstance = t.TypeOf<typeof OneShotChargeInstance>;

/** GET /billing/subscription/listOneshotChargeOthers?subscriptionCode=… */
export const OneShotChargeInstancesResponse = t.intersection([
  t.type({ actionStatus: ActionStatus }),
  t.partial({ oneshotChargeInstances: opt(t.array(OneShotChargeInstance)) }),
]);

export const GetAccessResponse = t.type({ actionStatus: ActionStatus, access: Access });
export const AccessListResponse = t.intersection([
  t.type({ actionStatus: ActionStatus }),
  t.partial({ accesses: opt(t.partial({ access: opt(t.array(Access)) })) }),
]);

export const ServiceTemplate = t.intersection([
  t.type({ code: t.string }),
  t.partial({ id: opt(t.number), description: opt(t.string), disabled: opt(t.boolean) }),
]);
export type ServiceTemplate = t.TypeOf<typeof ServiceTemplate>;

export const OfferTemplate = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    id: opt(t.number),
    description: opt(t.string),
    name: opt(t.string),
    disabled: opt(t.boolean),
    validFrom: opt(OcDate),
    validTo: opt(OcDate),
    lifeCycleStatus: opt(t.string),
    offerServiceTemplate: opt(
      t.array(
        t.intersection([
          t.type({ serviceTemplate: ServiceTemplate }),
          t.partial({ mandatory: opt(t.boolean), incompatibleServices: opt(t.array(ServiceTemplate)) }),
        ]),
      ),
    ),
    seller: opt(t.array(t.string)),
  }),
]);
export type OfferTemplate = t.TypeOf<typeof OfferTemplate>;
/** 11.x+ flattens the offer next to actionStatus; ≤10.x wraps it in `offerTemplate`. Both are accepted. */
export const GetOfferTemplateResponse = t.intersection([
  t.type({ actionStatus: ActionStatus }),
  t.partial({ offerTemplate: opt(OfferTemplate), code: opt(t.string) }),
]);
/** Decodes a GET /catalog/offerTemplate body of either shape straight to the offer. */
export const OfferTemplateRead = new t.Type<OfferTemplate, unknown, unknown>(
  'GetOfferTemplateResponse',
  OfferTemplate.is,
  (u, c) => {
    if (u === null || typeof u !== 'object' || Array.isArray(u)) return t.failure(u, c, 'expected an object');
    const wrapped = (u as { offerTemplate?: unknown }).offerTemplate;
    return OfferTemplate.validate(wrapped !== undefined && wrapped !== null ? wrapped : u, c);
  },
  t.identity,
);
export const OfferTemplateListResponse = t.intersection([
  t.type({ actionStatus: ActionStatus }),
  t.partial({ paging: opt(Paging), offerTemplate: opt(t.array(OfferTemplate)) }),
]);
export const GetServiceTemplateResponse = t.type({
  actionStatus: ActionStatus,
  serviceTemplate: ServiceTemplate,
});
export const ServiceTemplateListResponse = t.intersection([
  t.type({ actionStatus: ActionStatus }),
  t.partial({ paging: opt(Paging), listServiceTemplate: opt(t.array(ServiceTemplate)) }),
]);

export const OneShotChargeTemplate = t.intersection([
  t.type({ code: t.string }),
  t.partial({
    id: opt(t.number),
    description: opt(t.string),
    disabled: opt(t.boolean),
    oneShotChargeTemplateType: opt(t.string),
    invoiceSubCategory: opt(t.string),
    amountEditable: opt(t.boolean),
  }),
]);
export type OneShotChargeTemplate = t.TypeOf<typeof OneShotChargeTemplate>;
export const GetOneShotChargeTemplateResponse = t.type({
  actionStatus: ActionStatus,
  oneShotChargeTemplate: OneShotChargeTemplate,
});
export const OneShotChargeTemplateListResponse = t.intersection([
  t.type({ actionStatus: ActionStatus }),
  t.partial({
    paging: opt(Paging),
    oneShotChargeTemplates: opt(t.partial({ oneShotChargeTemplates: opt(t.array(OneShotChargeTemplate)) })),
  }),
]);

const Amounts = {
  amountWithoutTax: t.number,
  amountTax: t.number,
  amountWithTax: t.number,
};
export const Tax = t.intersection([
  t.type({ code: t.string }),
  t.partial({ description: opt(t.string), percent: opt(t.number) }),
]);
export const RatedTransaction = t.intersection([
  t.type({ code: t.string, ...Amounts }),
  t.partial({
    description: opt(t.string),
    unitAmountWithoutTax: opt(t.number),
    quantity: opt(t.number),
    usageDate: opt(OcDate),
    startDate: opt(OcDate),
    endDate: opt(OcDate),
    userAccountCode: opt(t.string),
    subscriptionCode: opt(t.string),
    serviceInstanceCode: opt(t.string),
  }),
]);
export const SubCategoryInvoiceAgregate = t.intersection([
  t.type({ invoiceSubCategoryCode: t.string, ...Amounts }),
  t.partial({
    description: opt(t.string),
    accountingCode: opt(t.string),
    userAccountCode: opt(t.string),
    itemNumber: opt(t.number),
    amountByTax: opt(t.array(t.intersection([t.type(Amounts), t.partial({ tax: opt(Tax) })]))),
    ratedTransaction: opt(t.array(RatedTransaction)),
  }),
]);
export const CategoryInvoiceAgregate = t.intersection([
  t.type({ categoryInvoiceCode: t.string, ...Amounts }),
  t.partial({
    description: opt(t.string),
    userAccountCode: opt(t.string),
    itemNumber: opt(t.number),
    subCategoryInvoiceAgregateDto: opt(t.array(SubCategoryInvoiceAgregate)),
  }),
]);
export const TaxAggregate = t.intersection([
  t.type({ taxCode: t.string, ...Amounts }),
  t.partial({
    taxPercent: opt(t.number),
    description: opt(t.string),
    accountingCode: opt(t.string),
    itemNumber: opt(t.number),
  }),
]);
export const Invoice = t.intersection([
  t.type({ invoiceId: t.number, invoiceDate: OcDate, ...Amounts }),
  t.partial({
    invoiceNumber: opt(t.string),
    invoiceType: opt(t.string),
    billingAccountCode: opt(t.string),
    sellerCode: opt(t.string),
    subscriptionCode: opt(t.string),
    dueDate: opt(OcDate),
    startDate: opt(OcDate),
    endDate: opt(OcDate),
    status: opt(t.string),
    paymentStatus: opt(t.string),
    paymentMethod: opt(t.string),
    netToPay: opt(t.number),
    dueBalance: opt(t.number),
    discountAmount: opt(t.number),
    pdfFilename: opt(t.string),
    /** base64 PDF, only when asked for. */
    pdf: opt(t.string),
    categoryInvoiceAgregate: opt(t.array(CategoryInvoiceAgregate)),
    taxAggregate: opt(t.array(TaxAggregate)),
  }),
]);
export type Invoice = t.TypeOf<typeof Invoice>;
/**
 * API v2 generic list (`POST /v2/generic/all/invoice`, 7.x+): `{total, limit, offset, data}`. An entity reference
 * that is not a nested entity comes as its id (`{"id": 12}`; a bare number is accepted too).
 */
const EntityRef = t.union([t.number, t.type({ id: t.number })]);
export const GenericInvoiceRow = t.intersection([
  t.type({ id: t.number }),
  t.partial({ invoiceNumber: opt(t.string), billingRun: opt(EntityRef) }),
]);
export type GenericInvoiceRow = t.TypeOf<typeof GenericInvoiceRow>;
export const GenericInvoiceList = t.intersection([
  t.partial({ total: opt(t.number), limit: opt(t.number), offset: opt(t.number) }),
  t.type({ data: t.array(GenericInvoiceRow) }),
]);

export const InvoiceListResponse = t.intersection([
  t.type({ actionStatus: ActionStatus }),
  t.partial({ paging: opt(Paging), invoices: opt(t.array(Invoice)) }),
]);
export const GetInvoiceResponse = t.type({ actionStatus: ActionStatus, invoice: Invoice });
