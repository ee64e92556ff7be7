import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fetch from 'node-fetch';
import { httpsAgent } from '../../src/adapters/rest-tls';
import { basicAuthHeaders } from '../../src/adapters/basic-auth';
import { EventSchemas } from '../../src/adapters/registry/schemas';
import { loadConfig } from '../../src/core/config';
import { sharedSecureStack } from './support/second-stack';
import { ROOT } from './support/stack';

/**
 * Issue 16, "Security": Kafka Connect's REST API and the schema registry behind HTTPS with a private CA, Connect's
 * also behind HTTP Basic authentication — real ones, not a stand-in: the secure stack (`scripts/stack up --secure`)
 * starts Connect with `listeners=https://…` and Kafka's own BasicAuthSecurityRestExtension (users from a JAAS
 * PropertyFileLoginModule file), and Apicurio with HTTPS only (Quarkus, `insecure-requests=disabled`), both with a
 * certificate signed by the CA the script made. `setup:connectors`, `connectors` and `status` work with the settings
 * an operator sets (CONNECT_URL, CONNECT_CA, CONNECT_USERNAME, CONNECT_PASSWORD; SCHEMA_REGISTRY_URL,
 * SCHEMA_REGISTRY_CA); a wrong password or a CA that did not sign the certificate stops them with one line that names
 * the settings to check and never a password.
 */
const run = promisify(execFile);
const CLI = join(ROOT, 'src', 'app', 'cli.ts');
const { stack, up } = sharedSecureStack();

interface Done {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end with the pipeline's settings `env` added; never throws for a non-zero exit. */
async function exec(cmd: string, args: string[], env: Record<string, string>): Promise<Done> {
  try {
    const { stdout, stderr } = await run(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      timeout: 150_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string; message: string };
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
const setupConnectors = (env: Record<string, string>) => exec('npm', ['run', '-s', 'setup:connectors'], env);
const cli = (args: string[], env: Record<string, string>) =>
  exec(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], env);

/** The non-empty lines a command printed on stderr. */
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

/** A plain-HTTP GET to 127.0.0.1:`port`: its status, or the error that ended it. */
function plainHttp(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    req.end();
  });
}

