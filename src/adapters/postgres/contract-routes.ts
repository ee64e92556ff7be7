/**
 * The pinned customer queue of each contract (table contract_route, schemas/state/085-contract-route.sql): the
 * partner a contract's intents are keyed by is the one it was first routed under, whatever its partner is later in
 * Odoo (issue 15 §8). A pin never changes, so it is cached in memory once read or written.
 */
import type { Pool } from 'pg';
import type { ContractRoutePins } from '../../domain/intents/kind';
import { statementName } from './prepared';

const PIN_SQL = `WITH ins AS (
    INSERT INTO contract_route (contract_id, partner_id) VALUES ($1, $2)
    ON CONFLICT (contract_id) DO NOTHING RETURNING partner_id)
  SELECT partner_id FROM ins UNION ALL SELECT partner_id FROM contract_route WHERE contract_id = $1`;
const GET_SQL = 'SELECT partner_id FROM contract_route WHERE contract_id = $1';

/** Bounded: a pin read again after eviction costs one query. */
const CACHE_MAX = 200_000;

export class PgContractRoutes implements ContractRoutePins {
  readonly #cache = new Map<number, number>();
  /** Set when the table is missing (migration 085 not applied yet): contracts are then routed unpinned. */
  #missing = false;

  constructor(private readonly pool: Pool) {}

  async pinned(contractId: number): Promise<number | null> {
    const hit = this.#cache.get(contractId);
    if (hit !== undefined) return hit;
    if (this.#missing) return null;
    const r = await this.#query(GET_SQL, [contractId]);
    const partnerId = r === null ? null : r;
    if (partnerId !== null) this.#remember(contractId, partnerId);
    return partnerId;
  }

  async pin(contractId: number, partnerId: number): Promise<number> {
    const hit = this.#cache.get(contractId);
    if (hit !== undefined) return hit;
    if (this.#missing) return partnerId;
    // first writer wins (two router handlers may route the same new contract at once: its contract and line events)
    const pinned = (await this.#query(PIN_SQL, [contractId, partnerId])) ?? partnerId;
    this.#remember(contractId, pinned);
    return pinned;
  }

  async #query(sql: string, values: unknown[]): Promise<number | null> {
    try {
      const r = await this.pool.query<{ partner_id: string | number }>({
        name: statementName(sql),
        text: sql,
        values,
      });
      return r.rows.length ? Number(r.rows[0].partner_id) : null;
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
