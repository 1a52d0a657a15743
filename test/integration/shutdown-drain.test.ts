import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AsyncQueue } from '../helpers/async-queue.ts';
import { createProcessRunner, freePort, waitForListening } from '../helpers/streamgate-process.ts';
import { buildFrame, isRefused, OPCODES, rawUpgrade } from '../helpers/ws-frames.ts';

const processes = createProcessRunner();
afterAll(() => processes.cleanup());

const QUERY_BODY = JSON.stringify({ query: '{ __typename }' });
const requestHead = (port: number) =>
  [
    'POST /graphql HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    'Content-Type: application/json',
    'Connection: keep-alive',
    `Content-Length: ${Buffer.byteLength(QUERY_BODY)}`,
  ].join('\r\n');

/** A kept-alive HTTP connection written by hand, so a request can be half sent. */
function keptAliveConnection(port: number): {
  socket: Socket;
  responses: AsyncQueue<{ head: string; body: string }>;
  ended: Promise<void>;
} {
  const socket = connect(port, '127.0.0.1');
  const responses = new AsyncQueue<{ head: string; body: string }>();
  let buffered = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.slice(0, end);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      responses.push({ head, body: buffered.slice(end + 4, end + 4 + length) });
      buffered = buffered.slice(end + 4 + length);
    }
  });
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, responses, ended };
}

// A real process (tsx compiles at start-up): generous time on a loaded machine.
describe('shutdown does not wait on the clients', { timeout: 180_000 }, () => {
  it('after SIGTERM a kept-alive connection gets 503 with Connection: close, and the drain ends in SHUTDOWN_TIMEOUT although clients keep talking', async () => {
    const dir = await processes.tempDir('streamgate-drain-');
    const port = await freePort();
    const run = processes.start({
      PORT: String(port),
      PGLITE_DIR: join(dir, 'db'),
      SHUTDOWN_TIMEOUT: '8s',
      LOG_LEVEL: 'info',
    });
    await waitForListening(run.lines, 150_000);

    // 1. A kept-alive connection: one request answered, the next one half sent.
    const held = keptAliveConnection(port);
    held.socket.write(`${requestHead(port)}\r\n\r\n${QUERY_BODY}`);
    const first = await held.responses.next(20_000, 'the first answer');
    expect(first.head).toMatch(/^HTTP\/1\.1 200/);
    held.socket.write(requestHead(port));

    // 2. A client that keeps posting on its own kept-alive connection, as fast as it is answered.
    let posting = true;
    const statuses: number[] = [];
    const poster = (async () => {
      while (posting) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: QUERY_BODY,
          });
          statuses.push(response.status);
          await response.arrayBuffer();
        } catch {
          return; // the server stopped listening
        }
      }
    })();

    // 3. A WebSocket client that will never answer the server's close frame.
    const mute = await rawUpgrade(`ws://127.0.0.1:${port}/graphql`, { protocol: 'graphql-transport-ws' });
    if (isRefused(mute)) throw new Error(`upgrade refused: ${mute.status}`);
    mute.write(buildFrame({ opcode: OPCODES.TEXT, payload: JSON.stringify({ type: 'connection_init' }) }));
    expect(JSON.parse(await mute.texts.next(20_000, 'connection_ack'))).toEqual({ type: 'connection_ack' });

    run.child.kill('SIGTERM');
    for (;;) {
      const line = await run.lines.next(20_000, 'the "shutting down" log line');
      if (line.includes('shutting down')) break;
    }

    // The half-sent request is completed during the drain: refused, and the connection closed.
    held.socket.write(`\r\n\r\n${QUERY_BODY}`);
    const refused = await held.responses.next(20_000, 'the answer during the drain');
    expect(refused.head).toMatch(/^HTTP\/1\.1 503/);
    expect(refused.head).toMatch(/^connection: close$/im);
    expect(refused.head).toMatch(/^retry-after: 1$/im);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'UNAVAILABLE' });
    await held.ended;

    // The mute WebSocket got its 1001 and was cut without answering it.
    expect((await mute.closed).code).toBe(1001);
    await mute.ended;

    // Exit 0: the graceful stop finished before SHUTDOWN_TIMEOUT (the hard stop exits 1).
    expect(await run.exited).toBe(0);
    posting = false;
    await poster;
    // The poster was answered until the drain and then refused, never left hanging.
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
    expect(run.output()).not.toContain('graceful shutdown did not finish in time');
  });
});
