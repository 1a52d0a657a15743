import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createSchema, createYoga } from 'graphql-yoga';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonResponse } from '../../src/server/http-response.ts';
import { type HttpRoute, useHttpRoutes } from '../../src/server/http-routes.ts';

/**
 * The answers the route table gives itself (405, 400, 500) and a route's JSON answer, as a client
 * of the Node server sees them: status, headers and body, sent whole with their length.
 */
describe('plain HTTP routes behind the Node server', () => {
  const logged: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'error' },
    new Writable({
      write(chunk, _encoding, done) {
        logged.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  );
  const routes: HttpRoute[] = [
    {
      methods: ['POST'],
      path: '/things/:id',
      handle: (_request, params, _serverContext, url) =>
        jsonResponse({ id: params.id, stored: true, tag: url.searchParams.get('tag') }),
    },
    { methods: ['GET', 'HEAD'], path: '/ready', handle: () => jsonResponse({ status: 'ok' }) },
    {
      methods: '*',
      path: '/boom',
      handle: () => {
        throw new Error('/srv/app/secret.ts:12 exploded');
      },
    },
  ];
  const yoga = createYoga({
    schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
    plugins: [useHttpRoutes(routes, log)],
    logging: false,
  });
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer(yoga);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Status, the headers a client relies on, and the body as text. */
  async function answer(path: string, init?: RequestInit) {
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    return {
      status: response.status,
      allow: response.headers.get('allow'),
      type: response.headers.get('content-type'),
      length: response.headers.get('content-length'),
      chunked: response.headers.get('transfer-encoding'),
      text,
    };
  }

  it("hands the route its parameters and the request's URL, and sends its JSON with its length, in one piece", async () => {
    const stored = await answer('/things/a%20b?tag=x%26y', { method: 'POST' });
    expect(stored).toMatchObject({ status: 200, chunked: null });
    expect(stored.type).toMatch(/^application\/json/);
    expect(JSON.parse(stored.text)).toEqual({ id: 'a b', stored: true, tag: 'x&y' });
    expect(Number(stored.length)).toBe(Buffer.byteLength(stored.text));
  });

  it('answers HEAD on a GET route with its headers and no body', async () => {
    const head = await answer('/ready', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.type).toMatch(/^application\/json/);
    expect(head.text).toBe('');
  });

  it('answers a method the route does not take with 405, the Allow header and a JSON body', async () => {
    const refused = await answer('/things/a', { method: 'GET' });
    expect(refused).toMatchObject({ status: 405, allow: 'POST', chunked: null });
    expect(refused.type).toMatch(/^application\/json/);
    expect(JSON.parse(refused.text)).toEqual({
      error: 'METHOD_NOT_ALLOWED',
      message: 'GET is not allowed on /things/a',
    });
    expect(Number(refused.length)).toBe(Buffer.byteLength(refused.text));
  });

  it('answers a malformed escape in a path parameter with 400', async () => {
    const malformed = await answer('/things/%ZZ', { method: 'POST' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text)).toEqual({
      error: 'BAD_USER_INPUT',
      message: 'the path holds a malformed percent-escape',
    });
  });

  it('answers a route that throws with 500 INTERNAL and a correlation id that is in the log, not the error', async () => {
    const failed = await answer('/boom');
    expect(failed.status).toBe(500);
    const body = JSON.parse(failed.text) as Record<string, unknown>;
    expect(body).toEqual({ error: 'INTERNAL', message: 'internal error', correlationId: expect.any(String) });
    expect(failed.text).not.toContain('secret.ts');
    expect(logged).toContainEqual(
      expect.objectContaining({
        correlationId: body.correlationId,
        route: '/boom',
        msg: 'HTTP route failed',
      }),
    );
  });
});
