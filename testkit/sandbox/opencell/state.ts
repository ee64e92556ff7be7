import { CatalogIndex, type SandboxCatalog } from './sandbox-catalog';

/** Entity records. Shapes follow the OpenCell read DTOs so that serialization is a compacted copy. */
export type Json = Record<string, unknown>;

export interface CustomFieldRec {
  code: string;
  [k: string]: unknown;
}

export interface AccountRec {
  id: number;
  code: string;
  description?: string;
  externalRef1?: string;
  externalRef2?: string;
  name?: Record<string, string>;
  address?: Record<string, string>;
  contactInformation?: Record<string, string>;
  jobTitle?: string;
  vatNo?: string;
  registrationNo?: string;
  customFields?: CustomFieldRec[];
}

export interface CustomerRec extends AccountRec {
  seller?: string;
  customerCategory: string;
  customerBrand?: string;
  mandateIdentification?: string;
  mandateDate?: number;
}

export interface PaymentMethodRec {
  id: number;
  paymentMethodType: string;
  disabled: boolean;
  preferred: boolean;
  alias?: string;
  customerAccountCode: string;
  bankCoordinates?: Record<string, string>;
  mandateIdentification?: string;
  mandateDate?: number;
  [k: string]: unknown;
}

export interface CustomerAccountRec extends AccountRec {
  customer: string;
  currency: string;
  language: string;
  status: string;
  creditCategory?: string;
  methodOfPayment: PaymentMethodRec[];
}

export interface BillingAccountRec extends AccountRec {
  customerAccount: string;
  billingCycle: string;
  country: string;
  language: string;
  electronicBilling: boolean;
  email?: string;
  mailingType?: string;
  emailTemplate?: string;
  ccedEmails?: string;
  status: string;
  subscriptionDate?: number;
  terminationDate?: number;
  nextInvoiceDate?: number;
}

export interface UserAccountRec extends AccountRec {
  billingAccount: string;
  status: string;
  subscriptionDate?: number;
  terminationDate?: number;
  wallet: string;
}

export interface ServiceInstanceRec {
  id: number;
  code: string;
  description?: string;
  status: 'INACTIVE' | 'ACTIVE' | 'SUSPENDED' | 'TERMINATED' | 'CANCELED' | 'CLOSED';
  statusDate: number;
  quantity: number;
  subscriptionDate: number;
  terminationDate?: number;
  terminationReason?: string;
  /** Recurring charges have been invoiced up to (exclusive) this date. Sandbox-internal. */
  billedUntil?: number;
}

export interface OneShotInstanceRec {
  id: number;
  code: string;
  description?: string;
  operationDate: number;
  quantity: number;
  unitAmountWithoutTax: number;
  amountWithoutTax: number;
  status: 'OPEN' | 'BILLED';
  invoiceId?: number;
}

export interface SubscriptionRec {
  id: number;
  code: string;
  description?: string;
  userAccount: string;
  offerTemplate: string;
  subscriptionDate: number;
  endAgreementDate?: number;
  terminationDate?: number;
  terminationReason?: string;
  subscribedTillDate?: number;
  status: 'CREATED' | 'ACTIVE' | 'SUSPENDED' | 'RESILIATED' | 'CANCELED' | 'CLOSED';
  statusDate: number;
  seller?: string;
  billingCycle?: string;
  renewed: boolean;
  renewalRule?: Json;
  customFields?: CustomFieldRec[];
  services: ServiceInstanceRec[];
  oneShots: OneShotInstanceRec[];
}

export interface AccessRec {
  id: number;
  code: string;
  subscription: string;
  startDate?: number;
  endDate?: number;
  disabled: boolean;
  customFields?: CustomFieldRec[];
}

export interface AmountsRec {
  amountWithoutTax: number;
  amountTax: number;
  amountWithTax: number;
}

export interface RatedTransactionRec extends AmountsRec {
  code: string;
  description: string;
  unitAmountWithoutTax: number;
  quantity: number;
  usageDate: number;
  startDate?: number;
  endDate?: number;
  userAccountCode: string;
  subscriptionCode: string;
  serviceInstanceCode?: string;
}

export interface SubCategoryAggRec extends AmountsRec {
  invoiceSubCategoryCode: string;
  description: string;
  accountingCode: string;
  userAccountCode: string;
  itemNumber: number;
  amountByTax: Array<AmountsRec & { tax: { code: string; description?: string; percent: number } }>;
  ratedTransaction: RatedTransactionRec[];
}

export interface CategoryAggRec extends AmountsRec {
  categoryInvoiceCode: string;
  description: string;
  userAccountCode: string;
  itemNumber: number;
  subCategoryInvoiceAgregateDto: SubCategoryAggRec[];
}

export interface TaxAggRec extends AmountsRec {
  taxCode: string;
  taxPercent: number;
  description?: string;
  accountingCode?: string;
  itemNumber: number;
}

export interface InvoiceRec extends AmountsRec {
  invoiceId: number;
  invoiceNumber: string;
  invoiceType: string;
  billingAccountCode: string;
  sellerCode: string;
  invoiceDate: number;
  dueDate: number;
  startDate?: number;
  endDate?: number;
  status: string;
  statusDate: number;
  paymentStatus: string;
  paymentMethod?: string;
  netToPay: number;
  dueBalance: number;
  categoryInvoiceAgregate: CategoryAggRec[];
  taxAggregate: TaxAggRec[];
  /** Whether the PDF has been produced (else reads answer "no PDF yet"). */
  hasPdf: boolean;
  pdfDate?: number;
  billingRunId: number;
}

