import { expect } from 'chai';
import { assertLeases, CallLease, underLeases } from '../../src/core/call-lease';
import { FenceLeaseExpiredError } from '../../src/domain/errors';

describe('call lease: a fence check is trusted for a call for the lease only (src/core/call-lease.ts)', () => {
  it('is live from the check’s send until the lease ends, and never before a first check', () => {
    const lease = new CallLease(1000, 'intents[0] of group g');
    expect(() => lease.assertLive(() => 'PUT /x', 0), 'no check yet').to.throw(FenceLeaseExpiredError);
    lease.renew(5000);
    expect(() => lease.assertLive(() => 'PUT /x', 5999)).not.to.throw();
    expect(() => lease.assertLive(() => 'PUT /x', 6000)).to.throw(FenceLeaseExpiredError, /PUT \/x not sent/);
    lease.renew(4000); // an older check answered late does not shorten nor lengthen it
    expect(() => lease.assertLive(() => 'PUT /x', 6000)).to.throw(FenceLeaseExpiredError);
  });

  it('the refusal is retriable and names the partition and the lease, nothing else', () => {
    const lease = new CallLease(250, 'intents[3] of group g');
    lease.renew(100);
    try {
      lease.assertLive(() => 'POST /billing/subscription/activateServices', 400);
      expect.fail('refused');
    } catch (e) {
      expect(e).to.be.instanceOf(FenceLeaseExpiredError);
      const err = e as FenceLeaseExpiredError;
      expect(err.retriable).to.equal(true);
      expect(err.code).to.equal('FENCE_LEASE_EXPIRED');
      expect(err.message).to.equal(
        'POST /billing/subscription/activateServices not sent: the fence of intents[3] of group g was checked 300 ms ago, longer than its 250 ms lease (this process was held up); checking again',
      );
    }
  });

  it('the transport’s look (assertLeases) refuses only calls made under an expired lease', async () => {
    expect(() => assertLeases(() => 'GET /x'), 'outside a leased call').not.to.throw();
    const expired = new CallLease(10, 'p');
    const live = new CallLease(60_000, 'q');
    live.renew(performance.now());
    await underLeases([live], async () => expect(() => assertLeases(() => 'PUT /x')).not.to.throw());
    await underLeases([live, expired], async () => {
      await Promise.resolve(); // the context follows the call's awaits
      expect(() => assertLeases(() => 'PUT /x')).to.throw(FenceLeaseExpiredError);
    });
    expect(() => assertLeases(() => 'GET /x'), 'and not after it').not.to.throw();
  });
});
