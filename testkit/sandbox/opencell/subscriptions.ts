import type { OfferTemplateEntry, OneShotChargeTemplateEntry, ServiceTemplateEntry } from './sandbox-catalog';
import { cfOut, mergeCustomFields, q, success, type Ctx } from './context';
import {
  ApiError,
  alreadyExists,
  business,
  invalid,
  meveo,
  missing,
  missingOne,
  notFound,
  notFoundMsg,
  requireFields,
} from './errors';
import { applyPaging, pagingFrom, type FieldMap } from './filters';
import {
  AccessSchema,
  ActivateServicesSchema,
  ApplyOneShotSchema,
  InstantiateServicesSchema,
  parseObject,
  SubscriptionSchema,
  TerminateServicesSchema,
  TerminateSubscriptionSchema,
} from './schemas';
import type { AccessRec, Json, SandboxState, ServiceInstanceRec, SubscriptionRec } from './state';
import { compact, endOfDay, meveoDateTime, parseOcDate } from './util';

type Dto = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

// ------------------------------------------------------------------------------------------------ output

export function outAccess(a: AccessRec): Json {
  return compact({ ...a, customFields: cfOut(a.customFields) });
}

function outService(si: ServiceInstanceRec): Json {
  const { billedUntil: _b, ...rest } = si;
  return compact(rest);
}

export function outSubscription(ctx: Ctx, rec: SubscriptionRec): Json {
  const { services, oneShots: _o, customFields, ...rest } = rec;
  return compact({
    ...rest,
    customFields: cfOut(customFields),
    accesses: { access: (ctx.state.accessesBySubscription.get(rec.code) ?? []).map(outAccess) },
    services: { serviceInstance: services.map(outService) },
    productInstances: [],
  });
}

// ------------------------------------------------------------------------------------------------ scheduled terminations

/**
 * OpenCell terminates future-dated subscriptions and services from a background job. The sandbox does the same
 * lazily: before each request, everything whose date has passed on the sandbox clock is terminated.
 */
export function processScheduled(state: SandboxState, now: number): void {
  if (state.scheduled.size === 0) return;
  for (const key of [...state.scheduled]) {
    const [kind, code, id] = key.split('|');
    const sub = state.subscriptions.get(code!);
    if (!sub) {
      state.scheduled.delete(key);
      continue;
    }
    if (kind === 'S') {
      if (sub.status === 'RESILIATED') state.scheduled.delete(key);
      else if (sub.subscribedTillDate !== undefined && endOfDay(sub.subscribedTillDate) < now) {
        // like the immediate path, the day counts until 23:59:59
        terminateNow(state, sub, sub.subscribedTillDate, sub.terminationReason ?? 'TR_NONE', now);
        state.scheduled.delete(key);
      }
    } else {
      const si = sub.services.find((s) => String(s.id) === id);
      if (!si || si.status === 'TERMINATED') state.scheduled.delete(key);
      else if (si.terminationDate !== undefined && si.terminationDate <= now) {
        si.status = 'TERMINATED';
        si.statusDate = now;
        state.scheduled.delete(key);
      }
    }
  }
}

function terminateNow(
  state: SandboxState,
  sub: SubscriptionRec,
  date: number,
  reason: string,
  now: number,
): void {
  for (const si of sub.services) {
    if (si.status === 'ACTIVE' || si.status === 'SUSPENDED') {
      si.status = 'TERMINATED';
      si.statusDate = now;
      si.terminationDate = date;
      si.terminationReason = reason;
    }
  }
  sub.status = 'RESILIATED';
  sub.statusDate = now;
  sub.terminationDate = date;
  sub.terminationReason = reason;
  for (const a of state.accessesBySubscription.get(sub.code) ?? []) a.endDate = date;
}

// ------------------------------------------------------------------------------------------------ helpers

function offerValidAt(offer: OfferTemplateEntry, date: number): boolean {
  const from = offer.validFrom ? parseOcDate(offer.validFrom) : undefined;
  const to = offer.validTo ? parseOcDate(offer.validTo) : undefined;
  return (from === undefined || from <= date) && (to === undefined || date < to);
}

function findOffer(ctx: Ctx, code: string, date: number): OfferTemplateEntry {
  const offer = ctx.state.index.get<OfferTemplateEntry>('OfferTemplate', code);
  if (!offer || !offerValidAt(offer, date)) {
    throw notFoundMsg(`OfferTemplate with code=${code} / ${meveoDateTime(date)} does not exists.`);
  }
  return offer;
}

