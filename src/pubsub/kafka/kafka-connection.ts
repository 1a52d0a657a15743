import { Kafka, type LogEntry, logLevel } from 'kafkajs';
import type { Config } from '../../config/config.ts';
import type { Logger } from '../../log.ts';
import { kafkaSecurity } from './kafka-client.ts';

/**
 * A kafkajs client for the Kafka-sourced topics, logging through pino. Creating it opens no
 * connection; consumers, producers and admins connect when first used.
 */
export function createKafkaConnection(config: Pick<Config, 'broker'>, log: Logger): Kafka {
  const kafkaLog = log.child({ component: 'kafka-topics' });
  return new Kafka({
    clientId: config.broker.kafkaClientId,
    brokers: [...config.broker.kafkaBrokers],
    // TLS and SASL (KAFKA_SSL, KAFKA_SASL_*) hold for every Kafka client of the server.
    ...kafkaSecurity(config.broker.kafka),
    connectionTimeout: 3_000,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...fields } = entry;
        if (level <= logLevel.ERROR) kafkaLog.error(fields, message);
        else if (level === logLevel.WARN) kafkaLog.warn(fields, message);
        else kafkaLog.debug(fields, message);
      },
  });
}
