import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, type SseEvent } from '../helpers/sse-client.ts';
import { startTestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { type ClientFixture, startClientFixture } from './client-fixture.ts';

const TOKEN_HEADER = 'x-graphql-event-stream-token';
const TICKS = 'subscription { serverTime(every: "100ms") }';

/** One single-connection stream of graphql-sse, spoken by hand: PUT, GET, POST, DELETE. */
async function openStream(base: string, bearer: string) {
  const url = `${base}/graphql/stream`;
  const auth = { authorization: `Bearer ${bearer}` };
  const reserved = await fetch(url, { method: 'PUT', headers: auth });
  const token = await reserved.text();
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { ...auth, accept: 'text/event-stream', [TOKEN_HEADER]: token },
    signal: controller.signal,
  });
  const { events, closed } = readSse(response);
  closed.catch(() => undefined);
  const post = (id: string | undefined, query: string, as = bearer) =>
    fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json', [TOKEN_HEADER]: token },
      body: JSON.stringify({ query, extensions: id === undefined ? {} : { operationId: id } }),
    });
  const stop = (id: string) =>
    fetch(`${url}?operationId=${id}`, { method: 'DELETE', headers: { ...auth, [TOKEN_HEADER]: token } });
  /** The next event of operation `id` (events of others are kept for their own reads). */
  const kept: SseEvent[] = [];
  const nextOf = async (id: string, timeoutMs = 5_000): Promise<{ event: string; payload?: unknown }> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = kept.findIndex((event) => (JSON.parse(event.data) as { id: string }).id === id);
      const found = index >= 0 ? kept.splice(index, 1)[0] : undefined;
      if (found) {
        const data = JSON.parse(found.data) as { id: string; payload?: unknown };
        return { event: found.event, payload: data.payload };
      }
      kept.push(await events.next(Math.max(1, deadline - Date.now()), `an event of operation ${id}`));
    }
  };
  return { url, token, reserved, response, post, stop, nextOf, closed, close: () => controller.abort() };
}

