import { expect } from 'chai';
import { loadConfig, maskUrlCredentials } from '../../src/core/config';
import { ConfigError } from '../../src/domain/errors';

describe('configuration errors never echo a password (issue 16)', () => {
  it('masks the password of a database URL that does not parse', () => {
    const bad = 'mysql://sync:s3cr3t-pw@db.internal:5432/odoo_opencell_sync';
    let err: unknown;
    try {
      loadConfig({ STATE_DATABASE_URL: bad }, []);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const text = `${(err as Error).message} ${JSON.stringify(err)}`;
    expect(text).to.include('STATE_DATABASE_URL').and.include('sync:[redacted]@db.internal');
    expect(text).not.to.include('s3cr3t-pw');
  });

  it('masks the password of an HTTP URL that does not parse', () => {
    let err: unknown;
    try {
      loadConfig({ OPENCELL_BASEURL: 'http://admin:hunter2-pw@ bad host/opencell' }, []);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message)
      .to.include('OPENCELL_BASEURL')
      .and.not.include('hunter2-pw');
  });

  it('leaves URLs without credentials as they are', () => {
    expect(maskUrlCredentials('postgresql://odoo@127.0.0.1:5432/odoo')).to.equal(
      'postgresql://odoo@127.0.0.1:5432/odoo',
    );
    expect(maskUrlCredentials('postgresql://a:b@h/d')).to.equal('postgresql://a:[redacted]@h/d');
  });
});
