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

  it('masks the password of a database URL without its scheme or with a mistyped one, in every URL setting', () => {
    const pw = 's3cr3t-pw';
    const malformed = [
      `sync:${pw}@db.internal:5432/odoo`,
      `postgres:/sync:${pw}@db.internal/odoo`,
      `postgresql:sync:${pw}@db.internal/odoo`,
      `http//sync:${pw}@db.internal/odoo`,
      `postgresql://sync:${pw}@with-at@db.internal/odoo`.replace('://', ':'),
    ];
    const settings = [
      'ODOO_DATABASE_URL',
      'ODOO_SIGNAL_DATABASE_URL',
      'STATE_DATABASE_URL',
      'SCHEMA_REGISTRY_URL',
      'CONNECT_URL',
      'OPENCELL_BASEURL',
      'ODOO_URL',
    ];
    for (const key of settings)
      for (const bad of malformed) {
        let err: unknown;
        try {
          loadConfig({ [key]: bad }, []);
        } catch (e) {
          err = e;
        }
        expect(err, `${key}=${bad}`).to.be.instanceOf(ConfigError);
        const text = `${(err as Error).message} ${JSON.stringify(err)}`;
        expect(text, `${key}=${bad}`).to.include(key).and.not.include(pw);
      }
    expect(maskUrlCredentials(`postgresql://sync:p@ss${pw}@db/odoo`)).to.equal(
      'postgresql://sync:[redacted]@db/odoo',
    );
  });

  it('leaves URLs without credentials as they are', () => {
    expect(maskUrlCredentials('postgresql://odoo@127.0.0.1:5432/odoo')).to.equal(
      'postgresql://odoo@127.0.0.1:5432/odoo',
    );
    expect(maskUrlCredentials('postgresql://a:b@h/d')).to.equal('postgresql://a:[redacted]@h/d');
    expect(maskUrlCredentials('odoo@127.0.0.1:5432')).to.equal('odoo@127.0.0.1:5432');
    expect(maskUrlCredentials('127.0.0.1:9092,127.0.0.1:9094')).to.equal('127.0.0.1:9092,127.0.0.1:9094');
  });
});
