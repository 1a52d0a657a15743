import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs, type WsSubscription } from '../helpers/graphql-ws-client.ts';
import { connectLegacy } from '../helpers/legacy-ws-client.ts';
import { readSse } from '../helpers/sse-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { serviceUrl } from '../setup/services.ts';

// Unique Kafka topics per run of this file: the shared Kafka keeps what earlier runs wrote.
const suffix = randomUUID().slice(0, 8);
const PRICES = `prices.${suffix}`;
const LEDGER = `ledger.${suffix}`;
const DESK = `desk.${suffix}`;
/** A topic whose oldest records the tests delete, as retention would. */
const TRIMMED = `trimmed.${suffix}`;

const TOPIC_MESSAGES = `subscription ($topics: [String!]!, $filter: MessageFilter, $after: String) {
  topicMessages(topics: $topics, filter: $filter, after: $after) { topic key data timestamp partition offset position }
}`;

interface Delivered {
  topic: string;
  key: string | null;
  data: Record<string, unknown>;
  partition: number | null;
  offset: string | null;
  position: string;
}

/** The errors a subscription fails with: as an `error` message, or as a result with errors. */
async function failureOf(
  subscription: WsSubscription,
): Promise<Array<{ message: string; extensions?: Record<string, unknown> }>> {
  const failed = subscription.done.then(
    () => undefined,
    (error: unknown) => error as Array<{ message: string; extensions?: Record<string, unknown> }>,
  );
  const result = await Promise.race([
    subscription.results.next(10_000, 'the failure').catch(() => undefined),
    failed,
  ]);
  if (Array.isArray(result)) return result;
  const errors = (
    result as { errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } | undefined
  )?.errors;
  if (errors) return [...errors];
  return (await failed) ?? [];
}

const messageOf = (result: { data?: Record<string, unknown> | null }) =>
  result.data?.topicMessages as Delivered;