describe('graphql-sse single connection on /graphql/stream, on the wire', () => {
  let fixture: ClientFixture;
  beforeAll(async () => {
    fixture = await startClientFixture();
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it("answers each step as graphql-sse's own server does, and frames every event with its operation's id", async () => {
    const stream = await openStream(fixture.server.url, fixture.token);
    try {
      expect(stream.reserved.status).toBe(201);
      expect(stream.reserved.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(stream.response.status).toBe(200);
      expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      // One GET per reservation.
      const second = await fetch(stream.url, {
        headers: { accept: 'text/event-stream', [TOKEN_HEADER]: stream.token },
      });
      expect(second.status).toBe(409);
      expect(await second.json()).toEqual({ errors: [{ message: 'Stream already open' }] });

      const missing = await stream.post(undefined, '{ viewer { userId } }');
      expect(missing.status).toBe(400);
      expect(await missing.json()).toEqual({ errors: [{ message: 'Operation ID is missing' }] });

      expect((await stream.post('q', '{ viewer { userId } }')).status).toBe(202);
      expect(await stream.nextOf('q')).toEqual({
        event: 'next',
        payload: { data: { viewer: { userId: 'alice' } } },
      });
      expect(await stream.nextOf('q')).toEqual({ event: 'complete', payload: undefined });

      expect((await stream.post('ticks', TICKS)).status).toBe(202);
      expect((await stream.post('ticks', TICKS)).status).toBe(409);
      const tick = await stream.nextOf('ticks');
      expect(tick.event).toBe('next');
      expect(tick.payload).toEqual({ data: { serverTime: expect.any(String) } });
      await fixture.waitForOpenSubscriptions('serverTime', 'graphql_sse', 1);
      // One reservation per token while an operation runs on its stream.
      const again = await fetch(stream.url, { method: 'PUT', headers: { [TOKEN_HEADER]: stream.token } });
      expect(again.status).toBe(409);
      expect(await again.json()).toEqual({ errors: [{ message: 'Stream already registered' }] });

      // DELETE stops it; graphql-sse still ends the operation with `complete`.
      expect((await stream.stop('ticks')).status).toBe(200);
      let last = await stream.nextOf('ticks');
      while (last.event === 'next') last = await stream.nextOf('ticks');
      expect(last.event).toBe('complete');
      await fixture.waitForOpenSubscriptions('serverTime', 'graphql_sse', 0);

      const unknown = await fetch(stream.url, { method: 'PATCH', headers: { [TOKEN_HEADER]: stream.token } });
      expect(unknown.status).toBe(405);
      expect(unknown.headers.get('allow')).toBe('GET, POST, PUT, DELETE');
    } finally {
      stream.close();
    }
    // The client went away: its reservation is gone with it.
    const stopAny = () =>
      fetch(`${stream.url}?operationId=x`, { method: 'DELETE', headers: { [TOKEN_HEADER]: stream.token } });
    await expect.poll(async () => (await stopAny()).status, { timeout: 5_000 }).toBe(404);
  });

  it('a PUT of the token of a stream with nothing running replaces that stream (graphql-sse client, lazy)', async () => {
    const stream = await openStream(fixture.server.url, fixture.token);
    try {
      expect((await stream.post('q', '{ viewer { userId } }')).status).toBe(202);
      expect(await stream.nextOf('q')).toEqual({
        event: 'next',
        payload: { data: { viewer: { userId: 'alice' } } },
      });
      expect(await stream.nextOf('q')).toEqual({ event: 'complete', payload: undefined });
      // The client comes back with the same token before its old GET is seen to close.
      const again = await fetch(stream.url, {
        method: 'PUT',
        headers: { accept: 'text/plain', [TOKEN_HEADER]: stream.token },
      });
      expect(again.status).toBe(201);
      expect(await again.text()).toBe(stream.token);
      // The old stream ended; the token opens a new one, which carries operations.
      await stream.closed;
      const reopened = await fetch(stream.url, {
        headers: { accept: 'text/event-stream', [TOKEN_HEADER]: stream.token },
      });
      expect(reopened.status).toBe(200);
      await reopened.body?.cancel();
    } finally {
      stream.close();
    }
  });

  it('refuses an operation on a stream nobody reserved with 404, as graphql-sse does', async () => {
    const refused = await fetch(`${fixture.server.url}/graphql/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [TOKEN_HEADER]: 'never-reserved' },
      body: JSON.stringify({ query: '{ viewer { userId } }', extensions: { operationId: '1' } }),
    });
    expect(refused.status).toBe(404);
    expect(await refused.json()).toEqual({ errors: [{ message: 'Stream not found' }] });
  });

  it('ends one operation at its token expiry with UNAUTHENTICATED; the stream and its other operations go on', async () => {
    const stream = await openStream(fixture.server.url, fixture.token);
    try {
      const shortLived = await signToken({ sub: 'alice', tenantId: 'tenant-a', expiresIn: 2 });
      expect((await stream.post('expiring', TICKS, shortLived)).status).toBe(202);
      expect((await stream.post('lasting', TICKS)).status).toBe(202);
      let event = await stream.nextOf('expiring', 8_000);
      while (event.event === 'next' && !JSON.stringify(event.payload).includes('errors'))
        event = await stream.nextOf('expiring', 8_000);
      expect(event.payload).toEqual({
        errors: [
          {
            message: expect.stringMatching(/^token expired at \d{4}-/),
            extensions: { code: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' },
          },
        ],
      });
      expect((await stream.nextOf('expiring')).event).toBe('complete');
      // The other operation still ticks on the same stream.
      for (let seen = 0; seen < 3; seen++) expect((await stream.nextOf('lasting')).event).toBe('next');
    } finally {
      stream.close();
    }
  });
});

describe('graphql-sse single connection: limits and shutdown', () => {
  it('takes an SSE connection slot per subscription: past MAX_SSE_CONNECTIONS the operation gets LIMIT_EXCEEDED, then complete', async () => {
    const server = await startTestApp({ env: authEnv({ MAX_SSE_CONNECTIONS: '1' }) });
    const stream = await openStream(server.url, await signToken({ sub: 'one' }));
    try {
      expect((await stream.post('first', TICKS)).status).toBe(202);
      expect((await stream.nextOf('first')).event).toBe('next');
      expect((await stream.post('second', TICKS)).status).toBe(202);
      expect(await stream.nextOf('second')).toEqual({
        event: 'next',
        payload: {
          errors: [
            {
              message: 'the server holds its maximum of 1 SSE connections',
              extensions: { code: 'LIMIT_EXCEEDED', limit: 'MAX_SSE_CONNECTIONS' },
            },
          ],
        },
      });
      expect((await stream.nextOf('second')).event).toBe('complete');
      // Stopping the first gives its slot back.
      await stream.stop('first');
      expect(server.app.services.connectionLimiter.count({ kind: 'sse' })).toBe(0);
      expect((await stream.post('third', TICKS)).status).toBe(202);
      let third = await stream.nextOf('third');
      expect(third.event).toBe('next');
      expect(third.payload).toEqual({ data: { serverTime: expect.any(String) } });
      // Shutdown completes each operation, then ends the stream itself.
      const stopped = server.stop();
      do third = await stream.nextOf('third');
      while (third.event === 'next');
      expect(third.event).toBe('complete');
      await stream.closed;
      await stopped;
    } finally {
      stream.close();
      await server.stop();
    }
  });
});
