import { expect } from 'chai';
import { decodeChange } from '../../src/domain/capture/envelope';
import type { RowChange, RowOp } from '../../src/domain/capture/envelope';
import { TABLES, generateIncludeLists } from '../../src/domain/capture/tables';
import type { Row, TableName } from '../../src/domain/capture/tables';
import { changedBillingFields } from '../../src/domain/capture/diff';
import { changeRecord, sampleRow } from '../../testkit/capture';
import {
  ROW_TRIGGER_TABLES,
  WATCHED,
  WATCHED_ISP_INFO_TABLES,
  changedWatchedFields,
  detectIntents,
  isIrrelevant,
  opMayTrigger,
  toIsoDate,
  triggeringTables,
  watchedColumns,
} from '../../src/domain/projection';
import type { Intent, ProductView, TriggerContext } from '../../src/domain/projection';

// Dates as capture's decodeChange delivers them ('YYYY-MM-DD'; Debezium sends epoch days, e.g. 19904).
const DAY_2024_06_30 = '2024-06-30';
const DAY_2024_05_31 = '2024-05-31';
const DAY_2024_07_31 = '2024-07-31';
const DAY_2024_07_01 = '2024-07-01';

const products: Record<number, ProductView> = {
  1: {
    id: 1,
    defaultCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
    categoryXmlId: 'somconnexio.mobile_service',
    categoryAncestorXmlIds: ['product.product_category_all'],
  },
  2: {
    id: 2,
    defaultCode: 'SE_SC_REC_BA_F_600',
    categoryXmlId: 'somconnexio.broadband_fiber_service',
    categoryAncestorXmlIds: ['somconnexio.broadband_service'],
  },
  3: {
    id: 3,
    defaultCode: 'SE_SC_REC_FILMIN',
    categoryXmlId: 'filmin_somconnexio.filmin_service',
    categoryAncestorXmlIds: ['multimedia_somconnexio.multimedia_service'],
  },
  4: {
    id: 4,
    defaultCode: 'SE_SC_REC_SB_AGENT',
    categoryXmlId: 'switchboard_somconnexio.switchboard_category',
    categoryAncestorXmlIds: [],
  },
  5: {
    id: 5,
    defaultCode: 'SE_SC_REC_SB_EXTRA_1',
    categoryXmlId: 'switchboard_somconnexio.switchboard_extras_service',
    categoryAncestorXmlIds: ['switchboard_somconnexio.switchboard_additional_service'],
  },
  6: {
    id: 6,
    defaultCode: 'SE_SC_REC_SB_EXTRA_2',
    categoryXmlId: 'switchboard_somconnexio.switchboard_extras_service',
    categoryAncestorXmlIds: ['switchboard_somconnexio.switchboard_additional_service'],
  },
  7: {
    id: 7,
    defaultCode: 'SE_SC_REC_BA_IPV4',
    categoryXmlId: 'somconnexio.broadband_additional_service',
    categoryAncestorXmlIds: [],
  },
  8: {
    id: 8,
    defaultCode: 'CH_SC_OSO_DADES_ADDICIONALS',
    categoryXmlId: 'somconnexio.mobile_oneshot_service',
    categoryAncestorXmlIds: [],
  },
  9: {
    id: 9,
    defaultCode: 'CH_SC_OSO_ALTA_PARELL_EXISTENT',
    categoryXmlId: 'somconnexio.broadband_oneshot_adsl_service',
    categoryAncestorXmlIds: [],
  },
  10: {
    id: 10,
    defaultCode: 'CH_SC_OSO_ROUTER_SHIPPING',
    categoryXmlId: 'somconnexio.broadband_oneshot_service',
    categoryAncestorXmlIds: [],
  },
  11: {
    id: 11,
    defaultCode: 'SC_OTHER_DONATION',
    categoryXmlId: 'somconnexio.other_products',
    categoryAncestorXmlIds: [],
  },
};

const ctx = (over: Partial<TriggerContext> = {}): TriggerContext => ({
  syncPartnerIdentity: false,
  product: (id) => products[id],
  technologyServiceCategories: [
    'somconnexio.mobile_service',
    'somconnexio.broadband_fiber_service',
    'switchboard_somconnexio.switchboard_category',
  ],
  partnerHasContracts: () => true,
  contractInCreation: () => false,
  ...over,
});

const contractRow = (over: Partial<Row<'contract_contract'>> = {}): Row<'contract_contract'> =>
  sampleRow('contract_contract', {
    id: 41,
    name: 'SC-0041',
    code: 'SC-0041',
    active: true,
    partner_id: 7,
    is_terminated: false,
    terminate_date: null,
    date_start: '2024-01-31',
    date_end: null,
    mandate_id: 3,
    mobile_contract_service_info_id: 5,
    router_4G_service_contract_info_id: null,
    ...over,
  });
