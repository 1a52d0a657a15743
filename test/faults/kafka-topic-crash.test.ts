/**
 * Kafka-sourced topics (docs/topics.md) on a private Kafka: their consumer is the Broker's
 * consumer feed, with its resume and give-up rules. What a subscriber must see:
 * - Kafka killed (SIGKILL) and started again on the same port and data while a producer writes:
 *   the open subscription gets every record Kafka acknowledged, once, in order per partition,
 *   and a subscription made after the restart works;
 * - a consumer that cannot resume (no fetch answered within the budget while Kafka answers: here
 *   its topic deleted under it) ends the subscription with UNAVAILABLE instead of retrying
 *   forever, and a new subscription works afterwards.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import type { TopicDelivery, TopicMessage } from '../../src/domain/topics/topic-message.ts';
import type { Viewer } from '../../src/domain/viewer.ts';
import { createLogger } from '../../src/log.ts';
import { openKafkaTopicLog } from '../../src/pubsub/kafka/kafka-topic-log.ts';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { startAcknowledgedProducer } from '../helpers/acknowledged-producer.ts';
import { AsyncQueue, waitUntil } from '../helpers/async-queue.ts';
import { startTestApp } from '../helpers/test-app.ts';
import { type PrivateService, startService } from '../setup/services.ts';

const viewer: Viewer = { userId: 'u1', tenantId: 't1', roles: [] };
const suffix = randomUUID().slice(0, 8);
const TICKS = `ticks.${suffix}`;
const DOOMED = `doomed.${suffix}`;
// Kafka takes seconds to come back after a crash (log recovery), its clients to notice, and the
// consumer to rejoin its group.
const CRASH_TEST_TIMEOUT_MS = 360_000;

/** A topic stream read into a queue: messages, and the error it ended with. */
function collect(stream: AsyncIterableIterator<TopicDelivery>) {
  const messages = new AsyncQueue<TopicMessage>();
  const ended = (async () => {
    for await (const delivery of stream) {
      if (delivery.kind === 'failure') return delivery.error;
      messages.push(delivery.message);
    }
    return undefined;
  })();
  return { messages, ended, stop: () => stream.return?.() };
}

/** Writes numbered records one after the other, alternating two partitions; remembers the acknowledged. */
function startProducer(producer: Producer, topic: string) {
  return startAcknowledgedProducer(async (n) => {
    await producer.send({ topic, messages: [{ value: JSON.stringify({ n }), partition: n % 2 }] });
    return [n];
  }, 50);
}

