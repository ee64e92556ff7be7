import * as E from 'fp-ts/Either';
import type { UnknownProductError } from '../errors';
import type {
  AccessDto,
  ActivateServicesRequestDto,
  ApplyOneShotChargeInstanceRequestDto,
  CRMAccountHierarchyDto,
  CustomerDto,
  SubscriptionDto,
  TerminateSubscriptionRequestDto,
  TerminateSubscriptionServicesRequestDto,
} from '../opencell/dto';
import {
  OPENCELL_OPERATIONS,
  type IdempotencyClass,
  type OpenCellOperationName,
} from '../opencell/operations';
import { productCatalogCheck } from './products';

/**
 * A plan: the ordered OpenCell operations a projection needs. Each operation names the client call (`op`), its
 * request body (OpenCell JSON), a `key` that identifies the effect (for the ledger: applied once per key) and,
 * where it concerns a contract line / product, their ids (for the catalog check and line bookkeeping).
 *
 * op → OpenCell endpoint (the catalogue entry is CATALOGUE_OPERATION[op]):
 * - createCustomer: POST /account/customer
 * - updateCustomer: PUT /account/customer
 * - crmAccountHierarchyCreate: POST /account/accountHierarchy/createCRMAccountHierarchy
 * - crmAccountHierarchyCreateOrUpdate: POST /account/accountHierarchy/createOrUpdateCRMAccountHierarchy
 * - createSubscription: POST /billing/subscription
 * - updateSubscription: PUT /billing/subscription (description change; subscriptionDate echoed)
 * - createAccess: POST /account/access
 * - deleteAccess: DELETE /account/access/{code}/{subscription}[/{startDate}/{endDate}] (body = the path values)
 * - activateServices: POST /billing/subscription/activateServices
 * - applyOneShotChargeInstance: POST /billing/subscription/applyOneShotChargeInstance
 * - terminateServices: POST /billing/subscription/terminateServices
 * - terminateSubscription: POST /billing/subscription/terminate
 */
interface OpBase {
  key: string;
  lineIds?: number[];
  products?: { productId: number; productCode: string }[];
}

export type OcOperation =
  | (OpBase & { op: 'createCustomer'; body: CustomerDto })
  | (OpBase & { op: 'updateCustomer'; body: CustomerDto })
  | (OpBase & { op: 'crmAccountHierarchyCreate'; body: CRMAccountHierarchyDto })
  | (OpBase & { op: 'crmAccountHierarchyCreateOrUpdate'; body: CRMAccountHierarchyDto })
  | (OpBase & { op: 'createSubscription'; body: SubscriptionDto })
  | (OpBase & { op: 'updateSubscription'; body: SubscriptionDto })
  | (OpBase & { op: 'createAccess'; body: AccessDto })
  | (OpBase & { op: 'deleteAccess'; body: Pick<AccessDto, 'code' | 'subscription'> })
  | (OpBase & { op: 'activateServices'; body: ActivateServicesRequestDto })
  | (OpBase & { op: 'applyOneShotChargeInstance'; body: ApplyOneShotChargeInstanceRequestDto })
  | (OpBase & { op: 'terminateServices'; body: TerminateSubscriptionServicesRequestDto })
  | (OpBase & { op: 'terminateSubscription'; body: TerminateSubscriptionRequestDto });

export type OcOperationName = OcOperation['op'];

/**
 * The catalogue operation (src/domain/opencell/operations.ts) each plan operation calls: its endpoint and its
 * idempotency class (which operations the executor guards with the ledger) come from there. The plan's own names
 * are kept: they are stored in the ledger's effect rows.
 */
export const CATALOGUE_OPERATION: Readonly<Record<OcOperationName, OpenCellOperationName>> = {
  createCustomer: 'createCustomer',
  updateCustomer: 'updateCustomer',
  crmAccountHierarchyCreate: 'createCrmAccountHierarchy',
  crmAccountHierarchyCreateOrUpdate: 'createOrUpdateCrmAccountHierarchy',
  createSubscription: 'createSubscription',
  updateSubscription: 'updateSubscription',
  createAccess: 'createAccess',
  deleteAccess: 'deleteAccess',
  activateServices: 'activateServices',
  applyOneShotChargeInstance: 'applyOneShotChargeInstance',
  terminateServices: 'terminateServices',
  terminateSubscription: 'terminateSubscription',
};

/** The idempotency class of a plan operation (from the catalogue). */
export function idempotencyOf(op: OcOperationName): IdempotencyClass {
  return OPENCELL_OPERATIONS[CATALOGUE_OPERATION[op]].idempotency;
}

export interface Plan {
  /** Which path the strategy took (the original's strategy name, or 'noop'). */
  strategy: string;
  ops: OcOperation[];
  /** Why nothing (or less) is sent, when the strategy skipped something. */
  note?: string;
}

/** Rank of each operation in the causal order: customer → account → subscription → access → services. */
const RANK: Record<OcOperationName, number> = {
  createCustomer: 0,
  updateCustomer: 0,
  crmAccountHierarchyCreate: 1,
  crmAccountHierarchyCreateOrUpdate: 1,
  createSubscription: 2,
  updateSubscription: 2,
  deleteAccess: 3,
  createAccess: 4,
  activateServices: 5,
  applyOneShotChargeInstance: 6,
  terminateServices: 7,
  terminateSubscription: 8,
};

/** True when the plan respects the causal order (a stable sort by RANK would not change it). */
export function isCausallyOrdered(ops: readonly OcOperation[]): boolean {
  return ops.every((op, i) => i === 0 || RANK[ops[i - 1].op] <= RANK[op.op]);
}

// What identifies a one-shot charge (kept with the operation catalogue, whose verify of a lost one-shot uses it).
export { isInstanceOf, oneShotIdentity } from '../opencell/one-shot';

/** Checks every product code a plan sends against the catalog; the first unknown one is the Left. */
export function planCatalogCheck(
  ops: readonly OcOperation[],
  knownCodes: ReadonlySet<string>,
): E.Either<UnknownProductError, readonly OcOperation[]> {
  for (const op of ops) {
    for (const p of op.products ?? []) {
      const checked = productCatalogCheck({ id: p.productId, defaultCode: p.productCode }, knownCodes);
      if (E.isLeft(checked)) return E.left(checked.left);
    }
  }
  return E.right(ops);
}