const lineRow = (over: Partial<Row<'contract_line'>> = {}): Row<'contract_line'> =>
  sampleRow('contract_line', {
    id: 100,
    contract_id: 41,
    product_id: 1,
    name: 'Tarifa',
    quantity: 1,
    date_start: '2024-01-31',
    date_end: null,
    is_canceled: false,
    specific_price: 17.36,
    active: true,
    ...over,
  });
const partnerRow = (over: Partial<Row<'res_partner'>> = {}): Row<'res_partner'> =>
  sampleRow('res_partner', {
    id: 7,
    ref: '1234',
    name: 'Anna Puig',
    firstname: 'Anna',
    lastname: 'Puig',
    vat: 'ES12345678Z',
    email: 'anna@example.org',
    mobile: '600111222',
    phone: null,
    street: 'C/ Major 1',
    street2: null,
    full_street: 'C/ Major 1',
    zip: '08001',
    city: 'Barcelona',
    state_id: 415,
    country_id: 68,
    lang: 'ca_ES',
    type: 'contact',
    is_company: false,
    active: true,
    block_contract_creation_in_OC: false,
    ...over,
  });

/**
 * A change built the way the pipeline gets it: the rows are encoded as Debezium's JSON converter sends them
 * (epoch days, decimal strings, JSON-string translations, extra columns such as write_date passed through) and
 * decoded by capture's decodeChange.
 */
function change<T extends TableName>(
  table: T,
  op: RowOp,
  before: Partial<Row<T>> | Record<string, unknown> | null,
  after: Partial<Row<T>> | Record<string, unknown> | null,
): RowChange {
  const full = (r: Record<string, unknown> | null) => (r === null ? null : { ...sampleRow(table), ...r });
  const rec = changeRecord(table, { op, before: full(before), after: full(after) });
  const decoded = decodeChange(rec.topic, rec.partition, rec.offset, rec.key, rec.value);
  if (decoded.kind !== 'row') throw new Error(`expected a row change, got ${decoded.kind}`);
  return decoded;
}
const create = <T extends TableName>(table: T, after: Partial<Row<T>> | Record<string, unknown>) =>
  change(table, 'c', null, after);
const update = <T extends TableName>(
  table: T,
  before: Partial<Row<T>> | Record<string, unknown>,
  after: Partial<Row<T>> | Record<string, unknown>,
) => change(table, 'u', before, after);

