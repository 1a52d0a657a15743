import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { connectLean, type LeanSocket } from '../../bench/support/lean-ws-client.ts';

/**
 * The benchmarks' lean WebSocket client (bench/support/lean-ws-client.ts) against a real `ws`
 * server: it must read exactly the messages sent, however the bytes are cut into reads, answer
 * pings, and close cleanly, or the fan-out benchmark would count and time the wrong thing.
 */
describe('lean WebSocket client', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function startServer(options: { protocol?: string } = {}) {
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      ...(options.protocol
        ? { handleProtocols: (offered: Set<string>) => (offered.has('p1') ? 'p1' : false) }
        : {}),
    });
    await once(server, 'listening');
    cleanups.push(async () => {
      for (const ws of server.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/path?x=1` };
  }

  /** Opens a lean client; its messages (decoded) and its close land in the returned lists. */
  async function open(url: string, protocol?: string) {
    const messages: Array<{ text: string; receivedAt: number }> = [];
    const errors: Error[] = [];
    let closedWith: { code: number; reason: string } | undefined;
    const socket: LeanSocket = await connectLean(url, protocol, {
      onOpen: () => undefined,
      onMessage: (data, start, end, receivedAt) =>
        messages.push({ text: data.toString('utf8', start, end), receivedAt }),
      onClose: (code, reason) => {
        closedWith = { code, reason };
      },
      onError: (error) => errors.push(error),
    });
    cleanups.push(() => socket.close());
    return { socket, messages, errors, closed: () => closedWith };
  }

  const until = async (check: () => boolean, timeoutMs = 5_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  it('reads text and binary messages of every length class, in order, with the time their read came', async () => {
    const { server, url } = await startServer();
    const connected = once(server, 'connection');
    const before = performance.now();
    const client = await open(url);
    const [ws] = (await connected) as [WebSocket];
    const sent = ['', 'a', 'x'.repeat(125), 'y'.repeat(126), 'ünïcödé ✓'.repeat(30), 'z'.repeat(70_000)];
    for (const text of sent) ws.send(text);
    ws.send(Buffer.from('binary'), { binary: true });
    await until(() => client.messages.length === sent.length + 1);
    expect(client.messages.map((message) => message.text)).toEqual([...sent, 'binary']);
    for (const message of client.messages) expect(message.receivedAt).toBeGreaterThanOrEqual(before);
    expect(client.errors).toEqual([]);
  });

  it('puts together frames cut across reads (the server writes a frame byte by byte)', async () => {
    const { server, url } = await startServer();
    const connected = once(server, 'connection');
    const client = await open(url);
    const [ws] = (await connected) as [WebSocket];
    const raw = (ws as unknown as { _socket: import('node:net').Socket })._socket;
    // Two unmasked text frames ("hello", then 300 bytes with a 16-bit length), one byte per write.
    const long = 'w'.repeat(300);
    const frames = Buffer.concat([
      Buffer.from([0x81, 5]),
      Buffer.from('hello'),
      Buffer.from([0x81, 126, 300 >> 8, 300 & 0xff]),
      Buffer.from(long),
    ]);
    for (const byte of frames) {
      raw.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => client.messages.length === 2);
    expect(client.messages.map((message) => message.text)).toEqual(['hello', long]);
  });

  it('sends masked text the server reads, answers pings, and offers its subprotocol', async () => {
    const { server, url } = await startServer({ protocol: 'p1' });
    const connected = once(server, 'connection');
    const client = await open(url, 'p1');
    const [ws] = (await connected) as [WebSocket];
    expect(ws.protocol).toBe('p1');
    const received = once(ws, 'message');
    client.socket.send('{"type":"connection_init"}');
    const [data] = (await received) as [Buffer];
    expect(data.toString('utf8')).toBe('{"type":"connection_init"}');
    const pong = once(ws, 'pong');
    ws.ping(Buffer.from('are you there'));
    const [payload] = (await pong) as [Buffer];
    expect(payload.toString('utf8')).toBe('are you there');
  });

  it('closes cleanly either way: its own close is answered, the server’s close code reaches it', async () => {
    const { server, url } = await startServer();
    let connected = once(server, 'connection');
    const first = await open(url);
    let [ws] = (await connected) as [WebSocket];
    const serverSaw = once(ws, 'close');
    await first.socket.close(1000);
    const [code] = (await serverSaw) as [number];
    expect(code).toBe(1000);
    expect(first.closed()).toEqual({ code: 1000, reason: '' });

    connected = once(server, 'connection');
    const second = await open(url);
    [ws] = (await connected) as [WebSocket];
    ws.close(4408, 'slow consumer');
    await until(() => second.closed() !== undefined);
    expect(second.closed()).toEqual({ code: 4408, reason: 'slow consumer' });
    expect(second.errors).toEqual([]);
  });

  const noHandlers = {
    onOpen: () => undefined,
    onMessage: () => undefined,
    onClose: () => undefined,
    onError: () => undefined,
  };

  it('rejects an upgrade the server refuses, naming its status', async () => {
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      verifyClient: (_info, done) => done(false, 401, 'no token'),
    });
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await expect(connectLean(url, undefined, noHandlers)).rejects.toThrow(/refused: HTTP\/1\.1 401/);
  });

  it('rejects a server that does not choose the offered subprotocol', async () => {
    const { url } = await startServer({ protocol: 'p1' });
    await expect(connectLean(url, 'other', noHandlers)).rejects.toThrow(
      /chose subprotocol \(none\), offered other/,
    );
  });
});
