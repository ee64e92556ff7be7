import { expect } from 'chai';
import { computeDrift, DriftInput } from '../../src/domain/reconcile';
import { expectedServiceState } from '../../src/domain/projection/strategies';
import type {
  ContractView,
  LineView,
  OcSubscriptionState,
  PartnerView,
} from '../../src/domain/projection/views';

const partner: PartnerView = {
  id: 7,
  ref: '1234',
  name: 'Ada',
  firstname: 'Ada',
  lastname: 'L',
  isCompany: false,
  vat: 'ES1',
  email: 'a@x',
  mobile: null,
  phone: null,
  street: 's',
  street2: null,
  zip: '08001',
  city: 'BCN',
  stateCode: 'B',
  stateName: 'Barcelona',
  countryCode: 'ES',
  lang: 'ca_ES',
  blockContractCreationInOC: false,
  parentId: null,
};

const line = (id: number, code: string, extra: Partial<LineView> = {}): LineView => ({
  id,
  contractId: 10,
  productId: id * 10,
  productCode: code,
  kind: 'service',
  name: code,
  dateStart: '2024-01-01',
  dateEnd: null,
  isCanceled: false,
  ...extra,
});

const contract = (extra: Partial<ContractView> = {}): ContractView => ({
  id: 10,
  code: '50001',
  partner,
  invoicePartner: null,
  servicePartner: null,
  emails: [],
  mandate: null,
  serviceTechnology: null,
  serviceSupplier: null,
  phoneNumber: '600111222',
  ispInfo: { table: 'mobile_service_contract_info', id: 3, phoneNumber: '600111222' },
  dateStart: '2024-01-01',
  dateEnd: null,
  isTerminated: false,
  terminateDate: null,
  lines: [line(1, 'SE_SC_REC_MOBILE_T_UNL'), line(2, 'SE_SC_REC_MOBILE_T_OLD', { dateEnd: '2024-03-01' })],
  ...extra,
});

const sub = (extra: Partial<OcSubscriptionState> = {}): OcSubscriptionState => ({
  code: '50001',
  userAccount: '1234_0',
  description: '600111222',
  status: 'ACTIVE',
  subscriptionDate: null,
  services: [{ code: 'SE_SC_REC_MOBILE_T_UNL', status: 'ACTIVE', terminationDate: null }],
  accesses: ['600111222'],
  ...extra,
});

const input = (over: Partial<DriftInput> = {}): DriftInput => ({
  partner,
  contracts: [contract()],
  customer: { code: '1234', customerAccounts: [{ code: '1234_0', email: 'a@x', iban: 'ES00' }] },
  subscriptions: new Map([['50001', sub()]]),
  today: '2024-06-01',
  ...over,
});

