import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { readSse } from '../helpers/sse-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

// The same suite on the embedded default and on a real Postgres server.
describe.each(['pglite', 'postgres'] as const)('streamgate server (%s, memory broker)', (database) => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({ database });
  });
  afterAll(() => server.stop());

  it('answers Query.health with every dependency OK', async () => {
    const result = await server.graphql<{
      health: { status: string; dependencies: Array<{ name: string; status: string }> };
    }>('{ health { status dependencies { name status } } }');
    expect(result.errors).toBeUndefined();
    expect(result.data?.health).toEqual({
      status: 'OK',
      dependencies: [
        { name: 'database', status: 'OK' },
        { name: 'broker', status: 'OK' },
      ],
    });
  });

  it('serves GET /health in the legacy shape', async () => {
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      service: 'streamgate',
      status: 'ok',
      dependencies: { database: 'ok', broker: 'ok' },
      version: expect.any(String),
      commit: expect.any(String),
      uptime_seconds: expect.any(Number),
    });
  });

  it('answers viewer with null when unauthenticated', async () => {
    const result = await server.graphql('{ viewer { userId } }');
    expect(result).toEqual({ data: { viewer: null } });
  });

  it('serves GraphiQL at /graphql to a browser', async () => {
    const response = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('graphiql');
  });

  it('delivers serverTime ticks over graphql-ws', async () => {
    const { client } = connectWs(server.wsUrl);
    try {
      const subscription = subscribeWs(client, 'subscription { serverTime(every: "100ms") }');
      const ticks = await subscription.results.take(3, 5_000, 'serverTime ticks');
      const times = ticks.map((tick) => Date.parse(String(tick.data?.serverTime)));
      expect(times.every((time) => Number.isFinite(time))).toBe(true);
      expect(times[2]).toBeGreaterThan(times[0] as number);
      subscription.unsubscribe();
    } finally {
      await client.dispose();
    }
  });

  it('delivers serverTime ticks over SSE', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { serverTime(every: "100ms") }' }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const { events } = readSse(response);
    const [first, second] = await events.take(2, 5_000, 'SSE ticks');
    expect(first?.event).toBe('next');
    expect(JSON.parse(second?.data ?? '{}').data.serverTime).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    controller.abort();
  });

  it.each([
    ['5x', 'expected a duration'],
    ['', 'expected a duration'],
    ['-5s', 'expected a duration'],
  ])('rejects the Duration %j with BAD_USER_INPUT naming the value', async (every, message) => {
    const result = await server.graphql('subscription ($every: Duration!) { serverTime(every: $every) }', {
      every,
    });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toContain(message);
    expect(result.errors?.[0]?.message).toContain(JSON.stringify(every));
  });

  it('rejects a tick shorter than 100ms with BAD_USER_INPUT over graphql-ws', async () => {
    const { client } = connectWs(server.wsUrl);
    try {
      const subscription = subscribeWs(client, 'subscription { serverTime(every: "10ms") }');
      // graphql-ws reports an operation that fails before its first event as an `error` message.
      await expect(subscription.done).rejects.toEqual([
        expect.objectContaining({
          message: 'every must be at least 100ms, got 10ms',
          extensions: { code: 'BAD_USER_INPUT' },
        }),
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('answers a syntax error with BAD_USER_INPUT', async () => {
    const result = await server.graphql('{ health { ');
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('answers an unknown route with 404', async () => {
    const response = await fetch(`${server.url}/nope`);
    expect(response.status).toBe(404);
  });
});
