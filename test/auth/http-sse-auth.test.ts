import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, type SseEvent } from '../helpers/sse-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { BAD_TOKENS, hmacKeySource, jwksKeySource, type KeySource } from './key-sources.ts';

interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
}

describe.each([
  ['JWT_SECRET (HS256)', hmacKeySource],
  ['JWT_JWKS_URL (RS256)', () => jwksKeySource()],
])('auth over HTTP and SSE with %s', (_name, makeSource) => {
  let source: KeySource;
  let server: TestApp;
  beforeAll(async () => {
    source = await makeSource();
    server = await startTestApp({ env: source.env });
  });
  afterAll(async () => {
    await server?.stop();
    await source?.stop();
  });

  async function post(query: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const response = await server.app.yoga.fetch('http://streamgate.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...headers,
      },
      body: JSON.stringify({ query }),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as HttpAnswer['body'],
    };
  }

  /** An SSE subscription over the real server; the events until the stream ends. */
  async function sse(
    query: string,
    options: { token?: string; tokenIn?: 'header' | 'query'; until?: number } = {},
  ) {
    const controller = new AbortController();
    const inQuery = options.token !== undefined && options.tokenIn === 'query';
    const url = `${server.url}/graphql${inQuery ? `?token=${encodeURIComponent(options.token as string)}` : ''}`;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...(options.token !== undefined && !inQuery ? { authorization: `Bearer ${options.token}` } : {}),
      },
      body: JSON.stringify({ query }),
      signal: controller.signal,
    });
    const stream = readSse(response);
    return { response, ...stream, abort: () => controller.abort() };
  }

  describe('a bad token is refused with UNAUTHENTICATED, saying why, and no data', () => {
    it.each(BAD_TOKENS)('HTTP: %s', async (_case, make, expected) => {
      const token = await make(source);
      // `viewer` and `health` need no token, but a token that is given must be valid.
      for (const query of ['{ viewer { userId } }', '{ health { status } }', '{ topics { name } }']) {
        const answer = await post(query, { authorization: `Bearer ${token}` });
        expect(answer.status).toBe(401);
        expect(answer.headers.get('www-authenticate')).toContain('Bearer');
        expect(answer.body.data).toBeUndefined();
        expect(answer.body.errors).toHaveLength(1);
        expect(answer.body.errors?.[0]?.extensions).toEqual({
          code: 'UNAUTHENTICATED',
          reason: 'INVALID_TOKEN',
        });
        expect(answer.body.errors?.[0]?.message).toMatch(expected(source));
        expect(JSON.stringify(answer.body)).not.toContain(token.slice(0, 40));
      }
    });

    it.each(BAD_TOKENS.filter(([name]) => name !== 'a 100 KB token'))(
      'SSE: %s',
      async (_case, make, expected) => {
        const token = await make(source);
        for (const tokenIn of ['header', 'query'] as const) {
          const stream = await sse('subscription { serverTime(every: "100ms") }', { token, tokenIn });
          // SSE answers 200 and says it in the stream (GraphQL over HTTP; docs/clients.md).
          expect(stream.response.status).toBe(200);
          const events = await collectUntilComplete(stream.events);
          expect(events.map((event) => event.event)).toEqual(['next', 'complete']);
          const payload = JSON.parse(events[0]?.data ?? '{}');
          expect(payload.data).toBeUndefined();
          expect(payload.errors[0].extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' });
          expect(payload.errors[0].message).toMatch(expected(source));
        }
      },
    );
  });

  it('a malformed Authorization header is INVALID_TOKEN naming the expected form', async () => {
    const answer = await post('{ viewer { userId } }', { authorization: 'Basic dXNlcjpwYXNz' });
    expect(answer.status).toBe(401);
    expect(answer.body.errors?.[0]).toEqual({
      message: 'the Authorization header must be "Bearer <token>"',
      extensions: { code: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' },
    });
  });

  it('without a token: health and viewer answer, every other field is MISSING_TOKEN', async () => {
    expect((await post('{ health { status } viewer { userId } }')).body).toEqual({
      data: { health: { status: 'OK' }, viewer: null },
    });
    const answer = await post('{ viewer { userId } topics { name } }');
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({
      errors: [
        {
          message: 'a token is required for topics',
          extensions: { code: 'UNAUTHENTICATED', reason: 'MISSING_TOKEN' },
        },
      ],
    });
    const viaFragment = await post('query { ...F } fragment F on Query { topics { name } }');
    expect(viaFragment.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const mutation = await post('mutation { publish(topic: "t", data: 1) { position } }');
    expect(mutation.body.errors?.[0]?.message).toBe('a token is required for publish');
  });

  it('without a token over SSE: serverTime ticks, a guarded subscription is refused', async () => {
    const open = await sse('subscription { serverTime(every: "100ms") }');
    const tick = await open.events.next(5_000, 'a serverTime tick');
    expect(JSON.parse(tick.data).data.serverTime).toMatch(/^\d{4}-/);
    open.abort();

    const guarded = await sse('subscription { topicMessages(topics: ["prices"]) { topic } }');
    expect(guarded.response.status).toBe(200);
    const events = await collectUntilComplete(guarded.events);
    expect(events.map((event) => event.event)).toEqual(['next', 'complete']);
    expect(JSON.parse(events[0]?.data ?? '{}')).toEqual({
      errors: [
        {
          message: 'a token is required for topicMessages',
          extensions: { code: 'UNAUTHENTICATED', reason: 'MISSING_TOKEN' },
        },
      ],
    });
  });

  it('a valid token names the viewer: sub, tenant_id, roles and Keycloak realm roles', async () => {
    const token = await source.sign({
      sub: 'bob',
      tenantId: 'tenant-b',
      roles: ['reader'],
      claims: { realm_access: { roles: ['writer', 'reader'] } },
    });
    const answer = await post('{ viewer { userId tenantId roles } topics { name } }', {
      authorization: `Bearer ${token}`,
    });
    expect(answer.body).toEqual({
      data: { viewer: { userId: 'bob', tenantId: 'tenant-b', roles: ['reader', 'writer'] }, topics: [] },
    });
  });

  it('a token issued up to JWT_CLOCK_SKEW (30 s) ahead of the server clock is accepted', async () => {
    const token = await source.sign({ issuedAt: 20 });
    const answer = await post('{ viewer { userId } }', { authorization: `Bearer ${token}` });
    expect(answer.body).toEqual({ data: { viewer: { userId: 'alice' } } });
  });

  it('a valid token works over SSE with ?token=', async () => {
    const token = await source.sign();
    const stream = await sse('subscription { serverTime(every: "100ms") }', { token, tokenIn: 'query' });
    expect(stream.response.status).toBe(200);
    expect(JSON.parse((await stream.events.next()).data).data.serverTime).toMatch(/^\d{4}-/);
    stream.abort();
  });

  it('?token= is not read on plain HTTP requests (tokens in URLs only where headers are impossible)', async () => {
    const token = await source.sign();
    const response = await server.app.yoga.fetch(`http://streamgate.test/graphql?token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: '{ viewer { userId } }' }),
    });
    expect(await response.json()).toEqual({ data: { viewer: null } });
  });

  it('an SSE subscription ends with an UNAUTHENTICATED error when its token expires', async () => {
    const token = await source.sign({ expiresIn: 2 });
    const stream = await sse('subscription { serverTime(every: "200ms") }', { token });
    const events = await collectUntilComplete(stream.events, 8_000);
    const last = events.at(-2);
    expect(events.at(-1)?.event).toBe('complete');
    expect(JSON.parse(last?.data ?? '{}')).toEqual({
      errors: [
        {
          message: expect.stringMatching(/^token expired at \d{4}-/),
          extensions: { code: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' },
        },
      ],
    });
    // Ticks flowed while the token was valid.
    expect(events.filter((event) => event.data.includes('serverTime')).length).toBeGreaterThan(0);
  });
});

async function collectUntilComplete(
  events: { next(timeout?: number, what?: string): Promise<SseEvent> },
  timeoutMs = 5_000,
): Promise<SseEvent[]> {
  const seen: SseEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const event = await events.next(Math.max(1, deadline - Date.now()), 'the SSE complete event');
    seen.push(event);
    if (event.event === 'complete') return seen;
  }
}
