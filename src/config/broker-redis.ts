import type { EnvReader } from './env-reader.ts';

/** The Redis backend (BROKER=redis). */
export interface RedisBrokerConfig {
  /** @default "redis://127.0.0.1:6379" (REDIS_URL) */
  readonly redisUrl: string;
  /** Prefix of the keys and internal channels streamgate uses in Redis. @default "streamgate:" (REDIS_KEY_PREFIX) */
  readonly redisKeyPrefix: string;
}

export function readRedisBrokerConfig(read: EnvReader): RedisBrokerConfig {
  return {
    redisUrl: read.url('REDIS_URL', ['redis', 'rediss']) ?? 'redis://127.0.0.1:6379',
    redisKeyPrefix: read.string('REDIS_KEY_PREFIX', 'streamgate:'),
  };
}
