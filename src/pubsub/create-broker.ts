import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Broker } from './broker.ts';
import { createKafkaBroker } from './kafka-broker.ts';
import { createMemoryBroker } from './memory-broker.ts';
import { createNatsBroker } from './nats-broker.ts';
import { createRedisBroker } from './redis-broker.ts';

/** The broker the config names, connected; `log` receives the Kafka client's warnings. */
export async function createBroker(config: Pick<Config, 'broker' | 'topics'>, log?: Logger): Promise<Broker> {
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
    case 'kafka':
      return createKafkaBroker({
        brokers: broker.kafkaBrokers,
        clientId: broker.kafkaClientId,
        kafka: broker.kafka,
        groupPrefix: config.topics.kafkaGroupId,
        connectTimeoutMs: broker.connectTimeoutMs,
        reconnectMaxWaitMs: broker.reconnectMaxWaitMs,
        log,
      });
  }
}
