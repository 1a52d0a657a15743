import type { Config } from '../config.ts';
import type { Broker } from './broker.ts';
import { createMemoryBroker } from './memory-broker.ts';
import { createNatsBroker } from './nats-broker.ts';
import { createRedisBroker } from './redis-broker.ts';

/** The broker the config names, connected. */
export async function createBroker(config: Pick<Config, 'broker'>): Promise<Broker> {
  const { broker } = config;
  switch (broker.kind) {
    case 'memory':
      return createMemoryBroker();
    case 'nats':
      return createNatsBroker({
        url: broker.natsUrl,
        connectTimeoutMs: broker.connectTimeoutMs,
        reconnectMaxWaitMs: broker.reconnectMaxWaitMs,
        retainStorage: broker.natsRetainStorage,
      });
    case 'redis':
      return createRedisBroker({
        url: broker.redisUrl,
        keyPrefix: broker.redisKeyPrefix,
        connectTimeoutMs: broker.connectTimeoutMs,
        reconnectMaxWaitMs: broker.reconnectMaxWaitMs,
      });
    default:
      throw new Error(`BROKER=${broker.kind} is not available yet`);
  }
}
