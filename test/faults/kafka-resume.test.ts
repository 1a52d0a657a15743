/**
 * A Kafka subscription that cannot resume ends with UNAVAILABLE instead of retrying forever or
 * going on silently past a loss: records it had not read deleted under it (kafkajs would jump
 * to the end of the partition), or a consumer that gets no fetch answered within the resume
 * budget while Kafka answers (here its topic deleted). A new subscription works afterwards.
 * The budget is short here (resumeTimeoutMs 3 s; max(30 s, BROKER_CONNECT_TIMEOUT) by default).
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import type { Broker } from '../../src/pubsub/broker.ts';
import { BrokerUnavailableError } from '../../src/pubsub/errors.ts';
import { KafkaSubjectMapping } from '../../src/pubsub/kafka/kafka-subject-mapping.ts';
import { kafkaBackend, subscribed, text, textOf, uniqueSubject } from '../pubsub/broker-backends.ts';
import { serviceUrl } from '../setup/services.ts';

const RESUME_TIMEOUT_MS = 3_000;

describe('Kafka subscriptions that cannot resume end with UNAVAILABLE', { timeout: 120_000 }, () => {
  const mapping = new KafkaSubjectMapping(loadConfig({}).broker.kafka);
  let kafka: Kafka;
  const opened: Broker[] = [];
  const connect = async () => {
    const broker = await kafkaBackend(() => serviceUrl('kafka'), {
      resumeTimeoutMs: RESUME_TIMEOUT_MS,
    }).connect();
    opened.push(broker);
    return broker;
  };
  beforeAll(() => {
    kafka = new Kafka({
      clientId: 'kafka-resume-test',
      brokers: [serviceUrl('kafka')],
      logLevel: logLevel.NOTHING,
    });
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((broker) => broker.close()));
  });

  /** Deletes every record the topic of `subject` holds now (its log start moves to the end). */
  async function deleteRecords(subject: string): Promise<void> {
    const { topic } = mapping.addressOf(subject);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      await admin.deleteTopicRecords({
        topic,
        partitions: offsets.map(({ partition, high }) => ({ partition, offset: high })),
      });
    } finally {
      await admin.disconnect();
    }
  }

  it('resuming after records that were deleted is UNAVAILABLE naming them; a new subscription works', async () => {
    const broker = await connect();
    const subject = `${uniqueSubject()}.kept`;
    await broker.retain(subject, { maxAgeMs: 600_000 });
    const first = await subscribed(broker.subscribe(subject));
    for (const n of [1, 2, 3]) await broker.publish(subject, text(String(n)));
    const firstMessage = await first.messages.next(30_000, 'the first message');
    expect(textOf(firstMessage)).toBe('1');
    await first.messages.take(2, 30_000, 'the other two');
    await deleteRecords(subject);

    const resumed = broker.subscribe(subject, { from: { after: firstMessage.position as string } });
    const failure = await resumed.ready.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(BrokerUnavailableError);
    expect((failure as Error).message).toMatch(/cannot resume .*records 1\.\.2 of .* are deleted/);
    expect((failure as BrokerUnavailableError).code).toBe('UNAVAILABLE');

    const fresh = await subscribed(broker.subscribe(subject));
    await broker.publish(subject, text('after'));
    expect(textOf(await fresh.messages.next(30_000, 'a message to the new subscription'))).toBe('after');
  });

  it('a subscription whose topic is deleted under it ends with UNAVAILABLE within the budget', async () => {
    const broker = await connect();
    const subject = `${uniqueSubject()}.gone`;
    const live = await subscribed(broker.subscribe(subject));
    await broker.publish(subject, text('before'));
    expect(textOf(await live.messages.next(30_000, 'the first message'))).toBe('before');

    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [mapping.addressOf(subject).topic] });
    await admin.disconnect();

    const ended = await Promise.race([
      live.ended,
      new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), 60_000)),
    ]);
    expect(ended).toBeInstanceOf(BrokerUnavailableError);
  });
});
