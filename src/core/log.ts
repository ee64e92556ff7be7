import winston from 'winston';

/**
 * The one logger. JSON lines when LOG_FORMAT=json or NODE_ENV=production, readable lines on a terminal.
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

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = (info as Record<string, unknown>)[key];
    (info as Record<string, unknown>)[key] = SECRET_KEY.test(key) && v ? REDACTED : redact(v);
  }
  if (typeof info.message === 'string') info.message = redactString(info.message);
  return info;
});

function useJson(): boolean {
  const f = process.env.LOG_FORMAT;
  if (f === 'json') return true;
  if (f === 'pretty') return false;
  return process.env.NODE_ENV === 'production' || !process.stdout.isTTY;
}

export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info'),
  format: winston.format.combine(
    redactFormat(),
    winston.format.timestamp(),
    winston.format.errors({ stack: false }),
    useJson()
      ? winston.format.json()
      : winston.format.printf(({ timestamp, level, message, component, ...rest }) => {
          const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
          return `${timestamp} ${level.padEnd(5)} ${component ? `[${component}] ` : ''}${message}${extra}`;
        }),
  ),
  transports: [
    new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose'] }),
  ],
});

/** A child logger for one component (`projections`, `relay`, …). */
/** A component's logger; flows take one in their options (default: componentLogger(name)). */
export type Logger = winston.Logger;

export function componentLogger(component: string): winston.Logger {
  return logger.child({ component });
}
