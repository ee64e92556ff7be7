import { expect } from 'chai';
import type { Pool } from 'pg';
import { testPool } from '../support/pg';
import {
  insertBankAccountAndMandate,
  insertContract,
  insertContractLine,
  insertPartner,
  productIdByCode,
  terminateContract,
} from '../../testkit/demo-seed';
import { decodeChange, type RowChange } from '../../src/domain/capture/envelope';
import type { Row, TableName } from '../../src/domain/capture/tables';
import { changeRecord, sampleRow } from '../../testkit/capture';
import { optionalOdooColumns } from '../../src/adapters/postgres/odoo-schema';
import { OdooViews } from '../../src/adapters/postgres/odoo-views';
import { loadConfig } from '../../src/core/config';
import { productKind } from '../../src/domain/projection/products';
import { detectIntents } from '../../src/domain/projection/triggers';
import { changedWatchedFields } from '../../src/domain/projection/filter';
import { readTriggerContext } from '../../src/flows/projection/router';
import { ODOO_DATABASE_URL } from './support/stack';

/** A change as the pipeline decodes it (capture's decodeChange of a Debezium-encoded record). */
function decoded<T extends TableName>(
  table: T,
  op: 'c' | 'u',
  before: Partial<Row<T>> | null,
  after: Partial<Row<T>>,
): RowChange {
  const rec = changeRecord(table, {
    op,
    before: before === null ? null : { ...sampleRow(table), ...before },
    after: { ...sampleRow(table), ...after },
  });
  const ch = decodeChange(rec.topic, rec.partition, rec.offset, rec.key, rec.value);
  if (ch.kind !== 'row') throw new Error('expected a row change');
  return ch;
}

/**
 * OdooViews against the real Odoo database (schemas/odoo + reference data). Every test inserts its own partners
 * and contracts with unique values through the demo-seed helpers; shared reference data is only read.
 */
/** One product through the router's read of a batch's products (OdooViews.products). */
async function productOf(views: OdooViews, id: number) {
  return (await views.products([id])).get(id) ?? null;
}

/** The trigger context the router reads for these changes (src/flows/projection/router.ts). */
function triggerContext(
  views: OdooViews,
  changes: readonly RowChange[],
  opts: { syncPartnerIdentity: boolean },
) {
  return readTriggerContext(
    changes.map((change) => ({ change, fields: changedWatchedFields(change) })),
    views,
    opts,
  );
}

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