describe('ops reconcile: drift between Odoo and OpenCell', () => {
  it('no drift when OpenCell matches', () => {
    expect(computeDrift(input())).to.deep.equal([]);
  });

  it('missing customer and subscription → create_subscription', () => {
    const d = computeDrift(input({ customer: null, subscriptions: new Map([['50001', null]]) }));
    expect(d.map((x) => [x.kind, x.fix?.kind ?? null])).to.deep.equal([
      ['customer_missing', null],
      ['subscription_missing', 'create_subscription'],
    ]);
    expect(d[1].fix).to.deep.equal({ kind: 'create_subscription', contractId: 10 });
  });

  it('a live service line without an instance → activate_service; an ended line still live → terminate_service', () => {
    const d = computeDrift(
      input({
        subscriptions: new Map([
          [
            '50001',
            sub({
              services: [{ code: 'SE_SC_REC_MOBILE_T_OLD', status: 'ACTIVE' }],
            }),
          ],
        ]),
      }),
    );
    expect(d.map((x) => x.fix)).to.deep.equal([
      {
        kind: 'activate_service',
        contractId: 10,
        lineId: 1,
        productId: 10,
        productCode: 'SE_SC_REC_MOBILE_T_UNL',
      },
      {
        kind: 'terminate_service',
        contractId: 10,
        lineId: 2,
        productId: 20,
        productCode: 'SE_SC_REC_MOBILE_T_OLD',
        date: '2024-03-01',
      },
    ]);
  });

  it('an instance no line explains is reported without a fix', () => {
    const d = computeDrift(
      input({
        subscriptions: new Map([
          ['50001', sub({ services: [...sub().services, { code: 'SE_OTHER', status: 'ACTIVE' }] })],
        ]),
      }),
    );
    expect(d.map((x) => [x.kind, x.fix])).to.deep.equal([['service_unexpected', null]]);
  });

  it('terminated contract with an active subscription → terminate_subscription; the reverse is manual', () => {
    const t = computeDrift(
      input({ contracts: [contract({ isTerminated: true, terminateDate: '2024-05-31' })] }),
    );
    expect(t.map((x) => x.fix)).to.deep.equal([
      { kind: 'terminate_subscription', contractId: 10, date: '2024-05-31' },
    ]);
    const r = computeDrift(
      input({ subscriptions: new Map([['50001', sub({ status: 'RESILIATED', terminationDate: 5 })]]) }),
    );
    expect(r.map((x) => [x.kind, x.fix])).to.deep.equal([['subscription_ended_in_opencell', null]]);
    // terminated in both: fine
    expect(
      computeDrift(
        input({
          contracts: [contract({ isTerminated: true })],
          subscriptions: new Map([['50001', sub({ status: 'RESILIATED' })]]),
        }),
      ),
    ).to.deep.equal([]);
  });

  it('phone number not an access → update_phone_number (watched ISP info) or create_subscription', () => {
    const s = new Map([['50001', sub({ accesses: ['600000000'], description: '600000000' })]]);
    expect(computeDrift(input({ subscriptions: s })).map((x) => x.fix)).to.deep.equal([
      {
        kind: 'update_phone_number',
        infoTable: 'mobile_service_contract_info',
        infoId: 3,
        phone: '600111222',
        previousPhone: '600000000',
      },
    ]);
    const adsl = contract({
      ispInfo: { table: 'adsl_service_contract_info', id: 4, phoneNumber: '600111222' },
    });
    expect(computeDrift(input({ contracts: [adsl], subscriptions: s })).map((x) => x.fix)).to.deep.equal([
      { kind: 'create_subscription', contractId: 10 },
    ]);
    // accesses not read: no claim
    expect(
      computeDrift(input({ subscriptions: new Map([['50001', sub({ accesses: undefined })]]) })),
    ).to.deep.equal([]);
  });

  it('Odoo\'s "-" phone placeholder is compared as the projector creates accesses: an access by default, none with PHONE_PLACEHOLDER_IS_NO_NUMBER', () => {
    const router = contract({
      phoneNumber: '-',
      ispInfo: { table: 'orange_fiber_service_contract_info', id: 5, phoneNumber: '-' },
    });
    // created by the original, or by this pipeline by default: description and access "-"
    const withDash = new Map([['50001', sub({ description: '-', accesses: ['-'] })]]);
    const without = new Map([['50001', sub({ description: null, accesses: [] })]]);
    expect(computeDrift(input({ contracts: [router], subscriptions: withDash }))).to.deep.equal([]);
    expect(
      computeDrift(input({ contracts: [router], subscriptions: without })).map((x) => x.fix),
    ).to.deep.equal([
      {
        kind: 'update_phone_number',
        infoTable: 'orange_fiber_service_contract_info',
        infoId: 5,
        phone: '-',
        previousPhone: null,
      },
    ]);
    const on = { config: { phonePlaceholderIsNoNumber: true } };
    expect(computeDrift(input({ contracts: [router], subscriptions: without, ...on }))).to.deep.equal([]);
    expect(computeDrift(input({ contracts: [router], subscriptions: withDash, ...on }))).to.deep.equal([]);
  });

  it('partner without ref and customer without accounts are reported', () => {
    expect(computeDrift(input({ partner: { ...partner, ref: null } })).map((x) => x.kind)).to.deep.equal([
      'partner_without_ref',
    ]);
    expect(
      computeDrift(input({ customer: { code: '1234', customerAccounts: [] } })).map((x) => x.kind),
    ).to.deep.equal(['customer_accounts_missing']);
  });

  describe("the projector's date rule (expectedServiceState), on the day reconcile runs (2024-06-01)", () => {
    const TODAY = '2024-06-01';
    const YESTERDAY = '2024-05-31';
    const TOMORROW = '2024-06-02';
    const CODE = 'SE_SC_REC_MOBILE_T_UNL';
    /** The contract with one service line (`extra`) and OpenCell holding `services` for it. */
    const drift = (extra: Partial<LineView>, services: OcSubscriptionState['services']) =>
      computeDrift(
        input({
          today: TODAY,
          contracts: [contract({ lines: [line(1, CODE, extra)] })],
          subscriptions: new Map([['50001', sub({ services })]]),
        }),
      );
    const terminatedAt = (day: string) => ({
      code: CODE,
      status: day <= TODAY ? 'TERMINATED' : 'ACTIVE',
      terminationDate: Date.parse(day),
    });
    const running = { code: CODE, status: 'ACTIVE', terminationDate: null };

    it('date_end yesterday, today or tomorrow → terminated (the projector ends it at date_end, whatever the day)', () => {
      for (const dateEnd of [YESTERDAY, TODAY, TOMORROW])
        expect(expectedServiceState(line(1, CODE, { dateEnd })), dateEnd).to.equal('terminated');
      expect(expectedServiceState(line(1, CODE))).to.equal('active');
      expect(expectedServiceState(line(1, CODE, { dateStart: TOMORROW }))).to.equal('active');
      expect(expectedServiceState(line(1, CODE, { isCanceled: true }))).to.equal('none');
      expect(expectedServiceState(line(1, CODE, { kind: 'one_shot' }))).to.equal('none');
    });

    it('reconcile does not report service_missing for a line ended today that the projector terminated; --fix never re-activates it', () => {
      expect(drift({ dateEnd: TODAY }, [terminatedAt(TODAY)])).to.deep.equal([]);
      // the same for yesterday's end, and tomorrow's (termination scheduled); an instance never activated either
      expect(drift({ dateEnd: YESTERDAY }, [terminatedAt(YESTERDAY)])).to.deep.equal([]);
      expect(drift({ dateEnd: TOMORROW }, [terminatedAt(TOMORROW)])).to.deep.equal([]);
      for (const dateEnd of [YESTERDAY, TODAY, TOMORROW])
        expect(drift({ dateEnd }, []), dateEnd).to.deep.equal([]);
    });

    it('a line ended yesterday, today or tomorrow whose instance still runs → terminate_service at its date_end', () => {
      for (const dateEnd of [YESTERDAY, TODAY, TOMORROW]) {
        const d = drift({ dateEnd }, [running]);
        expect(
          d.map((x) => [x.kind, x.fix]),
          dateEnd,
        ).to.deep.equal([
          [
            'service_not_terminated',
            {
              kind: 'terminate_service',
              contractId: 10,
              lineId: 1,
              productId: 10,
              productCode: CODE,
              date: dateEnd,
            },
          ],
        ]);
      }
      expect(drift({ dateEnd: TOMORROW }, [running])[0].detail).to.include('termination scheduled');
      expect(drift({ dateEnd: TODAY }, [running])[0].detail).to.include('(today)');
    });

    it('date_start in the future: activated ahead (as the projector does) — present is fine, missing → activate_service', () => {
      expect(drift({ dateStart: TOMORROW }, [{ code: CODE, status: 'INACTIVE' }])).to.deep.equal([]);
      expect(drift({ dateStart: TOMORROW }, [running])).to.deep.equal([]);
      expect(drift({ dateStart: TOMORROW }, []).map((x) => [x.kind, x.fix?.kind])).to.deep.equal([
        ['service_missing', 'activate_service'],
      ]);
    });

    it("--fix never re-activates a service OpenCell holds terminated: a live line's terminated service is reported without a fix", () => {
      for (const held of [terminatedAt(YESTERDAY), terminatedAt(TOMORROW)]) {
        const d = drift({}, [held]);
        expect(d.map((x) => [x.kind, x.fix])).to.deep.equal([['service_ended_in_opencell', null]]);
        expect(d[0].detail).to.include('not re-activated');
      }
      expect(drift({}, [terminatedAt(YESTERDAY)])[0].detail).to.include('TERMINATED');
      // the product added again on a new line: the terminated instance is the ended line's, the new one is activated
      const again = computeDrift(
        input({
          contracts: [contract({ lines: [line(1, CODE, { dateEnd: YESTERDAY }), line(2, CODE)] })],
          subscriptions: new Map([['50001', sub({ services: [terminatedAt(YESTERDAY)] })]]),
        }),
      );
      expect(
        again.map((x) => [x.kind, x.fix?.kind, x.fix && 'lineId' in x.fix ? x.fix.lineId : null]),
      ).to.deep.equal([['service_missing', 'activate_service', 2]]);
      expect(drift({}, [terminatedAt(TOMORROW)])[0].detail).to.include('termination scheduled');
    });
  });
});