function getSub(ctx: Ctx, code: string): SubscriptionRec {
  const sub = ctx.state.subscriptions.get(code);
  if (!sub) throw notFound('Subscription', code);
  return sub;
}

function scheduleTermination(ctx: Ctx, sub: SubscriptionRec, dto: Dto): void {
  const date = dto.terminationDate as number | undefined;
  const reason = str(dto.terminationReason);
  if (date === undefined || reason === undefined || date <= ctx.now) return;
  if (!ctx.state.index.has('SubscriptionTerminationReason', reason))
    throw notFound('SubscriptionTerminationReason', reason);
  sub.terminationDate = date;
  sub.subscribedTillDate = date;
  sub.terminationReason = reason;
  sub.renewalRule = {
    initialTermType: 'FIXED',
    autoRenew: false,
    endOfTermAction: 'TERMINATE',
    terminationReasonCode: reason,
  };
  ctx.state.scheduled.add(`S|${sub.code}`);
}

// ------------------------------------------------------------------------------------------------ subscription CRUD

export function createSubscription(ctx: Ctx): unknown {
  const dto = parseObject(SubscriptionSchema, ctx.body);
  const m = ['code', 'userAccount', 'offerTemplate'].filter((k) => str(dto[k]) === undefined);
  if (m.length) throw missing(m);
  const code = String(dto.code);
  const s = ctx.state;
  if (s.subscriptions.has(code)) throw alreadyExists('Subscription', code);
  const ua = s.userAccounts.get(String(dto.userAccount));
  if (!ua) throw notFound('UserAccount', String(dto.userAccount));
  const subscriptionDate = (dto.subscriptionDate as number | undefined) ?? ctx.now;
  const offer = findOffer(ctx, String(dto.offerTemplate), subscriptionDate);
  if (offer.disabled) throw meveo('Cannot subscribe to disabled offer');
  const seller = str(dto.seller) ?? s.customerOfUserAccount(ua)?.seller;
  if (str(dto.seller) && !s.index.has('Seller', seller!)) throw notFound('Seller', seller!);
  if (seller && offer.sellers?.length && !offer.sellers.includes(seller)) {
    throw new ApiError(
      'ENTITY_NOT_ALLOWED_EXCEPTION',
      `Seller with code=${seller} not allowed on OfferTemplate`,
    );
  }
  const billingCycle = str(dto.billingCycle);
  if (billingCycle && !s.index.has('BillingCycle', billingCycle))
    throw notFound('BillingCycle', billingCycle);
  const customFields = mergeCustomFields(ctx, 'Subscription', undefined, dto.customFields, 'strict');
  const rec: SubscriptionRec = compact({
    id: s.nextId(),
    code,
    description: str(dto.description),
    userAccount: ua.code,
    offerTemplate: offer.code,
    subscriptionDate,
    endAgreementDate: dto.endAgreementDate as number | undefined,
    status: 'CREATED' as const,
    statusDate: ctx.now,
    seller,
    billingCycle,
    renewed: dto.renewed === true,
    customFields,
    services: [],
    oneShots: [],
  });
  scheduleTermination(ctx, rec, dto);
  s.subscriptions.set(code, rec);
  s.link('subscriptions', ua.code, code);
  return success({ message: '', entityId: rec.id, entityCode: code });
}

export function updateSubscription(ctx: Ctx): unknown {
  const dto = parseObject(SubscriptionSchema, ctx.body);
  const m = ['code', 'subscriptionDate'].filter((k) => dto[k] === undefined || dto[k] === '');
  if (m.length) throw missing(m);
  const sub = getSub(ctx, String(dto.code));
  if (sub.status === 'RESILIATED') throw meveo('Subscription is already RESILIATED.');
  const ua = str(dto.userAccount);
  if (ua && ua !== sub.userAccount) {
    throw invalid(
      `Can not change the parent account. Subscription's current parent account (user account) is ${sub.userAccount}`,
    );
  }
  const offerCode = str(dto.offerTemplate);
  if (offerCode && offerCode !== sub.offerTemplate) {
    if (sub.services.length)
      throw invalid('Cannot change the offer of subscription once the services are instantiated');
    findOffer(ctx, offerCode, dto.subscriptionDate as number);
  }
  const billingCycle = str(dto.billingCycle);
  if (billingCycle && !ctx.state.index.has('BillingCycle', billingCycle))
    throw notFound('BillingCycle', billingCycle);
  const customFields = mergeCustomFields(ctx, 'Subscription', sub.customFields, dto.customFields, 'strict');
  // description and endAgreementDate are overwritten (absent clears them); renewed is reset to the sent value.
  sub.description = str(dto.description);
  sub.endAgreementDate = dto.endAgreementDate as number | undefined;
  sub.subscriptionDate = dto.subscriptionDate as number;
  sub.renewed = dto.renewed === true;
  if (offerCode) sub.offerTemplate = offerCode;
  if (billingCycle) sub.billingCycle = billingCycle;
  sub.customFields = customFields;
  scheduleTermination(ctx, sub, dto);
  return success({ message: '', entityId: sub.id, entityCode: sub.code });
}

