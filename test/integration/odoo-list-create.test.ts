import { expect } from 'chai';
import type { PoolClient } from 'pg';
import { createMove } from '../../testkit/sandbox/odoo/account';
import { createMoves } from '../../testkit/sandbox/odoo/account-batch';
import { createGeneric, createGenericList, getModel, type Env } from '../../testkit/sandbox/odoo/orm';
import { odooDb } from './support/stack';

/**
 * The Odoo sandbox creates a list set-based, as Odoo 16's ORM creates a list (a few multi-row statements per list of
 * account.move; one INSERT for a model without model logic), with exactly the rows, names, totals and errors of the
 * same records created one by one. Both runs share one transaction (a savepoint apart) and are rolled back: the
 * database is left as it was, and both start from the same journal sequences.
 */
describe('Odoo sandbox: a list create gives the rows and errors of single creates', function () {
  this.timeout(60_000);
  let db: PoolClient;
  let statements = 0;
  let env: Env;
  const ids = { partner: 0, child: 0, incl: 0, fixed: 0, division: 0 };

  before(async () => {
    db = await odooDb().connect();
    await db.query('BEGIN');
    const counted = new Proxy(db, {
      get: (target, prop, receiver) =>
        prop === 'query'
          ? (...a: unknown[]) => (
              statements++,
              (target.query as (...x: unknown[]) => unknown).apply(target, a)
            )
          : (Reflect.get(target, prop, receiver) as unknown),
    });
    env = { db: counted, uid: 1, lang: 'en_US', context: {} };
    const one = async (sql: string, args: unknown[] = []) =>
      (await db.query<{ id: number }>(`${sql} RETURNING id`, args)).rows[0].id;
    ids.partner = await one(`INSERT INTO res_partner (name, display_name) VALUES ('List Co', 'List Co')`);
    ids.child = await one(
      `INSERT INTO res_partner (name, display_name, commercial_partner_id) VALUES ('Ann', 'List Co, Ann', $1)`,
      [ids.partner],
    );
    const tax = (name: string, type: string, amount: number, incl: boolean, seq: number) =>
      one(
        `INSERT INTO account_tax (name, type_tax_use, amount_type, company_id, sequence, amount, price_include,
                                  tax_group_id, country_id)
         VALUES (jsonb_build_object('en_US', $1::text), 'sale', $2, 1, $3, $4, $5, 1, 68)`,
        [name, type, seq, amount, incl],
      );
    ids.incl = await tax('10% included', 'percent', 10, true, 0);
    ids.fixed = await tax('eco fee', 'fixed', 0.35, false, 9);
    ids.division = await tax('5% division', 'division', 5, false, 9);
  });
  after(async () => {
    await db?.query('ROLLBACK');
    db?.release();
  });

  const day = (i: number) => `2091-0${1 + (i % 3)}-1${i % 10}`;
  /** A billing run's worth of varied invoices: taxes of every kind, products, sections, refunds, posted ones. */
  function valsList(): Array<Record<string, unknown>> {
    return Array.from({ length: 24 }, (_, i) => {
      const lines: unknown[] = [
        [
          0,
          0,
          {
            name: `Fiber ${i}`,
            quantity: 1 + (i % 3),
            price_unit: 19.99 + i,
            tax_ids: [[6, 0, i % 4 === 0 ? [1, ids.fixed] : [1]]],
            account_id: 2,
            product_id: 1 + (i % 15),
          },
        ],
        [
          0,
          0,
          {
            product_id: 2 + (i % 10),
            tax_ids:
              i % 2
                ? [ids.incl]
                : [
                    [4, 2],
                    [4, ids.division],
                  ],
          },
        ],
      ];
      if (i % 5 === 0) lines.unshift([0, 0, { display_type: 'line_section', name: 'Mobile' }]);
      if (i % 6 === 0)
        lines.push([0, 0, { name: 'Discounted', price_unit: 10, quantity: 3, discount: 12.5, sequence: 5 }]);
      if (i % 7 === 0) lines.push([0, 0, { name: 'No sequence', price_unit: -1.01, sequence: false }]);
      return {
        move_type: i % 8 === 3 ? 'out_refund' : 'out_invoice',
        ref: `LIST-${i}`,
        partner_id: i % 9 === 4 ? false : i % 2 ? ids.child : ids.partner,
        journal_id: i % 5 === 2 ? undefined : 1 + (i % 2),
        invoice_date: day(i),
        ...(i % 4 === 1 ? { invoice_date_due: '2091-12-31' } : {}),
        ...(i % 6 === 5 ? { state: 'posted' } : {}),
        billing_run_id: `BR-${i % 3}`,
        invoice_line_ids: lines,
        ...(i % 10 === 9 ? { line_ids: [[0, 0, { name: 'via line_ids', price_unit: 2 }]] } : {}),
      };
    }).map((v) => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)));
  }

  /** The rows of `moveIds` (in that order) with ids replaced by positions and timestamps left out. */
  async function snapshot(moveIds: number[]) {
    const pos = new Map(moveIds.map((id, i) => [id, i]));
    const moves = (
      await db.query<Record<string, unknown>>(`SELECT * FROM account_move WHERE id = ANY($1::int[])`, [
        moveIds,
      ])
    ).rows;
    const lines = (
      await db.query<Record<string, unknown>>(
        `SELECT * FROM account_move_line WHERE move_id = ANY($1::int[]) ORDER BY move_id, id`,
        [moveIds],
      )
    ).rows;
    const linePos = new Map<number, string>();
    const rank = new Map<number, number>();
    for (const l of lines) {
      const m = pos.get(l.move_id as number)!;
      rank.set(m, (rank.get(m) ?? 0) + 1);
      linePos.set(l.id as number, `${m}.${rank.get(m)}`);
    }
    const rels = (
      await db.query<{ l: number; t: number }>(
        `SELECT account_move_line_id AS l, account_tax_id AS t FROM account_move_line_account_tax_rel
          WHERE account_move_line_id = ANY($1::int[])`,
        [lines.map((l) => l.id)],
      )
    ).rows;
    const strip = ({
      id,
      create_date,
      write_date,
      ...rest
    }: Record<string, unknown>): Record<string, unknown> => (void [id, create_date, write_date], rest);
    return {
      moves: moves
        .map((m): Record<string, unknown> & { at: number } => ({ ...strip(m), at: pos.get(m.id as number)! }))
        .sort((a, b) => a.at - b.at),
      lines: lines.map((l): Record<string, unknown> => ({
        ...strip(l),
        move_id: pos.get(l.move_id as number),
        at: linePos.get(l.id as number),
      })),
      taxes: rels.map((r) => `${linePos.get(r.l)}:${r.t}`).sort(),
    };
  }

  async function bothWays(list: unknown[]) {
    await db.query('SAVEPOINT one_by_one');
    statements = 0;
    const single: number[] = [];
    for (const v of list) single.push(await createMove(env, v));
    const singleStatements = statements;
    const a = await snapshot(single);
    await db.query('ROLLBACK TO SAVEPOINT one_by_one');
    statements = 0;
    const listIds = await createMoves(env, list);
    const listStatements = statements;
    const b = await snapshot(listIds);
    await db.query('ROLLBACK TO SAVEPOINT one_by_one');
    return { a, b, singleStatements, listStatements };
  }

  it('the same moves, lines, taxes, totals and sequence names in a few statements per list', async () => {
    const list = valsList();
    const { a, b, singleStatements, listStatements } = await bothWays(list);
    expect(a.moves).to.have.length(list.length);
    expect(a.lines.length).to.be.greaterThan(list.length * 3);
    // the list exercises what it claims: posted names, refunds, included and fixed taxes, sections
    expect(a.moves.filter((m) => m.state === 'posted').map((m) => m.name)).to.have.length(4);
    expect(a.moves.some((m) => m.move_type === 'out_refund' && Number(m.amount_total) > 0)).to.equal(true);
    expect(a.lines.some((l) => l.tax_line_id === ids.fixed)).to.equal(true);
    expect(a.lines.some((l) => l.display_type === 'line_section')).to.equal(true);
    expect(b).to.deep.equal(a);
    expect(singleStatements).to.be.greaterThan(list.length * 20);
    // the posted moves are posted one by one (their sequence), the rest is set-based
    expect(listStatements).to.be.lessThan(20 + 4 * 12);
  });

  it('gives the error a single create gives, for the same move', async () => {
    const list = valsList();
    (list[5].invoice_line_ids as unknown[]).push([0, 0, { name: 'x', product_id: 999_999_999 }]);
    (list[9] as Record<string, unknown>).partner_id = 999_999_998;
    const failure = async (f: () => Promise<unknown>) => {
      await db.query('SAVEPOINT failing');
      try {
        await f();
        return undefined;
      } catch (e) {
        return `${(e as Error).constructor.name}: ${(e as Error).message}`;
      } finally {
        await db.query('ROLLBACK TO SAVEPOINT failing');
      }
    };
    const single = await failure(async () => {
      for (const v of list) await createMove(env, v);
    });
    expect(single).to.match(/account_move_line_product_id_fkey/);
    expect(await failure(() => createMoves(env, list))).to.equal(single);
    (list[5].invoice_line_ids as unknown[]).pop();
    const partnerError = await failure(() => createMoves(env, list));
    expect(partnerError).to.match(/account_move_partner_id_fkey/);
    expect(
      await failure(async () => {
        for (const v of list) await createMove(env, v);
      }),
    ).to.equal(partnerError);
  });

  it('creates a list it cannot take set-based (a journal entry in it) one by one, with the same rows', async () => {
    const entry = {
      move_type: 'entry',
      journal_id: 4,
      date: '2091-05-05',
      line_ids: [
        [0, 0, { name: 'a', debit: 5, account_id: 5 }],
        [0, 0, { name: 'b', credit: 5, account_id: 2 }],
      ],
    };
    const { a, b, listStatements, singleStatements } = await bothWays([entry, ...valsList().slice(0, 3)]);
    expect(b).to.deep.equal(a);
    expect(listStatements).to.equal(singleStatements);
  });

  it('a list of contract links (no model logic) is one INSERT with the rows and errors of single creates', async () => {
    await db.query('SAVEPOINT links');
    const moveIds = await createMoves(env, valsList().slice(0, 4));
    const lineIds = (
      await db.query<{ id: number }>(
        `SELECT id FROM account_move_line WHERE move_id = ANY($1::int[]) AND display_type = 'product' ORDER BY id`,
        [moveIds],
      )
    ).rows.map((r) => r.id);
    const contract = (
      await db.query<{ id: number }>(
        `INSERT INTO contract_contract (name, partner_id, company_id, service_technology_id, service_supplier_id)
         SELECT 'List contract', $1, 1, (SELECT min(id) FROM service_technology), (SELECT min(id) FROM service_supplier)
         RETURNING id`,
        [ids.partner],
      )
    ).rows[0].id;
    const LINK = getModel('contract.account.invoice.line.relation');
    const list = lineIds.map((l) => ({ account_invoice_line_id: l, contract_id: contract }));
    const rows = async (linkIds: number[]) =>
      (
        await db.query(
          `SELECT account_invoice_line_id, contract_id, create_uid, write_uid
             FROM contract_account_invoice_line_relation WHERE id = ANY($1::int[]) ORDER BY id`,
          [linkIds],
        )
      ).rows;
    const failure = async (f: () => Promise<unknown>) => {
      await db.query('SAVEPOINT failing');
      try {
        await f();
        return undefined;
      } catch (e) {
        return (e as Error).message;
      } finally {
        await db.query('ROLLBACK TO SAVEPOINT failing');
      }
    };
    try {
      statements = 0;
      const single: number[] = [];
      for (const v of list) single.push(await createGeneric(env, LINK, v));
      const singleStatements = statements;
      const a = await rows(single);
      statements = 0;
      const listIds = await createGenericList(env, LINK, list);
      expect(statements).to.equal(3); // the savepoint, the INSERT, its release
      expect(singleStatements).to.equal(list.length);
      expect(await rows(listIds)).to.deep.equal(a);
      expect(a).to.have.length(lineIds.length);
      const bad = [...list.slice(0, 2), { account_invoice_line_id: lineIds[0], contract_id: 999_999_997 }];
      const singleError = await failure(async () => {
        for (const v of bad) await createGeneric(env, LINK, v);
      });
      expect(singleError).to.match(/contract_id_fkey/);
      expect(await failure(() => createGenericList(env, LINK, bad))).to.equal(singleError);
    } finally {
      await db.query('ROLLBACK TO SAVEPOINT links');
    }
  });
});