describe('projections: contract listener triggers (T1, T2, W2)', () => {
  it('contract created → exactly 1 create_subscription(contract id)', () => {
    expect(detectIntents(create('contract_contract', contractRow()), ctx())).to.deep.equal([
      { kind: 'create_subscription', contractId: 41 },
    ]);
  });
  it('is_terminated false → true → exactly 1 terminate_subscription at terminate_date', () => {
    const before = contractRow();
    const after = contractRow({
      is_terminated: true,
      terminate_date: DAY_2024_06_30,
      date_end: DAY_2024_07_31,
    });
    expect(detectIntents(update('contract_contract', before, after), ctx())).to.deep.equal([
      { kind: 'terminate_subscription', contractId: 41, date: '2024-06-30' },
    ]);
  });
  it('a later write on a terminated contract (is_terminated unchanged) → nothing', () => {
    const before = contractRow({ is_terminated: true, terminate_date: DAY_2024_06_30 });
    expect(
      detectIntents(
        update('contract_contract', before, { ...before, terminate_date: DAY_2024_07_01 }),
        ctx(),
      ),
    ).to.deep.equal([]);
  });
  it('un-terminating (true → false) is not synced', () => {
    const before = contractRow({ is_terminated: true, terminate_date: DAY_2024_06_30 });
    expect(detectIntents(update('contract_contract', before, contractRow()), ctx())).to.deep.equal([]);
  });
  it('irrelevant update (name, write_date, computed churn) → nothing', () => {
    const before = { ...contractRow(), name: 'old', write_date: 1735689600000000 };
    const after = { ...contractRow(), name: 'new', write_date: 1735689600000001 };
    const change = update('contract_contract', before, after);
    expect(detectIntents(change, ctx())).to.deep.equal([]);
    expect(isIrrelevant(change)).to.equal(true);
  });
  it('mandate_id changed → update_subscription(contract, "iban")', () => {
    expect(
      detectIntents(update('contract_contract', contractRow(), contractRow({ mandate_id: 4 })), ctx()),
    ).to.deep.equal([{ kind: 'update_subscription', contractId: 41, field: 'iban' }]);
  });
  it('W2 as the original: a mandate written by the transaction that created the contract → nothing; opt-in SYNC_EMAIL_IBAN_AT_CREATION → update_subscription', () => {
    const written = update(
      'contract_contract',
      contractRow({ mandate_id: null }),
      contractRow({ mandate_id: 4 }),
    );
    expect(detectIntents(written, ctx({ contractInCreation: (id) => id === 41 }))).to.deep.equal([]);
    expect(
      detectIntents(written, ctx({ contractInCreation: undefined, syncEmailIbanAtCreation: true })),
    ).to.deep.equal([{ kind: 'update_subscription', contractId: 41, field: 'iban' }]);
    expect(() => detectIntents(written, ctx({ contractInCreation: undefined }))).to.throw(
      /contractInCreation/,
    );
  });
  it('mandate_id removed, or changed on a terminated contract → nothing', () => {
    expect(
      detectIntents(update('contract_contract', contractRow(), contractRow({ mandate_id: null })), ctx()),
    ).to.deep.equal([]);
    const terminated = contractRow({ is_terminated: true, terminate_date: DAY_2024_06_30 });
    expect(
      detectIntents(update('contract_contract', terminated, { ...terminated, mandate_id: 4 }), ctx()),
    ).to.deep.equal([]);
  });
  it('a contract created already terminated → create only, as the original (T2 reacts to writes); SYNC_TERMINATION_AT_CREATION → create then terminate', () => {
    const row = contractRow({ is_terminated: true, terminate_date: DAY_2024_06_30 });
    expect(detectIntents(create('contract_contract', row), ctx()).map((i) => i.kind)).to.deep.equal([
      'create_subscription',
    ]);
    expect(
      detectIntents(create('contract_contract', row), ctx({ syncTerminationAtCreation: true })).map(
        (i) => i.kind,
      ),
    ).to.deep.equal(['create_subscription', 'terminate_subscription']);
  });
  it('snapshot read → the create intents flagged snapshot', () => {
    expect(detectIntents(change('contract_contract', 'r', null, contractRow()), ctx())).to.deep.equal([
      { kind: 'create_subscription', contractId: 41, snapshot: true },
    ]);
  });
  const unsynced = (over: Record<string, unknown>) => ({
    kind: 'unsynced_change',
    contractId: 41,
    contractCode: null,
    lineId: null,
    productCode: null,
    newProductCode: null,
    fromPartnerId: null,
    toPartnerId: null,
    ...over,
  });
  it('regression (issue 15 §8 b): a contract deleted or archived while not terminated → unsynced_change (the original sends nothing; reported, never silent)', () => {
    expect(detectIntents(change('contract_contract', 'd', contractRow(), null), ctx())).to.deep.equal([
      unsynced({ change: 'contract_deleted', contractCode: 'SC-0041', fromPartnerId: 7 }),
    ]);
    const archived = update(
      'contract_contract',
      { ...contractRow(), active: true },
      { ...contractRow(), active: false },
    );
    expect(detectIntents(archived, ctx())).to.deep.equal([
      unsynced({ change: 'contract_archived', contractCode: 'SC-0041' }),
    ]);
  });
  it('a terminated contract deleted or archived → nothing (its termination, T2, ends the subscription)', () => {
    const ended = contractRow({ is_terminated: true, terminate_date: DAY_2024_06_30 });
    expect(detectIntents(change('contract_contract', 'd', ended, null), ctx())).to.deep.equal([]);
    expect(
      detectIntents(update('contract_contract', ended, { ...ended, active: false }), ctx()),
    ).to.deep.equal([]);
  });
  it('regression (issue 15 §8 a): a contract changes partner → unsynced_change naming both partners, and no other intent', () => {
    const moved = update('contract_contract', contractRow(), contractRow({ partner_id: 8 }));
    expect(detectIntents(moved, ctx())).to.deep.equal([
      unsynced({
        change: 'contract_partner_changed',
        contractCode: 'SC-0041',
        fromPartnerId: 7,
        toPartnerId: 8,
      }),
    ]);
  });
});

