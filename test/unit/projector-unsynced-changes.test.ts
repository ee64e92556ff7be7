/**
 * Issue 15 §8, in process: the projector (in-memory ledger) against the OpenCell sandbox, for the Odoo changes the
 * original sends nothing for — a contract's partner changed, a contract deleted or archived, a service line canceled
 * or its product changed in place (unsynced_change: reported as skipped when nothing diverges, dead-lettered with the
 * reason otherwise) — and for a same-product line replacement, whose new line must not be lost.
 */
import { expect } from 'chai';
import { sampleContract, sampleLine, samplePartner } from '../../testkit/views';
import { ProjectionRejectedError } from '../../src/domain/errors';
import type { IntentMessage } from '../../src/domain/intents/message';
import type { UnsyncedChangeIntent } from '../../src/domain/intents/unsynced-change';
import type { ContractView, LineView, PartnerView } from '../../src/domain/projection/views';
import type { Projector } from '../../src/flows/projection/projector';
import { InMemoryLedger } from '../../testkit/ledger';
import { projectorOver, withOpenCellSandbox } from './support/projector-harness';
import { contractIntentMessage } from './support/intent-message';

const X = 'SE_SC_REC_MOBILE_T_UNL_20480';
const Y = 'SE_SC_REC_MOBILE_T_150_1024';
const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

let seq = 0;
function partner(): PartnerView {
  seq++;
  return samplePartner({ id: 900 + seq, ref: `8${String(Date.now() % 1e6).padStart(6, '0')}${seq}` });
}
function contractOf(p: PartnerView, lines: LineView[] = []): ContractView {
  seq++;
  const id = 70_000 + seq;
  return sampleContract(
    {
      id,
      code: `SC-U${p.ref}-${seq}`,
      phoneNumber: `6${String(700_000 + seq).padStart(8, '0')}`,
      emails: [{ id: 9, email: `u${p.ref}@example.org` }],
      // line ids unique per contract (the ledger's effect keys are per line id)
      lines: lines.map((l, i) => ({ ...l, id: id * 10 + i, contractId: id })),
    },
    p,
  );
}
const line = (over: Partial<LineView>) =>
  sampleLine({ productCode: X, productId: 1, dateStart: '2024-02-01', ...over });

let n = 0;
function message(
  contract: ContractView,
  intent: Record<string, unknown>,
  queuePartnerId = contract.partner.id,
): IntentMessage {
  n++;
  return contractIntentMessage(contract, intent, {
    intentId: `u-${n}-${Math.random()}`,
    partnerId: queuePartnerId,
    source: { lsn: n, txId: n, offset: String(n) },
  });
}
const unsynced = (
  contract: ContractView,
  over: Partial<UnsyncedChangeIntent> & Pick<UnsyncedChangeIntent, 'change'>,
): UnsyncedChangeIntent => ({
  kind: 'unsynced_change',
  contractId: contract.id,
  contractCode: contract.code,
  lineId: null,
  productCode: null,
  newProductCode: null,
  fromPartnerId: null,
  toPartnerId: null,
  ...over,
});

