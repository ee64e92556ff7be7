import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/core/config';
import { ConfigError, SyncError } from '../../src/domain/errors';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { ConnectClient } from '../../src/adapters/kafka-connect/client';
import { fetchConnectorConfig } from '../../src/adapters/kafka-connect/notifications';
import { commonChecks } from '../../src/app/run';

/**
 * HTTPS to the schema registry and Kafka Connect behind a private CA (issue 16): a CA made here with openssl signs
 * the certificate of a local https server that answers as the registry and as Connect. With SCHEMA_REGISTRY_CA /
 * CONNECT_CA naming the CA's PEM file the clients trust it; without, each fails with a configuration error that
 * names the setting to set.
 */
const dir = mkdtempSync(join(tmpdir(), 'rest-ca-'));
const path = (f: string) => join(dir, f);
function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

/** A CA, and a server certificate for 127.0.0.1 signed by it. */
function makeCa(): { caPem: string; key: string; cert: string } {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=rest test CA',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    path('server.key'),
    '-out',
    path('server.csr'),
  );
  writeFileSync(path('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    path('server.ext'),
    '-out',
    path('server.pem'),
  );
  return {
    caPem: readFileSync(path('ca.pem'), 'utf8'),
    key: readFileSync(path('server.key'), 'utf8'),
    cert: readFileSync(path('server.pem'), 'utf8'),
  };
}

/** The registry calls EventSchemas.register() makes (new subjects) and Connect's reads. */
function answer(req: IncomingMessage): { status: number; json: unknown } {
  const url = req.url ?? '';
  if (req.method === 'POST' && /^\/subjects\/[^/]+\/versions$/.test(url))
    return { status: 200, json: { id: url.includes('invoice') ? 2 : 1 } };
  if (req.method === 'PUT' && url.startsWith('/config/'))
    return { status: 200, json: { compatibility: 'BACKWARD' } };
  if (url === '/subjects') return { status: 200, json: [] };
  if (url === '/connectors') return { status: 200, json: ['odoo-billing'] };
  if (url === '/connectors/odoo-billing/status')
    return {
      status: 200,
      json: { name: 'odoo-billing', connector: { state: 'RUNNING' }, tasks: [{ id: 0, state: 'RUNNING' }] },
    };
  if (url === '/connectors/odoo-billing/config')
    return { status: 200, json: { 'connector.class': 'io.debezium.connector.postgresql.PostgresConnector' } };
  return { status: 404, json: { error_code: 40401, message: 'not found' } };
}

async function failure(fn: () => Promise<unknown>): Promise<SyncError> {
  try {
    await fn();
  } catch (e) {
    expect(e).to.be.instanceOf(SyncError);
    return e as SyncError;
  }
  throw new Error('expected a failure');
}

const topics = { syncEvents: 'sync.events', invoiceEvents: 'invoice.events' };

