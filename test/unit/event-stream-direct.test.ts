import { createServer, get as httpGet, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type HttpRoute, useHttpRoutes } from '../../src/server/http-routes.ts';
import { type EventStream, EventStreams, serverResponseOf } from '../../src/server/sse/event-stream.ts';

/**
 * An SSE body behind the Node server, as every SSE route serves it (a route of yoga returning
 * the stream's body): once the head is out and the body's queue is empty, chunks are written to
 * the Node response itself. A client that reads slowly, then catches up, still gets every frame
 * once and in order, across the switch and under backpressure.
 */
describe('an EventStream behind the Node server', () => {
  let server: Server | undefined;
  let streams: EventStreams | undefined;
  afterEach(async () => {
    streams?.dispose();
    await new Promise((resolve) => server?.close(resolve));
    server?.closeAllConnections();
  });

  async function serve(onOpen: (stream: EventStream) => void): Promise<string> {
    streams = new EventStreams({ maxBufferedBytes: 64 * 1024 * 1024, greeting: null });
    const opened = streams;
    const route: HttpRoute = {
      methods: ['GET'],
      path: '/events',
      handle(_request, _params, serverContext) {
        const stream = opened.open(serverResponseOf(serverContext));
        onOpen(stream);
        return new Response(stream.body, { headers: { 'content-type': 'text/event-stream' } });
      },
    };
    const yoga = createYoga({
      schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
      plugins: [useHttpRoutes([route], pino({ level: 'silent' }))],
      logging: false,
    });
    server = createServer(yoga);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  }

  it('keeps every frame once and in order while the client stalls and catches up', async () => {
    const frames = 400;
    const pad = 'x'.repeat(32 * 1024);
    let stream: EventStream | undefined;
    const url = await serve((opened) => {
      stream = opened;
      // Sent before the head is out: these go through the body.
      for (let n = 0; n < 5; n++) opened.send(`data: ${n}\n\n`);
    });
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(url, resolve).on('error', reject);
    });
    expect(response.statusCode).toBe(200);
    response.pause(); // stalls: the kernel's buffers and then the response's fill up
    const open = stream;
    if (!open) throw new Error('no stream');
    for (let n = 5; n < frames; n++) {
      open.send(`data: ${n} ${pad}\n\n`);
      // Some ticks carry one frame, some several.
      if (n % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    open.end('data: end\n\n');
    expect(open.writesDirectly).toBe(true);

    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      text += chunk;
    });
    response.resume(); // catches up
    await new Promise((resolve) => response.on('end', resolve));
    const numbers = text
      .split('\n\n')
      .filter((event) => event.startsWith('data: '))
      .map((event) => event.slice(6).split(' ')[0]);
    expect(numbers).toEqual([...Array.from({ length: frames }, (_, n) => String(n)), 'end']);
  });
});
