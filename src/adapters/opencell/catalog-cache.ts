import * as E from 'fp-ts/Either';
import type { UnknownProductError } from '../../domain/errors';
import type { OpenCellClient, Page } from './client';
import { planCatalogCheck } from '../../domain/projection/plan';
import type { OcOperation } from '../../domain/projection/plan';

/**
 * The known OpenCell product codes for planCatalogCheck: service templates, one-shot charge templates and offer
 * templates, read through the OpenCell client (every page) and cached.
 *
 * - The cache is reloaded when older than `refreshIntervalMs` (on the next read; a failed periodic reload keeps
 *   serving the previous codes and records the error).
 * - A code that is not in the cache triggers a reload, at most once per `missRefreshIntervalMs`: a product just
 *   created in OpenCell is found without waiting for the periodic reload, and a stream of unknown codes costs
 *   at most one catalog read per interval. A failed miss reload throws (the caller retries: "unknown" must not
 *   be concluded from an unreachable OpenCell).
 * - Concurrent loads share one in-flight read.
 * - Disabled templates are not "known" (OpenCell refuses to instantiate them) unless `includeDisabled`.
 */

export type CatalogClient = Pick<
  OpenCellClient,
  'listServiceTemplates' | 'listOneShotChargeTemplates' | 'listOfferTemplates'
>;

export interface CatalogCheckOptions {
  /** 'throttled' (default): at most one reload per miss interval; 'always': reload on this miss (replays). */
  reloadOnMiss?: 'throttled' | 'always';
}

export interface CatalogCacheOptions {
  /** Age after which the codes are reloaded (default 10 minutes). */
  refreshIntervalMs?: number;
  /** Minimum time between two reloads caused by misses (default 30 s). */
  missRefreshIntervalMs?: number;
  /** Page size of the catalog listings (default 100). */
  pageSize?: number;
  /** Count disabled templates as known (default false). */
  includeDisabled?: boolean;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
}

export interface CatalogSnapshot {
  /** Every known code: service templates ∪ one-shot charge templates ∪ offer templates. */
  readonly codes: ReadonlySet<string>;
  readonly serviceTemplates: ReadonlySet<string>;
  readonly oneShotChargeTemplates: ReadonlySet<string>;
  readonly offerTemplates: ReadonlySet<string>;
  /** When it was loaded (epoch ms, the cache's clock). */
  readonly loadedAt: number;
}

type Item = { code: string; disabled?: boolean | null };

async function allPages<T extends Item>(
  pageSize: number,
  read: (offset: number, limit: number) => Promise<Page<T>>,
): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ;) {
    const page = await read(offset, pageSize);
    out.push(...page.items);
    offset += page.items.length;
    if (page.items.length < pageSize) return out; // the total is optional: read until a short page
  }
}

export class CatalogCache {
  readonly #client: CatalogClient;
  readonly #refreshIntervalMs: number;
  readonly #missRefreshIntervalMs: number;
  readonly #pageSize: number;
  readonly #includeDisabled: boolean;
  readonly #now: () => number;
  #snapshot: CatalogSnapshot | null = null;
  #inFlight: Promise<CatalogSnapshot> | null = null;
  #lastMissRefresh = Number.NEGATIVE_INFINITY;
  #lastError: unknown = null;
  #missRefreshError: unknown = null;

  constructor(client: CatalogClient, opts: CatalogCacheOptions = {}) {
    this.#client = client;
    this.#refreshIntervalMs = opts.refreshIntervalMs ?? 10 * 60_000;
    this.#missRefreshIntervalMs = opts.missRefreshIntervalMs ?? 30_000;
    this.#pageSize = opts.pageSize ?? 100;
    this.#includeDisabled = opts.includeDisabled ?? false;
    this.#now = opts.now ?? Date.now;
  }

  /** The current snapshot without any I/O (null before the first load). */
  snapshot(): CatalogSnapshot | null {
    return this.#snapshot;
  }

