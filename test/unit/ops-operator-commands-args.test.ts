/**
 * The operators' force-iban and compensate commands refuse bad arguments before they read anything (exit 2, one
 * line naming the option), and name what they do in their help.
 */
import { expect } from 'chai';
import { main, type CliIo } from '../../src/app/cli';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (s) => (out += s), err: (s) => (err += s), env: {}, isTTY: false };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('CLI: force-iban and compensate arguments', () => {
  const base = ['compensate', 'SC-1', '--description', 'Outage', '--key', 'k-1'];

  it('compensate needs exactly one of --amount or --days with --monthly-price', async () => {
    expect((await run(...base)).err).to.contain('give either --amount <EUR> or --days <n>');
    expect((await run(...base, '--amount', '1', '--days', '2')).code).to.equal(2);
    expect((await run(...base, '--days', '2')).err).to.contain('--days needs --monthly-price');
    expect((await run(...base, '--days', '2.5', '--monthly-price', '10')).err).to.contain(
      'whole number of days',
    );
    expect((await run(...base, '--amount', '1', '--monthly-price', '10')).err).to.contain(
      '--monthly-price goes with --days',
    );
  });

  it('compensate refuses a non-positive or malformed amount, a bad date, a malformed key, --wait with --no-wait', async () => {
    for (const amount of ['0', '-3', '1,5', 'abc'])
      expect((await run(...base, '--amount', amount)).code, amount).to.equal(2);
    expect((await run(...base, '--amount', '0.00001')).err).to.contain('rounds to 0');
    expect((await run(...base, '--amount', '1', '--date', '2024-02-30')).err).to.contain(
      '--date must be a day',
    );
    expect(
      (await run('compensate', 'SC-1', '--amount', '1', '--description', 'x', '--key', 'a b')).code,
    ).to.equal(2);
    expect((await run('compensate', 'SC-1', '--amount', '1', '--key', 'k')).err).to.contain('--description');
    const both = await run(...base, '--amount', '1', '--wait', '5', '--no-wait', '--yes');
    expect(both.code).to.equal(2);
    expect(both.err).to.contain('either --wait <seconds> or --no-wait');
  });

  it('compensate documents that it waits for the outcome by default (the wizard answered at once) and that a run without --key is one charge', async () => {
    const h = await run('compensate', '--help');
    expect(h.out)
      .to.contain('--no-wait')
      .and.contain('default 60 s')
      .and.contain('so each run is one charge');
  });

  it('force-iban and compensate are listed and document --yes, --dry-run and --wait', async () => {
    const help = await run('--help');
    expect(help.out).to.contain('force-iban').and.contain('compensate');
    for (const cmd of ['force-iban', 'compensate']) {
      const h = await run(cmd, '--help');
      expect(h.code).to.equal(0);
      expect(h.out).to.contain('--yes').and.contain('--dry-run').and.contain('--wait');
    }
    const wait = await run('force-iban', 'SC-1', '--wait', 'soon', '--yes');
    expect(wait.code).to.equal(2);
    expect(wait.err).to.contain('--wait must be a positive number of seconds');
  });
});
