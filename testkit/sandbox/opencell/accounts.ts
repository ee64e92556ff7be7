import { cfOut, mergeCustomFields, q, qBool, success, type Ctx } from './context';
import { alreadyExists, business, generic, invalid, meveo, missing, notFound, requireFields } from './errors';
import { applyPaging, pagingFrom, type FieldMap } from './filters';
import { CRMAccountHierarchySchema, CustomerSchema, parseObject } from './schemas';
import type {
  AccountRec,
  BillingAccountRec,
  CustomerAccountRec,
  CustomerRec,
  Json,
  PaymentMethodRec,
  UserAccountRec,
} from './state';
import { compact } from './util';

type Dto = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const blank = (v: unknown): boolean => v === undefined || (typeof v === 'string' && v.trim() === '');

// ------------------------------------------------------------------------------------------------ common fields

const SIMPLE_FIELDS = [
  'description',
  'externalRef1',
  'externalRef2',
  'jobTitle',
  'vatNo',
  'registrationNo',
] as const;

/** Missing-parameter checks shared by every account level. */
function commonMissing(dto: Dto): string[] {
  const name = dto.name as Dto | undefined;
  return name && !blank(name.title) && blank(name.lastName) ? ['name.lastName'] : [];
}

/** Referenced codes of the common fields (Title, address Country). */
function checkCommonRefs(ctx: Ctx, dto: Dto): void {
  const title = str((dto.name as Dto | undefined)?.title);
  if (title && !ctx.state.index.has('Title', title)) throw notFound('Title', title);
  for (const addr of [dto.address, (dto.contactInformation as Dto | undefined)?.address] as Array<
    Dto | undefined
  >) {
    const country = str(addr?.country);
    if (country && !ctx.state.index.country(country)) throw notFound('Country', country);
  }
}

