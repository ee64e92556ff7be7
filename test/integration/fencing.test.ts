import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import { testPool } from '../support/pg';
import { fetchText } from '../../src/adapters/http-transport';
import { monotonicMs } from '../../src/core/call-lease';
import { callUnderLease } from '../../src/flows/projection/executor';
import { Ledger, type IntentResult, type LedgerIntentMessage } from '../../src/adapters/postgres/ledger';
import { awaitTakeoverGrace, PgPartitionFence, type FenceToken } from '../../src/adapters/postgres/fence';
import type { OcOperation } from '../../src/domain/projection/plan';
import { FencedError } from '../../src/domain/errors';
import { createStateSchema, stateDb, stateUrlFor, uniqueSuffix } from './support/stack';

/**
 * Issue 15 defect 2 (zombies) on the real state database: the instance a partition was assigned to last holds its
 * newest epoch; an older holder (a process paused past its session timeout) fails every check and every ledger
 * write — write-ahead, effect, outcome with its outbox event — and leaves nothing behind.
 */
describe('fencing: a zombie holding an older epoch writes nothing (real PostgreSQL)', function () {
  this.timeout(30_000);
  const schema = `fence_${uniqueSuffix()}`;
  let pool: Pool;
  let ledger: Ledger;
  const group = `test-fence-${uniqueSuffix()}`;

  before(async () => {
    await createStateSchema(schema);
    pool = testPool({ connectionString: stateUrlFor(schema), max: 4 });
    ledger = new Ledger(pool, 'test.fence-sync-events');
  });
  after(async () => {
    await pool?.end();
    await stateDb().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  const msg = (id: string): LedgerIntentMessage =>
    ({
      v: 1,
      intentId: id,
      aggregateKey: 'partner:1',
      partnerId: 1,
      contractId: null,
      intent: { kind: 'update_customer' },
      source: {
        table: 'res_partner',
        op: 'u',
        rowId: 1,
        lsn: 1,
        txId: 1,
        tsMs: Date.now(),
        snapshot: false,
        topic: 'odoo.public.res_partner',
        partition: 0,
        offset: '0',
      },
    }) as unknown as LedgerIntentMessage;
  const result: IntentResult = {
    outcome: 'applied',
    calls: ['applyOneShotChargeInstance'],
    entities: [],
    opencell: { entity: 'subscription', code: 'S1' },
    odooRecord: { model: 'res.partner', id: 1 },
    odooRef: null,
    attempt: 1,
  };
  const oneShot = (key: string): OcOperation => ({
    op: 'applyOneShotChargeInstance',
    key,
    body: { subscription: 'S1', oneShotCharge: 'CH_SC_OSO_SIM' },
  });
  const rows = async (sql: string, values: unknown[]) => (await pool.query(sql, values)).rowCount;
  const fencedBy = async (p: Promise<unknown>) =>
    p.then(
      () => null,
      (e: unknown) => e,
    );

  it('an assignment takes a newer epoch; the older holder is fenced on checks, write-ahead, effects and outcomes', async () => {
    const zombie = new PgPartitionFence(pool, group, 'zombie');
    const owner = new PgPartitionFence(pool, group, 'owner');
    zombie.assigned({ intents: [0, 1] });
    const old: FenceToken = await zombie.token('intents', 0);
    await ledger.checkFence(old);
    expect(await ledger.beginEffect('i-z', oneShot('k-z'), old)).to.equal('first');

    owner.assigned({ intents: [0] }); // the rebalance after the zombie's session timed out
    const fresh = await owner.token('intents', 0);
    expect(BigInt(fresh.epoch) > BigInt(old.epoch), 'a later take has a larger epoch').to.equal(true);

    const errors = [
      await fencedBy(ledger.checkFence(old)),
      await fencedBy(ledger.isFinished('i-z', old)),
      await fencedBy(ledger.beginEffect('i-z', oneShot('k-z2'), old)),
      await fencedBy(ledger.recordEffect('i-z', oneShot('k-z'), 'applied', old)),
      await fencedBy(ledger.finish(msg('i-z'), result, old)),
    ];
    for (const e of errors) {
      expect(e).to.be.instanceOf(FencedError);
      expect((e as FencedError).code).to.equal('FENCED');
    }
    expect(
      await rows(`SELECT 1 FROM ledger_effect WHERE effect_key = 'k-z2'`, []),
      'no write-ahead',
    ).to.equal(0);
    expect(
      (await pool.query(`SELECT outcome FROM ledger_effect WHERE effect_key = 'k-z'`)).rows[0].outcome,
      'the effect stays pending (the new owner verifies it in OpenCell)',
    ).to.equal('pending');
    expect(await rows(`SELECT 1 FROM ledger_intent WHERE intent_id = 'i-z'`, []), 'no outcome').to.equal(0);
    expect(await rows(`SELECT 1 FROM outbox`, []), 'no sync event').to.equal(0);

    // the new owner writes; the zombie's other partition is untouched by this take
    await ledger.checkFence(fresh);
    expect(await ledger.isFinished('i-o', fresh)).to.equal(false);
    await ledger.recordEffect('i-o', oneShot('k-z'), 'already_present', fresh);
    await ledger.finish(msg('i-o'), result, fresh);
    expect(await rows(`SELECT 1 FROM ledger_intent WHERE intent_id = 'i-o'`, [])).to.equal(1);
    expect(await rows(`SELECT 1 FROM outbox`, []), 'its sync event').to.equal(1);
    expect(await ledger.isFinished('i-o', fresh)).to.equal(true);
    await ledger.checkFence(await zombie.token('intents', 1));
  });

  it("checks and outcomes asked together share one statement, each under its own partition's epoch: the zombie's share is refused and writes nothing, the others' is written (issue 17)", async () => {
    const counted = testPool({ connectionString: stateUrlFor(schema), max: 4 });
    let statements = 0;
    const query = counted.query.bind(counted) as (...a: unknown[]) => unknown;
    // the ledger's statements (named), not the relay's wake-up NOTIFY sent after a commit
    (counted as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      if (/^ledger_/.test(String((a[0] as { name?: string }).name))) statements++;
      return query(...a);
    };
    try {
      const batched = new Ledger(counted, 'test.fence-sync-events');
      const zombie = new PgPartitionFence(pool, group, 'zombie');
      const owner = new PgPartitionFence(pool, group, 'owner');
      zombie.assigned({ batch: [0, 1] });
      const stale = await zombie.token('batch', 0);
      const other = await zombie.token('batch', 1); // still the zombie's own: not taken
      owner.assigned({ batch: [0] });
      const fresh = await owner.token('batch', 0);
      await batched.finish(msg('b-done'), result, fresh);

      statements = 0;
      const checks = await Promise.all([
        fencedBy(batched.isFinished('b-z', stale)),
        batched.isFinished('b-o', fresh),
        batched.isFinished('b-done', fresh),
        batched.isFinished('b-1', other),
        batched.checkFence(fresh),
      ]);
      expect(statements, 'one read for five checks').to.equal(1);
      expect(checks[0]).to.be.instanceOf(FencedError);
      expect(checks.slice(1)).to.deep.equal([false, true, false, undefined]);

      const outbox = Number((await pool.query(`SELECT count(*) AS n FROM outbox`)).rows[0].n);
      statements = 0;
      const outcomes = await Promise.all([
        fencedBy(batched.finish(msg('b-z'), result, stale)),
        batched.finish(msg('b-o'), result, fresh).then(() => 'written'),
        batched.finish(msg('b-1'), result, other).then(() => 'written'),
      ]);
      expect(statements, 'one statement for three outcomes').to.equal(1);
      expect(outcomes[0]).to.be.instanceOf(FencedError);
      expect(outcomes.slice(1)).to.deep.equal(['written', 'written']);
      const written = await pool.query<{ intent_id: string }>(
        `SELECT intent_id FROM ledger_intent WHERE intent_id IN ('b-z', 'b-o', 'b-1') ORDER BY intent_id`,
      );
      expect(written.rows.map((r) => r.intent_id)).to.deep.equal(['b-1', 'b-o']);
      expect(
        Number((await pool.query(`SELECT count(*) AS n FROM outbox`)).rows[0].n) - outbox,
        "a sync event for each written outcome, none for the zombie's",
      ).to.equal(2);

      // one statement cannot upsert a row twice: the same intent finished twice at once takes two statements
      statements = 0;
      await Promise.all([
        batched.finish(msg('b-twice'), { ...result, outcome: 'failed' }, fresh),
        batched.finish(msg('b-twice'), result, fresh),
      ]);
      expect(statements).to.equal(2);
      expect(
        (await pool.query(`SELECT outcome FROM ledger_intent WHERE intent_id = 'b-twice'`)).rows[0].outcome,
      ).to.equal('applied');

      // a row the database refuses (an entity whose Odoo id is not a number: NOT NULL) fails its own intent only
      const badEntity = {
        entity: 'customer' as const,
        code: 'C-bad',
        odooModel: 'res.partner',
        odooId: NaN,
        partnerId: 1,
        status: 'active' as const,
      };
      statements = 0;
      const refused = await Promise.all([
        fencedBy(batched.finish(msg('b-bad'), { ...result, entities: [badEntity] }, fresh)),
        batched.finish(msg('b-good'), result, fresh).then(() => 'written'),
      ]);
      expect((refused[0] as { code?: string }).code, 'the not-null violation').to.equal('23502');
      expect(statements, 'the shared statement refused, then each intent alone').to.equal(3);
      expect(refused[1]).to.equal('written');
      expect(
        (await pool.query(`SELECT intent_id FROM ledger_intent WHERE intent_id IN ('b-bad', 'b-good')`)).rows,
      ).to.deep.equal([{ intent_id: 'b-good' }]);
    } finally {
      await counted.end();
    }
  });

  it('a take waits for an outcome write in progress (FOR SHARE): the check and the write are one', async () => {
    const a = new PgPartitionFence(pool, group, 'a');
    a.assigned({ other: [0] });
    const token = await a.token('other', 0);
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(
        `SELECT 1 FROM sync_fence WHERE group_id = $1 AND topic = 'other' AND partition = 0 FOR SHARE`,
        [group],
      );
      const b = new PgPartitionFence(pool, group, 'b');
      b.assigned({ other: [0] });
      let taken = false;
      const take = b.token('other', 0).then((t) => {
        taken = true;
        return t;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(taken, 'the take waits while a write holds the row').to.equal(false);
      await c.query('COMMIT');
      const t = await take;
      expect(BigInt(t.epoch) > BigInt(token.epoch)).to.equal(true);
    } finally {
      c.release();
    }
  });

  it('a write paused inside its transaction (its process stopped) blocks the take only until the server ends it', async () => {
    const a = new PgPartitionFence(pool, group, 'a');
    a.assigned({ paused: [0] });
    const token = await a.token('paused', 0);
    const c = await pool.connect();
    let lost: unknown;
    c.on('error', (e) => (lost = e));
    try {
      // what Ledger.write does, with a short idle limit, then nothing: the process is paused here
      await c.query(`BEGIN; SET LOCAL idle_in_transaction_session_timeout = 400`);
      await c.query(
        `SELECT 1 FROM sync_fence WHERE group_id = $1 AND topic = 'paused' AND partition = 0 FOR SHARE`,
        [group],
      );
      const t0 = Date.now();
      const b = new PgPartitionFence(pool, group, 'b');
      b.assigned({ paused: [0] });
      const t = await b.token('paused', 0);
      expect(BigInt(t.epoch) > BigInt(token.epoch)).to.equal(true);
      expect(Date.now() - t0, 'the take waited for the idle limit, not for the paused process').to.be.below(
        5000,
      );
      const commit = await c.query('COMMIT').then(
        () => null,
        (e: unknown) => e,
      );
      expect(commit ?? lost, 'the paused write cannot commit any more').to.be.instanceOf(Error);
    } finally {
      c.release(true);
    }
  });
  it('regression "held up between its fence check and its call" (rebalance storm: an address update out of commit order, a service activated again after its termination): past its lease the call is not sent, the check again is fenced, and the new owner waits that lease out', async () => {
    const requests: string[] = [];
    const server: Server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/opencell/api/rest/account/customer`;
    const put = () => fetchText(url, { method: 'PUT', body: '{}' }, 5000, (x) => x);
    const lease = 400;
    try {
      const zombie = new PgPartitionFence(pool, group, 'zombie', lease);
      zombie.assigned({ held: [0] });
      const old = await zombie.token('held', 0);
      expect(old.graceUntil, 'a first take waits for no one').to.equal(undefined);
      await ledger.checkFence(old); // the check passes …
      // … and the process is held up (SIGSTOP) before its call leaves: the partition moves meanwhile
      const owner = new PgPartitionFence(pool, group, 'owner', lease);
      owner.assigned({ held: [0] });
      const takenBy = monotonicMs();
      const fresh = await owner.token('held', 0);
      await new Promise((r) => setTimeout(r, lease + 50));

      let checksAgain = 0;
      const err = await callUnderLease(old, put, async () => {
        checksAgain++;
        await ledger.checkFence(old);
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(checksAgain, 'the lease refused the send and the fence was checked again').to.equal(1);
      expect(err, 'the check again found the partition moved').to.be.instanceOf(FencedError);
      expect(requests, 'nothing reached the server').to.deep.equal([]);

      // the new owner (a re-take) waits its predecessor's lease out before it reads or calls, then works
      expect(fresh.graceUntil, 'a re-take waits').to.be.a('number');
      expect(fresh.graceUntil! - takenBy).to.be.at.least(lease);
      const until = fresh.graceUntil!;
      await awaitTakeoverGrace(fresh);
      expect(monotonicMs()).to.be.at.least(until);
      await ledger.checkFence(fresh);
      await callUnderLease(fresh, put, () => ledger.checkFence(fresh));
      expect(requests, 'the owner’s call, within its lease').to.deep.equal([
        'PUT /opencell/api/rest/account/customer',
      ]);

      // the same process taking its partition back (an eager rebalance hands it back) waits for its own last lease
      // only, which it knows, not for a whole one
      owner.assigned({ held: [0] });
      const again = await owner.token('held', 0);
      expect(again.graceUntil).to.equal(fresh.lease!.liveUntil + 250);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
