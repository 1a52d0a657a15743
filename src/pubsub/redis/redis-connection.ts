import { Redis } from 'ioredis';
import { ConnectionHealth, reconnectDelayMs } from '../connection-health.ts';
import { BrokerUnavailableError } from '../errors.ts';
import { redactUrl } from '../redact-url.ts';

export interface RedisConnectionOptions {
  readonly url: string;
  /** Shown by CLIENT LIST. */
  readonly name: string;
  readonly connectTimeoutMs: number;
  readonly reconnectMaxWaitMs: number;
  /**
   * `commands` fail at once while disconnected: a publisher (HTTP ingest answering 503, for
   * one) must know now. A `subscriber` connection queues its SUBSCRIBEs until it is back.
   */
  readonly role: 'commands' | 'subscriber';
}

/** An ioredis client that reconnects forever, and its health as a BrokerHealth. */
export interface TrackedRedis {
  readonly redis: Redis;
  readonly health: ConnectionHealth;
}

/**
 * Opens one Redis connection, retrying until `connectTimeoutMs`; afterwards ioredis reconnects
 * forever with a doubling delay and resubscribes the channels of a subscriber connection.
 */
export async function connectRedis(options: RedisConnectionOptions): Promise<TrackedRedis> {
  const health = new ConnectionHealth();
  let everReady = false;
  const redis = new Redis(options.url, {
    connectionName: options.name,
    lazyConnect: true,
    enableOfflineQueue: options.role === 'subscriber',
    maxRetriesPerRequest: options.role === 'subscriber' ? null : 0,
    autoResubscribe: true,
    retryStrategy: (times) => reconnectDelayMs(times, options.reconnectMaxWaitMs),
  });
  redis.on('ready', () => {
    everReady = true;
    health.connected();
  });
  redis.on('close', () => {
    if (everReady) health.lost(new Error('connection to Redis lost'));
  });
  redis.on('reconnecting', () => health.attempting());
  redis.on('end', () => health.closed());
  // ioredis emits every connection failure; without a listener Node would throw it.
  redis.on('error', (error: Error) => health.failed(error));

  try {
    await waitUntilReady(redis, options.connectTimeoutMs);
  } catch (error) {
    redis.disconnect();
    throw new BrokerUnavailableError(
      `cannot reach Redis at ${redactUrl(options.url)} within ${options.connectTimeoutMs} ms: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return { redis, health };
}

function waitUntilReady(redis: Redis, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let lastError: Error | undefined;
    const onError = (error: Error) => {
      lastError = error;
    };
    const timer = setTimeout(() => {
      redis.off('error', onError);
      reject(lastError ?? new Error('timed out'));
    }, timeoutMs);
    redis.on('error', onError);
    redis.once('ready', () => {
      clearTimeout(timer);
      redis.off('error', onError);
      resolve();
    });
    // connect() rejects on the first failed attempt, but the retry strategy keeps going.
    redis.connect().catch(onError);
  });
}
