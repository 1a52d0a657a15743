import type { Kafka, Producer } from 'kafkajs';
import { BrokerUnavailableError } from '../errors.ts';

/** Where Kafka stored a produced message. */
export interface KafkaReceipt {
  readonly partition: number;
  readonly offset: string;
}

/** Produces to Kafka topics; connects on the first send and stays connected. */
export interface KafkaTopicProducer {
  send(topic: string, message: { key: string | null; value: Buffer }): Promise<KafkaReceipt>;
  close(): Promise<void>;
}

export function createKafkaTopicProducer(kafka: Kafka): KafkaTopicProducer {
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;

  const connected = () => {
    connecting ??= (async () => {
      const created = kafka.producer({ allowAutoTopicCreation: true });
      await created.connect();
      producer = created;
      return created;
    })().catch((error: unknown) => {
      connecting = undefined;
      throw new BrokerUnavailableError(`Kafka is not reachable: ${(error as Error).message}`, {
        cause: error,
      });
    });
    return connecting;
  };

  return {
    async send(topic, message) {
      const ready = await connected();
      try {
        const [receipt] = await ready.send({ topic, acks: -1, messages: [message] });
        return { partition: receipt?.partition ?? 0, offset: receipt?.baseOffset ?? '0' };
      } catch (error) {
        throw new BrokerUnavailableError(`Kafka did not accept the message: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },
    async close() {
      connecting = undefined;
      await producer?.disconnect();
      producer = undefined;
    },
  };
}
