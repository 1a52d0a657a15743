import * as Apollo3 from '@apollo/client-3/core/index.js';
import { WebSocketLink } from '@apollo/client-3/link/ws/index.js';
import { parse } from 'graphql';
import { SubscriptionClient } from 'subscriptions-transport-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AsyncQueue, waitUntil } from '../helpers/async-queue.ts';
import { connectRaw, type RawWsClient } from '../helpers/raw-ws-client.ts';
import { signToken } from '../helpers/tokens.ts';
import { isRefused, rawUpgrade } from '../helpers/ws-frames.ts';
import { type ClientFixture, OPERATIONS, startClientFixture } from './client-fixture.ts';

/**
 * The old Apollo protocol (`subscriptions-transport-ws`, subprotocol `graphql-ws`) on /graphql,
 * with that library's own SubscriptionClient, unchanged: what an Apollo app of before graphql-ws
 * does. Then the protocol's bad input beside the good, over a raw `ws` socket, and the handshake
 * that refuses a client asking for a subprotocol /graphql does not speak.
 */

interface ApolloResult {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

/** A SubscriptionClient over `ws`; `connection` settles with what its connectionCallback got. */
function apolloClient(
  fixture: ClientFixture,
  connectionParams: Record<string, unknown>,
): { client: SubscriptionClient; connection: Promise<unknown> } {
  let settle: (error: unknown) => void = () => undefined;
  const connection = new Promise<unknown>((resolve) => {
    settle = resolve;
  });
  const client = new SubscriptionClient(
    fixture.wsUrl,
    { connectionParams, connectionCallback: (error: unknown) => settle(error ?? 'connected') },
    WebSocket,
  );
  return { client, connection };
}

/** Runs an operation; its results, its error and its completion as one queue of events. */
function request(
  client: SubscriptionClient,
  query: string,
  variables: Record<string, unknown> = {},
): { events: AsyncQueue<ApolloResult | 'complete'>; stop(): void } {
  const events = new AsyncQueue<ApolloResult | 'complete'>();
  const subscription = client.request({ query, variables }).subscribe({
    next: (result) => events.push(result as ApolloResult),
    error: (error: unknown) => events.fail(Object.assign(new Error('operation error'), { payload: error })),
    complete: () => events.push('complete'),
  });
  return { events, stop: () => subscription.unsubscribe() };
}

/** The one result of a query or mutation, checked to be followed by `complete`. */
async function once(client: SubscriptionClient, query: string, variables: Record<string, unknown> = {}) {
  const { events } = request(client, query, variables);
  const [result, end] = await events.take(2, 10_000, 'a result and complete');
  expect(end).toBe('complete');
  return result as ApolloResult;
}

describe('subscriptions-transport-ws SubscriptionClient, unchanged', () => {
  let fixture: ClientFixture;
  let client: SubscriptionClient;
  let anonymous: SubscriptionClient;
  beforeAll(async () => {
    fixture = await startClientFixture();
    const signedIn = apolloClient(fixture, { authorization: `Bearer ${fixture.token}` });
    client = signedIn.client;
    expect(await signedIn.connection).toBe('connected');
    anonymous = apolloClient(fixture, {}).client;
  });
  afterAll(async () => {
    client?.close();
    anonymous?.close();
    await fixture?.stop();
  });

  it('runs a query', async () => {
    expect(await once(client, OPERATIONS.viewer)).toEqual({
      data: { viewer: { userId: 'alice', tenantId: 'tenant-a' } },
    });
  });

  it('runs a mutation', async () => {
    const id = `apollo${Date.now()}${Math.floor(Math.random() * 1000)}`;
    expect(await once(client, OPERATIONS.createState, { id })).toEqual({ data: { createState: { id } } });
  });

  it('exposes an auth error with its extensions.code', async () => {
    const result = await once(anonymous, '{ topics { name } }');
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('exposes a bad token at connection_init through connectionCallback, with its extensions.code', async () => {
    const refused = apolloClient(fixture, { authorization: 'Bearer not-a-jwt' });
    try {
      expect(await refused.connection).toMatchObject({
        message: expect.any(String),
        extensions: { code: 'UNAUTHENTICATED' },
      });
    } finally {
      refused.client.close();
    }
  });

  it('takes the token as connectionParams.token too', async () => {
    const other = apolloClient(fixture, { token: fixture.token });
    try {
      expect(await once(other.client, OPERATIONS.viewer)).toEqual({
        data: { viewer: { userId: 'alice', tenantId: 'tenant-a' } },
      });
    } finally {
      other.client.close();
    }
  });

  it('receives subscription events; its unsubscribe shows on the server gauge', async () => {
    const stateId = await fixture.newStateId();
    const live = request(client, OPERATIONS.stateStream, { stateId });
    await fixture.waitForOpenSubscriptions('stateStream', 'apollo_ws', 1);
    await fixture.publish(stateId, { n: 1 });
    await fixture.publish(stateId, { n: 2 });
    const events = await live.events.take(2, 10_000, 'two state events');
    expect(events).toEqual([
      {
        data: {
          stateStream: expect.objectContaining({
            stateId,
            data: expect.objectContaining({ query_state: [{ n: 1 }] }),
          }),
        },
      },
      {
        data: {
          stateStream: expect.objectContaining({
            stateId,
            data: expect.objectContaining({ query_state: [{ n: 2 }] }),
          }),
        },
      },
    ]);
    live.stop();
    await fixture.waitForOpenSubscriptions('stateStream', 'apollo_ws', 0);
  });

  it("Apollo Client 3's WebSocketLink over it: results, and errors as graphQLErrors", async () => {
    const apollo = new Apollo3.ApolloClient({
      cache: new Apollo3.InMemoryCache(),
      link: new WebSocketLink(client),
    });
    const { data } = await apollo.query({ query: parse(OPERATIONS.viewer), fetchPolicy: 'network-only' });
    expect(data).toMatchObject({ viewer: { userId: 'alice', tenantId: 'tenant-a' } });
    const refused = await apollo.query({ query: parse('{ noSuchField }'), fetchPolicy: 'network-only' }).then(
      () => 'no error',
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(Apollo3.ApolloError);
    expect((refused as Apollo3.ApolloError).graphQLErrors[0]?.extensions).toEqual({
      code: 'BAD_USER_INPUT',
      reason: 'GRAPHQL_VALIDATION_FAILED',
    });
    const stateId = await fixture.newStateId();
    const events = new AsyncQueue<unknown>();
    const live = apollo
      .subscribe({ query: parse(OPERATIONS.stateStream), variables: { stateId } })
      .subscribe({
        next: (result) => events.push(result.data),
        error: (error: Error) => events.fail(error),
      });
    await fixture.waitForOpenSubscriptions('stateStream', 'apollo_ws', 1);
    await fixture.publish(stateId, { n: 3 });
    expect(await events.next(10_000, 'a state event')).toMatchObject({
      stateStream: { stateId, data: { query_state: [{ n: 3 }] } },
    });
    live.unsubscribe();
    await fixture.waitForOpenSubscriptions('stateStream', 'apollo_ws', 0);
    apollo.stop();
  });

  it('refuses a subscription at subscribe time with a GraphQL error, then completes', async () => {
    const [refused, end] = await request(
      client,
      'subscription { topicMessages(topics: ["no-such-topic"]) { topic } }',
    ).events.take(2, 10_000, 'the refusal and complete');
    expect((refused as ApolloResult).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(end).toBe('complete');
  });
});

/** The next `count` frames of a raw socket, parsed. */
async function frames(raw: RawWsClient, count: number, what: string): Promise<unknown[]> {
  return (await raw.frames.take(count, 5_000, what)).map((frame) => JSON.parse(frame) as unknown);
}

describe('the old Apollo protocol: bad input beside the good', () => {
  let fixture: ClientFixture;
  beforeAll(async () => {
    fixture = await startClientFixture();
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  const init = (token: string) => ({
    type: 'connection_init',
    payload: { authorization: `Bearer ${token}` },
  });
  const start = (id: string, query: string, variables: Record<string, unknown> = {}) => ({
    id,
    type: 'start',
    payload: { query, variables },
  });
  /** subscriptions_total{transport="apollo_ws"} of /metrics. */
  const subscriptionsStarted = async () => {
    const text = await (await fetch(`${fixture.server.url}/metrics`)).text();
    const line = text.split('\n').find((row) => row.startsWith('subscriptions_total{transport="apollo_ws"}'));
    return Number(line?.slice(line.lastIndexOf(' ') + 1) ?? Number.NaN);
  };
  /** A raw socket speaking the old protocol, for what SubscriptionClient will not send. */
  const open = () => connectRaw(fixture.wsUrl, { protocol: 'graphql-ws' });
  /** A raw socket past connection_ack and its first ka. */
  const acknowledged = async (token = fixture.token) => {
    const raw = await open();
    raw.send(init(token));
    expect(await frames(raw, 2, 'ack and ka')).toEqual([{ type: 'connection_ack' }, { type: 'ka' }]);
    return raw;
  };

  it('acknowledges connection_init with connection_ack and a first ka, then answers data and complete', async () => {
    const raw = await acknowledged();
    try {
      expect(raw.socket.protocol).toBe('graphql-ws');
      raw.send(start('q1', '{ viewer { userId } }'));
      expect(await frames(raw, 2, 'data and complete')).toEqual([
        { id: 'q1', type: 'data', payload: { data: { viewer: { userId: 'alice' } } } },
        { id: 'q1', type: 'complete' },
      ]);
    } finally {
      await raw.close();
    }
  });

  it('answers a frame that is not JSON with connection_error and keeps the connection', async () => {
    const raw = await acknowledged();
    try {
      raw.send('{"type": "start", ');
      expect(await raw.nextJson(5_000, 'the connection_error')).toEqual({
        type: 'connection_error',
        payload: {
          message: 'Invalid message received: not JSON',
          extensions: { code: 'BAD_USER_INPUT' },
        },
      });
      raw.send('[1, 2]');
      expect(await raw.nextJson(5_000, 'the connection_error')).toMatchObject({
        type: 'connection_error',
        payload: { message: 'Invalid message received: not a JSON object' },
      });
      raw.send(start('after', '{ viewer { userId } }'));
      expect(await raw.nextJson(5_000, 'data')).toMatchObject({ id: 'after', type: 'data' });
    } finally {
      await raw.close();
    }
  });

  it('answers an unknown message type, or a start without a query, with error for its id', async () => {
    const raw = await acknowledged();
    try {
      raw.send({ id: 'x1', type: 'subscribe', payload: { query: '{ viewer { userId } }' } });
      expect(await raw.nextJson(5_000, 'the error')).toEqual({
        id: 'x1',
        type: 'error',
        payload: {
          message:
            'Unknown message type "subscribe": expected connection_init, start, stop or connection_terminate',
          extensions: { code: 'BAD_USER_INPUT' },
        },
      });
      raw.send({ id: 'x2', type: 'start', payload: { variables: {} } });
      expect(await raw.nextJson(5_000, 'the error')).toMatchObject({
        id: 'x2',
        type: 'error',
        payload: { extensions: { code: 'BAD_USER_INPUT' } },
      });
      raw.send(start('good', '{ viewer { userId } }'));
      expect(await raw.nextJson(5_000, 'data')).toMatchObject({ id: 'good', type: 'data' });
    } finally {
      await raw.close();
    }
  });

  it('answers a second connection_init with connection_error; the connection goes on as it was', async () => {
    const raw = await acknowledged();
    try {
      raw.send(init('not-a-jwt'));
      expect(await raw.nextJson(5_000, 'the connection_error')).toEqual({
        type: 'connection_error',
        payload: {
          message: 'connection_init was already received',
          extensions: { code: 'BAD_USER_INPUT' },
        },
      });
      raw.send(start('still', '{ viewer { userId } }'));
      expect(await raw.nextJson(5_000, 'data')).toEqual({
        id: 'still',
        type: 'data',
        payload: { data: { viewer: { userId: 'alice' } } },
      });
    } finally {
      await raw.close();
    }
  });

  it('answers each start over MESSAGE_RATE with RATE_LIMITED for its id; the others run', async () => {
    const raw = await acknowledged();
    try {
      const count = 150; // over MESSAGE_BURST (100) in one go
      for (let index = 0; index < count; index += 1) raw.send(start(`r${index}`, '{ viewer { userId } }'));
      const answers = (await frames(raw, count * 2, 'a data and a complete per start')) as Array<{
        id: string;
        type: string;
        payload?: ApolloResult;
      }>;
      const data = answers.filter((frame) => frame.type === 'data');
      expect(new Set(data.map((frame) => frame.id)).size).toBe(count);
      expect(answers.filter((frame) => frame.type === 'complete')).toHaveLength(count);
      const limited = data.filter((frame) => frame.payload?.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
      const ran = data.filter((frame) => frame.payload?.data);
      expect(limited.length).toBeGreaterThan(0);
      expect(ran.length).toBeGreaterThanOrEqual(100);
      expect(limited.length + ran.length).toBe(count);
    } finally {
      await raw.close();
    }
  });

  it('holds a start sent before connection_init until the token is verified, then runs it', async () => {
    const raw = await open();
    try {
      raw.send(start('early', '{ viewer { userId } }'));
      raw.send(init(fixture.token));
      expect(await frames(raw, 4, 'ack, ka, data, complete')).toEqual([
        { type: 'connection_ack' },
        { type: 'ka' },
        { id: 'early', type: 'data', payload: { data: { viewer: { userId: 'alice' } } } },
        { id: 'early', type: 'complete' },
      ]);
    } finally {
      await raw.close();
    }
  });

  it('closes 4408 a socket whose start never gets a connection_init; the start never runs', async () => {
    const raw = await open();
    raw.send(start('orphan', '{ viewer { userId } }'));
    expect(await raw.closes.next(10_000, 'the close')).toEqual({
      code: 4408,
      reason: 'Connection initialisation timeout',
    });
    expect(raw.frames.pending).toEqual([]);
  });

  it('refuses a bad token with connection_error, then closes 4403; a start behind it never runs', async () => {
    const raw = await open();
    raw.send(init('not-a-jwt'));
    raw.send(start('behind', '{ viewer { userId } }'));
    expect(await raw.nextJson(5_000, 'the connection_error')).toMatchObject({
      type: 'connection_error',
      payload: { extensions: { code: 'UNAUTHENTICATED' } },
    });
    const closed = await raw.closes.next(5_000, 'the close');
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/^UNAUTHENTICATED: /);
    expect(raw.frames.pending).toEqual([]);
  });

  it('stop ends a subscription with complete; the gauge drops', async () => {
    const raw = await acknowledged();
    try {
      const stateId = await fixture.newStateId();
      raw.send(start('s1', OPERATIONS.stateStream, { stateId }));
      await fixture.waitForOpenSubscriptions('stateStream', 'apollo_ws', 1);
      raw.send({ id: 's1', type: 'stop' });
      expect(await raw.nextJson(5_000, 'complete')).toEqual({ id: 's1', type: 'complete' });
      await fixture.waitForOpenSubscriptions('stateStream', 'apollo_ws', 0);
    } finally {
      await raw.close();
    }
  });

  it('a start under a running id replaces that subscription; nothing stays behind', async () => {
    const raw = await acknowledged();
    try {
      const first = await fixture.newStateId();
      const second = await fixture.newStateId();
      raw.send(start('same', OPERATIONS.stateStream, { stateId: first }));
      await fixture.waitForOpenSubscriptions('stateStream', 'apollo_ws', 1);
      const started = await subscriptionsStarted();
      raw.send(start('same', OPERATIONS.stateStream, { stateId: second }));
      // The gauge stays at 1 (one ends, one starts); the counter of starts shows the replacement.
      await waitUntil(async () => (await subscriptionsStarted()) === started + 1, 10_000, 'the second start');
      await fixture.publish(first, { n: 'old' });
      await fixture.publish(second, { n: 'new' });
      expect(await raw.nextJson(10_000, 'the replacement event')).toMatchObject({
        id: 'same',
        type: 'data',
        payload: { data: { stateStream: { stateId: second, data: { query_state: [{ n: 'new' }] } } } },
      });
      expect(await fixture.openSubscriptions('stateStream', 'apollo_ws')).toBe(1);
      raw.send({ id: 'same', type: 'stop' });
      expect(await raw.nextJson(5_000, 'complete')).toEqual({ id: 'same', type: 'complete' });
      await fixture.waitForOpenSubscriptions('stateStream', 'apollo_ws', 0);
    } finally {
      await raw.close();
    }
  });

  it('a token that expires ends each subscription with the error, then closes 4403', async () => {
    const stateId = await fixture.newStateId();
    const shortLived = await signToken({
      sub: 'alice',
      tenantId: 'tenant-a',
      roles: ['writer'],
      expiresIn: 3,
    });
    const raw = await acknowledged(shortLived);
    raw.send(start('e1', OPERATIONS.stateStream, { stateId }));
    const [expired, complete] = await raw.frames.take(2, 10_000, 'the expiry and complete');
    expect(JSON.parse(expired as string)).toMatchObject({
      id: 'e1',
      type: 'data',
      payload: { errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] },
    });
    expect(JSON.parse(complete as string)).toEqual({ id: 'e1', type: 'complete' });
    expect((await raw.closes.next(5_000, 'the close')).code).toBe(4403);
  });

  it('connection_terminate closes the socket normally', async () => {
    const raw = await acknowledged();
    raw.send({ type: 'connection_terminate' });
    expect((await raw.closes.next(5_000, 'the close')).code).toBe(1000);
  });
});

describe('subprotocol negotiation on /graphql', () => {
  let fixture: ClientFixture;
  beforeAll(async () => {
    fixture = await startClientFixture();
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it.each([
    [['graphql-transport-ws'], 'graphql-transport-ws'],
    [['graphql-ws'], 'graphql-ws'],
    [['graphql-ws', 'graphql-transport-ws'], 'graphql-transport-ws'],
    [['chat', 'graphql-ws'], 'graphql-ws'],
  ])('Sec-WebSocket-Protocol %j is answered 101 with %s', async (offered, chosen) => {
    const socket = new WebSocket(fixture.wsUrl, offered);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
      expect(socket.protocol).toBe(chosen);
    } finally {
      socket.close();
    }
  });

  it.each([
    ['an unknown subprotocol', 'graphql-sse', '"graphql-sse"'],
    ['no Sec-WebSocket-Protocol', undefined, 'no Sec-WebSocket-Protocol'],
  ])(
    '%s is refused in the handshake: 400 with the supported ones in a JSON body',
    async (_case, offered, named) => {
      const answer = await rawUpgrade(fixture.wsUrl, offered === undefined ? {} : { protocol: offered });
      if (!isRefused(answer)) {
        answer.destroy();
        throw new Error('the upgrade was accepted');
      }
      expect(answer.status).toBe(400);
      expect(answer.headers).toMatch(/\r\ncontent-type: application\/json/i);
      const body = JSON.parse(answer.body) as { error: string; message: string; subprotocols: string[] };
      expect(body.error).toBe('BAD_USER_INPUT');
      expect(body.subprotocols).toEqual(['graphql-transport-ws', 'graphql-ws']);
      expect(body.message).toContain(named);
    },
  );
});
