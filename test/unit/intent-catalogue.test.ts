/**
 * The intent catalogue is open: a throw-away kind added through the registry alone (one module's worth of spec, no
 * change to the router, projector, executor or ledger) is detected from a change, routed, decoded from the intents
 * topic, projected against the OpenCell sandbox, and recorded with its own ledger record and sync-event target.
 */
import { expect } from 'chai';
import { samplePartner } from '../../testkit/views';
import { isLeft, isRight } from 'fp-ts/Either';
import * as t from 'io-ts';
import { decodeChange, type RowChange } from '../../src/domain/capture/envelope';
import { TABLES, type TableName } from '../../src/domain/capture/tables';
import { kindCodec } from '../../src/domain/intents/codecs';
import { intentKind, type RoutingReader, type TriggerContext } from '../../src/domain/intents/kind';
import { IntentMessageCodec, intentMessageCodec, type IntentMessage } from '../../src/domain/intents/message';
import { INTENT_KINDS, INTENTS } from '../../src/domain/intents/registry';
import { customerFromPartner, DEFAULT_PROJECTION_CONFIG } from '../../src/domain/projection/payloads';
import { triggeringTables, watchedColumns } from '../../src/domain/projection/filter';
import { detectIntents } from '../../src/domain/projection/triggers';
import type { PartnerView } from '../../src/domain/projection/views';
import { InMemoryLedger } from '../../testkit/ledger';
import { changeRecord, sampleRow } from '../../testkit/capture';
import { projectorOver, withOpenCellSandbox } from './support/projector-harness';

type TouchCustomerIntent = { kind: 'touch_customer'; partnerId: number };

/** The throw-away kind: when a partner's ref is written, send OpenCell its full customer payload again. */
const touchCustomer = intentKind<TouchCustomerIntent>({
  kind: 'touch_customer',
  codec: kindCodec('touch_customer', { partnerId: t.number }),
  scope: 'partner',
  trigger: {
    tables: ['res_partner'],
    rule: 'test only: a partner ref written',
    detect(change, fields) {
      if (change.table !== 'res_partner' || change.op !== 'u' || change.after === null) return [];
      return fields.includes('ref') ? [{ kind: 'touch_customer', partnerId: change.after.id }] : [];
    },
  },
  targets: async (intent) => [{ partnerId: intent.partnerId, contractId: null }],
  async project(intent, ctx) {
    const partner = await ctx.odoo.partner(intent.partnerId);
    if (!partner?.ref) return ctx.noop(`partner ${intent.partnerId} has no ref`);
    if ((await ctx.opencell.customer(partner.ref)) === null)
      return ctx.noop(`customer ${partner.ref} not in OpenCell`, { partner });
    await ctx.exec({
      plan: {
        strategy: 'touch',
        ops: [
          {
            op: 'updateCustomer',
            key: `customer:${partner.ref}:touch`,
            body: customerFromPartner(partner, ctx.config),
          },
        ],
      },
      partner,
    });
  },
  odooRecord: (intent) => ({ model: 'res.partner', id: intent.partnerId }),
  syncTarget: (_intent, last) => ({ entity: 'customer', code: last?.partner?.ref ?? null }),
});

const registry = INTENTS.with(touchCustomer);

const partner: PartnerView = samplePartner();

const refWritten = {
  table: 'res_partner',
  op: 'u',
  before: { id: 7, ref: '12' },
  after: { id: 7, ref: '1234' },
  source: { lsn: 1, txId: 1, tsMs: 0, isSnapshot: false },
} as unknown as RowChange;

function message(): IntentMessage {
  return {
    v: 1,
    intentId: 'touch-1',
    aggregateKey: 'partner:7',
    partnerId: 7,
    contractId: null,
    intent: { kind: 'touch_customer', partnerId: 7 } as unknown as IntentMessage['intent'],
    force: undefined,
    repair: undefined,
    source: {
      table: 'res_partner',
      op: 'u',
      rowId: 7,
      lsn: 1,
      txId: 1,
      tsMs: 0,
      snapshot: false,
      topic: null,
      partition: null,
      offset: null,
    },
  };
}