describe('Kafka-sourced topics across a Kafka crash', { timeout: CRASH_TEST_TIMEOUT_MS }, () => {
  let kafkaServer: PrivateService;
  let kafka: Kafka;
  let producer: Producer;
  let dir: string;
  let topicsFile: string;

  beforeAll(async () => {
    kafkaServer = await startService('kafka');
    kafka = new Kafka({
      clientId: 'kafka-topic-crash-test',
      brokers: [kafkaServer.url],
      logLevel: logLevel.NOTHING,
      retry: { retries: 2, maxRetryTime: 1_000 },
      requestTimeout: 5_000,
      connectionTimeout: 2_000,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: TICKS, numPartitions: 2 },
        { topic: DOOMED, numPartitions: 1 },
      ],
      waitForLeaders: true,
    });
    await admin.disconnect();
    producer = kafka.producer({ retry: { retries: 2, maxRetryTime: 1_000 } });
    await producer.connect();
    dir = await mkdtemp(join(tmpdir(), 'streamgate-kafka-crash-'));
    topicsFile = join(dir, 'topics.yaml');
    await writeFile(
      topicsFile,
      `topics:\n  - name: ${TICKS}\n    source: kafka\n  - name: ${DOOMED}\n    source: kafka\n`,
    );
  });
  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await kafkaServer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('after kill -9 and a restart, the open subscription gets every acknowledged record once, in order; a new one works', async () => {
    const server = await startTestApp({
      env: {
        TOPICS_FILE: topicsFile,
        KAFKA_BROKERS: kafkaServer.url,
        KAFKA_CONSUMER_GROUP: `crash-${suffix}`,
      },
    });
    const topics = server.app.services.topics;
    try {
      const open = collect(await topics.subscribe(viewer, [TICKS], null, null));
      const writes = startProducer(producer, TICKS);
      try {
        await waitUntil(() => writes.acknowledged.length >= 50, 30_000, '50 acknowledged records');
        await kafkaServer.crash();
        const before = writes.acknowledged.length;
        await waitUntil(
          () => writes.acknowledged.length >= before + 100,
          120_000,
          '100 more acknowledged records after the restart',
        );
      } finally {
        await writes.stop();
      }
      expect(writes.refusedCount()).toBeGreaterThan(0);

      // Each partition resumes on its own after the restart: wait for every acknowledged record,
      // not only the last one (it may sit in a partition that caught up before the other).
      const received: TopicMessage[] = [];
      const delivered = new Set<number>();
      await waitUntil(
        async () => {
          while (open.messages.pending.length > 0) {
            const message = await open.messages.next();
            received.push(message);
            delivered.add((message.data as { n: number }).n);
          }
          return writes.acknowledged.every((n) => delivered.has(n));
        },
        90_000,
        `the open subscription to receive all ${writes.acknowledged.length} acknowledged records`,
      ).catch(() => undefined); // the assertions below name what is missing
      const numbers = received.map((message) => (message.data as { n: number }).n);
      expect(new Set(numbers).size, 'no duplicates').toBe(numbers.length);
      expect(
        writes.acknowledged.filter((n) => !numbers.includes(n)),
        'acknowledged, never delivered',
      ).toEqual([]);
      for (const partition of [0, 1]) {
        const offsets = received
          .filter((message) => message.partition === partition)
          .map((message) => Number(message.offset));
        expect(offsets, `partition ${partition} in offset order`).toEqual([...offsets].sort((a, b) => a - b));
      }

      const fresh = collect(await topics.subscribe(viewer, [TICKS], null, null));
      await producer.send({ topic: TICKS, messages: [{ value: JSON.stringify({ n: -1 }), partition: 1 }] });
      expect((await fresh.messages.next(30_000, 'a record to the new subscription')).data).toEqual({ n: -1 });
      await open.stop();
      await fresh.stop();
    } finally {
      await server.stop();
    }
  });

  it('a consumer that cannot resume ends the subscription with UNAVAILABLE; a new subscription works', async () => {
    // The budget of the consumer is short here (3 s; max(30 s, BROKER_CONNECT_TIMEOUT) by default).
    const config = loadConfig({});
    const broker = Object.assign(createMemoryBroker(), {
      partitionedLog: (handlers: Parameters<typeof openKafkaTopicLog>[1]) =>
        openKafkaTopicLog(
          {
            brokers: [kafkaServer.url],
            clientId: 'kafka-topic-giveup-test',
            kafka: config.broker.kafka,
            connectTimeoutMs: 10_000,
            reconnectMaxWaitMs: 1_000,
            resumeTimeoutMs: 3_000,
            groupId: `giveup-${suffix}`,
            idleTimeoutMs: 200,
            log: createLogger({ log: { ...config.log, level: 'silent' } }),
          },
          handlers,
        ),
    });
    const server = await startTestApp({ env: { TOPICS_FILE: topicsFile }, broker });
    const topics = server.app.services.topics;
    try {
      const doomed = collect(await topics.subscribe(viewer, [DOOMED], null, null));
      const bystander = collect(await topics.subscribe(viewer, [TICKS], null, null));
      await producer.send({ topic: DOOMED, messages: [{ value: JSON.stringify({ n: 1 }) }] });
      expect((await doomed.messages.next(30_000, 'the first record')).data).toEqual({ n: 1 });

      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [DOOMED] });
      await admin.disconnect();

      const ended = await Promise.race([
        doomed.ended,
        new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), 60_000)),
      ]);
      expect(ended).toMatchObject({ code: 'UNAVAILABLE' });
      expect((ended as Error).message).toContain(`the Kafka consumer of topic "${DOOMED}" gave up`);
      // The consumer gave up on every topic it read: their subscribers end alike.
      expect(await bystander.ended).toMatchObject({ code: 'UNAVAILABLE' });
      await waitUntil(() => topics.activeSubscriptions(DOOMED) === 0, 10_000, 'the subscription to end');

      // Subscribing again (the topic back) reads it afresh.
      const again = collect(await topics.subscribe(viewer, [TICKS], null, null));
      await waitUntil(() => topics.stats().kafka.consumers === 1, 30_000, 'a new consumer');
      await producer.send({
        topic: TICKS,
        messages: [{ value: JSON.stringify({ n: 'again' }), partition: 0 }],
      });
      expect((await again.messages.next(30_000, 'a record after the failure')).data).toEqual({ n: 'again' });
      await again.stop();
    } finally {
      await server.stop();
      await broker.close();
    }
  });
});
