import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const script = readFileSync(join(__dirname, '..', '..', 'scripts', 'stack'), 'utf8');

/**
 * `scripts/stack` serialises up/down/reset with `flock` on fd 9. A long-lived process started while the lock is held
 * inherits fd 9 and keeps the lock for its whole life: every later `stack up` or `down` then waits forever (seen:
 * PostgreSQL restarted for wal_level=logical held it, and the fault suite's Connect restart hung).
 */
describe('scripts/stack: no long-lived process inherits the stack lock', () => {
  it('takes the lock on fd 9', () => {
    expect(script).to.match(/exec 9>"\$RUN\/\.stack\.lock"; flock 9/);
  });

  it('closes fd 9 for every process it leaves running (the JVMs, PostgreSQL)', () => {
    const lines = script.split('\n');
    const starters = lines
      .map((line, i) => ({ line, i }))
      .filter(
        ({ line }) => /nohup |pg_ctlcluster .*\b(start|restart)\b/.test(line) && !line.trim().startsWith('#'),
      );
    expect(starters.length, 'the JVMs and PostgreSQL are started here').to.be.at.least(4);
    for (const { i } of starters) {
      // a command may continue over several lines ending in '\'
      let end = i;
      while (lines[end].trimEnd().endsWith('\\')) end++;
      const command = lines.slice(i, end + 1).join('\n');
      expect(command, `line ${i + 1}`).to.contain('9>&-');
    }
  });
});
