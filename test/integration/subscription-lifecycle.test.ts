import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { readSse } from '../helpers/sse-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const TICKS = 'subscription { serverTime(every: "100ms") }';

/**
 * Every subscription, on every route, is run by a transport that attaches its slot, gauge, expiry
 * and shutdown at its start and end (subscription-lifecycle.ts): none is left to yoga's own
 * per-event response path, where nothing would end it.
 */
describe('subscriptions and their lifecycle, whatever the request accepts', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const sseConnections = () => server.app.services.connectionLimiter.count({ kind: 'sse' });
  const subscribe = (accept: string | undefined, signal?: AbortSignal) =>
    fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(accept === undefined ? {} : { accept }) },
      body: JSON.stringify({ query: TICKS }),
      signal,
    });

  it.each([
    ['*/*', '*/*'],
    ['text/*', 'text/*'],
    ['no Accept header', undefined],
  ])(
    'a subscription asked for with %s (curl, a bare fetch) streams over SSE and holds its slot until the client leaves',
    async (_name, accept) => {
      const controller = new AbortController();
      const response = await subscribe(accept, controller.signal);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const { events, closed } = readSse(response);
      closed.catch(() => undefined);
      const first = await events.next(10_000, 'a first tick');
      expect(first.event).toBe('next');
      expect(JSON.parse(first.data)).toEqual({ data: { serverTime: expect.any(String) } });
      expect(sseConnections()).toBe(1);
      controller.abort();
      await waitUntil(() => sseConnections() === 0, 10_000, 'the slot to come back');
    },
  );

  it.each([
    ['application/graphql-response+json', 406],
    // application/json: 200 with the error, as the GraphQL-over-HTTP spec asks (http-error.ts).
    ['application/json', 200],
  ])(
    'a subscription asked for with Accept: %s only is ended at once and answered %i with why; a refusal stays as it was',
    async (accept, status) => {
      const response = await subscribe(accept);
      expect(response.status).toBe(status);
      expect(await response.json()).toEqual({
        errors: [
          {
            message: expect.stringContaining('send Accept: text/event-stream'),
            extensions: { code: 'BAD_USER_INPUT' },
          },
        ],
      });
      expect(sseConnections()).toBe(0);
      const refused = await server.graphql('subscription ($every: Duration!) { serverTime(every: $every) }', {
        every: '5x',
      });
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    },
  );

  it('ends a subscription run through yoga without a transport managing its lifecycle', async () => {
    const enveloped = server.app.yoga.getEnveloped({
      request: new Request('http://streamgate.test/graphql'),
    });
    const contextValue = await enveloped.contextFactory();
    const result = await enveloped.subscribe({
      schema: enveloped.schema,
      document: parse(TICKS),
      contextValue,
    });
    expect(result).toEqual({
      errors: [
        expect.objectContaining({ message: expect.stringContaining('send Accept: text/event-stream') }),
      ],
    });
  });
});
