import { expect } from 'chai';
import * as E from 'fp-ts/Either';
import { UnknownProductError } from '../../src/domain/errors';
import { OpenCellClient, type CallEvent } from '../../src/adapters/opencell';
import { CatalogCache, type CatalogClient } from '../../src/adapters/opencell/catalog-cache';
import type { OcOperation } from '../../src/domain/projection/plan';
import { defaultCatalog, startOpenCellSandbox, type OpenCellSandbox } from '../../testkit/sandbox/opencell';

const USER = 'catalog.bot';
const PASSWORD = 'c4talog-p4ss';
const LIST_ENDPOINTS = [
  'catalog.serviceTemplate.list',
  'catalog.oneShotChargeTemplate.list',
  'catalog.offerTemplate.list',
];

function catalogWith(extra: { code: string; disabled?: boolean }[]) {
  const catalog = defaultCatalog();
  const base = catalog.serviceTemplates[0];
  catalog.serviceTemplates.push(...extra.map((e) => ({ ...base, ...e, description: e.code })));
  return catalog;
}

const activation = (productId: number, productCode: string): OcOperation => ({
  op: 'activateServices',
  key: `line:${productId}:activate`,
  body: {
    subscription: 'SUB-1',
    servicesToActivate: { service: [{ code: productCode, quantity: 1, subscriptionDate: '2024-01-01' }] },
  },
  products: [{ productId, productCode }],
});

