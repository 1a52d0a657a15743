import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from '../../bench/support/json-poster.ts';

/**
 * The benchmarks' publisher (bench/support/json-poster.ts): a publish the server refuses, or
 * answers with something other than JSON, must fail the run loudly, or a benchmark would time
 * messages that were never delivered.
 */
describe('bench JSON poster', () => {
  const received: Array<{ path: string; type: string | undefined; auth: string | undefined; body: string }> =
    [];
  let server: http.Server;
  let base = '';

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({
          path: request.url ?? '',
          type: request.headers['content-type'],
          auth: request.headers.authorization,
          body,
        });
        if (request.url === '/refuse') {
          response.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"UNAVAILABLE"}');
        } else if (request.url === '/not-json') {
          response.writeHead(200, { 'content-type': 'text/plain' }).end('ok then');
        } else if (request.url === '/empty') {
          response.writeHead(200).end();
        } else {
          response
            .writeHead(200, { 'content-type': 'application/json' })
            .end(`{"accepted":${JSON.parse(body).length}}`);
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    server.close();
  });

  it('posts the body as JSON with the headers given and resolves with the parsed answer', async () => {
    const events = [{ data: { key: 'k1', sentAt: 1.5 } }, { data: { key: 'k2', sentAt: 2.5 } }];
    await expect(postJson(`${base}/monitor/d%201`, events, { authorization: 'Bearer t' })).resolves.toEqual({
      accepted: 2,
    });
    expect(received.at(-1)).toEqual({
      path: '/monitor/d%201',
      type: 'application/json',
      auth: 'Bearer t',
      body: JSON.stringify(events),
    });
    await expect(postJson(`${base}/empty`, [])).resolves.toBeUndefined();
  });

  it('rejects with the status and the body when the server refuses', async () => {
    await expect(postJson(`${base}/refuse`, [])).rejects.toThrow(
      `${base}/refuse answered 503: {"error":"UNAVAILABLE"}`,
    );
  });

  it('rejects a 200 whose body is not JSON', async () => {
    await expect(postJson(`${base}/not-json`, [])).rejects.toThrow(
      'answered 200 with a body that is not JSON: ok then',
    );
  });

  it('rejects when nothing listens', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    closed.close();
    await once(closed, 'close');
    await expect(postJson(`http://127.0.0.1:${port}/monitor/d1`, [])).rejects.toThrow(/ECONNREFUSED/);
  });
});
