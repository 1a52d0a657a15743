import type { EnvReader } from './env-reader.ts';

/** The HTTP server: where it listens, what it accepts, how it stops. */
export interface HttpConfig {
  /** @default 4000 (PORT) */
  readonly port: number;
  /** @default "127.0.0.1" (HOST) */
  readonly host: string;
  /** GraphiQL at /graphql. @default true (GRAPHIQL) */
  readonly graphiql: boolean;
  /** Time allowed for a graceful shutdown. @default 10s (SHUTDOWN_TIMEOUT) */
  readonly shutdownTimeoutMs: number;
  /** Largest HTTP body and WebSocket frame accepted. @default 1 MiB (MAX_PAYLOAD_BYTES) */
  readonly maxPayloadBytes: number;
  /**
   * How often health probes that cost a round trip (the database ping, the Kafka topics check)
   * run; `{ health }` and GET /health answer from the last result. @default 2s (HEALTH_PROBE_INTERVAL)
   */
  readonly healthProbeIntervalMs: number;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export interface LogConfig {
  /** @default "info" (LOG_LEVEL) */
  readonly level: (typeof LOG_LEVELS)[number];
  /** Human-readable output; defaults to on when stdout is a terminal. (LOG_PRETTY) */
  readonly pretty: boolean;
}

/** Deployment name, e.g. "production"; names the Kafka consumer group. @default "development" (STREAMGATE_ENV, else NODE_ENV) */
export function readDeployment(read: EnvReader): string {
  return read.string('STREAMGATE_ENV', read.string('NODE_ENV', 'development'));
}

export function readHttpConfig(read: EnvReader): HttpConfig {
  return {
    port: read.int('PORT', 4000, { min: 0, max: 65535 }),
    host: read.string('HOST', '127.0.0.1'),
    graphiql: read.boolean('GRAPHIQL', true),
    shutdownTimeoutMs: read.duration('SHUTDOWN_TIMEOUT', 10_000),
    maxPayloadBytes: read.bytes('MAX_PAYLOAD_BYTES', 1024 * 1024),
    healthProbeIntervalMs: Math.max(100, read.duration('HEALTH_PROBE_INTERVAL', 2_000)),
  };
}

export function readLogConfig(read: EnvReader, isTerminal: boolean): LogConfig {
  return {
    level: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    pretty: read.boolean('LOG_PRETTY', isTerminal),
  };
}
