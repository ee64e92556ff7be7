/**
 * The router routes a fetched batch together (issue 17 §2): the changes of different rows at once (their reads can
 * share queries), a row's changes one after the other and in order, and a change whose routing fails is left with
 * its row's later changes to the one-by-one path.
 */
import { expect } from 'chai';
import type { ContractRoutePins } from '../../src/domain/intents/kind';
import type { Row } from '../../src/domain/capture/tables';
import type { ProductView } from '../../src/domain/projection/views';
import { MalformedEventError } from '../../src/domain/errors';
import {
  PinnedRoutingReader,
  predecode,
  routeBatch,
  routeMessage,
  type BatchChange,
  type OdooRoutingReader,
} from '../../src/flows/projection/router';
import { changeRecord, sampleRow } from '../../testkit/capture';

const PRODUCT: ProductView = {
  id: 1,
  defaultCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
  categoryXmlId: 'somconnexio.mobile_service',
  categoryAncestorXmlIds: [],
};

const contractRow = (over: Partial<Row<'contract_contract'>> = {}) =>
  sampleRow('contract_contract', {
    id: 41,
    code: 'SC-0041',
    name: 'SC-0041',
    active: true,
    partner_id: 7,
    is_terminated: false,
    date_start: '2024-01-31',
    mandate_id: 3,
    ...over,
  });

/** Pins in memory that log each call. */
class LoggedPins implements ContractRoutePins {
  readonly rows = new Map<number, number>();
  constructor(private readonly log: string[]) {}
  async pinned(contractId: number) {
    this.log.push(`pinned ${contractId}`);
    return this.rows.get(contractId) ?? null;
  }
  async pin(contractId: number, partnerId: number) {
    this.log.push(`pin ${contractId}`);
    if (!this.rows.has(contractId)) this.rows.set(contractId, partnerId);
    return this.rows.get(contractId)!;
  }
}

/** Odoo whose holder reads take a turn of the event loop and count how many are in flight at once. */
function odoo(holders: Map<number, number>, inFlight: { now: number; max: number }): OdooRoutingReader {
  return {
    products: async (ids) => new Map(ids.includes(PRODUCT.id) ? [[PRODUCT.id, PRODUCT]] : []),
    partnersWithContracts: async (ids) => new Set(ids),
    partnerIdOfContract: async (id) => {
      inFlight.max = Math.max(inFlight.max, ++inFlight.now);
      await new Promise((r) => setImmediate(r));
      inFlight.now--;
      if (id === 43) throw new Error('Odoo unreachable for contract 43');
      return holders.get(id) ?? null;
    },
    contractIdsOfInfo: async () => [],
    contractsInCreation: async () => new Set<number>(),
    technologyServiceCategories: async () => ['somconnexio.mobile_service'],
  };
}

function batch(
  changes: { table: 'contract_contract'; op: 'c' | 'u'; before: unknown; after: unknown }[],
): BatchChange[] {
  return changes.map((c, offset) => {
    const rec = changeRecord(c.table, {
      op: c.op,
      before: c.before as never,
      after: c.after as never,
      offset,
      lsn: 1000 + offset,
    });
    return {
      orderKey: `${c.table}:${rec.key!.toString()}`,
      offset: rec.offset,
      key: rec.key,
      value: rec.value,
    };
  });
}

