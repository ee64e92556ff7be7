import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAppLogger } from '../../src/core/log';
import { progressLine } from '../../testkit/demo/story';

const ROOT = join(__dirname, '..', '..');

/** Issue 19 §3: LOG_FILE sends every log line to a file; `npm run demo` shows its story only. */
describe('logging to a file (LOG_FILE) and the demo story', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'log-file-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('LOG_FILE appends JSON lines (redacted) to the file, creating its folder, and writes nothing on stdout or stderr', () => {
    const path = join(dir, 'logs', 'run.log');
    const written: string[] = [];
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => (written.push(s), true)) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => (written.push(s), true)) as typeof process.stderr.write;
    const app = createAppLogger({ LOG_FILE: path, LOG_LEVEL: 'info' }, true);
    try {
      app.logger.child({ component: 'projector' }).info('projected', { password: 'hunter2', intents: 3 });
      app.logger.child({ component: 'kafkajs' }).warn('rebalancing');
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
      app.close();
    }
    expect(written).to.deep.equal([]);
    expect(app.file).to.equal(path);
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.component, l.level, l.message])).to.deep.equal([
      ['projector', 'info', 'projected'],
      ['kafkajs', 'warn', 'rebalancing'],
    ]);
    expect(lines[0]).to.include({ password: '[redacted]', intents: 3 });
  });

  it('a LOG_FILE that cannot be opened is reported in one error line and the logger stays on stderr', () => {
    const written: string[] = [];
    const err = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (written.push(s), true)) as typeof process.stderr.write;
    let file: string | null | undefined;
    try {
      // its folder would be under a file: mkdir fails
      file = createAppLogger({ LOG_FILE: `${__filename}/x.log`, LOG_LEVEL: 'error' }, true).file;
    } finally {
      process.stderr.write = err;
    }
    expect(file).to.equal(null);
    expect(written).to.have.length(1);
    expect(written[0])
      .to.include(`LOG_FILE=${__filename}/x.log: cannot be written`)
      .and.include('logging to stderr');
  });

  it('a process that logs and exits at once leaves every line in the file and prints only its own output', () => {
    const path = join(dir, 'demo.log');
    const script = [
      "require('./testkit/demo/log-file');",
      "const { componentLogger, logFile } = require('./src/core/log');",
      "const { say } = require('./testkit/demo/story');",
      "for (const c of ['kafkajs', 'router', 'projector', 'outbox-relay', 'invoice-poller', 'invoice-loader', 'pg-setup']) componentLogger(c).warn('a log line');",
      "say('1) the story');",
      'say(logFile);',
      'process.exit(0);',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, LOG_FILE: path, LOG_LEVEL: 'info', NODE_ENV: 'development' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.equal(`1) the story\n${path}\n`);
    expect(readFileSync(path, 'utf8').trim().split('\n')).to.have.length(7);
  });

  it('the demo runner sets LOG_FILE before it imports anything that logs, and its progress lines are not JSON', () => {
    const src = readFileSync(join(ROOT, 'testkit/demo/run.ts'), 'utf8');
    const imports = [...src.matchAll(/^import\s.*?['"]([^'"]+)['"];?$/gms)].map((m) => m[1]);
    expect(imports[0]).to.equal('./log-file');
    expect(src).to.not.match(/console\.(log|error|warn)\(`?\s*\$\{JSON\.stringify/);
    for (const line of [
      progressLine({ changes: 0, intents: 0, projected: 0, calls: 0, events: 0 }, 4000),
      progressLine({ changes: 120, intents: 45, projected: 37, calls: 80, events: 12 }, 8000),
    ]) {
      expect(() => JSON.parse(line)).to.throw();
      expect(line).to.not.include('{');
    }
    expect(progressLine({ changes: 120, intents: 45, projected: 37, calls: 80, events: 12 }, 8000)).to.equal(
      '   projected 37/45 intents (120 Odoo changes read, 80 OpenCell calls, 12 sync events)… 8 s',
    );
  });
});