describe('projections: contract line listener triggers (T3, T4, T5)', () => {
  const activation = (productId: number) =>
    detectIntents(create('contract_line', lineRow({ id: 100 + productId, product_id: productId })), ctx());
  const serviceCases: [string, number][] = [
    ['a mobile tariff', 1],
    ['a fiber tariff', 2],
    ['Filmin (child of multimedia_service)', 3],
    ['a switchboard agent (switchboard technology category)', 4],
    ['a switchboard extra (child of switchboard_additional_service)', 5],
    ['an ADSL/fiber extra (fixed IPv4, broadband_additional_service)', 7],
  ];
  for (const [what, productId] of serviceCases) {
    it(`new line for ${what} → activate_service [contract, line]`, () => {
      expect(activation(productId)).to.deep.equal([
        {
          kind: 'activate_service',
          contractId: 41,
          lineId: 100 + productId,
          productId,
          productCode: products[productId].defaultCode,
        },
      ]);
    });
  }
  it('two switchboard extras → two activations', () => {
    expect([...activation(5), ...activation(6)].map((i) => i.kind)).to.deep.equal([
      'activate_service',
      'activate_service',
    ]);
  });
  const oneShotCases: [string, number][] = [
    ['a mobile extra-data one-shot', 8],
    ['a broadband "Alta parell existent" one-shot', 9],
    ['router shipping on a 4G contract', 10],
  ];
  for (const [what, productId] of oneShotCases) {
    it(`new line for ${what} → apply_one_shot [contract, default_code]`, () => {
      expect(activation(productId)).to.deep.equal([
        {
          kind: 'apply_one_shot',
          contractId: 41,
          lineId: 100 + productId,
          productId,
          productCode: products[productId].defaultCode,
        },
      ]);
    });
  }
  it('new line in any other category → nothing', () => {
    expect(activation(11)).to.deep.equal([]);
  });
  it('writing date_end on a line → exactly 1 terminate_service at that date', () => {
    const change = update('contract_line', lineRow(), lineRow({ date_end: DAY_2024_05_31 }));
    expect(detectIntents(change, ctx())).to.deep.equal([
      {
        kind: 'terminate_service',
        contractId: 41,
        lineId: 100,
        productId: 1,
        productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
        date: '2024-05-31',
      },
    ]);
  });
  it('T5 as the original listener: any write of a line that has date_end → terminate_service again (the plan never ends an instance twice)', () => {
    const ended = lineRow({ date_end: DAY_2024_05_31 });
    const again = detectIntents(
      update('contract_line', ended, { ...ended, name: 'renamed', write_date: 1735689600000009 }),
      ctx(),
    );
    expect(again).to.deep.equal([
      {
        kind: 'terminate_service',
        contractId: 41,
        lineId: 100,
        productId: 1,
        productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
        date: '2024-05-31',
      },
    ]);
    for (const write of [{ quantity: 2 }, { specific_price: 9.5 }, { is_canceled: true }]) {
      expect(
        detectIntents(update('contract_line', ended, { ...ended, ...write }), ctx()).map((i) => i.kind),
        JSON.stringify(write),
      ).to.deep.equal(['terminate_service']);
    }
    // `active` is a stored related field Odoo recomputes without write(): the original's listener never saw it.
    expect(detectIntents(update('contract_line', ended, { ...ended, active: false }), ctx())).to.deep.equal(
      [],
    );
    // A write of a line without date_end asks for nothing.
    expect(
      detectIntents(update('contract_line', lineRow(), lineRow({ name: 'renamed' })), ctx()),
    ).to.deep.equal([]);
  });
  it('date_end moved → terminate_service with the new date; cleared → nothing', () => {
    const ended = lineRow({ date_end: DAY_2024_05_31 });
    expect(
      detectIntents(update('contract_line', ended, lineRow({ date_end: DAY_2024_06_30 })), ctx()),
    ).to.have.deep.nested.property('[0].date', '2024-06-30');
    expect(detectIntents(update('contract_line', ended, lineRow()), ctx())).to.deep.equal([]);
  });
  it('T5 whatever the category: date_end written on a one-shot or other line → terminate_service, as the original (its plan finds no service instance)', () => {
    for (const productId of [8, 11]) {
      expect(
        detectIntents(
          update(
            'contract_line',
            lineRow({ product_id: productId }),
            lineRow({ product_id: productId, date_end: DAY_2024_05_31 }),
          ),
          ctx(),
        ).map((i) => [i.kind, (i as { productId?: number }).productId]),
        String(productId),
      ).to.deep.equal([['terminate_service', productId]]);
    }
    expect(
      detectIntents(
        update(
          'contract_line',
          lineRow({ product_id: null }),
          lineRow({ product_id: null, date_end: DAY_2024_05_31 }),
        ),
        ctx(),
      ),
    ).to.deep.equal([]);
  });
  it('a service line created with date_end → activation only, as the original (T5 reacts to writes); SYNC_TERMINATION_AT_CREATION → activation then termination', () => {
    const created = create('contract_line', lineRow({ date_end: DAY_2024_05_31 }));
    expect(detectIntents(created, ctx()).map((i) => i.kind)).to.deep.equal(['activate_service']);
    expect(detectIntents(created, ctx({ syncTerminationAtCreation: true })).map((i) => i.kind)).to.deep.equal(
      ['activate_service', 'terminate_service'],
    );
  });
  it('tariff change (new line + end date on the old one) → one activation and one termination', () => {
    const intents = [
      ...detectIntents(create('contract_line', lineRow({ id: 101, product_id: 2 })), ctx()),
      ...detectIntents(
        update(
          'contract_line',
          lineRow({ product_id: 1 }),
          lineRow({ product_id: 1, date_end: DAY_2024_05_31 }),
        ),
        ctx(),
      ),
    ];
    expect(intents.map((i) => i.kind)).to.deep.equal(['activate_service', 'terminate_service']);
  });
  const lineUnsynced = (over: Record<string, unknown>) => ({
    kind: 'unsynced_change',
    contractId: 41,
    contractCode: null,
    lineId: 100,
    productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
    newProductCode: null,
    fromPartnerId: null,
    toPartnerId: null,
    ...over,
  });
  it('regression (issue 15 §8 b, d): a service line deleted, or canceled without date_end → unsynced_change (reported, never silent)', () => {
    expect(detectIntents(change('contract_line', 'd', lineRow(), null), ctx())).to.deep.equal([
      lineUnsynced({ change: 'line_deleted' }),
    ]);
    expect(
      detectIntents(update('contract_line', lineRow(), lineRow({ is_canceled: true })), ctx()),
    ).to.deep.equal([lineUnsynced({ change: 'line_canceled' })]);
  });
  it('a line deleted after it was canceled or ended, a one-shot line deleted or canceled → nothing', () => {
    const del = (row: Partial<Row<'contract_line'>>) =>
      detectIntents(change('contract_line', 'd', lineRow(row), null), ctx());
    expect(del({ is_canceled: true })).to.deep.equal([]);
    expect(del({ date_end: DAY_2024_06_30 })).to.deep.equal([]);
    expect(del({ product_id: 8 })).to.deep.equal([]);
    expect(
      detectIntents(
        update('contract_line', lineRow({ product_id: 8 }), lineRow({ product_id: 8, is_canceled: true })),
        ctx(),
      ),
    ).to.deep.equal([]);
  });
  it('canceled with a date_end → T5 terminate_service only, as the original listener', () => {
    const ended = lineRow({ date_end: DAY_2024_06_30 });
    expect(
      detectIntents(update('contract_line', ended, { ...ended, is_canceled: true }), ctx()).map(
        (i) => i.kind,
      ),
    ).to.deep.equal(['terminate_service']);
  });
  it('regression (issue 15 §8 c): a line whose product changes in place → unsynced_change naming the old and new codes', () => {
    expect(
      detectIntents(update('contract_line', lineRow(), lineRow({ product_id: 2 })), ctx()),
    ).to.deep.equal([lineUnsynced({ change: 'line_product_changed', newProductCode: 'SE_SC_REC_BA_F_600' })]);
    // with date_end, T5 also fires for the line's (new) product, as the original's terminate_service job
    const ended = lineRow({ date_end: DAY_2024_06_30 });
    expect(
      detectIntents(update('contract_line', ended, { ...ended, product_id: 2 }), ctx()).map((i) => i.kind),
    ).to.deep.equal(['terminate_service', 'unsynced_change']);
  });
  it('snapshot of a line → flagged activation', () => {
    expect(detectIntents(change('contract_line', 'r', null, lineRow()), ctx())).to.deep.equal([
      {
        kind: 'activate_service',
        contractId: 41,
        lineId: 100,
        productId: 1,
        productCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
        snapshot: true,
      },
    ]);
  });
  it('an unknown product is a loud error, not a silent skip', () => {
    expect(() => detectIntents(create('contract_line', lineRow({ product_id: 999 })), ctx())).to.throw(
      /product 999/,
    );
  });
});

