import { ConfigError, EnvReader } from './env-reader.ts';

export { ConfigError } from './env-reader.ts';

export const BROKER_KINDS = ['memory', 'nats', 'kafka', 'redis'] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

/**
 * The one configuration object of streamgate, built from the environment at start-up.
 * Nothing else reads process.env. Every field's variable and default is listed in the README.
 */
export interface Config {
  /** Deployment name, e.g. "production"; names the Kafka consumer group. @default "development" (STREAMGATE_ENV, else NODE_ENV) */
  readonly env: string;
  /** The package version. */
  readonly version: string;
  /** The source revision, shown by /health. @default "unknown" (GIT_COMMIT) */
  readonly commit: string;
  readonly http: {
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
  };
  readonly database: {
    /** Postgres connection string; unset → embedded PGlite. (DATABASE_URL) */
    readonly url: string | undefined;
    /** Where PGlite keeps its files. @default "./.streamgate/db" (PGLITE_DIR) */
    readonly pgliteDir: string;
  };
  readonly broker: {
    /** @default "memory" (BROKER) */
    readonly kind: BrokerKind;
    /** @default "nats://127.0.0.1:4222" (NATS_URL) */
    readonly natsUrl: string;
    /** @default ["127.0.0.1:9092"] (KAFKA_BROKERS) */
    readonly kafkaBrokers: readonly string[];
    /** @default "streamgate" (KAFKA_CLIENT_ID) */
    readonly kafkaClientId: string;
    /** @default "redis://127.0.0.1:6379" (REDIS_URL) */
    readonly redisUrl: string;
    /** Default timeout of request/reply. @default 5s (BROKER_REQUEST_TIMEOUT) */
    readonly requestTimeoutMs: number;
  };
  readonly log: {
    /** @default "info" (LOG_LEVEL) */
    readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /** Human-readable output; defaults to on when stdout is a terminal. (LOG_PRETTY) */
    readonly pretty: boolean;
  };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Builds the config from an environment; throws ConfigError naming every bad variable. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: { isTerminal?: boolean; version?: string } = {},
): Config {
  const read = new EnvReader(env);
  const config: Config = {
    env: read.string('STREAMGATE_ENV', read.string('NODE_ENV', 'development')),
    version: options.version ?? '0.0.0',
    commit: read.string('GIT_COMMIT', 'unknown'),
    http: {
      port: read.int('PORT', 4000, { min: 0, max: 65535 }),
      host: read.string('HOST', '127.0.0.1'),
      graphiql: read.boolean('GRAPHIQL', true),
      shutdownTimeoutMs: read.duration('SHUTDOWN_TIMEOUT', 10_000),
      maxPayloadBytes: read.bytes('MAX_PAYLOAD_BYTES', 1024 * 1024),
    },
    database: {
      url: read.url('DATABASE_URL', ['postgres', 'postgresql']),
      pgliteDir: read.string('PGLITE_DIR', './.streamgate/db'),
    },
    broker: {
      kind: read.oneOf('BROKER', BROKER_KINDS, 'memory'),
      natsUrl: read.url('NATS_URL', ['nats', 'tls', 'ws', 'wss']) ?? 'nats://127.0.0.1:4222',
      kafkaBrokers: read.list('KAFKA_BROKERS', ['127.0.0.1:9092']),
      kafkaClientId: read.string('KAFKA_CLIENT_ID', 'streamgate'),
      redisUrl: read.url('REDIS_URL', ['redis', 'rediss']) ?? 'redis://127.0.0.1:6379',
      requestTimeoutMs: read.duration('BROKER_REQUEST_TIMEOUT', 5_000),
    },
    log: {
      level: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
      pretty: read.boolean('LOG_PRETTY', options.isTerminal ?? false),
    },
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}