export function createOrUpdateSubscription(ctx: Ctx): unknown {
  const dto = parseObject(SubscriptionSchema, ctx.body);
  if (str(dto.code) && ctx.state.subscriptions.has(String(dto.code))) {
    updateSubscription(ctx);
  } else {
    createSubscription(ctx);
  }
  return success();
}

export function getSubscription(ctx: Ctx): unknown {
  const code = q(ctx, 'subscriptionCode');
  if (!code) throw missing(['subscriptionCode']);
  return { actionStatus: success(), subscription: outSubscription(ctx, getSub(ctx, code)) };
}

const SUB_FIELDS: FieldMap<SubscriptionRec> = {
  id: { type: 'number', get: (s) => s.id },
  code: { type: 'string', get: (s) => s.code },
  description: { type: 'string', get: (s) => s.description },
  status: { type: 'string', get: (s) => s.status },
  userAccount: { type: 'string', get: (s) => s.userAccount },
  'userAccount.code': { type: 'string', get: (s) => s.userAccount },
  offer: { type: 'string', get: (s) => s.offerTemplate },
  'offer.code': { type: 'string', get: (s) => s.offerTemplate },
  seller: { type: 'string', get: (s) => s.seller },
  'seller.code': { type: 'string', get: (s) => s.seller },
  subscriptionDate: { type: 'date', get: (s) => s.subscriptionDate },
  terminationDate: { type: 'date', get: (s) => s.terminationDate },
};

export function listSubscriptions(method: 'GET' | 'POST') {
  return (ctx: Ctx): unknown => {
    const req = pagingFrom(ctx, method);
    const ua = method === 'GET' ? q(ctx, 'userAccountCode') : undefined;
    if (ua) req.filters = { 'userAccount.code': ua };
    const { page, paging } = applyPaging(
      ctx.state.subscriptions.values(),
      req,
      SUB_FIELDS,
      method === 'GET' ? 'code' : 'id',
    );
    return compact({
      actionStatus: success(),
      paging,
      subscriptions: page.length
        ? { listSize: page.length, subscription: page.map((s) => outSubscription(ctx, s)) }
        : undefined,
    });
  };
}

/**
 * GET /billing/subscription/findByCustomer?customerCode= (10.x+): every subscription under the customer's user
 * accounts, as `{actionStatus, subscriptions:{listSize, subscription:[…]}}` without a paging block.
 */
export function findSubscriptionsByCustomer(ctx: Ctx): unknown {
  const code = q(ctx, 'customerCode');
  if (!code) throw missing(['customerCode']);
  if (!ctx.state.customers.has(code)) throw notFound('Customer', code);
  const uas = new Set(
    ctx.state
      .customerAccountsOf(code)
      .flatMap((ca) => ctx.state.billingAccountsOf(ca.code))
      .flatMap((ba) => ctx.state.userAccountsOf(ba.code))
      .map((ua) => ua.code),
  );
  const list = [...ctx.state.subscriptions.values()].filter((s) => uas.has(s.userAccount));
  return {
    actionStatus: success(),
    subscriptions: { listSize: list.length, subscription: list.map((s) => outSubscription(ctx, s)) },
  };
}

// ------------------------------------------------------------------------------------------------ services

