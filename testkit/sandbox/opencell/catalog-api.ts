import type { OfferTemplateEntry } from './sandbox-catalog';
import { q, qBool, success, type Ctx } from './context';
import { missing, notFound } from './errors';
import { applyPaging, pagingFrom, type FieldMap } from './filters';
import type { Json } from './state';
import { compact, parseOcDate } from './util';

/** Catalog reads. Catalog entries get stable ids from their position. */
const idOf = (list: Array<{ code: string }>, code: string, base: number) =>
  base + list.findIndex((e) => e.code === code);

function outServiceTemplate(ctx: Ctx, code: string): Json {
  const list = ctx.state.catalog.serviceTemplates;
  const st = ctx.state.index.get<(typeof list)[number]>('ServiceTemplate', code);
  return compact({
    id: idOf(list, code, 2000),
    code,
    description: st?.description,
    disabled: st?.disabled === true,
  });
}

function outOffer(ctx: Ctx, o: OfferTemplateEntry, withServices: boolean): Json {
  return compact({
    id: idOf(ctx.state.catalog.offerTemplates, o.code, 1000),
    code: o.code,
    description: o.description,
    name: o.name,
    disabled: o.disabled === true,
    validFrom: o.validFrom ? parseOcDate(o.validFrom) : undefined,
    validTo: o.validTo ? parseOcDate(o.validTo) : undefined,
    lifeCycleStatus: o.lifeCycleStatus ?? 'ACTIVE',
    seller: o.sellers ?? [],
    offerServiceTemplate: withServices
      ? o.services.map((s) => ({
          serviceTemplate: outServiceTemplate(ctx, s.code),
          mandatory: s.mandatory === true,
          incompatibleServices: (s.incompatibleServices ?? []).map((c) => outServiceTemplate(ctx, c)),
        }))
      : undefined,
    isOfferChangeRestricted: false,
    isModel: false,
  });
}

export function getOfferTemplate(ctx: Ctx): unknown {
  const code = q(ctx, 'offerTemplateCode');
  if (!code) throw missing(['offerTemplateCode']);
  const offer = ctx.state.index.get<OfferTemplateEntry>('OfferTemplate', code);
  if (!offer) throw notFound('OfferTemplate', code);
  const dto = outOffer(ctx, offer, qBool(ctx, 'loadOfferServiceTemplate'));
  // ≤10.x wraps the offer; 11.x+ flattens it next to actionStatus (GetOfferTemplateResponseDto extends OfferTemplateDto).
  if (ctx.profile.name === 'v10') return { actionStatus: success(), offerTemplate: dto };
  return { actionStatus: success(), ...dto, tags: [], medias: [] };
}

const OFFER_FIELDS: FieldMap<OfferTemplateEntry> = {
  code: { type: 'string', get: (o) => o.code },
  description: { type: 'string', get: (o) => o.description },
  lifeCycleStatus: { type: 'string', get: (o) => o.lifeCycleStatus ?? 'ACTIVE' },
  disabled: { type: 'string', get: (o) => String(o.disabled === true) },
};

export function listOfferTemplates(method: 'GET' | 'POST') {
  return (ctx: Ctx): unknown => {
    const req = pagingFrom(ctx, method);
    const code = method === 'GET' ? q(ctx, 'offerTemplateCode') : undefined;
    if (code) req.filters = { ...(req.filters ?? {}), code, disabled: 'false' };
    const { page, paging } = applyPaging(ctx.state.catalog.offerTemplates, req, OFFER_FIELDS, 'code');
    const withServices = (req.fields ?? '').split(',').includes('offerServiceTemplate');
    return {
      actionStatus: success(),
      paging,
      offerTemplate: page.map((o) => outOffer(ctx, o, withServices)),
    };
  };
}

export function getServiceTemplate(ctx: Ctx): unknown {
  const code = q(ctx, 'serviceTemplateCode');
  if (!code) throw missing(['serviceTemplateCode']);
  if (!ctx.state.index.has('ServiceTemplate', code)) throw notFound('ServiceTemplate', code);
  return { actionStatus: success(), serviceTemplate: outServiceTemplate(ctx, code) };
}

export function listServiceTemplates(ctx: Ctx): unknown {
  const req = pagingFrom(ctx, 'POST');
  const list = ctx.state.catalog.serviceTemplates;
  const fields: FieldMap<(typeof list)[number]> = {
    id: { type: 'number', get: (s) => idOf(list, s.code, 2000) },
    code: { type: 'string', get: (s) => s.code },
    description: { type: 'string', get: (s) => s.description },
  };
  const { page, paging } = applyPaging(list, req, fields, 'id');
  return {
    actionStatus: success(),
    paging,
    listServiceTemplate: page.map((s) => outServiceTemplate(ctx, s.code)),
  };
}

function outOneShot(ctx: Ctx, code: string): Json {
  const list = ctx.state.catalog.oneShotChargeTemplates;
  const t = list.find((x) => x.code === code)!;
  return compact({
    id: idOf(list, code, 3000),
    code,
    description: t.description,
    disabled: t.disabled === true,
    oneShotChargeTemplateType: t.type,
    immediateInvoicing: false,
    invoiceSubCategory: t.invoiceSubCategory,
    amountEditable: t.amountEditable === true,
  });
}

export function getOneShotChargeTemplate(ctx: Ctx): unknown {
  const code = q(ctx, 'oneShotChargeTemplateCode');
  if (!code) throw missing(['oneShotChargeTemplateCode']);
  if (!ctx.state.index.has('OneShotChargeTemplate', code)) throw notFound('OneShotChargeTemplate', code);
  return { actionStatus: success(), oneShotChargeTemplate: outOneShot(ctx, code) };
}

export function listOneShotChargeTemplates(ctx: Ctx): unknown {
  const req = pagingFrom(ctx, 'GET');
  const list = ctx.state.catalog.oneShotChargeTemplates;
  const fields: FieldMap<(typeof list)[number]> = {
    id: { type: 'number', get: (s) => idOf(list, s.code, 3000) },
    code: { type: 'string', get: (s) => s.code },
    description: { type: 'string', get: (s) => s.description },
  };
  const { page, paging } = applyPaging(list, req, fields, 'id');
  return {
    actionStatus: success(),
    paging,
    oneShotChargeTemplates: { oneShotChargeTemplates: page.map((s) => outOneShot(ctx, s.code)) },
  };
}

export function listTerminationReasons(ctx: Ctx): unknown {
  return {
    actionStatus: success(),
    terminationReason: ctx.state.catalog.terminationReasons.map((r) =>
      compact({
        code: r.code,
        description: r.description,
        applyAgreement: r.applyAgreement === true,
        invoiceAgreementImmediately: r.invoiceAgreementImmediately === true,
        applyReimbursment: r.applyReimbursment === true,
        applyTerminationCharges: r.applyTerminationCharges === true,
        overrideProrata: 'NO_OVERRIDE',
        reimburseOneshots: false,
      }),
    ),
  };
}
