/**
 * Benchmark 1 — the filter + projection stage, pure and in-process: Debezium change events (a realistic mix, most
 * of them irrelevant to billing) through decode → relevance filter → changed watched fields → trigger rules →
 * intent ids, next to a raw JSON.parse of the same bytes. Target: at least half the raw parse rate.
 */
import { decodeParsedChange, RowChange } from '../src/domain/capture';
import { changeRecord, FakeRecord, sampleRow } from '../testkit/capture';
import { changedWatchedFields, isIrrelevant, parseUnlessIrrelevant } from '../src/domain/projection/filter';
import { detectIntents, TriggerContext } from '../src/domain/projection/triggers';
import { intentIdOf } from '../src/domain/intents/message';
import type { ProductView } from '../src/domain/projection/views';

export interface FilterBenchResult {
  events: number;
  bytes: number;
  relevantShare: number;
  intents: number;
  parseEventsPerSec: number;
  stageEventsPerSec: number;
  ratio: number;
  peakRssMiB: number;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** The mix: 70 % partner updates of captured-but-unwatched columns or no-op churn that passed the connector,
 * 10 % invoice table changes, 8 % partner address changes, 6 % new contract lines, 4 % contract changes,
 * 2 % ISP info phone changes. */
export function makeEvents(n: number, seed = 7): FakeRecord[] {
  const r = rng(seed);
  const out: FakeRecord[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    const id = 1 + Math.floor(r() * 50_000);
    const off = { offset: i, lsn: 1_000_000 + i * 64, txId: 500_000 + i };
    if (x < 0.7) {
      const before = sampleRow('res_partner', { id, lang: 'ca_ES', parent_id: null });
      const after = { ...before, lang: 'es_ES' }; // captured, not watched by any trigger
      out.push(changeRecord('res_partner', { op: 'u', before, after, ...off }));
    } else if (x < 0.8) {
      const before = sampleRow('account_move', { id, state: 'draft' });
      out.push(
        changeRecord('account_move', { op: 'u', before, after: { ...before, state: 'posted' }, ...off }),
      );
    } else if (x < 0.88) {
      const before = sampleRow('res_partner', { id, street: 'C/ Major 1' });
      out.push(
        changeRecord('res_partner', {
          op: 'u',
          before,
          after: { ...before, street: `C/ Nova ${i % 90}` },
          ...off,
        }),
      );
    } else if (x < 0.94) {
      const after = sampleRow('contract_line', { id, contract_id: 1 + (id % 9000), product_id: 1 + (i % 3) });
      out.push(changeRecord('contract_line', { op: 'c', before: null, after, ...off }));
    } else if (x < 0.98) {
      const before = sampleRow('contract_contract', { id, is_terminated: false });
      const after = { ...before, is_terminated: true, terminate_date: '2025-03-31' };
      out.push(changeRecord('contract_contract', { op: 'u', before, after, ...off }));
    } else {
      const before = sampleRow('mobile_service_contract_info', { id, phone_number: '600000000' });
      out.push(
        changeRecord('mobile_service_contract_info', {
          op: 'u',
          before,
          after: { ...before, phone_number: `6${String(i).padStart(8, '0')}` },
          ...off,
        }),
      );
    }
  }
  return out;
}

const PRODUCTS: ProductView[] = [
  {
    id: 1,
    defaultCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
    categoryXmlId: 'somconnexio.mobile_service',
    categoryAncestorXmlIds: [],
  },
  {
    id: 2,
    defaultCode: 'CH_SC_OSO_SIM',
    categoryXmlId: 'somconnexio.mobile_oneshot_service',
    categoryAncestorXmlIds: [],
  },
  {
    id: 3,
    defaultCode: 'SE_SC_REC_BA_F_600',
    categoryXmlId: 'somconnexio.broadband_fiber_service',
    categoryAncestorXmlIds: [],
  },
];

const ctx: TriggerContext = {
  syncPartnerIdentity: true,
  product: (id) => PRODUCTS[id - 1],
  partnerHasContracts: () => true,
};

function stage(rec: FakeRecord): number {
  // The router's path: the fast paths on the bytes and the parsed envelope, then the full typed decode of what may
  // matter.
  const pre = parseUnlessIrrelevant(rec.topic, rec.partition, rec.offset, rec.value);
  if (pre === null) return 0;
  const change = decodeParsedChange(rec.topic, rec.partition, rec.offset, rec.key, pre.parsed);
  if (change.kind !== 'row' || isIrrelevant(change as RowChange)) return 0;
  const fields = changedWatchedFields(change as RowChange);
  const intents = detectIntents(change as RowChange, ctx, fields);
  let i = 0;
  for (const intent of intents) {
    intentIdOf(
      {
        table: change.table,
        op: change.op,
        rowId: null,
        lsn: change.source.lsn,
        txId: change.source.txId,
        tsMs: change.source.tsMs,
        snapshot: false,
        topic: rec.topic,
        partition: rec.partition,
        offset: rec.offset,
      },
      intent,
      i++,
    );
  }
  return intents.length;
}

export function runFilterBench(n = 200_000): FilterBenchResult {
  const events = makeEvents(n);
  const bytes = events.reduce((s, e) => s + (e.value?.length ?? 0) + (e.key?.length ?? 0), 0);
  let peak = process.memoryUsage().rss;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  // warm-up
  for (let i = 0; i < 5000; i++) {
    JSON.parse(events[i].value!.toString('utf8'));
    stage(events[i]);
  }
  const best = (fn: () => void) => {
    let bestMs = Infinity;
    for (let round = 0; round < 3; round++) {
      const t0 = process.hrtime.bigint();
      fn();
      bestMs = Math.min(bestMs, Number(process.hrtime.bigint() - t0) / 1e6);
      sample();
    }
    return bestMs;
  };
  const parseMs = best(() => {
    for (const e of events) {
      if (e.key) JSON.parse(e.key.toString('utf8'));
      JSON.parse(e.value!.toString('utf8'));
    }
  });
  let intents = 0;
  let relevant = 0;
  const stageMs = best(() => {
    intents = 0;
    relevant = 0;
    for (const e of events) {
      const k = stage(e);
      intents += k;
      if (k > 0) relevant++;
    }
  });
  return {
    events: n,
    bytes,
    relevantShare: relevant / n,
    intents,
    parseEventsPerSec: Math.round(n / (parseMs / 1000)),
    stageEventsPerSec: Math.round(n / (stageMs / 1000)),
    ratio: n / stageMs / (n / parseMs),
    peakRssMiB: Math.round(peak / 2 ** 20),
  };
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 200_000);
  console.log(JSON.stringify(runFilterBench(n), null, 2));
}