describe('HTTPS to the registry and Kafka Connect behind a private CA (SCHEMA_REGISTRY_CA, CONNECT_CA; issue 16)', function () {
  this.timeout(30_000);
  let server: Server;
  let url: string;
  let caPem: string;
  const served: string[] = [];

  before(async () => {
    const made = makeCa();
    caPem = made.caPem;
    server = createServer({ key: made.key, cert: made.cert }, (req, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        served.push(`${req.method} ${req.url}`);
        const a = answer(req);
        res.writeHead(a.status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(a.json));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the CA files into the config, and names the setting when a file is missing or not PEM', () => {
    const config = loadConfig({ SCHEMA_REGISTRY_CA: path('ca.pem'), CONNECT_CA: path('ca.pem') }, []);
    expect(config.registryCa).to.equal(caPem);
    expect(config.connectCa).to.equal(caPem);
    expect(loadConfig({}, []).registryCa).to.equal(null);
    expect(() => loadConfig({ CONNECT_CA: path('missing.pem') }, []))
      .to.throw(ConfigError)
      .with.property('message')
      .that.includes('CONNECT_CA=')
      .and.includes('missing.pem');
    expect(() => loadConfig({ SCHEMA_REGISTRY_CA: path('server.ext') }, []))
      .to.throw(ConfigError)
      .with.property('message')
      .that.includes('SCHEMA_REGISTRY_CA=')
      .and.includes('not a PEM certificate file');
  });

  it('registers the schemas over https when SCHEMA_REGISTRY_CA is the CA; without it, a config error naming it', async () => {
    const trusted = new EventSchemas({ registryUrl: url, ca: caPem, topics });
    await trusted.register();
    expect(trusted.schemaId('SyncOutcome')).to.equal(1);
    // our own requests and the registry client library's both went through
    expect(served).to.include('GET /config/sync.events-value');
    expect(served).to.include('POST /subjects/invoice.events-value/versions');

    const before = served.length;
    const e = await failure(() => new EventSchemas({ registryUrl: url, topics }).register());
    expect(served.length, 'no request reached the server').to.equal(before);
    expect(e.code).to.equal('CONFIG_INVALID');
    expect(e.retriable).to.equal(false);
    expect(e.message)
      .to.include(`the schema registry at ${url}`)
      .and.include('not trusted')
      .and.include('set SCHEMA_REGISTRY_CA');
  });

  it('decoding through a registry whose certificate is not trusted is retried (never a malformed event) and names SCHEMA_REGISTRY_CA', async () => {
    const value = Buffer.concat([Buffer.from([0, 0, 0, 0, 42]), Buffer.from([2])]);
    const e = await failure(() =>
      new EventSchemas({ registryUrl: url, topics }).decode(value, undefined, { topic: 'sync.events' }),
    );
    expect(e.retriable).to.equal(true);
    expect(e.message).to.include('SCHEMA_REGISTRY_CA');
    // trusted, the registry is reached: an unknown id is then a malformed event
    const malformed = await failure(() =>
      new EventSchemas({ registryUrl: url, ca: caPem, topics }).decode(value, undefined, {
        topic: 'sync.events',
      }),
    );
    expect(malformed.message).to.include('unknown schema id 42');
  });

  it('reads Kafka Connect over https when CONNECT_CA is the CA; without it, a config error naming it', async () => {
    expect(await new ConnectClient(url, null, caPem).list()).to.deep.equal(['odoo-billing']);
    expect(await fetchConnectorConfig(url, 'odoo-billing', null, caPem)).to.have.property('connector.class');
    const errors = [
      await failure(() => new ConnectClient(url).list()),
      await failure(() => fetchConnectorConfig(url, 'odoo-billing')),
    ];
    for (const e of errors) {
      expect(e.code).to.equal('CONFIG_INVALID');
      expect(e.message)
        .to.include(`Kafka Connect at ${url}`)
        .and.include('not trusted')
        .and.include('set CONNECT_CA');
    }
  });

  it("every role's /readyz reaches both over https with the settings, and names them without", async () => {
    const env = { SCHEMA_REGISTRY_URL: url, CONNECT_URL: url };
    const trusted = commonChecks(
      loadConfig({ ...env, SCHEMA_REGISTRY_CA: path('ca.pem'), CONNECT_CA: path('ca.pem') }, []),
      {} as never,
      {} as never,
    );
    await trusted.registry();
    expect(await trusted.connect()).to.equal('1 connector(s) running');
    const untrusted = commonChecks(loadConfig(env, []), {} as never, {} as never);
    const messages: string[] = [];
    for (const check of [untrusted.registry, untrusted.connect])
      await check().then(
        () => messages.push('passed'),
        (e: Error) => messages.push(e.message),
      );
    expect(messages[0]).to.include('not trusted').and.include('set SCHEMA_REGISTRY_CA');
    expect(messages[1]).to.include('not trusted').and.include('set CONNECT_CA');
  });

  it('a CA that did not sign the certificate is refused too, with the setting to check', async () => {
    const other = join(dir, 'other');
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=another CA',
      '-keyout',
      `${other}.key`,
      '-out',
      `${other}.pem`,
    );
    const e = await failure(() => new ConnectClient(url, null, readFileSync(`${other}.pem`, 'utf8')).list());
    expect(e.code).to.equal('CONFIG_INVALID');
    expect(e.message).to.include('check that CONNECT_CA is the PEM file of the CA that signed it');
  });
});
