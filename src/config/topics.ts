import type { EnvReader } from './env-reader.ts';

/** Topics: the registry file, filters, Kafka consumption and the legacy stream routes (docs/topics.md). */
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

/** Reads the topics section; `deployment` names the default Kafka consumer group. */
export function readTopicsConfig(read: EnvReader, deployment: string): TopicsConfig {
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
    heartbeatTimeoutMs: read.durationOrSeconds('ACCESS_HEARTBEAT_TIMEOUT', 30_000),
    sseHeartbeatMs: read.duration('SSE_HEARTBEAT_INTERVAL', 15_000),
    statsWindowMs: read.duration('STATS_WINDOW', 60_000),
  };
}