/**
 * All sandbox data: the catalog (reference data) and the entities created through the API, with the indexes the
 * handlers need to stay O(1)/O(children) per call.
 */
export class SandboxState {
  catalog!: SandboxCatalog;
  index!: CatalogIndex;
  customers = new Map<string, CustomerRec>();
  customerAccounts = new Map<string, CustomerAccountRec>();
  billingAccounts = new Map<string, BillingAccountRec>();
  userAccounts = new Map<string, UserAccountRec>();
  subscriptions = new Map<string, SubscriptionRec>();
  accessesByCode = new Map<string, AccessRec[]>();
  accessesBySubscription = new Map<string, AccessRec[]>();
  invoices: InvoiceRec[] = [];
  invoicesById = new Map<number, InvoiceRec>();
  invoicesByNumber = new Map<string, InvoiceRec>();
  /** Subscriptions / services with a termination scheduled in the future (handled lazily as the clock passes). */
  scheduled = new Set<string>();
  private seq = 0;
  private invoiceSeq = 0;
  billingRunSeq = 0;
  /**
   * Invoice lists answer without `paging.totalNumberOfRecords` (a setting, kept across reset): the client must page
   * until a short page, not trust a total (docs/operations.md, "Invoice poller").
   */
  omitListTotal = false;

  constructor(catalog: SandboxCatalog) {
    this.reset(catalog);
  }

  reset(catalog: SandboxCatalog = this.catalog): void {
    this.catalog = catalog;
    this.index = new CatalogIndex(catalog);
    this.customers.clear();
    this.customerAccounts.clear();
    this.billingAccounts.clear();
    this.userAccounts.clear();
    this.subscriptions.clear();
    this.accessesByCode.clear();
    this.accessesBySubscription.clear();
    this.invoices = [];
    this.invoicesById.clear();
    this.invoicesByNumber.clear();
    this.scheduled.clear();
    for (const m of Object.values(this.children)) m.clear();
    this.seq = 0;
    this.invoiceSeq = 0;
    this.billingRunSeq = 0;
  }

  nextId(): number {
    return ++this.seq;
  }

  nextInvoiceSeq(): number {
    return ++this.invoiceSeq;
  }

  /** parent code → child codes, per level. */
  readonly children = {
    customerAccounts: new Map<string, string[]>(),
    billingAccounts: new Map<string, string[]>(),
    userAccounts: new Map<string, string[]>(),
    subscriptions: new Map<string, string[]>(),
  };

  link(kind: keyof SandboxState['children'], parent: string, child: string): void {
    push(this.children[kind], parent, child);
  }

  unlink(kind: keyof SandboxState['children'], parent: string, child: string): void {
    pull(this.children[kind], parent, child);
  }

  customerAccountsOf(customer: string): CustomerAccountRec[] {
    return (this.children.customerAccounts.get(customer) ?? [])
      .map((c) => this.customerAccounts.get(c)!)
      .filter(Boolean);
  }
  billingAccountsOf(ca: string): BillingAccountRec[] {
    return (this.children.billingAccounts.get(ca) ?? [])
      .map((c) => this.billingAccounts.get(c)!)
      .filter(Boolean);
  }
  userAccountsOf(ba: string): UserAccountRec[] {
    return (this.children.userAccounts.get(ba) ?? []).map((c) => this.userAccounts.get(c)!).filter(Boolean);
  }
  subscriptionsOf(ua: string): SubscriptionRec[] {
    return (this.children.subscriptions.get(ua) ?? []).map((c) => this.subscriptions.get(c)!).filter(Boolean);
  }

  /** The customer above a user account (UA → BA → CA → Customer). */
  customerOfUserAccount(ua: UserAccountRec): CustomerRec | undefined {
    const ba = this.billingAccounts.get(ua.billingAccount);
    const ca = ba && this.customerAccounts.get(ba.customerAccount);
    return ca && this.customers.get(ca.customer);
  }

  addAccess(a: AccessRec): void {
    push(this.accessesByCode, a.code, a);
    push(this.accessesBySubscription, a.subscription, a);
  }

  removeAccess(a: AccessRec): void {
    pull(this.accessesByCode, a.code, a);
    pull(this.accessesBySubscription, a.subscription, a);
  }

  addInvoice(inv: InvoiceRec): void {
    this.invoices.push(inv);
    this.invoicesById.set(inv.invoiceId, inv);
    this.invoicesByNumber.set(`${inv.invoiceType}|${inv.invoiceNumber}`, inv);
  }

  /** A JSON-friendly dump of every entity (for the admin surface and test assertions). */
  dump(): Json {
    return {
      customers: [...this.customers.values()],
      customerAccounts: [...this.customerAccounts.values()],
      billingAccounts: [...this.billingAccounts.values()],
      userAccounts: [...this.userAccounts.values()],
      subscriptions: [...this.subscriptions.values()],
      accesses: [...this.accessesBySubscription.values()].flat(),
      invoices: {
        count: this.invoices.length,
        numbers: this.invoices.slice(-1000).map((i) => i.invoiceNumber),
      },
    };
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function pull<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (!list) return;
  const i = list.indexOf(v);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) m.delete(k);
}
