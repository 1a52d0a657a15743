/**
 * Kafka's refusals of a message for good, as the broker layer tells them (pubsub/errors.ts
 * `isPermanentRefusal`), on a real Kafka: a topic whose `max.message.bytes` is below a message.
 * A message sent alone and refused as too large is refused for good (the device outbox moves it
 * to the dead letters instead of retrying it before every newer message of its device). Kafka's
 * limit is on a partition's record batch, so a request of one partition refused as too large is
 * sent again message by message, in order: only the message over the limit is refused.
 *
 * A refused partition must not fail, duplicate or reorder another partition's messages. Kafka
 * writes each partition of a produce request on its own, but kafkajs fails the whole request on
 * one partition's error (and, for an error it retries, sends the whole request again): a request
 * that mixed partitions had the healthy partition's messages written, yet rejected, and the
 * batch's later request (past 1,000 messages) went ahead of them; the device outbox then sent them
 * again, after the later ones. The publisher sends one partition per request (kafka-publisher.ts).
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker, PublishOutcome } from '../../src/pubsub/broker.ts';
import { isPermanentRefusal, MessageTooLargeError } from '../../src/pubsub/errors.ts';
import { decodeKafkaPosition } from '../../src/pubsub/kafka/kafka-position.ts';
import { serviceUrl } from '../setup/services.ts';
import { kafkaBackend, subscribed, text, textOf, uniqueSubject } from './broker-backends.ts';

const TOPIC_MAX_MESSAGE_BYTES = 2_000;
/** More than one produce request's worth (1,000), so the batch spans two requests. */
const BATCH = 1_100;

describe('Kafka publish refusals (real Kafka, a topic with a small max.message.bytes)', () => {
  let broker: Broker;
  let token: string;
  beforeAll(async () => {
    token = uniqueSubject();
    const kafka = new Kafka({
      clientId: 'refusals-test',
      brokers: [serviceUrl('kafka')],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // The topic KAFKA_TOPIC_PREFIX ("streamgate.") + the subject's first token maps to.
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: `streamgate.${token}`,
            numPartitions: 1,
            configEntries: [{ name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) }],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    broker = await kafkaBackend().connect();
  }, 120_000);
  afterAll(() => broker?.close());

  const reasonOf = (outcome: PublishOutcome | undefined): unknown =>
    outcome?.status === 'rejected' ? outcome.reason : undefined;

  it('a message over the topic limit, sent alone, is refused for good; a small one is taken', async () => {
    const subject = `${token}.alone`;
    const refused = await broker.publish(subject, text('x'.repeat(5_000))).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(MessageTooLargeError);
    expect(isPermanentRefusal(refused)).toBe(true);
    expect(String(refused)).toMatch(
      /5000 bytes on ".*alone" is larger than the broker accepts: MESSAGE_TOO_LARGE/,
    );
    await expect(broker.publish(subject, text('small'))).resolves.toMatchObject({
      position: expect.any(String),
    });
  }, 60_000);

  it('a request of one partition refused as too large goes again message by message: only the big one is refused', async () => {
    const subject = `${token}.batch`;
    const payloads = ['a', 'x'.repeat(5_000), 'c'];
    const outcomes = await broker.publishMany(
      payloads.map((payload) => ({ subject, payload: text(payload) })),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(isPermanentRefusal(reasonOf(outcomes[1]))).toBe(true);
    const positions = outcomes.flatMap((outcome) =>
      outcome.status === 'fulfilled' ? [decodeKafkaPosition(outcome.value.position as string)] : [],
    );
    // In order, one after the other, on the topic's one partition.
    const offsets = positions.map((position) => Object.values(Object.values(position.o)[0] ?? {})[0]);
    expect(offsets[1]).toBe((offsets[0] as number) + 1);
  }, 60_000);

  it('a good batch beside a partition refusing a message is taken whole, once and in order', async () => {
    const subject = `${uniqueSubject()}.dev-1`;
    const live = await subscribed(broker.subscribe(subject));
    const payloads = Array.from({ length: BATCH }, (_, index) => `m${index}`);
    // Both in one turn: queued together, as two ingests at the same moment are.
    const [refused, taken] = await Promise.all([
      broker.publish(`${token}.other`, text('x'.repeat(5_000))).then(
        () => undefined,
        (error: unknown) => error,
      ),
      broker.publishMany(payloads.map((payload) => ({ subject, payload: text(payload) }))),
    ]);
    // Sent alone, the big message is refused for good, as itself.
    expect(refused).toBeInstanceOf(MessageTooLargeError);
    expect(new Set(taken.map((outcome) => outcome.status))).toEqual(new Set(['fulfilled']));
    // Exactly once each, in order: a marker published after the batch arrives right after it.
    await broker.publish(subject, text('end'));
    const seen = (await live.messages.take(BATCH + 1, 30_000, 'the batch and the marker')).map(textOf);
    expect(seen).toEqual([...payloads, 'end']);
  }, 90_000);
});