describe('projections: partner listener triggers (T6 and identity)', () => {
  it('writing street → 1 intent: update_customer naming the address field (it also moves the accounts)', () => {
    expect(
      detectIntents(update('res_partner', partnerRow(), partnerRow({ street: 'C/ Nova 7' })), ctx()),
    ).to.deep.equal([{ kind: 'update_customer', partnerId: 7, fields: ['street'] }]);
  });
  for (const column of ['street2', 'zip', 'city', 'state_id', 'country_id']) {
    it(`writing ${column} → address update`, () => {
      const intents = detectIntents(
        update(
          'res_partner',
          partnerRow(),
          partnerRow({ [column]: column.endsWith('_id') ? 999 : 'changed' }),
        ),
        ctx(),
      );
      expect(intents).to.deep.equal([{ kind: 'update_customer', partnerId: 7, fields: [column] }]);
    });
  }
  it('writing name → 0 intents when partner identity sync is off (the original)', () => {
    expect(
      detectIntents(update('res_partner', partnerRow(), partnerRow({ name: 'Anna P.' })), ctx()),
    ).to.deep.equal([]);
  });
  for (const column of ['name', 'vat', 'email', 'mobile']) {
    it(`writing ${column} → update_customer only, when partner identity sync is on`, () => {
      expect(
        detectIntents(
          update('res_partner', partnerRow(), partnerRow({ [column]: 'changed' })),
          ctx({ syncPartnerIdentity: true }),
        ),
      ).to.deep.equal([{ kind: 'update_customer', partnerId: 7, fields: [column] }]);
    });
  }
  it('a partner without contracts → nothing', () => {
    expect(
      detectIntents(
        update('res_partner', partnerRow(), partnerRow({ street: 'x' })),
        ctx({ partnerHasContracts: () => false }),
      ),
    ).to.deep.equal([]);
  });
  it('write_date / display_name churn → nothing', () => {
    const change = update(
      'res_partner',
      { ...partnerRow(), write_date: 1735689600000000, display_name: 'Anna Puig' },
      { ...partnerRow(), write_date: 1735689600000002, display_name: 'Puig, Anna' },
    );
    expect(change.after).to.not.have.property('write_date'); // never captured: dropped by decodeChange
    expect(detectIntents(change, ctx({ syncPartnerIdentity: true }))).to.deep.equal([]);
  });
  it('partner created, deleted, archived or snapshotted → nothing', () => {
    expect(
      detectIntents(create('res_partner', partnerRow()), ctx({ syncPartnerIdentity: true })),
    ).to.deep.equal([]);
    expect(detectIntents(change('res_partner', 'r', null, partnerRow()), ctx())).to.deep.equal([]);
    expect(detectIntents(change('res_partner', 'd', partnerRow(), null), ctx())).to.deep.equal([]);
    expect(
      detectIntents(
        update('res_partner', { ...partnerRow(), active: true }, { ...partnerRow(), active: false }),
        ctx(),
      ),
    ).to.deep.equal([]);
  });
  it('address and identity together → one update_customer naming both', () => {
    expect(
      detectIntents(
        update('res_partner', partnerRow(), partnerRow({ city: 'Girona', email: 'new@x.org' })),
        ctx({ syncPartnerIdentity: true }),
      ),
    ).to.deep.equal([{ kind: 'update_customer', partnerId: 7, fields: ['city', 'email'] }]);
  });
});

