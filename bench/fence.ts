/**
 * The cost of fencing (issue 15 §2) on the projector's ledger path (issue 17 §2): intents/s through the state-database
 * work the projector does for one update_customer intent — the replay check, the check before its one OpenCell call,
 * the outcome with its sync event — without a fence and with one, `concurrency` intents at a time (as
 * OPENCELL_CONCURRENCY), on a fresh state database of the benchmark's own. No OpenCell and no Kafka: the ratio is
 * what the fence adds to the ledger, not to the whole pipeline (bench/ceiling.ts measures that).
 */
import { Pool } from 'pg';
import { Ledger, type IntentResult, type LedgerIntentMessage } from '../src/adapters/postgres/ledger';
import { PgPartitionFence, type FenceToken } from '../src/adapters/postgres/fence';
import { freshStateDb, pool as inPool, suffix } from './common';

export interface FenceOptions {
  intents: number;
  concurrency: number;
}

const result: IntentResult = {
  outcome: 'applied',
  calls: ['updateCustomer'],
  entities: [],
  opencell: { entity: 'customer', code: 'C1' },
  odooRecord: { model: 'res.partner', id: 1 },
  odooRef: null,
  attempt: 1,
};

function message(id: string, partner: number): LedgerIntentMessage {
  return {
    v: 1,
    intentId: id,
    aggregateKey: `partner:${partner}`,
    partnerId: partner,
    contractId: null,
    intent: { kind: 'update_customer' },
    source: {
      table: 'res_partner',
      op: 'u',
      rowId: partner,
      lsn: 1,
      txId: 1,
      tsMs: Date.now(),
      snapshot: false,
      topic: 'odoo.public.res_partner',
      partition: 0,
      offset: '0',
    },
  } as unknown as LedgerIntentMessage;
}

export async function runFenceBench(o: FenceOptions, log: (s: string) => void = console.log) {
  const url = await freshStateDb('fence');
  const db = new Pool({ connectionString: url, max: o.concurrency + 4, application_name: 'bench-fence' });
  try {
    const ledger = new Ledger(db, 'bench.fence-sync-events');
    const fences = new PgPartitionFence(db, `bench-fence-${suffix()}`, 'bench');
    fences.assigned({ intents: [0, 1, 2, 3, 4, 5] });
    const tokens: FenceToken[] = await Promise.all([0, 1, 2, 3, 4, 5].map((p) => fences.token('intents', p)));
    const run = async (label: string, fenced: boolean) => {
      const ids = Array.from({ length: o.intents }, (_, i) => i);
      const t0 = performance.now();
      await inPool(ids, o.concurrency, async (i) => {
        const fence = fenced ? tokens[i % tokens.length] : undefined;
        const msg = message(`${label}-${i}`, i);
        if (await ledger.isFinished(msg.intentId, fence)) throw new Error('not a fresh intent');
        await ledger.checkFence(fence); // before the intent's OpenCell call
        await ledger.finish(msg, result, fence);
      });
      const s = (performance.now() - t0) / 1000;
      return Math.round((o.intents / s) * 10) / 10;
    };
    await run('warm', true);
    // alternate, best of two each: the shared machine's noise hits both
    const unfenced = Math.max(await run('u1', false), await run('u2', false));
    const fenced = Math.max(await run('f1', true), await run('f2', true));
    log(`fence: unfenced ${unfenced} intents/s, fenced ${fenced} intents/s`);
    return {
      intents: o.intents,
      concurrency: o.concurrency,
      roundTripsPerIntent: { unfenced: 2, fenced: 3 },
      unfencedIntentsPerSec: unfenced,
      fencedIntentsPerSec: fenced,
      ratio: Math.round((fenced / unfenced) * 100) / 100,
    };
  } finally {
    await db.end();
  }
}