describe('intent catalogue', () => {
  it('lists every kind once, in the order one change’s intents are applied', () => {
    expect(INTENT_KINDS.map((k) => k.kind)).to.deep.equal([
      'create_subscription',
      'terminate_subscription',
      'activate_service',
      'apply_one_shot',
      'terminate_service',
      'update_customer',
      'update_accounts_address',
      'update_phone_number',
      'update_subscription',
      'force_iban',
      'apply_compensation',
      'unsynced_change',
    ]);
    expect(() => INTENTS.with(touchCustomer, touchCustomer)).to.throw(/registered twice/);
  });

  it('triggers only on tables the router reads, and cites the behaviour catalogue', () => {
    const routed = new Set<string>(triggeringTables());
    for (const k of INTENT_KINDS) {
      for (const table of k.trigger.tables) expect(routed.has(table), `${k.kind}: ${table}`).to.equal(true);
      expect(k.trigger.rule, k.kind).to.match(/^docs\/behaviour\.md /);
    }
  });

  it('fires on no table but its trigger.tables: the router asks only those kinds (INTENTS.triggeredBy)', () => {
    // every captured table, every op, every watched column written, a context that answers yes to every question
    const yes: TriggerContext = {
      syncPartnerIdentity: true,
      syncEmailIbanAtCreation: true,
      syncTerminationAtCreation: true,
      product: (id) => ({
        id,
        defaultCode: 'SE_SC_REC_MOBILE_T_UNL_20480',
        categoryXmlId: 'somconnexio.mobile_service',
        categoryAncestorXmlIds: [],
      }),
      partnerHasContracts: () => true,
      contractInCreation: () => false,
    };
    let fired = 0;
    for (const table of Object.keys(TABLES) as TableName[]) {
      const before = sampleRow(table, { date_end: '2024-06-30', is_terminated: true } as never);
      const after = sampleRow(table, { date_end: '2024-07-31', is_terminated: true } as never);
      for (const op of ['c', 'u', 'd', 'r'] as const) {
        const rec = changeRecord(table, {
          op,
          before: op === 'c' || op === 'r' ? null : before,
          after: op === 'd' ? null : after,
        });
        const change = decodeChange(rec.topic, rec.partition, rec.offset, rec.key, rec.value);
        if (change.kind !== 'row') continue;
        const fields = [...watchedColumns(table)];
        for (const k of INTENT_KINDS) {
          const found = k.trigger.detect(change as never, fields, yes);
          if ((k.trigger.tables as readonly string[]).includes(table)) fired += found.length;
          else expect(found, `${k.kind} on ${table} (${op})`).to.deep.equal([]);
        }
        expect(INTENTS.triggeredBy(table).map((k) => k.kind)).to.deep.equal(
          INTENT_KINDS.filter((k) => (k.trigger.tables as readonly string[]).includes(table)).map(
            (k) => k.kind,
          ),
        );
      }
    }
    expect(fired, 'the kinds fired on their own tables (the changes could trigger)').to.be.greaterThan(5);
  });

  describe('a throw-away kind added through the registry alone', () => {
    const oc = withOpenCellSandbox();

    it('is detected from its change and routed to its customer', async () => {
      const intents = detectIntents(refWritten, { syncPartnerIdentity: false }, ['ref'], registry);
      expect(intents).to.deep.equal([{ kind: 'touch_customer', partnerId: 7 }]);
      expect(detectIntents(refWritten, { syncPartnerIdentity: false }, ['ref'])).to.deep.equal([]);
      const reader = {} as RoutingReader; // a partner-level kind needs no lookup
      expect(await registry.spec(intents[0]).targets(intents[0], reader)).to.deep.equal([
        { partnerId: 7, contractId: null },
      ]);
    });

    it('is decoded from the intents topic by the registry that knows it (and refused by one that does not)', () => {
      const json = JSON.parse(JSON.stringify(message()));
      expect(isRight(intentMessageCodec(registry).decode(json))).to.equal(true);
      const refused = IntentMessageCodec.decode(json);
      expect(isLeft(refused) && refused.left[0].message).to.equal('unknown intent kind touch_customer');
      expect(
        isLeft(intentMessageCodec(registry).decode({ ...json, intent: { kind: 'touch_customer' } })),
      ).to.equal(true);
    });

    it('is projected against the OpenCell sandbox and recorded with its own ledger record and sync target', async () => {
      await oc.client.createCustomer(customerFromPartner(partner, DEFAULT_PROJECTION_CONFIG));
      const ledger = new InMemoryLedger();
      const projector = projectorOver(
        {
          partner: async (id) => (id === partner.id ? partner : null),
          contract: async () => null,
          contractsOfPartner: async () => [],
        },
        oc.client,
        ledger,
        {
          catalog: { check: async () => Promise.reject(new Error('no products in this plan')) },
          intents: registry,
        },
      );
      const since = oc.sandbox.journal.entries().length;

      const result = await projector.handle(message(), 1);

      expect(result).to.include({ outcome: 'applied', strategy: 'touch' });
      expect(result?.calls).to.deep.equal(['updateCustomer']);
      expect(result?.opencell).to.deep.equal({ entity: 'customer', code: '1234' });
      expect(result?.odooRecord).to.deep.equal({ model: 'res.partner', id: 7 });
      const puts = oc.sandbox.journal
        .entries()
        .slice(since)
        .filter((e) => e.method === 'PUT');
      expect(puts.map((e) => e.path)).to.deep.equal(['/account/customer']);
      expect(puts[0].status).to.equal(200);
      expect(ledger.finished.map((f) => f.msg.intent.kind)).to.deep.equal(['touch_customer']);
      expect(await projector.handle(message(), 2)).to.equal(null); // a replay of a finished intent
    });
  });
});