describe('projections: service contract info listener triggers (T7)', () => {
  for (const table of WATCHED_ISP_INFO_TABLES) {
    it(`writing phone_number on ${table} → update_phone_number with the new number`, () => {
      expect(
        detectIntents(
          update(table, { id: 5, phone_number: '600111222' }, { id: 5, phone_number: '611222333' }),
          ctx(),
        ),
      ).to.deep.equal([
        {
          kind: 'update_phone_number',
          infoTable: table,
          infoId: 5,
          phone: '611222333',
          previousPhone: '600111222',
        },
      ]);
    });
  }
  it('T7 "-": writing Odoo\'s placeholder → update_phone_number("-") as the original; with PHONE_PLACEHOLDER_IS_NO_NUMBER nothing, and "-" is no previous number', () => {
    const table = 'mobile_service_contract_info';
    const toDash = update(table, { id: 5, phone_number: '600111222' }, { id: 5, phone_number: '-' });
    const fromDash = update(table, { id: 5, phone_number: '-' }, { id: 5, phone_number: '611222333' });
    const intent = (phone: string, previousPhone: string | null) => ({
      kind: 'update_phone_number',
      infoTable: table,
      infoId: 5,
      phone,
      previousPhone,
    });
    expect(detectIntents(toDash, ctx())).to.deep.equal([intent('-', '600111222')]);
    expect(detectIntents(fromDash, ctx())).to.deep.equal([intent('611222333', '-')]);
    const on = ctx({ phonePlaceholderIsNoNumber: true });
    expect(detectIntents(toDash, on)).to.deep.equal([]);
    expect(detectIntents(fromDash, on)).to.deep.equal([intent('611222333', null)]);
  });
  it('other info tables and other columns → nothing', () => {
    expect(
      detectIntents(
        update('adsl_service_contract_info', { id: 5, phone_number: '9' }, { id: 5, phone_number: '8' }),
        ctx(),
      ),
    ).to.deep.equal([]);
    expect(
      detectIntents(
        update(
          'mobile_service_contract_info',
          { id: 5, phone_number: '9', icc: '1' },
          { id: 5, phone_number: '9', icc: '2' },
        ),
        ctx(),
      ),
    ).to.deep.equal([]);
  });
});

