/**
 * The cost of fencing (issue 15 §2) on the projector's ledger path (issue 17 §2): intents/s through the state-database
 * work the projector does for one update_customer intent — the replay check, the check before its one OpenCell call,
 * the outcome with its sync event — without a fence and with one, `concurrency` intents at a time (as
 * OPENCELL_CONCURRENCY), on a fresh state database of the benchmark's own. No OpenCell and no Kafka: the ratio is
 * what the fence adds to the ledger, not to the whole pipeline (bench/ceiling.ts measures that). Each is run with the
 * ledger's batching (several intents' checks and outcomes per statement, issue 17) and without (`maxBatch: 1`, one
 * statement per check and outcome, as before it), in the same run; round trips are counted on the pool.
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
  // every statement the ledger sends goes through db.query: counted, to print round trips per intent
  let queries = 0;
  const query = db.query.bind(db) as (...a: unknown[]) => unknown;
  (db as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    queries++;
    return query(...a);
  };
  try {
    const ledgers = {
      batched: new Ledger(db, 'bench.fence-sync-events'),
      perIntent: new Ledger(db, 'bench.fence-sync-events', { maxBatch: 1 }),
    };
    const fences = new PgPartitionFence(db, `bench-fence-${suffix()}`, 'bench');
    fences.assigned({ intents: [0, 1, 2, 3, 4, 5] });
    const tokens: FenceToken[] = await Promise.all([0, 1, 2, 3, 4, 5].map((p) => fences.token('intents', p)));
    const run = async (label: string, fenced: boolean, ledger: Ledger) => {
      const ids = Array.from({ length: o.intents }, (_, i) => i);
      const q0 = queries;
      const t0 = performance.now();
      await inPool(ids, o.concurrency, async (i) => {
        const fence = fenced ? tokens[i % tokens.length] : undefined;
        const msg = message(`${label}-${i}`, i);
        if (await ledger.isFinished(msg.intentId, fence)) throw new Error('not a fresh intent');
        await ledger.checkFence(fence); // before the intent's OpenCell call
        await ledger.finish(msg, result, fence);
      });
      const s = (performance.now() - t0) / 1000;
      return {
        perSec: Math.round((o.intents / s) * 10) / 10,
        roundTrips: Math.round(((queries - q0) / o.intents) * 100) / 100,
      };
    };
    await run('warm', true, ledgers.batched);
    await run('warm1', true, ledgers.perIntent);
    // alternate, best of two each: the shared machine's noise hits all four
    const best = async (label: string, fenced: boolean, ledger: Ledger) => {
      const a = await run(`${label}1`, fenced, ledger);
      const b = await run(`${label}2`, fenced, ledger);
      return a.perSec >= b.perSec ? a : b;
    };
    const before = {
      unfenced: await best('u-one', false, ledgers.perIntent),
      fenced: await best('f-one', true, ledgers.perIntent),
    };
    const after = {
      unfenced: await best('u-batch', false, ledgers.batched),
      fenced: await best('f-batch', true, ledgers.batched),
    };
    log(
      `fence, one statement per check/outcome: unfenced ${before.unfenced.perSec} intents/s (${before.unfenced.roundTrips} round trips), fenced ${before.fenced.perSec} intents/s (${before.fenced.roundTrips})`,
    );
    log(
      `fence, batched: unfenced ${after.unfenced.perSec} intents/s (${after.unfenced.roundTrips} round trips), fenced ${after.fenced.perSec} intents/s (${after.fenced.roundTrips})`,
    );
    return {
      intents: o.intents,
      concurrency: o.concurrency,
      roundTripsPerIntent: { unfenced: after.unfenced.roundTrips, fenced: after.fenced.roundTrips },
      unfencedIntentsPerSec: after.unfenced.perSec,
      fencedIntentsPerSec: after.fenced.perSec,
      ratio: Math.round((after.fenced.perSec / after.unfenced.perSec) * 100) / 100,
      unbatched: {
        roundTripsPerIntent: { unfenced: before.unfenced.roundTrips, fenced: before.fenced.roundTrips },
        unfencedIntentsPerSec: before.unfenced.perSec,
        fencedIntentsPerSec: before.fenced.perSec,
      },
      batchedOverUnbatched: {
        unfenced: Math.round((after.unfenced.perSec / before.unfenced.perSec) * 100) / 100,
        fenced: Math.round((after.fenced.perSec / before.fenced.perSec) * 100) / 100,
      },
    };
  } finally {
    await db.end();
  }
}
