/**
 * `reconcile` loading: the partners in scope, and each partner's Odoo views and OpenCell state handed to the pure
 * comparison (src/domain/reconcile.ts).
 */
import type { Pool } from 'pg';
import type { OdooViews } from '../adapters/postgres/odoo-views';
import type { OpenCellState } from '../adapters/opencell/opencell-state';
import { computeDrift, type Drift } from '../domain/reconcile';
import type { ProjectionConfig } from '../domain/projection/payloads';
import type { OcSubscriptionState } from '../domain/projection/views';

// ---------------------------------------------------------------------------------------------------------------

export type ReconcileScope = { partnerRef: string } | { contractCode: string } | { all: true };

/** Partner ids in scope (partners holding non-archived contracts). */
export async function partnersInScope(
  odooPool: Pick<Pool, 'query'>,
  scope: ReconcileScope,
): Promise<number[]> {
  if ('partnerRef' in scope) {
    const r = await odooPool.query<{ id: number }>(`SELECT id FROM res_partner WHERE ref = $1 ORDER BY id`, [
      scope.partnerRef,
    ]);
    return r.rows.map((x) => x.id);
  }
  if ('contractCode' in scope) {
    const r = await odooPool.query<{ partner_id: number }>(
      `SELECT partner_id FROM contract_contract WHERE code = $1`,
      [scope.contractCode],
    );
    return [...new Set(r.rows.map((x) => x.partner_id))];
  }
  const r = await odooPool.query<{ partner_id: number }>(
    `SELECT DISTINCT partner_id FROM contract_contract WHERE active IS TRUE ORDER BY partner_id`,
  );
  return r.rows.map((x) => x.partner_id);
}

export async function driftOfPartner(
  deps: { odoo: OdooViews; opencell: Pick<OpenCellState, 'customer' | 'subscription'> },
  partnerId: number,
  /** config: the payload settings, so that the access expected is the one the projector creates */
  opts: {
    contractCode?: string;
    today?: string;
    config?: Pick<ProjectionConfig, 'phonePlaceholderIsNoNumber'>;
  } = {},
): Promise<Drift[]> {
  const partner = await deps.odoo.partner(partnerId);
  if (!partner) return [];
  let contracts = await deps.odoo.contractsOfPartner(partnerId);
  if (opts.contractCode) contracts = contracts.filter((c) => c.code === opts.contractCode);
  const customer = partner.ref ? await deps.opencell.customer(partner.ref) : null;
  const subscriptions = new Map<string, OcSubscriptionState | null>();
  for (const c of contracts) if (c.code) subscriptions.set(c.code, await deps.opencell.subscription(c.code));
  return computeDrift({
    partner,
    contracts,
    customer,
    subscriptions,
    today: opts.today ?? new Date().toISOString().slice(0, 10),
    ...(opts.config ? { config: opts.config } : {}),
  });
}