describe('router: a fetched batch routed together (issue 17 §2)', () => {
  it("routes different rows' changes at once and a row's changes in order (a contract's pin is taken before its next change is routed)", async () => {
    const log: string[] = [];
    const inFlight = { now: 0, max: 0 };
    const pins = new LoggedPins(log);
    const reader = new PinnedRoutingReader(
      odoo(
        new Map([
          [41, 7],
          [42, 9],
        ]),
        inFlight,
      ),
      pins,
    );
    const changes = batch([
      { table: 'contract_contract', op: 'c', before: null, after: contractRow() },
      {
        table: 'contract_contract',
        op: 'c',
        before: null,
        after: contractRow({ id: 42, code: 'SC-0042', partner_id: 9 }),
      },
      {
        table: 'contract_contract',
        op: 'u',
        before: contractRow(),
        after: contractRow({ is_terminated: true, terminate_date: '2024-06-30' }),
      },
    ]);
    const results = await routeBatch('odoo.public.contract_contract', 0, changes, reader, {
      syncPartnerIdentity: false,
    });
    expect(inFlight.max, 'the first changes of contracts 41 and 42 read at once').to.be.at.least(2);
    // contract 41's termination (offset 2) is routed after its creation (offset 0) pinned the contract
    const firstPin = log.indexOf('pin 41');
    const pinnedReads = log.map((l, i) => (l === 'pinned 41' ? i : -1)).filter((i) => i >= 0);
    expect(firstPin).to.be.greaterThan(-1);
    expect(pinnedReads[pinnedReads.length - 1]).to.be.greaterThan(firstPin);
    expect(results.map((r) => r?.messages.map((m) => `${m.aggregateKey} ${m.intent.kind}`))).to.deep.equal([
      ['partner:7 create_subscription'],
      ['partner:9 create_subscription'],
      ['partner:7 terminate_subscription'],
    ]);
  });

  it("a change whose routing fails is left, with its row's later changes, to the one-by-one path; other rows are routed", async () => {
    const log: string[] = [];
    const reader = new PinnedRoutingReader(odoo(new Map([[41, 7]]), { now: 0, max: 0 }), new LoggedPins(log));
    const changes = batch([
      { table: 'contract_contract', op: 'c', before: null, after: contractRow({ id: 43, code: 'SC-0043' }) },
      { table: 'contract_contract', op: 'c', before: null, after: contractRow() },
      {
        table: 'contract_contract',
        op: 'u',
        before: contractRow({ id: 43, code: 'SC-0043' }),
        after: contractRow({ id: 43, code: 'SC-0043', is_terminated: true, terminate_date: '2024-06-30' }),
      },
    ]);
    const results = await routeBatch('odoo.public.contract_contract', 0, changes, reader, {
      syncPartnerIdentity: false,
    });
    expect(results[0], 'the failed change').to.equal(undefined);
    expect(results[2], "its row's later change, not routed ahead of it").to.equal(undefined);
    expect(
      log.filter((l) => l === 'pinned 43'),
      'contract 43 asked once: by the failed change only',
    ).to.have.length(1);
    expect(results[1]?.messages.map((m) => m.aggregateKey)).to.deep.equal(['partner:7']);
  });

  const partnerUpdate = (id: number, street: string, offset: number): BatchChange => {
    const before = sampleRow('res_partner', { id, street: 'C/ Vella 1' });
    const rec = changeRecord('res_partner', {
      op: 'u',
      before,
      after: { ...before, street },
      offset,
      lsn: 2000 + offset,
    });
    return { orderKey: `res_partner:${id}`, offset: rec.offset, key: rec.key, value: rec.value };
  };

  /** Odoo whose batch reads are logged (and fail when told to). */
  function batchOdoo(log: string[], fail = false): OdooRoutingReader {
    return {
      products: async () => new Map(),
      partnersWithContracts: async (ids) => {
        log.push(`partnersWithContracts ${ids.join(',')}`);
        if (fail) throw new Error('Odoo unreachable');
        return new Set(ids.filter((id) => id !== 8));
      },
      partnerIdOfContract: async () => null,
      contractIdsOfInfo: async () => [],
      contractsInCreation: async () => new Set<number>(),
    };
  }

  it("a batch's partner updates: their trigger facts read once for the batch, one intent each for partners with contracts", async () => {
    const log: string[] = [];
    const reader = new PinnedRoutingReader(batchOdoo(log), new LoggedPins(log));
    const changes = [
      partnerUpdate(7, 'C/ Nova 2', 0),
      partnerUpdate(8, 'C/ Nova 3', 1),
      partnerUpdate(7, 'C/ Nova 4', 2),
    ];
    const results = await routeBatch('odoo.public.res_partner', 0, changes, reader, {
      syncPartnerIdentity: false,
    });
    expect(log, 'one read for the three changes, no pin').to.deep.equal(['partnersWithContracts 7,8,7']);
    expect(results.map((r) => r?.messages.map((m) => `${m.aggregateKey} ${m.intent.kind}`))).to.deep.equal([
      ['partner:7 update_customer'],
      [],
      ['partner:7 update_customer'],
    ]);
    expect(results[1]?.filtered).to.equal('no-intent');
    expect(results[0]?.messages[0].intentId).to.not.equal(results[2]?.messages[0].intentId);
  });

  it("when the batch's reads fail, the changes they were for and their rows' later changes are left to the one-by-one path", async () => {
    const log: string[] = [];
    const reader = new PinnedRoutingReader(batchOdoo(log, true), new LoggedPins(log));
    const unchanged = (() => {
      const row = sampleRow('res_partner', { id: 9, street: 'C/ Vella 1' });
      const rec = changeRecord('res_partner', { op: 'u', before: row, after: row, offset: 1, lsn: 2001 });
      return { orderKey: 'res_partner:7', offset: rec.offset, key: rec.key, value: rec.value };
    })();
    const changes = [
      partnerUpdate(7, 'C/ Nova 2', 0),
      unchanged, // irrelevant, but after a failed change of its row: not finished ahead of it
      partnerUpdate(8, 'C/ Nova 3', 2),
    ];
    const results = await routeBatch('odoo.public.res_partner', 0, changes, reader, {
      syncPartnerIdentity: false,
    });
    expect(log, 'the read was asked, and failed').to.deep.equal(['partnersWithContracts 7,8']);
    expect(results).to.deep.equal([undefined, undefined, undefined]);
  });

  it("a malformed change: its row's earlier changes are routed with the batch, it and its row's later ones are left to the one-by-one path", async () => {
    const log: string[] = [];
    const reader = new PinnedRoutingReader(batchOdoo(log), new LoggedPins(log));
    const malformed: BatchChange = {
      orderKey: 'res_partner:7',
      offset: '1',
      key: Buffer.from('{"id":7}'),
      value: Buffer.from('{"before":{"id":7'),
    };
    const changes = [
      partnerUpdate(7, 'C/ Nova 2', 0),
      malformed,
      partnerUpdate(9, 'C/ Nova 3', 2),
      partnerUpdate(7, 'C/ Nova 4', 3),
    ];
    const results = await routeBatch('odoo.public.res_partner', 0, changes, reader, {
      syncPartnerIdentity: false,
    });
    expect(results.map((r) => r?.messages.map((m) => m.aggregateKey))).to.deep.equal([
      ['partner:7'],
      undefined,
      ['partner:9'],
      undefined,
    ]);
  });

  it('a change is decoded as its batch is scheduled (predecode): skipped when it triggers nothing, else routed from what was decoded; a malformed one is met again by its routing', async () => {
    const topic = 'odoo.public.res_partner';
    const log: string[] = [];
    const reader = new PinnedRoutingReader(batchOdoo(log), new LoggedPins(log));
    const opts = { syncPartnerIdentity: false };
    const row = sampleRow('res_partner', { id: 9, street: 'C/ Vella 1' });
    const same = changeRecord('res_partner', { op: 'u', before: row, after: row, offset: 0, lsn: 3000 });
    expect(predecode(topic, 0, same.offset, same.key, same.value), 'no watched column changed').to.equal(
      undefined,
    );

    const moved = partnerUpdate(7, 'C/ Nova 2', 1);
    const pre = predecode(topic, 0, moved.offset, moved.key, moved.value);
    expect(pre).to.not.equal(undefined);
    expect(pre).to.not.have.property('parsed');
    // the record's bytes are not read again: the routing starts from the decoded change
    const [routed] = await routeBatch(
      topic,
      0,
      [{ ...moved, value: Buffer.from('not json'), pre }],
      reader,
      opts,
    );
    expect(routed?.messages.map((m) => `${m.aggregateKey} ${m.intent.kind}`)).to.deep.equal([
      'partner:7 update_customer',
    ]);

    const bad = changeRecord('res_partner', {
      op: 'u',
      before: row,
      after: { ...row, street: 'C/ Nova 5', country_id: 'ES' as never },
      offset: 2,
      lsn: 3002,
    });
    const badPre = predecode(topic, 0, bad.offset, bad.key, bad.value);
    expect(badPre, 'its parsed envelope, for the routing to decode again').to.have.property('parsed');
    const change: BatchChange = {
      orderKey: 'res_partner:9',
      offset: bad.offset,
      key: bad.key,
      value: bad.value,
    };
    expect(await routeBatch(topic, 0, [{ ...change, pre: badPre }], reader, opts)).to.deep.equal([undefined]);
    const err = await routeMessage(topic, 0, bad.offset, bad.key, bad.value, reader, opts, badPre).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(MalformedEventError);
    expect((err as Error).message).to.contain('country_id');
  });
});
