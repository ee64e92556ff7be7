/**
 * Issue 15 §4: a snapshot read (`r`: the connector's initial snapshot or an operator's `snapshot <table>`) reconciles
 * against OpenCell instead of replaying history. Per kind: present → nothing; missing and active → create; terminated
 * / ended and missing → skipped with a reason (ledger note, sync event); a one-shot → never applied unless
 * SNAPSHOT_ONE_SHOTS_SINCE allows it. The pure decisions (src/domain/intents/snapshot.ts), then the projector (in
 * process, in-memory ledger) against the OpenCell sandbox, counting its state-changing calls.
 */
import { expect } from 'chai';
import { loadConfig } from '../../src/core/config';
import type { RowChange } from '../../src/domain/capture/envelope';
import type { IntentMessage } from '../../src/domain/intents/message';
import { INTENTS } from '../../src/domain/intents/registry';
import {
  snapshotActivateService,
  snapshotApplyOneShot,
  snapshotCreateSubscription,
  snapshotTerminateService,
  snapshotTerminateSubscription,
  type SnapshotFacts,
} from '../../src/domain/intents/snapshot';
import { detectIntents } from '../../src/domain/projection/triggers';
import type {
  ContractView,
  LineView,
  OcSubscriptionState,
  PartnerView,
} from '../../src/domain/projection/views';
import { InMemoryLedger } from '../../testkit/ledger';
import { sampleContract, sampleLine, samplePartner } from '../../testkit/views';
import { oneContractOdoo, projectorOver, withOpenCellSandbox } from './support/projector-harness';
import { contractIntentMessage } from './support/intent-message';

const SERVICE = 'SE_SC_REC_MOBILE_T_150_1024';
const OTHER_SERVICE = 'SE_SC_REC_MOBILE_T_UNL_20480';
const ONE_SHOT = 'CH_SC_OSO_SIM';
let seq = 0;

function line(id: number, contractId: number, extra: Partial<LineView>): LineView {
  return sampleLine({ id, contractId, productId: id, productCode: SERVICE, name: null, ...extra });
}

function fixture(opts: { terminated?: boolean } = {}): ContractView {
  seq++;
  const ref = `8${String(Date.now() % 1e6).padStart(6, '0')}${seq}`;
  const partner: PartnerView = samplePartner({
    id: 900 + seq,
    ref,
    name: 'Joan Soler Mas',
    firstname: 'Joan',
    lastname: 'Soler Mas',
    email: 'joan@example.org',
  });
  const id = 70000 + seq * 10;
  return sampleContract(
    {
      id,
      code: `SC-S${ref}`,
      emails: [{ id: 9, email: `inv${ref}@example.org` }],
      phoneNumber: `6${String(700000 + seq).padStart(8, '0')}`,
      dateEnd: opts.terminated ? '2024-06-30' : null,
      isTerminated: opts.terminated === true,
      terminateDate: opts.terminated ? '2024-06-30' : null,
      lines: [
        line(id + 1, id, {}), // a running service
        line(id + 2, id, { productCode: ONE_SHOT, kind: 'one_shot', dateStart: '2024-02-01' }),
        line(id + 3, id, { productCode: OTHER_SERVICE, dateStart: '2024-02-01', dateEnd: '2024-03-31' }), // ended
        line(id + 4, id, { productCode: ONE_SHOT, kind: 'one_shot', dateStart: '2025-05-10' }),
      ],
    },
    partner,
  );
}

type Kind = IntentMessage['intent']['kind'];

/** The intent a snapshot read of the contract or of one of its lines yields (as the router publishes it). */
function intentOf(c: ContractView, kind: Kind, lineIdx = 0): IntentMessage['intent'] {
  const l = c.lines[lineIdx];
  const lineFields = { contractId: c.id, lineId: l.id, productId: l.productId, productCode: l.productCode };
  switch (kind) {
    case 'create_subscription':
      return { kind, contractId: c.id, snapshot: true };
    case 'terminate_subscription':
      return { kind, contractId: c.id, date: c.terminateDate, snapshot: true };
    case 'activate_service':
    case 'apply_one_shot':
      return { kind, ...lineFields, snapshot: true };
    case 'terminate_service':
      return { kind, ...lineFields, date: l.dateEnd as string, snapshot: true };
    default:
      throw new Error(`no snapshot intent of ${kind}`);
  }
}

