import { expect } from 'chai';
import type { PoolClient } from 'pg';
import { insertBankAccountAndMandate, insertContract, insertPartner } from '../../testkit/demo-seed';
import type { JournalEntry } from '../../testkit/sandbox/opencell/journal';
import { startTestPipeline, type TestPipeline } from './support/pipeline';
import { eventually, odooDb, stateDb, uniqueSuffix } from './support/stack';

/**
 * docs/parity.md rows T7 and P-access on the real stack, for Odoo's "-" phone placeholder (the default `phone_number`
 * of the Orange fiber, ADSL and router 4G infos, copied to the contract): by default as the original sent it — the
 * subscription's description and an access code, and T7 fires when "-" is written or replaced
 * (/work/shared/reference/original-module.md §3, T7) — and with the opt-in PHONE_PLACEHOLDER_IS_NO_NUMBER as no
 * number. Each describe has its own pipeline and OpenCell sandbox; Odoo rows are written with plain SQL, Debezium
 * streams them.
 */

const state = (e: JournalEntry) => e.method !== 'GET' && !/\/list(GetAll)?$/.test(e.path);
/** The subscription and access requests about one contract: method, path (dates cut off), status. */
const phoneCalls = (t: TestPipeline, code: string, from = 0) =>
  t.sandbox.journal
    .entries()
    .filter((e) => e.seq > from && state(e) && !e.path.includes('activateServices'))
    .filter((e) => JSON.stringify(e.body ?? '').includes(code) || e.path.includes(`/${code}`))
    .map((e) => {
      const del = /^\/account\/access\/([^/]+)\/([^/]+)/.exec(e.path);
      return `${e.method} ${del ? `/account/access/${decodeURIComponent(del[1])}` : e.path} ${e.status}`;
    });