describe('projector: changes the original sends nothing for, and same-product line replacement (issue 15 §8)', () => {
  const oc = withOpenCellSandbox();
  /** Odoo as the projector reads it now (tests replace views to model a change). */
  const odoo = {
    contracts: new Map<number, ContractView | null>(),
    partners: new Map<number, PartnerView>(),
  };
  const ledger = new InMemoryLedger();
  let projector: Projector;

  before(() => {
    projector = projectorOver(
      {
        partner: async (id) => odoo.partners.get(id) ?? null,
        contract: async (id) => odoo.contracts.get(id) ?? null,
        contractsOfPartner: async (pid) =>
          [...odoo.contracts.values()].filter((v): v is ContractView => !!v && v.partner.id === pid),
      },
      oc.client,
      ledger,
    );
  });

  const put = (c: ContractView) => {
    odoo.contracts.set(c.id, c);
    odoo.partners.set(c.partner.id, c.partner);
    return c;
  };
  const handle = (c: ContractView, intent: Record<string, unknown>) =>
    projector.handle(message(c, intent), 1);
  const refused = (c: ContractView, intent: Record<string, unknown>) =>
    handle(c, intent).then(
      () => expect.fail('expected a dead letter'),
      (e: unknown) => {
        expect(e).to.be.instanceOf(ProjectionRejectedError);
        return (e as Error).message;
      },
    );
  /** A contract created in OpenCell with its service lines activated. */
  async function live(c: ContractView): Promise<ContractView> {
    put(c);
    await handle(c, { kind: 'create_subscription', contractId: c.id });
    for (const l of c.lines)
      await handle(c, {
        kind: 'activate_service',
        contractId: c.id,
        lineId: l.id,
        productId: l.productId,
        productCode: l.productCode,
      });
    return c;
  }
  const instances = (code: string) =>
    (oc.sandbox.state.subscriptions.get(code)?.services ?? []).map((s) => ({
      code: s.code,
      status: s.status,
      ended: s.terminationDate !== undefined && s.terminationDate !== null,
    }));
  const writes = (code: string) =>
    oc.sandbox.journal
      .entries({ method: 'POST' })
      .filter((e) => e.status < 300 && JSON.stringify(e.body ?? '').includes(code))
      .map((e) => e.path);

  describe('a contract changes partner (a)', () => {
    it('regression (issue 15 §8 a): the partner change is dead-lettered naming the account the subscription stays in; an IBAN change of the moved contract does not touch the new partner’s account', async () => {
      const before = await live(contractOf(partner()));
      const other = await live(contractOf(partner())); // the new holder has a customer and an account of its own
      const moved = put({ ...before, partner: other.partner, invoicePartner: other.partner });
      const message = await refused(
        moved,
        unsynced(moved, {
          change: 'contract_partner_changed',
          fromPartnerId: before.partner.id,
          toPartnerId: other.partner.id,
        }),
      );
      expect(message).to.contain(`customer account ${before.partner.ref}_0`);
      expect(message).to.contain(`${before.partner.ref} → ${other.partner.ref}`);

      const caWrites = () =>
        oc.sandbox.journal
          .entries({ method: 'POST' })
          .filter((e) => e.path.includes('createOrUpdateCRMAccountHierarchy')).length;
      const writesBefore = caWrites();
      const iban = await refused(moved, { kind: 'update_subscription', contractId: moved.id, field: 'iban' });
      expect(iban).to.contain(`not an account of its partner's customer ${other.partner.ref}`);
      expect(caWrites(), 'no account update sent').to.equal(writesBefore);
      expect(oc.sandbox.state.subscriptions.get(moved.code)?.userAccount).to.equal(`${before.partner.ref}_0`);
    });

    it('a partner change before the subscription exists, or back to the customer it is in → skipped with the reason', async () => {
      const fresh = put(contractOf(partner()));
      const r = await handle(
        fresh,
        unsynced(fresh, {
          change: 'contract_partner_changed',
          fromPartnerId: 1,
          toPartnerId: fresh.partner.id,
        }),
      );
      expect(r?.outcome).to.equal('skipped');
      expect(r?.note).to.contain('does not exist in OpenCell');
      const c = await live(contractOf(partner()));
      const back = await handle(
        c,
        unsynced(c, { change: 'contract_partner_changed', fromPartnerId: 1, toPartnerId: c.partner.id }),
      );
      expect(back?.outcome).to.equal('skipped');
      expect(back?.note).to.contain(`current partner's customer ${c.partner.ref}`);
    });
  });

  it('regression (issue 15 §8 a): a contract whose partner changed before its subscription exists is not created from the former partner’s queue (dead letter naming force-create); from the holder’s queue it is created', async () => {
    const former = partner();
    const c = put(contractOf(partner()));
    const err = await projector
      .handle(message(c, { kind: 'create_subscription', contractId: c.id }, former.id), 1)
      .then(
        () => expect.fail('expected a dead letter'),
        (e: unknown) => e as Error,
      );
    expect(err).to.be.instanceOf(ProjectionRejectedError);
    expect(err.message).to.contain(
      `contract ${c.code} changed partner in Odoo (queue of partner ${former.id}`,
    );
    expect(err.message).to.contain(`force-create ${c.code}`);
    expect(oc.sandbox.state.subscriptions.has(c.code), 'nothing created').to.equal(false);
    const forced = await projector.handle(
      { ...message(c, { kind: 'create_subscription', contractId: c.id }), force: true },
      1,
    );
    expect(forced?.outcome).to.equal('applied');
    expect(oc.sandbox.state.subscriptions.get(c.code)?.userAccount).to.equal(`${c.partner.ref}_0`);
  });

  describe('deleted and archived contracts, canceled lines, products changed in place (b, c, d)', () => {
    it('regression (issue 15 §8 b): a contract archived or deleted while its subscription runs → dead letter naming it; once terminated → skipped', async () => {
      const c = await live(contractOf(partner(), [line({ id: 100 })]));
      expect(await refused(c, unsynced(c, { change: 'contract_archived' }))).to.match(
        new RegExp(`contract ${c.code} was archived in Odoo while its subscription is ACTIVE`),
      );
      odoo.contracts.set(c.id, null); // deleted: only the event's code is left
      expect(
        await refused(c, unsynced(c, { change: 'contract_deleted', fromPartnerId: c.partner.id })),
      ).to.contain(`contract ${c.code} was deleted in Odoo`);
      const ended = put({ ...c, isTerminated: true, terminateDate: day(-1) });
      await handle(ended, { kind: 'terminate_subscription', contractId: c.id, date: day(-1) });
      const r = await handle(ended, unsynced(ended, { change: 'contract_archived' }));
      expect(r?.outcome).to.equal('skipped');
    });

    it('regression (issue 15 §8 d): a service line canceled while OpenCell runs it → dead letter; a canceled line whose service never ran → skipped', async () => {
      const c = await live(contractOf(partner(), [line({ id: 100 })]));
      const canceled = put({ ...c, lines: [{ ...c.lines[0], isCanceled: true }] });
      const lineId = c.lines[0].id;
      const msg = await refused(
        canceled,
        unsynced(canceled, { change: 'line_canceled', lineId, productCode: X }),
      );
      expect(msg).to.contain(`contract line ${lineId} of ${c.code} was canceled in Odoo without an end date`);
      expect(msg).to.contain(`OpenCell still runs ${X}`);
      const other = put(contractOf(partner()));
      await handle(other, { kind: 'create_subscription', contractId: other.id });
      const r = await handle(other, unsynced(other, { change: 'line_canceled', lineId: 5, productCode: X }));
      expect(r?.outcome).to.equal('skipped');
    });

    it('regression (issue 15 §8 c): a line whose product changes in place → dead letter naming the old product still running and the new one not active', async () => {
      const c = await live(contractOf(partner(), [line({ id: 100 })]));
      const changed = put({ ...c, lines: [{ ...c.lines[0], productCode: Y, productId: 2 }] });
      const msg = await refused(
        changed,
        unsynced(changed, {
          change: 'line_product_changed',
          lineId: c.lines[0].id,
          productCode: X,
          newProductCode: Y,
        }),
      );
      expect(msg).to.contain(`changed product in Odoo (${X} → ${Y})`);
      expect(msg).to.contain(`OpenCell still runs ${X} on ${c.code} and ${Y} is not active`);
    });
  });

  describe('a same-product line replacement (e)', () => {
    const replaced = (c: ContractView, oldEnd: string, newStart: string): ContractView =>
      put({
        ...c,
        lines: [
          { ...c.lines[0], dateEnd: oldEnd },
          { ...c.lines[0], id: c.lines[0].id + 1, dateStart: newStart, dateEnd: null },
        ],
      });
    const activateNew = (c: ContractView) =>
      handle(c, {
        kind: 'activate_service',
        contractId: c.id,
        lineId: c.lines[1].id,
        productId: 1,
        productCode: X,
      });
    const terminateOld = (c: ContractView) =>
      handle(c, {
        kind: 'terminate_service',
        contractId: c.id,
        lineId: c.lines[0].id,
        productId: 1,
        productCode: X,
        date: c.lines[0].dateEnd,
      });

    it('regression (issue 15 §8 e): the new line’s activation first (before the old line’s T5) ends the old instance, then activates the new line; the T5 that follows ends nothing', async () => {
      const c = replaced(await live(contractOf(partner(), [line({ id: 100 })])), day(-1), day(0));
      const r = await activateNew(c);
      expect(r?.calls).to.deep.equal(['terminateServices', 'activateServices']);
      const t5 = await terminateOld(c);
      expect(t5?.calls, 'the new instance is kept').to.deep.equal([]);
      expect(instances(c.code)).to.deep.equal([
        { code: X, status: 'TERMINATED', ended: true },
        { code: X, status: 'ACTIVE', ended: false },
      ]);
    });

    it('regression (issue 15 §8 e): the old line’s T5 first ends the old instance and then activates the new line; the new line’s own intent is then a no-op', async () => {
      const c = replaced(await live(contractOf(partner(), [line({ id: 100 })])), day(-1), day(0));
      const t5 = await terminateOld(c);
      expect(t5?.calls).to.deep.equal(['terminateServices', 'activateServices']);
      const r = await activateNew(c);
      expect(r?.outcome).to.equal('skipped');
      expect(instances(c.code).map((i) => i.status)).to.deep.equal(['TERMINATED', 'ACTIVE']);
      expect(writes(c.code).filter((p) => p.endsWith('activateServices'))).to.have.length(2);
    });

    it('the old line ending in the future: its end is scheduled, and the new line is dead-lettered with the reason (OpenCell refuses a second active instance of a code)', async () => {
      const c = replaced(await live(contractOf(partner(), [line({ id: 100 })])), day(5), day(6));
      const msg = await refused(c, {
        kind: 'activate_service',
        contractId: c.id,
        lineId: c.lines[1].id,
        productId: 1,
        productCode: X,
      });
      expect(msg).to.contain(
        `cannot be activated on ${c.code} while another line's instance of ${X} is active`,
      );
      expect(instances(c.code)).to.deep.equal([{ code: X, status: 'ACTIVE', ended: true }]);
    });
  });
});
