import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { DecodedChange, RowChange, topicFor, changedBillingFields } from '../../src/domain/capture';
import { ChangeTap } from './support/change-tap';
import { ROOT, odooDb, pidOf, stackScript, uniqueSuffix } from './support/stack';

/**
 * Odoo change capture on the real stack: PostgreSQL (pgoutput) → Debezium in Kafka Connect → Kafka → a kafkajs
 * consumer decoding with the production codecs.
 */
const isRow = (c: DecodedChange): c is RowChange => c.kind === 'row';
const idOf = (row: unknown) => (row as { id?: number } | null)?.id;
const rowOf = (table: string, id: number, op?: string) => (c: DecodedChange) =>
  isRow(c) &&
  c.table === table &&
  (idOf(c.after) === id || idOf(c.before) === id) &&
  (op === undefined || c.op === op);

describe('Odoo change capture (PostgreSQL → Debezium → Kafka → kafkajs)', function () {
  this.timeout(120_000);
  let tap: ChangeTap;
  const db = () => odooDb();

  before(async () => {
    tap = await new ChangeTap([
      topicFor('res_partner'),
      topicFor('product_template'),
      topicFor('contract_contract'),
    ]).start();
  });
  after(async () => {
    await tap.stop();
  });

  async function insertPartner(name: string, extra: Record<string, unknown> = {}): Promise<number> {
    const cols = {
      name,
      firstname: name.split(' ')[0],
      lastname: name.split(' ')[1] ?? '',
      lang: 'ca_ES',
      street: 'C/ Major 1',
      zip: '08001',
      city: 'Barcelona',
      ...extra,
    };
    const keys = Object.keys(cols);
    const r = await db().query<{ id: number }>(
      `INSERT INTO res_partner (${keys.map((k) => `"${k}"`).join(',')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(',')}) RETURNING id`,
      Object.values(cols),
    );
    return r.rows[0].id;
  }

  it('delivers an INSERT into res_partner as a typed create event', async () => {
    const name = `Anna Puig ${uniqueSuffix()}`;
    const id = await insertPartner(name, { vat: 'ES12345678Z', email: 'anna@example.org' });
    const c = await tap.waitFor(rowOf('res_partner', id, 'c'), 30_000, `create of partner ${id}`);
    if (!isRow(c) || c.table !== 'res_partner') throw new Error('not a partner row change');
    expect(c.before).to.equal(null);
    expect(c.after).to.include({
      id,
      name,
      vat: 'ES12345678Z',
      email: 'anna@example.org',
      lang: 'ca_ES',
      city: 'Barcelona',
    });
    expect(c.source.lsn).to.be.a('number').and.greaterThan(0);
    expect(c.source.txId).to.be.a('number');
    expect(c.source.isSnapshot).to.equal(false);
    expect(c.topic).to.equal('odoo.public.res_partner');
    expect(c.key).to.deep.equal({ id });
  });

  it('delivers an UPDATE of a billing column with the whole before and after rows', async () => {
    const id = await insertPartner(`Jordi Vila ${uniqueSuffix()}`);
    await db().query(
      `UPDATE res_partner SET street = 'C/ Nova 7', zip = '08002', write_date = now() WHERE id = $1`,
      [id],
    );
    const c = await tap.waitFor(rowOf('res_partner', id, 'u'), 30_000, `update of partner ${id}`);
    if (!isRow(c) || c.table !== 'res_partner') throw new Error('not a partner row change');
    expect(c.before).to.include({ street: 'C/ Major 1', zip: '08001', city: 'Barcelona' });
    expect(c.after).to.include({ street: 'C/ Nova 7', zip: '08002', city: 'Barcelona' });
    expect(changedBillingFields('res_partner', c.before, c.after)).to.have.members(['street', 'zip']);
  });

  it('produces nothing for an UPDATE of only write_date (Odoo churn)', async () => {
    const id = await insertPartner(`Marta Soler ${uniqueSuffix()}`);
    await tap.waitFor(rowOf('res_partner', id, 'c'), 30_000, `create of partner ${id}`);
    await db().query(
      `UPDATE res_partner SET write_date = now() + interval '1 second', write_uid = 1 WHERE id = $1`,
      [id],
    );
    await db().query(`UPDATE res_partner SET display_name = 'churn' WHERE id = $1`, [id]);
    // A later billing change on the same row proves the stream moved past the churn.
    await db().query(`UPDATE res_partner SET city = 'Girona' WHERE id = $1`, [id]);
    await tap.waitFor(
      (c) =>
        rowOf('res_partner', id, 'u')(c) && isRow(c) && (c.after as { city?: string })?.city === 'Girona',
    );
    const updates = tap.matching(rowOf('res_partner', id, 'u'));
    expect(updates).to.have.length(1);
  });

  it('decodes archival (active → false) and DELETE', async () => {
    const id = await insertPartner(`Pere Roca ${uniqueSuffix()}`);
    await db().query(`UPDATE res_partner SET active = false WHERE id = $1`, [id]);
    const archived = await tap.waitFor(rowOf('res_partner', id, 'u'), 30_000, 'archival');
    if (!isRow(archived) || archived.table !== 'res_partner') throw new Error('not a partner row change');
    expect(archived.before?.active).to.equal(true);
    expect(archived.after?.active).to.equal(false);
    await db().query(`DELETE FROM res_partner WHERE id = $1`, [id]);
    const deleted = await tap.waitFor(rowOf('res_partner', id, 'd'), 30_000, 'delete');
    if (!isRow(deleted) || deleted.table !== 'res_partner') throw new Error('not a partner row change');
    expect(deleted.after).to.equal(null);
    expect(deleted.before).to.include({ id, active: false });
  });

  it('round-trips numeric, date and translated jsonb values exactly', async () => {
    const tmpl = await db().query<{ id: number }>(
      `INSERT INTO product_template (name, default_code, list_price, categ_id, uom_id, uom_po_id)
       VALUES ($1::jsonb, $2, $3, (SELECT id FROM product_category ORDER BY id LIMIT 1), 1, 1) RETURNING id`,
      [
        JSON.stringify({ en_US: 'Fiber 600Mb', ca_ES: 'Fibra 600Mb', es_ES: 'Fibra 600Mb «ñ»' }),
        `SE_TEST_${uniqueSuffix()}`,
        '12345678901234.123456789',
      ],
    );
    const tid = tmpl.rows[0].id;
    const c = await tap.waitFor(rowOf('product_template', tid, 'c'), 30_000, 'product template create');
    if (!isRow(c) || c.table !== 'product_template') throw new Error('not a template row change');
    expect(c.after?.list_price).to.equal('12345678901234.123456789');
    expect(c.after?.name).to.deep.equal({
      en_US: 'Fiber 600Mb',
      ca_ES: 'Fibra 600Mb',
      es_ES: 'Fibra 600Mb «ñ»',
    });

    const partner = await insertPartner(`Laia Font ${uniqueSuffix()}`);
    const contract = await db().query<{ id: number }>(
      `INSERT INTO contract_contract (name, code, partner_id, company_id, date_start, is_terminated,
                                      service_technology_id, service_supplier_id)
       VALUES ('C', $1, $2, 1, DATE '2024-02-29', false, 1, 1) RETURNING id`,
      [`TEST${uniqueSuffix()}`, partner],
    );
    const cid = contract.rows[0].id;
    await db().query(
      `UPDATE contract_contract SET is_terminated = true, terminate_date = DATE '1969-12-31' WHERE id = $1`,
      [cid],
    );
    const created = await tap.waitFor(rowOf('contract_contract', cid, 'c'), 30_000, 'contract create');
    const terminated = await tap.waitFor(
      rowOf('contract_contract', cid, 'u'),
      30_000,
      'contract termination',
    );
    if (!isRow(created) || created.table !== 'contract_contract') throw new Error('not a contract');
    if (!isRow(terminated) || terminated.table !== 'contract_contract') throw new Error('not a contract');
    expect(created.after?.date_start).to.equal('2024-02-29');
    expect(terminated.after?.terminate_date).to.equal('1969-12-31');
    expect(terminated.after?.is_terminated).to.equal(true);
    expect(changedBillingFields('contract_contract', terminated.before, terminated.after)).to.have.members([
      'is_terminated',
      'terminate_date',
    ]);
  });

  it('loses no change made while Kafka Connect is down', async function () {
    this.timeout(240_000);
    const connectPid = pidOf('connect');
    process.kill(connectPid, 'SIGKILL');
    // Wait for the process to be gone before writing.
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(connectPid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        break;
      }
    }
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push(await insertPartner(`Down ${i} ${uniqueSuffix()}`));
    await db().query(`UPDATE res_partner SET city = 'Lleida' WHERE id = ANY($1)`, [ids]);
    stackScript('up');
    for (const id of ids) {
      await tap.waitFor(rowOf('res_partner', id, 'c'), 120_000, `create of partner ${id} after restart`);
      await tap.waitFor(rowOf('res_partner', id, 'u'), 60_000, `update of partner ${id} after restart`);
    }
    expect(tap.errors).to.deep.equal([]);
    // The stack script still reports every part healthy.
    const status = execFileSync('bash', [`${ROOT}/scripts/stack`, 'status'], { encoding: 'utf8' });
    expect(status).to.match(/connector\s+healthy/);
  });
});
