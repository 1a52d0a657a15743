import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Viewer } from '../../src/domain/viewer.ts';
import { AsyncQueue, waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { slowConsumerBudgetBytes } from '../helpers/slow-consumer.ts';
import { readSse } from '../helpers/sse-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

/** A raw graphql-transport-ws socket, for what the real client will not do (never read, huge frames). */
async function rawGraphqlWs(url: string, token: string) {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  const messages = new AsyncQueue<Record<string, unknown>>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
  });
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  socket.on('error', () => undefined); // the close event says what happened
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: { token } }));
  expect(await messages.next(5_000, 'connection_ack')).toEqual({ type: 'connection_ack' });
  return { socket, messages, closed };
}

async function refusals(server: TestApp, limit: string): Promise<number> {
  const text = await server.app.services.metrics.registry.metrics();
  const match = new RegExp(`^limit_refusals_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

describe('connection limits', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({
      env: authEnv({ MAX_CONNECTIONS_PER_TENANT: '15', MAX_WS_CONNECTIONS: '20' }),
    });
  });
  afterAll(() => server?.stop());

  it('refuses the 11th connection of one user with 4429 LIMIT_EXCEEDED, on graphql-ws and SSE', async () => {
    const token = await signToken({ sub: 'greedy', tenantId: 'tenant-limits' });
    const clients: Array<ReturnType<typeof connectWs>> = [];
    try {
      for (let index = 0; index < 10; index++) {
        const connection = connectWs(server.wsUrl, { connectionParams: { token } });
        clients.push(connection);
        const answer = subscribeWs(connection.client, '{ viewer { userId } }');
        expect(await answer.results.next()).toEqual({ data: { viewer: { userId: 'greedy' } } });
      }
      expect(
        server.app.services.connectionLimiter.count({ userId: 'greedy', tenantId: 'tenant-limits' }),
      ).toBe(10);

      const eleventh = connectWs(server.wsUrl, { connectionParams: { token } });
      clients.push(eleventh);
      subscribeWs(eleventh.client, '{ viewer { userId } }');
      expect(await eleventh.closes.next()).toEqual({
        code: 4429,
        reason: 'LIMIT_EXCEEDED: user has the maximum of 10 open connections',
      });

      // The same user over SSE is refused too: the limit spans transports.
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ query: 'subscription { serverTime(every: "1s") }' }),
      });
      // Over SSE the refusal is in the stream, under 200 (docs/clients.md).
      expect(response.status).toBe(200);
      const { events } = readSse(response);
      const refused = JSON.parse((await events.next()).data);
      expect(refused.errors[0]).toMatchObject({
        message: 'user has the maximum of 10 open connections',
        extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_CONNECTIONS_PER_USER' },
      });

      // Another user of the same tenant still gets in; so does this one once a slot is free.
      const other = connectWs(server.wsUrl, {
        connectionParams: { token: await signToken({ sub: 'modest', tenantId: 'tenant-limits' }) },
      });
      clients.push(other);
      expect(await subscribeWs(other.client, '{ viewer { userId } }').results.next()).toEqual({
        data: { viewer: { userId: 'modest' } },
      });
      await clients[0]?.client.dispose();
      await waitUntil(
        () =>
          server.app.services.connectionLimiter.count({ userId: 'greedy', tenantId: 'tenant-limits' }) === 9,
      );
      const again = connectWs(server.wsUrl, { connectionParams: { token } });
      clients.push(again);
      expect(await subscribeWs(again.client, '{ viewer { userId } }').results.next()).toEqual({
        data: { viewer: { userId: 'greedy' } },
      });
    } finally {
      await Promise.all(clients.map((connection) => connection.client.dispose()));
    }
  });

  it('refuses an SSE stream past MAX_SSE_CONNECTIONS with 429, and takes it once one ends', async () => {
    const limited = await startTestApp({ env: authEnv({ MAX_SSE_CONNECTIONS: '2' }) });
    const open = (token: string, signal?: AbortSignal) =>
      fetch(`${limited.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ query: 'subscription { serverTime(every: "1s") }' }),
        signal,
      });
    const first = new AbortController();
    const second = new AbortController();
    try {
      expect((await open(await signToken({ sub: 'one' }), first.signal)).status).toBe(200);
      expect((await open(await signToken({ sub: 'two' }), second.signal)).status).toBe(200);
      const third = await open(await signToken({ sub: 'three' }));
      expect(third.status).toBe(200);
      expect(JSON.parse((await readSse(third).events.next()).data)).toEqual({
        errors: [
          {
            message: 'the server holds its maximum of 2 SSE connections',
            extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_SSE_CONNECTIONS' },
          },
        ],
      });
      first.abort();
      await waitUntil(() => limited.app.services.connectionLimiter.count({ kind: 'sse' }) === 1);
      const retry = new AbortController();
      expect((await open(await signToken({ sub: 'three' }), retry.signal)).status).toBe(200);
      retry.abort();
    } finally {
      first.abort();
      second.abort();
      await limited.stop();
    }
  });

  it('refuses connections past MAX_CONNECTIONS_PER_TENANT, whoever the user', async () => {
    const clients: Array<ReturnType<typeof connectWs>> = [];
    try {
      for (let index = 0; index < 15; index++) {
        const connection = connectWs(server.wsUrl, {
          connectionParams: { token: await signToken({ sub: `user-${index}`, tenantId: 'tenant-crowded' }) },
        });
        clients.push(connection);
        await subscribeWs(connection.client, '{ viewer { userId } }').results.next();
      }
      const sixteenth = connectWs(server.wsUrl, {
        connectionParams: { token: await signToken({ sub: 'late', tenantId: 'tenant-crowded' }) },
      });
      clients.push(sixteenth);
      subscribeWs(sixteenth.client, '{ viewer { userId } }');
      expect(await sixteenth.closes.next()).toEqual({
        code: 4429,
        reason: 'LIMIT_EXCEEDED: tenant has the maximum of 15 open connections',
      });
    } finally {
      await Promise.all(clients.map((connection) => connection.client.dispose()));
    }
  });
});

