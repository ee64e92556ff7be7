import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { unsupportedNode } from '../../src/core/node-version';

/**
 * The production build: `npm run build` (TypeScript 7, tsconfig.build.json) compiles src/ only, and the compiled
 * CLI runs with plain node — no tsx, no testkit. Built into .cache/build-test (inside the package, like dist/) so
 * the compiled code finds connectors/ and schemas/ the way it does from dist/ and from the image's /app/dist.
 */
const ROOT = join(__dirname, '..', '..');
const OUT = join(ROOT, '.cache', 'build-test');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [relative(OUT, p)];
  });
}

describe('production build (compiled output run with plain node)', function () {
  this.timeout(60_000);
  before(() => {
    rmSync(OUT, { recursive: true, force: true });
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript7', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', OUT],
      { cwd: ROOT, stdio: 'pipe' },
    );
  });
  after(() => rmSync(OUT, { recursive: true, force: true }));

  it('compiles src/ only: no test kit, no tests, no benchmarks', () => {
    const out = files(OUT);
    expect(out).to.include(join('src', 'app', 'cli.js'));
    expect(out.filter((f) => /^(testkit|test|bench)\//.test(f))).to.deep.equal([]);
  });

  it('runs the compiled CLI with plain node (no tsx loaded)', () => {
    const help = execFileSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(join(OUT, 'src', 'app', 'cli.js'))}).main(['--help']).then((c) => process.exit(c))`,
      ],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
    );
    expect(help).to.include('Usage: odoo-opencell-sync');
  });

  it('runs the compiled CLI as the entry point (`node dist/src/app/cli.js --help`), and refuses a Node older than 24', () => {
    const cli = join(OUT, 'src', 'app', 'cli.js');
    const help = execFileSync(process.execPath, [cli, '--help'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(help).to.include('Usage: odoo-opencell-sync');
    // the machine's own `node` may be older than the project's (Node 20 here): the entry point says so at once
    expect(unsupportedNode('20.20.2', '/usr/bin/node')).to.include(
      'needs Node.js 24 or later; this is v20.20.2 (/usr/bin/node)',
    );
    expect(unsupportedNode(process.versions.node, process.execPath)).to.equal(undefined);
  });

  it('finds schemas/avro and connectors/ from the compiled modules (regression: dist/schemas/avro)', () => {
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        `const s = require(${JSON.stringify(join(OUT, 'src', 'adapters', 'registry', 'schemas.js'))});` +
          `const c = require(${JSON.stringify(join(OUT, 'src', 'adapters', 'kafka-connect', 'connector-config.js'))});` +
          `console.log(JSON.stringify({ avro: s.loadAvroSchema('SyncOutcome').name, connector: c.connectorConfigPath() }))`,
      ],
      { cwd: '/', encoding: 'utf8' },
    );
    const r = JSON.parse(out) as { avro: string; connector: string };
    expect(r.avro).to.be.a('string').and.not.equal('');
    expect(r.connector).to.equal(join(ROOT, 'connectors', 'odoo-billing.json'));
    expect(existsSync(r.connector)).to.equal(true);
  });
});
