import { expect } from 'chai';
import { loadConfig } from '../../src/core/config';

/** Issue 14: the default is the original module's behaviour; what goes beyond it is an opt-in setting. */
describe('configuration: behaviour settings', () => {
  const env = { OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y' };

  it('behaviour settings beyond the original are opt-in: SYNC_PARTNER_IDENTITY and SYNC_EMAIL_IBAN_AT_CREATION default to false', () => {
    const config = loadConfig(env);
    expect(config.syncPartnerIdentity).to.equal(false);
    expect(config.syncEmailIbanAtCreation).to.equal(false);
  });

  it('issue 14 parity settings default to the original: SYNC_TERMINATION_AT_CREATION, REFUSE_INVALID_IBAN, ACCOUNT_OWNER_NAME_FALLBACK, FORCE_CREATE_WITH_LINES, PHONE_PLACEHOLDER_IS_NO_NUMBER off; ODOO_LANG ca_ES', () => {
    const config = loadConfig(env);
    expect(config.syncTerminationAtCreation).to.equal(false);
    expect(config.opencell).to.deep.include({
      refuseInvalidIban: false,
      accountOwnerNameFallback: false,
      forceCreateWithLines: false,
      phonePlaceholderIsNoNumber: false,
    });
    expect(config.odoo.lang).to.equal('ca_ES');
    const on = loadConfig({
      ...env,
      SYNC_TERMINATION_AT_CREATION: 'true',
      REFUSE_INVALID_IBAN: 'yes',
      ACCOUNT_OWNER_NAME_FALLBACK: '1',
      FORCE_CREATE_WITH_LINES: 'on',
      PHONE_PLACEHOLDER_IS_NO_NUMBER: 'true',
      ODOO_LANG: 'es_ES',
    });
    expect(on.syncTerminationAtCreation).to.equal(true);
    expect(on.opencell).to.deep.include({
      refuseInvalidIban: true,
      accountOwnerNameFallback: true,
      forceCreateWithLines: true,
      phonePlaceholderIsNoNumber: true,
    });
    expect(on.odoo.lang).to.equal('es_ES');
    expect(() => loadConfig({ ...env, ODOO_LANG: 'catalan' })).to.throw(/ODOO_LANG.*language code/);
  });

  it('each one is switched on by its variable', () => {
    const config = loadConfig({ ...env, SYNC_PARTNER_IDENTITY: 'true', SYNC_EMAIL_IBAN_AT_CREATION: 'on' });
    expect(config.syncPartnerIdentity).to.equal(true);
    expect(config.syncEmailIbanAtCreation).to.equal(true);
  });
});

describe('configuration: invoice loader lists (issue 17 §3)', () => {
  const env = { OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y' };

  it('lists of up to 200 invoices per account.move create, 300 invoices per partition, 4 creates in flight by default', () => {
    const c = loadConfig(env).invoiceImport;
    expect([c.loadBatch, c.loadConcurrency, c.loadInFlight]).to.deep.equal([200, 300, 4]);
  });

  it('INVOICE_LOAD_BATCH and INVOICE_LOAD_CONCURRENCY set them; 0 is refused naming the variable', () => {
    const c = loadConfig({
      ...env,
      INVOICE_LOAD_BATCH: '50',
      INVOICE_LOAD_CONCURRENCY: '400',
      INVOICE_LOAD_LISTS_IN_FLIGHT: '10',
    }).invoiceImport;
    expect([c.loadBatch, c.loadConcurrency, c.loadInFlight]).to.deep.equal([50, 400, 10]);
    expect(() => loadConfig({ ...env, INVOICE_LOAD_BATCH: '0' })).to.throw(/INVOICE_LOAD_BATCH/);
    expect(() => loadConfig({ ...env, INVOICE_LOAD_CONCURRENCY: '0' })).to.throw(/INVOICE_LOAD_CONCURRENCY/);
  });
});

describe('configuration: invoice poller (issue 15 §5)', () => {
  const env = { OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y' };

  it('the lookback is the documented 3 days by default; page size 100, a poll a minute', () => {
    expect(loadConfig(env).invoicePoll).to.deep.equal({
      lookbackDays: 3,
      verifyDays: 35,
      pageSize: 100,
      intervalMs: 60_000,
    });
  });

  it('INVOICE_POLL_* set them; a bad value is refused naming the variable', () => {
    const c = loadConfig({
      ...env,
      INVOICE_POLL_LOOKBACK_DAYS: '7',
      INVOICE_POLL_PAGE_SIZE: '25',
      INVOICE_POLL_INTERVAL_MS: '5000',
    });
    expect(c.invoicePoll).to.deep.equal({
      lookbackDays: 7,
      verifyDays: 35,
      pageSize: 25,
      intervalMs: 5000,
    });
    expect(() => loadConfig({ ...env, INVOICE_POLL_PAGE_SIZE: '0' })).to.throw(/INVOICE_POLL_PAGE_SIZE/);
    expect(() => loadConfig({ ...env, INVOICE_POLL_LOOKBACK_DAYS: 'three' })).to.throw(
      /INVOICE_POLL_LOOKBACK_DAYS/,
    );
  });
});