const lastSeq = (t: TestPipeline) => t.sandbox.journal.entries().at(-1)?.seq ?? 0;
const number = () => `9${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

function suite(title: string, overrides: Record<string, string>, body: (h: Harness) => void) {
  describe(title, function () {
    this.timeout(180_000);
    const h = {} as Harness;
    before(async () => {
      h.t = await startTestPipeline(overrides);
      h.db = await odooDb().connect();
    });
    after(async () => {
      h.db?.release();
      await h.t?.stop();
    });
    body(h);
  });
}

interface Harness {
  t: TestPipeline;
  db: PoolClient;
}

/** A new customer with an Orange fiber contract whose number is Odoo's "-" (the info's default). */
async function dashContract(h: Harness) {
  const partner = await insertPartner(h.db, { email: `dash${uniqueSuffix()}@example.org` });
  const mandate = await insertBankAccountAndMandate(h.db, partner.id);
  return insertContract(h.db, {
    partnerId: partner.id,
    mandateId: mandate.mandateId,
    kind: 'fiber',
    supplier: 'orange',
    phoneNumber: '-',
  });
}

/** T7 as Odoo writes it: the info record's phone_number and the contract's stored copy, in one transaction. */
async function writePhone(h: Harness, c: { id: number; infoTable: string; infoId: number }, phone: string) {
  await h.db.query('BEGIN');
  await h.db.query(
    `UPDATE ${c.infoTable} SET phone_number = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
    [c.infoId, phone],
  );
  await h.db.query(
    `UPDATE contract_contract SET phone_number = $2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
    [c.id, phone],
  );
  await h.db.query('COMMIT');
}

async function settled(
  t: TestPipeline,
  code: string,
  n: number,
  from: number,
  what: string,
): Promise<string[]> {
  await eventually(async () => (phoneCalls(t, code, from).length >= n ? true : undefined), 60_000, what);
  await new Promise((r) => setTimeout(r, 2500)); // and nothing more
  return phoneCalls(t, code, from);
}

suite(
  'parity: Odoo\'s "-" phone placeholder, as the original (PHONE_PLACEHOLDER_IS_NO_NUMBER off)',
  {},
  (h) => {
    let first: Awaited<ReturnType<typeof dashContract>>;

    it('P-access: a contract whose number is "-" → subscription description "-" and access "-"', async () => {
      first = await dashContract(h);
      expect(await settled(h.t, first.code, 2, 0, 'subscription and access')).to.deep.equal([
        'POST /billing/subscription 200',
        'POST /account/access 200',
      ]);
      const sub = await h.t.pipeline.client.getSubscription(first.code);
      expect(sub?.description).to.equal('-');
      expect((await h.t.pipeline.client.listAccesses(first.code)).map((a) => a.code)).to.deep.equal(['-']);
    });

    it('T7: a number written over "-" → description, the "-" access deleted, the number’s created; "-" written back → description "-", the number’s access deleted, a "-" access created', async () => {
      const next = number();
      let from = lastSeq(h.t);
      await writePhone(h, first, next);
      expect(await settled(h.t, first.code, 3, from, 'the number')).to.deep.equal([
        'PUT /billing/subscription 200',
        'DELETE /account/access/- 200',
        'POST /account/access 200',
      ]);
      from = lastSeq(h.t);
      await writePhone(h, first, '-');
      expect(await settled(h.t, first.code, 3, from, 'back to "-"')).to.deep.equal([
        'PUT /billing/subscription 200',
        `DELETE /account/access/${next} 200`,
        'POST /account/access 200',
      ]);
      expect((await h.t.pipeline.client.getSubscription(first.code))?.description).to.equal('-');
      expect((await h.t.pipeline.client.listAccesses(first.code)).map((a) => a.code)).to.deep.equal(['-']);
    });

    it('P-access: a second "-" contract → its subscription, then OpenCell refuses a second open-ended "-" access (DUPLICATE_ACCESS, reference opencell-api.md §7), dead-lettered as the original’s job failed', async () => {
      const second = await dashContract(h);
      const calls = await settled(h.t, second.code, 2, 0, 'the second subscription');
      expect(calls[0]).to.equal('POST /billing/subscription 200');
      expect(calls[1]).to.match(/^POST \/account\/access [45]\d\d$/);
      await eventually(
        async () =>
          (
            await stateDb().query(
              `SELECT 1 FROM ledger_intent WHERE kind = 'create_subscription' AND odoo_id = $1 AND outcome = 'dead_lettered'`,
              [second.id],
            )
          ).rowCount
            ? true
            : undefined,
        60_000,
        'the creation dead-lettered',
      );
      expect((await h.t.pipeline.client.listAccesses(second.code)).map((a) => a.code)).to.deep.equal([]);
    });
  },
);

suite(
  'parity: PHONE_PLACEHOLDER_IS_NO_NUMBER on: "-" is no number',
  { PHONE_PLACEHOLDER_IS_NO_NUMBER: 'true' },
  (h) => {
    let first: Awaited<ReturnType<typeof dashContract>>;

    it('a contract whose number is "-" → a subscription without description and no access; a second one too', async () => {
      first = await dashContract(h);
      const second = await dashContract(h);
      expect(await settled(h.t, first.code, 1, 0, 'the first subscription')).to.deep.equal([
        'POST /billing/subscription 200',
      ]);
      expect(await settled(h.t, second.code, 1, 0, 'the second subscription')).to.deep.equal([
        'POST /billing/subscription 200',
      ]);
      const sub = await h.t.pipeline.client.getSubscription(first.code);
      expect(sub?.description ?? null).to.equal(null);
      expect((await h.t.pipeline.client.listAccesses(first.code)).map((a) => a.code)).to.deep.equal([]);
    });

    it('T7: a number written over "-" → description and the number’s access (no "-" to delete); "-" written → nothing, the next number replaces the old one', async () => {
      const next = number();
      let from = lastSeq(h.t);
      await writePhone(h, first, next);
      expect(await settled(h.t, first.code, 2, from, 'the number')).to.deep.equal([
        'PUT /billing/subscription 200',
        'POST /account/access 200',
      ]);
      from = lastSeq(h.t);
      await writePhone(h, first, '-');
      // the same info record, so the same partition: once the next number's calls are seen, "-" was routed before
      const after = number();
      await writePhone(h, first, after);
      expect(await settled(h.t, first.code, 3, from, 'the next number')).to.deep.equal([
        'PUT /billing/subscription 200',
        `DELETE /account/access/${next} 200`,
        'POST /account/access 200',
      ]);
      expect((await h.t.pipeline.client.listAccesses(first.code)).map((a) => a.code)).to.deep.equal([after]);
    });
  },
);