describe('limits on one connection', () => {
  let server: TestApp;
  let topicsDir: string;
  const publisher: Viewer = { userId: 'feeder', tenantId: null, roles: ['publisher'] };
  beforeAll(async () => {
    topicsDir = await mkdtemp(join(tmpdir(), 'streamgate-limits-'));
    const topicsFile = join(topicsDir, 'topics.yaml');
    await writeFile(topicsFile, 'topics:\n  - name: load.test\n    source: broker\n');
    server = await startTestApp({
      env: authEnv({
        TOPICS_FILE: topicsFile,
        MAX_SUBSCRIPTIONS_PER_CONNECTION: '5',
        MAX_PAYLOAD_BYTES: '1mb',
      }),
    });
  });
  afterAll(async () => {
    await server?.stop();
    await rm(topicsDir, { recursive: true, force: true });
  });

  it('rate-limits a flood of 1,000 frames in one second, message by message, and the connection stays alive', async () => {
    const token = await signToken({ sub: 'flooder' });
    const { client, closes } = connectWs(server.wsUrl, { connectionParams: { token } });
    try {
      await subscribeWs(client, '{ viewer { userId } }').results.next();
      const flood = Array.from({ length: 1000 }, () => subscribeWs(client, '{ __typename }'));
      const outcomes = await Promise.all(
        flood.map((operation) =>
          operation.done.then(
            () => 'answered',
            (errors: unknown) => (Array.isArray(errors) ? String(errors[0]?.extensions?.code) : 'closed'),
          ),
        ),
      );
      const answered = outcomes.filter((outcome) => outcome === 'answered').length;
      const limited = outcomes.filter((outcome) => outcome === 'RATE_LIMITED').length;
      expect(answered + limited).toBe(1000);
      // A burst of 100 (minus the first query), then 50/s for however long the flood took.
      expect(answered).toBeGreaterThanOrEqual(99);
      expect(answered).toBeLessThan(400);
      expect(limited).toBeGreaterThan(600);
      expect(closes.pending).toEqual([]);
      // Alive: once tokens refill, the same connection answers again.
      await waitUntil(
        async () => {
          const probe = subscribeWs(client, '{ viewer { userId } }');
          return probe.results.next(2_000).then(
            () => true,
            () => false,
          );
        },
        10_000,
        'a query answered after the flood',
      );
      expect(await refusals(server, 'MESSAGE_RATE')).toBeGreaterThan(600);
    } finally {
      await client.dispose();
    }
  });

  it('refuses more than MAX_SUBSCRIPTIONS_PER_CONNECTION subscriptions at once with LIMIT_EXCEEDED', async () => {
    const token = await signToken({ sub: 'collector' });
    const { client } = connectWs(server.wsUrl, { connectionParams: { token } });
    try {
      const running = Array.from({ length: 5 }, () =>
        subscribeWs(client, 'subscription { serverTime(every: "1s") }'),
      );
      await Promise.all(running.map((subscription) => subscription.results.next()));
      const sixth = subscribeWs(client, 'subscription { serverTime(every: "1s") }');
      await expect(sixth.done).rejects.toEqual([
        {
          message: 'this connection runs its maximum of 5 subscriptions (MAX_SUBSCRIPTIONS_PER_CONNECTION)',
          extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' },
        },
      ]);
      running[0]?.unsubscribe();
      await waitUntil(
        async () => {
          const retry = subscribeWs(client, 'subscription { serverTime(every: "1s") }');
          return retry.results.next(2_000).then(
            () => true,
            () => false,
          );
        },
        5_000,
        'a subscription accepted after one ended',
      );
    } finally {
      await client.dispose();
    }
  });

  it('a burst of 20 subscribes sent at once runs exactly MAX_SUBSCRIPTIONS_PER_CONNECTION (5) of them; slots come back when they end', async () => {
    const token = await signToken({ sub: 'burster' });
    const { client } = connectWs(server.wsUrl, { connectionParams: { token } });
    try {
      const subscribeBurst = () =>
        Array.from({ length: 20 }, () => subscribeWs(client, 'subscription { serverTime(every: "100ms") }'));
      const outcomes = (burst: ReturnType<typeof subscribeBurst>) =>
        Promise.all(
          burst.map((subscription) =>
            Promise.race([
              // A refused one fails its results too; then `done` below tells why.
              subscription.results.next(10_000, 'first tick').then(
                () => 'running',
                () => new Promise<string>(() => undefined),
              ),
              subscription.done.then(
                () => 'completed',
                (errors: unknown) =>
                  Array.isArray(errors) ? String(errors[0]?.extensions?.limit) : 'closed',
              ),
            ]),
          ),
        );
      const first = subscribeBurst();
      const counted = await outcomes(first);
      expect(counted.filter((outcome) => outcome === 'running')).toHaveLength(5);
      expect(counted.filter((outcome) => outcome === 'MAX_SUBSCRIPTIONS_PER_CONNECTION')).toHaveLength(15);
      for (const subscription of first) subscription.unsubscribe();
      // Every slot is released once the streams end, so a second burst gets 5 again.
      await waitUntil(
        async () => {
          const probe = subscribeWs(client, 'subscription { serverTime(every: "100ms") }');
          const ok = await probe.results.next(2_000).then(
            () => true,
            () => false,
          );
          probe.unsubscribe();
          return ok;
        },
        5_000,
        'slots released',
      );
      const second = await outcomes(subscribeBurst());
      expect(second.filter((outcome) => outcome === 'running')).toHaveLength(5);
    } finally {
      await client.dispose();
    }
  });

  it('refuses a 10 MiB frame: the socket is closed with 1009 (message too big)', async () => {
    const { socket, closed } = await rawGraphqlWs(server.wsUrl, await signToken({ sub: 'bulky' }));
    socket.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: `{ __typename } # ${'x'.repeat(10 * 1024 * 1024)}` },
      }),
    );
    expect((await closed).code).toBe(1009);
    await waitUntil(async () => (await refusals(server, 'MAX_PAYLOAD_BYTES')) === 1);
  });

  it('refuses an HTTP body over MAX_PAYLOAD_BYTES with 413 PAYLOAD_TOO_LARGE', async () => {
    const body = JSON.stringify({ query: `{ __typename } # ${'x'.repeat(10 * 1024 * 1024)}` });
    for (const chunked of [false, true]) {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        // A stream has no Content-Length: yoga counts the bytes as they come.
        body: chunked ? new Blob([body]).stream() : body,
        ...(chunked ? { duplex: 'half' } : {}),
      } as RequestInit);
      expect(response.status).toBe(413);
      expect(await response.json()).toEqual({
        errors: [
          {
            message: 'the request body is larger than MAX_PAYLOAD_BYTES allows',
            extensions: { code: 'PAYLOAD_TOO_LARGE' },
          },
        ],
      });
    }
  });

  it('refuses a published message over MAX_PAYLOAD_BYTES with PAYLOAD_TOO_LARGE', async () => {
    // Over HTTP and graphql-ws the body or frame limit (the same MAX_PAYLOAD_BYTES) refuses it
    // first; an adapter or the CLI reaching the domain directly meets this check.
    await expect(
      server.app.services.topics.publish(publisher, 'load.test', 'x'.repeat(1024 * 1024 + 1), null),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('closes a client that never reads once its buffer passes MAX_CLIENT_BUFFER; a normal client keeps receiving', async () => {
    const token = await signToken({ sub: 'reader' });
    const subscription = 'subscription { topicMessages(topics: ["load.test"]) { data } }';
    const normal = connectWs(server.wsUrl, { connectionParams: { token } });
    const slow = await rawGraphqlWs(server.wsUrl, await signToken({ sub: 'sleeper' }));
    try {
      const received = subscribeWs(normal.client, subscription);
      slow.socket.send(JSON.stringify({ id: 's', type: 'subscribe', payload: { query: subscription } }));
      await waitUntil(async () => {
        const topics = await server.graphql<{ topic: { activeSubscriptions: number } }>(
          '{ topic(name: "load.test") { activeSubscriptions } }',
          {},
          { token },
        );
        return topics.data?.topic.activeSubscriptions === 2;
      });
      // From here on the slow client reads nothing: its TCP window fills, then its server buffer.
      slow.socket.pause();

      const chunk = 'y'.repeat(64 * 1024);
      const budget = slowConsumerBudgetBytes();
      let sent = 0;
      while ((await refusals(server, 'MAX_CLIENT_BUFFER')) === 0) {
        if (sent * chunk.length >= budget)
          throw new Error(`the slow client was never cut off (${sent} messages sent)`);
        await server.app.services.topics.publish(publisher, 'load.test', { n: sent, chunk }, null);
        sent += 1;
        // Lock-step with the normal client: it must get every message, in order.
        const next = await received.results.next(5_000, `message ${sent - 1} at the normal client`);
        expect(sequenceOf(next)).toBe(sent - 1);
      }
      // The normal client is unaffected and keeps receiving after the cut.
      for (let extra = 0; extra < 5; extra++) {
        await server.app.services.topics.publish(publisher, 'load.test', { n: sent, chunk: 'small' }, null);
        const next = await received.results.next(5_000, 'a message after the cut');
        expect(sequenceOf(next)).toBe(sent);
        sent += 1;
      }
      expect(normal.closes.pending).toEqual([]);
      // The server let go of the slow one (4408, or cut at TCP level when even that could not be sent).
      slow.socket.resume();
      expect([4408, 1006]).toContain((await slow.closed).code);
    } finally {
      slow.socket.terminate();
      await normal.client.dispose();
    }
  });
});

describe('document limits', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({
      env: authEnv({
        INTROSPECTION: 'false',
        MAX_DOCUMENT_BYTES: '16kb',
        MAX_ALIASES: '5',
        MAX_QUERY_COST: '5000',
      }),
    });
  });
  afterAll(() => server?.stop());

  const deep = (levels: number) => `{ ${'a { '.repeat(levels - 1)}a${' }'.repeat(levels - 1)} }`;

  it('refuses a query 50 deep with LIMIT_EXCEEDED naming the limit, over HTTP and graphql-ws', async () => {
    const token = await signToken();
    const expected = {
      message: 'the operation is nested 50 fields deep; at most 16 are allowed (MAX_QUERY_DEPTH)',
      extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_QUERY_DEPTH' },
    };
    const overHttp = await server.graphql(deep(50), {}, { token });
    expect(overHttp.data).toBeUndefined();
    expect(overHttp.errors).toContainEqual(expect.objectContaining(expected));

    const { client } = connectWs(server.wsUrl, { connectionParams: { token } });
    try {
      const failure = await subscribeWs(client, deep(50)).done.catch((errors: unknown) => errors);
      expect(failure).toContainEqual(expect.objectContaining(expected));
    } finally {
      await client.dispose();
    }
  });

  it('accepts a valid query within the depth, refuses it when MAX_QUERY_DEPTH is lower', async () => {
    const query = '{ states(first: 1) { edges { node { entries(first: 1) { edges { node { id } } } } } } }';
    const token = await signToken({ roles: ['writer'] });
    expect((await server.graphql(query, {}, { token })).errors).toBeUndefined();
    const shallow = await startTestApp({ env: authEnv({ MAX_QUERY_DEPTH: '5' }) });
    try {
      expect((await shallow.graphql(query, {}, { token })).errors).toEqual([
        expect.objectContaining({
          message: 'the operation is nested 7 fields deep; at most 5 are allowed (MAX_QUERY_DEPTH)',
        }),
      ]);
    } finally {
      await shallow.stop();
    }
  });

  it('introspection counts toward the depth: 34 levels of ofType are refused, the full introspection query passes', async () => {
    const token = await signToken();
    const open = await startTestApp({ env: authEnv() });
    try {
      // __schema, types, 31 × ofType, name: 34 fields deep.
      const deepIntrospection = `{ __schema { types { ${'ofType { '.repeat(31)}name${' }'.repeat(31)} } } }`;
      expect((await open.graphql(deepIntrospection, {}, { token })).errors).toEqual([
        expect.objectContaining({
          message: 'the operation is nested 34 fields deep; at most 16 are allowed (MAX_QUERY_DEPTH)',
          extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_QUERY_DEPTH' },
        }),
      ]);
      const full = await open.graphql(getIntrospectionQuery({ descriptions: true }), {}, { token });
      expect(full.errors).toBeUndefined();
      expect(full.data).toHaveProperty('__schema.queryType.name', 'Query');
    } finally {
      await open.stop();
    }
  });

  it('refuses more than MAX_ALIASES aliases', async () => {
    const aliases = Array.from({ length: 6 }, (_, index) => `h${index}: health { status }`).join(' ');
    const result = await server.graphql(`{ ${aliases} }`, {}, { token: await signToken() });
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: 'the document uses more than 5 aliases (MAX_ALIASES)',
        extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_ALIASES' },
      }),
    ]);
  });

  it('refuses an operation whose estimated cost passes MAX_QUERY_COST', async () => {
    const query =
      '{ states(first: 1000) { edges { node { entries(first: 1000) { edges { node { id } } } } } } }';
    const result = await server.graphql(query, {}, { token: await signToken() });
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: "the operation's estimated cost exceeds 5000 (MAX_QUERY_COST)",
        extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_QUERY_COST' },
      }),
    ]);
  });

  it('refuses a document over MAX_DOCUMENT_BYTES with PAYLOAD_TOO_LARGE before parsing it', async () => {
    const result = await server.graphql(
      `{ health { status } } # ${'z'.repeat(20 * 1024)}`,
      {},
      { token: await signToken() },
    );
    expect(result.errors).toEqual([
      {
        message: expect.stringMatching(
          /^the document is \d+ bytes; at most 16384 are allowed \(MAX_DOCUMENT_BYTES\)$/,
        ),
        extensions: { code: 'PAYLOAD_TOO_LARGE' },
      },
    ]);
  });

  it('refuses introspection when INTROSPECTION=false; __typename still works', async () => {
    const token = await signToken();
    const result = await server.graphql('{ __schema { types { name } } }', {}, { token });
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: 'introspection is turned off on this server (INTROSPECTION=false)',
        extensions: { code: 'FORBIDDEN' },
      }),
    ]);
    expect(await server.graphql('{ __typename }', {}, { token })).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('mutation rate per user', () => {
  it('answers RATE_LIMITED past the burst, per user', async () => {
    const server = await startTestApp({ env: authEnv({ MUTATION_RATE: '1', MUTATION_BURST: '3' }) });
    try {
      const mutation = 'mutation { publish(topic: "nowhere", data: 1) { position } }';
      const token = await signToken({ sub: 'busy', roles: ['publisher'] });
      const codes: unknown[] = [];
      for (let index = 0; index < 5; index++) {
        codes.push((await server.graphql(mutation, {}, { token })).errors?.[0]?.extensions?.code);
      }
      expect(codes).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'RATE_LIMITED', 'RATE_LIMITED']);
      const other = await signToken({ sub: 'calm', roles: ['publisher'] });
      expect((await server.graphql(mutation, {}, { token: other })).errors?.[0]?.extensions?.code).toBe(
        'NOT_FOUND',
      );
      // Queries are not mutations: not limited.
      expect((await server.graphql('{ viewer { userId } }', {}, { token })).data).toEqual({
        viewer: { userId: 'busy' },
      });
    } finally {
      await server.stop();
    }
  });
});

/** The `n` a topicMessages result carries, or undefined when it has none. */
function sequenceOf(result: { data?: Record<string, unknown> | null }): number | undefined {
  const message = result.data?.topicMessages as { data?: { n?: number } } | undefined;
  return message?.data?.n;
}
