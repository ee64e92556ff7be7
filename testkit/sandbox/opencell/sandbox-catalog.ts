import { readFileSync } from 'node:fs';
import defaultCatalogJson from './catalog.json';

/**
 * The sandbox's reference data: everything OpenCell looks up by code (its seed data).
 * `catalog.json` holds the SomConnexió seed; extend it (or pass another file to `loadCatalog`) to add products:
 * a new Odoo product needs a `serviceTemplates` (recurring) or `oneShotChargeTemplates` entry whose `code` is the
 * product's default_code, and — for a service — its code in the offer's `services`.
 */
export interface CodeEntry {
  code: string;
  description?: string;
}

export interface TaxEntry extends CodeEntry {
  percent: number;
  accountingCode?: string;
}

export interface TradingCountryEntry extends CodeEntry {
  /** Tax applied to invoices of billing accounts in this country, instead of the sub-category's. */
  taxCode?: string;
}

export interface InvoiceSubCategoryEntry extends CodeEntry {
  /** Invoice category code. */
  category: string;
  accountingCode: string;
  taxCode: string;
}

export interface ServiceTemplateEntry extends CodeEntry {
  /** Monthly recurring price without tax, per unit. */
  monthlyPrice: number;
  invoiceSubCategory: string;
  disabled?: boolean;
}

export interface OfferServiceEntry {
  code: string;
  mandatory?: boolean;
  incompatibleServices?: string[];
}

export interface OfferTemplateEntry extends CodeEntry {
  name?: string;
  disabled?: boolean;
  /** "yyyy-MM-dd"; the offer is only valid (findable) from/until these dates. */
  validFrom?: string;
  validTo?: string;
  lifeCycleStatus?: string;
  /** Allowed sellers; empty = any. */
  sellers?: string[];
  services: OfferServiceEntry[];
}

export interface OneShotChargeTemplateEntry extends CodeEntry {
  type: 'SUBSCRIPTION' | 'TERMINATION' | 'OTHER';
  /** Default unit price without tax (the API may override it). */
  price: number;
  invoiceSubCategory: string;
  amountEditable?: boolean;
  disabled?: boolean;
}

export interface TerminationReasonEntry extends CodeEntry {
  applyAgreement?: boolean;
  invoiceAgreementImmediately?: boolean;
  applyReimbursment?: boolean;
  applyTerminationCharges?: boolean;
}

export interface CustomFieldTemplateEntry {
  code: string;
  fieldType: 'STRING' | 'LONG' | 'DOUBLE' | 'BOOLEAN' | 'DATE';
  maxLength?: number;
}

export interface SandboxCatalog {
  sellers: CodeEntry[];
  customerCategories: CodeEntry[];
  customerBrands: CodeEntry[];
  tradingCurrencies: CodeEntry[];
  tradingLanguages: CodeEntry[];
  tradingCountries: TradingCountryEntry[];
  /** Countries of addresses, matched on code or (case-insensitive) description. */
  countries: CodeEntry[];
  titles: CodeEntry[];
  billingCycles: CodeEntry[];
  emailTemplates: CodeEntry[];
  creditCategories: CodeEntry[];
  terminationReasons: TerminationReasonEntry[];
  invoiceTypes: CodeEntry[];
  walletTemplates: CodeEntry[];
  taxes: TaxEntry[];
  invoiceCategories: CodeEntry[];
  invoiceSubCategories: InvoiceSubCategoryEntry[];
  serviceTemplates: ServiceTemplateEntry[];
  offerTemplates: OfferTemplateEntry[];
  oneShotChargeTemplates: OneShotChargeTemplateEntry[];
  /** CF templates per entity class (Customer, CustomerAccount, BillingAccount, UserAccount, Subscription, Access). */
  customFieldTemplates: Record<string, CustomFieldTemplateEntry[]>;
  invoicing: {
    /** Invoice numbers: `${numberPrefix}${yyyy}-${seq padded to 7}`. */
    numberPrefix: string;
    dueDateDelayDays: number;
  };
}

/** The seed shipped with the sandbox (SomConnexió's offers, services and one-shots). */
export function defaultCatalog(): SandboxCatalog {
  return structuredClone(defaultCatalogJson as SandboxCatalog);
}

/** Reads a catalog file; missing sections fall back to the default seed's. */
export function loadCatalog(file?: string): SandboxCatalog {
  if (!file) return defaultCatalog();
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<SandboxCatalog>;
  return { ...defaultCatalog(), ...parsed };
}

/** Fast code lookups over a catalog. */
export class CatalogIndex {
  readonly byKind: Map<string, Map<string, CodeEntry>> = new Map();
  constructor(readonly catalog: SandboxCatalog) {
    const kinds: Array<[string, CodeEntry[]]> = [
      ['Seller', catalog.sellers],
      ['CustomerCategory', catalog.customerCategories],
      ['CustomerBrand', catalog.customerBrands],
      ['TradingCurrency', catalog.tradingCurrencies],
      ['TradingLanguage', catalog.tradingLanguages],
      ['TradingCountry', catalog.tradingCountries],
      ['Title', catalog.titles],
      ['BillingCycle', catalog.billingCycles],
      ['EmailTemplate', catalog.emailTemplates],
      ['CreditCategory', catalog.creditCategories],
      ['SubscriptionTerminationReason', catalog.terminationReasons],
      ['InvoiceType', catalog.invoiceTypes],
      ['WalletTemplate', catalog.walletTemplates],
      ['Tax', catalog.taxes],
      ['InvoiceCategory', catalog.invoiceCategories],
      ['InvoiceSubCategory', catalog.invoiceSubCategories],
      ['ServiceTemplate', catalog.serviceTemplates],
      ['OfferTemplate', catalog.offerTemplates],
      ['OneShotChargeTemplate', catalog.oneShotChargeTemplates],
    ];
    for (const [kind, list] of kinds) this.byKind.set(kind, new Map((list ?? []).map((e) => [e.code, e])));
  }

  get<T extends CodeEntry = CodeEntry>(kind: string, code: string): T | undefined {
    return this.byKind.get(kind)?.get(code) as T | undefined;
  }

  has(kind: string, code: string): boolean {
    return this.byKind.get(kind)?.has(code) ?? false;
  }

  country(codeOrName: string): CodeEntry | undefined {
    const lower = codeOrName.toLowerCase();
    return this.catalog.countries.find(
      (c) => c.code === codeOrName || c.description?.toLowerCase() === lower,
    );
  }

  customFieldTemplates(entity: string): CustomFieldTemplateEntry[] | undefined {
    return this.catalog.customFieldTemplates[entity];
  }
}
