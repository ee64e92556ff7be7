import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  BANK_CODES,
  CATALOG,
  cif,
  dni,
  formatIban,
  isValidIban,
  landlineNumber,
  mobileNumber,
  seededRng,
  spanishIban,
} from '../../testkit/demo-seed';

const REFERENCE_SQL = readFileSync(
  path.resolve(__dirname, '..', '..', 'schemas', 'odoo', '80-reference-data.sql'),
  'utf8',
);

describe('capture: demo seed building blocks', () => {
  it('the seeded PRNG is deterministic and uniform enough', () => {
    const a = seededRng(42);
    const b = seededRng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).to.deep.equal(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).to.equal(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).to.be.within(0.45, 0.55);
    expect(seededRng(43)()).to.not.equal(seededRng(42)());
  });

  it('generates valid Spanish IBANs (mod 97 = 1, CCC control digits) for every bank', () => {
    const rng = seededRng(1);
    for (const code of Object.values(BANK_CODES)) {
      for (let i = 0; i < 50; i++) {
        const iban = spanishIban(rng, code);
        expect(iban).to.match(/^ES\d{22}$/);
        expect(iban.slice(4, 8)).to.equal(code);
        expect(isValidIban(iban), iban).to.equal(true);
        expect(isValidIban(formatIban(iban))).to.equal(true);
      }
    }
    // known-good and known-bad examples
    expect(isValidIban('ES91 2100 0418 4502 0005 1332')).to.equal(true);
    expect(isValidIban('ES91 2100 0418 4502 0005 1333')).to.equal(false);
    expect(formatIban('ES9121000418450200051332')).to.equal('ES91 2100 0418 4502 0005 1332');
  });

  it('generates valid DNI letters and CIF control digits', () => {
    const rng = seededRng(2);
    for (let i = 0; i < 100; i++) {
      const d = dni(rng);
      expect(d).to.match(/^\d{8}[A-Z]$/);
      expect('TRWAGMYFPDXBNJZSQVHLCKE'[Number(d.slice(0, 8)) % 23]).to.equal(d[8]);
      expect(cif(rng)).to.match(/^B\d{8}$/);
    }
    // Som Connexió's own CIF, F66380676: body 6638067 → control 6
    const body = [6, 6, 3, 8, 0, 6, 7];
    let k = 0;
    expect(cif(() => body[k++] / 10 + 0.01, 'F')).to.equal('F66380676');
  });

  it('phone numbers: mobiles 6xxxxxxxx, landlines 9xxxxxxxx with the province prefix', () => {
    const rng = seededRng(3);
    expect(mobileNumber(rng)).to.match(/^6\d{8}$/);
    expect(landlineNumber(rng, '972')).to.match(/^972\d{6}$/);
    expect(landlineNumber(rng)).to.match(/^93\d{7}$/);
  });

  it('the catalog holds the codes the OpenCell sandbox knows, and the reference SQL inserts the same ones', () => {
    const codes = CATALOG.map((p) => p.code);
    expect(codes).to.include.members([
      'SE_SC_REC_MOBILE_T_UNL_20480',
      'SE_SC_REC_MOBILE_T_150_1024',
      'SE_SC_REC_MOBILE_T_0_0',
      'SE_SC_REC_MOBILE_PACK_UNL_1024',
      'SE_SC_REC_BA_F_600',
      'SE_SC_REC_BA_F_100',
      'SE_SC_REC_BA_F_1000',
      'SE_SC_REC_BA_ADSL_SF',
      'SE_SC_REC_BA_4G',
      'SE_SC_REC_BA_LANDLINE_UNL',
      'CH_SC_OSO_SIM',
      'CH_SC_OSO_ROUTER_RETURN',
      'CH_SC_OSO_MOBILE_ADDITIONAL_DATA_1GB',
      'SE_SC_REC_UNKNOWN_X',
    ]);
    for (const p of CATALOG) {
      expect(REFERENCE_SQL, p.code).to.contain(`'${p.code}'`);
      const [module, name] = p.category.split('.');
      expect(REFERENCE_SQL, p.category).to.contain(`('${module}', '${name}', 'product.category'`);
    }
  });

  it("Odoo's chart of accounts and taxes hold every accounting and tax code the OpenCell catalog invoices with", () => {
    const catalog = JSON.parse(
      readFileSync(
        path.resolve(__dirname, '..', '..', 'testkit', 'sandbox', 'opencell', 'catalog.json'),
        'utf8',
      ),
    ) as {
      invoiceSubCategories: { code: string; accountingCode: string; taxCode: string }[];
      taxes: { code: string }[];
    };
    const accounts = /INSERT INTO account_account[^;]*;/.exec(REFERENCE_SQL)?.[0] ?? '';
    const taxes = /INSERT INTO account_tax \([^;]*;/.exec(REFERENCE_SQL)?.[0] ?? '';
    expect(catalog.invoiceSubCategories.length).to.be.greaterThan(3);
    for (const sc of catalog.invoiceSubCategories) {
      expect(accounts, `account ${sc.accountingCode} of sub-category ${sc.code}`).to.match(
        new RegExp(`'${sc.accountingCode}', 'income'`),
      );
      expect(taxes, `tax ${sc.taxCode} of sub-category ${sc.code}`).to.contain(`'${sc.taxCode}')`);
    }
    for (const t of catalog.taxes) expect(taxes, `tax ${t.code}`).to.contain(`'${t.code}')`);
  });
});
