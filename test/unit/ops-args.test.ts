import { expect } from 'chai';
import {
  CommandSpec,
  parseArgs,
  renderHelp,
  requireYes,
  table,
  UsageError,
  YES_OPTION,
} from '../../src/app/args';

const spec: CommandSpec = {
  name: 'resync',
  summary: 'reset offsets',
  positionals: [{ name: 'group', required: true, description: 'group id' }],
  options: [
    { name: 'to', type: 'string', description: 'target' },
    { name: 'topic', type: 'list', description: 'topics' },
    { name: 'dry-run', type: 'boolean', description: 'plan only' },
    { name: 'only', type: 'list', choices: ['router', 'projector'], description: 'roles' },
  ],
};

const usage = (argv: string[]) => {
  try {
    parseArgs(argv, spec);
  } catch (e) {
    expect(e).to.be.instanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('ops args parser', () => {
  it('parses positionals, flags, values (both forms) and repeatable lists', () => {
    const a = parseArgs(['g1', '--to', 'earliest', '--topic=a,b', '--topic', 'c', '--dry-run'], spec);
    expect(a.positionals).to.deep.equal(['g1']);
    expect(a.options).to.deep.equal({ to: 'earliest', topic: ['a', 'b', 'c'], 'dry-run': true });
    expect(a.help).to.equal(false);
  });

  it('--help / -h wins over missing arguments', () => {
    expect(parseArgs(['--help'], spec).help).to.equal(true);
    expect(parseArgs(['-h', '--to'], spec).help).to.equal(true);
  });

  it('everything after -- is positional', () => {
    expect(parseArgs(['--', '--weird-group'], spec).positionals).to.deep.equal(['--weird-group']);
  });

  it('reports each kind of mistake clearly', () => {
    expect(usage([])).to.equal('missing <group>');
    expect(usage(['g', 'h'])).to.equal('unexpected argument "h"');
    expect(usage(['g', '--dryrun'])).to.match(/unknown option --dryrun \(did you mean --dry-run\?\)/);
    expect(usage(['g', '--to'])).to.match(/--to needs a value/);
    expect(usage(['g', '--to', '--dry-run'])).to.match(/--to needs a value/);
    expect(usage(['g', '--to', 'a', '--to', 'b'])).to.match(/given more than once/);
    expect(usage(['g', '--only', 'router,cook'])).to.match(
      /--only must be one of router, projector \(got "cook"\)/,
    );
    expect(usage(['g', '--dry-run=maybe'])).to.match(/is a flag/);
    expect(usage(['g', '--to='])).to.match(/non-empty/);
  });

  it('takes a dash-led value, and reads -5 or -abc as arguments, as the hand-written parser did (node:util underneath)', () => {
    expect(parseArgs(['g', '--to', '-5'], spec).options).to.deep.equal({ to: '-5' });
    const variadic = { ...spec, variadic: true };
    expect(parseArgs(['g', '-5', '-abc'], variadic).positionals).to.deep.equal(['g', '-5', '-abc']);
    expect(usage(['g', '-x'])).to.equal('unknown option -x');
    expect(parseArgs(['g', '--dry-run=false'], spec).options).to.deep.equal({ 'dry-run': false });
  });

  it('renders help with arguments and options', () => {
    const h = renderHelp('prog', spec);
    expect(h).to.include('Usage: prog resync <group> [options]');
    expect(h).to.include('--topic <value>').and.include('(repeatable)').and.include('-h, --help');
  });

  it('renders aligned tables with "-" for empty cells', () => {
    expect(
      table(
        ['a', 'bb'],
        [
          ['xxx', null],
          ['y', 2],
        ],
      ),
    ).to.equal('a    bb\nxxx  -\ny    2');
  });
});

describe('--yes on destructive commands', () => {
  it('requireYes refuses with a usage error (exit 2) that says how to go ahead, and passes with --yes', () => {
    const spec = { name: 'resync', summary: '', positionals: [], options: [YES_OPTION] };
    expect(() => requireYes(parseArgs([], spec), 'resync', 'resetting the offsets of g')).to.throw(
      UsageError,
      /resetting the offsets of g: add --yes/,
    );
    expect(() => requireYes(parseArgs(['--yes'], spec), 'resync', 'x')).to.not.throw();
  });
});