function message(c: ContractView, intent: IntentMessage['intent'], snapshot = true): IntentMessage {
  const table = intent.kind.endsWith('_subscription') ? 'contract_contract' : 'contract_line';
  return contractIntentMessage(c, intent, {
    intentId: `snap-${c.code}-${intent.kind}-${Math.random()}`,
    source: {
      table,
      op: snapshot ? 'r' : 'c',
      lsn: null,
      txId: null,
      snapshot,
      topic: `odoo.public.${table}`,
    },
  });
}

const sub = (c: ContractView, services: { code: string; status?: string }[] = []): OcSubscriptionState => ({
  code: c.code,
  userAccount: `${c.partner.ref}_0`,
  description: null,
  status: 'ACTIVE',
  subscriptionDate: null,
  services: services.map((s) => ({
    code: s.code,
    status: s.status ?? 'ACTIVE',
  })) as OcSubscriptionState['services'],
});

const facts = (
  c: ContractView,
  s: OcSubscriptionState | null,
  since: string | null = null,
): SnapshotFacts => ({
  contract: c,
  subscription: s,
  oneShotsSince: since,
});

describe('snapshot reads reconcile against OpenCell (issue 15 §4)', () => {
  describe('the pure decisions, per kind', () => {
    it('create_subscription: present → nothing; missing and active → create; terminated and missing → skipped', () => {
      const c = fixture();
      expect(snapshotCreateSubscription(facts(c, sub(c)))).to.deep.include({ apply: false });
      expect(snapshotCreateSubscription(facts(c, null))).to.deep.equal({ apply: true });
      const t = fixture({ terminated: true });
      const d = snapshotCreateSubscription(facts(t, null));
      expect(d.apply).to.equal(false);
      expect(!d.apply && d.reason).to.match(/terminated in Odoo and its subscription is not in OpenCell/);
    });

    it('terminate_subscription: present → nothing; missing → skipped (never creates to terminate)', () => {
      const t = fixture({ terminated: true });
      const present = snapshotTerminateSubscription(facts(t, { ...sub(t), status: 'RESILIATED' }));
      expect(!present.apply && present.reason).to.match(/already in OpenCell \(RESILIATED\)/);
      const missing = snapshotTerminateSubscription(facts(t, null));
      expect(!missing.apply && missing.reason).to.match(/terminated in Odoo .* skipped/);
    });

    it('activate_service: present → nothing; missing and active → activate; ended and missing → skipped', () => {
      const c = fixture();
      const [running, , ended] = c.lines;
      expect(snapshotActivateService(running.id, facts(c, sub(c, [{ code: SERVICE }])))).to.deep.include({
        apply: false,
      });
      expect(snapshotActivateService(running.id, facts(c, sub(c)))).to.deep.equal({ apply: true });
      expect(snapshotActivateService(running.id, facts(c, null))).to.deep.equal({ apply: true });
      const d = snapshotActivateService(ended.id, facts(c, sub(c)));
      expect(!d.apply && d.reason).to.match(/ended in Odoo \(date_end 2024-03-31\).*not activated/);
      const t = fixture({ terminated: true });
      const gone = snapshotActivateService(t.lines[0].id, facts(t, null));
      expect(!gone.apply && gone.reason).to.match(/terminated in Odoo/);
    });

    it('terminate_service: present → nothing; ended and missing → skipped', () => {
      const c = fixture();
      const ended = c.lines[2];
      const present = snapshotTerminateService(
        ended.id,
        facts(c, sub(c, [{ code: OTHER_SERVICE, status: 'TERMINATED' }])),
      );
      expect(!present.apply && present.reason).to.match(/already in OpenCell/);
      const missing = snapshotTerminateService(ended.id, facts(c, sub(c)));
      expect(!missing.apply && missing.reason).to.match(/ended in Odoo .* skipped/);
    });

    it('apply_one_shot: never applied by default; with SNAPSHOT_ONE_SHOTS_SINCE only lines starting on or after the day', () => {
      const c = fixture();
      const [, old, , recent] = c.lines;
      const off = snapshotApplyOneShot(recent.id, facts(c, sub(c)));
      expect(!off.apply && off.reason).to.match(
        /not applied from a snapshot read \(SNAPSHOT_ONE_SHOTS_SINCE is off\)/,
      );
      const before = snapshotApplyOneShot(old.id, facts(c, sub(c), '2025-01-01'));
      expect(!before.apply && before.reason).to.match(
        /starts 2024-02-01, before SNAPSHOT_ONE_SHOTS_SINCE=2025-01-01/,
      );
      expect(snapshotApplyOneShot(recent.id, facts(c, sub(c), '2025-01-01'))).to.deep.equal({ apply: true });
      expect(snapshotApplyOneShot(recent.id, facts(c, sub(c), '2025-05-10'))).to.deep.equal({ apply: true });
      const t = fixture({ terminated: true });
      const gone = snapshotApplyOneShot(t.lines[3].id, facts(t, null, '2025-01-01'));
      expect(!gone.apply && gone.reason).to.match(/terminated in Odoo/);
    });

    it('every kind a snapshot read can produce has a rule; the update kinds are produced by no snapshot read', () => {
      for (const k of INTENTS.kinds) {
        if (k.trigger.flagsSnapshot) expect(k.reconcileSnapshot, k.kind).to.be.a('function');
      }
      const reads: RowChange[] = [
        { kind: 'row', table: 'res_partner', op: 'r', before: null, after: { id: 5, ref: '1', street: 'x' } },
        {
          kind: 'row',
          table: 'mobile_isp_info',
          op: 'r',
          before: null,
          after: { id: 6, phone_number: '600' },
        },
        {
          kind: 'row',
          table: 'contract_contract_res_partner_email_rel',
          op: 'r',
          before: null,
          after: { contract_contract_id: 1, res_partner_id: 2 },
        },
      ] as unknown as RowChange[];
      for (const r of reads) {
        const intents = detectIntents(r, {
          syncPartnerIdentity: true,
          syncEmailIbanAtCreation: true,
          partnerHasContracts: () => true,
          contractInCreation: () => false,
        });
        expect(intents, r.table).to.deep.equal([]);
      }
    });

    it('SNAPSHOT_ONE_SHOTS_SINCE: off by default, a day, or refused', () => {
      const env = { OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y' };
      expect(loadConfig(env).snapshotOneShotsSince).to.equal(null);
      expect(loadConfig({ ...env, SNAPSHOT_ONE_SHOTS_SINCE: 'off' }).snapshotOneShotsSince).to.equal(null);
      expect(loadConfig({ ...env, SNAPSHOT_ONE_SHOTS_SINCE: '2025-01-01' }).snapshotOneShotsSince).to.equal(
        '2025-01-01',
      );
      expect(() => loadConfig({ ...env, SNAPSHOT_ONE_SHOTS_SINCE: '2025-13-01' })).to.throw(
        /SNAPSHOT_ONE_SHOTS_SINCE/,
      );
      expect(() => loadConfig({ ...env, SNAPSHOT_ONE_SHOTS_SINCE: 'yesterday' })).to.throw(
        /SNAPSHOT_ONE_SHOTS_SINCE/,
      );
    });
  });

  describe('the projector against the OpenCell sandbox', () => {
    const oc = withOpenCellSandbox();

    const projectorOf = (c: ContractView, ledger: InMemoryLedger, since: string | null = null) =>
      projectorOver(
        oneContractOdoo(() => c),
        oc.client,
        ledger,
        { snapshotOneShotsSince: since },
      );

    /** OpenCell calls that change state since `mark` (reads: GET and the POST …/list searches). */
    const writesSince = (mark: number) =>
      oc.sandbox.journal
        .entries({ since: mark })
        .filter((e) => e.method !== 'GET' && !e.path.endsWith('/list'))
        .map((e) => `${e.method} ${e.path}`);

    /** The contract's history projected as live changes: created, service and one-shots applied. */
    async function history(c: ContractView, ledger: InMemoryLedger): Promise<void> {
      const p = projectorOf(c, ledger);
      for (const [kind, idx] of [
        ['create_subscription', 0],
        ['activate_service', 0],
        ['apply_one_shot', 1],
        ['apply_one_shot', 3],
      ] as const) {
        const intent = { ...intentOf(c, kind, idx) } as Record<string, unknown>;
        delete intent.snapshot;
        await p.handle(message(c, intent as IntentMessage['intent'], false), 1);
      }
    }

    const snapshotKinds: [Kind, number][] = [
      ['create_subscription', 0],
      ['activate_service', 0],
      ['activate_service', 2],
      ['apply_one_shot', 1],
      ['apply_one_shot', 3],
      ['terminate_service', 2],
    ];

    it('present in OpenCell: every kind of a snapshot read makes 0 state-changing calls and records why', async () => {
      const c = fixture();
      const ledger = new InMemoryLedger();
      await history(c, ledger);
      const mark = oc.sandbox.journal.lastSeq;
      expect(writesSince(0).length, 'the history made calls').to.be.greaterThan(0);
      for (const [kind, idx] of snapshotKinds) {
        const result = await projectorOf(c, ledger).handle(message(c, intentOf(c, kind, idx)), 1);
        expect(result?.outcome, `${kind} #${idx}`).to.equal('skipped');
        expect(result?.note, `${kind} #${idx}`).to.match(/^snapshot: /);
      }
      expect(writesSince(mark)).to.deep.equal([]);
    });

    it('present and terminated: terminate_subscription of a snapshot read changes nothing', async () => {
      const c = fixture();
      const ledger = new InMemoryLedger();
      await history(c, ledger);
      const t: ContractView = { ...c, isTerminated: true, terminateDate: '2024-06-30' };
      const mark = oc.sandbox.journal.lastSeq;
      const result = await projectorOf(t, ledger).handle(
        message(t, intentOf(t, 'terminate_subscription')),
        1,
      );
      expect(result).to.include({ outcome: 'skipped' });
      expect(result?.note).to.match(/already in OpenCell/);
      expect(writesSince(mark)).to.deep.equal([]);
    });

    it('missing and active: create_subscription and activate_service of a snapshot read create', async () => {
      const c = fixture();
      const ledger = new InMemoryLedger();
      const created = await projectorOf(c, ledger).handle(message(c, intentOf(c, 'create_subscription')), 1);
      expect(created?.outcome).to.equal('applied');
      expect(created?.calls).to.include('createSubscription');
      const activated = await projectorOf(c, ledger).handle(
        message(c, intentOf(c, 'activate_service', 0)),
        1,
      );
      expect(activated?.calls).to.deep.equal(['activateServices']);
      expect(oc.sandbox.state.subscriptions.get(c.code)).to.not.equal(undefined);
    });

    it('terminated and missing: skipped with the reason in the ledger, nothing created', async () => {
      const t = fixture({ terminated: true });
      const ledger = new InMemoryLedger();
      const mark = oc.sandbox.journal.lastSeq;
      for (const [kind, idx] of [
        ['create_subscription', 0],
        ['terminate_subscription', 0],
        ['activate_service', 0],
      ] as const) {
        const result = await projectorOf(t, ledger).handle(message(t, intentOf(t, kind, idx)), 1);
        expect(result?.outcome, kind).to.equal('skipped');
        expect(result?.note, kind).to.match(
          /terminated in Odoo and its subscription is not in OpenCell; skipped/,
        );
      }
      // the reason is recorded with the outcome (ledger error_message, sync event errorMessage; no error code)
      expect(ledger.finished).to.have.length(3);
      for (const f of ledger.finished) {
        expect(f.result.errorMessage).to.match(/^snapshot: contract .* is terminated in Odoo/);
        expect(f.result.errorCode).to.equal(undefined);
      }
      expect(writesSince(mark)).to.deep.equal([]);
      expect(oc.sandbox.state.subscriptions.get(t.code)).to.equal(undefined);
    });

    it('a one-shot of a snapshot read: skipped by default, applied once with SNAPSHOT_ONE_SHOTS_SINCE for lines from that day', async () => {
      const c = fixture();
      const ledger = new InMemoryLedger();
      await projectorOf(c, ledger).handle(message(c, intentOf(c, 'create_subscription')), 1);
      const mark = oc.sandbox.journal.lastSeq;
      const off = await projectorOf(c, ledger).handle(message(c, intentOf(c, 'apply_one_shot', 3)), 1);
      expect(off).to.include({ outcome: 'skipped' });
      expect(off?.note).to.match(/SNAPSHOT_ONE_SHOTS_SINCE is off/);
      const old = await projectorOf(c, ledger, '2025-01-01').handle(
        message(c, intentOf(c, 'apply_one_shot', 1)),
        1,
      );
      expect(old?.note).to.match(/before SNAPSHOT_ONE_SHOTS_SINCE=2025-01-01/);
      expect(writesSince(mark)).to.deep.equal([]);

      const recent = await projectorOf(c, ledger, '2025-01-01').handle(
        message(c, intentOf(c, 'apply_one_shot', 3)),
        1,
      );
      expect(recent?.calls).to.deep.equal(['applyOneShotChargeInstance']);
      // a second snapshot of the same line: the ledger holds the charge, nothing is sent again
      const again = await projectorOf(c, ledger, '2025-01-01').handle(
        message(c, intentOf(c, 'apply_one_shot', 3)),
        1,
      );
      expect(again?.calls).to.deep.equal([]);
      expect(writesSince(mark)).to.have.length(1);
    });
  });
});
