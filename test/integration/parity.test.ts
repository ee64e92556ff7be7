import { expect } from 'chai';
import { spawn } from 'node:child_process';
import type { PoolClient } from 'pg';
import { loadConfig } from '../../src/core/config';
import { startHeldIntentScheduler, type HeldIntentScheduler } from '../../src/flows/projection/held-intents';
import { spanishIban } from '../../testkit/demo-seed';
import { seededRng } from '../../testkit/seeded-random';
import { isStateChanging, type JournalEntry } from '../../testkit/sandbox/opencell/journal';
import { startTestPipeline, type TestPipeline } from './support/pipeline';
import { defaultCatalog } from '../../testkit/sandbox/opencell';
import { captureLogLines } from '../support/log-capture';
import {
  createStateSchema,
  eventually,
  odooDb,
  ROOT,
  stateDb,
  stateUrlFor,
  testKafka,
  uniqueSuffix,
} from './support/stack';

/**
 * Acceptance of docs/parity.md on the real stack: Odoo rows are written with plain SQL as Odoo 16 writes them (the
 * column names of schemas/odoo/manifest.json; no `active` on the ISP-info tables; nullable columns left NULL;
 * jsonb translated product names read back; audit columns set), Debezium streams them, the router and projector
 * (own topics and groups) call the OpenCell sandbox. Each step asserts the exact state-changing requests the
 * sandbox received — method, path and the body fields the original's client sends
 * (/work/shared/reference/original-module.md §1.1, §3) — and that nothing else was sent. The steps share a few
 * customers and run in order.
 */
