import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicDelivery, TopicMessage } from '../../src/domain/topics/topic-message.ts';
import type { Viewer } from '../../src/domain/viewer.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { serviceUrl } from '../setup/services.ts';

const viewer: Viewer = { userId: 'u1', tenantId: 't1', roles: ['market_data'] };
const suffix = randomUUID().slice(0, 8);
const prices = `feed.prices.${suffix}`;
const raw = `feed.raw.${suffix}`;

async function take(
  stream: AsyncIterator<TopicDelivery>,
  count: number,
  timeoutMs = 20_000,
): Promise<TopicMessage[]> {
  const taken: TopicMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (taken.length < count) {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      stream.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`only ${taken.length}/${count} messages within ${timeoutMs} ms`)),
          Math.max(1, deadline - Date.now()),
        );
      }),
    ]).finally(() => clearTimeout(timer));
    if (result.done) throw new Error('the stream ended');
    if (result.value.kind === 'failure') throw result.value.error;
    taken.push(result.value.message);
  }
  return taken;
}

describe('Kafka-sourced topics (real Kafka, domain service)', () => {
  let server: TestApp;
  let dir: string;
  let producer: Producer;
  let kafka: Kafka;

  beforeAll(async () => {
    const brokers = serviceUrl('kafka');
    kafka = new Kafka({ clientId: 'test-producer', brokers: [brokers], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: prices, numPartitions: 3 },
        { topic: raw, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();
    dir = await mkdtemp(join(tmpdir(), 'streamgate-kafka-topics-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(
      file,
      `topics:\n  - name: ${prices}\n    source: kafka\n    requiredRoles: [market_data]\n  - name: raw.${suffix}\n    source: kafka\n    kafkaTopic: ${raw}\n`,
    );
    server = await startTestApp({
      env: {
        TOPICS_FILE: file,
        KAFKA_BROKERS: brokers,
        STREAMGATE_ENV: `test-${suffix}`,
        KAFKA_TOPIC_IDLE_TIMEOUT: '200ms',
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await producer?.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  const topics = () => server.app.services.topics;

  it('delivers JSON produced to Kafka with partition and offset, filtered', async () => {
    const all = await topics().subscribe(viewer, [prices], null, null);
    const oil = await topics().subscribe(viewer, [prices], { equals: { commodity: 'oil' } }, null);
    await producer.send({
      topic: prices,
      messages: [
        { key: 'a', value: JSON.stringify({ commodity: 'gas', price: 1 }), partition: 1 },
        { key: 'b', value: JSON.stringify({ commodity: 'oil', price: 2 }), partition: 1 },
      ],
    });
    const [gas, oilFromAll] = await take(all, 2);
    expect(gas).toMatchObject({
      topic: prices,
      key: 'a',
      data: { commodity: 'gas', price: 1 },
      partition: 1,
    });
    expect(oilFromAll?.offset).toBe(String(Number(gas?.offset) + 1));
    const [onlyOil] = await take(oil, 1);
    expect(onlyOil).toMatchObject({ data: { commodity: 'oil' }, partition: 1, offset: oilFromAll?.offset });
    expect(topics().stats().kafka).toMatchObject({ consumers: 1, topics: [prices] });
    await all.return?.();
    await oil.return?.();
  });

  it('delivers values that are not JSON as strings', async () => {
    const stream = await topics().subscribe(viewer, [`raw.${suffix}`], null, null);
    await producer.send({ topic: raw, messages: [{ value: 'not { json' }] });
    const [message] = await take(stream, 1);
    expect(message).toMatchObject({ topic: `raw.${suffix}`, data: 'not { json', partition: 0, offset: '0' });
    await stream.return?.();
  });

  it('resumes after a position: all 100 missed messages, in order, no duplicate, while others keep flowing', async () => {
    const first = await topics().subscribe(viewer, [prices], null, null);
    const bystander = await topics().subscribe(viewer, [prices], null, null);
    await producer.send({ topic: prices, messages: [{ value: JSON.stringify({ n: 0 }), partition: 0 }] });
    const [seen] = await take(first, 1);
    expect((await take(bystander, 1))[0]?.data).toEqual({ n: 0 });
    await first.return?.();

    const messages = Array.from({ length: 100 }, (_, index) => ({
      value: JSON.stringify({ n: index + 1 }),
      partition: index % 3,
    }));
    await producer.send({ topic: prices, messages });
    // The bystander gets them live before the resume rewinds the consumer.
    expect(await take(bystander, 100)).toHaveLength(100);

    const resumed = await topics().subscribe(viewer, [prices], null, seen?.position);
    const replayed = await take(resumed, 100);
    const byPartition = new Map<number, number[]>();
    for (const message of replayed) {
      const list = byPartition.get(message.partition as number) ?? [];
      list.push(Number(message.offset));
      byPartition.set(message.partition as number, list);
    }
    for (const offsets of byPartition.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    const ns = replayed.map((message) => (message.data as { n: number }).n).sort((a, b) => a - b);
    expect(ns).toEqual(Array.from({ length: 100 }, (_, index) => index + 1));

    // Nothing more: the rewind did not hand the bystander duplicates, nor the resumed one.
    await producer.send({ topic: prices, messages: [{ value: JSON.stringify({ n: 101 }), partition: 2 }] });
    expect((await take(resumed, 1))[0]?.data).toEqual({ n: 101 });
    expect((await take(bystander, 1))[0]?.data).toEqual({ n: 101 });
    await resumed.return?.();
    await bystander.return?.();
  });

  it('stops consuming a topic once its last subscriber has gone', async () => {
    await waitUntil(
      () => topics().stats().kafka.topics.length === 0,
      10_000,
      'the consumer to drop its topics',
    );
    expect(topics().stats().kafka.consumers).toBe(0);
  });
});
