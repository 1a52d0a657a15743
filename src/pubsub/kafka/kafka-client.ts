import {
  type Admin,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs';
import type { KafkaBrokerConfig } from '../../config/broker-kafka.ts';
import type { Logger } from '../../log.ts';
import { ConnectionHealth, reconnectDelayMs } from '../connection-health.ts';
import { BrokerUnavailableError } from '../errors.ts';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly security: Pick<KafkaBrokerConfig, 'ssl' | 'sasl'>;
  readonly reconnectMaxWaitMs: number;
  /** kafkajs warnings and errors go here; none when absent. */
  readonly log?: Logger;
  /** The `component` of those log lines. @default "kafka-broker" */
  readonly component?: string;
}

/** TLS and SASL for kafkajs from the config, shared by every Kafka client of the server. */
function kafkaSecurity(config: Pick<KafkaBrokerConfig, 'ssl' | 'sasl'>): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const { sasl } = config;
  return {
    ssl: config.ssl,
    ...(sasl
      ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } }
      : {}),
  } as Pick<KafkaConfig, 'ssl' | 'sasl'>;
}

/**
 * Whether kafkajs says trying again may work (a coordinator still loading, a leader moving,
 * a connection refused), also when its own retries gave up on such an error.
 */
export function isRetriableKafkaError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    if ((current as { retriable?: unknown }).retriable === true) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Runs a start-up step until it succeeds, retrying retriable Kafka errors with the doubling
 * delay until `deadline` (ms since the epoch); then, or on any other error, throws the last.
 */
export async function retryUntilDeadline<T>(
  step: () => Promise<T>,
  deadline: number,
  maxWaitMs: number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const wait = reconnectDelayMs(attempt, maxWaitMs);
      if (!isRetriableKafkaError(error) || Date.now() + wait > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** A kafkajs client whose own retries back off up to the reconnect limit. */
export function createKafkaClient(options: KafkaClientOptions, retries = 8): Kafka {
  const log = options.log?.child({ component: options.component ?? 'kafka-broker' });
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...kafkaSecurity(options.security),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, maxRetryTime: options.reconnectMaxWaitMs, retries },
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        if (!log) return;
        const { message, ...fields } = entry;
        if (level <= logLevel.ERROR) log.error(fields, message);
        else log.warn(fields, message);
      },
  });
}

/**
 * The one producer shape of the server (the Broker and Kafka-sourced topics): few retries, so
 * a write during an outage fails in seconds instead of hanging; one request in flight, which
 * keeps each key's order; topics are created by KafkaTopicAdmin, not by the produce request.
 * KafkaPublisher picks partitions with this same partitioner; naming it also silences kafkajs's
 * warning about its v2 default.
 */
export function createKafkaProducer(kafka: Kafka): Producer {
  return kafka.producer({
    allowAutoTopicCreation: false,
    maxInFlightRequests: 1,
    retry: { retries: 3 },
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

/**
 * Kafka clients connect per request and have no connection state of their own to report, so
 * health is asked: a metadata request every second while connected, and with a doubling delay
 * while Kafka is unreachable (each one counts as a reconnect attempt).
 */
export class KafkaHealthMonitor {
  readonly health = new ConnectionHealth();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private readonly admin: Admin) {}

  /** Connects and waits for Kafka to answer, up to `connectTimeoutMs`. */
  static async start(
    options: KafkaClientOptions & { connectTimeoutMs: number },
  ): Promise<KafkaHealthMonitor> {
    // No retries of its own: every failed probe is one attempt of ours.
    const admin = createKafkaClient({ ...options, log: undefined }, 0).admin();
    const monitor = new KafkaHealthMonitor(admin);
    const deadline = Date.now() + options.connectTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.connect();
        await admin.describeCluster();
        break;
      } catch (error) {
        const wait = reconnectDelayMs(attempt, options.reconnectMaxWaitMs);
        if (Date.now() + wait > deadline) {
          await admin.disconnect().catch(() => undefined);
          throw new BrokerUnavailableError(
            `cannot reach Kafka at ${options.brokers.join(',')} within ${options.connectTimeoutMs} ms: ${(error as Error).message}`,
            { cause: error },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    monitor.schedule(1_000, options.reconnectMaxWaitMs);
    return monitor;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.health.closed();
    await this.admin.disconnect().catch(() => undefined);
  }

  private schedule(delayMs: number, maxWaitMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.probe(maxWaitMs), delayMs);
    this.timer.unref();
  }

  private async probe(maxWaitMs: number): Promise<void> {
    try {
      await this.admin.describeCluster();
      this.health.connected();
      this.schedule(1_000, maxWaitMs);
    } catch (error) {
      if (this.stopped) return;
      if (this.health.current.status === 'connected') this.health.lost(error);
      this.health.attempting(error);
      this.schedule(reconnectDelayMs(this.health.attempt, maxWaitMs), maxWaitMs);
    }
  }
}