describe("Kafka Connect's REST API and the registry on HTTPS with a private CA, Connect's with Basic auth (issue 16)", function () {
  this.timeout(300_000);
  let client: Record<string, string>;
  let env: Record<string, string>;
  let otherCa: string;

  before(async () => {
    await up();
    client = stack.clientEnv();
    env = {
      ...client,
      ODOO_DATABASE_URL: stack.odooDatabaseUrl,
      STATE_DATABASE_URL: stack.stateDatabaseUrl,
      // the stack's own slot: the connector config applied here must keep it (the default is the shared stack's)
      DEBEZIUM_SLOT_NAME: stack.env.DEBEZIUM_SLOT_NAME,
    };
    // a CA of another deployment: valid PEM, but it signed neither Connect's nor the registry's certificate
    const dir = mkdtempSync(join(tmpdir(), 'other-ca-'));
    otherCa = join(dir, 'ca.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=another CA',
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      otherCa,
    ]);
  });

  it('Connect answers only HTTPS, and refuses a request without credentials or with a wrong password (401)', async () => {
    expect(client.CONNECT_URL)
      .to.equal(stack.connectUrl)
      .and.match(/^https:/);
    const ca = readFileSync(client.CONNECT_CA, 'utf8');
    const get = (auth: { username: string; password: string } | null) =>
      fetch(`${client.CONNECT_URL}/connectors`, {
        headers: basicAuthHeaders(auth),
        agent: httpsAgent(client.CONNECT_URL, ca),
      }).then((r) => r.status);
    expect(await get(null), 'no credentials').to.equal(401);
    expect(await get({ username: 'sync', password: 'not-the-password' }), 'a wrong password').to.equal(401);
    expect(await get({ username: 'sync', password: client.CONNECT_PASSWORD }), 'the right one').to.equal(200);
    expect(await plainHttp(Number(new URL(client.CONNECT_URL).port)), 'plain HTTP').not.to.equal(200);
  });

  it('setup:connectors applies the connector and waits until it runs, through HTTPS and Basic auth', async () => {
    const r = await setupConnectors(env);
    expect(r.code, r.stderr).to.equal(0);
    expect(lines(r.stderr).pop()).to.equal('[connectors] applied and running: odoo-billing');
    expect(r.stdout + r.stderr).not.to.contain(client.CONNECT_PASSWORD);
  });

  it('`status` and `connectors status` read the connector through it', async () => {
    const status = await cli(['status', '--json'], env);
    expect(status.code, status.stderr).to.equal(0);
    const connectors = (JSON.parse(status.stdout) as { connectors: unknown }).connectors;
    expect(connectors).to.deep.equal([
      { name: 'odoo-billing', state: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] },
    ]);
    const table = await cli(['connectors', 'status'], env);
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.match(/odoo-billing\s+RUNNING/);
  });

  it('a wrong password: one line naming CONNECT_USERNAME and CONNECT_PASSWORD, exit 1, no password anywhere', async () => {
    const wrong = 'Wrong-Connect-pw-4711';
    const bad = { ...env, CONNECT_PASSWORD: wrong };
    const refused =
      `Kafka Connect at ${new URL(client.CONNECT_URL).origin} refused the request sent as user "sync" (HTTP 401): ` +
      'check CONNECT_USERNAME and CONNECT_PASSWORD';

    const apply = await setupConnectors(bad);
    expect(apply.code).to.equal(1);
    expect(lines(apply.stderr)).to.deep.equal([`[connectors] ${refused}`]);

    const connectors = await cli(['connectors', 'status'], bad);
    expect(connectors.code).to.equal(1);
    expect(lines(connectors.stderr)).to.deep.equal([`error: ${refused}`]);

    // `status` reports the section it could not read and goes on with the others
    const status = await cli(['status', '--json'], bad);
    expect((JSON.parse(status.stdout) as { connectors: unknown }).connectors).to.deep.equal({
      error: refused,
    });

    for (const r of [apply, connectors, status]) {
      expect(r.stdout + r.stderr, 'the wrong password').not.to.contain(wrong);
      expect(r.stdout + r.stderr, 'the right password').not.to.contain(client.CONNECT_PASSWORD);
    }
  });

  it("a CA that did not sign Connect's certificate, or none: exit 1 naming CONNECT_CA, not Kafka's TLS settings", async () => {
    const origin = new URL(client.CONNECT_URL).origin;
    const wrongCa = await cli(['connectors', 'apply', '--no-wait'], { ...env, CONNECT_CA: otherCa });
    expect(wrongCa.code).to.equal(1);
    expect(lines(wrongCa.stderr)).to.have.length(1);
    expect(wrongCa.stderr).to.match(
      new RegExp(
        `^error: Kafka Connect at ${origin}: its TLS certificate is not trusted \\([^)]+\\): check that CONNECT_CA is the PEM file of the CA that signed it\\n$`,
      ),
    );
    expect(wrongCa.stderr).not.to.contain('KAFKA_SSL_CA');

    const noCa = await setupConnectors({ ...env, CONNECT_CA: '' });
    expect(noCa.code).to.equal(1);
    expect(lines(noCa.stderr)).to.have.length(1);
    expect(noCa.stderr).to.match(
      new RegExp(
        `^\\[connectors\\] Kafka Connect at ${origin}: its TLS certificate is not trusted \\([^)]+\\): set CONNECT_CA to the PEM file of the CA that signed it\\n$`,
      ),
    );
  });

  it('the registry answers only HTTPS: schemas register with SCHEMA_REGISTRY_CA; a wrong CA is an error naming it', async () => {
    expect(client.SCHEMA_REGISTRY_URL).to.equal(stack.registryUrl);
    const config = loadConfig({ ...process.env, ...env }, []);
    expect(config.registryCa).to.contain('BEGIN CERTIFICATE');
    const schemas = new EventSchemas({
      registryUrl: config.registryUrl,
      topics: config.topics,
      ca: config.registryCa,
    });
    await schemas.register();
    expect(schemas.registered).to.equal(true);

    const untrusted = new EventSchemas({
      registryUrl: config.registryUrl,
      topics: config.topics,
      ca: readFileSync(otherCa, 'utf8'),
    });
    const err = await untrusted.register().then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(err?.code).to.equal('CONFIG_INVALID');
    expect(err?.message).to.match(
      /^the schema registry at https:\/\/127\.0\.0\.1:\d+: its TLS certificate is not trusted \([^)]+\): check that SCHEMA_REGISTRY_CA is the PEM file of the CA that signed it$/,
    );
    expect(await plainHttp(Number(new URL(config.registryUrl).port)), 'plain HTTP').not.to.equal(200);
  });
});
