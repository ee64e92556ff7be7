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

  it('each one is switched on by its variable', () => {
    const config = loadConfig({ ...env, SYNC_PARTNER_IDENTITY: 'true', SYNC_EMAIL_IBAN_AT_CREATION: 'on' });
    expect(config.syncPartnerIdentity).to.equal(true);
    expect(config.syncEmailIbanAtCreation).to.equal(true);
  });
});
