/**
 * The README's settings tables agree with the config spec (src/core/config.ts): every setting a table names exists,
 * and the default it shows — a quoted value, or "empty" — is the one the code applies. The retry settings are
 * documented (docs/decisions/0009-outages-block.md).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSettings } from '../../src/core/config';

const ROOT = join(__dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** Read by the logger when the process starts (src/core/log.ts), not by the config spec. */
const LOGGER_SETTINGS = ['LOG_LEVEL', 'LOG_FORMAT', 'LOG_FILE'];

/** The spec's default of each setting, as its raw text (an entry `KEY: [Codec, 'default']`). */
const DEFAULTS = (() => {
  const src = readFileSync(join(ROOT, 'src', 'core', 'config.ts'), 'utf8');
  const block = /const SPEC = \{([\s\S]*?)\n\} as const/.exec(src)?.[1] ?? '';
  const out = new Map<string, string | undefined>();
  for (const m of block.matchAll(/^\s+([A-Z][A-Z0-9_]+): \[([\s\S]*?)\],?\s*$/gm)) {
    const d = /, (?:'([^']*)'|undefined)\s*$/.exec(m[2]);
    out.set(m[1], d?.[1]);
  }
  return out;
})();

/** Rows `| \`A\`, \`B\` | default | what |` of the README's tables: the settings named and the default cell. */
const ROWS = readme
  .split('\n')
  .map((line) => /^\| ((?:`[A-Z][A-Z0-9_]+`(?:, )?)+) \| ([^|]*) \|/.exec(line))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ names: [...m[1].matchAll(/`([A-Z0-9_]+)`/g)].map((x) => x[1]), cell: m[2].trim() }));

describe('README settings tables and the config spec', () => {
  it('the spec was read: every setting with its default', () => {
    expect(DEFAULTS.size).to.be.greaterThan(60);
    expect(DEFAULTS.get('RETRY_MAX_ATTEMPTS')).to.equal('12');
    expect(ROWS.length).to.be.greaterThan(20);
  });

  it('every setting a table names exists', () => {
    const unknown = ROWS.flatMap((r) => r.names).filter(
      (n) => !DEFAULTS.has(n) && !LOGGER_SETTINGS.includes(n),
    );
    expect(unknown).to.deep.equal([]);
  });

  it('the default a table shows is the spec default ("empty" = empty)', () => {
    const wrong: string[] = [];
    for (const { names, cell } of ROWS) {
      const shown = /^`([^`]*)`/.exec(cell)?.[1] ?? (/^empty\b/.test(cell) ? '' : undefined);
      if (shown === undefined) continue; // described in words
      for (const n of names)
        if (DEFAULTS.has(n) && DEFAULTS.get(n) !== shown)
          wrong.push(`${n}: README ${JSON.stringify(shown)}, spec ${JSON.stringify(DEFAULTS.get(n))}`);
    }
    expect(wrong).to.deep.equal([]);
  });

  it('the retry settings are documented with the defaults the code applies', () => {
    const documented = new Set(ROWS.flatMap((r) => r.names));
    const retry = [...DEFAULTS.keys()].filter((k) => k.startsWith('RETRY_'));
    expect(retry).to.have.members([
      'RETRY_INITIAL_MS',
      'RETRY_MAX_MS',
      'RETRY_MAX_ATTEMPTS',
      'RETRY_GIVE_UP_AFTER_MS',
    ]);
    for (const k of retry) expect(documented.has(k), k).to.equal(true);
    const s = parseSettings({ OPENCELL_PASSWORD: 'x', ODOO_PASSWORD: 'y' });
    expect([
      s.RETRY_INITIAL_MS,
      s.RETRY_MAX_MS,
      s.RETRY_MAX_ATTEMPTS,
      s.RETRY_GIVE_UP_AFTER_MS,
    ]).to.deep.equal([200, 30_000, 12, 0]);
  });
});