  /** The error of the last failed reload that was absorbed by serving stale codes (null after a success). */
  lastError(): unknown {
    return this.#lastError;
  }

  /** Reloads now (concurrent callers share one read). */
  refresh(): Promise<CatalogSnapshot> {
    if (this.#inFlight) return this.#inFlight;
    const p = this.#load().then(
      (snap) => {
        this.#snapshot = snap;
        this.#lastError = null;
        return snap;
      },
      (err: unknown) => {
        this.#lastError = err;
        throw err;
      },
    );
    this.#inFlight = p.finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  /** The known codes: loaded on first use and reloaded when older than the refresh interval. */
  async knownCodes(): Promise<ReadonlySet<string>> {
    return (await this.#fresh()).codes;
  }

  /** Whether `code` is a known product code, reloading once (throttled) when it is not in the cache. */
  async has(code: string): Promise<boolean> {
    const snap = await this.#fresh();
    if (snap.codes.has(code)) return true;
    return (await this.#refreshOnMiss(snap)).codes.has(code);
  }

  /**
   * planCatalogCheck against the cached codes; when it fails on an unknown code, reloads once (throttled) and
   * checks again, so a product just created in OpenCell passes.
   */
  async check(
    ops: readonly OcOperation[],
    opts: CatalogCheckOptions = {},
  ): Promise<E.Either<UnknownProductError, readonly OcOperation[]>> {
    const snap = await this.#fresh();
    const first = planCatalogCheck(ops, snap.codes);
    if (E.isRight(first)) return first;
    // A dead letter replayed by an operator follows a fix, often a product just created in OpenCell: reload even
    // inside the miss interval (replays are rare, so this cannot flood OpenCell).
    const again = opts.reloadOnMiss === 'always' ? await this.refresh() : await this.#refreshOnMiss(snap);
    return again === snap ? first : planCatalogCheck(ops, again.codes);
  }

  async #fresh(): Promise<CatalogSnapshot> {
    const snap = this.#snapshot;
    if (snap === null) return this.refresh();
    if (this.#now() - snap.loadedAt < this.#refreshIntervalMs) return snap;
    try {
      return await this.refresh();
    } catch {
      return snap; // stale codes rather than no codes; lastError() tells
    }
  }

  async #refreshOnMiss(current: CatalogSnapshot): Promise<CatalogSnapshot> {
    const now = this.#now();
    if (now - this.#lastMissRefresh < this.#missRefreshIntervalMs) {
      // Throttled. If the last miss reload failed, the codes cannot be trusted to say "unknown": fail again.
      if (this.#missRefreshError !== null) throw this.#missRefreshError;
      return this.#inFlight ?? current;
    }
    this.#lastMissRefresh = now;
    try {
      const snap = await this.refresh();
      this.#missRefreshError = null;
      return snap;
    } catch (err) {
      this.#missRefreshError = err;
      throw err;
    }
  }

  async #load(): Promise<CatalogSnapshot> {
    const size = this.#pageSize;
    const [services, oneShots, offers] = await Promise.all([
      allPages(size, (offset, limit) => this.#client.listServiceTemplates({ offset, limit })),
      allPages(size, (offset, limit) => this.#client.listOneShotChargeTemplates({ offset, limit })),
      allPages(size, (offset, limit) => this.#client.listOfferTemplates({ offset, limit })),
    ]);
    const codesOf = (items: Item[]) =>
      new Set(items.filter((i) => this.#includeDisabled || i.disabled !== true).map((i) => i.code));
    const serviceTemplates = codesOf(services);
    const oneShotChargeTemplates = codesOf(oneShots);
    const offerTemplates = codesOf(offers);
    return {
      codes: new Set([...serviceTemplates, ...oneShotChargeTemplates, ...offerTemplates]),
      serviceTemplates,
      oneShotChargeTemplates,
      offerTemplates,
      loadedAt: this.#now(),
    };
  }
}
