import winston from 'winston';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { currentTrace } from './trace';

/**
 * The one logger. JSON lines when LOG_FORMAT=json or NODE_ENV=production, readable lines on a terminal.
 * Where: stderr, or the file named by LOG_FILE (appended, its folder created; JSON lines unless LOG_FORMAT=pretty),
 * and then nothing on stderr — `npm run demo` sends every component's log lines there and keeps the terminal for
 * its story. A LOG_FILE that cannot be opened is reported in one error line and the logger stays on stderr.
 * Secrets are redacted twice: by key (password, secret, authorization, token…) and by value — every
 * secret the config module loads is registered here with `registerSecret`, and any string that
 * contains one is masked before it leaves the process.
 */
const secrets = new Set<string>();
const SECRET_KEY = /pass(word)?|secret|authorization|token|api[-_]?key|credential/i;
export const REDACTED = '[redacted]';

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 3) secrets.add(value);
}

/** Masks every registered secret (and its Basic-auth base64 forms) inside a string. */
export function redactString(s: string): string {
  let out = s;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** Deep copy with secret-looking keys and registered secret values masked. */
export function redact<T>(value: T, depth = 0): T {
  if (depth > 8) return value;
  if (typeof value === 'string') return redactString(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1)) as unknown as T;
  if (value instanceof Error) {
    return redact(
      { name: value.name, message: value.message, ...(value as object) },
      depth + 1,
    ) as unknown as T;
  }
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1);
    }
    return out as T;
  }
  return value;
}

/** The current trace's id on every line logged while working for it (src/core/trace.ts). */
const traceFormat = winston.format((info) => {
  const trace = currentTrace();
  if (trace && (info as Record<string, unknown>).traceId === undefined)
    (info as Record<string, unknown>).traceId = trace.traceId;
  return info;
});

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = (info as Record<string, unknown>)[key];
    (info as Record<string, unknown>)[key] = SECRET_KEY.test(key) && v ? REDACTED : redact(v);
  }
  if (typeof info.message === 'string') info.message = redactString(info.message);
  return info;
});

/** The logger's settings: the LOG_* variables (read from the process environment when the logger is created). */
export interface LogEnv {
  LOG_LEVEL?: string;
  LOG_FORMAT?: string;
  LOG_FILE?: string;
  NODE_ENV?: string;
}

/**
 * LOG_FILE's stream: each formatted line is appended with a synchronous write, so a line logged just before
 * `process.exit` is in the file (a write stream would still hold it). A write that fails goes to stderr.
 */
function openLogFile(path: string): { stream: Writable; close: () => void } {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a', 0o640);
  let open = true;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        if (open) writeSync(fd, chunk);
        else process.stderr.write(chunk);
      } catch {
        process.stderr.write(chunk);
      }
      done();
    },
  });
  return {
    stream,
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

export interface AppLogger {
  logger: winston.Logger;
  /** The absolute path of the file the logger writes to; null when it writes to stderr. */
  file: string | null;
  /** Closes the file (later lines go to stderr); nothing for stderr. */
  close: () => void;
}

/** Builds the logger from its settings (`logger` below is the process's one, from the environment). */
export function createAppLogger(env: LogEnv, stdoutIsTTY = Boolean(process.stdout.isTTY)): AppLogger {
  const wanted = env.LOG_FILE?.trim() ? resolve(env.LOG_FILE.trim()) : null;
  let opened: ReturnType<typeof openLogFile> | null = null;
  let problem: string | null = null;
  if (wanted) {
    try {
      opened = openLogFile(wanted);
    } catch (e) {
      problem = `LOG_FILE=${env.LOG_FILE}: cannot be written (${(e as Error).message}); logging to stderr`;
    }
  }
  const file = opened ? wanted : null;
  const json =
    env.LOG_FORMAT === 'json'
      ? true
      : env.LOG_FORMAT === 'pretty'
        ? false
        : file !== null || env.NODE_ENV === 'production' || !stdoutIsTTY;
  // winston runs the formats of every line before its transports drop those below their level: a line no transport
  // takes is dropped first, before the redacting deep copy (issue 17: the projector's per-intent info lines at warn)
  const enabled = winston.format((info) => logger.isLevelEnabled(info.level) && info);
  const logger: winston.Logger = winston.createLogger({
    level: env.LOG_LEVEL ?? (env.NODE_ENV === 'test' ? 'warn' : 'info'),
    format: winston.format.combine(
      enabled(),
      traceFormat(),
      redactFormat(),
      winston.format.timestamp(),
      winston.format.errors({ stack: false }),
      json
        ? winston.format.json()
        : winston.format.printf(({ timestamp, level, message, component, ...rest }) => {
            const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
            return `${timestamp} ${level.padEnd(5)} ${component ? `[${component}] ` : ''}${message}${extra}`;
          }),
    ),
    transports: [
      opened
        ? new winston.transports.Stream({ stream: opened.stream })
        : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose'] }),
    ],
  });
  if (problem) logger.error(problem);
  return { logger, file, close: () => opened?.close() };
}

const app = createAppLogger({
  LOG_LEVEL: process.env.LOG_LEVEL,
  LOG_FORMAT: process.env.LOG_FORMAT,
  LOG_FILE: process.env.LOG_FILE,
  NODE_ENV: process.env.NODE_ENV,
});

export const logger = app.logger;

/** Where the process's log lines go: the absolute path of LOG_FILE, or null for stderr. */
export const logFile: string | null = app.file;

/** A child logger for one component (`projections`, `relay`, …). */
/** A component's logger; flows take one in their options (default: componentLogger(name)). */
export type Logger = winston.Logger;

export function componentLogger(component: string): winston.Logger {
  return logger.child({ component });
}