describe('projections: catalog cache (against the OpenCell sandbox)', () => {
  let sandbox: OpenCellSandbox;
  let client: OpenCellClient;
  const events: CallEvent[] = [];
  let clock = 0;
  const listCalls = () => events.filter((e) => LIST_ENDPOINTS.includes(e.endpoint)).length;
  const newCache = (opts: { pageSize?: number; includeDisabled?: boolean } = {}) =>
    new CatalogCache(client, {
      refreshIntervalMs: 600_000,
      missRefreshIntervalMs: 30_000,
      now: () => clock,
      ...opts,
    });

  before(async () => {
    sandbox = await startOpenCellSandbox({ port: 0, user: USER, password: PASSWORD });
    client = new OpenCellClient(
      { baseUrl: sandbox.url, user: USER, password: PASSWORD, timeoutMs: 2000, concurrency: 4 },
      { observer: (e) => events.push(e) },
    );
  });
  after(async () => {
    client.close();
    await sandbox.close();
  });
  beforeEach(() => {
    sandbox.reset();
    events.length = 0;
    clock = 1_000_000;
  });

  it('loads service templates, one-shot charge templates and offers (every page) as one set of codes', async () => {
    const cache = newCache({ pageSize: 5 });
    expect(cache.snapshot()).to.equal(null);
    const codes = await cache.knownCodes();
    expect([...codes]).to.include.members([
      'SE_SC_REC_MOBILE_T_UNL_20480',
      'SE_SC_REC_BA_F_600',
      'SE_SC_REC_CT_FILMIN',
      'CH_SC_OSO_SIM',
      'CH_SC_OSO_COMPENSATION',
      'OF_SC_TEMPLATE_MOB',
      'OF_SC_TEMPLATE_BA',
    ]);
    const catalog = defaultCatalog();
    const snap = cache.snapshot()!;
    expect(snap.serviceTemplates.size).to.equal(catalog.serviceTemplates.length); // 12 codes over 3 pages of 5
    expect(snap.oneShotChargeTemplates.size).to.equal(catalog.oneShotChargeTemplates.length);
    expect(snap.offerTemplates.size).to.equal(catalog.offerTemplates.length);
    expect(snap.loadedAt).to.equal(clock);
    expect(codes.has('SE_SC_REC_UNKNOWN_X')).to.equal(false);
    expect(events.filter((e) => e.endpoint === 'catalog.serviceTemplate.list').length).to.equal(3);
  });

  it('serves the cache until the refresh interval elapses, then reloads', async () => {
    const cache = newCache();
    await cache.knownCodes();
    const afterFirst = listCalls();
    expect(afterFirst).to.equal(3);
    clock += 599_999;
    await cache.knownCodes();
    expect(listCalls()).to.equal(3);
    sandbox.reset(catalogWith([{ code: 'SE_SC_REC_NEW_PERIODIC' }]));
    clock += 1;
    expect((await cache.knownCodes()).has('SE_SC_REC_NEW_PERIODIC')).to.equal(true);
    expect(listCalls()).to.equal(6);
  });

  it('a miss reloads at most once per miss interval: a new product is found, unknown ones cost one read', async () => {
    const cache = newCache();
    expect(await cache.has('SE_SC_REC_MOBILE_T_UNL_20480')).to.equal(true);
    expect(listCalls()).to.equal(3);

    sandbox.reset(catalogWith([{ code: 'SE_SC_REC_NEW' }]));
    expect(await cache.has('SE_SC_REC_NEW')).to.equal(true); // miss → reload
    expect(listCalls()).to.equal(6);

    expect(await cache.has('SE_SC_REC_UNKNOWN_X')).to.equal(false); // miss, but throttled
    expect(await cache.has('SE_SC_REC_UNKNOWN_Y')).to.equal(false);
    expect(listCalls()).to.equal(6);

    sandbox.reset(catalogWith([{ code: 'SE_SC_REC_UNKNOWN_X' }]));
    clock += 29_999;
    expect(await cache.has('SE_SC_REC_UNKNOWN_X')).to.equal(false);
    clock += 1;
    expect(await cache.has('SE_SC_REC_UNKNOWN_X')).to.equal(true);
    expect(listCalls()).to.equal(9);
  });

  it('disabled templates are not known (unless asked)', async () => {
    sandbox.reset(catalogWith([{ code: 'SE_SC_REC_OLD', disabled: true }]));
    expect(await newCache().has('SE_SC_REC_OLD')).to.equal(false);
    expect(await newCache({ includeDisabled: true }).has('SE_SC_REC_OLD')).to.equal(true);
  });

  it('concurrent first reads share one load', async () => {
    const cache = newCache();
    await Promise.all([cache.knownCodes(), cache.has('CH_SC_OSO_SIM'), cache.knownCodes()]);
    expect(listCalls()).to.equal(3);
  });

  it('check(): planCatalogCheck on the cached codes, reloading once on an unknown code', async () => {
    const cache = newCache();
    const known = [activation(1, 'SE_SC_REC_MOBILE_T_UNL_20480')];
    expect(E.isRight(await cache.check(known))).to.equal(true);

    const fresh = [activation(2, 'SE_SC_REC_BRAND_NEW')];
    sandbox.reset(catalogWith([{ code: 'SE_SC_REC_BRAND_NEW' }]));
    expect(E.isRight(await cache.check(fresh))).to.equal(true);

    const unknown = await cache.check([activation(3, 'SE_SC_REC_UNKNOWN_X')]);
    expect(E.isLeft(unknown)).to.equal(true);
    if (E.isLeft(unknown)) {
      expect(unknown.left).to.be.instanceOf(UnknownProductError);
      expect(unknown.left.message).to.contain('SE_SC_REC_UNKNOWN_X');
    }
  });

  it('check() of a replayed dead letter reloads on a miss even inside the miss interval (the operator fixed the catalog)', async () => {
    const cache = newCache();
    const op = [activation(4, 'SE_SC_REC_ADDED_LATER')];
    expect(E.isLeft(await cache.check(op)), 'unknown at first').to.equal(true);
    const reads = listCalls();
    // the operator creates the product in OpenCell and replays the dead letter a few seconds later
    sandbox.reset(catalogWith([{ code: 'SE_SC_REC_ADDED_LATER' }]));
    clock += 5_000;
    expect(E.isLeft(await cache.check(op)), 'a live miss inside the interval is not reloaded').to.equal(true);
    expect(listCalls()).to.equal(reads);
    expect(E.isRight(await cache.check(op, { reloadOnMiss: 'always' })), 'the replay sees the fix').to.equal(
      true,
    );
    expect(listCalls()).to.equal(reads + 3);
  });

  it('a failed periodic reload serves the previous codes; a failed first load or miss reload throws', async () => {
    let down = false;
    const guard =
      <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
      (...a: A): Promise<R> =>
        down ? Promise.reject(new Error('OpenCell unreachable')) : f(...a);
    const flaky: CatalogClient = {
      listServiceTemplates: guard(client.listServiceTemplates.bind(client)),
      listOneShotChargeTemplates: guard(client.listOneShotChargeTemplates.bind(client)),
      listOfferTemplates: guard(client.listOfferTemplates.bind(client)),
    };
    const cache = new CatalogCache(flaky, { now: () => clock });
    await cache.knownCodes();
    down = true;
    clock += 600_000;
    expect((await cache.knownCodes()).has('CH_SC_OSO_SIM')).to.equal(true);
    expect(cache.lastError()).to.be.instanceOf(Error);
    const rejection = async (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e,
      );
    expect(await rejection(cache.has('SE_SC_REC_UNKNOWN_X'))).to.be.instanceOf(Error);
    // still throttled, and the last miss reload failed: no "unknown" verdict from unverified codes
    expect(await rejection(cache.has('SE_SC_REC_UNKNOWN_Y'))).to.be.instanceOf(Error);
    expect(await rejection(new CatalogCache(flaky).knownCodes())).to.be.instanceOf(Error);
    down = false;
    clock += 30_000;
    expect(await cache.has('SE_SC_REC_UNKNOWN_X')).to.equal(false);
    expect(cache.lastError()).to.equal(null);
  });
});