describe('topics fed by Kafka, end to end (real Kafka and Postgres)', () => {
  let server: TestApp;
  let dir: string;
  let kafka: Kafka;
  let producer: Producer;
  let trader: string;
  let publisher: string;
  let noRole: string;
  let otherTenant: string;
  let ws: Client;

  beforeAll(async () => {
    const brokers = serviceUrl('kafka');
    kafka = new Kafka({ clientId: 'topics-test', brokers: [brokers], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: PRICES, numPartitions: 3 },
        { topic: LEDGER, numPartitions: 1 },
        { topic: DESK, numPartitions: 1 },
        { topic: TRIMMED, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();

    dir = await mkdtemp(join(tmpdir(), 'streamgate-topics-kafka-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(
      file,
      [
        'topics:',
        `  - name: ${PRICES}`,
        '    source: kafka',
        '    requiredRoles: [market_data]',
        `  - name: ${LEDGER}`,
        '    source: kafka',
        '    requiredRoles: [market_data]',
        `  - name: ${DESK}`,
        '    source: kafka',
        '    tenants: [tenant-a]',
        `  - name: ${TRIMMED}`,
        '    source: kafka',
        '    requiredRoles: [market_data]',
      ].join('\n'),
    );
    server = await startTestApp({
      database: 'postgres',
      env: authEnv({
        TOPICS_FILE: file,
        KAFKA_BROKERS: brokers,
        STREAMGATE_ENV: `test-${suffix}`,
        FILTER_MAX_TERMS: '4',
      }),
    });
    trader = await signToken({ sub: 'trader', tenantId: 'tenant-a', roles: ['market_data'] });
    publisher = await signToken({ sub: 'feeder', tenantId: 'tenant-a', roles: ['market_data', 'publisher'] });
    noRole = await signToken({ sub: 'guest', tenantId: 'tenant-a', roles: [] });
    otherTenant = await signToken({ sub: 'bob', tenantId: 'tenant-b', roles: ['market_data'] });
    ws = connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${trader}` } }).client;
  });

  afterAll(async () => {
    await ws?.dispose();
    await server?.stop();
    await producer?.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  const topics = () => server.app.services.topics;
  /** Resolves once `count` subscriptions of the topic are live (their start offsets are fixed). */
  /** Resolves once the subscriptions of earlier tests on the topic have ended. */
  const quiet = (topic: string) =>
    waitUntil(() => topics().activeSubscriptions(topic) === 0, 10_000, `no subscriptions left on ${topic}`);
  const live = (topic: string, count: number) =>
    waitUntil(
      () => topics().activeSubscriptions(topic) >= count,
      10_000,
      `${count} subscriptions on ${topic}`,
    );
  const produce = async (topic: string, values: unknown[], partition = 0) => {
    const receipts = await producer.send({
      topic,
      messages: values.map((value) => ({ value: JSON.stringify(value), partition })),
    });
    return receipts[0] as { partition: number; baseOffset: string };
  };

  /** A legacy SSE stream (resumed from `lastEventId` when given) subscribed to `topic`'s batch "sse". */
  async function openLegacySse(topic: string, lastEventId?: string) {
    const controller = new AbortController();
    const stream = readSse(
      await fetch(`${server.url}/sse/stream?token=${trader}`, {
        signal: controller.signal,
        headers: lastEventId ? { 'last-event-id': lastEventId } : {},
      }),
    );
    const { connection_id } = JSON.parse((await stream.events.next()).data) as { connection_id: string };
    const response = await fetch(`${server.url}/sse/subscribe`, {
      method: 'POST',
      headers: { authorization: `Bearer ${trader}` },
      body: new URLSearchParams({ connection_id, topic, filters: JSON.stringify({ batch: 'sse' }) }),
    });
    expect(response.status).toBe(200);
    return { events: stream.events, close: () => controller.abort() };
  }

  it('delivers one Kafka message to graphql-ws, GraphQL over SSE, the legacy socket and the legacy SSE stream, with partition and offset', async () => {
    const before = topics().activeSubscriptions(PRICES);
    const graphqlWs = subscribeWs(ws, TOPIC_MESSAGES, { topics: [PRICES] });

    const sseAbort = new AbortController();
    const graphqlSse = readSse(
      await fetch(`${server.url}/graphql`, {
        method: 'POST',
        signal: sseAbort.signal,
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${trader}`,
        },
        body: JSON.stringify({ query: TOPIC_MESSAGES, variables: { topics: [PRICES] } }),
      }),
    );

    const legacy = await connectLegacy(`${server.url.replace(/^http/, 'ws')}/ws/stream?token=${trader}`);
    await legacy.next('connection_established');
    legacy.send({ action: 'subscribe', data: { topics: [PRICES] } });
    expect(await legacy.next('subscription_confirmed')).toMatchObject({
      success: true,
      subscribed_topics: [PRICES],
    });

    const legacySseAbort = new AbortController();
    const legacySse = readSse(
      await fetch(`${server.url}/sse/stream?token=${trader}`, { signal: legacySseAbort.signal }),
    );
    const { connection_id } = JSON.parse((await legacySse.events.next()).data) as { connection_id: string };
    const subscribed = await fetch(`${server.url}/sse/subscribe?token=${trader}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ connection_id, topic: PRICES }),
    });
    expect(subscribed.status).toBe(200);

    await live(PRICES, before + 4);
    const receipt = await produce(PRICES, [{ commodity: 'oil', price: 81.5 }], 2);
    const expected = { topic: PRICES, data: { commodity: 'oil', price: 81.5 }, partition: 2 };

    const fromWs = messageOf(await graphqlWs.results.next(15_000, 'the graphql-ws message'));
    expect(fromWs).toMatchObject({ ...expected, offset: receipt.baseOffset, position: expect.any(String) });

    const sseEvent = await graphqlSse.events.next(15_000, 'the GraphQL SSE event');
    expect(sseEvent.event).toBe('next');
    expect(messageOf(JSON.parse(sseEvent.data))).toMatchObject({ ...expected, offset: receipt.baseOffset });

    expect(await legacy.next('data', 15_000)).toEqual({
      type: 'data',
      ...expected,
      offset: Number(receipt.baseOffset),
      timestamp: expect.any(Number),
    });

    const legacyEvent = await legacySse.events.next(15_000, 'the legacy SSE data event');
    expect(legacyEvent.event).toBe('data');
    expect(legacyEvent.id).toEqual(expect.any(String));
    expect(JSON.parse(legacyEvent.data)).toMatchObject({ ...expected, offset: Number(receipt.baseOffset) });

    graphqlWs.unsubscribe();
    sseAbort.abort();
    legacySseAbort.abort();
    await legacy.close();
    await waitUntil(
      () => topics().activeSubscriptions(PRICES) === before,
      10_000,
      'the subscriptions to end',
    );

    const stats = (await (await fetch(`${server.url}/stats`)).json()) as {
      kafka: { consumers: number; topics: string[]; messages_consumed: number };
      websocket: { total_messages: number };
      sse: { total_messages: number };
    };
    expect(stats.kafka).toMatchObject({ consumers: 1, topics: expect.arrayContaining([PRICES]) });
    expect(stats.kafka.messages_consumed).toBeGreaterThanOrEqual(1);
    expect(stats.websocket.total_messages).toBeGreaterThanOrEqual(2);
    expect(stats.sse.total_messages).toBeGreaterThanOrEqual(2);
  });

  it('filters: match and no match, nested path, inclusive range, in', async () => {
    await quiet(LEDGER);
    const cases: Array<[string, unknown, number[]]> = [
      ['equals', { equals: { commodity: 'gas' } }, [2, 4]],
      ['nested path', { equals: { 'venue.code': 'NYMEX' } }, [3]],
      ['range', { where: [{ field: 'price', gte: 10, lte: 20 }] }, [1, 2]],
      ['in', { where: [{ field: 'region', in: ['north', 'west'] }] }, [1, 3, 4]],
      ['no match', { equals: { commodity: 'coal' } }, []],
    ];
    const before = topics().activeSubscriptions(LEDGER);
    const subscriptions = new Map<string, WsSubscription>();
    for (const [name, filter] of cases) {
      subscriptions.set(name, subscribeWs(ws, TOPIC_MESSAGES, { topics: [LEDGER], filter }));
    }
    // The last message (n: 99) matches none of the filters above; once its own subscription has
    // it, every earlier message has been dispatched to all of them.
    const sentinelSubscription = subscribeWs(ws, TOPIC_MESSAGES, {
      topics: [LEDGER],
      filter: { where: [{ field: 'n', eq: 99 }] },
    });
    await live(LEDGER, before + cases.length + 1);
    await produce(LEDGER, [
      { n: 1, commodity: 'oil', price: 10, region: 'north', venue: { code: 'ICE' } },
      { n: 2, commodity: 'gas', price: 20, region: 'south', venue: { code: 'ICE' } },
      { n: 3, commodity: 'oil', price: 20.5, region: 'west', venue: { code: 'NYMEX' } },
      { n: 4, commodity: 'gas', price: 9.99, region: 'north' },
      { n: 99 },
    ]);
    expect(messageOf(await sentinelSubscription.results.next(15_000)).data).toEqual({ n: 99 });
    for (const [name, , expected] of cases) {
      const subscription = subscriptions.get(name) as WsSubscription;
      const received: number[] = [];
      for (const _ of expected)
        received.push(messageOf(await subscription.results.next(10_000, name)).data.n as number);
      expect(received, name).toEqual(expected);
      expect(subscription.results.pending, `${name}: nothing else`).toEqual([]);
      subscription.unsubscribe();
    }
    sentinelSubscription.unsubscribe();
  });

  it.each([
    ['an unknown operator', { where: [{ field: 'price', between: 1 }] }, 'between'],
    ['a non-number for gt', { where: [{ field: 'price', gt: 'high' }] }, 'Float'],
    ['a __proto__ path', { equals: { '__proto__.polluted': true } }, '__proto__'],
    ['a constructor path', { where: [{ field: 'a.constructor', exists: true }] }, 'constructor'],
    [
      'more than FILTER_MAX_TERMS terms',
      { equals: { a: 1, b: 2, c: 3 }, where: [{ field: 'd', gt: 1, lt: 5 }] },
      'FILTER_MAX_TERMS',
    ],
  ])('refuses %s with BAD_USER_INPUT', async (_name, filter, mentions) => {
    const subscription = subscribeWs(ws, TOPIC_MESSAGES, { topics: [LEDGER], filter });
    const failure = await failureOf(subscription);
    expect(failure[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(failure[0]?.message).toContain(mentions);
  });

  it('refuses a caller without the role (SUBSCRIPTION_DENIED naming the topic; legacy failed_topics)', async () => {
    const { client } = connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${noRole}` } });
    try {
      const subscription = subscribeWs(client, TOPIC_MESSAGES, { topics: [DESK, PRICES] });
      const failure = await failureOf(subscription);
      expect(failure[0]?.extensions).toMatchObject({ code: 'SUBSCRIPTION_DENIED', topic: PRICES });
      expect(failure[0]?.message).toContain(PRICES);
    } finally {
      await client.dispose();
    }
    const legacy = await connectLegacy(`${server.url.replace(/^http/, 'ws')}/ws/stream?token=${noRole}`);
    await legacy.next('connection_established');
    legacy.send({ action: 'subscribe', data: { topics: [PRICES, DESK] } });
    expect(await legacy.next('subscription_confirmed')).toMatchObject({
      subscribed_topics: [DESK],
      failed_topics: [{ topic: PRICES, error: 'SUBSCRIPTION_DENIED' }],
      success: false,
    });
    await legacy.close();
  });

  it("hides a tenant-restricted topic from another tenant's token", async () => {
    const listed = async (token: string) =>
      (
        (await server.graphql<{ topics: Array<{ name: string }> }>('{ topics { name } }', {}, { token })).data
          ?.topics ?? []
      ).map((topic) => topic.name);
    expect(await listed(trader)).toContain(DESK);
    expect(await listed(otherTenant)).not.toContain(DESK);
    expect(await listed(otherTenant)).toContain(PRICES);
    const one = await server.graphql(
      'query ($name: String!) { topic(name: $name) { name } }',
      { name: DESK },
      {
        token: otherTenant,
      },
    );
    expect(one).toEqual({ data: { topic: null } });

    const legacy = await connectLegacy(`${server.url.replace(/^http/, 'ws')}/ws/stream?token=${otherTenant}`);
    await legacy.next('connection_established');
    legacy.send({ action: 'subscribe', data: { topics: [DESK] } });
    expect(await legacy.next('subscription_confirmed')).toMatchObject({
      failed_topics: [{ topic: DESK, error: 'UNKNOWN_TOPIC' }],
    });
    legacy.send({ action: 'list_topics' });
    expect((await legacy.next('topics')).available_topics).not.toContain(DESK);
    await legacy.close();
  });

  it('resumes graphql-ws with `after`: all 100 missed messages in order, no duplicate', async () => {
    await quiet(LEDGER);
    const first = subscribeWs(ws, TOPIC_MESSAGES, {
      topics: [LEDGER],
      filter: { where: [{ field: 'seq', exists: true }] },
    });
    await live(LEDGER, 1);
    await produce(LEDGER, [{ seq: 0 }]);
    const last = messageOf(await first.results.next(15_000));
    first.unsubscribe();
    await produce(
      LEDGER,
      Array.from({ length: 100 }, (_, index) => ({ seq: index + 1 })),
    );
    const resumed = subscribeWs(ws, TOPIC_MESSAGES, {
      topics: [LEDGER],
      filter: { where: [{ field: 'seq', exists: true }] },
      after: last.position,
    });
    const replayed = await resumed.results.take(100, 20_000, 'the 100 missed messages');
    expect(replayed.map((result) => messageOf(result).data.seq)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    await produce(LEDGER, [{ seq: 101 }]);
    expect(messageOf(await resumed.results.next(15_000)).data.seq).toBe(101);
    resumed.unsubscribe();
  });

  it('resumes the legacy SSE stream with Last-Event-ID: all 100 missed messages in order, no duplicate', async () => {
    await quiet(LEDGER);
    const open = (lastEventId?: string) => openLegacySse(LEDGER, lastEventId);
    const before = topics().activeSubscriptions(LEDGER);
    const first = await open();
    await live(LEDGER, before + 1);
    await produce(LEDGER, [{ batch: 'sse', seq: 0 }]);
    const last = await first.events.next(15_000);
    first.close();
    await produce(
      LEDGER,
      Array.from({ length: 100 }, (_, index) => ({ batch: 'sse', seq: index + 1 })),
    );
    const second = await open(last.id);
    const replayed = await second.events.take(100, 20_000, 'the 100 missed messages');
    expect(replayed.map((event) => (JSON.parse(event.data) as { data: { seq: number } }).data.seq)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    await produce(LEDGER, [{ batch: 'sse', seq: 101 }]);
    expect(JSON.parse((await second.events.next(15_000)).data)).toMatchObject({ data: { seq: 101 } });
    second.close();
  });

  /** Deletes the records of TRIMMED's partition 0 before `offset`, as Kafka's retention does. */
  const trim = async (offset: number) => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      // kafkajs's admin deletes only in topics whose metadata it has loaded.
      await admin.fetchTopicMetadata({ topics: [TRIMMED] });
      await admin.deleteTopicRecords({
        topic: TRIMMED,
        partitions: [{ partition: 0, offset: String(offset) }],
      });
    } finally {
      await admin.disconnect();
    }
  };
  /** Produces `{ seq }` for each number to TRIMMED and returns the offset of the first. */
  const produceTrimmed = async (seqs: number[], batch: string) =>
    Number(
      (
        await produce(
          TRIMMED,
          seqs.map((seq) => ({ batch, seq })),
        )
      ).baseOffset,
    );

  it('`after` older than what Kafka holds is UNAVAILABLE naming the deleted records; oldestPosition goes on from the oldest', async () => {
    await quiet(TRIMMED);
    const filter = { equals: { batch: 'ws' } };
    const first = subscribeWs(ws, TOPIC_MESSAGES, { topics: [TRIMMED], filter });
    await waitUntil(() => topics().activeSubscriptions(TRIMMED) >= 1, 60_000, 'the first subscription');
    const base = await produceTrimmed([0], 'ws');
    const seen = messageOf(await first.results.next(15_000));
    first.unsubscribe();
    await produceTrimmed([1, 2, 3, 4, 5], 'ws');
    // Kafka drops seq 1 and 2 (offsets base+1, base+2) before the client comes back.
    await trim(base + 3);

    const resumed = subscribeWs(ws, TOPIC_MESSAGES, { topics: [TRIMMED], filter, after: seen.position });
    const [error] = await failureOf(resumed);
    expect(error?.extensions?.code).toBe('UNAVAILABLE');
    expect(error?.message).toContain(
      `topic "${TRIMMED}": records ${base + 1}..${base + 2} of ${TRIMMED}[0] (the oldest Kafka holds is offset ${base + 3})`,
    );
    const oldest = error?.extensions?.oldestPosition;
    expect(typeof oldest).toBe('string');

    // The client accepts the gap: it goes on from the oldest record Kafka holds, nothing twice.
    const accepted = subscribeWs(ws, TOPIC_MESSAGES, { topics: [TRIMMED], filter, after: oldest });
    const rest = await accepted.results.take(3, 20_000, 'the records Kafka still holds');
    expect(rest.map((result) => messageOf(result).data.seq)).toEqual([3, 4, 5]);
    accepted.unsubscribe();

    // The good case beside it: a position Kafka still holds resumes without an error.
    const third = messageOf(rest[0] as { data?: Record<string, unknown> | null });
    const again = subscribeWs(ws, TOPIC_MESSAGES, { topics: [TRIMMED], filter, after: third.position });
    const after = await again.results.take(2, 20_000, 'the records after the third');
    expect(after.map((result) => messageOf(result).data.seq)).toEqual([4, 5]);
    again.unsubscribe();
  });

  it('the legacy SSE stream resumed with a Last-Event-ID older than what Kafka holds: an error event naming the deleted records, then the rest', async () => {
    await quiet(TRIMMED);
    const open = (lastEventId?: string) => openLegacySse(TRIMMED, lastEventId);
    const first = await open();
    await waitUntil(() => topics().activeSubscriptions(TRIMMED) >= 1, 60_000, 'the first subscription');
    const base = await produceTrimmed([0], 'sse');
    const last = await first.events.next(15_000);
    first.close();
    await produceTrimmed([1, 2, 3, 4, 5], 'sse');
    await trim(base + 3);

    const second = await open(last.id);
    const gap = await second.events.next(15_000, 'the error event');
    expect(gap.event).toBe('error');
    expect(JSON.parse(gap.data)).toMatchObject({ error: 'UNAVAILABLE', topic: TRIMMED });
    expect(JSON.parse(gap.data).message).toContain(`records ${base + 1}..${base + 2} of ${TRIMMED}[0]`);
    const rest = await second.events.take(3, 20_000, 'the records Kafka still holds');
    expect(rest.map((event) => event.event)).toEqual(['data', 'data', 'data']);
    expect(rest.map((event) => (JSON.parse(event.data) as { data: { seq: number } }).data.seq)).toEqual([
      3, 4, 5,
    ]);
    second.close();
  });

  it('publishes to Kafka with the publisher role, and refuses without it', async () => {
    await quiet(LEDGER);
    const subscription = subscribeWs(ws, TOPIC_MESSAGES, {
      topics: [LEDGER],
      filter: { equals: { via: 'graphql' } },
    });
    await live(LEDGER, 1);
    const published = await server.graphql<{ publish: { accepted: number; position: string } }>(
      'mutation ($data: JSON!) { publish(topic: "' +
        LEDGER +
        '", data: $data, key: "k-1") { accepted position } }',
      { data: { via: 'graphql', n: 1 } },
      { token: publisher },
    );
    expect(published.errors).toBeUndefined();
    expect(published.data?.publish).toEqual({ accepted: 1, position: expect.stringMatching(/^0:\d+$/) });
    const message = messageOf(await subscription.results.next(15_000));
    expect(message).toMatchObject({ key: 'k-1', data: { via: 'graphql', n: 1 }, partition: 0 });
    expect(`0:${message.offset}`).toBe(published.data?.publish.position);
    subscription.unsubscribe();

    const refused = await server.graphql(
      `mutation { publish(topic: "${LEDGER}", data: {via: "graphql"}) { accepted } }`,
      {},
      { token: trader },
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
