import { expect } from 'chai';
import { OUTBOX_CHANNEL, OutboxWakeup } from '../../src/adapters/postgres/outbox-wakeup';

/** A pool whose queries stay open until the test settles them. */
class FakePool {
  readonly calls: { text: string; values: unknown[]; settle: (ok: boolean) => void }[] = [];
  query = (text: string, values: unknown[]) =>
    new Promise<unknown>((resolve, reject) =>
      this.calls.push({
        text,
        values,
        settle: (ok) => (ok ? resolve({ rows: [] }) : reject(new Error('connection refused'))),
      }),
    );
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('outbox wake-up (NOTIFY after the writer commits)', () => {
  it('sends one NOTIFY on the relay channel, outside any transaction of the writer', async () => {
    const pool = new FakePool();
    new OutboxWakeup(pool as never, 0).poke();
    expect(pool.calls).to.have.length(1);
    expect(pool.calls[0].text).to.match(/^SELECT pg_notify\(\$1, ''\)$/);
    expect(pool.calls[0].values).to.deep.equal([OUTBOX_CHANNEL]);
  });

  it('coalesces: pokes made while a NOTIFY is in flight give exactly one more after it', async () => {
    const pool = new FakePool();
    const w = new OutboxWakeup(pool as never, 0);
    for (let i = 0; i < 50; i++) w.poke();
    expect(pool.calls).to.have.length(1);
    pool.calls[0].settle(true);
    await flush();
    expect(pool.calls).to.have.length(2);
    pool.calls[1].settle(true);
    await flush();
    expect(pool.calls, 'nothing was poked meanwhile').to.have.length(2);
    expect(w.sent).to.equal(2);
  });

  it('sends at most one NOTIFY per interval', async () => {
    const pool = new FakePool();
    const w = new OutboxWakeup(pool as never, 60);
    const t0 = Date.now();
    w.poke();
    pool.calls[0].settle(true);
    await flush();
    w.poke();
    expect(pool.calls, 'the second waits for the interval').to.have.length(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(pool.calls).to.have.length(2);
    expect(Date.now() - t0).to.be.at.least(60);
  });

  it('a failed NOTIFY neither throws nor stops later wake-ups (the relay polls anyway)', async () => {
    const pool = new FakePool();
    const w = new OutboxWakeup(pool as never, 0);
    w.poke();
    pool.calls[0].settle(false);
    await flush();
    w.poke();
    expect(pool.calls).to.have.length(2);
  });
});
