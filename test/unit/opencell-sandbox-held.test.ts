import { expect } from 'chai';
import { request } from 'node:http';
import { startOpenCellSandbox, type HeldRequest, type OpenCellSandbox } from '../../testkit/sandbox/opencell';

/**
 * The OpenCell sandbox's in-flight window (issue 19 §1): a latency rule with `phase: "after"` holds the answer of a
 * request already handled, `onHeld` tells a test that a chosen operation is in flight, and the journal marks a request
 * whose caller hung up before the answer (`abandoned`) — what a fault test needs to prove its kill landed there.
 */
describe('OpenCell sandbox: held requests (latency after the handler, onHeld, abandoned)', () => {
  let sb: OpenCellSandbox;
  const auth = () =>
    `Basic ${Buffer.from(`${sb.credentials.user}:${sb.credentials.password}`).toString('base64')}`;
  const customer = (code: string) => ({
    code,
    seller: 'SC',
    customerCategory: 'CLIENT',
    description: 'x',
    name: { firstName: 'A', lastName: 'B' },
  });

  before(async () => {
    sb = await startOpenCellSandbox({ port: 0 });
  });
  after(async () => {
    await sb.close();
  });
  afterEach(() => sb.faults.clear());

  it('phase "after" holds the answer of a handled request: the change is made while the caller still waits', async () => {
    sb.faults.add({
      kind: 'latency',
      latencyMs: 150,
      method: 'POST',
      path: '^/account/customer$',
      phase: 'after',
    });
    const held: HeldRequest[] = [];
    let madeWhileHeld: boolean | undefined;
    const off = sb.onHeld((h) => {
      held.push(h);
      madeWhileHeld = sb.state.customers.has('H1');
    });
    const t0 = Date.now();
    const r = await fetch(`${sb.apiUrl}/account/customer`, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/json' },
      body: JSON.stringify(customer('H1')),
    });
    off();
    expect(r.status).to.equal(200);
    expect(Date.now() - t0).to.be.at.least(140);
    expect(held.map((h) => [h.phase, h.entry.method, h.entry.path])).to.deep.equal([
      ['after', 'POST', '/account/customer'],
    ]);
    expect(madeWhileHeld, 'the customer exists while the answer is held').to.equal(true);
    const entry = sb.journal.entries({ method: 'POST', path: '/account/customer' }).at(-1);
    expect(entry?.abandoned).to.equal(undefined);
  });

  it('a caller that hangs up while its request is held is journalled as abandoned (the change stays made)', async () => {
    sb.faults.add({
      kind: 'latency',
      latencyMs: 200,
      method: 'POST',
      path: '^/account/customer$',
      phase: 'after',
    });
    const url = new URL(`${sb.apiUrl}/account/customer`);
    let inFlightAtHold = false;
    let heldOne: HeldRequest | undefined;
    const req = request(url, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/json' },
    });
    req.on('error', () => undefined);
    const off = sb.onHeld((h) => {
      heldOne = h;
      inFlightAtHold = h.inFlight();
      setTimeout(() => req.destroy(), 20); // the caller dies while the answer is held
    });
    req.end(JSON.stringify(customer('H2')));
    await new Promise((r) => setTimeout(r, 400));
    off();
    expect(inFlightAtHold).to.equal(true);
    expect(heldOne?.inFlight()).to.equal(false);
    const entry = sb.journal.entries({ method: 'POST', path: '/account/customer' }).at(-1);
    expect(entry?.abandoned).to.equal(true);
    expect(entry?.status).to.equal(200);
    expect(sb.state.customers.has('H2')).to.equal(true);
  });
});
