import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/core/config';
import { redactString } from '../../src/core/log';
import { ConfigError, SyncError } from '../../src/domain/errors';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { ConnectClient } from '../../src/adapters/kafka-connect/client';
import { fetchConnectorConfig } from '../../src/adapters/kafka-connect/notifications';
import { commonChecks } from '../../src/app/run';

const USER = 'sync-registry';
const PASSWORD = 'Rest-Secret-8812';
const WRONG = 'Not-The-Password-31';

/** A local HTTP server that answers only requests with the right Basic credentials; it counts both kinds. */
async function basicAuthServer(
  answer: (req: IncomingMessage, body: string) => { status: number; json: unknown },
): Promise<{ url: string; server: Server; accepted: string[]; refused: number }> {
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const state = { accepted: [] as string[], refused: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (req.headers.authorization !== expected) {
        state.refused += 1;
        res.setHeader('WWW-Authenticate', 'Basic realm="test"');
        return send(401, { error_code: 401, message: 'Unauthorized' });
      }
      state.accepted.push(`${req.method} ${req.url}`);
      const a = answer(req, body);
      send(a.status, a.json);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, { url: `http://127.0.0.1:${port}`, server });
}

/** The Confluent-compatible registry calls EventSchemas.register() makes: new subjects, ids 1 and 2. */
function registryAnswers(req: IncomingMessage): { status: number; json: unknown } {
  const url = req.url ?? '';
  if (req.method === 'POST' && /^\/subjects\/[^/]+\/versions$/.test(url))
    return { status: 200, json: { id: url.includes('invoice') ? 2 : 1 } };
  if (req.method === 'PUT' && url.startsWith('/config/'))
    return { status: 200, json: { compatibility: 'BACKWARD' } };
  return { status: 404, json: { error_code: 40401, message: 'Subject not found' } };
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

describe('schema registry and Kafka Connect REST credentials (issue 16)', () => {
  let servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    servers = [];
  });

  it('registers the event schemas with a registry that requires Basic auth when the credentials are right', async () => {
    const reg = await basicAuthServer(registryAnswers);
    servers.push(reg.server);
    const schemas = new EventSchemas({
      registryUrl: reg.url,
      auth: { username: USER, password: PASSWORD },
      topics,
    });
    await schemas.register();
    expect(schemas.schemaId('SyncOutcome')).to.equal(1);
    expect(schemas.schemaId('InvoiceIssued')).to.equal(2);
    expect(reg.refused).to.equal(0);
    // both our own requests and the registry client library's carried the credentials
    expect(reg.accepted).to.include('GET /config/sync.events-value');
    expect(reg.accepted).to.include('POST /subjects/sync.events-value/versions');
    expect(reg.accepted).to.include('POST /subjects/invoice.events-value/versions');
  });

  it('fails registering without or with wrong registry credentials: a config error naming the settings, no password', async () => {
    const reg = await basicAuthServer(registryAnswers);
    servers.push(reg.server);
    const none = await failure(() => new EventSchemas({ registryUrl: reg.url, topics }).register());
    const wrong = await failure(() =>
      new EventSchemas({
        registryUrl: reg.url,
        auth: { username: USER, password: WRONG },
        topics,
      }).register(),
    );
    expect(reg.refused).to.be.at.least(2);
    expect(reg.accepted).to.deep.equal([]);
    for (const e of [none, wrong]) {
      expect(e.code).to.equal('CONFIG_INVALID');
      expect(e.retriable).to.equal(false);
      expect(e.message)
        .to.include('HTTP 401')
        .and.include('SCHEMA_REGISTRY_USERNAME')
        .and.include('SCHEMA_REGISTRY_PASSWORD');
      const text = `${e.message} ${JSON.stringify(e)}`;
      expect(text).not.to.include(WRONG).and.not.include(PASSWORD);
    }
    expect(none.message).to.include('without credentials');
    expect(wrong.message).to.include(`as user "${USER}"`);
  });

  it('decoding with refused registry credentials is retried, never a malformed event, and names the settings', async () => {
    const reg = await basicAuthServer(() => ({
      status: 404,
      json: { error_code: 40403, message: 'Schema not found' },
    }));
    servers.push(reg.server);
    const value = Buffer.concat([Buffer.from([0, 0, 0, 0, 42]), Buffer.from([2])]);
    const wrong = new EventSchemas({
      registryUrl: reg.url,
      auth: { username: USER, password: WRONG },
      topics,
    });
    const e = await failure(() =>
      wrong.decode(value, undefined, { topic: 'sync.events', partition: 0, offset: '7' }),
    );
    expect(reg.refused).to.be.at.least(1);
    expect(e.retriable).to.equal(true);
    expect(e.message).to.include('SCHEMA_REGISTRY_USERNAME').and.not.include(WRONG);
    // the right credentials reach the registry: an unknown id is then a malformed event (not retriable)
    const right = new EventSchemas({
      registryUrl: reg.url,
      auth: { username: USER, password: PASSWORD },
      topics,
    });
    const malformed = await failure(() => right.decode(value, undefined, { topic: 'sync.events' }));
    expect(malformed.retriable).to.equal(false);
    expect(malformed.message).to.include('unknown schema id 42');
    expect(reg.accepted).to.include('GET /schemas/ids/42');
  });

  it('reads Kafka Connect through Basic auth when the credentials are right', async () => {
    const connect = await basicAuthServer((req) => {
      if (req.url === '/connectors') return { status: 200, json: ['odoo-billing'] };
      if (req.url === '/connectors/odoo-billing/status')
        return {
          status: 200,
          json: {
            name: 'odoo-billing',
            connector: { state: 'RUNNING' },
            tasks: [{ id: 0, state: 'RUNNING' }],
          },
        };
      if (req.url === '/connectors/odoo-billing/config')
        return {
          status: 200,
          json: { 'connector.class': 'io.debezium.connector.postgresql.PostgresConnector' },
        };
      return { status: 404, json: { error_code: 404, message: 'not found' } };
    });
    servers.push(connect.server);
    const auth = { username: USER, password: PASSWORD };
    const client = new ConnectClient(connect.url, auth);
    expect(await client.list()).to.deep.equal(['odoo-billing']);
    expect((await client.status('odoo-billing'))?.connector.state).to.equal('RUNNING');
    expect(await fetchConnectorConfig(connect.url, 'odoo-billing', auth)).to.have.property('connector.class');
    expect(connect.accepted).to.have.length(3);
    expect(connect.refused).to.equal(0);
  });

  it('fails Kafka Connect calls without or with wrong credentials: a config error naming the settings, no password', async () => {
    const connect = await basicAuthServer(() => ({ status: 200, json: [] }));
    servers.push(connect.server);
    const errors = [
      await failure(() => new ConnectClient(connect.url).list()),
      await failure(() =>
        new ConnectClient(connect.url, { username: USER, password: WRONG }).status('odoo-billing'),
      ),
      await failure(() =>
        fetchConnectorConfig(connect.url, 'odoo-billing', { username: USER, password: WRONG }),
      ),
    ];
    expect(connect.refused).to.equal(3);
    for (const e of errors) {
      expect(e.code).to.equal('CONFIG_INVALID');
      expect(e.message)
        .to.include('Kafka Connect')
        .and.include('CONNECT_USERNAME')
        .and.include('CONNECT_PASSWORD');
      expect(`${e.message} ${JSON.stringify(e)}`).not.to.include(WRONG);
    }
  });

  it("every role's /readyz checks the registry and Connect with their credentials", async () => {
    const server = await basicAuthServer(() => ({ status: 200, json: [] }));
    servers.push(server.server);
    const env = { SCHEMA_REGISTRY_URL: server.url, CONNECT_URL: server.url };
    const right = loadConfig(
      {
        ...env,
        SCHEMA_REGISTRY_USERNAME: USER,
        SCHEMA_REGISTRY_PASSWORD: PASSWORD,
        CONNECT_USERNAME: USER,
        CONNECT_PASSWORD: PASSWORD,
      },
      [],
    );
    const checks = commonChecks(right, {} as never, {} as never);
    await checks.registry();
    expect(await checks.connect()).to.equal('0 connector(s) running');
    expect(server.accepted).to.deep.equal(['GET /subjects', 'GET /connectors']);
    const none = commonChecks(loadConfig(env, []), {} as never, {} as never);
    let refused = '';
    await none.registry().catch((e: Error) => (refused = e.message));
    expect(refused).to.equal('HTTP 401');
    expect(server.refused).to.equal(1);
  });

  it('configures no credentials by default, and both or none of a user and password', () => {
    const plain = loadConfig({}, []);
    expect(plain.registryAuth).to.equal(null);
    expect(plain.connectAuth).to.equal(null);
    const cfg = loadConfig(
      {
        SCHEMA_REGISTRY_USERNAME: USER,
        SCHEMA_REGISTRY_PASSWORD: PASSWORD,
        CONNECT_USERNAME: 'connect-user',
        CONNECT_PASSWORD: 'Connect-Secret-5521',
      },
      [],
    );
    expect(cfg.registryAuth).to.deep.equal({ username: USER, password: PASSWORD });
    expect(cfg.connectAuth).to.deep.equal({ username: 'connect-user', password: 'Connect-Secret-5521' });
    // registered as secrets: the logger masks them wherever they would appear
    expect(redactString(`pw ${PASSWORD} / Connect-Secret-5521`)).to.equal('pw [redacted] / [redacted]');

    let err: unknown;
    try {
      loadConfig({ SCHEMA_REGISTRY_USERNAME: USER, CONNECT_PASSWORD: 'Lonely-Secret-77' }, []);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).to.include('SCHEMA_REGISTRY_PASSWORD is required with SCHEMA_REGISTRY_USERNAME');
    expect(msg).to.include('CONNECT_USERNAME is required with CONNECT_PASSWORD');
    expect(msg).not.to.include('Lonely-Secret-77');
  });
});
