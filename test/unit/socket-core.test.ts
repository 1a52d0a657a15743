import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type CoreSocket, SocketCore } from '../../src/server/socket-core.ts';

/**
 * The socket core frames a tick's messages itself and writes them as one buffer: what a real
 * `ws` client reads must be exactly the messages sent, in order, whatever their size.
 */
describe('SocketCore writes', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A ws server whose one connection is attached to a core, and a real client reading it. */
  async function connect(maxBufferedBytes = 16 * 1024 * 1024) {
    const cutAt: number[] = [];
    const core = new SocketCore({
      maxBufferedBytes,
      messageRate: 100,
      messageBurst: 100,
      onSlowConsumer: (buffered) => cutAt.push(buffered),
    });
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    const attached = new Promise<CoreSocket>((resolve) =>
      server.once('connection', (ws) => resolve(core.attach(ws))),
    );
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const received: string[] = [];
    client.on('message', (data: Buffer, isBinary: boolean) => {
      expect(isBinary).toBe(false);
      received.push(data.toString('utf8'));
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await once(client, 'open');
    const socket = await attached;
    cleanups.push(async () => {
      core.dispose();
      client.terminate();
      for (const ws of server.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { core, socket, client, received, closed, cutAt };
  }

  const until = async (check: () => boolean, timeoutMs = 5_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  it('delivers frames of every length class (7-bit, 16-bit, 64-bit) and multi-byte text, in order', async () => {
    const { socket, received } = await connect();
    const messages = [
      '',
      'a',
      'x'.repeat(125),
      'y'.repeat(126),
      'ünïcödé ✓ 🚀'.repeat(20),
      'z'.repeat(65_535),
      'w'.repeat(65_536),
      'v'.repeat(200_000),
      '{"last":true}',
    ];
    for (const message of messages) expect(socket.send(message)).toBe(true);
    await until(() => received.length === messages.length);
    expect(received).toEqual(messages);
  });

  it('joins head, shared payload and tail into one message per member, each with its own head', async () => {
    const { socket, received } = await connect();
    const payload = Buffer.from('{"data":{"n":"é"}}');
    const tail = Buffer.from('}');
    for (const id of ['1', '2', 'é3'])
      socket.sendParts(Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`), payload, tail);
    socket.sendBytes(Buffer.from('{"id":"1","type":"complete"}'));
    await until(() => received.length === 4);
    expect(received.map((frame) => JSON.parse(frame))).toEqual([
      { id: '1', type: 'next', payload: { data: { n: 'é' } } },
      { id: '2', type: 'next', payload: { data: { n: 'é' } } },
      { id: 'é3', type: 'next', payload: { data: { n: 'é' } } },
      { id: '1', type: 'complete' },
    ]);
  });

  it("a body given as text (a lone member's payload) is encoded into the write: every length class, multi-byte text, beside shared bytes", async () => {
    const { socket, received } = await connect();
    const head = Buffer.from('{"id":"é","payload":');
    const tail = Buffer.from('}');
    // Lengths around the 7/16/64-bit frame classes, in characters and in bytes (é is 2, 🚀 4).
    const bodies = [
      '""',
      `"${'x'.repeat(100)}"`,
      `"${'é'.repeat(50)}"`,
      `"${'🚀'.repeat(16)}"`,
      `"${'ü'.repeat(32_760)}"`,
      `"${'z'.repeat(65_500)}"`,
      `"${'✓'.repeat(70_000)}"`,
    ];
    for (const [index, body] of bodies.entries()) {
      expect(socket.sendParts(head, body, tail)).toBe(true);
      if (index % 3 === 0) socket.sendParts(head, Buffer.from(body), tail);
    }
    const expected = bodies.flatMap((body, index) => {
      const frame = `{"id":"é","payload":${body}}`;
      return index % 3 === 0 ? [frame, frame] : [frame];
    });
    await until(() => received.length === expected.length);
    expect(received).toEqual(expected);
  });

  it('writes the frames of one tick in one write, and keeps order across ticks and past the write-ahead bound', async () => {
    const { core, socket, received } = await connect();
    const before = core.writes;
    for (let index = 0; index < 10; index++) socket.send(`{"n":${index}}`);
    await until(() => received.length === 10);
    expect(core.writes - before).toBe(1);
    // 300 KB in one tick: written ahead in pieces of about 64 KB, order kept.
    const big = 'b'.repeat(1_000);
    for (let index = 10; index < 310; index++) socket.send(`{"n":${index},"pad":"${big}"}`);
    await new Promise((resolve) => setImmediate(resolve));
    for (let index = 310; index < 320; index++) socket.send(`{"n":${index}}`);
    await until(() => received.length === 320);
    expect(received.map((frame) => (JSON.parse(frame) as { n: number }).n)).toEqual(
      Array.from({ length: 320 }, (_, index) => index),
    );
    expect(core.writes - before).toBeGreaterThan(2);
    expect(core.writes - before).toBeLessThan(20);
  });

  it('sends what was queued before a close, then the close; nothing is sent after it', async () => {
    const { socket, received, closed } = await connect();
    socket.send('before');
    socket.close(4000, 'done');
    expect(socket.send('after')).toBe(false);
    expect(await closed).toEqual({ code: 4000, reason: 'done' });
    expect(received).toEqual(['before']);
  });

  it('a tick of one frame per socket and a tick of several to the same sockets read alike, in order', async () => {
    const { socket, received } = await connect();
    const head = Buffer.from('{"id":"s","type":"next","payload":');
    const tail = Buffer.from('}');
    const payload = (n: number) => Buffer.from(`{"data":{"n":${n},"pad":"${'p'.repeat(n * 7)}"}}`);
    let sent = 0;
    for (const perTick of [1, 3, 1, 1, 5, 1]) {
      for (let index = 0; index < perTick; index++) socket.sendParts(head, payload(sent++), tail);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => received.length === sent);
    expect(
      received.map((frame) => (JSON.parse(frame) as { payload: { data: { n: number } } }).payload.data.n),
    ).toEqual(Array.from({ length: sent }, (_, index) => index));
  });

  it("closes a slow client also when the bound is below the TCP socket's high-water mark", async () => {
    // Below the mark a write that returns true does not prove the bound holds: every flush asks.
    const { socket, client, closed, cutAt } = await connect(4 * 1024);
    (client as unknown as { _socket: { pause(): void } })._socket.pause();
    const started = Date.now();
    while (socket.open && Date.now() - started < 10_000) {
      socket.send('q'.repeat(1024));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(socket.open).toBe(false);
    // Cut as soon as the bound is passed: one frame past 4 KiB, not at the 16 KiB mark.
    expect(cutAt).toHaveLength(1);
    expect(cutAt[0]).toBeGreaterThan(4 * 1024);
    expect(cutAt[0]).toBeLessThanOrEqual(4 * 1024 + 1024 + 2);
    (client as unknown as { _socket: { resume(): void } })._socket.resume();
    const { code } = await closed;
    expect([4408, 1006]).toContain(code);
  });

  it('closes a client that does not read once more than the buffer bound waits unsent', async () => {
    const { socket, client, closed } = await connect(256 * 1024);
    // A client that stops reading: its TCP window fills, the server's buffer grows.
    (client as unknown as { _socket: { pause(): void } })._socket.pause();
    const frame = 'p'.repeat(16 * 1024);
    const started = Date.now();
    while (socket.open && Date.now() - started < 10_000) {
      for (let index = 0; index < 64; index++) socket.send(frame);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(socket.open).toBe(false);
    (client as unknown as { _socket: { resume(): void } })._socket.resume();
    const { code, reason } = await closed;
    // The close frame may wait behind unread data; past the grace the client sees 1006.
    expect([4408, 1006]).toContain(code);
    if (code === 4408) expect(reason).toMatch(/slow consumer/);
  });
});