describe('projections: contract email relation triggers (W1)', () => {
  const rel = 'contract_contract_res_partner_rel' as const;
  it('an email added or removed → update_subscription(contract, "email")', () => {
    expect(detectIntents(create(rel, { contract_contract_id: 41, res_partner_id: 9 }), ctx())).to.deep.equal([
      { kind: 'update_subscription', contractId: 41, field: 'email' },
    ]);
    expect(
      detectIntents(change(rel, 'd', { contract_contract_id: 41, res_partner_id: 9 }, null), ctx()),
    ).to.deep.equal([{ kind: 'update_subscription', contractId: 41, field: 'email' }]);
  });
  it('W1 as the original: the email links written by the transaction that created the contract → nothing; opt-in SYNC_EMAIL_IBAN_AT_CREATION → update_subscription', () => {
    const link = create(rel, { contract_contract_id: 41, res_partner_id: 9 });
    const inCreation = ctx({ contractInCreation: (id) => id === 41 });
    expect(detectIntents(link, inCreation)).to.deep.equal([]);
    expect(
      detectIntents(change(rel, 'd', { contract_contract_id: 41, res_partner_id: 9 }, null), inCreation),
    ).to.deep.equal([]);
    // A link moved from a contract being created to an existing one: only the existing contract's emails changed.
    expect(
      detectIntents(
        change(
          rel,
          'u',
          { contract_contract_id: 41, res_partner_id: 9 },
          { contract_contract_id: 42, res_partner_id: 9 },
        ),
        inCreation,
      ),
    ).to.deep.equal([{ kind: 'update_subscription', contractId: 42, field: 'email' }]);
    expect(
      detectIntents(link, ctx({ contractInCreation: undefined, syncEmailIbanAtCreation: true })),
    ).to.deep.equal([{ kind: 'update_subscription', contractId: 41, field: 'email' }]);
  });
  it('relation snapshot → nothing (the contract snapshot carries its emails)', () => {
    expect(
      detectIntents(change(rel, 'r', null, { contract_contract_id: 41, res_partner_id: 9 }), ctx()),
    ).to.deep.equal([]);
  });
});