function activateOrInstantiate(ctx: Ctx, activate: boolean): unknown {
  const dto = parseObject(activate ? ActivateServicesSchema : InstantiateServicesSchema, ctx.body);
  const container = (activate ? dto.servicesToActivate : dto.servicesToInstantiate) as
    { service?: Dto[] } | undefined;
  const services = container?.service ?? [];
  const m = [
    ...(str(dto.subscription) ? [] : ['subscription']),
    ...(services.length ? [] : [activate ? 'servicesToActivate' : 'servicesToInstantiate']),
  ];
  if (m.length) throw missing(m);
  const sub = getSub(ctx, String(dto.subscription));
  if (sub.status === 'RESILIATED' || sub.status === 'CANCELED') {
    throw meveo(`Subscription is already ${sub.status}.`);
  }
  const offer = ctx.state.index.get<OfferTemplateEntry>('OfferTemplate', sub.offerTemplate)!;
  const idx = ctx.state.index;
  // Validate every requested service first: the call is transactional.
  const plan: Array<{ dto: Dto; tpl: ServiceTemplateEntry; existing?: ServiceInstanceRec }> = [];
  for (const s of services) {
    if (!str(s.code)) throw missing(['code']);
    const code = String(s.code);
    if (s.quantity === undefined && activate) throw missingOne(`quantity for service ${code}`);
    if (s.subscriptionDate === undefined && activate) throw missing(['SubscriptionDate']);
    const tpl = idx.get<ServiceTemplateEntry>('ServiceTemplate', code);
    if (!tpl || tpl.disabled)
      throw business(`No service template or valid product version found for code: ${code}`);
    const ost = offer?.services.find((x) => x.code === code);
    if (!ost) throw business(`No offerServiceTemplate corresponds to ${code}`);
    for (const other of services) {
      if (other !== s && ost.incompatibleServices?.includes(String(other.code))) {
        throw meveo(`Services Incompatibility between ${code} and ${String(other.code)}`);
      }
    }
    for (const running of sub.services) {
      if (running.status === 'ACTIVE' && ost.incompatibleServices?.includes(running.code)) {
        throw meveo(`Services Incompatibility between ${code} and ${running.code}`);
      }
    }
    const active = sub.services.find((x) => x.code === code && x.status === 'ACTIVE');
    if (active) throw meveo(`ServiceInstance with code=${code} is already activated.`);
    const inactive = sub.services.find((x) => x.code === code && x.status === 'INACTIVE');
    if (inactive && !activate) throw meveo(`ServiceInstance with code=${code} is already instantiated.`);
    plan.push({ dto: s, tpl, existing: inactive });
  }
  for (const { dto: s, tpl, existing } of plan) {
    const quantity = (s.quantity as number | undefined) ?? 1;
    const date = (s.subscriptionDate as number | undefined) ?? sub.subscriptionDate;
    const si: ServiceInstanceRec = existing ?? {
      id: ctx.state.nextId(),
      code: tpl.code,
      description: str(s.description) ?? tpl.description,
      status: 'INACTIVE',
      statusDate: ctx.now,
      quantity,
      subscriptionDate: date,
    };
    si.quantity = quantity;
    si.subscriptionDate = date;
    if (activate) {
      si.status = 'ACTIVE';
      si.statusDate = ctx.now;
    }
    if (!existing) sub.services.push(si);
  }
  if (activate && sub.status === 'CREATED') {
    sub.status = 'ACTIVE';
    sub.statusDate = ctx.now;
  }
  return success();
}

export const activateServices = (ctx: Ctx): unknown => activateOrInstantiate(ctx, true);
export const instantiateServices = (ctx: Ctx): unknown => activateOrInstantiate(ctx, false);

export function terminateSubscription(ctx: Ctx): unknown {
  const dto = parseObject(TerminateSubscriptionSchema, ctx.body);
  requireFields({
    subscriptionCode: dto.subscriptionCode,
    terminationReason: dto.terminationReason,
    terminationDate: dto.terminationDate,
  });
  const sub = getSub(ctx, String(dto.subscriptionCode));
  const reason = String(dto.terminationReason);
  if (!ctx.state.index.has('SubscriptionTerminationReason', reason))
    throw notFound('SubscriptionTerminationReason', reason);
  if (sub.status === 'RESILIATED') throw meveo('Subscription is already RESILIATED.');
  const date = dto.terminationDate as number;
  if (date < sub.subscriptionDate) throw meveo('Termination date can not be before the subscription date');
  // 10.x+: the date is moved to 23:59:59 of its day; only a day strictly before today terminates at once.
  if (endOfDay(date) < ctx.now) {
    terminateNow(ctx.state, sub, date, reason, ctx.now);
  } else {
    sub.subscribedTillDate = date;
    sub.terminationReason = reason;
    sub.renewalRule = {
      initialTermType: 'FIXED',
      autoRenew: false,
      endOfTermAction: 'TERMINATE',
      terminationReasonCode: reason,
    };
    ctx.state.scheduled.add(`S|${sub.code}`);
  }
  return success();
}

