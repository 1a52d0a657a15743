import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { isRefused, rawUpgrade } from '../helpers/ws-frames.ts';

/**
 * Malformed URLs and paths are answered 400 (a refused upgrade for WebSocket routes), never a
 * crash or a 500, and no response body carries a stack trace or a file path (issue 14, item 3).
 */

const MALFORMED = ['%E0%A4%A', '%', '%ZZ', 'ok%2'];

/** What a leaked stack or path looks like in a body. */
const LEAK = /\bat .+:\d+:\d+|\/src\/|\/node_modules\/|\.ts:\d+|file:\/\//;

describe('malformed URLs and paths', () => {
  let server: TestApp;
  let token: string;
  beforeAll(async () => {
    server = await startTestApp({ env: authEnv() });
    token = await signToken({ sub: 'alice', roles: ['writer'] });
  });
  afterAll(async () => {
    await server.stop();
  });

  const wsBase = () => server.url.replace(/^http/, 'ws');

  describe('WebSocket upgrades with a malformed escape in a path parameter are refused with 400', () => {
    const targets = [
      '/ws/stream/%E0%A4%A',
      '/ws/stream/ok/%',
      '/ws/stream/%ZZ/session',
      '/ws/ds/%ZZ',
      '/ws/ds/%E0%A4%A',
    ];
    it.each(targets)('%s', async (target) => {
      for (const query of ['', `?token=${token}`]) {
        const answer = await rawUpgrade(`${wsBase()}/`, { path: `${target}${query}` });
        if (!isRefused(answer)) throw new Error('the upgrade was accepted');
        expect(answer.status).toBe(400);
        expect(JSON.parse(answer.body)).toEqual({
          error: 'BAD_USER_INPUT',
          message: 'the path holds a malformed percent-escape',
        });
        expect(answer.body).not.toMatch(LEAK);
      }
      // Still serving, and a well-formed escape still reaches the route.
      const good = await rawUpgrade(`${wsBase()}/`, { path: `/ws/ds/ds%2Done?token=${token}` });
      expect(isRefused(good)).toBe(false);
      if (!isRefused(good)) good.destroy();
    });

    it('an upgrade with no route is 404 with a JSON body', async () => {
      const answer = await rawUpgrade(`${wsBase()}/`, { path: '/ws/nowhere/%ZZ' });
      if (!isRefused(answer)) throw new Error('the upgrade was accepted');
      expect(answer.status).toBe(404);
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'NOT_FOUND' });
    });
  });

  describe('HTTP routes with path parameters answer 400', () => {
    it.each(MALFORMED.flatMap((bad) => ['POST', 'GET', 'PUT'].map((method) => ({ bad, method }))))(
      '$method /monitor/$bad',
      async ({ bad, method }) => {
        const response = await fetch(`${server.url}/monitor/${bad}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          ...(method === 'GET' ? {} : { body: '[{"symbol":"s","data":{}}]' }),
        });
        const body = await response.text();
        expect(response.status).toBe(400);
        expect(JSON.parse(body)).toEqual({
          error: 'BAD_USER_INPUT',
          message: 'the path holds a malformed percent-escape',
        });
        expect(body).not.toMatch(LEAK);
      },
    );

    it.each(MALFORMED)('POST /topics/%s/messages', async (bad) => {
      const response = await fetch(`${server.url}/topics/${bad}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '[{"n":1}]',
      });
      const body = await response.text();
      expect(response.status).toBe(400);
      expect(JSON.parse(body)).toEqual({
        error: 'BAD_USER_INPUT',
        message: 'the path holds a malformed percent-escape',
      });
      expect(body).not.toMatch(LEAK);
    });

    it('a well-formed escape still reaches the route (the good case beside the bad)', async () => {
      const response = await fetch(`${server.url}/monitor/dev%2D1`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify([{ symbol: 's', data: { n: 1 } }]),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ accepted: 1 });
      // The topic route decodes `no%2Esuch` to the topic "no.such", which does not exist here.
      const topic = await fetch(`${server.url}/topics/no%2Esuch/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '[{"n":1}]',
      });
      expect(topic.status).toBe(404);
      expect(await topic.json()).toEqual({ error: 'NOT_FOUND', message: 'topic "no.such" not found' });
    });
  });

  describe('no route answers a malformed URL with a 5xx or a stack trace', () => {
    const routes = [
      '/graphql',
      '/graphql/stream',
      '/health',
      '/livez',
      '/metrics',
      '/stats',
      '/monitor',
      '/monitor/dev-1',
      '/sse/stream',
      '/sse/subscribe',
      '/topics/t/messages',
      '/nowhere',
    ];
    const variants = (route: string) => [
      `${route}/%E0%A4%A`,
      `${route}?token=%ZZ`,
      `${route}?topics=%E0%A4%A&lastEventId=%`,
      `${route}%`,
    ];
    it.each(routes)('%s', async (route) => {
      for (const target of variants(route)) {
        for (const method of ['GET', 'POST']) {
          const response = await fetch(`${server.url}${target}`, {
            method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            ...(method === 'POST' ? { body: '{"query":' } : {}),
            signal: AbortSignal.timeout(5_000),
          });
          // An SSE route may open a stream: its headers are the answer; do not wait for the end.
          const body = response.headers.get('content-type')?.startsWith('text/event-stream')
            ? ''
            : await response.text();
          await response.body?.cancel().catch(() => undefined);
          expect({ target, method, status: response.status < 500 }).toEqual({
            target,
            method,
            status: true,
          });
          expect(body).not.toMatch(LEAK);
        }
      }
    });

    it('a request target that is not a URL at all is refused without a stack', async () => {
      for (const target of ['http://[::1', '//%%%', '/graphql?query=%']) {
        const answer = await rawHttp(
          server.url,
          `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        expect(Number(answer.slice(9, 12))).toBeLessThan(500);
        expect(answer).not.toMatch(LEAK);
      }
    });

    it('a Host header that is no host does not fail a legacy socket', async () => {
      const answer = await rawHttp(
        server.url,
        `GET /ws/ds/ds-host?token=${token} HTTP/1.1\r\nHost: a b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        { until: /\r\n\r\n/ },
      );
      expect(answer).toMatch(/^HTTP\/1\.1 (101|400)/);
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(200);
    });
  });
});

/** Sends raw bytes and collects the answer until the server closes (or `until` matches). */
function rawHttp(url: string, request: string, options: { until?: RegExp } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (options.until?.test(answer)) {
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(request);
  });
}