describe('projections: declarative filter (watched columns over the capture registry)', () => {
  it('changed billing fields are the watched columns whose value differs', () => {
    const partner = update('res_partner', partnerRow(), {
      ...partnerRow({ zip: '08002' }),
      write_date: 1735689600000005,
    });
    expect(changedBillingFields(partner.table, partner.before, partner.after)).to.deep.equal(['zip']);
    expect(changedWatchedFields(partner)).to.deep.equal(['zip']);
    const line = update('contract_line', lineRow(), lineRow({ date_end: DAY_2024_05_31 }));
    expect(changedWatchedFields(line)).to.deep.equal(['date_end']);
  });
  it('compares decoded values exactly (specific_price is a float8 number), captured but unwatched columns trigger nothing', () => {
    const line = update(
      'contract_line',
      lineRow({ specific_price: 17.36 }),
      lineRow({ specific_price: 17.36 }),
    );
    expect(changedBillingFields(line.table, line.before, line.after)).to.deep.equal([]);
    const priced = update('contract_line', lineRow(), lineRow({ specific_price: 20, quantity: 2 }));
    expect(changedBillingFields(priced.table, priced.before, priced.after)).to.deep.equal([
      'quantity',
      'specific_price',
    ]);
    // Watched (T5: any write of an ended line), but the line has no date_end: nothing.
    expect(changedWatchedFields(priced)).to.deep.equal(['quantity', 'specific_price']);
    expect(detectIntents(priced, ctx())).to.deep.equal([]);
    const ref = update('res_partner', partnerRow(), partnerRow({ ref: 'OTHER-REF' }));
    expect(changedBillingFields(ref.table, ref.before, ref.after)).to.include('ref');
    expect(changedWatchedFields(ref)).to.deep.equal([]);
    expect(isIrrelevant(ref)).to.equal(true);
  });
  it('without a before image (replica identity not FULL) every watched column present counts as changed', () => {
    const ch = change('contract_line', 'u', null, lineRow({ date_end: DAY_2024_05_31 }));
    expect(changedWatchedFields(ch)).to.include('date_end').and.to.include('name').and.not.include('active');
    expect(detectIntents(ch, ctx()).map((i: Intent) => i.kind)).to.deep.equal(['terminate_service']);
  });
  it('tables nothing watches are irrelevant', () => {
    for (const [table, row] of [
      ['res_bank', { id: 1, name: 'CaixaBank', bic: 'CAIXESBBXXX' }],
      ['adsl_service_contract_info', { id: 1, phone_number: '931234567' }],
      ['account_move', { id: 1, move_type: 'out_invoice', state: 'posted' }],
    ] as const) {
      const ch = create(table, row);
      expect(isIrrelevant(ch), table).to.equal(true);
      expect(detectIntents(ch, ctx()), table).to.deep.equal([]);
    }
    expect(isIrrelevant(create('contract_contract', contractRow()))).to.equal(false);
  });
  it('a creation, snapshot read or delete of a table without row triggers triggers nothing (opMayTrigger)', () => {
    // every kind's trigger, with every switch on and every partner holding contracts
    const permissive = ctx({ syncPartnerIdentity: true, syncEmailIbanAtCreation: true });
    const tables = triggeringTables().filter((t) => ROW_TRIGGER_TABLES[t] === undefined);
    expect(tables).to.include.members(['res_partner', ...WATCHED_ISP_INFO_TABLES]);
    for (const table of tables)
      for (const op of ['c', 'r', 'd'] as const) {
        const row = sampleRow(table, { id: 7 });
        const ch = change(table, op, op === 'd' ? row : null, op === 'd' ? null : row);
        expect(opMayTrigger(table, op), `${table} ${op}`).to.equal(false);
        expect(detectIntents(ch, permissive), `${table} ${op}`).to.deep.equal([]);
        expect(isIrrelevant(ch), `${table} ${op}`).to.equal(true);
      }
    for (const table of Object.keys(ROW_TRIGGER_TABLES) as TableName[])
      for (const op of ['c', 'r', 'd']) expect(opMayTrigger(table, op), `${table} ${op}`).to.equal(true);
    expect(opMayTrigger('res_partner', 'u')).to.equal(true);
    expect(opMayTrigger('res_partner', 't')).to.equal(true);
  });
  it('every watched column is a billing column of the capture registry (src/domain/capture/tables.ts)', () => {
    const tables = Object.keys(WATCHED) as TableName[];
    expect(tables).to.include.members(['res_partner', 'contract_contract', 'contract_line']);
    for (const table of tables) {
      const billing: readonly string[] = TABLES[table].billing;
      expect(watchedColumns(table), table).to.have.length.above(0);
      for (const column of watchedColumns(table)) expect(billing, `${table}.${column}`).to.include(column);
    }
    for (const table of Object.keys(ROW_TRIGGER_TABLES)) expect(TABLES).to.have.property(table);
    expect(triggeringTables()).to.include.members([
      'res_partner',
      'contract_contract',
      'contract_line',
      'contract_contract_res_partner_rel',
      ...WATCHED_ISP_INFO_TABLES,
    ]);
  });
  it('the connector include lists (generated by capture) carry every triggering table and watched column', () => {
    const { 'table.include.list': tableList, 'column.include.list': columnList } = generateIncludeLists();
    const columns = columnList.split(',');
    for (const table of triggeringTables()) {
      expect(tableList.split(','), table).to.include(`public.${table}`);
      for (const column of watchedColumns(table)) expect(columns).to.include(`public.${table}.${column}`);
    }
    expect(columns).to.include('public.contract_contract_res_partner_rel.res_partner_id');
    expect(columns.some((c) => c.endsWith('write_date'))).to.equal(false);
  });
  it('works on the rows decodeChange produces: quoted mixed-case columns, ISO dates, odd info-id column names', () => {
    const ch = update(
      'contract_contract',
      contractRow({ router_4G_service_contract_info_id: 9, mobile_contract_service_info_id: null }),
      contractRow({
        router_4G_service_contract_info_id: 9,
        mobile_contract_service_info_id: null,
        is_terminated: true,
        terminate_date: DAY_2024_06_30,
      }),
    );
    expect(ch.after).to.include({ router_4G_service_contract_info_id: 9, terminate_date: '2024-06-30' });
    expect(detectIntents(ch, ctx())).to.deep.equal([
      { kind: 'terminate_subscription', contractId: 41, date: '2024-06-30' },
    ]);
    const blocked = update('res_partner', partnerRow(), partnerRow({ block_contract_creation_in_OC: true }));
    expect(blocked.after).to.include({ block_contract_creation_in_OC: true });
    expect(changedBillingFields(blocked.table, blocked.before, blocked.after)).to.deep.equal([
      'block_contract_creation_in_OC',
    ]);
    expect(detectIntents(blocked, ctx({ syncPartnerIdentity: true }))).to.deep.equal([]);
  });
  it('a line without a product (section / note) triggers nothing', () => {
    expect(detectIntents(create('contract_line', lineRow({ product_id: null })), ctx())).to.deep.equal([]);
  });
  it('an email relation update that keeps its key changes nothing; one that moves it touches both contracts', () => {
    const rel = 'contract_contract_res_partner_rel' as const;
    const same = update(
      rel,
      { contract_contract_id: 41, res_partner_id: 9 },
      { contract_contract_id: 41, res_partner_id: 9 },
    );
    expect(isIrrelevant(same)).to.equal(true);
    expect(detectIntents(same, ctx())).to.deep.equal([]);
    const moved = update(
      rel,
      { contract_contract_id: 41, res_partner_id: 9 },
      { contract_contract_id: 42, res_partner_id: 9 },
    );
    expect(detectIntents(moved, ctx())).to.deep.equal([
      { kind: 'update_subscription', contractId: 41, field: 'email' },
      { kind: 'update_subscription', contractId: 42, field: 'email' },
    ]);
  });
});

describe('projections: dates', () => {
  it('converts Debezium epoch days and ISO strings to YYYY-MM-DD', () => {
    expect(toIsoDate(19904)).to.equal('2024-06-30');
    expect(toIsoDate(DAY_2024_06_30)).to.equal('2024-06-30');
    expect(toIsoDate(0)).to.equal('1970-01-01');
    expect(toIsoDate('2024-06-30T10:00:00Z')).to.equal('2024-06-30');
    expect(toIsoDate(null)).to.equal(null);
    expect(() => toIsoDate('tomorrow')).to.throw(TypeError);
  });
});