export function terminateServices(ctx: Ctx): unknown {
  const dto = parseObject(TerminateServicesSchema, ctx.body);
  const codes = (dto.services as string[] | undefined) ?? [];
  const ids = (dto.serviceIds as number[] | undefined) ?? [];
  const m = ['subscriptionCode', 'terminationReason', 'terminationDate'].filter(
    (k) => dto[k] === undefined || dto[k] === '',
  );
  if (!codes.length && !ids.length) m.push('services or serviceIds');
  if (m.length) throw missing(m);
  const sub = getSub(ctx, String(dto.subscriptionCode));
  const reason = String(dto.terminationReason);
  if (!ctx.state.index.has('SubscriptionTerminationReason', reason))
    throw notFound('SubscriptionTerminationReason', reason);
  const date = dto.terminationDate as number;
  const running = (si: ServiceInstanceRec) => si.status === 'ACTIVE' || si.status === 'SUSPENDED';
  const targets: ServiceInstanceRec[] = [];
  for (const code of codes) {
    const found = sub.services.filter((si) => si.code === code && running(si));
    if (found.length === 0) {
      throw notFoundMsg(
        `Service instance with code ${code} was not found or is not of status [ACTIVE, SUSPENDED]`,
      );
    }
    if (found.length > 1) {
      throw invalid(
        `More than one service instance with code ${code} was found. Please use ID to select service instance`,
      );
    }
    targets.push(found[0]!);
  }
  for (const id of ids) {
    const si = sub.services.find((x) => x.id === id && running(x));
    if (!si)
      throw notFoundMsg(
        `Service instance with id ${id} was not found or is not of status [ACTIVE, SUSPENDED]`,
      );
    targets.push(si);
  }
  for (const si of targets) {
    si.terminationDate = date;
    si.terminationReason = reason;
    // Services compare the date as sent: at or before now terminates at once.
    if (date <= ctx.now) {
      si.status = 'TERMINATED';
      si.statusDate = ctx.now;
    } else ctx.state.scheduled.add(`I|${sub.code}|${si.id}`);
  }
  return success();
}

export function applyOneShotCharge(ctx: Ctx): unknown {
  const dto = parseObject(ApplyOneShotSchema, ctx.body);
  const m = ['oneShotCharge', 'subscription'].filter((k) => !str(dto[k]));
  if (m.length) throw missing(m);
  const idx = ctx.state.index;
  const tpl = idx.get<OneShotChargeTemplateEntry>('OneShotChargeTemplate', String(dto.oneShotCharge));
  if (!tpl) throw notFound('OneShotChargeTemplate', String(dto.oneShotCharge));
  const sub = getSub(ctx, String(dto.subscription));
  const wallet = str(dto.wallet);
  if (wallet && !idx.has('WalletTemplate', wallet)) throw notFound('WalletTemplate', wallet);
  const product = str(dto.productCode);
  if (product && !sub.services.some((si) => si.code === product && si.status === 'ACTIVE')) {
    throw notFound('ServiceInstance', product);
  }
  const quantity = (dto.quantity as number | undefined) ?? 1;
  let unit = tpl.price;
  if (dto.amountWithoutTax !== undefined) unit = dto.amountWithoutTax as number;
  else if (dto.amountWithTax !== undefined) unit = (dto.amountWithTax as number) / 1.21;
  sub.oneShots.push({
    id: ctx.state.nextId(),
    code: tpl.code,
    description: str(dto.description) ?? tpl.description,
    operationDate: (dto.operationDate as number | undefined) ?? ctx.now,
    quantity,
    unitAmountWithoutTax: unit,
    amountWithoutTax: unit * quantity,
    status: 'OPEN',
  });
  return success();
}

export function listOneshotChargeOthers(ctx: Ctx): unknown {
  const code = q(ctx, 'subscriptionCode');
  if (!code) {
    return {
      actionStatus: success(),
      oneshotCharges: ctx.state.catalog.oneShotChargeTemplates
        .filter((t) => t.type === 'OTHER')
        .map((t) =>
          compact({
            code: t.code,
            description: t.description,
            oneShotChargeTemplateType: t.type,
            amountEditable: t.amountEditable,
          }),
        ),
    };
  }
  const sub = getSub(ctx, code);
  return {
    actionStatus: success(),
    oneshotChargeInstances: sub.oneShots.map((o) =>
      compact({
        id: o.id,
        code: o.code,
        description: o.description,
        operationDate: o.operationDate,
        quantity: o.quantity,
        amountWithoutTax: o.amountWithoutTax,
        status: o.status === 'BILLED' ? 'CLOSED' : 'ACTIVE',
      }),
    ),
  };
}

