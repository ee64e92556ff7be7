/**
 * Issue 15 §8 (a): the router keys a contract's intents by a pinned partner, so a partner change in Odoo does not
 * split one contract's intents across two queues (partitions) and lose their order.
 */
import { expect } from 'chai';
import type { ContractRoutePins } from '../../src/domain/intents/kind';
import type { Row } from '../../src/domain/capture/tables';
import type { ProductView } from '../../src/domain/projection/views';
import { PinnedRoutingReader, routeMessage, type OdooRoutingReader } from '../../src/flows/projection/router';
import { changeRecord, sampleRow } from '../../testkit/capture';

class MemoryPins implements ContractRoutePins {
  readonly rows = new Map<number, number>();
  async pinned(contractId: number) {
    return this.rows.get(contractId) ?? null;
  }
  async pin(contractId: number, partnerId: number) {
    if (!this.rows.has(contractId)) this.rows.set(contractId, partnerId);
    return this.rows.get(contractId)!;
  }
}

const PRODUCT: ProductView = {
  id: 1,
  defaultCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
  categoryXmlId: 'somconnexio.mobile_service',
  categoryAncestorXmlIds: [],
};

/** Odoo as the router reads it; `holder` is the contract's partner now. */
function odoo(state: { holder: Map<number, number> }): OdooRoutingReader {
  return {
    products: async (ids) => new Map(ids.includes(PRODUCT.id) ? [[PRODUCT.id, PRODUCT]] : []),
    partnersWithContracts: async (ids) => new Set(ids),
    partnerIdOfContract: async (id) => state.holder.get(id) ?? null,
    contractIdsOfInfo: async () => [41],
    contractsInCreation: async () => new Set<number>(),
    technologyServiceCategories: async () => ['somconnexio.mobile_service'],
  };
}

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
const lineRow = (over: Partial<Row<'contract_line'>> = {}) =>
  sampleRow('contract_line', {
    id: 100,
    contract_id: 41,
    product_id: 1,
    name: 'Tarifa',
    quantity: 1,
    date_start: '2024-01-31',
    date_end: null,
    is_canceled: false,
    active: true,
    ...over,
  });

let offset = 0;
async function route<T extends 'contract_contract' | 'contract_line'>(
  reader: PinnedRoutingReader,
  table: T,
  op: 'c' | 'u' | 'd',
  before: Row<T> | null,
  after: Row<T> | null,
) {
  const rec = changeRecord(table, { op, before, after, offset: offset++, lsn: 1000 + offset });
  const r = await routeMessage(rec.topic, rec.partition, rec.offset, rec.key, rec.value, reader, {
    syncPartnerIdentity: false,
  });
  return r.messages.map((m) => ({ key: m.aggregateKey, kind: m.intent.kind }));
}

describe('routing by a pinned partner (issue 15 §8 a)', () => {
  it('regression (issue 15 §8 a): a contract keeps one queue across a partner change — its intents before, at and after the change share the key', async () => {
    const state = { holder: new Map([[41, 7]]) };
    const pins = new MemoryPins();
    const reader = new PinnedRoutingReader(odoo(state), pins);

    const created = await route(reader, 'contract_contract', 'c', null, contractRow());
    const line = await route(reader, 'contract_line', 'c', null, lineRow());
    // the holder changes in Odoo: the router now reads partner 8 for this contract
    state.holder.set(41, 8);
    const moved = await route(
      reader,
      'contract_contract',
      'u',
      contractRow(),
      contractRow({ partner_id: 8 }),
    );
    const ended = await route(reader, 'contract_line', 'u', lineRow(), lineRow({ date_end: '2024-06-30' }));
    const terminated = await route(
      reader,
      'contract_contract',
      'u',
      contractRow({ partner_id: 8 }),
      contractRow({ partner_id: 8, is_terminated: true, terminate_date: '2024-06-30' }),
    );

    expect(created).to.deep.equal([{ key: 'partner:7', kind: 'create_subscription' }]);
    expect(line).to.deep.equal([{ key: 'partner:7', kind: 'activate_service' }]);
    expect(moved).to.deep.equal([{ key: 'partner:7', kind: 'unsynced_change' }]);
    expect(ended).to.deep.equal([{ key: 'partner:7', kind: 'terminate_service' }]);
    expect(terminated).to.deep.equal([{ key: 'partner:7', kind: 'terminate_subscription' }]);
    expect(pins.rows.get(41), 'one pin, never moved').to.equal(7);
  });

  it('a contract first seen at its partner change is pinned to the partner before the change (where its subscription is)', async () => {
    const state = { holder: new Map([[41, 8]]) };
    const reader = new PinnedRoutingReader(odoo(state), new MemoryPins());
    const moved = await route(
      reader,
      'contract_contract',
      'u',
      contractRow(),
      contractRow({ partner_id: 8 }),
    );
    const line = await route(reader, 'contract_line', 'c', null, lineRow({ id: 101 }));
    expect(moved).to.deep.equal([{ key: 'partner:7', kind: 'unsynced_change' }]);
    expect(line).to.deep.equal([{ key: 'partner:7', kind: 'activate_service' }]);
  });

  it('a deleted contract Odoo no longer has is routed by the partner its last image names (pinned or not)', async () => {
    const state = { holder: new Map<number, number>() };
    const reader = new PinnedRoutingReader(odoo(state), new MemoryPins());
    expect(await route(reader, 'contract_contract', 'd', contractRow(), null)).to.deep.equal([
      { key: 'partner:7', kind: 'unsynced_change' },
    ]);
  });

  it('two contracts of one partner share its queue (customer-account numbering stays serialised)', async () => {
    const state = {
      holder: new Map([
        [41, 7],
        [42, 7],
      ]),
    };
    const reader = new PinnedRoutingReader(odoo(state), new MemoryPins());
    const a = await route(reader, 'contract_contract', 'c', null, contractRow());
    const b = await route(reader, 'contract_contract', 'c', null, contractRow({ id: 42, code: 'SC-0042' }));
    expect([...a, ...b].map((m) => m.key)).to.deep.equal(['partner:7', 'partner:7']);
  });
});
