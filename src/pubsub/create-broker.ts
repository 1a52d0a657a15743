import type { Config } from '../config/config.ts';
import type { Logger } from '../log.ts';
import { StartupError } from '../startup-error.ts';
import type { Broker } from './broker.ts';
import { BrokerUnavailableError } from './errors.ts';
import { createKafkaBroker } from './kafka/kafka-broker.ts';
import { openKafkaTopicLog } from './kafka/kafka-topic-log.ts';
import { createMemoryBroker } from './memory/memory-broker.ts';
import { createNatsBroker } from './nats/nats-broker.ts';
import type { OpenPartitionedLog } from './partitioned-log.ts';
import { createRedisBroker } from './redis/redis-broker.ts';

/** The setting that says where each broker is, for start-up failures. */
const ADDRESS_SETTING = { nats: 'NATS_URL', redis: 'REDIS_URL', kafka: 'KAFKA_BROKERS' } as const;

/**
 * The broker the config names, connected, with the Kafka-sourced topics' partitioned log
 * attached; `log` receives the Kafka clients' warnings. A broker
 * still unreachable after BROKER_CONNECT_TIMEOUT is a StartupError naming the settings.
 */
export async function createBroker(config: Pick<Config, 'broker' | 'topics'>, log: Logger): Promise<Broker> {
  let broker: Broker;
  try {
    broker = await connectBroker(config, log);
  } catch (error) {
    if (!(error instanceof BrokerUnavailableError) || config.broker.kind === 'memory') throw error;
    throw new StartupError(
      `BROKER=${config.broker.kind} is unreachable (${ADDRESS_SETTING[config.broker.kind]}; gave up after BROKER_CONNECT_TIMEOUT): ${error.message}`,
      { cause: error },
    );
  }
  // Kafka-sourced topics read Kafka whatever BROKER is (KAFKA_BROKERS, KAFKA_CONSUMER_GROUP).
  const partitionedLog: OpenPartitionedLog = (handlers) =>
    openKafkaTopicLog(
      {
        brokers: config.broker.kafkaBrokers,
        clientId: config.broker.kafkaClientId,
        kafka: config.broker.kafka,
        connectTimeoutMs: config.broker.connectTimeoutMs,
        reconnectMaxWaitMs: config.broker.reconnectMaxWaitMs,
        groupId: config.topics.kafkaGroupId,
        idleTimeoutMs: config.topics.kafkaIdleTimeoutMs,
        log,
      },
      handlers,
    );
  return Object.assign(broker, { partitionedLog });
}

async function connectBroker(config: Pick<Config, 'broker' | 'topics'>, log?: Logger): Promise<Broker> {
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
