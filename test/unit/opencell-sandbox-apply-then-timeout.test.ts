import { expect } from 'chai';
import { OpenCellUnavailableError } from '../../src/domain/errors';
import { withOpenCellSandbox } from './support/projector-harness';

/**
 * The OpenCell sandbox's "apply then time out" fault (issue 15 §3): selected by catalogue operation, the request is
 * handled (its change made) and its answer withheld past the client's timeout; the journal says so.
 */
describe('OpenCell sandbox: apply then time out, per operation', () => {
  const oc = withOpenCellSandbox({ sandbox: {}, timeoutMs: 200 });

  it('applies the selected operation, withholds its answer (the client times out), and leaves other operations alone', async () => {
    oc.sandbox.faults.add({ kind: 'applyThenTimeout', operation: 'createCustomer', count: 1 });
    const customer = { code: 'ATT1', customerCategory: 'CLIENT', seller: 'SC', name: { lastName: 'T' } };
    const err = await oc.client.createCustomer(customer as never).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(OpenCellUnavailableError);
    expect((err as OpenCellUnavailableError).code).to.equal('OPENCELL_TIMEOUT');
    expect(oc.sandbox.state.customers.has('ATT1'), 'the call was applied').to.equal(true);
    const entry = oc.sandbox.journal.entries({ method: 'POST', path: '/account/customer' }).at(-1);
    expect(entry?.fault).to.equal('applyThenTimeout');
    expect(entry?.withheldStatus).to.equal(200);
    // the rule is spent, and never matched the read
    expect(await oc.client.getCustomer('ATT1')).to.not.equal(null);
    expect(oc.sandbox.journal.entries({ method: 'GET' }).every((e) => e.fault === undefined)).to.equal(true);
  });

  it('refuses an unknown operation and a "before" phase', () => {
    expect(() => oc.sandbox.faults.add({ kind: 'applyThenTimeout', operation: 'nope' as never })).to.throw(
      /unknown operation/,
    );
    expect(() => oc.sandbox.faults.add({ kind: 'applyThenTimeout', phase: 'before' })).to.throw(
      /no phase "before"/,
    );
  });
});
