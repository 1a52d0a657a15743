/**
 * A partition that fails must not fail, duplicate or reorder another partition's messages (real
 * Kafka). The failing partition is a topic whose `max.message.bytes` is below a message. Kafka
 * writes each partition of a produce request on its own, but kafkajs fails the whole request on
 * one partition's error (and, for an error it retries, sends the whole request again): a request
 * that mixed partitions had the healthy partition's messages written, yet rejected, and the batch's
 * later request (past 1,000 messages) went ahead of them; the device outbox then sent them again,
 * after the later ones. The publisher sends one partition per request (kafka-publisher.ts).
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker, PublishOutcome } from '../../src/pubsub/broker.ts';
import { MessageTooLargeError } from '../../src/pubsub/errors.ts';
import { serviceUrl } from '../setup/services.ts';
import { kafkaBackend, subscribed, text, textOf, uniqueSubject } from './broker-backends.ts';

/** More than one produce request's worth (1,000), so the batch spans two requests. */
const BATCH = 1_100;
const TOPIC_MAX_MESSAGE_BYTES = 2_000;

describe('Kafka produce requests of several partitions (real Kafka, one partition failing)', () => {
  let broker: Broker;
  let failing: string;
  beforeAll(async () => {
    failing = uniqueSubject();
    const kafka = new Kafka({
      clientId: 'partitions-test',
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
            topic: `streamgate.${failing}`,
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

  const statuses = (outcomes: readonly PublishOutcome[]) => outcomes.map((outcome) => outcome.status);

  it('a good batch beside a failing partition is taken whole, once and in order', async () => {
    const subject = `${uniqueSubject()}.dev-1`;
    const live = await subscribed(broker.subscribe(subject));
    const payloads = Array.from({ length: BATCH }, (_, index) => `m${index}`);
    // Both in one turn: queued together, as two ingests at the same moment are.
    const [refused, taken] = await Promise.all([
      broker.publish(`${failing}.x`, text('x'.repeat(5_000))).then(
        () => undefined,
        (error: unknown) => error,
      ),
      broker.publishMany(payloads.map((payload) => ({ subject, payload: text(payload) }))),
    ]);
    // Sent alone, the big message is refused for good, as itself.
    expect(refused).toBeInstanceOf(MessageTooLargeError);
    expect(new Set(statuses(taken))).toEqual(new Set(['fulfilled']));

    // Exactly once each, in order: a marker published after the batch arrives right after it.
    await broker.publish(subject, text('end'));
    const seen = (await live.messages.take(BATCH + 1, 30_000, 'the batch and the marker')).map(textOf);
    expect(seen).toEqual([...payloads, 'end']);
  }, 90_000);
});
