import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explainKafkaSecurityError } from '../../src/adapters/kafka/kafka';
import { loadConfig } from '../../src/core/config';
import { redactString } from '../../src/core/log';
import { SyncError } from '../../src/domain/errors';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/** Issue 16, "Security": Kafka SASL over TLS settings for every client, the password never shown. */
describe('Kafka security settings (KAFKA_SSL*, KAFKA_SASL_*)', () => {
  const env = { OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y' };
  const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, PEM);

  it('default: plaintext, no SASL', () => {
    const { kafka } = loadConfig(env);
    expect(kafka.ssl).to.equal(null);
    expect(kafka.sasl).to.equal(null);
  });

  it('SCRAM-SHA-512 over TLS with a CA file: the client settings carry the CA certificates and the credentials', () => {
    const { kafka } = loadConfig({
      ...env,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA: ca,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'sync',
      KAFKA_SASL_PASSWORD: 'Kafka-Secret-4711',
    });
    expect(kafka.ssl).to.deep.equal({ ca: [PEM] });
    expect(kafka.sasl).to.deep.equal({
      mechanism: 'scram-sha-512',
      username: 'sync',
      password: 'Kafka-Secret-4711',
    });
    // registered with the logger: masked in every log line, event and error
    expect(redactString('password Kafka-Secret-4711 leaked')).not.to.contain('Kafka-Secret-4711');
  });

  it('TLS without a CA file trusts the system CAs', () => {
    expect(loadConfig({ ...env, KAFKA_SSL: 'true' }).kafka.ssl).to.deep.equal({});
  });

  it('incomplete or wrong settings are configuration errors that never show the password', () => {
    const fail = (extra: Record<string, string>) => {
      try {
        loadConfig({ ...env, ...extra });
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('expected a configuration error');
    };
    expect(fail({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: 'Pw-Only-1' }))
      .to.contain('KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=scram-sha-512')
      .and.not.contain('Pw-Only-1');
    expect(fail({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'sync' })).to.contain(
      'KAFKA_SASL_PASSWORD is required',
    );
    expect(fail({ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_PASSWORD: 'Pw-Two-2' }))
      .to.match(/KAFKA_SASL_MECHANISM="gssapi": must be one of none, plain, scram-sha-256, scram-sha-512/)
      .and.not.contain('Pw-Two-2');
    expect(fail({ KAFKA_SSL_CA: ca })).to.contain('set KAFKA_SSL=true');
    expect(fail({ KAFKA_SSL: 'true', KAFKA_SSL_CA: join(dir, 'missing.pem') })).to.contain('ENOENT');
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(fail({ KAFKA_SSL: 'true', KAFKA_SSL_CA: notPem })).to.contain('not a PEM certificate file');
  });

  describe('explainKafkaSecurityError', () => {
    const settings = {
      brokers: ['b1:9093'],
      ssl: {},
      sasl: { mechanism: 'scram-sha-512' as const, username: 'sync', password: 'The-Pw-99' },
    };

    it('refused credentials: names the user, the mechanism and the settings to check, not the password', () => {
      const e = Object.assign(
        new Error(
          'SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
        ),
        { name: 'KafkaJSSASLAuthenticationError' },
      );
      const text = explainKafkaSecurityError(e, settings) ?? '';
      expect(text).to.match(
        /^Kafka refused the credentials of user "sync" \(SCRAM-SHA-512\) at b1:9093: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
      );
      expect(text).not.to.contain('The-Pw-99');
    });

    it('a failed TLS handshake, found in the cause of kafkajs retries: points at KAFKA_SSL_CA', () => {
      const inner = new Error('Connection error: self-signed certificate in certificate chain');
      const e = Object.assign(new Error('Connection error: self-signed certificate in certificate chain'), {
        name: 'KafkaJSNumberOfRetriesExceeded',
        cause: inner,
      });
      expect(explainKafkaSecurityError(e, settings)).to.match(
        /TLS handshake .* failed: .*check KAFKA_SSL_CA/,
      );
    });

    it('a plaintext client on a TLS listener sees closed connections: points at KAFKA_SSL', () => {
      const e = Object.assign(new Error('Closed connection'), { name: 'KafkaJSNumberOfRetriesExceeded' });
      expect(explainKafkaSecurityError(e, { brokers: ['b1:9093'] })).to.contain('KAFKA_SSL=true');
      expect(explainKafkaSecurityError(e, settings)).to.equal(undefined);
    });

    it("Kafka Connect's untrusted certificate (CONNECT_CA) is not taken for Kafka's TLS handshake", () => {
      const e = new SyncError(
        'CONFIG_INVALID',
        'Kafka Connect at https://c:8083: its TLS certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN): check that CONNECT_CA is the PEM file of the CA that signed it',
        { cause: new Error('self-signed certificate in certificate chain') },
      );
      expect(explainKafkaSecurityError(e, settings)).to.equal(undefined);
    });

    it('any other error is left alone', () => {
      expect(explainKafkaSecurityError(new Error('This server is not the leader'), settings)).to.equal(
        undefined,
      );
    });
  });
});
