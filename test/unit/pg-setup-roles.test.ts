import { expect } from 'chai';
import { defaultPgSetupOptions, setupPipelineRoles } from '../../src/app/pg-setup';
import { loadConfig } from '../../src/core/config';
import { redactString } from '../../src/core/log';

describe('pg-setup: the pipeline roles come from the URLs the pipeline connects with', () => {
  it('names the read-only and the signal roles after ODOO_DATABASE_URL and ODOO_SIGNAL_DATABASE_URL', () => {
    const o = defaultPgSetupOptions({
      ODOO_DATABASE_URL: 'postgresql://billing_ro:s3cr%40t@db:5432/odoo',
      ODOO_SIGNAL_DATABASE_URL: 'postgresql://billing_ops:0ps-pw@db:5432/odoo',
    });
    expect(o.reader).to.deep.equal({ user: 'billing_ro', password: 's3cr@t' });
    expect(o.signaller).to.deep.equal({ user: 'billing_ops', password: '0ps-pw' });
    // the defaults: the local stack's roles
    expect(defaultPgSetupOptions({}).reader.user).to.equal('sync_reader');
    expect(defaultPgSetupOptions({}).signaller.user).to.equal('sync_ops');
  });

  it('refuses the owner, a superuser or a role without password before connecting anywhere', async () => {
    const base = defaultPgSetupOptions({});
    const nowhere = { ...base, adminUrl: 'postgresql://postgres@127.0.0.1:1/postgres' };
    for (const [reader, msg] of [
      [
        { user: 'odoo', password: 'x' },
        /ODOO_DATABASE_URL must name a role of the pipeline's own, not "odoo"/,
      ],
      [{ user: 'postgres', password: 'x' }, /not "postgres"/],
      [{ user: 'sync_reader', password: '' }, /ODOO_DATABASE_URL must carry the role's password/],
    ] as const) {
      let err: Error | undefined;
      await setupPipelineRoles({ ...nowhere, reader }).catch((e: Error) => (err = e));
      expect(err?.message).to.match(msg);
    }
  });

  it('a real password of these URLs is a registered secret; the local role=password is not', () => {
    loadConfig({ ODOO_DATABASE_URL: 'postgresql://billing_ro:Very-Secret-9@db:5432/odoo' }, []);
    expect(redactString('password Very-Secret-9 leaked')).to.equal('password [redacted] leaked');
    expect(redactString('role sync_reader')).to.equal('role sync_reader');
  });
});
