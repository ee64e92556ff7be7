import { expect } from 'chai';
import {
  fillPath,
  OPENCELL_OPERATIONS,
  pathParams,
  pathPattern,
  type OpenCellOperationName,
  type OpenCellOperationSpec,
} from '../../src/domain/opencell/operations';
import { CATALOGUE_OPERATION, idempotencyOf, type OcOperationName } from '../../src/domain/projection/plan';
import { HANDLERS } from '../../testkit/sandbox/opencell/server';

describe('OpenCell operation catalogue', () => {
  const names = Object.keys(OPENCELL_OPERATIONS) as OpenCellOperationName[];

  it('is what the sandbox routes: one handler per catalogue operation, no other', () => {
    expect(Object.keys(HANDLERS).sort()).to.deep.equal([...names].sort());
  });

  it('names each (method, path) once', () => {
    const keys = names.map((n) => `${OPENCELL_OPERATIONS[n].method} ${OPENCELL_OPERATIONS[n].path}`);
    expect(new Set(keys).size).to.equal(keys.length);
  });

  it('sends bodies only with POST and PUT', () => {
    for (const n of names) {
      const o = OPENCELL_OPERATIONS[n];
      if (o.request !== null) expect(['POST', 'PUT'], n).to.include(o.method);
    }
  });

  it('classes every operation (issue 15 §3): reads and updates idempotent, creates / activation / one-shot verify-before-retry with a verify, instantiateServices unsafe', () => {
    const plan = Object.keys(CATALOGUE_OPERATION) as OcOperationName[];
    expect(plan.filter((op) => idempotencyOf(op) === 'verify-before-retry').sort()).to.deep.equal([
      'activateServices',
      'applyOneShotChargeInstance',
      'createAccess',
      'createCustomer',
      'createSubscription',
      'crmAccountHierarchyCreate',
    ]);
    expect(plan.filter((op) => idempotencyOf(op) === 'idempotent').sort()).to.deep.equal([
      'crmAccountHierarchyCreateOrUpdate',
      'deleteAccess',
      'terminateServices',
      'terminateSubscription',
      'updateCustomer',
      'updateSubscription',
    ]);
    expect(names.filter((n) => OPENCELL_OPERATIONS[n].idempotency === 'unsafe')).to.deep.equal([
      'instantiateServices',
    ]);
    for (const n of names) {
      const o: OpenCellOperationSpec = OPENCELL_OPERATIONS[n];
      if (o.method === 'GET') expect(o.idempotency, `${n} reads`).to.equal('idempotent');
      expect(o.verify !== undefined, `${n}: a verify exactly for verify-before-retry`).to.equal(
        o.idempotency === 'verify-before-retry',
      );
    }
  });

  it('fills path templates with URI-encoded segments that its routing pattern reads back', () => {
    const tpl = OPENCELL_OPERATIONS.deleteAccess.path;
    expect(pathParams(tpl)).to.deep.equal(['code', 'subscriptionCode', 'startDate', 'endDate']);
    const path = fillPath(tpl, {
      code: '600 111/222',
      subscriptionCode: 'SC-1',
      startDate: 'null',
      endDate: 'null',
    });
    expect(path).to.equal('/account/access/600%20111%2F222/SC-1/null/null');
    expect(pathPattern(tpl).exec(path)?.slice(1)).to.deep.equal(['600%20111%2F222', 'SC-1', 'null', 'null']);
    expect(() => fillPath(tpl, { code: 'x' })).to.throw(/subscriptionCode missing/);
  });
});