// ------------------------------------------------------------------------------------------------ access points

const overlaps = (
  a: { startDate?: number; endDate?: number },
  b: { startDate?: number; endDate?: number },
): boolean =>
  (a.startDate ?? -Infinity) < (b.endDate ?? Infinity) &&
  (b.startDate ?? -Infinity) < (a.endDate ?? Infinity);

export function createAccess(ctx: Ctx): unknown {
  const dto = parseObject(AccessSchema, ctx.body);
  const m = ['code', 'subscription'].filter((k) => !str(dto[k]));
  if (m.length) throw missing(m);
  const sub = getSub(ctx, String(dto.subscription));
  const candidate = {
    startDate: dto.startDate as number | undefined,
    endDate: dto.endDate as number | undefined,
  };
  const others = ctx.state.accessesByCode.get(String(dto.code)) ?? [];
  const openEnded = candidate.startDate === undefined && candidate.endDate === undefined;
  if ((openEnded && others.length > 0) || others.some((o) => overlaps(o, candidate))) {
    throw new ApiError(
      'DUPLICATE_ACCESS',
      'Duplicate access point! Access is already linked to a sub within the same period',
    );
  }
  const customFields = mergeCustomFields(ctx, 'Access', undefined, dto.customFields, 'strict');
  const rec: AccessRec = compact({
    id: ctx.state.nextId(),
    code: String(dto.code),
    subscription: sub.code,
    ...candidate,
    disabled: dto.disabled === true,
    customFields,
  });
  ctx.state.addAccess(rec);
  return success({ message: '', entityId: rec.id });
}

function findAccess(
  ctx: Ctx,
  code: string,
  subCode: string,
  at?: { usage?: number; start?: number; end?: number },
): AccessRec {
  getSub(ctx, subCode);
  const list = (ctx.state.accessesBySubscription.get(subCode) ?? []).filter((a) => a.code === code);
  const found = list.find((a) => {
    if (at?.usage !== undefined)
      return (a.startDate ?? -Infinity) <= at.usage && at.usage < (a.endDate ?? Infinity);
    if (at?.start !== undefined && a.startDate !== undefined && a.startDate !== at.start) return false;
    if (at?.end !== undefined && a.endDate !== undefined && a.endDate !== at.end) return false;
    return true;
  });
  if (!found) throw notFound('Access', code);
  return found;
}

export function getAccess(ctx: Ctx): unknown {
  const code = q(ctx, 'accessCode');
  const subCode = q(ctx, 'subscriptionCode');
  const m = [...(code ? [] : ['accessCode']), ...(subCode ? [] : ['subscriptionCode'])];
  const start = q(ctx, 'startDate');
  const end = q(ctx, 'endDate');
  if ((start === undefined) !== (end === undefined)) m.push(start === undefined ? 'startDate' : 'endDate');
  if (m.length) throw missing(m);
  const usage = q(ctx, 'usageDate');
  const access = findAccess(ctx, code!, subCode!, {
    usage: usage === undefined ? undefined : parseOcDate(usage),
    start: start === undefined ? undefined : parseOcDate(start),
    end: end === undefined ? undefined : parseOcDate(end),
  });
  return { actionStatus: success(), access: outAccess(access) };
}

export function listAccesses(ctx: Ctx): unknown {
  const subCode = q(ctx, 'subscriptionCode');
  if (!subCode) throw missing(['subscriptionCode']);
  getSub(ctx, subCode);
  return {
    actionStatus: success(),
    accesses: { access: (ctx.state.accessesBySubscription.get(subCode) ?? []).map(outAccess) },
  };
}

/** DELETE /account/access/{code}/{subscription}/{startDate}/{endDate}: non-date segments are open bounds. */
export function deleteAccess(ctx: Ctx): unknown {
  const [code, subCode, start, end] = ctx.params.map((p) => decodeURIComponent(p));
  const access = findAccess(ctx, code!, subCode!, { start: parseOcDate(start), end: parseOcDate(end) });
  ctx.state.removeAccess(access);
  return success();
}
