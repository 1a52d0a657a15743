import { type AuthConfig, readAuthConfig } from './auth-config.ts';
import { ConfigError, EnvReader } from './env-reader.ts';
import { type KafkaBrokerConfig, readKafkaBrokerConfig } from './kafka-broker-config.ts';
import { type LimitsConfig, readLimitsConfig } from './limits-config.ts';
import { assertSubject } from './pubsub/subject-pattern.ts';
import { subjects } from './pubsub/subjects.ts';

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
    /**
     * How often health probes that cost a round trip (the database ping, the Kafka topics check)
     * run; `{ health }` and GET /health answer from the last result. @default 2s (HEALTH_PROBE_INTERVAL)
     */
    readonly healthProbeIntervalMs: number;
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
    /** How long start-up keeps trying to reach the broker before giving up. @default 10s (BROKER_CONNECT_TIMEOUT) */
    readonly connectTimeoutMs: number;
    /**
     * Reconnecting never stops; the delay between attempts doubles from 100 ms up to this.
     * @default 5s (BROKER_RECONNECT_MAX_WAIT)
     */
    readonly reconnectMaxWaitMs: number;
    /** Prefix of the keys and internal channels streamgate uses in Redis. @default "streamgate:" (REDIS_KEY_PREFIX) */
    readonly redisKeyPrefix: string;
    /** Where JetStream keeps the retained windows: `file` survives a NATS restart. @default "file" (NATS_RETAIN_STORAGE) */
    readonly natsRetainStorage: 'file' | 'memory';
    /** TLS, SASL and the subject → topic mapping of the Kafka broker. */
    readonly kafka: KafkaBrokerConfig;
  };
  readonly topics: TopicsConfig;
  /** The ISM network: states, entries, the sync store, the state router (docs/ism.md). */
  readonly ism: {
    /** YAML routing table loaded into the routes table at start-up; unset = none. (ROUTING_FILE) */
    readonly routingFile: string | undefined;
    /** How long a state or the routing table read from the database is reused. @default 10s (STATE_CACHE_TTL) */
    readonly stateCacheTtlMs: number;
    /** Where the sync store consumes `query_state_direct`. @default "processor.state.sync" (SYNC_STORE_SUBJECT) */
    readonly syncStoreSubject: string;
    /** Most entries one publish may carry. @default 10000 (STATE_MAX_ENTRIES) */
    readonly maxEntries: number;
    /** Largest single entry, as JSON. @default 64 KiB (STATE_MAX_ENTRY_BYTES) */
    readonly maxEntryBytes: number;
    /**
     * Largest message a publish may put on the broker (all entries in one `query_state_entry`);
     * NATS refuses messages over its max_payload, 1 MiB by default. @default 1 MiB (STATE_MAX_MESSAGE_BYTES)
     */
    readonly maxMessageBytes: number;
    /** How often the outbox relay retries messages that could not be published. @default 1s (OUTBOX_RETRY_INTERVAL) */
    readonly outboxRetryIntervalMs: number;
    /** Ping interval of the legacy /ws/stream sockets; a client that misses a pong is closed. @default 30s (STREAM_WS_PING_INTERVAL) */
    readonly streamPingIntervalMs: number;
  };
  /** Identity and mutation roles (issue 4): src/auth-config.ts, docs/auth.md. */
  readonly auth: AuthConfig;
  /** Device telemetry: HTTP monitor ingest, buffer windows, recordings (docs/devices.md). */
  readonly devices: {
    /** Accept unauthenticated monitor ingest (as ApiGear Streams did) into `publicTenant`. @default false (MONITOR_PUBLIC) */
    readonly monitorPublic: boolean;
    /** The tenant that unauthenticated devices belong to when MONITOR_PUBLIC is on; unset = no tenant. (MONITOR_TENANT) */
    readonly publicTenant: string | null;
    /** Largest body of POST /monitor/{device}. @default MAX_PAYLOAD_BYTES (MONITOR_MAX_BODY_BYTES) */
    readonly maxBodyBytes: number;
    /** The buffer window a device gets when first seen, and setBufferWindow without a window; "off" = none. @default 5m (BUFFER_WINDOW_DEFAULT) */
    readonly bufferWindowDefaultMs: number | null;
    /** The largest buffer window setBufferWindow accepts. @default 1h (BUFFER_WINDOW_MAX) */
    readonly bufferWindowMaxMs: number;
    /** How long a stopped recording is kept when startRecording names no retention. @default 24h (RECORDING_RETENTION_DEFAULT) */
    readonly retentionDefaultMs: number;
    /** How often expired recordings are deleted. @default 1m (RECORDING_SWEEP_INTERVAL) */
    readonly sweepIntervalMs: number;
    /** Answer the legacy record RPC on `streams.record.rpc`. @default true (RECORD_RPC) */
    readonly recordRpc: boolean;
  };
  /** Data sources: request/reply between requesters and connected providers (docs/datasources.md). */
  readonly dataSources: {
    /**
     * How long one provider may take to answer a request before it is skipped and the next
     * provider is tried (once). @default 5s (DATASOURCE_PROVIDER_TIMEOUT)
     */
    readonly providerTimeoutMs: number;
    /** Largest `timeoutMs` that queryDataSource accepts. @default 60s (DATASOURCE_MAX_TIMEOUT) */
    readonly maxTimeoutMs: number;
    /**
     * Ping interval of the legacy /ws/ds sockets; a provider that has not answered the previous
     * ping by the next one is dropped. @default 30s (DATASOURCE_WS_PING_INTERVAL)
     */
    readonly pingIntervalMs: number;
  };
  /** Connections, rates, documents, client buffers (issue 4): src/limits-config.ts, docs/limits.md. */
  readonly limits: LimitsConfig;
  readonly log: {
    /** @default "info" (LOG_LEVEL) */
    readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
    /** Human-readable output; defaults to on when stdout is a terminal. (LOG_PRETTY) */
    readonly pretty: boolean;
  };
}

