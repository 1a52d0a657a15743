/**
 * Data sources (legacy.md A, docs/datasources.md): plain NATS requesters on `datasource.{ds}` are
 * answered by providers connected as `/ws/ds/{ds}` sockets (raw `ws`) or as GraphQL
 * `dataSourceRequests` subscribers (graphql-ws, SSE); queryDataSource goes through the broker.
 * Every case runs with two streamgate instances sharing one Postgres and one broker: real NATS
 * (requests from a plain NATS client), real Redis and the embedded memory broker (requests through
 * the Broker interface).
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { AsyncQueue, waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs, type WsResult } from '../helpers/graphql-ws-client.ts';
import { connectRaw, type RawWsClient } from '../helpers/raw-ws-client.ts';
import { readSse } from '../helpers/sse-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { createTestDatabase, serviceUrl } from '../setup/services.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PROVIDER_TIMEOUT_MS = 600;

const SUBSCRIBE = `subscription Provide($id: ID!) {
  dataSourceRequests(id: $id) { id dataSourceId operation query deadline }
}`;
const ANSWER = `mutation Answer($requestId: ID!, $result: JSON, $error: String, $answerId: ID) {
  answerDataSource(requestId: $requestId, result: $result, error: $error, answerId: $answerId)
}`;
const QUERY = `query Ask($id: ID!, $query: JSON!, $timeoutMs: Int) {
  queryDataSource(id: $id, query: $query, timeoutMs: $timeoutMs)
}`;
const LIST = '{ dataSources { id connectedProviders } }';

type Json = Record<string, unknown>;

interface GraphqlRequest {
  id: string;
  dataSourceId: string;
  operation: string | null;
  query: unknown;
  deadline: string;
}

/** A requester on the network, as a legacy processor is one: it sends on any subject. */
interface NetworkRequester {
  requestOn(subject: string, body: unknown, timeoutMs?: number): Promise<Json>;
  close(): Promise<void>;
}

/** A requester of the default tenant's data sources, on their legacy subjects `datasource.{ds}`. */
interface Requester extends NetworkRequester {
  request(dataSourceId: string, body: unknown, timeoutMs?: number): Promise<Json>;
}

interface Backend {
  readonly kind: 'nats' | 'redis' | 'memory';
  /** Environment and shared dependencies of both instances. */
  setup(): Promise<{ env: Record<string, string>; shared: Parameters<typeof startTestApp>[0] }>;
  requester(app: TestApp): Promise<NetworkRequester>;
}

/** A requester on the Broker interface of an instance (Redis, memory: no plain client). */
function brokerRequester(app: TestApp): NetworkRequester {
  const { broker } = app.app.services;
  return {
    async requestOn(subject, body, timeoutMs = 5_000) {
      const reply = await broker.request(subject, Buffer.from(JSON.stringify(body)), { timeoutMs });
      return JSON.parse(Buffer.from(reply.payload).toString('utf8')) as Json;
    },
    close: async () => undefined,
  };
}

const backends: Backend[] = [
  {
    kind: 'nats',
    setup: async () => ({
      env: { BROKER: 'nats', NATS_URL: serviceUrl('nats'), DATABASE_URL: await createTestDatabase() },
      shared: {},
    }),
    async requester() {
      const nc: NatsConnection = await connect({ servers: serviceUrl('nats') });
      return {
        async requestOn(subject, body, timeoutMs = 5_000) {
          const reply = await nc.request(subject, JSON.stringify(body), { timeout: timeoutMs });
          return reply.json<Json>();
        },
        close: () => nc.close(),
      };
    },
  },
  {
    kind: 'redis',
    setup: async () => ({
      env: { BROKER: 'redis', REDIS_URL: serviceUrl('redis'), DATABASE_URL: await createTestDatabase() },
      shared: {},
    }),
    requester: async (app) => brokerRequester(app),
  },
  {
    kind: 'memory',
    setup: async () => ({
      env: { DATABASE_URL: await createTestDatabase() },
      shared: { broker: createMemoryBroker() },
    }),
    requester: async (app) => brokerRequester(app),
  },
];

const uniqueDataSource = () => `ds-${randomUUID().slice(0, 8)}`;