/** absent/null ⇒ unchanged, "" ⇒ cleared (AccountEntityApi.updateAccount). */
function mergeParts(
  existing: Record<string, string> | undefined,
  incoming: Dto | undefined,
): Record<string, string> | undefined {
  if (!incoming) return existing;
  const out: Record<string, string> = { ...(existing ?? {}) };
  for (const [k, v] of Object.entries(incoming)) {
    if (typeof v !== 'string') continue;
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

function applyCommon(target: AccountRec, dto: Dto): void {
  for (const f of SIMPLE_FIELDS) {
    const v = dto[f];
    if (typeof v !== 'string') continue;
    if (v === '') delete target[f];
    else target[f] = v;
  }
  target.name = mergeParts(target.name, dto.name as Dto | undefined);
  target.address = mergeParts(target.address, dto.address as Dto | undefined);
  const ci = dto.contactInformation as Dto | undefined;
  if (ci) {
    // contactInformation, when present, overwrites email/phone/mobile/fax.
    const next: Record<string, string> = {};
    for (const k of ['email', 'phone', 'mobile', 'fax'])
      if (typeof ci[k] === 'string' && ci[k] !== '') next[k] = ci[k] as string;
    target.contactInformation = Object.keys(next).length ? next : undefined;
  }
}

// ------------------------------------------------------------------------------------------------ payment methods

const BANK_LIMITS: Record<string, number> = {
  bankCode: 5,
  branchCode: 5,
  accountNumber: 11,
  key: 2,
  iban: 100,
  bic: 100,
  accountOwner: 50,
  bankName: 50,
  bankId: 50,
  issuerNumber: 50,
  issuerName: 50,
  ics: 35,
};

/** PaymentMethodApi.validate: plain runtime exceptions → 500 GENERIC_API_EXCEPTION; entity sizes → 400. */
function validatePaymentMethods(list: Dto[]): void {
  for (const pm of list) {
    if (blank(pm.paymentMethodType)) throw generic('Missing payment method type');
    if (pm.paymentMethodType !== 'DIRECTDEBIT') continue;
    const bc = pm.bankCoordinates as Dto | undefined;
    if (!bc && blank(pm.mandateIdentification))
      throw generic('Missing Bank coordinates or MandateIdentification.');
    if (bc) {
      if (blank(bc.accountOwner)) throw generic('Missing account owner.');
      if (blank(bc.iban)) throw generic('Missing IBAN.');
      const bad = Object.entries(BANK_LIMITS)
        .filter(([k, max]) => typeof bc[k] === 'string' && (bc[k] as string).length > max)
        .map(
          ([k, max]) =>
            `BankCoordinates.${k}: value '${bc[k] as string}' - size must be between 0 and ${max}`,
        );
      if (bad.length) throw invalid(`Invalid values passed: ${bad.join('; ')}`);
    } else {
      if (blank(pm.mandateIdentification)) throw generic('Missing mandate identification.');
      if (pm.mandateDate === undefined) throw generic('Missing mandate date.');
    }
  }
}

function samePaymentMethod(a: PaymentMethodRec, b: Dto): boolean {
  if (a.paymentMethodType !== b.paymentMethodType) return false;
  if (a.paymentMethodType !== 'DIRECTDEBIT') return true;
  if (b.id !== undefined) return a.id === b.id;
  if (!blank(b.mandateIdentification)) return a.mandateIdentification === b.mandateIdentification;
  const x = a.bankCoordinates ?? {};
  const y = (b.bankCoordinates as Record<string, string> | undefined) ?? {};
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  return [...keys].every((k) => (x[k] ?? '') === (y[k] ?? ''));
}

/** 10.x+ merge: nothing deleted; the first requested method becomes preferred; matches updated in place. */
function mergePaymentMethods(
  ctx: Ctx,
  existing: PaymentMethodRec[],
  incoming: Dto[],
  caCode: string,
): PaymentMethodRec[] {
  const out = existing.map((pm) => ({ ...pm, preferred: false }));
  incoming.forEach((dto, i) => {
    const match = out.find((pm) => samePaymentMethod(pm, dto));
    const fields: Partial<PaymentMethodRec> = compact({
      alias: str(dto.alias),
      bankCoordinates: dto.bankCoordinates as Record<string, string> | undefined,
      mandateIdentification: str(dto.mandateIdentification),
      mandateDate: dto.mandateDate as number | undefined,
      disabled: dto.disabled as boolean | undefined,
    });
    if (match) {
      Object.assign(match, fields);
      if (i === 0) match.preferred = true;
    } else {
      out.push({
        ...(compact({ ...dto }) as Partial<PaymentMethodRec>),
        ...fields,
        id: ctx.state.nextId(),
        paymentMethodType: String(dto.paymentMethodType),
        disabled: dto.disabled === true,
        preferred: i === 0,
        customerAccountCode: caCode,
      });
    }
  });
  return out;
}

// ------------------------------------------------------------------------------------------------ output

const BALANCES = {
  balance: 0,
  totalInvoiceBalance: 0,
  accountBalance: 0,
  creditBalance: 0,
  totalBalance: 0,
  totalBalanceExigible: 0,
};

export function outCustomerAccount(ctx: Ctx, rec: CustomerAccountRec, includeBAs = false): Json {
  return compact({
    ...rec,
    customFields: cfOut(rec.customFields),
    ...BALANCES,
    excludedFromPayment: false,
    isCompany: false,
    billingAccounts: includeBAs
      ? { billingAccount: ctx.state.billingAccountsOf(rec.code).map((ba) => outBillingAccount(ctx, ba)) }
      : undefined,
  });
}

export function outCustomer(ctx: Ctx, rec: CustomerRec, includeCAs: boolean): Json {
  return compact({
    ...rec,
    customFields: cfOut(rec.customFields),
    isCompany: false,
    customerAccounts: includeCAs
      ? { customerAccount: ctx.state.customerAccountsOf(rec.code).map((ca) => outCustomerAccount(ctx, ca)) }
      : undefined,
  });
}

export function outBillingAccount(ctx: Ctx, rec: BillingAccountRec, includeUAs = false): Json {
  return compact({
    ...rec,
    customFields: cfOut(rec.customFields),
    isCompany: false,
    userAccounts: includeUAs
      ? { userAccount: ctx.state.userAccountsOf(rec.code).map((ua) => outUserAccount(ctx, ua)) }
      : undefined,
  });
}

export function outUserAccount(ctx: Ctx, rec: UserAccountRec): Json {
  const ba = ctx.state.billingAccounts.get(rec.billingAccount);
  const ca = ba && ctx.state.customerAccounts.get(ba.customerAccount);
  const { wallet: _wallet, ...rest } = rec;
  return compact({
    ...rest,
    customFields: cfOut(rec.customFields),
    billingAccountDescription: ba?.description,
    customerAccount: ca?.code,
    customerAccountDescription: ca?.description,
    customer: ca?.customer,
    isCompany: false,
  });
}

// ------------------------------------------------------------------------------------------------ Customer API

function checkCustomerRefs(ctx: Ctx, dto: Dto, seller: string | undefined): void {
  const idx = ctx.state.index;
  if (seller && !idx.has('Seller', seller)) throw notFound('Seller', seller);
  const category = str(dto.customerCategory);
  if (category && !idx.has('CustomerCategory', category)) throw notFound('CustomerCategory', category);
  const brand = str(dto.customerBrand);
  if (brand && !idx.has('CustomerBrand', brand)) throw notFound('CustomerBrand', brand);
  checkCommonRefs(ctx, dto);
}

function newCustomer(
  ctx: Ctx,
  dto: Dto,
  code: string,
  seller: string | undefined,
  cfMode: 'strict' | 'filter',
): CustomerRec {
  const rec: CustomerRec = {
    id: ctx.state.nextId(),
    code,
    seller,
    customerCategory: String(dto.customerCategory),
    customerBrand: str(dto.customerBrand),
    mandateIdentification: str(dto.mandateIdentification),
    mandateDate: dto.mandateDate as number | undefined,
  };
  applyCommon(rec, dto);
  rec.customFields = mergeCustomFields(ctx, 'Customer', undefined, dto.customFields, cfMode);
  return compact(rec);
}

function updateCustomerRec(
  ctx: Ctx,
  rec: CustomerRec,
  dto: Dto,
  seller: string | undefined,
  cfMode: 'strict' | 'filter',
): () => void {
  checkCustomerRefs(ctx, dto, seller);
  const cfs = mergeCustomFields(ctx, 'Customer', rec.customFields, dto.customFields, cfMode);
  return () => {
    applyCommon(rec, dto);
    if (seller) rec.seller = seller;
    if (str(dto.customerCategory)) rec.customerCategory = String(dto.customerCategory);
    if (dto.customerBrand !== undefined) rec.customerBrand = str(dto.customerBrand) || undefined;
    rec.customFields = cfs;
  };
}

export function createCustomer(ctx: Ctx): unknown {
  const dto = parseObject(CustomerSchema, ctx.body);
  const m = [
    ...(blank(dto.code) ? ['code'] : []),
    ...(blank(dto.customerCategory) ? ['customerCategory'] : []),
    ...commonMissing(dto),
  ];
  if (m.length) throw missing(m);
  const code = String(dto.code);
  if (ctx.state.customers.has(code)) throw alreadyExists('Customer', code);
  checkCustomerRefs(ctx, dto, str(dto.seller));
  const rec = newCustomer(ctx, dto, code, str(dto.seller), 'strict');
  ctx.state.customers.set(code, rec);
  return success({ message: '', entityId: rec.id, entityCode: code });
}

export function updateCustomer(ctx: Ctx): unknown {
  const dto = parseObject(CustomerSchema, ctx.body);
  const m = [...(blank(dto.code) ? ['code'] : []), ...commonMissing(dto)];
  if (m.length) throw missing(m);
  const rec = ctx.state.customers.get(String(dto.code));
  if (!rec) throw notFound('Customer', String(dto.code));
  updateCustomerRec(ctx, rec, dto, str(dto.seller), 'strict')();
  return success({ message: '', entityId: rec.id, entityCode: rec.code });
}

export function createOrUpdateCustomer(ctx: Ctx): unknown {
  const dto = parseObject(CustomerSchema, ctx.body);
  return !blank(dto.code) && ctx.state.customers.has(String(dto.code))
    ? updateCustomer(ctx)
    : createCustomer(ctx);
}

export function getCustomer(ctx: Ctx): unknown {
  const code = ctx.params[0] ?? q(ctx, 'customerCode');
  if (!code) throw missing(['customerCode']);
  const rec = ctx.state.customers.get(code);
  if (!rec) throw notFound('Customer', code);
  return { actionStatus: success(), customer: outCustomer(ctx, rec, qBool(ctx, 'includeCustomerAccounts')) };
}

/**
 * GET /account/customer/category/{code}: GetCustomerCategoryResponseDto, `{actionStatus, customerCategory}`
 * (CustomerRsImpl.findCategory → CustomerApi.findCategory: an unknown code is a 404 EntityDoesNotExists).
 */
export function getCustomerCategory(ctx: Ctx): unknown {
  const code = ctx.params[0] === undefined ? undefined : decodeURIComponent(ctx.params[0]);
  if (!code) throw missing(['customerCategoryCode']);
  const cat = ctx.state.index.get<{ code: string; description?: string }>('CustomerCategory', code);
  if (!cat) throw notFound('CustomerCategory', code);
  return {
    actionStatus: success(),
    customerCategory: compact({ code: cat.code, description: cat.description, exoneratedFromTaxes: false }),
  };
}

const CUSTOMER_FIELDS: FieldMap<CustomerRec> = {
  id: { type: 'number', get: (c) => c.id },
  code: { type: 'string', get: (c) => c.code },
  description: { type: 'string', get: (c) => c.description },
  seller: { type: 'string', get: (c) => c.seller },
  'seller.code': { type: 'string', get: (c) => c.seller },
  customerCategory: { type: 'string', get: (c) => c.customerCategory },
  'customerCategory.code': { type: 'string', get: (c) => c.customerCategory },
};

/** GET|POST /account/customer/list → `{actionStatus, paging, customers:{customer:[…], totalNumberOfRecords}}`. */
export function listCustomers(method: 'GET' | 'POST') {
  return (ctx: Ctx): unknown => {
    const req = pagingFrom(ctx, method);
    const { page, total, paging } = applyPaging(
      ctx.state.customers.values(),
      req,
      CUSTOMER_FIELDS,
      method === 'GET' ? 'code' : 'id',
    );
    return {
      actionStatus: success(),
      paging,
      customers: { customer: page.map((c) => outCustomer(ctx, c, false)), totalNumberOfRecords: total },
    };
  };
}

export function getCustomerAccount(ctx: Ctx): unknown {
  const code = ctx.params[0] ?? q(ctx, 'customerAccountCode');
  if (!code) throw missing(['customerAccountCode']);
  const rec = ctx.state.customerAccounts.get(code);
  if (!rec) throw notFound('CustomerAccount', code);
  return {
    actionStatus: success(),
    customerAccount: outCustomerAccount(ctx, rec, qBool(ctx, 'includeBillingAccounts')),
  };
}

export function listCustomerAccounts(ctx: Ctx): unknown {
  const code = q(ctx, 'customerCode');
  if (!code) throw missing(['customerCode']);
  if (!ctx.state.customers.has(code)) throw notFound('Customer', code);
  return {
    actionStatus: success(),
    customerAccounts: {
      customerAccount: ctx.state.customerAccountsOf(code).map((ca) => outCustomerAccount(ctx, ca)),
    },
  };
}

export function getBillingAccount(ctx: Ctx): unknown {
  const code = ctx.params[0] ?? q(ctx, 'billingAccountCode');
  if (!code) throw missing(['billingAccountCode']);
  const rec = ctx.state.billingAccounts.get(code);
  if (!rec) throw notFound('BillingAccount', code);
  // 11.x quirk: GetBillingAccountResponseDto extends BillingAccountDto, so defaulted members leak to the top level.
  return {
    actionStatus: success(),
    billingAccount: outBillingAccount(ctx, rec, qBool(ctx, 'includeUserAccounts')),
    invoices: [],
    userAccounts: { userAccount: [] },
    isCompany: false,
    tags: [],
  };
}

export function listBillingAccounts(ctx: Ctx): unknown {
  const code = q(ctx, 'customerAccountCode');
  if (!code) throw missing(['customerAccountCode']);
  if (!ctx.state.customerAccounts.has(code)) throw notFound('CustomerAccount', code);
  return {
    actionStatus: success(),
    billingAccounts: {
      billingAccount: ctx.state.billingAccountsOf(code).map((ba) => outBillingAccount(ctx, ba)),
    },
  };
}

export function getUserAccount(ctx: Ctx): unknown {
  const code = ctx.params[0] ?? q(ctx, 'userAccountCode');
  if (!code) throw missing(['userAccountCode']);
  const rec = ctx.state.userAccounts.get(code);
  if (!rec) throw notFound('UserAccount', code);
  return { actionStatus: success(), userAccount: outUserAccount(ctx, rec) };
}

export function listUserAccounts(ctx: Ctx): unknown {
  const code = q(ctx, 'billingAccountCode');
  if (!code) throw missing(['billingAccountCode']);
  if (!ctx.state.billingAccounts.has(code)) throw notFound('BillingAccount', code);
  return {
    actionStatus: success(),
    userAccounts: { userAccount: ctx.state.userAccountsOf(code).map((ua) => outUserAccount(ctx, ua)) },
  };
}

// ------------------------------------------------------------------------------------------------ CRM hierarchy

const UA = 0;
const BA = 1;
const CA = 2;
const C = 3;
const CRM_TYPES: Record<string, [number, number]> = {
  C: [C, C],
  C_CA: [CA, C],
  C_BA: [BA, C],
  C_UA: [UA, C],
  CA: [CA, CA],
  CA_BA: [BA, CA],
  CA_UA: [UA, CA],
  BA: [BA, BA],
  BA_UA: [UA, BA],
  UA: [UA, UA],
};
const SELLER_TYPES = new Set(['S', 'S_C', 'S_CA', 'S_BA', 'S_UA']);
const MAILING_TYPES = new Set(['manual', 'auto', 'batch']);

function levelExists(ctx: Ctx, level: number, code: string): boolean {
  const s = ctx.state;
  return [s.userAccounts, s.billingAccounts, s.customerAccounts, s.customers][level]!.has(code);
}

type Commit = () => void;

function createLevel(
  ctx: Ctx,
  level: number,
  dto: Dto,
  code: string,
  parent: string | undefined,
  isTop: boolean,
): Commit {
  const s = ctx.state;
  const idx = s.index;
  switch (level) {
    case C: {
      const m = [...(blank(dto.customerCategory) ? ['customerCategory'] : []), ...commonMissing(dto)];
      if (m.length) throw missing(m);
      if (s.customers.has(code)) throw alreadyExists('Customer', code);
      checkCustomerRefs(ctx, dto, parent);
      const rec = newCustomer(ctx, dto, code, parent, 'filter');
      return () => s.customers.set(code, rec);
    }
    case CA: {
      const m = [
        ...(blank(parent) ? ['customer'] : []),
        ...(blank(dto.currency) ? ['currency'] : []),
        ...(blank(dto.language) ? ['language'] : []),
        ...commonMissing(dto),
      ];
      if (m.length) throw missing(m);
      const methods = (dto.methodOfPayment as Dto[] | undefined) ?? [];
      validatePaymentMethods(methods);
      if (s.customerAccounts.has(code)) throw alreadyExists('CustomerAccount', code);
      if (isTop && !s.customers.has(parent!)) throw notFound('Customer', parent!);
      if (!idx.has('TradingCurrency', String(dto.currency)))
        throw notFound('TradingCurrency', String(dto.currency));
      if (!idx.has('TradingLanguage', String(dto.language)))
        throw notFound('TradingLanguage', String(dto.language));
      const credit = str(dto.creditCategory);
      if (credit && !idx.has('CreditCategory', credit)) throw notFound('CreditCategory', credit);
      checkCommonRefs(ctx, dto);
      const rec: CustomerAccountRec = {
        id: s.nextId(),
        code,
        customer: parent!,
        currency: String(dto.currency),
        language: String(dto.language),
        status: str(dto.caStatus) ?? 'ACTIVE',
        creditCategory: credit,
        methodOfPayment: [],
      };
      applyCommon(rec, dto);
      const requested = methods.length ? methods : [{ paymentMethodType: 'CHECK' }];
      rec.methodOfPayment = mergePaymentMethods(ctx, [], requested, code);
      rec.customFields = mergeCustomFields(ctx, 'CustomerAccount', undefined, dto.customFields, 'filter');
      return () => {
        s.customerAccounts.set(code, compact(rec));
        s.link('customerAccounts', rec.customer, code);
      };
    }
    case BA: {
      const m = [
        ...(blank(parent) ? ['customerAccount'] : []),
        ...(blank(dto.billingCycle) ? ['billingCycle'] : []),
        ...(blank(dto.country) ? ['country'] : []),
        ...(blank(dto.language) ? ['language'] : []),
        ...(dto.electronicBilling === true && blank(dto.email) ? ['email'] : []),
        ...(dto.electronicBilling === true && !blank(dto.mailingType) && blank(dto.emailTemplate)
          ? ['emailTemplate']
          : []),
        ...commonMissing(dto),
      ];
      if (m.length) throw missing(m);
      const mailingType = str(dto.mailingType);
      if (mailingType && !MAILING_TYPES.has(mailingType.toLowerCase())) {
        throw invalid(`Invalid value '${mailingType}' for field mailingType`);
      }
      if (s.billingAccounts.has(code)) throw alreadyExists('BillingAccount', code);
      if (isTop && !s.customerAccounts.has(parent!)) throw notFound('CustomerAccount', parent!);
      checkBaRefs(ctx, dto);
      const rec: BillingAccountRec = {
        id: s.nextId(),
        code,
        customerAccount: parent!,
        billingCycle: String(dto.billingCycle),
        country: String(dto.country),
        language: String(dto.language),
        electronicBilling: dto.electronicBilling === true,
        email: str(dto.email),
        mailingType: mailingType ? mailingTypeName(mailingType) : undefined,
        emailTemplate: str(dto.emailTemplate),
        ccedEmails: str(dto.ccedEmails) || undefined,
        status: str(dto.baStatus) ?? 'ACTIVE',
        subscriptionDate: (dto.subscriptionDate as number | undefined) ?? ctx.now,
        nextInvoiceDate: dto.nextInvoiceDate as number | undefined,
      };
      applyCommon(rec, dto);
      rec.customFields = mergeCustomFields(ctx, 'BillingAccount', undefined, dto.customFields, 'filter');
      return () => {
        s.billingAccounts.set(code, compact(rec));
        s.link('billingAccounts', rec.customerAccount, code);
      };
    }
    default: {
      if (blank(parent)) throw missing(['billingAccount']);
      const m = commonMissing(dto);
      if (m.length) throw missing(m);
      if (isTop && !s.billingAccounts.has(parent!)) throw notFound('BillingAccount', parent!);
      // UserAccountService.createUserAccount: a BusinessException, not ENTITY_ALREADY_EXISTS.
      if (s.userAccounts.has(code)) throw business(`account already exist code=${code}`);
      checkCommonRefs(ctx, dto);
      const rec: UserAccountRec = {
        id: s.nextId(),
        code,
        billingAccount: parent!,
        status: str(dto.uaStatus) ?? 'ACTIVE',
        subscriptionDate: (dto.subscriptionDate as number | undefined) ?? ctx.now,
        wallet: 'PRINCIPAL',
      };
      applyCommon(rec, dto);
      rec.customFields = mergeCustomFields(ctx, 'UserAccount', undefined, dto.customFields, 'filter');
      return () => {
        s.userAccounts.set(code, compact(rec));
        s.link('userAccounts', rec.billingAccount, code);
      };
    }
  }
}

function mailingTypeName(v: string): string {
  const l = v.toLowerCase();
  return l.charAt(0).toUpperCase() + l.slice(1);
}

function checkBaRefs(ctx: Ctx, dto: Dto): void {
  const idx = ctx.state.index;
  const pairs: Array<[string, unknown]> = [
    ['BillingCycle', dto.billingCycle],
    ['TradingCountry', dto.country],
    ['TradingLanguage', dto.language],
    ['EmailTemplate', dto.emailTemplate],
  ];
  for (const [kind, v] of pairs) if (!blank(v) && !idx.has(kind, String(v))) throw notFound(kind, String(v));
  checkCommonRefs(ctx, dto);
}

function updateLevel(
  ctx: Ctx,
  level: number,
  dto: Dto,
  code: string,
  parent: string | undefined,
  isTop: boolean,
): Commit {
  const s = ctx.state;
  const idx = s.index;
  const m = commonMissing(dto);
  if (m.length) throw missing(m);
  switch (level) {
    case C: {
      const rec = s.customers.get(code);
      if (!rec) throw notFound('Customer', code);
      return updateCustomerRec(ctx, rec, dto, parent, 'filter');
    }
    case CA: {
      const rec = s.customerAccounts.get(code);
      if (!rec) throw notFound('CustomerAccount', code);
      if (isTop && parent && parent !== rec.customer) {
        throw invalid(
          `Can not change the parent account. Customer account's current parent account (customer) is ${rec.customer}`,
        );
      }
      for (const [kind, v] of [
        ['TradingCurrency', dto.currency],
        ['TradingLanguage', dto.language],
        ['CreditCategory', dto.creditCategory],
      ] as Array<[string, unknown]>) {
        if (!blank(v) && !idx.has(kind, String(v))) throw notFound(kind, String(v));
      }
      checkCommonRefs(ctx, dto);
      const methods = dto.methodOfPayment as Dto[] | undefined;
      if (methods) validatePaymentMethods(methods);
      const cfs = mergeCustomFields(ctx, 'CustomerAccount', rec.customFields, dto.customFields, 'filter');
      return () => {
        applyCommon(rec, dto);
        if (!blank(dto.currency)) rec.currency = String(dto.currency);
        if (!blank(dto.language)) rec.language = String(dto.language);
        if (!blank(dto.creditCategory)) rec.creditCategory = String(dto.creditCategory);
        if (!blank(dto.caStatus)) rec.status = String(dto.caStatus);
        if (methods && methods.length)
          rec.methodOfPayment = mergePaymentMethods(ctx, rec.methodOfPayment, methods, rec.code);
        rec.customFields = cfs;
      };
    }
    case BA: {
      const rec = s.billingAccounts.get(code);
      if (!rec) throw notFound('BillingAccount', code);
      const mailingType = str(dto.mailingType);
      if (mailingType && !MAILING_TYPES.has(mailingType.toLowerCase())) {
        throw invalid(`Invalid value '${mailingType}' for field mailingType`);
      }
      const electronicBilling =
        typeof dto.electronicBilling === 'boolean' ? dto.electronicBilling : rec.electronicBilling;
      const email = dto.email === undefined ? rec.email : str(dto.email) || undefined;
      if (electronicBilling && !email) throw missing(['email']);
      checkBaRefs(ctx, dto);
      const cfs = mergeCustomFields(ctx, 'BillingAccount', rec.customFields, dto.customFields, 'filter');
      return () => {
        applyCommon(rec, dto);
        if (!blank(dto.billingCycle)) rec.billingCycle = String(dto.billingCycle);
        if (!blank(dto.country)) rec.country = String(dto.country);
        if (!blank(dto.language)) rec.language = String(dto.language);
        rec.electronicBilling = electronicBilling;
        rec.email = email;
        if (mailingType) rec.mailingType = mailingTypeName(mailingType);
        if (dto.emailTemplate !== undefined) rec.emailTemplate = str(dto.emailTemplate) || undefined;
        if (dto.ccedEmails !== undefined) rec.ccedEmails = str(dto.ccedEmails) || undefined;
        if (!blank(dto.baStatus)) rec.status = String(dto.baStatus);
        if (dto.nextInvoiceDate !== undefined) rec.nextInvoiceDate = dto.nextInvoiceDate as number;
        rec.customFields = cfs;
      };
    }
    default: {
      const rec = s.userAccounts.get(code);
      if (!rec) throw notFound('UserAccount', code);
      checkCommonRefs(ctx, dto);
      const cfs = mergeCustomFields(ctx, 'UserAccount', rec.customFields, dto.customFields, 'filter');
      return () => {
        applyCommon(rec, dto);
        if (!blank(dto.uaStatus)) rec.status = String(dto.uaStatus);
        rec.customFields = cfs;
      };
    }
  }
}

/**
 * create / update / createOrUpdate CRMAccountHierarchy. Every level of the type gets the same code; only the top
 * level uses crmParentCode; createOrUpdate decides by the top level alone; the call is atomic (all levels are
 * validated before anything is stored).
 */
export function crmAccountHierarchy(mode: 'create' | 'update' | 'createOrUpdate') {
  return (ctx: Ctx): unknown => {
    const dto = parseObject(CRMAccountHierarchySchema, ctx.body);
    const type = str(dto.crmAccountType);
    if (blank(type)) throw missing(['crmAccountType']);
    if (SELLER_TYPES.has(type!))
      throw business(`sandbox: crmAccountType ${type} (seller level) is not supported`);
    const range = CRM_TYPES[type!];
    if (!range) throw meveo('Account type does not match any BAM or AccountHierarchyTypeEnum');
    requireFields({ code: dto.code });
    const code = String(dto.code);
    const [low, high] = range;
    const create = mode === 'create' || (mode === 'createOrUpdate' && !levelExists(ctx, high, code));
    const commits: Commit[] = [];
    for (let level = high; level >= low; level--) {
      const isTop = level === high;
      const parent = isTop
        ? level === C
          ? (str(dto.seller) ?? str(dto.crmParentCode))
          : str(dto.crmParentCode)
        : code;
      commits.push(
        create
          ? createLevel(ctx, level, dto, code, parent, isTop)
          : updateLevel(ctx, level, dto, code, parent, isTop),
      );
    }
    for (const commit of commits) commit();
    return mode === 'createOrUpdate' ? success() : { status: 'SUCCESS' };
  };
}
