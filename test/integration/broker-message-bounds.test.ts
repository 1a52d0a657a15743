/**
 * Messages other producers put on a real broker, out of bounds (nested deeper than
 * MAX_JSON_DEPTH, NUL, an unpaired surrogate): each is dropped with a warning and counted in
 * broker_messages_dropped_total (the sync store's in ism_sync_store_messages_total), the
 * subscriber's stream goes on, and the good message next to them arrives.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { subjects } from '../../src/pubsub/subjects.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { uniqueDevice } from '../helpers/devices.ts';
import { connectWs, subscribeWs, type WsResult } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { natsBackend, redisBackend, text } from '../pubsub/broker-backends.ts';
import { serviceUrl } from '../setup/services.ts';

/** The three ways a message breaks a bound, as raw JSON text (too deep to build with stringify). */
const BAD_MESSAGES = {
  depth: `${'{"a":'.repeat(99_999)}{"a":1}${'}'.repeat(99_999)}`,
  nul: '{"note":"a\\u0000b"}',
  surrogate: '{"note":"\\ud800"}',
} as const;
const REASONS = Object.keys(BAD_MESSAGES) as Array<keyof typeof BAD_MESSAGES>;

async function metricValue(server: TestApp, name: string, labels: string): Promise<number> {
  const metrics = await server.app.services.metrics.registry.metrics();
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const dropped = (server: TestApp, path: string, reason: string) =>
  metricValue(server, 'broker_messages_dropped_total', `path="${path}",reason="${reason}"`);

async function droppedByReason(server: TestApp, path: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const reason of REASONS) counts[reason] = await dropped(server, path, reason);
  return counts;
}

/**
 * Drives one live path: publishes probes until the subscription delivers one (so it is in place),
 * then the three bad messages and a good one; returns every payload delivered up to the good one.
 */
async function badBesideGood(options: {
  readonly client: Client;
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly field: string;
  readonly publish: (payload: string) => Promise<unknown>;
}): Promise<unknown[]> {
  const subscription = subscribeWs(options.client, options.query, options.variables);
  // A result without data (an error) is returned whole, so that the assertion shows it.
  const dataOf = (result: WsResult) =>
    (result.data?.[options.field] as { data: unknown } | undefined)?.data ?? result;
  try {
    let probed = false;
    while (!probed) {
      await options.publish('{"probe":true}');
      const first = await subscription.results.next(500, 'a probe').catch(() => undefined);
      if (first !== undefined) {
        expect(dataOf(first)).toEqual({ probe: true });
        probed = true;
      }
    }
    for (const reason of REASONS) await options.publish(BAD_MESSAGES[reason]);
    await options.publish('{"good":true}');
    const seen: unknown[] = [];
    for (;;) {
      const data = dataOf(
        await subscription.results.next(10_000, `the good message (after ${JSON.stringify(seen)})`),
      );
      seen.push(data);
      if ((data as { good?: boolean }).good) return seen;
    }
  } finally {
    subscription.unsubscribe();
  }
}

