import { expect } from 'chai';
import { Coalescer, type Pending } from '../../src/core/coalescer';

/** A batch runner that records its batches and answers each when told to (`release`). */
function recorder() {
  const batches: { key: string; reqs: number[]; release: () => void; fail: (e: Error) => void }[] = [];
  const run = (key: string, batch: readonly Pending<number, string>[]) =>
    new Promise<void>((resolve, reject) => {
      batches.push({
        key,
        reqs: batch.map((p) => p.req),
        release: () => {
          for (const p of batch) p.resolve(`${key}:${p.req}`);
          resolve();
        },
        fail: reject,
      });
    });
  return { batches, run };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('coalescer: requests made together leave together (src/core/coalescer.ts)', () => {
  it('requests made in the same turn of the event loop leave in one batch per key, each answered with its own result', async () => {
    const { batches, run } = recorder();
    const c = new Coalescer(run, { maxBatch: 10, maxInFlight: 1 });
    const answers = [c.submit('a', 1), c.submit('a', 2), c.submit('b', 3)];
    await turn();
    expect(batches.map((b) => [b.key, b.reqs])).to.deep.equal([
      ['a', [1, 2]],
      ['b', [3]],
    ]);
    batches.forEach((b) => b.release());
    expect(await Promise.all(answers)).to.deep.equal(['a:1', 'a:2', 'b:3']);
  });

  it('a batch in flight takes no late request: what is asked meanwhile leaves in the next batch, after it', async () => {
    const { batches, run } = recorder();
    const c = new Coalescer(run, { maxBatch: 10, maxInFlight: 1 });
    const first = c.submit('k', 1);
    await turn();
    const late = [c.submit('k', 2), c.submit('k', 3)];
    await turn();
    expect(
      batches.map((b) => b.reqs),
      'one batch in flight',
    ).to.deep.equal([[1]]);
    batches[0].release();
    expect(await first).to.equal('k:1');
    await turn();
    expect(batches.map((b) => b.reqs)).to.deep.equal([[1], [2, 3]]);
    batches[1].release();
    expect(await Promise.all(late)).to.deep.equal(['k:2', 'k:3']);
  });

  it('a request the batch does not accept, and those after it, leave in the next batch in order; maxBatch bounds a batch', async () => {
    const { batches, run } = recorder();
    const c = new Coalescer(run, {
      maxBatch: 3,
      maxInFlight: 1,
      accepts: (batch, next) => !batch.includes(next),
    });
    const all = [1, 2, 1, 3, 4, 5, 6].map((n) => c.submit('k', n));
    await turn();
    for (let i = 0; i < 3; i++) {
      batches[i].release();
      await turn();
    }
    expect(batches.map((b) => b.reqs)).to.deep.equal([
      [1, 2],
      [1, 3, 4],
      [5, 6],
    ]);
    expect(await Promise.all(all)).to.have.length(7);
  });

  it('maxBatch 1 sends every request alone at once, as many in flight as asked', () => {
    const { batches, run } = recorder();
    const c = new Coalescer(run, { maxBatch: 1, maxInFlight: Number.POSITIVE_INFINITY });
    void c.submit('k', 1);
    void c.submit('k', 2);
    expect(
      batches.map((b) => b.reqs),
      'sent synchronously',
    ).to.deep.equal([[1], [2]]);
  });

  it('a failed batch rejects each of its requests with its error, and the next batch still leaves', async () => {
    const { batches, run } = recorder();
    const c = new Coalescer(run, { maxBatch: 10, maxInFlight: 1 });
    const failing = [c.submit('k', 1), c.submit('k', 2)].map((p) => p.catch((e: Error) => e.message));
    await turn();
    const next = c.submit('k', 3);
    batches[0].fail(new Error('connection lost'));
    expect(await Promise.all(failing)).to.deep.equal(['connection lost', 'connection lost']);
    await turn();
    batches[1].release();
    expect(await next).to.equal('k:3');
  });

  it('a request the runner leaves unanswered is rejected, not left waiting', async () => {
    const c = new Coalescer<number, string>(async (_k, batch) => batch[0].resolve('only the first'), {
      maxBatch: 10,
      maxInFlight: 1,
    });
    const [a, b] = [c.submit('k', 1), c.submit('k', 2).catch((e: Error) => e.message)];
    expect(await a).to.equal('only the first');
    expect(await b).to.equal('coalesced request left unanswered');
  });

  it('regression: a run that destructures its requests settles them (the ledger reads `{ req, resolve, reject }`)', async () => {
    const c = new Coalescer<number, string>(
      async (_key, batch) => {
        for (const { req, resolve, reject } of batch)
          if (req % 2) resolve(`odd ${req}`);
          else reject(new Error(`even ${req}`));
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const answers = await Promise.allSettled([c.submit('k', 1), c.submit('k', 2)]);
    expect(
      answers.map((a) => (a.status === 'fulfilled' ? a.value : (a.reason as Error).message)),
    ).to.deep.equal(['odd 1', 'even 2']);
  });

  it('a request its run leaves unanswered is rejected, and one it answered twice keeps its first answer', async () => {
    const c = new Coalescer<number, string>(
      async (_key, batch) => {
        batch[0].resolve('first');
        batch[0].resolve('second');
        batch[0].reject(new Error('late'));
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const answers = await Promise.allSettled([c.submit('k', 1), c.submit('k', 2)]);
    expect(answers[0]).to.deep.equal({ status: 'fulfilled', value: 'first' });
    expect(answers[1].status).to.equal('rejected');
    expect(((answers[1] as PromiseRejectedResult).reason as Error).message).to.equal(
      'coalesced request left unanswered',
    );
  });
});
