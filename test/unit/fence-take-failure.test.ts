import { expect } from 'chai';
import type { Pool } from 'pg';
import { PgPartitionFence } from '../../src/adapters/postgres/fence';

describe('partition fence: a take that fails at assignment', () => {
  it('is no unhandled rejection (the process lives on) and is taken again by the next token request', async () => {
    let calls = 0;
    const pool = {
      query: async () => {
        calls++;
        if (calls === 1) throw new Error('sorry, too many clients already');
        return { rows: [{ epoch: '5' }] };
      },
    } as unknown as Pool;
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const fence = new PgPartitionFence(pool, 'g', 'test');
      fence.assigned({ intents: [0] });
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).to.deep.equal([]);
      let failure: Error | undefined;
      await fence.token('intents', 0).catch((e: Error) => (failure = e));
      expect(failure?.message).to.match(/too many clients/);
      expect((await fence.token('intents', 0)).epoch).to.equal('5');
      expect(calls).to.equal(2);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
