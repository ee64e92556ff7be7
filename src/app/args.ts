/**
 * The CLI's argument parsing (Node's `node:util` parseArgs underneath) and help renderer: long options
 * (`--name value`, `--name=value`), boolean flags, repeatable list options (`--id a --id b` or `--id a,b`),
 * positionals, `--`. Every mistake is a UsageError (exit code 2) whose message names the option and says what is
 * expected.
 */
import { parseArgs as nodeParseArgs } from 'node:util';

export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 3, INTERRUPTED: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure the operator must read, not a bug: printed without a stack trace, exit code 1 unless given. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.FAILURE,
  ) {
    super(message);
    this.name = 'CliFailure';
  }
}

export interface OptionSpec {
  name: string;
  /** boolean: a flag; string: one value; list: repeatable, comma-separated values accepted */
  type: 'boolean' | 'string' | 'list';
  valueName?: string;
  description: string;
  /** allowed values (string and list options) */
  choices?: readonly string[];
  short?: string;
}

export interface PositionalSpec {
  name: string;
  required: boolean;
  description: string;
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  positionals: PositionalSpec[];
  options: OptionSpec[];
  /** free text after the option list (examples, notes) */
  details?: string;
  /** accept extra positionals after the declared ones (e.g. `dlq show <id>`) */
  variadic?: boolean;
}

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean | string[] | undefined>;
  help: boolean;
}

const HELP_OPTION: OptionSpec = { name: 'help', type: 'boolean', short: 'h', description: 'show this help' };

/**
 * Parses a command's arguments with Node's own parser (`node:util` parseArgs, docs/decisions/0005-parseargs.md), in
 * its non-strict mode, then checks its tokens against the command's spec so every mistake is a UsageError that names
 * the option (Node's strict errors would not suggest the option meant, nor treat `--to --yes` as a missing value).
 */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h'))
    return { positionals: [], options: {}, help: true };
  const all = [...spec.options, HELP_OPTION];
  const byName = new Map(all.map((o) => [o.name, o]));
  const { tokens } = nodeParseArgs({
    args: [...argv],
    options: Object.fromEntries(
      all.map((o) => [
        o.name,
        {
          type: o.type === 'boolean' ? ('boolean' as const) : ('string' as const),
          multiple: o.type === 'list',
          ...(o.short ? { short: o.short } : {}),
        },
      ]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  let grouped = -1;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const raw = argv[token.index];
    if (!token.rawName.startsWith('--') && !/^-[a-zA-Z]$/.test(raw)) {
      // `-5`, `-abc`: not an option of ours, an argument (Node would read grouped short options)
      if (grouped !== token.index) positionals.push(raw);
      grouped = token.index;
      continue;
    }
    const opt = byName.get(token.name);
    if (!opt || (!token.rawName.startsWith('--') && opt.short !== token.name))
      throw new UsageError(
        token.rawName.startsWith('--')
          ? `unknown option --${token.name}${suggest(token.name, [...byName.keys()])}`
          : `unknown option ${token.rawName}`,
        spec.name,
      );
    if (opt.type === 'boolean') {
      if (token.value !== undefined) {
        if (!/^(true|false)$/.test(token.value))
          throw new UsageError(`--${opt.name} is a flag and takes no value`, spec.name);
        options[opt.name] = token.value === 'true';
      } else options[opt.name] = true;
      continue;
    }
    const value = token.value;
    // the next option is no value: `--to --yes` lacks the value of --to
    if (value === undefined || (!token.inlineValue && value.startsWith('--') && value.length > 2))
      throw new UsageError(
        `--${opt.name} needs a value${opt.valueName ? ` (${opt.valueName})` : ''}`,
        spec.name,
      );
    if (value.trim() === '') throw new UsageError(`--${opt.name} needs a non-empty value`, spec.name);
    if (opt.type === 'string') {
      if (options[opt.name] !== undefined)
        throw new UsageError(`--${opt.name} given more than once`, spec.name);
      checkChoice(opt, value, spec.name);
      options[opt.name] = value;
    } else {
      const values = value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      for (const v of values) checkChoice(opt, v, spec.name);
      options[opt.name] = [...((options[opt.name] as string[] | undefined) ?? []), ...values];
    }
  }
  const required = spec.positionals.filter((p) => p.required);
  if (positionals.length < required.length) {
    const missing = required.slice(positionals.length).map((p) => `<${p.name}>`);
    throw new UsageError(`missing ${missing.join(' ')}`, spec.name);
  }
  if (!spec.variadic && positionals.length > spec.positionals.length) {
    throw new UsageError(`unexpected argument "${positionals[spec.positionals.length]}"`, spec.name);
  }
  spec.positionals.forEach((p, i) => {
    const v = positionals[i];
    if (v !== undefined && p.choices && !p.choices.includes(v)) {
      throw new UsageError(`<${p.name}> must be one of ${p.choices.join(', ')} (got "${v}")`, spec.name);
    }
  });
  return { positionals, options, help: false };
}

function checkChoice(opt: OptionSpec, value: string, command: string): void {
  if (opt.choices && !opt.choices.includes(value)) {
    throw new UsageError(`--${opt.name} must be one of ${opt.choices.join(', ')} (got "${value}")`, command);
  }
}

function suggest(name: string, known: string[]): string {
  const close = known.find((k) => k.startsWith(name) || name.startsWith(k) || levenshtein(k, name) <= 2);
  return close ? ` (did you mean --${close}?)` : '';
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

export function renderHelp(program: string, spec: CommandSpec): string {
  const pos = spec.positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`)).join(' ');
  const lines = [
    `Usage: ${program} ${spec.name}${pos ? ` ${pos}` : ''}${spec.options.length ? ' [options]' : ''}`,
    '',
    spec.summary,
  ];
  if (spec.positionals.length) {
    lines.push('', 'Arguments:');
    for (const p of spec.positionals) lines.push(`  ${pad(`<${p.name}>`, 28)}${p.description}`);
  }
  lines.push('', 'Options:');
  for (const o of [...spec.options, HELP_OPTION]) {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.type === 'boolean' ? '' : ` <${o.valueName ?? 'value'}>`}`;
    lines.push(`  ${pad(flag, 28)}${o.description}${o.type === 'list' ? ' (repeatable)' : ''}`);
  }
  if (spec.details) lines.push('', spec.details.trimEnd());
  return `${lines.join('\n')}\n`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? `${s}  ` : s.padEnd(n);
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

/** The option every command that changes state takes: without it, the command shows its plan and stops. */
export const YES_OPTION: OptionSpec = {
  name: 'yes',
  type: 'boolean',
  description: 'do it (without --yes the command only shows what it would do)',
};

/**
 * Destructive operator commands act only with --yes (developers' guide): without it they refuse with a usage error
 * (exit 2) after having shown their plan, if they have one.
 */
export function requireYes(args: ParsedArgs, command: string, what: string): void {
  if (!flag(args, 'yes'))
    throw new UsageError(`${what}: add --yes to go ahead (--dry-run shows the plan only)`, command);
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.options[name];
  return Array.isArray(v) ? v : [];
}

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [
    headers,
    ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
