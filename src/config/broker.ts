import {
  type KafkaBrokerConfig,
  type KafkaConnectionConfig,
  readKafkaBrokerConfig,
  readKafkaConnectionConfig,
} from './broker-kafka.ts';
import { type NatsBrokerConfig, readNatsBrokerConfig } from './broker-nats.ts';
import { type RedisBrokerConfig, readRedisBrokerConfig } from './broker-redis.ts';
import type { EnvReader } from './env-reader.ts';

/** The broker backends; src/pubsub/create-broker.ts builds one of each. */
export const BROKER_KINDS = ['memory', 'nats', 'kafka', 'redis'] as const;
export type BrokerKind = (typeof BROKER_KINDS)[number];

/** Settings every backend shares. */
export interface BrokerCommonConfig {
  /** @default "memory" (BROKER) */
  readonly kind: BrokerKind;
  /** Default timeout of request/reply. @default 5s (BROKER_REQUEST_TIMEOUT) */
  readonly requestTimeoutMs: number;
  /** How long start-up keeps trying to reach the broker before giving up. @default 10s (BROKER_CONNECT_TIMEOUT) */
  readonly connectTimeoutMs: number;
  /**
   * Reconnecting never stops; the delay between attempts doubles from 100 ms up to this.
   * @default 5s (BROKER_RECONNECT_MAX_WAIT)
   */
  readonly reconnectMaxWaitMs: number;
}

/** The broker section: the shared settings and each backend's own (broker-*.ts). */
export interface BrokerConfig
  extends BrokerCommonConfig,
    NatsBrokerConfig,
    RedisBrokerConfig,
    KafkaConnectionConfig {
  /** TLS, SASL and the subject → topic mapping of the Kafka broker. */
  readonly kafka: KafkaBrokerConfig;
}

export function readBrokerConfig(read: EnvReader): BrokerConfig {
  return {
    kind: read.oneOf('BROKER', BROKER_KINDS, 'memory'),
    requestTimeoutMs: read.duration('BROKER_REQUEST_TIMEOUT', 5_000),
    connectTimeoutMs: read.duration('BROKER_CONNECT_TIMEOUT', 10_000),
    reconnectMaxWaitMs: read.duration('BROKER_RECONNECT_MAX_WAIT', 5_000),
    ...readNatsBrokerConfig(read),
    ...readRedisBrokerConfig(read),
    ...readKafkaConnectionConfig(read),
    kafka: readKafkaBrokerConfig(read),
  };
}