describe('OdooViews: projection views loaded from Odoo’s PostgreSQL', function () {
  this.timeout(60_000);
  let pool: Pool;
  let views: OdooViews;
  let queries = 0;

  before(() => {
    pool = testPool({ connectionString: ODOO_DATABASE_URL, max: 4 });
    const counting = {
      query: ((...args: Parameters<Pool['query']>) => {
        queries += 1;
        return (pool.query as (...a: unknown[]) => unknown)(...args);
      }) as Pool['query'],
    };
    views = new OdooViews(counting);
    // The optional Odoo columns are asked once per handle and cached (odoo-schema.ts): asked here, so the query
    // counts below are the views' own.
    return optionalOdooColumns(counting);
  });
  after(async () => {
    await pool.end();
  });
  beforeEach(() => {
    queries = 0;
  });

  describe('partner', () => {
    it('loads a partner with its state and country, the quoted block flag, and null for an unknown id', async () => {
      const s = unique();
      const p = await insertPartner(pool, {
        firstname: 'Núria',
        lastname: `Ferrer ${s}`,
        email: `nuria.${s}@example.org`,
        city: 'Santa Cruz de Tenerife',
        state: 'TF',
        lang: 'es_ES',
        overrides: { block_contract_creation_in_OC: true, phone: '', street2: null },
      });
      const v = await views.partner(p.id);
      expect(queries).to.equal(1);
      expect(v).to.include({
        id: p.id,
        ref: p.ref,
        name: `Núria Ferrer ${s}`,
        firstname: 'Núria',
        lastname: `Ferrer ${s}`,
        email: `nuria.${s}@example.org`,
        isCompany: false,
        stateCode: 'TF',
        countryCode: 'ES',
        lang: 'es_ES',
        blockContractCreationInOC: true,
        parentId: null,
        street2: null,
        phone: null, // Odoo's False: an empty Char is null
      });
      expect(v?.stateName).to.be.a('string').and.not.equal('');
      expect(v?.vat).to.match(/^ES/);
      expect(await views.partner(-1)).to.equal(null);
    });
  });

  describe('contract', () => {
    it('loads a fiber contract with partners, ordered emails, mandate and bank, XML ids, ISP info and lines in one query', async () => {
      const s = unique();
      const holder = await insertPartner(pool, { firstname: 'Jordi', lastname: `Vila ${s}`, lang: 'ca_ES' });
      const invoice = await insertPartner(pool, {
        parentId: holder.id,
        type: 'invoice',
        name: `Factures ${s}`,
        email: `factures.${s}@example.org`,
      });
      const service = await insertPartner(pool, {
        parentId: holder.id,
        type: 'service',
        name: `Servei ${s}`,
        overrides: { email: null },
      });
      // Odoo orders email_ids by res.partner's _order: display_name, then id DESC.
      const zeta = await insertPartner(pool, {
        parentId: holder.id,
        type: 'contract-email',
        name: `Zeta ${s}`,
        email: `zeta.${s}@example.org`,
      });
      const alfa1 = await insertPartner(pool, {
        parentId: holder.id,
        type: 'contract-email',
        name: `Alfa ${s}`,
        email: `alfa1.${s}@example.org`,
      });
      const alfa2 = await insertPartner(pool, {
        parentId: holder.id,
        type: 'contract-email',
        name: `Alfa ${s}`,
        email: `alfa2.${s}@example.org`,
      });
      const bank = await insertBankAccountAndMandate(pool, holder.id, {
        iban: 'ES91 2100 0418 4502 0005 1332',
        // the stored compute not written yet: the view sanitizes acc_number itself
        overrides: { sanitized_acc_number: null },
      });
      const c = await insertContract(pool, {
        partnerId: holder.id,
        kind: 'fiber',
        supplier: 'orange',
        invoicePartnerId: invoice.id,
        servicePartnerId: service.id,
        emailPartnerIds: [zeta.id, alfa1.id, alfa2.id],
        mandateId: bank.mandateId,
        dateStart: '2024-03-01',
        lines: [
          'SE_SC_REC_BA_F_600',
          'SE_SC_REC_BA_LANDLINE_UNL',
          'CH_SC_OSO_ROUTER_RETURN',
          'SC_OTHER_DONATION',
          { productCode: 'SE_SC_REC_BA_F_100', dateStart: '2024-01-15', dateEnd: '2024-02-29' },
        ],
      });
      // a section line without product is not a line for OpenCell
      await pool.query(
        `INSERT INTO contract_line (contract_id, product_id, name, date_start, display_type) VALUES ($1, NULL, 'Section', '2024-03-01', 'line_section')`,
        [c.id],
      );

      queries = 0;
      const v = await views.contract(c.id);
      expect(queries).to.equal(1);
      expect(v).to.not.equal(null);
      const contract = v!;
      expect(contract).to.include({
        id: c.id,
        code: c.code,
        serviceTechnology: 'somconnexio.service_technology_fiber',
        serviceSupplier: 'somconnexio.service_supplier_orange',
        phoneNumber: c.phoneNumber,
        dateStart: '2024-01-15',
        dateEnd: null,
        isTerminated: false,
        terminateDate: null,
      });
      expect(contract.partner).to.include({ id: holder.id, ref: holder.ref, lang: 'ca_ES' });
      expect(contract.invoicePartner).to.include({ id: invoice.id, email: `factures.${s}@example.org` });
      expect(contract.servicePartner).to.include({ id: service.id, email: null });
      // somconnexio's `service` address is the place served: its own street, not the customer's (demo-seed.ts).
      const served = (
        await pool.query<{ type: string; street: string; zip: string }>(
          'SELECT type, street, zip FROM res_partner WHERE id = $1',
          [service.id],
        )
      ).rows[0];
      expect(served.type).to.equal('service');
      expect(contract.servicePartner).to.include({ street: served.street, zip: served.zip });
      expect(contract.emails).to.deep.equal([
        { id: alfa2.id, email: `alfa2.${s}@example.org` },
        { id: alfa1.id, email: `alfa1.${s}@example.org` },
        { id: zeta.id, email: `zeta.${s}@example.org` },
      ]);
      expect(contract.mandate).to.deep.include({
        id: bank.mandateId,
        iban: 'ES9121000418450200051332',
        bic: 'CAIXESBBXXX',
        bankAccountId: bank.bankAccountId,
        reference: `SC${String(bank.mandateId).padStart(8, '0')}`,
        signatureDate: '2024-01-15',
      });
      expect(contract.mandate?.bankName).to.be.a('string').and.not.equal('');
      expect(contract.mandate?.bankAccountCreateDate).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
      expect(contract.ispInfo).to.deep.equal({
        table: 'orange_fiber_service_contract_info',
        id: c.infoId,
        phoneNumber: c.phoneNumber,
      });
      expect(contract.lines.map((l) => [l.productCode, l.kind, l.dateStart, l.dateEnd])).to.deep.equal([
        ['SE_SC_REC_BA_F_600', 'service', '2024-03-01', null],
        ['SE_SC_REC_BA_LANDLINE_UNL', 'service', '2024-03-01', null],
        ['CH_SC_OSO_ROUTER_RETURN', 'one_shot', '2024-03-01', null],
        ['SC_OTHER_DONATION', 'none', '2024-03-01', null],
        ['SE_SC_REC_BA_F_100', 'service', '2024-01-15', '2024-02-29'],
      ]);
      expect(contract.lines.map((l) => l.id)).to.deep.equal(c.lineIds);
      expect(contract.lines[0]).to.include({
        contractId: c.id,
        productId: await productIdByCode(pool, 'SE_SC_REC_BA_F_600'),
        isCanceled: false,
      });
      expect(await views.contract(-1)).to.equal(null);
    });

    it('mobile and 4G contracts: the odd info columns (mobile_contract_service_info_id, "router_4G_…") and a terminated contract', async () => {
      const holder = await insertPartner(pool, {});
      const mobile = await insertContract(pool, { partnerId: holder.id, kind: 'mobile' });
      const router = await insertContract(pool, { partnerId: holder.id, kind: '4G' });
      await terminateContract(pool, router.id, { date: '2024-06-30' });

      const m = await views.contract(mobile.id);
      expect(m?.ispInfo).to.deep.equal({
        table: 'mobile_service_contract_info',
        id: mobile.infoId,
        phoneNumber: mobile.phoneNumber,
      });
      expect(m?.servicePartner).to.equal(null);
      expect(m?.mandate).to.equal(null);
      expect(m?.emails).to.deep.equal([{ id: holder.id, email: holder.email }]);
      expect(m?.serviceTechnology).to.equal('somconnexio.service_technology_mobile');

      // A 4G router's phone number is Odoo's "-" placeholder: read as it is; whether it is a number is the
      // domain's setting (odooPhone, PHONE_PLACEHOLDER_IS_NO_NUMBER).
      expect(router.phoneNumber).to.equal('-');
      const r = await views.contract(router.id);
      expect(r?.ispInfo).to.deep.equal({
        table: 'router_4g_service_contract_info',
        id: router.infoId,
        phoneNumber: '-',
      });
      expect(r).to.include({
        phoneNumber: '-',
        serviceTechnology: 'somconnexio.service_technology_4G',
        isTerminated: true,
        terminateDate: '2024-06-30',
        dateEnd: '2024-06-30',
      });
      expect(r?.lines.map((l) => l.dateEnd)).to.deep.equal(['2024-06-30']);

      expect(await views.contractIdsOfInfo('mobile_service_contract_info', mobile.infoId)).to.deep.equal([
        mobile.id,
      ]);
      expect(await views.contractIdsOfInfo('router_4g_service_contract_info', router.infoId)).to.deep.equal([
        router.id,
      ]);
      expect(
        await views.contractIdsOfInfo('vodafone_fiber_service_contract_info', mobile.infoId),
      ).to.not.include(mobile.id);
    });
  });

  describe('lookups', () => {
    it("the router's reads leave as one query each: a batch's partners with contracts, and holders asked at once (partnerIdOfContract; issue 17 replay)", async () => {
      const holder = await insertPartner(pool, {});
      const lonely = await insertPartner(pool, {});
      const c = await insertContract(pool, { partnerId: holder.id, kind: 'mobile' });
      queries = 0;
      const asked = [holder.id, lonely.id, -7, holder.id];
      const has = await views.partnersWithContracts(asked);
      expect(asked.map((id) => has.has(id))).to.deep.equal([true, false, false, true]);
      expect(queries, 'four ids, one query').to.equal(1);
      queries = 0;
      const holders = await Promise.all([c.id, -3, c.id].map((id) => views.partnerIdOfContract(id)));
      expect(holders).to.deep.equal([holder.id, null, holder.id]);
      expect(queries, 'three asks, one query').to.equal(1);
    });

    it("the projector's partner reads asked at once leave as one query (update_customer: one per intent; issue 17)", async () => {
      const a = await insertPartner(pool, {});
      const b = await insertPartner(pool, {});
      await views.partner(a.id); // the optional columns, asked once
      queries = 0;
      const read = await Promise.all([a.id, -9, b.id, a.id].map((id) => views.partner(id)));
      expect(read.map((v) => v?.id ?? null)).to.deep.equal([a.id, null, b.id, a.id]);
      expect(queries, 'four asks, one query').to.equal(1);
      expect(read[0]).to.deep.equal(await views.partner(a.id));
    });

    it('contractsOfPartner (archived left out), contracts, contractIdOfLine, partnerIdOfContract, line, partnersWithContracts', async () => {
      const holder = await insertPartner(pool, {});
      const lonely = await insertPartner(pool, {});
      const a = await insertContract(pool, { partnerId: holder.id, kind: 'mobile' });
      const b = await insertContract(pool, { partnerId: holder.id, kind: 'adsl' });
      const archived = await insertContract(pool, {
        partnerId: holder.id,
        kind: 'mobile',
        overrides: { active: false },
      });

      queries = 0;
      const mine = await views.contractsOfPartner(holder.id);
      expect(queries).to.equal(1);
      expect(mine.map((c) => c.code)).to.deep.equal([a.code, b.code]);
      expect(mine[1].ispInfo?.table).to.equal('adsl_service_contract_info');
      expect(
        (await views.contractsOfPartner(holder.id, { includeArchived: true })).map((c) => c.id),
      ).to.deep.equal([a.id, b.id, archived.id]);
      expect(await views.contractsOfPartner(lonely.id)).to.deep.equal([]);
      expect((await views.contracts([b.id, -5, a.id])).map((c) => c.id)).to.deep.equal([b.id, a.id]);

      expect(await views.contractIdOfLine(a.lineIds[0])).to.equal(a.id);
      expect(await views.contractIdOfLine(-1)).to.equal(null);
      expect(await views.partnerIdOfContract(b.id)).to.equal(holder.id);
      expect(await views.partnerIdOfContract(-1)).to.equal(null);

      const extra = await insertContractLine(pool, a.id, {
        productCode: 'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB',
        dateStart: '2024-05-02',
      });
      expect(await views.line(extra)).to.deep.equal({
        id: extra,
        contractId: a.id,
        productId: await productIdByCode(pool, 'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB'),
        productCode: 'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB',
        kind: 'one_shot',
        name: (await views.line(extra))?.name,
        dateStart: '2024-05-02',
        dateEnd: null,
        isCanceled: false,
      });
      expect(await views.line(-1)).to.equal(null);

      expect([...(await views.partnersWithContracts([holder.id, lonely.id]))]).to.deep.equal([holder.id]);
    });

    it('products with category XML ids and ancestors (TriggerContext.product) and the technology categories', async () => {
      const fiber = await productIdByCode(pool, 'SE_SC_REC_BA_F_600');
      const oneShot = await productIdByCode(pool, 'CH_SC_OSO_SIM');
      const p = await productOf(views, fiber);
      expect(p).to.deep.include({
        id: fiber,
        defaultCode: 'SE_SC_REC_BA_F_600',
        categoryXmlId: 'somconnexio.broadband_fiber_service',
      });
      // The parent is broadband_service whether the database predates the Som Connexió tree (broadband_service under
      // product_category_all) or follows it (a root): 80-reference-data.sql.
      expect(p?.categoryAncestorXmlIds[0]).to.equal('somconnexio.broadband_service');
      expect(p?.name).to.be.a('string').and.not.equal('');
      expect(await productOf(views, -1)).to.equal(null);

      queries = 0;
      const batch = await views.products([fiber, oneShot, fiber, -1]);
      expect(queries).to.equal(1);
      expect([...batch.keys()].sort((x, y) => x - y)).to.deep.equal([fiber, oneShot].sort((x, y) => x - y));
      expect(batch.get(oneShot)?.categoryXmlId).to.equal('somconnexio.mobile_oneshot_service');

      const cats = await views.technologyServiceCategories();
      expect(cats).to.include.members([
        'somconnexio.mobile_service',
        'somconnexio.broadband_fiber_service',
        'somconnexio.broadband_adsl_service',
        'somconnexio.broadband_4G_service',
      ]);
      expect(productKind(p!, cats)).to.equal('service');
      expect(productKind(batch.get(oneShot)!, cats)).to.equal('one_shot');
    });

    it('translated product names are read in ODOO_LANG (default ca_ES, the original job’s context language), then en_US', async () => {
      const u = unique();
      const uom = (await pool.query<{ id: number }>('SELECT id FROM uom_uom ORDER BY id LIMIT 1')).rows[0].id;
      const tmpl = (
        await pool.query<{ id: number }>(
          `INSERT INTO product_template (name, categ_id, uom_id, uom_po_id) VALUES ($1, 1, $2, $2) RETURNING id`,
          [JSON.stringify({ en_US: `Fiber ${u}`, ca_ES: `Fibra ${u}`, es_ES: `Fibra es ${u}` }), uom],
        )
      ).rows[0].id;
      const id = (
        await pool.query<{ id: number }>(
          'INSERT INTO product_product (product_tmpl_id, default_code) VALUES ($1, $2) RETURNING id',
          [tmpl, `SE_LANG_${u}`],
        )
      ).rows[0].id;
      expect(loadConfig({ OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y' }).odoo.lang).to.equal('ca_ES');
      expect((await productOf(views, id))?.name, 'default ca_ES').to.equal(`Fibra ${u}`);
      expect((await productOf(new OdooViews(pool, { lang: 'es_ES' }), id))?.name).to.equal(`Fibra es ${u}`);
      expect((await productOf(new OdooViews(pool, { lang: 'fr_FR' }), id))?.name, 'fallback').to.equal(
        `Fiber ${u}`,
      );
      expect((await productOf(new OdooViews(pool, { lang: 'en_US' }), id))?.name).to.equal(`Fiber ${u}`);
    });

    it('category ancestors keep their place without an XML id: only a direct child of multimedia_service is a service (issue 14 §2)', async () => {
      const u = unique();
      const uom = (await pool.query<{ id: number }>('SELECT id FROM uom_uom ORDER BY id LIMIT 1')).rows[0].id;
      const category = async (name: string, parent: number) =>
        (
          await pool.query<{ id: number }>(
            'INSERT INTO product_category (name, complete_name, parent_id) VALUES ($1, $1, $2) RETURNING id',
            [`${name} ${u}`, parent],
          )
        ).rows[0].id;
      const product = async (categ: number) => {
        const tmpl = (
          await pool.query<{ id: number }>(
            `INSERT INTO product_template (name, categ_id, uom_id, uom_po_id) VALUES ($1, $2, $3, $3) RETURNING id`,
            [JSON.stringify({ en_US: `P ${u}` }), categ, uom],
          )
        ).rows[0].id;
        return (
          await pool.query<{ id: number }>(
            'INSERT INTO product_product (product_tmpl_id, default_code) VALUES ($1, $2) RETURNING id',
            [tmpl, `SE_${u}_${categ}`],
          )
        ).rows[0].id;
      };
      // 20 = multimedia_somconnexio.multimedia_service (reference data); child and grandchild have no XML id.
      const child = await category('Media child', 20);
      const grandchild = await category('Media grandchild', child);
      const direct = await productOf(views, await product(child));
      const deeper = await productOf(views, await product(grandchild));
      expect(direct?.categoryAncestorXmlIds).to.deep.equal([
        'multimedia_somconnexio.multimedia_service',
        'product.product_category_all',
      ]);
      expect(deeper?.categoryAncestorXmlIds).to.deep.equal([
        '',
        'multimedia_somconnexio.multimedia_service',
        'product.product_category_all',
      ]);
      expect(productKind(direct!)).to.equal('service');
      expect(productKind(deeper!)).to.equal('none');
    });

    it('on the Som Connexió category tree (somconnexio/data/product_categories.xml) every catalog product keeps its kind; a new child of mobile_service is none (issue 14 §1)', async () => {
      // The tree is set inside a transaction that is rolled back: the shared database keeps its rows.
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const id = async (xml: string) => {
          const [module, name] = xml.split('.');
          const r = await client.query<{ res_id: number }>(
            `SELECT res_id FROM ir_model_data WHERE model = 'product.category' AND module = $1 AND name = $2`,
            [module, name],
          );
          return r.rows[0].res_id;
        };
        const mobile = await id('somconnexio.mobile_service');
        const broadband = await id('somconnexio.broadband_service');
        await client.query('UPDATE product_category SET parent_id = NULL WHERE id = ANY($1)', [
          [mobile, broadband],
        ]);
        for (const [child, parent] of [
          ['somconnexio.mobile_additional_service', mobile],
          ['somconnexio.mobile_oneshot_service', mobile],
          ['somconnexio.broadband_additional_service', broadband],
          ['somconnexio.broadband_oneshot_service', broadband],
          ['somconnexio.broadband_oneshot_adsl_service', broadband],
          ['somconnexio.broadband_fiber_service', broadband],
          ['somconnexio.broadband_adsl_service', broadband],
          ['somconnexio.broadband_4G_service', broadband],
        ] as const)
          await client.query('UPDATE product_category SET parent_id = $2 WHERE id = $1', [
            await id(child),
            parent,
          ]);
        const uom = (await client.query<{ id: number }>('SELECT id FROM uom_uom ORDER BY id LIMIT 1')).rows[0]
          .id;
        const promo = (
          await client.query<{ id: number }>(
            `INSERT INTO product_category (name, complete_name, parent_id) VALUES ('Promo', 'Mobile Service / Promo', $1)
             RETURNING id`,
            [mobile],
          )
        ).rows[0].id;
        const tmpl = (
          await client.query<{ id: number }>(
            `INSERT INTO product_template (name, categ_id, uom_id, uom_po_id) VALUES ($1, $2, $3, $3) RETURNING id`,
            [JSON.stringify({ en_US: 'Promo', ca_ES: 'Promoció' }), promo, uom],
          )
        ).rows[0].id;
        const promoProduct = (
          await client.query<{ id: number }>(
            `INSERT INTO product_product (product_tmpl_id, default_code) VALUES ($1, 'SE_PROMO') RETURNING id`,
            [tmpl],
          )
        ).rows[0].id;
        const onTree = new OdooViews(client);
        const cats = await onTree.technologyServiceCategories();
        const kindOf = async (code: string) => {
          const p = await productOf(onTree, await productIdByCode(client, code));
          return [p?.categoryAncestorXmlIds, productKind(p!, cats)];
        };
        expect(await kindOf('SE_SC_REC_MOBILE_T_0_0')).to.deep.equal([[], 'service']);
        expect(await kindOf('SE_SC_REC_MOBILE_PACK_UNL_1024')).to.deep.equal([
          ['somconnexio.mobile_service'],
          'service',
        ]);
        expect(await kindOf('CH_SC_OSO_SIM')).to.deep.equal([['somconnexio.mobile_service'], 'one_shot']);
        expect(await kindOf('CH_SC_OSO_ROUTER_RETURN')).to.deep.equal([
          ['somconnexio.broadband_service'],
          'one_shot',
        ]);
        expect(await kindOf('SE_SC_REC_BA_F_600')).to.deep.equal([
          ['somconnexio.broadband_service'],
          'service',
        ]);
        expect(await kindOf('SE_SC_REC_BA_LANDLINE_UNL')).to.deep.equal([
          ['somconnexio.broadband_service'],
          'service',
        ]);
        const promoView = await productOf(onTree, promoProduct);
        expect(promoView?.categoryAncestorXmlIds).to.deep.equal(['somconnexio.mobile_service']);
        expect(productKind(promoView!, cats)).to.equal('none');
        // Odoo 16 stores product_template.name as jsonb translations: read in ODOO_LANG (default ca_ES).
        expect(promoView?.name).to.equal('Promoció');
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    });

    it('contractsInCreation: a contract unwritten since the transaction that created it, not one written since (W1/W2, issue 14 §2)', async () => {
      const holder = await insertPartner(pool, {});
      const fresh = await insertContract(pool, { partnerId: holder.id, kind: 'mobile' });
      const written = await insertContract(pool, { partnerId: holder.id, kind: 'mobile' });
      // A later write() of the contract (the IBAN or email wizard) moves write_date.
      await pool.query(
        `UPDATE contract_contract SET write_date = (now() AT TIME ZONE 'UTC') + interval '1 second' WHERE id = $1`,
        [written.id],
      );
      expect([...(await views.contractsInCreation([fresh.id, written.id, -1]))]).to.deep.equal([fresh.id]);
      expect(await views.contractsInCreation([])).to.deep.equal(new Set());
      const ctx = await triggerContext(
        views,
        [
          decoded('contract_contract_res_partner_rel', 'c', null, {
            contract_contract_id: fresh.id,
            res_partner_id: holder.id,
          }),
        ],
        { syncPartnerIdentity: false },
      );
      expect(ctx.contractInCreation?.(fresh.id)).to.equal(true);
      expect(ctx.contractInCreation?.(written.id)).to.equal(false);
    });

    it("the router's trigger context: one query per kind of read for a batch (products, technology categories, partners with contracts) for detectIntents", async () => {
      const holder = await insertPartner(pool, {});
      const lonely = await insertPartner(pool, {});
      const c = await insertContract(pool, {
        partnerId: holder.id,
        kind: 'fiber',
        lines: ['SE_SC_REC_BA_F_600', 'CH_SC_OSO_ROUTER_RETURN'],
      });
      const fiber = await productIdByCode(pool, 'SE_SC_REC_BA_F_600');
      const router = await productIdByCode(pool, 'CH_SC_OSO_ROUTER_RETURN');
      const line = (id: number, productId: number) =>
        decoded('contract_line', 'c', null, {
          id,
          contract_id: c.id,
          product_id: productId,
          date_start: '2024-03-01',
          date_end: null,
          is_canceled: false,
        });
      const moved = (id: number) =>
        decoded('res_partner', 'u', { id, street: 'C/ Vella 1' }, { id, street: 'C/ Nova 2' });
      const changes = [
        line(c.lineIds[0], fiber),
        line(c.lineIds[1], router),
        moved(holder.id),
        moved(lonely.id),
      ];

      queries = 0;
      const ctx = await triggerContext(views, changes, { syncPartnerIdentity: false });
      expect(queries).to.equal(3);
      expect(changes.map((ch) => detectIntents(ch, ctx).map((i) => i.kind))).to.deep.equal([
        ['activate_service'],
        ['apply_one_shot'],
        ['update_customer'],
        [],
      ]);
    });
  });
});
