/**
 * The Kafka publisher's order when a produce request fails (src/pubsub/kafka/kafka-publisher.ts),
 * with a stand-in producer that fails chosen requests: a Kafka failure that lasts exactly one
 * request cannot be made on demand on a real server. A batch of one partition past one request's
 * 1,000 messages whose first request fails must not have its second request written ahead of it:
 * those messages are rejected as held. Another partition's requests go on. The real-Kafka side of
 * the same publisher: test/pubsub/kafka-publish-refusals.
 */
import type { Message, Producer, ProducerBatch, RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { PublishHeldError } from '../../src/pubsub/errors.ts';
import { KafkaPublisher, type OutgoingMessage } from '../../src/pubsub/kafka/kafka-publisher.ts';
import type { KafkaTopicAdmin } from '../../src/pubsub/kafka/kafka-topic-admin.ts';

/** Two partitions; the key `dev-a` goes to one, `dev-b` to the other (kafkajs's murmur2 partitioner). */
const PARTITIONS = [
  { partitionId: 0, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 },
  { partitionId: 1, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 },
];
const topics = {
  ensureTopics: async () => undefined,
  partitionsOf: async () => PARTITIONS,
} as unknown as KafkaTopicAdmin;

/** Writes what it is sent, except the requests `failing` picks; one partition per request. */
function standInProducer(failing: (request: number, messages: readonly Message[]) => boolean) {
  const written: string[] = [];
  const offsets = new Map<number, number>();
  let requests = 0;
  const producer = {
    async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
      const request = requests++;
      const [{ topic, messages }] = batch.topicMessages as [{ topic: string; messages: Message[] }];
      await new Promise((resolve) => setImmediate(resolve));
      if (failing(request, messages)) throw new Error('injected: the produce request failed');
      const partition = messages[0]?.partition as number;
      const base = offsets.get(partition) ?? 0;
      offsets.set(partition, base + messages.length);
      for (const message of messages) written.push(String(message.value));
      return [{ topicName: topic, partition, errorCode: 0, baseOffset: String(base) }];
    },
  } as unknown as Producer;
  return { producer, written };
}

const message = (key: string, value: string): OutgoingMessage => ({
  topic: 'streamgate.t',
  key,
  value: Buffer.from(value),
  headers: {},
  timestamp: Date.now(),
});

describe('Kafka publisher: a failed produce request holds what waits behind it', () => {
  it('a batch of one partition spanning two requests: the first fails, the second is held, not written', async () => {
    const { producer, written } = standInProducer((request) => request === 0);
    const publisher = new KafkaPublisher(producer, topics);
    const values = Array.from({ length: 1_500 }, (_, index) => `a${index}`);
    const outcomes = await Promise.allSettled(values.map((value) => publisher.publish(message('a', value))));

    expect(outcomes.slice(0, 1_000).every((outcome) => outcome.status === 'rejected')).toBe(true);
    const held = outcomes.slice(1_000);
    expect(
      held.every((outcome) => outcome.status === 'rejected' && outcome.reason instanceof PublishHeldError),
    ).toBe(true);
    expect(written).toEqual([]);

    // The next publish, after the failure was told, goes out.
    await expect(publisher.publish(message('a', 'later'))).resolves.toMatchObject({ offset: 0 });
    expect(written).toEqual(['later']);
  });

  it('another partition of the same moment is written whole, in order', async () => {
    const keys = ['dev-a', 'dev-b'];
    const { producer, written } = standInProducer((_, messages) =>
      String(messages[0]?.value).startsWith('dev-a'),
    );
    const publisher = new KafkaPublisher(producer, topics);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 1_200 }, (_, index) =>
        publisher.publish(message(keys[index % 2] as string, `${keys[index % 2]}${index}`)),
      ),
    );
    const ofB = outcomes.filter((_, index) => index % 2 === 1);
    expect(ofB.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    expect(ofB.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.offset : -1))).toEqual(
      Array.from({ length: 600 }, (_, index) => index),
    );
    expect(written).toEqual(Array.from({ length: 600 }, (_, index) => `dev-b${index * 2 + 1}`));
    expect(
      outcomes.filter((_, index) => index % 2 === 0).every((outcome) => outcome.status === 'rejected'),
    ).toBe(true);
  });
});
