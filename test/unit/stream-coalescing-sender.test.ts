import { expect } from 'chai';
import type { ProducerBatch, RecordMetadata } from 'kafkajs';
import { CoalescingSender } from '../../src/adapters/kafka/coalescing-sender';

/** A producer whose requests stay open until the test settles them. */
class FakeProducer {
  readonly requests: { batch: ProducerBatch; resolve: () => void; reject: (e: unknown) => void }[] = [];
  sendBatch = (batch: ProducerBatch): Promise<RecordMetadata[]> =>
    new Promise((resolve, reject) => this.requests.push({ batch, resolve: () => resolve([]), reject }));
  keys(i: number): string[] {
    return (this.requests[i].batch.topicMessages ?? []).flatMap((t) =>
      t.messages.map((m) => `${t.topic}:${String(m.key)}`),
    );
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const msg = (key: string) => ({ key, value: key });

describe('coalescing sender', () => {
  it('sends a lone message at once, in its own request', async () => {
    const p = new FakeProducer();
    const s = new CoalescingSender(p, { acks: -1 });
    const done = s.send('t', [msg('a')]);
    await tick();
    expect(p.requests).to.have.length(1);
    expect(p.keys(0)).to.deep.equal(['t:a']);
    expect(p.requests[0].batch.acks).to.equal(-1);
    p.requests[0].resolve();
    await done;
  });

  it('joins the sends made while a request is in flight into the next request, in call order', async () => {
    const p = new FakeProducer();
    const s = new CoalescingSender(p, { maxInFlight: 1 });
    const first = s.send('t', [msg('a')]);
    await tick();
    const rest = [s.send('t', [msg('b')]), s.send('u', [msg('c')]), s.send('t', [msg('d'), msg('e')])];
    await tick();
    expect(p.requests, 'nothing leaves while the first request is in flight').to.have.length(1);
    expect(s.waiting).to.equal(4);
    p.requests[0].resolve();
    await first;
    await tick();
    expect(p.requests).to.have.length(2);
    expect(p.keys(1)).to.deep.equal(['t:b', 't:d', 't:e', 'u:c']);
    p.requests[1].resolve();
    await Promise.all(rest);
    expect(s.stats).to.deep.equal({ requests: 2, messages: 5, largestRequest: 4 });
  });

  it('settles each caller with its own request: a failed request rejects only its senders', async () => {
    const p = new FakeProducer();
    const s = new CoalescingSender(p, { maxInFlight: 1 });
    const first = s.send('t', [msg('a')]);
    await tick();
    const second = s.send('t', [msg('b')]);
    p.requests[0].reject(new Error('broker gone'));
    const outcome = await first.then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    expect(outcome).to.equal('broker gone');
    await tick();
    p.requests[1].resolve();
    await second;
  });

  it('splits at maxMessages and keeps at most maxInFlight requests open', async () => {
    const p = new FakeProducer();
    const s = new CoalescingSender(p, { maxInFlight: 2, maxMessages: 2 });
    const sends = ['a', 'b', 'c', 'd', 'e'].map((k) => s.send('t', [msg(k)]));
    await tick();
    expect(p.requests.map((_, i) => p.keys(i))).to.deep.equal([
      ['t:a', 't:b'],
      ['t:c', 't:d'],
    ]);
    p.requests[0].resolve();
    await tick();
    await tick();
    expect(p.requests).to.have.length(3);
    expect(p.keys(2)).to.deep.equal(['t:e']);
    p.requests[1].resolve();
    p.requests[2].resolve();
    await Promise.all(sends);
  });

  it('resolves an empty send without a request', async () => {
    const p = new FakeProducer();
    await new CoalescingSender(p).send('t', []);
    await tick();
    expect(p.requests).to.have.length(0);
  });
});
