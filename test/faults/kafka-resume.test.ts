/**
 * A Kafka subscription that cannot resume ends with UNAVAILABLE instead of retrying forever or
 * going on silently past a loss: records it had not read deleted under it (kafkajs would jump
 * to the end of the partition), or a consumer that gets no fetch answered within the resume
 * budget while Kafka answers (here its topic deleted). A new subscription works afterwards.
 * The budget is short here (resumeTimeoutMs 3 s; max(30 s, BROKER_CONNECT_TIMEOUT) by default).
 * The Kafka-sourced topics' consumer is the same feed: there, deleted records give up only the
 * topic they belong to (kafka-topic-crash.test.ts has its restart and its budget).
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/log.ts';
import type { Broker } from '../../src/pubsub/broker.ts';
import { BrokerUnavailableError } from '../../src/pubsub/errors.ts';
import { KafkaSubjectMapping } from '../../src/pubsub/kafka/kafka-subject-mapping.ts';
import { openKafkaTopicLog } from '../../src/pubsub/kafka/kafka-topic-log.ts';
import type { PartitionRecord } from '../../src/pubsub/partitioned-log.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import {
  kafkaBackend,
  subscribed,
  text,
  textOf,
  uniqueName,
  uniqueSubject,
} from '../pubsub/broker-backends.ts';
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

describe("the Kafka-sourced topics' consumer (the same feed) when records it has not read are deleted", {
  timeout: 120_000,
}, () => {
  it('gives up that topic with UNAVAILABLE naming the offsets; the other topics go on', async () => {
    const config = loadConfig({});
    const kafka = new Kafka({
      clientId: 'kafka-topic-log-test',
      brokers: [serviceUrl('kafka')],
      logLevel: logLevel.NOTHING,
    });
    const [gone, kept] = [uniqueName('gone'), uniqueName('kept')];
    const admin = kafka.admin();
    const producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    const records = new AsyncQueue<PartitionRecord>();
    const failures = new AsyncQueue<{ topics: readonly string[]; error: Error }>();
    const log = openKafkaTopicLog(
      {
        brokers: [serviceUrl('kafka')],
        clientId: 'kafka-topic-log-test',
        kafka: config.broker.kafka,
        connectTimeoutMs: 10_000,
        reconnectMaxWaitMs: 1_000,
        groupId: uniqueName('topic-log'),
        idleTimeoutMs: 200,
        log: createLogger({ log: { ...config.log, level: 'silent' } }),
      },
      {
        onRecord: (record) => records.push(record),
        onFailure: (topics, error) => failures.push({ topics, error }),
      },
    );
    try {
      await admin.createTopics({
        topics: [
          { topic: gone, numPartitions: 1 },
          { topic: kept, numPartitions: 1 },
        ],
        waitForLeaders: true,
      });
      await producer.send({ topic: kept, messages: [{ value: 'k0' }] });
      log.consume(kept, new Map([[0, 0n]]));
      expect((await records.next(60_000, 'the first record of the kept topic')).value?.toString()).toBe('k0');

      // Ten records nobody has read yet, deleted; then the consumer is asked for them.
      await producer.send({
        topic: gone,
        messages: Array.from({ length: 10 }, (_, n) => ({ value: `g${n}` })),
      });
      const [written] = await admin.fetchTopicOffsets(gone);
      expect(written?.high).toBe('10');
      await admin.deleteTopicRecords({
        topic: gone,
        partitions: [{ partition: 0, offset: written?.high as string }],
      });
      log.consume(gone, new Map([[0, 0n]]));
      // Kafka answers the seek to offset 0 with "out of range" and kafkajs jumps to the end: the
      // next record written after that is the first the consumer sees, past the deleted ones.
      let n = 10;
      const writer = setInterval(() => {
        void producer.send({ topic: gone, messages: [{ value: `g${n++}` }] }).catch(() => undefined);
      }, 500);
      const failure = await failures
        .next(60_000, 'the consumer to give the topic up')
        .finally(() => clearInterval(writer));
      expect(failure.topics).toEqual([gone]);
      expect(failure.error).toBeInstanceOf(BrokerUnavailableError);
      expect(failure.error.message).toContain(`records 0..9 of ${gone}[0] were deleted`);
      expect(records.pending.filter((record) => record.topic === gone)).toEqual([]);

      await producer.send({ topic: kept, messages: [{ value: 'k1' }] });
      const next = await records.next(60_000, 'a record of the kept topic after the failure');
      expect({ topic: next.topic, value: next.value?.toString() }).toEqual({ topic: kept, value: 'k1' });
      expect(log.stats().topics).toEqual([kept]);
    } finally {
      await log.close();
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }
  });
});