describe('parity with the original opencell_somconnexio (docs/parity.md)', function () {
  this.timeout(180_000);
  let t: TestPipeline;
  let db: PoolClient;
  let scheduler: HeldIntentScheduler | undefined;
  /** the OpenCell password of the pipeline (K-client: sent as Basic auth on every call, never logged) */
  const OC_PASSWORD = `oc-secret-${uniqueSuffix()}`;
  /** every log line of the run (K-client) */
  const logs = captureLogLines();

  // Reference rows (80-reference-data.sql), read once.
  const ref = {} as {
    es: number;
    stateB: { id: number; name: string };
    stateTF: { id: number; name: string };
    bank: { id: number; bic: string; name: string };
    tech: Record<'mobile' | 'fiber' | '4G', number>;
    supplier: Record<'masmovil' | 'vodafone', number>;
    journal: number;
    paymentMode: number;
    reason: number;
    uom: number;
    router: number;
  };
  const products = new Map<string, { id: number; name: string }>();
  const today = new Date().toISOString().slice(0, 10);
  const rng = seededRng(Date.now() % 2 ** 31);
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rng() * 10)).join('');
  /** Odoo's sequence-like codes, unique per run. */
  const code = () => `9${digits(8)}`;

  const AUDIT = `create_uid, write_uid, create_date, write_date`;
  const AUDIT_VALUES = `2, 2, (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC')`;

  /** `INSERT … RETURNING id`, as Odoo's ORM flushes a create (audit columns set, others left to their default). */
  async function insert(table: string, values: Record<string, unknown>): Promise<number> {
    const cols = Object.keys(values);
    const r = await db.query<{ id: number }>(
      `INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(', ')}, ${AUDIT})
       VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}, ${AUDIT_VALUES}) RETURNING id`,
      cols.map((c) => values[c]),
    );
    return r.rows[0].id;
  }
  /** `UPDATE … SET …, write_uid, write_date`, as Odoo's ORM flushes a write. */
  async function write(table: string, id: number, values: Record<string, unknown>): Promise<void> {
    const cols = Object.keys(values);
    await db.query(
      `UPDATE ${table} SET ${cols.map((c, i) => `"${c}" = $${i + 2}, `).join('')}
         write_uid = 2, write_date = (now() AT TIME ZONE 'UTC') WHERE id = $1`,
      [id, ...cols.map((c) => values[c])],
    );
  }
  async function inTransaction<T>(fn: () => Promise<T>): Promise<T> {
    await db.query('BEGIN');
    try {
      const out = await fn();
      await db.query('COMMIT');
      return out;
    } catch (e) {
      await db.query('ROLLBACK');
      throw e;
    }
  }
  const xmlId = async (x: string) => {
    const [module, name] = x.split('.');
    const r = await db.query<{ res_id: number }>(
      'SELECT res_id FROM ir_model_data WHERE module = $1 AND name = $2',
      [module, name],
    );
    if (!r.rows.length) throw new Error(`XML id ${x} missing`);
    return r.rows[0].res_id;
  };

  interface Partner {
    id: number;
    ref: string | null;
    name: string;
    firstname: string | null;
    lastname: string | null;
    email: string;
    phone: string | null;
    mobile: string | null;
    street: string;
    street2: string | null;
    zip: string;
    city: string;
    state: { id: number; name: string; code: string };
    vat: string | null;
    lang: 'ca_ES' | 'es_ES';
  }
  /** res.partner create: INSERT, then the stored computes (display_name, commercial_partner_id, full_street). */
  async function newPartner(
    p: Omit<Partner, 'id'> & { isCompany?: boolean; parentId?: number; type?: string },
  ): Promise<Partner> {
    const id = await insert('res_partner', {
      name: p.name,
      firstname: p.firstname,
      lastname: p.lastname,
      ref: p.ref,
      vat: p.vat,
      lang: p.lang,
      company_id: 1,
      type: p.type ?? 'representative',
      parent_id: p.parentId ?? null,
      street: p.street,
      street2: p.street2,
      zip: p.zip,
      city: p.city,
      state_id: p.state.id,
      country_id: ref.es,
      email: p.email,
      phone: p.phone,
      mobile: p.mobile,
      is_company: p.isCompany ?? false,
      active: true,
    });
    await write('res_partner', id, {
      display_name: p.name,
      commercial_partner_id: p.parentId ?? id,
      full_street: p.street2 ? `${p.street} ${p.street2}` : p.street,
    });
    if (p.ref) ownCodes.add(p.ref);
    return { ...p, id };
  }
  interface Bank {
    bankAccountId: number;
    iban: string;
    mandateId: number;
    createdSeconds: number;
  }
  /** A bank account (acc_number as typed, sanitized_acc_number computed) and a validated SEPA mandate on it. */
  async function newBank(partnerId: number, iban = spanishIban(rng, '2100')): Promise<Bank> {
    const bankAccountId = await insert('res_partner_bank', {
      acc_number: iban.replace(/(.{4})(?=.)/g, '$1 '),
      sanitized_acc_number: iban,
      partner_id: partnerId,
      bank_id: ref.bank.id,
      company_id: 1,
      active: true,
      allow_out_payment: false,
    });
    const mandateId = await insert('account_banking_mandate', {
      format: 'sepa',
      type: 'recurrent',
      partner_bank_id: bankAccountId,
      partner_id: partnerId,
      company_id: 1,
      signature_date: today,
      state: 'draft',
      recurrent_sequence_type: 'first',
      scheme: 'CORE',
    });
    await write('account_banking_mandate', mandateId, {
      unique_mandate_reference: `SC${String(mandateId).padStart(8, '0')}`,
      state: 'valid',
    });
    const c = await db.query<{ s: string }>(
      `SELECT extract(epoch FROM date_trunc('second', create_date))::bigint AS s FROM res_partner_bank WHERE id = $1`,
      [bankAccountId],
    );
    return { bankAccountId, iban, mandateId, createdSeconds: Number(c.rows[0].s) };
  }
  interface Contract {
    id: number;
    code: string;
    phone: string;
    infoTable: string;
    infoId: number;
    lines: Map<string, number>;
  }
  async function newLine(
    contractId: number,
    productCode: string,
    dateStart = today,
    dateEnd: string | null = null,
    specificPrice: number | null = null,
  ): Promise<number> {
    const p = products.get(productCode)!;
    return insert('contract_line', {
      ...(dateEnd === null ? {} : { date_end: dateEnd }),
      // OCA contract: a line with a price of its own has automatic_price false and specific_price (float8)
      ...(specificPrice === null ? {} : { specific_price: specificPrice }),
      contract_id: contractId,
      product_id: p.id,
      name: p.name,
      quantity: 1,
      uom_id: ref.uom,
      automatic_price: specificPrice === null,
      recurring_rule_type: 'monthly',
      recurring_invoicing_type: 'pre-paid',
      recurring_interval: 1,
      date_start: dateStart,
      recurring_next_date: dateStart,
    });
  }
  /**
   * contract.contract create, in one transaction as Odoo does it: the ISP info, the contract, its lines and email
   * links, then the stored computes (date_start, phone_number, commercial_partner_id).
   */
  async function newContract(c: {
    partner: Partner;
    kind: 'mobile' | 'fiber' | '4G' | 'multimedia';
    mandateId: number;
    lines: string[];
    /** multimedia: its technology and supplier (multimedia_somconnexio, filmin_somconnexio records) */
    technologyId?: number;
    supplierId?: number;
    /** lines with a price of their own (OCA contract's specific_price), by product code */
    specificPrices?: Record<string, number>;
    emailPartnerIds?: number[];
    servicePartnerId?: number;
    /** created already terminated on this day (a migration or import): is_terminated, terminate_date, lines ended */
    terminatedOn?: string;
  }): Promise<Contract> {
    return inTransaction(async () => {
      let infoTable: string, infoColumn: string | null, infoId: number, phone: string;
      if (c.kind === 'multimedia') {
        // no ISP info of its own: phone_number stays empty (NULL)
        phone = '';
        infoTable = '';
        infoColumn = null;
        infoId = 0;
      } else if (c.kind === 'mobile') {
        phone = `6${digits(8)}`;
        infoTable = 'mobile_service_contract_info';
        infoColumn = 'mobile_contract_service_info_id';
        infoId = await insert(infoTable, { phone_number: phone, icc: `89343${digits(14)}` });
      } else if (c.kind === 'fiber') {
        phone = `922${digits(6)}`;
        infoTable = 'vodafone_fiber_service_contract_info';
        infoColumn = 'vodafone_fiber_service_contract_info_id';
        infoId = await insert(infoTable, {
          phone_number: phone,
          id_order: digits(6),
          vodafone_id: digits(10),
          vodafone_offer_code: 'VFF600',
        });
      } else {
        // router 4G: no number of its own, somconnexio's default "-"
        phone = '-';
        infoTable = 'router_4g_service_contract_info';
        infoColumn = 'router_4G_service_contract_info_id';
        infoId = await insert(infoTable, {
          phone_number: phone,
          icc: `89340${digits(14)}`,
          id_order: digits(6),
          router_product_id: ref.router,
        });
      }
      const contractCode = code();
      ownCodes.add(contractCode);
      const id = await insert('contract_contract', {
        name: contractCode,
        code: contractCode,
        partner_id: c.partner.id,
        invoice_partner_id: c.partner.id,
        service_partner_id: c.servicePartnerId ?? null,
        company_id: 1,
        journal_id: ref.journal,
        pricelist_id: 1,
        contract_type: 'sale',
        mandate_id: c.mandateId,
        payment_mode_id: ref.paymentMode,
        service_technology_id: c.kind === 'multimedia' ? c.technologyId : ref.tech[c.kind],
        service_supplier_id:
          c.supplierId ?? (c.kind === 'mobile' ? ref.supplier.masmovil : ref.supplier.vodafone),
        ...(infoColumn === null ? {} : { [infoColumn]: infoId }),
        active: true,
        ...(c.terminatedOn
          ? { is_terminated: true, terminate_reason_id: ref.reason, terminate_date: c.terminatedOn }
          : {}),
      });
      const lines = new Map<string, number>();
      for (const l of c.lines)
        lines.set(l, await newLine(id, l, today, c.terminatedOn ?? null, c.specificPrices?.[l] ?? null));
      for (const e of c.emailPartnerIds ?? [c.partner.id])
        await db.query(
          'INSERT INTO contract_contract_res_partner_rel (contract_contract_id, res_partner_id) VALUES ($1, $2)',
          [id, e],
        );
      await write('contract_contract', id, {
        date_start: today,
        recurring_next_date: today,
        phone_number: phone || null,
        commercial_partner_id: c.partner.id,
        ...(c.terminatedOn ? { date_end: c.terminatedOn } : {}),
      });
      return { id, code: contractCode, phone, infoTable, infoId, lines };
    });
  }

  // ----- what the sandbox received

  /**
   * This run's partner refs and contract codes: every request of a case names one of them (in its path or body).
   * The Odoo database is shared, so requests caused by other writers' rows are not this test's to count.
   */
  const ownCodes = new Set<string>();
  const ours = (e: JournalEntry) => {
    const text = `${e.path} ${JSON.stringify(e.body ?? '')}`;
    for (const c of ownCodes) if (text.includes(c)) return true;
    return false;
  };
  let mark = 0;
  const since = () =>
    t.sandbox.journal
      .entries()
      .filter((e) => e.seq > mark)
      .filter(isStateChanging)
      .filter(ours);
  const begin = () => {
    mark = Math.max(0, ...t.sandbox.journal.entries().map((e) => e.seq));
  };
  /** Waits for `n` state-changing requests, then a quiet while in which nothing more may arrive; returns them. */
  async function received(n: number, what: string, quietMs = 2500): Promise<JournalEntry[]> {
    await eventually(async () => (since().length >= n ? true : undefined), 60_000, what);
    await new Promise((r) => setTimeout(r, quietMs));
    return since();
  }
  const brief = (es: JournalEntry[]) => es.map((e) => `${e.method} ${e.path} ${e.status}`);
  function expectCalls(es: JournalEntry[], expected: [string, string][]): void {
    expect(brief(es), 'exactly these requests, nothing else').to.deep.equal(
      expected.map(([m, p]) => `${m} ${p} 200`),
    );
  }
  const body = (e: JournalEntry) => e.body as Record<string, unknown>;

  /** The operator CLI in its own process (W3, W4, W5). */
  function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/app/cli.ts', ...args], {
        cwd: ROOT,
        env: {
          ...process.env,
          INTENTS_TOPIC: t.config.topics.intents,
          DLQ_TOPIC: t.config.topics.dlq,
          OPENCELL_PASSWORD: 'unused',
          ODOO_PASSWORD: 'unused',
          LOG_LEVEL: 'error',
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  before(async () => {
    logs.attach();
    t = await startTestPipeline({}, {}, { password: OC_PASSWORD });
    db = await odooDb().connect();
    const one = async <T>(sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows[0] as T;
    const state = (c: string) =>
      one<{ id: number; name: string }>(
        `SELECT s.id, s.name FROM res_country_state s JOIN res_country c ON c.id = s.country_id WHERE c.code = 'ES' AND s.code = $1`,
        [c],
      );
    Object.assign(ref, {
      es: (await one<{ id: number }>(`SELECT id FROM res_country WHERE code = 'ES'`)).id,
      stateB: await state('B'),
      stateTF: await state('TF'),
      bank: await one(`SELECT id, bic, name FROM res_bank WHERE bic = 'CAIXESBBXXX'`),
      tech: {
        mobile: await xmlId('somconnexio.service_technology_mobile'),
        fiber: await xmlId('somconnexio.service_technology_fiber'),
        '4G': await xmlId('somconnexio.service_technology_4G'),
      },
      supplier: {
        masmovil: await xmlId('somconnexio.service_supplier_masmovil'),
        vodafone: await xmlId('somconnexio.service_supplier_vodafone'),
      },
      journal: await xmlId('invoice_somconnexio.customer_services_invoices_journal'),
      paymentMode: await xmlId('somconnexio.payment_mode_inbound_sepa'),
      reason: (await one<{ id: number }>(`SELECT min(id) AS id FROM contract_terminate_reason`)).id,
      uom: await xmlId('uom.product_uom_unit'),
      router: await xmlId('somconnexio.router_product'),
    });
    // Odoo 16 stores translated names as jsonb: the line's name is the product's name in the user's language.
    const ps = await db.query<{ id: number; code: string; name: string }>(
      `SELECT DISTINCT ON (p.default_code) p.id, p.default_code AS code, coalesce(t.name->>'ca_ES', t.name->>'en_US') AS name
         FROM product_product p JOIN product_template t ON t.id = p.product_tmpl_id
        WHERE p.active ORDER BY p.default_code, p.id`,
    );
    for (const p of ps.rows) products.set(p.code, { id: p.id, name: p.name });
  });
  after(async () => {
    await scheduler?.stop();
    db?.release();
    await t?.stop();
    logs.detach();
  });

  // ----- customer A: a person in Barcelona (ca_ES), one mobile contract driven through the triggers

  let A: Partner;
  let bankA: Bank;
  let cA: Contract;
  const caA = () => `${A.ref}_0`;

  it('T1: a contract created with its lines in one transaction → customer, CA_UA hierarchy {ref}_0, subscription, access, then one activateServices per service line and one applyOneShotChargeInstance per one-shot line (T3, T4), with the original presenters’ fields (P-customer, P-crm, P-payment, P-mandate-date, P-subscription, P-access, P-service, P-oneshot)', async () => {
    const s = uniqueSuffix();
    A = await newPartner({
      name: 'Núria Puig Soler',
      firstname: 'Núria',
      lastname: 'Puig Soler',
      ref: code(),
      vat: `ES${digits(8)}Z`,
      lang: 'ca_ES',
      email: `nuria.${s}@example.org`,
      phone: null,
      mobile: `6${digits(8)}`,
      street: 'Carrer de Sants, 12',
      street2: '3r 2a',
      zip: '08014',
      city: 'Barcelona',
      state: { ...ref.stateB, code: 'B' },
    });
    bankA = await newBank(A.id);
    begin();
    cA = await newContract({
      partner: A,
      kind: 'mobile',
      mandateId: bankA.mandateId,
      lines: ['SE_SC_REC_MOBILE_T_UNL_20480', 'SE_SC_REC_MOBILE_PACK_UNL_1024', 'CH_SC_OSO_SIM'],
    });
    const got = await received(7, 'the creation of customer A');
    expectCalls(got.slice(0, 4), [
      ['POST', '/account/customer'],
      ['POST', '/account/accountHierarchy/createCRMAccountHierarchy'],
      ['POST', '/billing/subscription'],
      ['POST', '/account/access'],
    ]);
    expect(brief(got.slice(4)).sort()).to.deep.equal([
      'POST /billing/subscription/activateServices 200',
      'POST /billing/subscription/activateServices 200',
      'POST /billing/subscription/applyOneShotChargeInstance 200',
    ]);
    expect(body(got[0])).to.deep.include({
      seller: 'SC',
      code: A.ref,
      description: A.name,
      name: { firstName: 'Núria', lastName: 'Puig Soler' },
      address: {
        address1: 'Carrer de Sants, 12 3r 2a',
        zipCode: '08014',
        city: 'Barcelona',
        state: ref.stateB.name,
        country: 'ES',
      },
      vatNo: A.vat,
      contactInformation: { email: A.email, mobile: A.mobile },
      customerCategory: 'CLIENT',
    });
    expect(body(got[1])).to.deep.include({
      code: caA(),
      crmAccountType: 'CA_UA',
      crmParentCode: A.ref,
      email: A.email,
      ccedEmails: null,
      contactInformation: { email: A.email, phone: '', mobile: A.mobile, fax: '' },
      language: 'CAT',
      customerCategory: 'CLIENT',
      currency: 'EUR',
      billingCycle: 'BC_SC_MONTHLY_1ST',
      country: 'SP',
      electronicBilling: true,
      mailingType: 'Manual',
      emailTemplate: 'EMAIL_TEMPLATE_TEST',
      methodOfPayment: [
        {
          paymentMethodType: 'DIRECTDEBIT',
          disabled: false,
          preferred: true,
          customerAccountCode: caA(),
          bankCoordinates: {
            iban: bankA.iban,
            bic: ref.bank.bic,
            accountOwner: 'Núria Puig Soler',
            bankName: ref.bank.name,
          },
          alias: String(bankA.bankAccountId),
          mandateIdentification: String(bankA.bankAccountId),
          mandateDate: bankA.createdSeconds,
        },
      ],
    });
    expect(body(got[2])).to.deep.include({
      code: cA.code,
      description: cA.phone,
      userAccount: caA(),
      subscriptionDate: today,
      offerTemplate: 'OF_SC_TEMPLATE_MOB',
      customFields: {},
    });
    expect(body(got[3])).to.deep.equal({ code: cA.phone, subscription: cA.code });
    const activations = got
      .filter((e) => e.path.endsWith('/activateServices'))
      .map((e) => body(e))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(activations).to.deep.equal(
      ['SE_SC_REC_MOBILE_PACK_UNL_1024', 'SE_SC_REC_MOBILE_T_UNL_20480'].map((c) => ({
        subscription: cA.code,
        servicesToActivate: { service: [{ code: c, quantity: 1, subscriptionDate: today }] },
      })),
    );
    expect(body(got.find((e) => e.path.endsWith('/applyOneShotChargeInstance'))!)).to.deep.equal({
      subscription: cA.code,
      oneShotCharge: 'CH_SC_OSO_SIM',
    });
  });

  it('T3: a line in a one-shot category added to a running contract → applyOneShotChargeInstance {subscription, oneShotCharge} only', async () => {
    begin();
    cA.lines.set(
      'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB',
      await newLine(cA.id, 'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB'),
    );
    const got = await received(1, 'the one-shot');
    expectCalls(got, [['POST', '/billing/subscription/applyOneShotChargeInstance']]);
    expect(body(got[0])).to.deep.equal({
      subscription: cA.code,
      oneShotCharge: 'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB',
    });
  });

  it('T4: a line in a service category added → activateServices {code, quantity 1, subscriptionDate}; a line in another category (other_products) → nothing', async () => {
    begin();
    await newLine(cA.id, 'SC_OTHER_DONATION');
    cA.lines.set('SE_SC_REC_MOBILE_T_0_0', await newLine(cA.id, 'SE_SC_REC_MOBILE_T_0_0'));
    const got = await received(1, 'the activation');
    expectCalls(got, [['POST', '/billing/subscription/activateServices']]);
    expect(body(got[0])).to.deep.equal({
      subscription: cA.code,
      servicesToActivate: {
        service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', quantity: 1, subscriptionDate: today }],
      },
    });
  });

  it('T5: date_end written on a service line → terminateServices {subscriptionCode, terminationDate = date_end, services [code], CC_TERMINATION}', async () => {
    begin();
    await write('contract_line', cA.lines.get('SE_SC_REC_MOBILE_T_0_0')!, { date_end: today });
    const got = await received(1, 'the service termination');
    expectCalls(got, [['POST', '/billing/subscription/terminateServices']]);
    expect(body(got[0])).to.deep.equal({
      subscriptionCode: cA.code,
      terminationDate: today,
      services: ['SE_SC_REC_MOBILE_T_0_0'],
      terminationReason: 'CC_TERMINATION',
    });
  });

  it('T5: a later write of a line that has date_end (quantity) fires again, and nothing is sent: the instance already has its terminationDate (J-terminate-service)', async () => {
    const lineId = cA.lines.get('SE_SC_REC_MOBILE_T_0_0')!;
    const count = async () =>
      (
        await stateDb().query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ledger_intent WHERE kind = 'terminate_service' AND odoo_id = $1`,
          [lineId],
        )
      ).rows[0].n;
    const before = await count();
    begin();
    await write('contract_line', lineId, { quantity: 2 });
    await eventually(async () => ((await count()) > before ? true : undefined), 60_000, 'T5 fired again');
    const got = await received(0, 'nothing');
    expectCalls(got, []);
  });

  it('R-tariff: a tariff change (new tariff line, date_end on the old one, one transaction) → activateServices of the new tariff, then terminateServices of the old', async () => {
    begin();
    await inTransaction(async () => {
      cA.lines.set('SE_SC_REC_MOBILE_T_150_1024', await newLine(cA.id, 'SE_SC_REC_MOBILE_T_150_1024'));
      await write('contract_line', cA.lines.get('SE_SC_REC_MOBILE_T_UNL_20480')!, { date_end: today });
    });
    const got = await received(2, 'tariff change');
    expectCalls(got, [
      ['POST', '/billing/subscription/activateServices'],
      ['POST', '/billing/subscription/terminateServices'],
    ]);
    expect(body(got[0])).to.deep.equal({
      subscription: cA.code,
      servicesToActivate: {
        service: [{ code: 'SE_SC_REC_MOBILE_T_150_1024', quantity: 1, subscriptionDate: today }],
      },
    });
    expect(body(got[1])).to.deep.equal({
      subscriptionCode: cA.code,
      terminationDate: today,
      services: ['SE_SC_REC_MOBILE_T_UNL_20480'],
      terminationReason: 'CC_TERMINATION',
    });
  });

  it('T7: phone_number written on mobile_service_contract_info → subscription description = new number, the old access deleted, the new access created (J-phone)', async () => {
    const old = cA.phone;
    const next = `6${digits(8)}`;
    begin();
    await inTransaction(async () => {
      await write(cA.infoTable, cA.infoId, { phone_number: next });
      await write('contract_contract', cA.id, { phone_number: next }); // the stored related field
    });
    const got = await received(3, 'the phone change');
    expectCalls(got, [
      ['PUT', '/billing/subscription'],
      ['DELETE', got[1]?.path ?? '?'],
      ['POST', '/account/access'],
    ]);
    expect(body(got[0])).to.deep.include({ code: cA.code, description: next });
    expect(got[1].path).to.match(new RegExp(`^/account/access/${old}/${cA.code}(/|$)`));
    expect(body(got[2])).to.deep.equal({ code: next, subscription: cA.code });
    cA.phone = next;
  });

  it('T6: an address field written on a partner with contracts → the customer updated with the full payload, then each customer account’s address (T6b, P-upd-address)', async () => {
    begin();
    await write('res_partner', A.id, {
      street: 'Carrer de Pere IV, 300',
      full_street: 'Carrer de Pere IV, 300 3r 2a',
      zip: '08005',
    });
    const got = await received(2, 'the address update');
    expectCalls(got, [
      ['PUT', '/account/customer'],
      ['POST', '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy'],
    ]);
    const address = {
      address1: 'Carrer de Pere IV, 300 3r 2a',
      zipCode: '08005',
      city: 'Barcelona',
      state: ref.stateB.name,
      country: 'ES',
    };
    expect(body(got[0])).to.deep.include({
      seller: 'SC',
      code: A.ref,
      description: A.name,
      address,
      vatNo: A.vat,
      customerCategory: 'CLIENT',
    });
    expect(body(got[1])).to.deep.equal({
      code: caA(),
      crmAccountType: 'CA_UA',
      currency: 'EUR',
      language: 'CAT',
      address,
      country: 'SP',
    });
  });

  it('T6-id: name, email, phone, mobile and vat written on a partner → nothing sent (the original ignores them)', async () => {
    const count = () =>
      stateDb()
        .query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ledger_intent WHERE odoo_model = 'res.partner' AND odoo_id = $1`,
          [A.id],
        )
        .then((r) => r.rows[0].n);
    const before = await count();
    begin();
    const identity = {
      name: 'Núria Puig i Soler',
      lastname: 'Puig i Soler',
      email: `other.${uniqueSuffix()}@example.org`,
      phone: `93${digits(7)}`,
      mobile: `6${digits(8)}`,
      vat: `ES${digits(8)}Z`,
    };
    await write('res_partner', A.id, { ...identity, display_name: identity.name });
    Object.assign(A, identity);
    const got = await received(0, 'nothing', 4000);
    expectCalls(got, []);
    expect(await count(), 'no intent either').to.equal(before);
  });

  it('W2: mandate_id written on the contract (IBAN-change wizard) → createOrUpdateCRMAccountHierarchy FromContractToChangeIBAN on {ref}_0 (P-upd-iban)', async () => {
    const bank = await newBank(A.id);
    begin();
    await write('contract_contract', cA.id, { mandate_id: bank.mandateId });
    const got = await received(1, 'the IBAN change');
    expectCalls(got, [['POST', '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy']]);
    expect(body(got[0])).to.deep.equal({
      code: caA(),
      crmAccountType: 'CA_UA',
      currency: 'EUR',
      language: 'CAT',
      methodOfPayment: [
        {
          paymentMethodType: 'DIRECTDEBIT',
          disabled: false,
          preferred: true,
          customerAccountCode: caA(),
          bankCoordinates: {
            iban: bank.iban,
            bic: ref.bank.bic,
            accountOwner: 'Núria Puig i Soler',
            bankName: ref.bank.name,
          },
          alias: String(bank.bankAccountId),
          mandateIdentification: String(bank.bankAccountId),
          mandateDate: bank.createdSeconds,
        },
      ],
    });
  });

  it('W1: email_ids rewritten by the email-change wizard → createOrUpdateCRMAccountHierarchy FromContractToChangeEmail on {ref}_0 (P-upd-email, P-cced)', async () => {
    const email = `nuria.new.${uniqueSuffix()}@example.org`;
    const contact = await newPartner({
      ...A,
      ref: null,
      vat: null,
      email,
      parentId: A.id,
      type: 'contract-email',
    });
    begin();
    await inTransaction(async () => {
      await db.query('DELETE FROM contract_contract_res_partner_rel WHERE contract_contract_id = $1', [
        cA.id,
      ]);
      await db.query(
        'INSERT INTO contract_contract_res_partner_rel (contract_contract_id, res_partner_id) VALUES ($1, $2)',
        [cA.id, contact.id],
      );
      await write('contract_contract', cA.id, {});
    });
    const got = await received(1, 'the email change');
    expectCalls(got, [['POST', '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy']]);
    expect(body(got[0])).to.deep.include({
      code: caA(),
      crmAccountType: 'CA_UA',
      currency: 'EUR',
      language: 'CAT',
      email,
      ccedEmails: null,
    });
    expect(Object.keys(body(got[0])).sort()).to.deep.equal(
      ['code', 'crmAccountType', 'currency', 'language', 'email', 'ccedEmails', 'contactInformation'].sort(),
    );
    // contactInformation as the original: the first contract email, the invoice partner's phone and mobile
    expect(body(got[0]).contactInformation).to.deep.equal({
      email,
      phone: A.phone,
      mobile: A.mobile,
      fax: '',
    });
  });

  it('T2: the contract terminated today (terminate_contract: open lines ended, then is_terminated and terminate_date) → terminateServices of the running lines, then terminate {subscriptionCode, terminationDate = terminate_date, CC_TERMINATION} (J-terminate, R-termination)', async () => {
    begin();
    await inTransaction(async () => {
      await db.query(
        `UPDATE contract_line SET date_end = $2, write_uid = 2, write_date = (now() AT TIME ZONE 'UTC')
          WHERE contract_id = $1 AND date_end IS NULL`,
        [cA.id, today],
      );
      await write('contract_contract', cA.id, {
        is_terminated: true,
        terminate_reason_id: ref.reason,
        terminate_date: today,
        date_end: today,
      });
    });
    const got = await received(3, 'the termination');
    // Still running: the pack and the new tariff (the 0 GB tariff and the old tariff ended in earlier steps).
    expect(brief(got)).to.deep.equal([
      'POST /billing/subscription/terminateServices 200',
      'POST /billing/subscription/terminateServices 200',
      'POST /billing/subscription/terminate 200',
    ]);
    expect(body(got[2])).to.deep.equal({
      subscriptionCode: cA.code,
      terminationDate: today,
      terminationReason: 'CC_TERMINATION',
    });
    expect(
      got
        .slice(0, 2)
        .map((e) => body(e))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).to.deep.equal(
      ['SE_SC_REC_MOBILE_PACK_UNL_1024', 'SE_SC_REC_MOBILE_T_150_1024'].map((c) => ({
        subscriptionCode: cA.code,
        terminationDate: today,
        services: [c],
        terminationReason: 'CC_TERMINATION',
      })),
    );
  });

  it('NW-undo: cancelling the termination (is_terminated, terminate_reason_id, terminate_date written back to false) → nothing sent', async () => {
    begin();
    await write('contract_contract', cA.id, {
      is_terminated: false,
      terminate_reason_id: null,
      terminate_comment: null,
      terminate_date: null,
      date_end: null,
    });
    expectCalls(await received(0, 'nothing', 4000), []);
  });

  /** How many intents of `kind` about one Odoo record the ledger holds (0: the router produced none). */
  const intentsOf = async (kind: string, model: string, id: number) =>
    (
      await stateDb().query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ledger_intent WHERE kind = $1 AND odoo_model = $2 AND odoo_id = $3`,
        [kind, model, id],
      )
    ).rows[0].n;

  // ----- customer C: a person with three contract emails (P-cced); a later contract arrives already terminated

  let C: Partner;
  let bankC: Bank;
  let cC1: Contract;
  let emailsC: number[];

  it('P-cced: a contract with three emails → createCRMAccountHierarchy with email = the first (res.partner order: display_name), ccedEmails = the 2nd and 3rd joined with ","', async () => {
    const s = uniqueSuffix();
    C = await newPartner({
      name: 'Berta Vidal',
      firstname: 'Berta',
      lastname: 'Vidal',
      ref: code(),
      vat: `ES${digits(8)}Z`,
      lang: 'es_ES',
      email: `berta.${s}@example.org`,
      phone: null,
      mobile: `6${digits(8)}`,
      street: 'Carrer Gran, 1',
      street2: null,
      zip: '08001',
      city: 'Barcelona',
      state: { ...ref.stateB, code: 'B' },
    });
    const contact = (tag: string) =>
      newPartner({
        ...C,
        name: `Berta Vidal - ${tag}`,
        ref: null,
        vat: null,
        email: `berta.${tag}.${s}@example.org`,
        parentId: C.id,
        type: 'contract-email',
      });
    const second = await contact('a');
    const third = await contact('b');
    emailsC = [third.id, C.id, second.id]; // linked in another order than the one Odoo reads them in
    bankC = await newBank(C.id);
    begin();
    cC1 = await newContract({
      partner: C,
      kind: 'mobile',
      mandateId: bankC.mandateId,
      lines: ['SE_SC_REC_MOBILE_T_0_0'],
      emailPartnerIds: emailsC,
    });
    const got = await received(5, 'the creation of customer C');
    expectCalls(got, [
      ['POST', '/account/customer'],
      ['POST', '/account/accountHierarchy/createCRMAccountHierarchy'],
      ['POST', '/billing/subscription'],
      ['POST', '/account/access'],
      ['POST', '/billing/subscription/activateServices'],
    ]);
    expect(body(got[1])).to.deep.include({
      code: `${C.ref}_0`,
      email: C.email,
      ccedEmails: `${second.email},${third.email}`,
      contactInformation: { email: C.email, phone: '', mobile: C.mobile, fax: '' },
    });
  });

  it('ADD-create: a contract inserted already terminated (is_terminated, terminate_date and its lines’ date_end in the INSERTs) → its creation only, as the original: subscription and access on the matching account and the line activated; no terminate and no terminateServices (T2 and T5 react to writes; SYNC_TERMINATION_AT_CREATION off)', async () => {
    begin();
    const c = await newContract({
      partner: C,
      kind: 'mobile',
      mandateId: bankC.mandateId,
      lines: ['SE_SC_REC_MOBILE_T_0_0'],
      emailPartnerIds: emailsC,
      terminatedOn: today,
    });
    const got = await received(3, 'the creation of the terminated contract', 4000);
    expectCalls(got, [
      ['POST', '/billing/subscription'],
      ['POST', '/account/access'],
      ['POST', '/billing/subscription/activateServices'],
    ]);
    expect(body(got[0])).to.deep.include({ code: c.code, userAccount: `${C.ref}_0` });
    expect(body(got[2])).to.deep.equal({
      subscription: c.code,
      servicesToActivate: {
        service: [{ code: 'SE_SC_REC_MOBILE_T_0_0', quantity: 1, subscriptionDate: today }],
      },
    });
    expect(await intentsOf('terminate_subscription', 'contract.contract', c.id)).to.equal(0);
    expect(
      await intentsOf('terminate_service', 'contract.line', c.lines.get('SE_SC_REC_MOBILE_T_0_0')!),
    ).to.equal(0);
  });

  it('ADD-create: a service line inserted with date_end into a running contract → activateServices only, as the original (T4); a later write of the line terminates it (T5)', async () => {
    begin();
    const line = await newLine(cC1.id, 'SE_SC_REC_MOBILE_PACK_UNL_1024', today, today);
    const got = await received(1, 'the activation', 4000);
    expectCalls(got, [['POST', '/billing/subscription/activateServices']]);
    expect(body(got[0])).to.deep.equal({
      subscription: cC1.code,
      servicesToActivate: {
        service: [{ code: 'SE_SC_REC_MOBILE_PACK_UNL_1024', quantity: 1, subscriptionDate: today }],
      },
    });
    expect(await intentsOf('terminate_service', 'contract.line', line)).to.equal(0);
    begin();
    await write('contract_line', line, { quantity: 2 });
    const later = await received(1, 'the termination on a later write');
    expectCalls(later, [['POST', '/billing/subscription/terminateServices']]);
    expect(body(later[0])).to.deep.equal({
      subscriptionCode: cC1.code,
      terminationDate: today,
      services: ['SE_SC_REC_MOBILE_PACK_UNL_1024'],
      terminationReason: 'CC_TERMINATION',
    });
  });

  // ----- customer B: a company in Tenerife (es_ES) with a service address; several contracts and accounts

  let B: Partner;
  let bankB: Bank;
  let cB1: Contract;
  let cB3: Contract;
  let cB2: Contract;

  it('P-offer: a fiber contract of a company in the Canary Islands with a service address → firstName "", lastName = name (R-company), ESP, ES_CN, OF_SC_TEMPLATE_BA with the four service-address custom fields, account owner "False <name>" (P-language, P-country, P-custom-fields, P-contact, P-payment)', async () => {
    const s = uniqueSuffix();
    B = await newPartner({
      name: 'Fusteria Rivero SL',
      firstname: null,
      lastname: 'Fusteria Rivero SL', // partner_firstname: a company's name goes to lastname
      ref: code(),
      vat: `ESB${digits(8)}`,
      lang: 'es_ES',
      email: `fusteria.${s}@example.org`,
      phone: `922${digits(6)}`,
      mobile: null,
      street: 'Calle del Castillo, 8',
      street2: null,
      zip: '38002',
      city: 'Santa Cruz de Tenerife',
      state: { ...ref.stateTF, code: 'TF' },
      isCompany: true,
    });
    const service = await newPartner({
      ...B,
      ref: null,
      vat: null,
      street: 'Avenida de Anaga, 40',
      zip: '38001',
      parentId: B.id,
      type: 'service',
      isCompany: false,
    });
    bankB = await newBank(B.id);
    begin();
    cB1 = await newContract({
      partner: B,
      kind: 'fiber',
      mandateId: bankB.mandateId,
      lines: ['SE_SC_REC_BA_F_600'],
      servicePartnerId: service.id,
    });
    const got = await received(5, 'the creation of customer B');
    expectCalls(got, [
      ['POST', '/account/customer'],
      ['POST', '/account/accountHierarchy/createCRMAccountHierarchy'],
      ['POST', '/billing/subscription'],
      ['POST', '/account/access'],
      ['POST', '/billing/subscription/activateServices'],
    ]);
    expect(body(got[0])).to.deep.include({
      code: B.ref,
      description: B.name,
      name: { firstName: '', lastName: B.name },
      contactInformation: { email: B.email, mobile: B.phone },
    });
    expect(body(got[1])).to.deep.include({
      code: `${B.ref}_0`,
      language: 'ESP',
      country: 'ES_CN',
      contactInformation: { email: B.email, phone: B.phone, mobile: '', fax: '' },
    });
    // P-payment: the original's "{} {}".format(firstname, lastname), Python's False for the empty first name
    const owner = (body(got[1]).methodOfPayment as { bankCoordinates: { accountOwner: string } }[])[0]
      .bankCoordinates.accountOwner;
    expect(owner).to.equal('False Fusteria Rivero SL');
    expect(body(got[2])).to.deep.include({
      code: cB1.code,
      description: cB1.phone,
      userAccount: `${B.ref}_0`,
      offerTemplate: 'OF_SC_TEMPLATE_BA',
      customFields: {
        customField: [
          { code: 'CF_OF_SC_SUB_SERVICE_ADDRESS', stringValue: 'Avenida de Anaga, 40' },
          { code: 'CF_OF_SC_SUB_SERVICE_CP', stringValue: '38001' },
          { code: 'CF_OF_SC_SUB_SERVICE_CITY', stringValue: 'Santa Cruz de Tenerife' },
          { code: 'CF_OF_SC_SUB_SERVICE_SUBDIVISION', stringValue: ref.stateTF.name },
        ],
      },
    });
    expect(body(got[3])).to.deep.equal({ code: cB1.phone, subscription: cB1.code });
  });

  it('S1-match: a second contract with the same first email and IBAN → subscription on the existing account {ref}_0, no customer or hierarchy call; a 4G router’s "-" phone is its description and access, as the original sent it (P-access, PHONE_PLACEHOLDER_IS_NO_NUMBER off)', async () => {
    begin();
    const c = (cB2 = await newContract({
      partner: B,
      kind: '4G',
      mandateId: bankB.mandateId,
      lines: ['SE_SC_REC_BA_4G'],
    }));
    const got = await received(3, 'the second subscription');
    expectCalls(got, [
      ['POST', '/billing/subscription'],
      ['POST', '/account/access'],
      ['POST', '/billing/subscription/activateServices'],
    ]);
    expect(body(got[0])).to.deep.include({
      code: c.code,
      description: '-',
      userAccount: `${B.ref}_0`,
      offerTemplate: 'OF_SC_TEMPLATE_BA',
    });
    expect(body(got[1])).to.deep.equal({ code: '-', subscription: c.code });
  });

  it('S1-newca: a contract with another first email → a new hierarchy {ref}_1, then its subscription and access', async () => {
    const contact = await newPartner({
      ...B,
      ref: null,
      vat: null,
      email: `factures.${uniqueSuffix()}@example.org`,
      parentId: B.id,
      type: 'contract-email',
      isCompany: false,
    });
    begin();
    cB3 = await newContract({
      partner: B,
      kind: 'mobile',
      mandateId: bankB.mandateId,
      lines: ['SE_SC_REC_MOBILE_T_0_0'],
      emailPartnerIds: [contact.id],
    });
    const got = await received(4, 'the new account');
    expectCalls(got, [
      ['POST', '/account/accountHierarchy/createCRMAccountHierarchy'],
      ['POST', '/billing/subscription'],
      ['POST', '/account/access'],
      ['POST', '/billing/subscription/activateServices'],
    ]);
    expect(body(got[0])).to.deep.include({
      code: `${B.ref}_1`,
      crmParentCode: B.ref,
      email: contact.email,
    });
    expect(body(got[1])).to.deep.include({
      code: cB3.code,
      userAccount: `${B.ref}_1`,
      offerTemplate: 'OF_SC_TEMPLATE_MOB',
    });
  });

  it('W3: with two accounts an IBAN change is not sent (S4-fallbacks); force-iban then sends FromContractToChangeIBAN to the contract’s own account {ref}_1 only', async () => {
    const bank = await newBank(B.id);
    begin();
    await write('contract_contract', cB3.id, { mandate_id: bank.mandateId });
    await eventually(
      async () =>
        (
          await stateDb().query(
            `SELECT 1 FROM ledger_intent WHERE kind = 'update_subscription' AND odoo_id = $1 AND outcome = 'dead_lettered'`,
            [cB3.id],
          )
        ).rowCount
          ? true
          : undefined,
      60_000,
      'the IBAN change dead-lettered (several accounts)',
    );
    expectCalls(since(), []);
    const r = await cli('force-iban', cB3.code, '--yes', '--wait', '60');
    expect(r.status, r.stderr).to.equal(0);
    const got = await received(1, 'the forced IBAN');
    expectCalls(got, [['POST', '/account/accountHierarchy/createOrUpdateCRMAccountHierarchy']]);
    expect(body(got[0])).to.deep.include({
      code: `${B.ref}_1`,
      crmAccountType: 'CA_UA',
      currency: 'EUR',
      language: 'ESP',
    });
    expect(Object.keys(body(got[0])).sort(), 'FromContractToChangeIBAN keys').to.deep.equal(
      ['code', 'crmAccountType', 'currency', 'language', 'methodOfPayment'].sort(),
    );
    const mop = body(got[0]).methodOfPayment as { bankCoordinates: { iban: string } }[];
    expect(mop.map((m) => m.bankCoordinates.iban)).to.deep.equal([bank.iban]);
  });

  it('S4-fallbacks: an email change on a customer with two accounts is not sent (the original’s job failed: more than one customer account)', async () => {
    const count = async () =>
      (
        await stateDb().query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ledger_intent WHERE kind = 'update_subscription' AND odoo_id = $1 AND outcome = 'dead_lettered'`,
          [cB3.id],
        )
      ).rows[0].n;
    const before = await count();
    const contact = await newPartner({
      ...B,
      ref: null,
      vat: null,
      email: `altres.${uniqueSuffix()}@example.org`,
      parentId: B.id,
      type: 'contract-email',
      isCompany: false,
    });
    begin();
    await inTransaction(async () => {
      await db.query('DELETE FROM contract_contract_res_partner_rel WHERE contract_contract_id = $1', [
        cB3.id,
      ]);
      await db.query(
        'INSERT INTO contract_contract_res_partner_rel (contract_contract_id, res_partner_id) VALUES ($1, $2)',
        [cB3.id, contact.id],
      );
      await write('contract_contract', cB3.id, {});
    });
    await eventually(
      async () => ((await count()) > before ? true : undefined),
      60_000,
      'the email change dead-lettered',
    );
    const reason = await stateDb().query<{ error_message: string }>(
      `SELECT error_message FROM ledger_intent WHERE kind = 'update_subscription' AND odoo_id = $1 AND outcome = 'dead_lettered' ORDER BY created_at DESC LIMIT 1`,
      [cB3.id],
    );
    expect(reason.rows[0].error_message).to.contain('more than one customer account');
    expectCalls(since(), []);
  });

  it('T7: phone_number written on vodafone_fiber_service_contract_info → description, old access deleted, new access created; written on router_4g_service_contract_info (not watched) → nothing', async () => {
    const old = cB1.phone;
    const next = `922${digits(6)}`;
    begin();
    await inTransaction(async () => {
      await write(cB1.infoTable, cB1.infoId, { phone_number: next });
      await write('contract_contract', cB1.id, { phone_number: next });
    });
    const got = await received(3, 'the phone change');
    expectCalls(got, [
      ['PUT', '/billing/subscription'],
      ['DELETE', got[1]?.path ?? '?'],
      ['POST', '/account/access'],
    ]);
    expect(body(got[0])).to.deep.include({ code: cB1.code, description: next });
    expect(got[1].path).to.match(new RegExp(`^/account/access/${old}/${cB1.code}(/|$)`));
    expect(body(got[2])).to.deep.equal({ code: next, subscription: cB1.code });
    cB1.phone = next;
    begin();
    await inTransaction(async () => {
      await write(cB2.infoTable, cB2.infoId, { phone_number: `922${digits(6)}` });
    });
    expectCalls(await received(0, 'nothing', 4000), []);
  });

  it('W5: compensate → one applyOneShotChargeInstance CH_SC_OSO_COMPENSATION for −amount with description and operation date', async () => {
    begin();
    const r = await cli(
      'compensate',
      cB1.code,
      '--amount',
      '12.3456',
      '--description',
      'Compensació per avaria',
      '--date',
      today,
      '--key',
      `par-${uniqueSuffix()}`,
      '--yes',
      '--wait',
      '60',
    );
    expect(r.status, r.stderr).to.equal(0);
    const got = await received(1, 'the compensation');
    expectCalls(got, [['POST', '/billing/subscription/applyOneShotChargeInstance']]);
    expect(body(got[0])).to.deep.include({
      subscription: cB1.code,
      oneShotCharge: 'CH_SC_OSO_COMPENSATION',
      amountWithoutTax: -12.3456,
      description: 'Compensació per avaria',
      operationDate: today,
    });
  });

  it('W4: a new contract of a partner blocked for OpenCell whose customer exists → nothing sent (S1-blocked, R-blocked); force-create → its subscription and access on the matching account only, as the original’s forced creation; its line follows when its dead letter is replayed (FORCE_CREATE_WITH_LINES off)', async () => {
    begin();
    await write('res_partner', B.id, { block_contract_creation_in_OC: true });
    const c = await newContract({
      partner: B,
      kind: 'mobile',
      mandateId: bankB.mandateId,
      lines: ['SE_SC_REC_MOBILE_T_150_1024'],
    });
    await eventually(
      async () =>
        (
          await stateDb().query(
            `SELECT 1 FROM ledger_intent WHERE kind = 'create_subscription' AND odoo_id = $1 AND outcome = 'dead_lettered'`,
            [c.id],
          )
        ).rowCount
          ? true
          : undefined,
      60_000,
      'the creation dead-lettered (blocked)',
    );
    await new Promise((r) => setTimeout(r, 2000)); // the line's activation finds no subscription either
    expectCalls(since(), []);
    const r = await cli('force-create', c.code, '--yes');
    expect(r.status, r.stderr).to.equal(0);
    const got = await received(2, 'the forced creation');
    expectCalls(got, [
      ['POST', '/billing/subscription'],
      ['POST', '/account/access'],
    ]);
    expect(body(got[0])).to.deep.include({ code: c.code, userAccount: `${B.ref}_0` });
    // The line's job had failed too; the original re-queued it by hand: here its dead letter is replayed.
    const list = await cli('dlq', 'list', '--json');
    expect(list.status, list.stderr).to.equal(0);
    const blocked = (
      JSON.parse(list.stdout) as { deadLetters: { id: string; message: string | null; replayed: unknown }[] }
    ).deadLetters.filter(
      (d) => !d.replayed && (d.message ?? '').includes('does not allow automatic subscription creation'),
    );
    expect(blocked.length, 'the creation and the line dead-lettered').to.equal(2);
    begin();
    const replay = await cli('dlq', 'replay', ...blocked.flatMap((d) => ['--id', d.id]), '--yes');
    expect(replay.status, replay.stderr).to.equal(0);
    const line = await received(1, 'the line once replayed');
    expectCalls(line, [['POST', '/billing/subscription/activateServices']]);
    expect(body(line[0])).to.deep.include({ subscription: c.code });
  });

  it('T2: a contract terminated with a date after today → nothing sent until that day (held, as the original’s ETA), then terminateServices and terminate dated terminate_date (T5 timing too)', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    begin();
    await inTransaction(async () => {
      await db.query(
        `UPDATE contract_line SET date_end = $2, write_uid = 2, write_date = (now() AT TIME ZONE 'UTC')
          WHERE contract_id = $1 AND date_end IS NULL`,
        [cB1.id, tomorrow],
      );
      await write('contract_contract', cB1.id, {
        is_terminated: true,
        terminate_reason_id: ref.reason,
        terminate_date: tomorrow,
        date_end: tomorrow,
      });
    });
    // The fault is "the day has not come": count that both terminations landed in the held table.
    await eventually(
      async () => {
        const r = await stateDb().query<{ kind: string }>(
          'SELECT kind FROM held_intent WHERE topic = $1 AND contract_id = $2',
          [t.config.topics.intents, cB1.id],
        );
        const kinds = new Set(r.rows.map((x) => x.kind));
        return kinds.has('terminate_subscription') && kinds.has('terminate_service') ? true : undefined;
      },
      60_000,
      'both terminations held',
    );
    expectCalls(await received(0, 'nothing while held'), []);
    scheduler = await startHeldIntentScheduler(
      loadConfig({
        ...process.env,
        OPENCELL_PASSWORD: 'unused-here',
        ODOO_PASSWORD: 'unused-here',
        INTENTS_TOPIC: t.config.topics.intents,
        HELD_INTENTS_POLL_MS: '200',
        HELD_INTENTS_CLOCK_OFFSET_MS: String(2 * 86_400_000), // two days later, as far as the scheduler knows
      }),
      { pool: stateDb(), kafka: testKafka() },
    );
    const got = await received(2, 'the terminations once due');
    expectCalls(got, [
      ['POST', '/billing/subscription/terminateServices'],
      ['POST', '/billing/subscription/terminate'],
    ]);
    expect(body(got[0])).to.deep.include({ subscriptionCode: cB1.code, terminationDate: tomorrow });
    expect(body(got[1])).to.deep.equal({
      subscriptionCode: cB1.code,
      terminationDate: tomorrow,
      terminationReason: 'CC_TERMINATION',
    });
  });

  it('T6b: an address written on a partner whose customer has two accounts → the customer, then one address update per account ({ref}_0, {ref}_1)', async () => {
    begin();
    await write('res_partner', B.id, {
      street: 'Calle de la Noria, 3',
      full_street: 'Calle de la Noria, 3',
    });
    const got = await received(3, 'the address update');
    expect(brief(got)).to.deep.equal([
      'PUT /account/customer 200',
      'POST /account/accountHierarchy/createOrUpdateCRMAccountHierarchy 200',
      'POST /account/accountHierarchy/createOrUpdateCRMAccountHierarchy 200',
    ]);
    expect(
      got
        .slice(1)
        .map((e) => body(e).code)
        .sort(),
    ).to.deep.equal([`${B.ref}_0`, `${B.ref}_1`]);
    for (const e of got.slice(1))
      expect(body(e)).to.deep.include({
        crmAccountType: 'CA_UA',
        currency: 'EUR',
        language: 'ESP',
        country: 'ES_CN',
        address: {
          address1: 'Calle de la Noria, 3',
          zipCode: '38002',
          city: 'Santa Cruz de Tenerife',
          state: ref.stateTF.name,
          country: 'ES',
        },
      });
  });

  it('R-tariff-same: a line replaced by a line of the same product (date_end today on the old line and the new line, one transaction) → terminateServices of the old instance, then activateServices of the new line', async () => {
    const old = cB2.lines.get('SE_SC_REC_BA_4G')!;
    begin();
    await inTransaction(async () => {
      await write('contract_line', old, { date_end: today });
      cB2.lines.set('SE_SC_REC_BA_4G', await newLine(cB2.id, 'SE_SC_REC_BA_4G'));
    });
    const got = await received(2, 'the same-product replacement');
    expectCalls(got, [
      ['POST', '/billing/subscription/terminateServices'],
      ['POST', '/billing/subscription/activateServices'],
    ]);
    expect(body(got[0])).to.deep.equal({
      subscriptionCode: cB2.code,
      terminationDate: today,
      services: ['SE_SC_REC_BA_4G'],
      terminationReason: 'CC_TERMINATION',
    });
    expect(body(got[1])).to.deep.equal({
      subscription: cB2.code,
      servicesToActivate: { service: [{ code: 'SE_SC_REC_BA_4G', quantity: 1, subscriptionDate: today }] },
    });
  });

  it('R-product: a service line whose product OpenCell’s catalog lacks → nothing sent (OpenCell refused the original’s call); the intent is dead-lettered naming the code', async () => {
    begin();
    const line = await newLine(cB2.id, 'SE_SC_REC_UNKNOWN_X');
    const reason = await eventually(
      async () =>
        (
          await stateDb().query<{ error_message: string }>(
            `SELECT error_message FROM ledger_intent WHERE kind = 'activate_service' AND odoo_id = $1 AND outcome = 'dead_lettered'`,
            [line],
          )
        ).rows[0]?.error_message,
      60_000,
      'the unknown product dead-lettered',
    );
    expect(reason).to.contain('SE_SC_REC_UNKNOWN_X');
    expectCalls(await received(0, 'nothing'), []);
  });

  // ----- customer D: a cooperative with a long name and an IBAN failing its check digits; the changes the original
  // does not watch (NW-*), multimedia offers

  let D: Partner;
  let cD1: Contract;
  let cD2: Contract;
  /** the multimedia contract of another supplier, still running */
  let cD3: Contract;
  const cut50 = (s: string) => [...s].slice(0, 50).join('');
  /** The ledger's unsynced_change record of an Odoo row, once the projector has decided it. */
  const unsynced = (odooId: number) =>
    eventually(
      async () =>
        (
          await stateDb().query<{ outcome: string; error_message: string | null }>(
            `SELECT outcome, error_message FROM ledger_intent
              WHERE kind = 'unsynced_change' AND odoo_id = $1 AND outcome IN ('dead_lettered', 'skipped')`,
            [odooId],
          )
        ).rows[0],
      60_000,
      `the unsynced_change report of ${odooId}`,
    );
  /** A record of another addon (multimedia_somconnexio, filmin_somconnexio) with its XML id, created once. */
  async function addonRecord(xml: string, table: string, values: Record<string, unknown>): Promise<number> {
    const [module, name] = xml.split('.');
    const found = await db.query<{ res_id: number }>(
      'SELECT res_id FROM ir_model_data WHERE module = $1 AND name = $2',
      [module, name],
    );
    if (found.rows.length) return found.rows[0].res_id;
    const id = await insert(table, values);
    await db.query(
      `INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES ($1, $2, $3, $4, false)
       ON CONFLICT DO NOTHING`,
      [module, name, table.replace(/_/g, '.'), id],
    );
    return xmlId(xml);
  }

  it('P-desc: a customer whose name is longer than 50 characters → customer and hierarchy description and lastName cut to 50, account owner too; an IBAN failing its check digits is sent as stored (P-iban-check, REFUSE_INVALID_IBAN off); a line with a specific price (float8) is activated as any other (R-line-price)', async () => {
    const s = uniqueSuffix();
    const longName = 'Cooperativa de Serveis i Telecomunicacions del Baix Llobregat SCCL';
    expect([...longName].length).to.be.greaterThan(50);
    D = await newPartner({
      name: longName,
      firstname: null,
      lastname: longName,
      ref: code(),
      vat: `ESF${digits(8)}`,
      lang: 'ca_ES',
      email: `coop.${s}@example.org`,
      phone: `93${digits(7)}`,
      mobile: null,
      street: 'Carrer Major, 1',
      street2: null,
      zip: '08940',
      city: 'Cornellà de Llobregat',
      state: { ...ref.stateB, code: 'B' },
      isCompany: true,
    });
    const valid = spanishIban(rng, '2100');
    const wrongDigits = String((Number(valid.slice(2, 4)) + 1) % 100).padStart(2, '0');
    const iban = `${valid.slice(0, 2)}${wrongDigits}${valid.slice(4)}`;
    const bank = await newBank(D.id, iban);
    begin();
    cD1 = await newContract({
      partner: D,
      kind: 'mobile',
      mandateId: bank.mandateId,
      lines: ['SE_SC_REC_MOBILE_T_150_1024', 'SE_SC_REC_MOBILE_PACK_UNL_1024'],
      specificPrices: { SE_SC_REC_MOBILE_PACK_UNL_1024: 1.5 },
    });
    const priced = await db.query<{ specific_price: number; automatic_price: boolean }>(
      'SELECT specific_price, automatic_price FROM contract_line WHERE id = $1',
      [cD1.lines.get('SE_SC_REC_MOBILE_PACK_UNL_1024')],
    );
    expect(priced.rows[0]).to.deep.equal({ specific_price: 1.5, automatic_price: false });
    const got = await received(6, 'the creation of customer D');
    expectCalls(got.slice(0, 4), [
      ['POST', '/account/customer'],
      ['POST', '/account/accountHierarchy/createCRMAccountHierarchy'],
      ['POST', '/billing/subscription'],
      ['POST', '/account/access'],
    ]);
    expect(brief(got.slice(4))).to.deep.equal([
      'POST /billing/subscription/activateServices 200',
      'POST /billing/subscription/activateServices 200',
    ]);
    expect(body(got[0])).to.deep.include({
      code: D.ref,
      description: cut50(longName),
      name: { firstName: '', lastName: cut50(longName) },
    });
    expect(body(got[1])).to.deep.include({
      code: `${D.ref}_0`,
      description: cut50(longName),
      name: { firstName: '', lastName: cut50(longName) },
    });
    const coordinates = (body(got[1]).methodOfPayment as { bankCoordinates: Record<string, unknown> }[])[0]
      .bankCoordinates;
    expect(coordinates).to.deep.include({ iban, accountOwner: cut50(`False ${longName}`) });
    expect(
      got
        .slice(4)
        .map((e) => (body(e).servicesToActivate as { service: { code: string }[] }).service[0].code)
        .sort(),
    ).to.deep.equal(['SE_SC_REC_MOBILE_PACK_UNL_1024', 'SE_SC_REC_MOBILE_T_150_1024']);
  });

  it('P-offer-filmin: a contract whose supplier is Filmin (filmin_somconnexio.service_supplier_filmin) → OF_SC_TEMPLATE_CT; a multimedia contract of another supplier → OF_SC_TEMPLATE_BA (P-offer-multimedia); no number: no description, no access', async () => {
    const multimedia = await addonRecord(
      'multimedia_somconnexio.service_technology_multimedia',
      'service_technology',
      {
        name: 'Multimedia',
      },
    );
    const filmin = await addonRecord('filmin_somconnexio.service_supplier_filmin', 'service_supplier', {
      name: 'Filmin',
      ref: 'FI',
    });
    const mandateId = (
      await db.query<{ id: number }>('SELECT mandate_id AS id FROM contract_contract WHERE id = $1', [cD1.id])
    ).rows[0].id;
    begin();
    cD2 = await newContract({
      partner: D,
      kind: 'multimedia',
      technologyId: multimedia,
      supplierId: filmin,
      mandateId,
      lines: [],
    });
    const got = await received(1, 'the Filmin subscription');
    expectCalls(got, [['POST', '/billing/subscription']]);
    expect(body(got[0])).to.deep.include({
      code: cD2.code,
      userAccount: `${D.ref}_0`,
      offerTemplate: 'OF_SC_TEMPLATE_CT',
    });
    expect(body(got[0])).not.to.have.property('description');
    begin();
    const other = (cD3 = await newContract({
      partner: D,
      kind: 'multimedia',
      technologyId: multimedia,
      supplierId: ref.supplier.vodafone,
      mandateId,
      lines: [],
    }));
    const got2 = await received(1, 'the other multimedia subscription');
    expectCalls(got2, [['POST', '/billing/subscription']]);
    expect(body(got2[0])).to.deep.include({
      code: other.code,
      userAccount: `${D.ref}_0`,
      offerTemplate: 'OF_SC_TEMPLATE_BA',
    });
  });

  it('NW-line-cancel: is_canceled written on a running service line without date_end (OCA cancel) → nothing sent; reported: dead-lettered, as OpenCell still runs the service', async () => {
    const lineId = cD1.lines.get('SE_SC_REC_MOBILE_PACK_UNL_1024')!;
    begin();
    await write('contract_line', lineId, { is_canceled: true });
    const r = await unsynced(lineId);
    expect(r.outcome).to.equal('dead_lettered');
    expect(r.error_message).to.contain(`was canceled in Odoo without an end date`);
    expect(r.error_message).to.contain(`OpenCell still runs SE_SC_REC_MOBILE_PACK_UNL_1024 on ${cD1.code}`);
    expectCalls(await received(0, 'nothing'), []);
  });

  it('NW-line-product: the product of a running tariff line changed in place → nothing sent (the original has no job for it); reported: dead-lettered naming the old product still running and the new one not active', async () => {
    const lineId = cD1.lines.get('SE_SC_REC_MOBILE_T_150_1024')!;
    const next = products.get('SE_SC_REC_MOBILE_T_0_0')!;
    begin();
    await write('contract_line', lineId, { product_id: next.id, name: next.name });
    const r = await unsynced(lineId);
    expect(r.outcome).to.equal('dead_lettered');
    expect(r.error_message).to.contain(
      'changed product in Odoo (SE_SC_REC_MOBILE_T_150_1024 → SE_SC_REC_MOBILE_T_0_0)',
    );
    expect(r.error_message).to.contain(`OpenCell still runs SE_SC_REC_MOBILE_T_150_1024 on ${cD1.code}`);
    expect(r.error_message).to.contain(`SE_SC_REC_MOBILE_T_0_0 is not active on ${cD1.code}`);
    expectCalls(await received(0, 'nothing'), []);
  });

  it('NW-del: a running contract archived (active false) and another deleted (unlink) → nothing sent, as the original; each reported: dead-lettered naming it, as OpenCell keeps billing its subscription', async () => {
    begin();
    await write('contract_contract', cD1.id, { active: false });
    const archived = await unsynced(cD1.id);
    expect(archived.outcome).to.equal('dead_lettered');
    expect(archived.error_message).to.contain(
      `contract ${cD1.code} was archived in Odoo while its subscription is`,
    );
    await inTransaction(async () => {
      await db.query('DELETE FROM contract_contract_res_partner_rel WHERE contract_contract_id = $1', [
        cD2.id,
      ]);
      await db.query('DELETE FROM contract_contract WHERE id = $1', [cD2.id]);
    });
    const deleted = await unsynced(cD2.id);
    expect(deleted.outcome).to.equal('dead_lettered');
    expect(deleted.error_message).to.contain(
      `contract ${cD2.code} was deleted in Odoo while its subscription is`,
    );
    expectCalls(await received(0, 'nothing'), []);
  });

  it('NW-partner: a partner created (with its address, email and bank account) → nothing sent, no intent; NW-product: a product created → nothing sent', async () => {
    begin();
    const p = await newPartner({
      name: 'Pere Vila Roca',
      firstname: 'Pere',
      lastname: 'Vila Roca',
      ref: code(),
      vat: `ES${digits(8)}Z`,
      lang: 'ca_ES',
      email: `pere.${uniqueSuffix()}@example.org`,
      phone: null,
      mobile: `6${digits(8)}`,
      street: 'Carrer Nou, 3',
      street2: null,
      zip: '08001',
      city: 'Barcelona',
      state: { ...ref.stateB, code: 'B' },
    });
    await newBank(p.id);
    const productCode = `SE_SC_REC_NEW_${digits(6)}`;
    const tmpl = await insert('product_template', {
      name: JSON.stringify({ en_US: 'New product', ca_ES: 'Producte nou' }),
      detailed_type: 'service',
      type: 'service',
      categ_id: await xmlId('somconnexio.mobile_additional_service'),
      list_price: 1.0,
      uom_id: ref.uom,
      uom_po_id: ref.uom,
      default_code: productCode,
      sale_ok: true,
      purchase_ok: false,
      active: true,
    });
    const product = await insert('product_product', {
      default_code: productCode,
      active: true,
      product_tmpl_id: tmpl,
    });
    expectCalls(await received(0, 'nothing', 4000), []);
    const partnerIntents = await stateDb().query(
      `SELECT kind FROM ledger_intent WHERE odoo_model = 'res.partner' AND odoo_id = $1`,
      [p.id],
    );
    expect(partnerIntents.rows, 'no intent for the partner').to.deep.equal([]);
    // not a product of the catalog other tests use
    await write('product_product', product, { active: false });
    await write('product_template', tmpl, { active: false });
  });

  it('K-client: every call goes to {base}/api/rest with Basic auth and a JSON body (the sandbox answers 401 without it and refuses a body that is not JSON); an HTTP 200 answer with status FAIL and an errorCode is an error, as pyopencell: the one-shot is dead-lettered with OpenCell’s message, never recorded as applied', async () => {
    const lineId = await newLine(cD3.id, 'CH_SC_OSO_ROUTER_RETURN');
    begin();
    const fault = t.sandbox.faults.add({
      kind: 'fail200',
      operation: 'applyOneShotChargeInstance',
      errorCode: 'INVALID_PARAMETER',
      message: 'One shot charge refused by the parity test',
      count: 1,
    });
    try {
      const reason = await eventually(
        async () =>
          (
            await stateDb().query<{ error_message: string }>(
              `SELECT error_message FROM ledger_intent WHERE kind = 'apply_one_shot' AND odoo_id = $1 AND outcome = 'dead_lettered'`,
              [lineId],
            )
          ).rows[0]?.error_message,
        60_000,
        'the one-shot refused with HTTP 200 + FAIL dead-lettered',
      );
      expect(reason).to.contain('One shot charge refused by the parity test');
      const got = await received(1, 'the refused one-shot');
      expect(got.map((e) => [e.method, e.path, e.status, e.errorCode, e.fault !== undefined])).to.deep.equal([
        ['POST', '/billing/subscription/applyOneShotChargeInstance', 200, 'INVALID_PARAMETER', true],
      ]);
      expect(body(got[0])).to.deep.equal({
        subscription: cD3.code,
        oneShotCharge: 'CH_SC_OSO_ROUTER_RETURN',
      });
    } finally {
      t.sandbox.faults.remove(fault.id);
    }
    // Basic auth with the configured user and password on every call the pipeline made during the whole run
    const basic = `Basic ${Buffer.from(`${t.sandbox.credentials.user}:${OC_PASSWORD}`).toString('base64')}`;
    expect(t.sandbox.credentials.password).to.equal(OC_PASSWORD);
    const calls = t.sandbox.journal.entries().filter((e) => !e.path.startsWith('/__sandbox'));
    // precondition: the run's calls, of several operations (creations, reads, the refused one-shot)
    expect(new Set(calls.map((e) => `${e.method} ${e.path}`)).size, 'operations called').to.be.at.least(5);
    expect(
      calls.filter((e) => e.authorization !== basic).map((e) => `${e.method} ${e.path} ${e.authorization}`),
      'calls without the Basic authorization header',
    ).to.deep.equal([]);
    // … and the secret in no log line, also not in the ones about the refused call (the logger heard them)
    expect(
      logs.lines.some((l) => JSON.stringify(l).includes('One shot charge refused by the parity test')),
      'the refusal was logged',
    ).to.equal(true);
    const secrets = [OC_PASSWORD, basic.slice('Basic '.length)];
    expect(
      logs.lines.filter((l) => secrets.some((x) => JSON.stringify(l).includes(x))),
      'log lines holding the OpenCell password',
    ).to.deep.equal([]);
  });

  it('K-config, P-crm-category: a seller and a customer category configured other than the defaults (OPENCELL_SELLER, OPENCELL_CUSTOMER_CATEGORY) → the customer is created with them; the hierarchy keeps CLIENT, hard-coded as in the original; with OPENCELL_HIERARCHY_USES_CUSTOMER_CATEGORY the hierarchy gets the configured category too', async () => {
    const catalog = defaultCatalog();
    catalog.sellers.push({ code: 'SCB', description: 'Som Connexió B' });
    catalog.customerCategories.push({ code: 'PARTICULAR', description: 'Particular' });
    for (const o of catalog.offerTemplates) if (o.sellers?.length) o.sellers.push('SCB');
    const configured = { OPENCELL_SELLER: 'SCB', OPENCELL_CUSTOMER_CATEGORY: 'PARTICULAR' };
    // Each pipeline has a ledger of its own: intent ids are deterministic, so pipelines sharing a ledger would take
    // each other's finished intents for their own (and the run's pipeline projects the same contract).
    const schemas = [0, 1].map((i) => `parity_config_${uniqueSuffix()}_${i}`);
    const pipelines: Array<{ p: TestPipeline; hierarchyCategory: string }> = [];
    try {
      for (const schema of schemas) await createStateSchema(schema);
      pipelines.push({
        p: await startTestPipeline(
          { ...configured, STATE_DATABASE_URL: stateUrlFor(schemas[0]!) },
          {},
          { catalog },
        ),
        hierarchyCategory: 'CLIENT',
      });
      pipelines.push({
        p: await startTestPipeline(
          {
            ...configured,
            OPENCELL_HIERARCHY_USES_CUSTOMER_CATEGORY: 'true',
            STATE_DATABASE_URL: stateUrlFor(schemas[1]!),
          },
          {},
          { catalog },
        ),
        hierarchyCategory: 'PARTICULAR',
      });
      for (const { p } of pipelines)
        expect(p.config.opencell).to.include({ seller: 'SCB', customerCategory: 'PARTICULAR' });
      expect(pipelines.map(({ p }) => p.config.opencell.hierarchyUsesCustomerCategory)).to.deep.equal([
        false,
        true,
      ]);
      const s = uniqueSuffix();
      const P = await newPartner({
        name: 'Pau Vidal Roca',
        firstname: 'Pau',
        lastname: 'Vidal Roca',
        ref: code(),
        vat: `ES${digits(8)}Z`,
        lang: 'ca_ES',
        email: `pau.${s}@example.org`,
        phone: null,
        mobile: `6${digits(8)}`,
        street: 'Carrer de Mallorca, 40',
        street2: null,
        zip: '08029',
        city: 'Barcelona',
        state: { ...ref.stateB, code: 'B' },
      });
      const bank = await newBank(P.id);
      const c = await newContract({
        partner: P,
        kind: 'mobile',
        mandateId: bank.mandateId,
        lines: ['SE_SC_REC_MOBILE_T_UNL_20480'],
      });
      for (const { p, hierarchyCategory } of pipelines) {
        const mine = () =>
          p.sandbox.journal
            .entries()
            .filter(isStateChanging)
            .filter((e) => e.status === 200);
        await eventually(
          async () => (mine().some((e) => e.path.endsWith('/activateServices')) ? true : undefined),
          120_000,
          'the contract created in OpenCell with the configured codes',
        ).catch((e: Error) => {
          const seen = p.sandbox.journal
            .entries()
            .map((x) => `${x.method} ${x.path} ${x.status} ${x.errorCode ?? ''}`);
          const consumer = p.events.map(({ stage, e: ev }) => `${stage} ${ev.type}`).slice(-20);
          throw new Error(
            `${e.message}; OpenCell saw ${JSON.stringify(seen)}; consumer events ${JSON.stringify(consumer)}`,
          );
        });
        expect(brief(mine())).to.deep.equal([
          'POST /account/customer 200',
          'POST /account/accountHierarchy/createCRMAccountHierarchy 200',
          'POST /billing/subscription 200',
          'POST /account/access 200',
          'POST /billing/subscription/activateServices 200',
        ]);
        const [customer, hierarchy] = mine();
        expect(body(customer!)).to.deep.include({
          code: P.ref,
          seller: 'SCB',
          customerCategory: 'PARTICULAR',
        });
        expect(body(hierarchy!)).to.deep.include({
          code: `${P.ref}_0`,
          customerCategory: hierarchyCategory,
        });
        expect(body(mine()[2]!)).to.deep.include({ code: c.code, userAccount: `${P.ref}_0` });
      }
    } finally {
      for (const { p } of pipelines) await p.stop();
      for (const schema of schemas) await stateDb().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});
