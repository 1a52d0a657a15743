import type { Admin, Producer } from 'kafkajs';
import type { KafkaBrokerConfig } from '../../config/broker-kafka.ts';
import type { Logger } from '../../log.ts';
import { brokerUnavailable } from '../errors.ts';
import type { PartitionedLog, PartitionedLogHandlers } from '../partitioned-log.ts';
import { createKafkaClient, createKafkaProducer } from './kafka-client.ts';
import { KafkaPublisher } from './kafka-publisher.ts';
import { KafkaTopicAdmin } from './kafka-topic-admin.ts';
import { createKafkaTopicConsumer } from './topic-consumer.ts';

export interface KafkaTopicLogOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** TLS, SASL and topic creation (KAFKA_SSL, KAFKA_SASL_*, KAFKA_AUTO_CREATE_TOPICS, …). */
  readonly kafka: KafkaBrokerConfig;
  readonly reconnectMaxWaitMs: number;
  /** The instance's consumer group (KAFKA_CONSUMER_GROUP). */
  readonly groupId: string;
  /** How long a released topic keeps being read (KAFKA_TOPIC_IDLE_TIMEOUT). */
  readonly idleTimeoutMs: number;
  readonly log: Logger;
}

/**
 * The Kafka-sourced topics on the one Kafka stack: the client factory, producer and publisher
 * of the Kafka broker, and the instance's one shared consumer (topic-consumer.ts). Nothing
 * connects until first used, so a server without Kafka topics never dials Kafka.
 */
export function openKafkaTopicLog(
  options: KafkaTopicLogOptions,
  handlers: PartitionedLogHandlers,
): PartitionedLog {
  const kafka = createKafkaClient({
    brokers: options.brokers,
    clientId: options.clientId,
    security: options.kafka,
    reconnectMaxWaitMs: options.reconnectMaxWaitMs,
    log: options.log,
    component: 'kafka-topics',
  });
  const consumer = createKafkaTopicConsumer({
    kafka,
    groupId: options.groupId,
    idleTimeoutMs: options.idleTimeoutMs,
    log: options.log.child({ component: 'kafka-topics' }),
    onRecord: handlers.onRecord,
    onConsumed: handlers.onConsumed,
  });
  let writer: Promise<{ publisher: KafkaPublisher; producer: Producer; admin: Admin }> | undefined;

  const connectedWriter = () => {
    writer ??= (async () => {
      const producer = createKafkaProducer(kafka);
      const admin = kafka.admin();
      try {
        await Promise.all([producer.connect(), admin.connect()]);
      } catch (error) {
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
        throw error;
      }
      const topics = new KafkaTopicAdmin(admin, {
        autoCreate: options.kafka.autoCreateTopics,
        partitions: options.kafka.topicPartitions,
        replicationFactor: options.kafka.replicationFactor,
      });
      return { publisher: new KafkaPublisher(producer, topics), producer, admin };
    })().catch((error: unknown) => {
      writer = undefined;
      throw brokerUnavailable('Kafka is not reachable', error);
    });
    return writer;
  };

  return {
    watermarks: (topic) => consumer.watermarks(topic),
    consume: (topic, from) => consumer.consume(topic, from),
    release: (topic) => consumer.release(topic),
    stats: () => consumer.stats(),
    check: () => consumer.check(),

    async send(topic, message) {
      const { publisher } = await connectedWriter();
      try {
        const written = await publisher.publish({
          topic,
          key: message.key,
          value: message.value,
          headers: {},
          timestamp: Date.now(),
        });
        return { partition: written.partition, offset: String(written.offset) };
      } catch (error) {
        throw brokerUnavailable('Kafka did not accept the message', error);
      }
    },

    async close() {
      await consumer.close();
      const opened = await writer?.catch(() => undefined);
      writer = undefined;
      if (!opened) return;
      opened.publisher.abandon(brokerUnavailable('Kafka-sourced topics are closed', 'closing'));
      await Promise.allSettled([opened.producer.disconnect(), opened.admin.disconnect()]);
    },
  };
}
