import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { Config } from './config/config.ts';

export type { Logger } from 'pino';

/** The root logger: JSON lines, or pino-pretty when the config asks for human output. */
export function createLogger(config: Pick<Config, 'log'>): Logger {
  return pino({
    level: config.log.level,
    base: { service: 'streamgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Tokens must never reach the log, whatever a caller passes along.
    redact: {
      paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'],
      censor: '[redacted]',
    },
    ...(config.log.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}

/** A correlation id for a request or a connection; it appears in the log and in masked errors. */
export function newCorrelationId(): string {
  return randomUUID();
}
