/**
 * Hears the project's logger for a test: while attached, every log line (JSON, level info and above) goes to `lines`
 * and the logger's other transports are silent; `detach` puts the logger back as it was.
 */
import { Writable } from 'node:stream';
import winston from 'winston';
import { logger } from '../../src/core/log';

export interface LogCapture {
  readonly lines: Record<string, unknown>[];
  attach(): void;
  detach(): void;
}

export function captureLogLines(): LogCapture {
  const lines: Record<string, unknown>[] = [];
  const transport = new winston.transports.Stream({
    stream: new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
    format: winston.format.json(),
  });
  let restore: (() => void) | undefined;
  return {
    lines,
    attach() {
      const level = logger.level;
      const others = logger.transports.map((t) => [t, t.silent] as const);
      for (const [t] of others) t.silent = true;
      logger.add(transport);
      logger.level = 'info';
      restore = () => {
        logger.remove(transport);
        logger.level = level;
        for (const [t, silent] of others) t.silent = silent;
      };
    },
    detach() {
      restore?.();
      restore = undefined;
    },
  };
}