describe.each(backends)('data sources on $kind', (backend) => {
  let appA: TestApp;
  let appB: TestApp;
  let requester: Requester;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    const { env, shared } = await backend.setup();
    const options = {
      ...shared,
      env: {
        ...env,
        DATASOURCE_PROVIDER_TIMEOUT: `${PROVIDER_TIMEOUT_MS}ms`,
        DATASOURCE_MAX_TIMEOUT: '10s',
        DATASOURCE_WS_PING_INTERVAL: '300ms',
      },
    };
    appA = await startTestApp(options);
    appB = await startTestApp(options);
    const network = await backend.requester(appA);
    requester = {
      ...network,
      request: (dataSourceId, body, timeoutMs) =>
        network.requestOn(`datasource.${dataSourceId}`, body, timeoutMs),
    };
  });

  afterAll(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await requester?.close();
    await Promise.all([appA?.stop(), appB?.stop()]);
    if (backend.kind === 'memory') await appA?.app.services.broker.close();
  });

  /** A /ws/ds provider, closed after the suite. */
  async function legacyProvider(app: TestApp, dataSourceId: string, options?: { autoPong?: boolean }) {
    const client = await connectRaw(`${app.url.replace(/^http/, 'ws')}/ws/ds/${dataSourceId}`, options);
    cleanups.push(() => client.close());
    return client;
  }

  /** A graphql-ws provider that answers over its own socket. */
  function graphqlProvider(app: TestApp, dataSourceId: string) {
    const { client } = connectWs(app.wsUrl);
    cleanups.push(() => client.dispose());
    const subscription = subscribeWs(client, SUBSCRIBE, { id: dataSourceId });
    return {
      client,
      subscription,
      async nextRequest(): Promise<GraphqlRequest> {
        const result = await subscription.results.next(5_000, 'a data source request');
        return (result.data as { dataSourceRequests: GraphqlRequest }).dataSourceRequests;
      },
      answer: (variables: Json) => execute(client, ANSWER, variables),
    };
  }

  async function providersOn(app: TestApp, dataSourceId: string): Promise<number> {
    const result = await app.graphql<{ dataSources: Array<{ id: string; connectedProviders: number }> }>(
      LIST,
    );
    return result.data?.dataSources.find((source) => source.id === dataSourceId)?.connectedProviders ?? 0;
  }

  function waitForProviders(app: TestApp, dataSourceId: string, count: number): Promise<void> {
    return waitUntil(
      async () => (await providersOn(app, dataSourceId)) === count,
      5_000,
      `${count} provider(s) of ${dataSourceId}`,
    );
  }

  describe('a plain requester on datasource.{ds}', () => {
    it('gets the answer of a /ws/ds provider, in the shapes of legacy.md A', async () => {
      const ds = uniqueDataSource();
      const provider = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);

      const reply = requester.request(ds, {
        id: 'req-1',
        processId: 'proc-7',
        operation: 'lookup',
        payload: [1, 2],
      });
      const frame = await provider.nextJson();
      expect(frame).toEqual({ id: expect.stringMatching(UUID), operation: 'lookup', payload: [1, 2] });
      expect(Object.keys(frame).sort()).toEqual(['id', 'operation', 'payload']);

      provider.send({ id: 'answer-9', payload: [{ value: 3 }], requestId: frame.id });
      expect(await reply).toEqual({
        id: 'answer-9',
        payload: [{ value: 3 }],
        requestId: 'req-1',
        processId: 'proc-7',
      });
    });

    it('gets the answer of a GraphQL provider (graphql-ws, answering with answerDataSource)', async () => {
      const ds = uniqueDataSource();
      const provider = graphqlProvider(appA, ds);
      await waitForProviders(appA, ds, 1);

      const reply = requester.request(ds, {
        id: 'req-2',
        processId: 'proc-1',
        operation: 'sum',
        payload: [4, 5],
      });
      const request = await provider.nextRequest();
      expect(request).toEqual({
        id: expect.stringMatching(UUID),
        dataSourceId: ds,
        operation: 'sum',
        query: [4, 5],
        deadline: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      });
      expect(Date.parse(request.deadline)).toBeGreaterThan(Date.now());

      expect(await provider.answer({ requestId: request.id, result: [9], answerId: 'gql-answer-1' })).toEqual(
        {
          data: { answerDataSource: true },
        },
      );
      expect(await reply).toEqual({
        id: 'gql-answer-1',
        payload: [9],
        requestId: 'req-2',
        processId: 'proc-1',
      });

      // Without answerId the reply still carries an id of its own.
      const second = requester.request(ds, { id: 'req-3', operation: 'sum', payload: [] });
      const next = await provider.nextRequest();
      await provider.answer({ requestId: next.id, result: { total: 0 } });
      expect(await second).toEqual({
        id: expect.stringMatching(UUID),
        payload: { total: 0 },
        requestId: 'req-3',
      });
    });

    it('passes a provider error on to the requester', async () => {
      const ds = uniqueDataSource();
      const provider = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const reply = requester.request(ds, { id: 'req-e', processId: 'p', operation: 'x', payload: [] });
      const frame = await provider.nextJson();
      provider.send({ id: 'a-1', requestId: frame.id, error: 'table locked' });
      expect(await reply).toEqual({
        id: 'a-1',
        payload: null,
        error: 'table locked',
        requestId: 'req-e',
        processId: 'p',
      });
    });

    it('gets NO_PROVIDER at once when no provider is connected', async () => {
      const ds = uniqueDataSource();
      const started = Date.now();
      const reply = await requester.request(
        ds,
        { id: 'req-none', processId: 'p-1', operation: 'x', payload: [] },
        10_000,
      );
      expect(reply).toEqual({
        error: 'NO_PROVIDER',
        message: `no provider of data source "${ds}" is connected`,
        requestId: 'req-none',
        processId: 'p-1',
      });
      // "At once": long before the requester's own 10 s timeout (generous for a loaded machine).
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('gets BAD_REQUEST for a request that is not JSON or lacks its fields', async () => {
      const ds = uniqueDataSource();
      await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      expect(await requester.request(ds, 'not an object')).toEqual({
        error: 'BAD_REQUEST',
        message: 'the request is not a JSON object',
      });
      expect(await requester.request(ds, { id: 'r-bad', operation: 'x' })).toEqual({
        error: 'BAD_REQUEST',
        message: '"payload" is required',
        requestId: 'r-bad',
      });
      expect(await requester.request(ds, { operation: 'x', payload: [] })).toEqual({
        error: 'BAD_REQUEST',
        message: '"id" must be a non-empty string or a number',
      });
    });

    it('skips a provider that does not answer in time and asks the next one once', async () => {
      const ds = uniqueDataSource();
      const slow = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const fast = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 2);

      const reply = requester.request(ds, { id: 'req-slow', processId: 'p', operation: 'x', payload: [7] });
      const first = await slow.nextJson(5_000, 'the request at the first provider');
      const second = await fast.nextJson(5_000, 'the request at the next provider');
      expect(second.payload).toEqual([7]);
      expect(second.id).not.toBe(first.id);
      fast.send({ id: 'fast-1', payload: ['fast'], requestId: second.id });
      expect(await reply).toEqual({ id: 'fast-1', payload: ['fast'], requestId: 'req-slow', processId: 'p' });

      // The slow provider's late answer is refused: its turn is over.
      slow.send({ id: 'late', payload: ['late'], requestId: first.id });
      expect(await slow.nextJson()).toEqual({
        type: 'error',
        error: 'NOT_FOUND',
        message: `data source request "${first.id}" not found`,
        requestId: first.id,
      });
    });

    it('gets TIMEOUT when the only provider is too slow', async () => {
      const ds = uniqueDataSource();
      const slow = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const reply = await requester.request(ds, { id: 'req-t', operation: 'x', payload: [] }, 5_000);
      await slow.nextJson();
      expect(reply).toEqual({
        error: 'TIMEOUT',
        message: `1 provider(s) of data source "${ds}" did not answer in time`,
        requestId: 'req-t',
      });
    });

    it('retries once on another provider when the asked one disconnects, then NO_PROVIDER', async () => {
      const ds = uniqueDataSource();
      const leaving = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const staying = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 2);

      const reply = requester.request(ds, { id: 'req-d', processId: 'p', operation: 'x', payload: ['d'] });
      await leaving.nextJson(5_000, 'the request at the provider that leaves');
      await leaving.close();
      const retried = await staying.nextJson(5_000, 'the retried request');
      expect(retried.payload).toEqual(['d']);
      staying.send({ id: 'stay-1', payload: ['ok'], requestId: retried.id });
      expect(await reply).toEqual({ id: 'stay-1', payload: ['ok'], requestId: 'req-d', processId: 'p' });
      await waitForProviders(appA, ds, 1);

      // The last provider leaving mid-request: nobody to retry on.
      const orphan = requester.request(ds, { id: 'req-o', operation: 'x', payload: [] });
      await staying.nextJson();
      await staying.close();
      expect(await orphan).toEqual({
        error: 'NO_PROVIDER',
        message: `the provider of data source "${ds}" disconnected and no other could take the request`,
        requestId: 'req-o',
      });
    });

    it('retries the request of a GraphQL provider whose subscription ends', async () => {
      const ds = uniqueDataSource();
      const leaving = graphqlProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const staying = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 2);

      const reply = requester.request(ds, { id: 'req-g', operation: 'x', payload: [] });
      await leaving.nextRequest();
      leaving.subscription.unsubscribe();
      const retried = await staying.nextJson(5_000, 'the retried request');
      staying.send({ id: 's', payload: [1], requestId: retried.id });
      expect(await reply).toEqual({ id: 's', payload: [1], requestId: 'req-g' });
      await waitForProviders(appA, ds, 1);
    });

    it('shares the load between providers', async () => {
      const ds = uniqueDataSource();
      const providers = [await legacyProvider(appA, ds), await legacyProvider(appA, ds)];
      await waitForProviders(appA, ds, 2);
      const served: [number, number] = [0, 0];
      providers.forEach((provider, index) => {
        provider.socket.on('message', (data) => {
          const frame = JSON.parse(data.toString()) as Json;
          if (typeof frame.type === 'string') return;
          served[index as 0 | 1] += 1;
          provider.send({ id: `p${index}`, payload: [index], requestId: frame.id });
        });
      });
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, n) =>
          requester.request(ds, { id: `load-${n}`, operation: 'x', payload: [] }),
        ),
      );
      expect(replies.map((reply) => reply.requestId)).toEqual(
        Array.from({ length: 10 }, (_, n) => `load-${n}`),
      );
      expect(served[0] + served[1]).toBe(10);
      expect(served[0]).toBeGreaterThanOrEqual(3);
      expect(served[1]).toBeGreaterThanOrEqual(3);
    });
  });

  describe('the /ws/ds socket', () => {
    it('refuses an answer from a provider that was not asked, and keeps the request for the one that was', async () => {
      const ds = uniqueDataSource();
      const asked = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const reply = requester.request(ds, { id: 'req-n', operation: 'x', payload: [] });
      const frame = await asked.nextJson();

      const other = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 2);
      other.send({ id: 'intruder', payload: ['wrong'], requestId: frame.id });
      expect(await other.nextJson()).toEqual({
        type: 'error',
        error: 'BAD_USER_INPUT',
        message: `data source request "${frame.id}" was sent to another provider; only that provider may answer it`,
        requestId: frame.id,
      });
      const unknown = randomUUID();
      other.send({ id: 'x', payload: [], requestId: unknown });
      expect(await other.nextJson()).toMatchObject({ type: 'error', error: 'NOT_FOUND', requestId: unknown });

      asked.send({ id: 'right', payload: ['right'], requestId: frame.id });
      expect(await reply).toEqual({ id: 'right', payload: ['right'], requestId: 'req-n' });
      expect(other.socket.readyState).toBe(other.socket.OPEN);
    });

    it.each([
      ['not JSON', 'hello', 'INVALID_JSON', 'the frame is not JSON'],
      ['a JSON array', '[1,2]', 'INVALID_FORMAT', 'not a JSON object'],
      ['an answer without requestId', '{"id":"a","payload":[]}', 'INVALID_FORMAT', '"requestId" is missing'],
      [
        'an error that is not a string',
        '{"requestId":"r","error":5}',
        'INVALID_FORMAT',
        '"error" must be a string',
      ],
    ])('answers %s with an error frame, stays open and loses nothing', async (_name, bad, code, message) => {
      const ds = uniqueDataSource();
      const provider = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const reply = requester.request(ds, { id: 'req-b', operation: 'x', payload: [] });
      const frame = await provider.nextJson();

      provider.send(bad);
      const error = await provider.nextJson();
      expect(error).toMatchObject({ type: 'error', error: code });
      expect(error.message).toContain(message);

      provider.send({ id: 'ok', payload: ['still answered'], requestId: frame.id });
      expect(await reply).toEqual({ id: 'ok', payload: ['still answered'], requestId: 'req-b' });
      expect(provider.socket.readyState).toBe(provider.socket.OPEN);
    });

    it('refuses a data source id that is not a subject token: error frame, then close 4400', async () => {
      const provider = await legacyProvider(appA, 'bad.id');
      expect(await provider.nextJson()).toMatchObject({ type: 'error', error: 'BAD_USER_INPUT' });
      const closed = await provider.closes.next();
      expect(closed.code).toBe(4400);
      expect(closed.reason).toMatch(/^BAD_USER_INPUT: data source id "bad.id"/);
    });

    it('drops a provider that stops answering pings, and its request goes to another', async () => {
      const ds = uniqueDataSource();
      const dead = await legacyProvider(appA, ds, { autoPong: false });
      await waitForProviders(appA, ds, 1);
      const alive = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 2);
      // DATASOURCE_WS_PING_INTERVAL is 300 ms here: cut after one unanswered ping.
      const closed = await dead.closes.next(5_000, 'the dead socket to be cut');
      expect(closed.code).toBe(1006);
      await waitForProviders(appA, ds, 1);
      const reply = requester.request(ds, { id: 'req-p', operation: 'x', payload: [] });
      const frame = await alive.nextJson();
      alive.send({ id: 'a', payload: [], requestId: frame.id });
      expect(await reply).toMatchObject({ requestId: 'req-p', id: 'a' });
    });
  });

  describe('GraphQL', () => {
    it('queryDataSource sends query as payload and its operation field as operation, and returns the answer', async () => {
      const ds = uniqueDataSource();
      const provider = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const query = { operation: 'price', symbols: ['A', 'B'] };
      const result = appB.graphql(QUERY, { id: ds, query });
      const frame = await provider.nextJson();
      expect(frame).toEqual({ id: expect.stringMatching(UUID), operation: 'price', payload: query });
      provider.send({ id: 'q-1', payload: { A: 1, B: 2 }, requestId: frame.id });
      expect(await result).toEqual({ data: { queryDataSource: { A: 1, B: 2 } } });
    });

    it('queryDataSource: NO_PROVIDER when none is connected', async () => {
      const ds = uniqueDataSource();
      const result = await appA.graphql(QUERY, { id: ds, query: [1] });
      expect(result.errors?.[0]).toMatchObject({
        message: `no provider of data source "${ds}" is connected`,
        extensions: { code: 'NO_PROVIDER' },
      });
    });

    it('queryDataSource: TIMEOUT after timeoutMs when the provider is slow', async () => {
      const ds = uniqueDataSource();
      const provider = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const started = Date.now();
      const result = await appA.graphql(QUERY, { id: ds, query: [1], timeoutMs: 300 });
      const elapsed = Date.now() - started;
      expect(result.errors?.[0]?.extensions?.code).toBe('TIMEOUT');
      expect(result.errors?.[0]?.message).toContain(ds);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(3_000);
      await provider.nextJson(); // it was asked, and did not answer
    });

    it('queryDataSource: a provider error is UNAVAILABLE with the provider error in extensions', async () => {
      const ds = uniqueDataSource();
      const provider = graphqlProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const result = appA.graphql(QUERY, { id: ds, query: { operation: 'x' } });
      const request = await provider.nextRequest();
      expect(request.operation).toBe('x');
      await provider.answer({ requestId: request.id, error: 'no such symbol' });
      expect((await result).errors?.[0]).toMatchObject({
        message: `data source "${ds}" answered with an error: no such symbol`,
        extensions: { code: 'UNAVAILABLE', providerError: 'no such symbol' },
      });
    });

    it.each([
      [0, 'timeoutMs must be a whole number of milliseconds from 1 to 10000 (DATASOURCE_MAX_TIMEOUT), got 0'],
      [-5, 'got -5'],
      [10_001, 'got 10001'],
    ])('queryDataSource refuses timeoutMs %d with BAD_USER_INPUT', async (timeoutMs, message) => {
      const result = await appA.graphql(QUERY, { id: uniqueDataSource(), query: [], timeoutMs });
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toContain(message);
    });

    it.each(['a.b', 'a b', 'all*', ''])('refuses the data source id %j with BAD_USER_INPUT', async (id) => {
      const query = await appA.graphql(QUERY, { id, query: [] });
      expect(query.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(query.errors?.[0]?.message).toContain('broker subject token');
      const { client } = connectWs(appA.wsUrl);
      cleanups.push(() => client.dispose());
      const subscription = subscribeWs(client, SUBSCRIBE, { id });
      const refused = await subscription.results.next();
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      await subscription.done;
    });

    it('answerDataSource refuses an answer from another connection (BAD_USER_INPUT) and an unknown id (NOT_FOUND)', async () => {
      const ds = uniqueDataSource();
      const asked = graphqlProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const reply = requester.request(ds, { id: 'req-x', operation: 'x', payload: [] });
      const request = await asked.nextRequest();

      const other = graphqlProvider(appA, ds);
      await waitForProviders(appA, ds, 2);
      const refused = await other.answer({ requestId: request.id, result: ['wrong'] });
      expect(refused.errors?.[0]).toMatchObject({
        message: `data source request "${request.id}" was sent to another provider; only that provider may answer it`,
        extensions: { code: 'BAD_USER_INPUT' },
      });
      const unknown = randomUUID();
      const notFound = await other.answer({ requestId: unknown, result: [] });
      expect(notFound.errors?.[0]).toMatchObject({
        message: `data source request "${unknown}" not found`,
        extensions: { code: 'NOT_FOUND' },
      });

      await asked.answer({ requestId: request.id, result: ['right'], answerId: 'r' });
      expect(await reply).toEqual({ id: 'r', payload: ['right'], requestId: 'req-x' });
      // A second answer to the same request: it is settled, so it is not found any more.
      const again = await asked.answer({ requestId: request.id, result: ['twice'] });
      expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });

    it('an SSE subscriber is a provider and answers over HTTP, also through the other instance', async () => {
      const ds = uniqueDataSource();
      const controller = new AbortController();
      const response = await fetch(`${appA.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: SUBSCRIBE, variables: { id: ds } }),
        signal: controller.signal,
      });
      cleanups.push(() => controller.abort());
      const { events } = readSse(response);
      await waitForProviders(appA, ds, 1);

      const nextRequest = async () => {
        const event = await events.next(5_000, 'an SSE data source request');
        return (JSON.parse(event.data) as { data: { dataSourceRequests: GraphqlRequest } }).data
          .dataSourceRequests;
      };
      const first = requester.request(ds, { id: 'sse-1', operation: 'x', payload: [1] });
      const request = await nextRequest();
      expect(await appA.graphql(ANSWER, { requestId: request.id, result: ['via A'] })).toEqual({
        data: { answerDataSource: true },
      });
      expect(await first).toMatchObject({ payload: ['via A'], requestId: 'sse-1' });

      // Behind a load balancer the answer may reach the instance that did not send the request.
      const second = requester.request(ds, { id: 'sse-2', operation: 'x', payload: [2] });
      const handedOver = await nextRequest();
      expect(await appB.graphql(ANSWER, { requestId: handedOver.id, result: ['via B'] })).toEqual({
        data: { answerDataSource: true },
      });
      expect(await second).toMatchObject({ payload: ['via B'], requestId: 'sse-2' });
      const unknown = await appB.graphql(ANSWER, { requestId: handedOver.id, result: [] });
      expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

      controller.abort();
      await waitForProviders(appA, ds, 0);
    });

    it('dataSources lists the data sources providers have connected to, with the providers of this instance', async () => {
      const ds = uniqueDataSource();
      const provider = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      const onB = await appB.graphql<{ dataSources: Array<{ id: string; connectedProviders: number }> }>(
        LIST,
      );
      expect(onB.data?.dataSources).toContainEqual({ id: ds, connectedProviders: 0 });
      await provider.close();
      await waitForProviders(appA, ds, 0);
      const onA = await appA.graphql<{ dataSources: Array<{ id: string; connectedProviders: number }> }>(
        LIST,
      );
      expect(onA.data?.dataSources).toContainEqual({ id: ds, connectedProviders: 0 });
    });
  });

  describe('tenancy', () => {
    const identity = (tenantId: string | null, userId = 'u') => ({ tenantId, userId, connectionId: null });
    type Service = TestApp['app']['services']['dataSources'];

    /** A provider of a tenant's data source that answers every request with `[name, query]`. */
    async function answeringProvider(service: Service, tenantId: string, ds: string, name: string) {
      const requests = await service.provide(identity(tenantId), ds);
      cleanups.push(() => requests.return?.());
      void (async () => {
        for await (const request of requests)
          await service.answer(identity(tenantId), request.id, {
            answerId: name,
            result: [name, request.query],
            error: null,
          });
      })();
    }

    it('the same id in two tenants is two data sources, each with its own providers and subjects', async () => {
      const ds = uniqueDataSource();
      const [onA, onB] = [appA.app.services.dataSources, appB.app.services.dataSources];
      // An id taken in another tenant is provided as a free one is, on either instance.
      await answeringProvider(onB, 'tenant-1', ds, 'one');
      await answeringProvider(onA, 'tenant-2', ds, 'two');

      // queryDataSource from either instance reaches the caller's tenant's provider only.
      for (const service of [onA, onB]) {
        const ask = (tenantId: string) =>
          service.query({ tenantId, correlationId: 'c' }, ds, { q: tenantId }, 5_000);
        expect(await ask('tenant-1')).toEqual(['one', { q: 'tenant-1' }]);
        expect(await ask('tenant-2')).toEqual(['two', { q: 'tenant-2' }]);
      }
      // A requester on the network reaches each tenant's data source on its tenant's subject.
      for (const [tenant, name] of [
        ['tenant-1', 'one'],
        ['tenant-2', 'two'],
      ]) {
        for (let n = 0; n < 3; n++) {
          expect(
            await requester.requestOn(`tenant.${tenant}.datasource.${ds}`, { id: `r-${n}`, payload: [n] }),
          ).toEqual({ id: name, payload: [name, [n]], requestId: `r-${n}` });
        }
      }

      // Each tenant lists its own; connectedProviders counts this instance's providers.
      expect(await onB.list('tenant-1')).toContainEqual({ id: ds, connectedProviders: 1 });
      expect(await onA.list('tenant-1')).toContainEqual({ id: ds, connectedProviders: 0 });
      expect(await onA.list('tenant-2')).toContainEqual({ id: ds, connectedProviders: 1 });
      for (const tenant of ['tenant-3', null])
        expect((await onA.list(tenant)).map((source) => source.id)).not.toContain(ds);
    });

    it('a tenant without a provider of an id taken elsewhere gets what an id nobody provides gets, on every path', async () => {
      const taken = uniqueDataSource();
      const unknown = uniqueDataSource();
      const service = appA.app.services.dataSources;
      await answeringProvider(service, 'tenant-1', taken, 'one');
      const refusal = async (id: string, tenantId: string | null) => {
        const error: unknown = await service.query({ tenantId, correlationId: 'c' }, id, [], 1_000).then(
          () => 'answered',
          (reason: unknown) => reason,
        );
        return {
          code: (error as { code?: unknown }).code,
          message: (error as Error).message?.replace(id, '{ds}'),
        };
      };
      for (const tenant of ['tenant-2', null]) {
        expect(await refusal(taken, tenant)).toEqual(await refusal(unknown, tenant));
        expect(await refusal(taken, tenant)).toEqual({
          code: 'NO_PROVIDER',
          message: 'no provider of data source "{ds}" is connected',
        });
      }
      // The network: the default tenant's legacy subject and another tenant's subject.
      for (const subjectOf of [
        (id: string) => `datasource.${id}`,
        (id: string) => `tenant.tenant-2.datasource.${id}`,
      ]) {
        const reply = (id: string) =>
          requester.requestOn(subjectOf(id), { id: 'r', processId: 'p', payload: [] });
        expect(await reply(taken)).toEqual({
          error: 'NO_PROVIDER',
          message: `no provider of data source "${taken}" is connected`,
          requestId: 'r',
          processId: 'p',
        });
        expect(await reply(unknown)).toEqual({
          error: 'NO_PROVIDER',
          message: `no provider of data source "${unknown}" is connected`,
          requestId: 'r',
          processId: 'p',
        });
      }
    });

    it("another tenant's answer to a pending request is refused as an unknown request id is, on either instance", async () => {
      const ds = uniqueDataSource();
      const [onA, onB] = [appA.app.services.dataSources, appB.app.services.dataSources];
      const requests = await onA.provide(identity('tenant-1'), ds);
      cleanups.push(() => requests.return?.());
      const answered = onA.query({ tenantId: 'tenant-1', correlationId: 'c' }, ds, { q: 1 }, 5_000);
      const { value: request } = await requests.next();
      // The same instance prefix, another id: a request id that is not pending anywhere.
      const unknownId = `${request.id.slice(0, 24)}${'0'.repeat(12)}`;
      const answer = { answerId: 'x', result: [], error: null };
      for (const service of [onA, onB]) {
        await expect(service.answer(identity('tenant-2'), request.id, answer)).rejects.toMatchObject({
          code: 'NOT_FOUND',
          message: `data source request "${request.id}" not found`,
        });
        await expect(service.answer(identity('tenant-1'), unknownId, answer)).rejects.toMatchObject({
          code: 'NOT_FOUND',
          message: `data source request "${unknownId}" not found`,
        });
      }
      // In the provider's tenant: another user is refused as another provider; the provider answers.
      await expect(
        onA.answer(identity('tenant-1', 'someone-else'), request.id, answer),
      ).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
      await onB.answer(identity('tenant-1'), request.id, { answerId: 'a', result: ['t1'], error: null });
      expect(await answered).toEqual(['t1']);
    });
  });

  describe('two instances', () => {
    it('hand a request to the instance with the provider; queryDataSource works from either', async () => {
      const ds = uniqueDataSource();
      const provider = await legacyProvider(appA, ds);
      await waitForProviders(appA, ds, 1);
      provider.socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Json;
        provider.send({ id: 'from-A', payload: frame.payload, requestId: frame.id });
      });
      const fromB = await appB.graphql(QUERY, { id: ds, query: ['b'] });
      expect(fromB).toEqual({ data: { queryDataSource: ['b'] } });
      const fromA = await appA.graphql(QUERY, { id: ds, query: ['a'] });
      expect(fromA).toEqual({ data: { queryDataSource: ['a'] } });
    });
  });
});

/** Exactly-once needs the raw replies, which only a real NATS requester can count. */
describe('two streamgate instances on one NATS', () => {
  let appA: TestApp;
  let appB: TestApp;
  let nc: NatsConnection;
  const sockets: RawWsClient[] = [];

  beforeAll(async () => {
    const env = { BROKER: 'nats', NATS_URL: serviceUrl('nats'), DATABASE_URL: await createTestDatabase() };
    [appA, appB] = await Promise.all([startTestApp({ env }), startTestApp({ env })]);
    nc = await connect({ servers: serviceUrl('nats') });
  });
  afterAll(async () => {
    for (const socket of sockets) await socket.close();
    await nc?.close();
    await Promise.all([appA?.stop(), appB?.stop()]);
  });

  /** A provider that answers every request with its own name. */
  async function echoProvider(app: TestApp, dataSourceId: string, name: string, served: string[]) {
    const client = await connectRaw(`${app.url.replace(/^http/, 'ws')}/ws/ds/${dataSourceId}`);
    sockets.push(client);
    client.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Json;
      served.push(String(frame.payload));
      client.send({ id: name, payload: frame.payload, requestId: frame.id });
    });
    return client;
  }

  it.each([
    ['a provider on one instance', ['A']],
    ['providers on both instances', ['A', 'B']],
  ])('answers each request exactly once with %s', async (_name, where) => {
    const ds = `ds-${randomUUID().slice(0, 8)}`;
    const served: string[] = [];
    for (const name of where) await echoProvider(name === 'A' ? appA : appB, ds, name, served);
    for (const app of where.map((name) => (name === 'A' ? appA : appB))) {
      await waitUntil(async () => {
        const result = await app.graphql<{ dataSources: Array<{ id: string; connectedProviders: number }> }>(
          LIST,
        );
        return (
          result.data?.dataSources.some((source) => source.id === ds && source.connectedProviders === 1) ??
          false
        );
      });
    }

    const inbox = nc.subscribe(`reply.${ds}`);
    const replies = new AsyncQueue<Json>();
    void (async () => {
      for await (const message of inbox) replies.push(message.json<Json>());
    })();
    const count = 20;
    for (let n = 0; n < count; n++) {
      nc.publish(
        `datasource.${ds}`,
        JSON.stringify({ id: `r-${n}`, processId: 'p', operation: 'x', payload: n }),
        {
          reply: `reply.${ds}`,
        },
      );
    }
    const received = await replies.take(count, 10_000, 'one reply per request');
    expect(received.map((reply) => reply.requestId).sort()).toEqual(
      Array.from({ length: count }, (_, n) => `r-${n}`).sort(),
    );
    expect(served).toHaveLength(count);
    // A duplicate would come right behind the others; give it a moment to show up.
    await nc.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(replies.pending).toHaveLength(0);
    inbox.unsubscribe();
  });
});

describe('data sources with JWT auth and tenants', () => {
  let app: TestApp;
  let nc: NatsConnection;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    app = await startTestApp({
      env: authEnv({
        BROKER: 'nats',
        NATS_URL: serviceUrl('nats'),
        DATABASE_URL: await createTestDatabase(),
      }),
    });
    nc = await connect({ servers: serviceUrl('nats') });
  });
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await nc?.close();
    await app?.stop();
  });

  const dsUrl = (ds: string, token?: string) =>
    `${app.url.replace(/^http/, 'ws')}/ws/ds/${ds}${token === undefined ? '' : `?token=${token}`}`;
  async function open(url: string) {
    const client = await connectRaw(url);
    cleanups.push(() => client.close());
    return client;
  }

  it('refuses a /ws/ds socket without a token or with a bad one: error frame, then 4401', async () => {
    const missing = await open(dsUrl(uniqueDataSource()));
    expect(await missing.nextJson()).toMatchObject({ type: 'error', error: 'UNAUTHENTICATED' });
    expect((await missing.closes.next()).code).toBe(4401);
    const bad = await open(dsUrl(uniqueDataSource(), 'not-a-jwt'));
    expect(await bad.nextJson()).toMatchObject({
      type: 'error',
      error: 'UNAUTHENTICATED',
      message: expect.stringContaining('malformed'),
    });
    const closed = await bad.closes.next();
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/^UNAUTHENTICATED: token is malformed/);
  });

  /** The caller's tenant's providers of `ds` on this instance (0 when not listed). */
  async function providersOf(token: string, ds: string): Promise<number> {
    const result = await app.graphql<{ dataSources: Array<{ id: string; connectedProviders: number }> }>(
      LIST,
      {},
      { token },
    );
    return result.data?.dataSources.find((source) => source.id === ds)?.connectedProviders ?? 0;
  }

  /** A /ws/ds provider that answers each request with `[name, payload]`. */
  async function echoing(url: string, name: string) {
    const client = await open(url);
    client.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Json;
      if (typeof frame.type !== 'string')
        client.send({ id: name, payload: [name, frame.payload], requestId: frame.id });
    });
    return client;
  }

  it('scopes data sources per tenant: an id taken in another tenant is provided, queried and listed as a free one', async () => {
    const ds = uniqueDataSource();
    const free = uniqueDataSource();
    const alice = await signToken({ sub: 'alice', tenantId: 'tenant-a' });
    const bob = await signToken({ sub: 'bob', tenantId: 'tenant-b' });
    await echoing(dsUrl(ds, alice), 'alice');
    await waitUntil(async () => (await providersOf(alice, ds)) === 1, 5_000, "alice's provider");
    expect(await providersOf(bob, ds)).toBe(0);

    // Bob provides alice's id over /ws/ds exactly as he provides a free id: no error frame, no
    // close, listed as his own with one provider.
    for (const id of [ds, free]) {
      const provider = await echoing(dsUrl(id, bob), `bob-${id === ds ? 'taken' : 'free'}`);
      await waitUntil(async () => (await providersOf(bob, id)) === 1, 5_000, `bob's provider of ${id}`);
      expect(provider.frames.pending).toEqual([]);
      expect(provider.socket.readyState).toBe(provider.socket.OPEN);
    }
    // And over graphql-ws: a second provider of his data source.
    const { client } = connectWs(app.wsUrl, { connectionParams: { authorization: `Bearer ${bob}` } });
    cleanups.push(() => client.dispose());
    const subscription = subscribeWs(client, SUBSCRIBE, { id: ds });
    await waitUntil(async () => (await providersOf(bob, ds)) === 2, 5_000, "bob's graphql-ws provider");
    subscription.unsubscribe();
    await waitUntil(async () => (await providersOf(bob, ds)) === 1, 5_000, "bob's graphql-ws provider gone");
    expect(await providersOf(alice, ds)).toBe(1);

    // Each tenant's query reaches its own provider, never the other's.
    for (const [token, name] of [
      [alice, 'alice'],
      [bob, 'bob-taken'],
      [alice, 'alice'],
    ] as const) {
      expect(await app.graphql(QUERY, { id: ds, query: [name] }, { token })).toEqual({
        data: { queryDataSource: [name, [name]] },
      });
    }
    // A tenant with no provider of the id: what an id nobody provides answers.
    const carol = await signToken({ sub: 'carol', tenantId: 'tenant-c' });
    const carolAsks = async (id: string) =>
      JSON.stringify(await app.graphql(QUERY, { id, query: [1] }, { token: carol })).replaceAll(id, '{ds}');
    expect(await carolAsks(ds)).toEqual(await carolAsks(uniqueDataSource()));
    expect(JSON.parse(await carolAsks(ds)).errors[0]).toMatchObject({
      message: 'no provider of data source "{ds}" is connected',
      extensions: { code: 'NO_PROVIDER' },
    });
    const listed = await app.graphql<{ dataSources: Array<{ id: string }> }>(LIST, {}, { token: carol });
    expect(listed.data?.dataSources).toEqual([]);

    // The network reaches a tenant's data source on its tenant's subject; the legacy subject is
    // the default tenant's, which has no provider of this id.
    const ask = async (subject: string) =>
      (
        await nc.request(subject, JSON.stringify({ id: 'n', operation: 'x', payload: [3] }), {
          timeout: 5_000,
        })
      ).json();
    expect(await ask(`tenant.tenant-a.datasource.${ds}`)).toEqual({
      id: 'alice',
      payload: ['alice', [3]],
      requestId: 'n',
    });
    expect(await ask(`tenant.tenant-b.datasource.${ds}`)).toEqual({
      id: 'bob-taken',
      payload: ['bob-taken', [3]],
      requestId: 'n',
    });
    expect(await ask(`datasource.${ds}`)).toEqual({
      error: 'NO_PROVIDER',
      message: `no provider of data source "${ds}" is connected`,
      requestId: 'n',
    });
  });

  it("answers another tenant's pending request as an unknown one: NOT_FOUND over HTTP and /ws/ds", async () => {
    const ds = uniqueDataSource();
    const alice = await signToken({ sub: 'alice', tenantId: 'tenant-a' });
    const bob = await signToken({ sub: 'bob', tenantId: 'tenant-b' });
    const provider = await open(dsUrl(ds, alice));
    await waitUntil(async () => (await providersOf(alice, ds)) === 1, 5_000, "alice's provider");
    const bobsSocket = await open(dsUrl(ds, bob));
    await waitUntil(async () => (await providersOf(bob, ds)) === 1, 5_000, "bob's provider");

    const aliceAsks = app.graphql(QUERY, { id: ds, query: [2] }, { token: alice });
    const frame = await provider.nextJson();
    expect(frame.payload).toEqual([2]);
    const unknownId = `${String(frame.id).slice(0, 24)}${'0'.repeat(12)}`;
    for (const requestId of [frame.id, unknownId]) {
      const overHttp = await app.graphql(ANSWER, { requestId, result: ['b'] }, { token: bob });
      expect(overHttp.errors?.[0]).toMatchObject({
        message: `data source request "${requestId}" not found`,
        extensions: { code: 'NOT_FOUND' },
      });
      bobsSocket.send({ id: 'b', payload: ['b'], requestId });
      expect(await bobsSocket.nextJson()).toEqual({
        type: 'error',
        error: 'NOT_FOUND',
        message: `data source request "${requestId}" not found`,
        requestId,
      });
    }
    // The same user of the owning tenant answers over HTTP (rule 2 of docs/datasources.md).
    expect(await app.graphql(ANSWER, { requestId: frame.id, result: ['a'] }, { token: alice })).toEqual({
      data: { answerDataSource: true },
    });
    expect(await aliceAsks).toEqual({ data: { queryDataSource: ['a'] } });
  });

  it('refuses GraphQL data source operations without a token (UNAUTHENTICATED)', async () => {
    const result = await app.graphql(QUERY, { id: uniqueDataSource(), query: [] });
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('shutdown', () => {
  it('closes /ws/ds sockets with 1001 and a GraphQL provider sees its subscription complete', async () => {
    const app = await startTestApp({ env: { DATABASE_URL: await createTestDatabase() } });
    const legacy = await connectRaw(`${app.url.replace(/^http/, 'ws')}/ws/ds/ds-shutdown`);
    const { client } = connectWs(app.wsUrl);
    const subscription = subscribeWs(client, SUBSCRIBE, { id: 'ds-shutdown' });
    await waitUntil(async () => {
      const result = await app.graphql<{ dataSources: Array<{ id: string; connectedProviders: number }> }>(
        LIST,
      );
      return result.data?.dataSources.some((source) => source.connectedProviders === 2) ?? false;
    });
    const stopped = app.stop();
    await subscription.done;
    // Gone before the server closes the socket, so the client has no close to complain about.
    await client.dispose();
    const closed = await legacy.closes.next();
    expect(closed.code).toBe(1001);
    expect(closed.reason).toMatch(/^GOING_AWAY/);
    await stopped;
  });
});

/** Runs one operation over an open graphql-ws client and resolves with its single result. */
function execute(client: Client, query: string, variables: Json): Promise<WsResult> {
  return new Promise((resolve, reject) => {
    let result: WsResult = {};
    client.subscribe(
      { query, variables },
      {
        next: (value) => {
          result = value as WsResult;
        },
        error: reject,
        complete: () => resolve(result),
      },
    );
  });
}