/** A graphql-ws client of one user of tenant-a (topics need a token). */
async function tokenClient(server: TestApp): Promise<Client> {
  const token = await signToken({ sub: 'reader', tenantId: 'tenant-a', roles: [] });
  return connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${token}` } }).client;
}

const STATE_STREAM = 'subscription($id: ID!) { stateStream(stateId: $id) { type data } }';
const DEVICE_MESSAGES = 'subscription($id: ID!) { deviceMessages(deviceId: $id) { data } }';
const TOPIC_MESSAGES = 'subscription($topics: [String!]!) { topicMessages(topics: $topics) { data } }';

/**
 * Only probes, then the good message, reached the subscriber; each bad one was counted once on
 * `path` with its reason.
 */
async function expectDroppedBesideGood(
  server: TestApp,
  path: string,
  options: Parameters<typeof badBesideGood>[0],
): Promise<void> {
  const before = await droppedByReason(server, path);
  const seen = await badBesideGood(options);
  expect(seen.at(-1)).toEqual({ good: true });
  for (const data of seen.slice(0, -1)) expect(data).toEqual({ probe: true });
  expect(await droppedByReason(server, path)).toEqual(
    Object.fromEntries(REASONS.map((reason) => [reason, (before[reason] ?? 0) + 1])),
  );
}

describe.each([
  { name: 'NATS', env: () => ({ BROKER: 'nats', NATS_URL: serviceUrl('nats') }), backend: natsBackend },
  { name: 'Redis', env: () => ({ BROKER: 'redis', REDIS_URL: serviceUrl('redis') }), backend: redisBackend },
])('broker messages out of bounds on $name are dropped, the next one delivered', ({ env, backend }) => {
  const topic = `bounds-${randomUUID().slice(0, 8)}`;
  let dir: string;
  let server: TestApp;
  let producer: Broker;
  let client: Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamgate-bounds-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(file, `topics:\n  - name: ${topic}\n    source: broker\n`);
    server = await startTestApp({ env: authEnv({ ...env(), TOPICS_FILE: file }) });
    producer = await backend().connect('bounds-producer');
    client = await tokenClient(server);
  });
  afterAll(async () => {
    await client?.dispose();
    await producer?.close();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const publishOn = (subject: string) => (payload: string) => producer.publish(subject, text(payload));

  it.each([
    { field: 'stateStream', path: 'state', query: STATE_STREAM, subject: subjects.state },
    { field: 'deviceMessages', path: 'device', query: DEVICE_MESSAGES, subject: subjects.monitor },
  ])('$field', async ({ field, path, query, subject }) => {
    const id = uniqueDevice(`bounds-${path}`);
    await expectDroppedBesideGood(server, path, {
      client,
      query,
      variables: { id },
      field,
      // The reader is tenant-a's: its objects are on tenant-a's subjects.
      publish: publishOn(subject('tenant-a', id)),
    });
  });

  it('topicMessages of a broker topic', async () => {
    await expectDroppedBesideGood(server, 'topic', {
      client,
      query: TOPIC_MESSAGES,
      variables: { topics: [topic] },
      field: 'topicMessages',
      publish: publishOn(subjects.topic(topic)),
    });
  });

  it('the sync store persists the good message and rejects the bad ones, counted as unbounded', async () => {
    const stateId = uniqueDevice('bounds-sync');
    // The sync store writes the network's states, which are the default tenant's (no tenant).
    const token = await signToken({ sub: 'writer', tenantId: null, roles: ['writer'] });
    const created = await server.graphql(
      `mutation { createState(input: { id: "${stateId}" }) { id } }`,
      {},
      { token },
    );
    expect(created).toEqual({ data: { createState: { id: stateId } } });
    const rejected = () =>
      metricValue(server, 'ism_sync_store_messages_total', 'result="rejected",reason="unbounded"');
    const entries = async () => {
      const answer = await server.graphql<{ stateEntries: { edges: Array<{ node: { data: unknown } }> } }>(
        'query($id: ID!) { stateEntries(stateId: $id) { edges { node { data } } } }',
        { id: stateId },
        { token },
      );
      return answer.data?.stateEntries.edges.map((edge) => edge.node.data) ?? [];
    };
    const direct = (entry: string) =>
      `{"type":"query_state_direct","state_id":"${stateId}","query_state":[${entry}]}`;
    const publish = publishOn(server.config.ism.syncStoreSubject);
    // The consumer's queue subscription may still be settling: probe until one is persisted.
    await waitUntil(
      async () => {
        if ((await entries()).length > 0) return true;
        await publish(direct('{"probe":true}'));
        return false;
      },
      15_000,
      'a probe persisted by the sync store',
    );
    const probes = (await entries()).length;
    const before = await rejected();
    for (const reason of REASONS) await publish(direct(BAD_MESSAGES[reason]));
    await publish(direct('{"good":true}'));
    await waitUntil(async () => (await entries()).length > probes, 10_000, 'the good entry');
    await waitUntil(async () => (await rejected()) === before + REASONS.length, 5_000, 'three rejections');
    const stored = await entries();
    expect(stored.filter((data) => (data as { good?: boolean }).good)).toEqual([{ good: true }]);
    for (const data of stored) expect([{ probe: true }, { good: true }]).toContainEqual(data);
  });
});

describe('records of a Kafka-sourced topic out of bounds are dropped, the next one delivered', () => {
  const suffix = randomUUID().slice(0, 8);
  const topic = `bounds-kafka-${suffix}`;
  let dir: string;
  let server: TestApp;
  let kafka: Kafka;
  let producer: Producer;
  let client: Client;

  beforeAll(async () => {
    kafka = new Kafka({
      clientId: 'bounds-test',
      brokers: [serviceUrl('kafka')],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();
    dir = await mkdtemp(join(tmpdir(), 'streamgate-bounds-kafka-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(file, `topics:\n  - name: ${topic}\n    source: kafka\n`);
    server = await startTestApp({
      env: authEnv({
        TOPICS_FILE: file,
        KAFKA_BROKERS: serviceUrl('kafka'),
        STREAMGATE_ENV: `bounds-${suffix}`,
      }),
    });
    client = await tokenClient(server);
  }, 120_000);
  afterAll(async () => {
    await client?.dispose();
    await producer?.disconnect();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('topicMessages', async () => {
    await expectDroppedBesideGood(server, 'topic', {
      client,
      query: TOPIC_MESSAGES,
      variables: { topics: [topic] },
      field: 'topicMessages',
      publish: (value) => producer.send({ topic, messages: [{ value }] }),
    });
  }, 60_000);
});
