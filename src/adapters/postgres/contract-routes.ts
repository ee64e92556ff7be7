/**
 * The pinned customer queue of each contract (table contract_route, schemas/state/085-contract-route.sql): the
 * partner a contract's intents are keyed by is the one it was first routed under, whatever its partner is later in
 * Odoo (issue 15 §8). A pin never changes, so it is cached in memory once read or written. The reads and the pins
 * asked in one turn of the event loop (a fetched batch's changes, routed together) leave as one statement each
 * (src/core/coalescer.ts).
 */
import type { Pool } from 'pg';
import { Coalescer } from '../../core/coalescer';
import type { ContractRoutePins } from '../../domain/intents/kind';
import { statementName } from './prepared';

/** First writer wins: a contract already pinned keeps its pin; every asked contract comes back with its pin. */
const PIN_SQL = `WITH req AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS r(contract_id, partner_id)),
  ins AS (
    INSERT INTO contract_route (contract_id, partner_id) SELECT contract_id, partner_id FROM req
    ON CONFLICT (contract_id) DO NOTHING RETURNING contract_id, partner_id)
  SELECT contract_id, partner_id FROM ins
  UNION ALL SELECT c.contract_id, c.partner_id FROM contract_route c JOIN req USING (contract_id)`;
const GET_SQL = 'SELECT contract_id, partner_id FROM contract_route WHERE contract_id = ANY($1::bigint[])';

/** Bounded: a pin read again after eviction costs one query. */
const CACHE_MAX = 200_000;
/** Contracts per coalesced statement at most. */
const BATCH_MAX = 500;

export class PgContractRoutes implements ContractRoutePins {
  readonly #cache = new Map<number, number>();
  /** Set when the table is missing (migration 085 not applied yet): contracts are then routed unpinned. */
  #missing = false;
  readonly #reads: Coalescer<number, number | null>;
  readonly #pins: Coalescer<{ contractId: number; partnerId: number }, number | null>;

  constructor(private readonly pool: Pool) {
    const opts = { maxBatch: BATCH_MAX, maxInFlight: 2 };
    this.#reads = new Coalescer(async (_k, batch) => {
      const pins = await this.#query(GET_SQL, [[...new Set(batch.map((p) => p.req))]]);
      for (const p of batch) p.resolve(pins?.get(p.req) ?? null);
    }, opts);
    this.#pins = new Coalescer(
      async (_k, batch) => {
        const pins = await this.#query(PIN_SQL, [
          batch.map((p) => p.req.contractId),
          batch.map((p) => p.req.partnerId),
        ]);
        for (const p of batch) p.resolve(pins?.get(p.req.contractId) ?? null);
      },
      {
        ...opts,
        // one row per contract in a statement: a second pin of the same contract waits for the first's answer
        accepts: (batch, next) => !batch.some((r) => r.contractId === next.contractId),
      },
    );
  }

  async pinned(contractId: number): Promise<number | null> {
    const hit = this.#cache.get(contractId);
    if (hit !== undefined) return hit;
    if (this.#missing) return null;
    const partnerId = await this.#reads.submit('', contractId);
    if (partnerId !== null) this.#remember(contractId, partnerId);
    return partnerId;
  }

  async pin(contractId: number, partnerId: number): Promise<number> {
    const hit = this.#cache.get(contractId);
    if (hit !== undefined) return hit;
    if (this.#missing) return partnerId;
    const pinned = (await this.#pins.submit('', { contractId, partnerId })) ?? partnerId;
    this.#remember(contractId, pinned);
    return pinned;
  }

  /** contract → partner as the statement returns them; null when the table is missing. */
  async #query(sql: string, values: unknown[]): Promise<Map<number, number> | null> {
    try {
      const r = await this.pool.query<{ contract_id: string | number; partner_id: string | number }>({
        name: statementName(sql),
        text: sql,
        values,
      });
      return new Map(r.rows.map((row) => [Number(row.contract_id), Number(row.partner_id)]));
    } catch (e) {
      // undefined_table: a process newer than its state database (a rolling deploy before the migration ran)
      // routes as before (by the contract's current partner) instead of stopping
      if ((e as { code?: string }).code !== '42P01') throw e;
      this.#missing = true;
      return null;
    }
  }

  #remember(contractId: number, partnerId: number): void {
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(contractId, partnerId);
  }
}