/** Topics (issue 6): the registry file, filters, Kafka consumption and the legacy stream routes. */
export interface TopicsConfig {
  /** YAML file whose topics are written to the registry at start-up; unset leaves the registry as it is. (TOPICS_FILE) */
  readonly file: string | undefined;
  /** Most conditions one MessageFilter may hold (equality keys plus predicate operators). @default 20 (FILTER_MAX_TERMS) */
  readonly filterMaxTerms: number;
  /** Roles of which a caller needs one to `publish` to a topic. @default ["publisher"] (TOPIC_PUBLISHER_ROLES) */
  readonly publisherRoles: readonly string[];
  /** How long the broker keeps messages of BROKER topics so that `after` can resume them. @default 5m (TOPIC_RETENTION) */
  readonly brokerRetentionMs: number;
  /** What one subscription may hold undelivered before it is ended as too slow. @default 8 MiB (TOPIC_SUBSCRIBER_BUFFER) */
  readonly subscriberBufferBytes: number;
  /** Kafka consumer group of this deployment. @default "streamgate-{env}" (KAFKA_CONSUMER_GROUP) */
  readonly kafkaGroupId: string;
  /** Where a subscription without `after` starts on a Kafka topic: only new messages, or all retained. @default "latest" (KAFKA_AUTO_OFFSET_RESET) */
  readonly kafkaOffsetReset: 'latest' | 'earliest';
  /** How long a Kafka topic keeps being consumed after its last subscriber left. @default 30s (KAFKA_TOPIC_IDLE_TIMEOUT) */
  readonly kafkaIdleTimeoutMs: number;
  /** A legacy WebSocket client that sends nothing for this long is closed. @default 30s (ACCESS_HEARTBEAT_TIMEOUT; a bare number is seconds) */
  readonly heartbeatTimeoutMs: number;
  /** Interval of the heartbeat comment on legacy SSE streams. @default 15s (SSE_HEARTBEAT_INTERVAL) */
  readonly sseHeartbeatMs: number;
  /** Window over which /stats computes messages_per_second. @default 60s (STATS_WINDOW) */
  readonly statsWindowMs: number;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Builds the config from an environment; throws ConfigError naming every bad variable. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: { isTerminal?: boolean; version?: string } = {},
): Config {
  const read = new EnvReader(env);
  const deployment = read.string('STREAMGATE_ENV', read.string('NODE_ENV', 'development'));
  const host = read.string('HOST', '127.0.0.1');
  const maxPayloadBytes = read.bytes('MAX_PAYLOAD_BYTES', 1024 * 1024);
  const config: Config = {
    env: deployment,
    version: options.version ?? '0.0.0',
    commit: read.string('GIT_COMMIT', 'unknown'),
    http: {
      port: read.int('PORT', 4000, { min: 0, max: 65535 }),
      host,
      graphiql: read.boolean('GRAPHIQL', true),
      shutdownTimeoutMs: read.duration('SHUTDOWN_TIMEOUT', 10_000),
      maxPayloadBytes,
      healthProbeIntervalMs: Math.max(100, read.duration('HEALTH_PROBE_INTERVAL', 2_000)),
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
      connectTimeoutMs: read.duration('BROKER_CONNECT_TIMEOUT', 10_000),
      reconnectMaxWaitMs: read.duration('BROKER_RECONNECT_MAX_WAIT', 5_000),
      redisKeyPrefix: read.string('REDIS_KEY_PREFIX', 'streamgate:'),
      natsRetainStorage: read.oneOf('NATS_RETAIN_STORAGE', ['file', 'memory'] as const, 'file'),
      kafka: readKafkaBrokerConfig(read),
    },
    topics: readTopicsConfig(read, env, deployment),
    ism: {
      routingFile: read.optionalString('ROUTING_FILE'),
      stateCacheTtlMs: read.duration('STATE_CACHE_TTL', 10_000),
      syncStoreSubject: read.string('SYNC_STORE_SUBJECT', subjects.defaultSyncStore),
      maxEntries: read.int('STATE_MAX_ENTRIES', 10_000, { min: 1 }),
      maxEntryBytes: read.bytes('STATE_MAX_ENTRY_BYTES', 64 * 1024),
      maxMessageBytes: read.bytes('STATE_MAX_MESSAGE_BYTES', 1024 * 1024),
      outboxRetryIntervalMs: read.duration('OUTBOX_RETRY_INTERVAL', 1_000),
      streamPingIntervalMs: read.duration('STREAM_WS_PING_INTERVAL', 30_000),
    },
    auth: readAuthConfig(read, host),
    devices: readDevicesConfig(read, maxPayloadBytes),
    dataSources: {
      providerTimeoutMs: read.duration('DATASOURCE_PROVIDER_TIMEOUT', 5_000),
      maxTimeoutMs: read.duration('DATASOURCE_MAX_TIMEOUT', 60_000),
      pingIntervalMs: read.duration('DATASOURCE_WS_PING_INTERVAL', 30_000),
    },
    limits: readLimitsConfig(read),
    log: {
      level: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
      pretty: read.boolean('LOG_PRETTY', options.isTerminal ?? false),
    },
  };
  if (!isValidSubject(config.ism.syncStoreSubject)) {
    read.report(
      'SYNC_STORE_SUBJECT',
      config.ism.syncStoreSubject,
      'a broker subject such as processor.state.sync',
    );
  }
  for (const [variable, ms] of [
    ['DATASOURCE_PROVIDER_TIMEOUT', config.dataSources.providerTimeoutMs],
    ['DATASOURCE_MAX_TIMEOUT', config.dataSources.maxTimeoutMs],
    ['DATASOURCE_WS_PING_INTERVAL', config.dataSources.pingIntervalMs],
  ] as const) {
    if (ms <= 0) read.report(variable, env[variable] ?? '', 'a duration above zero');
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

function readTopicsConfig(
  read: EnvReader,
  env: Readonly<Record<string, string | undefined>>,
  deployment: string,
): TopicsConfig {
  return {
    file: read.optionalString('TOPICS_FILE'),
    filterMaxTerms: read.int('FILTER_MAX_TERMS', 20, { min: 1, max: 1000 }),
    publisherRoles: read.list('TOPIC_PUBLISHER_ROLES', ['publisher']),
    brokerRetentionMs: read.duration('TOPIC_RETENTION', 5 * 60_000),
    subscriberBufferBytes: read.bytes('TOPIC_SUBSCRIBER_BUFFER', 8 * 1024 * 1024),
    kafkaGroupId: read.string('KAFKA_CONSUMER_GROUP', `streamgate-${deployment}`),
    kafkaOffsetReset: read.oneOf('KAFKA_AUTO_OFFSET_RESET', ['latest', 'earliest'] as const, 'latest'),
    kafkaIdleTimeoutMs: read.duration('KAFKA_TOPIC_IDLE_TIMEOUT', 30_000),
    // The old service took whole seconds here; a duration is accepted too.
    heartbeatTimeoutMs: /^\d+$/.test(env.ACCESS_HEARTBEAT_TIMEOUT?.trim() ?? '')
      ? Number(env.ACCESS_HEARTBEAT_TIMEOUT) * 1000
      : read.duration('ACCESS_HEARTBEAT_TIMEOUT', 30_000),
    sseHeartbeatMs: read.duration('SSE_HEARTBEAT_INTERVAL', 15_000),
    statsWindowMs: read.duration('STATS_WINDOW', 60_000),
  };
}

function isValidSubject(subject: string): boolean {
  try {
    assertSubject(subject);
    return true;
  } catch {
    return false;
  }
}
function readDevicesConfig(read: EnvReader, maxPayloadBytes: number): Config['devices'] {
  const bufferWindowMaxMs = read.duration('BUFFER_WINDOW_MAX', 3_600_000);
  const defaultWindow = read.raw('BUFFER_WINDOW_DEFAULT');
  const bufferWindowDefaultMs =
    defaultWindow !== undefined && /^(off|none|0)$/i.test(defaultWindow)
      ? null
      : read.duration('BUFFER_WINDOW_DEFAULT', 300_000);
  if (bufferWindowDefaultMs !== null && bufferWindowDefaultMs > bufferWindowMaxMs) {
    read.report(
      'BUFFER_WINDOW_DEFAULT',
      defaultWindow ?? '5m',
      'a duration no longer than BUFFER_WINDOW_MAX',
    );
  }
  const sweepIntervalMs = read.duration('RECORDING_SWEEP_INTERVAL', 60_000);
  if (sweepIntervalMs < 100) {
    read.report('RECORDING_SWEEP_INTERVAL', read.raw('RECORDING_SWEEP_INTERVAL') ?? '', 'at least 100ms');
  }
  const monitorPublic = read.boolean('MONITOR_PUBLIC', false);
  return {
    monitorPublic,
    publicTenant: read.optionalString('MONITOR_TENANT') ?? null,
    maxBodyBytes: read.raw('MONITOR_MAX_BODY_BYTES')
      ? read.bytes('MONITOR_MAX_BODY_BYTES', maxPayloadBytes)
      : maxPayloadBytes,
    bufferWindowDefaultMs,
    bufferWindowMaxMs,
    retentionDefaultMs: read.duration('RECORDING_RETENTION_DEFAULT', 86_400_000),
    sweepIntervalMs,
    recordRpc: read.boolean('RECORD_RPC', true),
  };
}
