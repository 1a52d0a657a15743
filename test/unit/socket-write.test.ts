import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { writeToSocket } from '../../src/server/socket-write.ts';
import { slowConsumerBudgetBytes } from '../helpers/slow-consumer.ts';

/**
 * Writing straight to a socket's descriptor must read, at the other end, exactly as the stream's
 * own writes do: every byte, in order, whatever is queued, however full the kernel is, and never
 * a byte into another connection's descriptor.
 */
describe('writeToSocket', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  /** A TCP server and a client connected to it: `server` writes, `client` reads. */
  async function pair(): Promise<{
    server: Socket;
    client: Socket;
    received: () => Buffer;
    listener: Server;
  }> {
    const listener = createServer();
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const accepted = once(listener, 'connection') as Promise<[Socket]>;
    const client = connect((listener.address() as AddressInfo).port, '127.0.0.1');
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.on('error', () => undefined);
    const [server] = await accepted;
    server.on('error', () => undefined);
    cleanups.push(() => {
      client.destroy();
      server.destroy();
      listener.close();
    });
    return { server, client, listener, received: () => Buffer.concat(chunks) };
  }

  const until = async (check: () => boolean, what: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  /** `count` numbered records of `size` bytes each: `#<n>` padded, so order and loss show. */
  const records = (from: number, count: number, size: number) =>
    Array.from({ length: count }, (_, index) => Buffer.from(`#${from + index}:`.padEnd(size, '.')));

  it('writes a buffer the client reads whole, without going through the stream', async () => {
    const { server, received } = await pair();
    const streamWrites: unknown[] = [];
    const original = server.write.bind(server);
    server.write = ((...args: Parameters<Socket['write']>) => {
      streamWrites.push(args[0]);
      return original(...args);
    }) as Socket['write'];
    expect(writeToSocket(server, Buffer.from('hello, '))).toBe(true);
    expect(writeToSocket(server, Buffer.from('world'))).toBe(true);
    await until(() => received().length === 12, 'the 12 bytes');
    expect(received().toString()).toBe('hello, world');
    expect(streamWrites).toEqual([]);
  });

  it('keeps order behind bytes the stream holds queued: a client that stops reading, then reads again', async () => {
    const { server, client, received } = await pair();
    client.pause();
    const size = 64 * 1024;
    const sent: Buffer[] = [];
    // Until the stream itself queues (the kernel took what it could): then every write must queue behind.
    let n = 0;
    while (server.writableLength === 0) {
      if (n * size > slowConsumerBudgetBytes()) throw new Error('the kernel never filled');
      const [record] = records(n++, 1, size) as [Buffer];
      sent.push(record);
      writeToSocket(server, record);
    }
    for (const record of records(n, 20, 1_000)) {
      sent.push(record);
      expect(writeToSocket(server, record)).toBe(false); // past the high-water mark, as socket.write says
    }
    const total = sent.reduce((sum, record) => sum + record.length, 0);
    client.resume();
    await until(() => received().length >= total, `${total} bytes`, 30_000);
    expect(received().equals(Buffer.concat(sent))).toBe(true);
  });

  it('after a close: writes nothing, throws nothing, and never reaches the connection that reuses the descriptor', async () => {
    const first = await pair();
    const fd = (first.server as unknown as { _handle: { fd: number } })._handle.fd;
    first.server.destroy();
    expect(writeToSocket(first.server, Buffer.from('late'))).toBe(false);
    // The next connection accepted may get the same descriptor number: it must read only its own bytes.
    const second = await pair();
    const secondFd = (second.server as unknown as { _handle: { fd: number } })._handle.fd;
    writeToSocket(first.server, Buffer.from('stray'));
    expect(writeToSocket(second.server, Buffer.from('own'))).toBe(true);
    await until(() => second.received().length === 3, "the second connection's bytes");
    expect(second.received().toString()).toBe('own');
    expect(typeof fd === 'number' && typeof secondFd === 'number').toBe(true);
  });

  it('a peer that is gone: the error reaches the socket as a stream write would report it, nothing throws', async () => {
    const { server, client } = await pair();
    client.resetAndDestroy();
    const errors: NodeJS.ErrnoException[] = [];
    server.on('error', (error) => errors.push(error));
    const closed = new Promise((resolve) => server.once('close', resolve));
    // The first writes may still be taken by the kernel; then EPIPE or ECONNRESET goes to the stream.
    for (let attempt = 0; attempt < 100 && !server.destroyed; attempt++) {
      writeToSocket(server, Buffer.from('x'.repeat(1_024)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await closed;
    expect(server.destroyed).toBe(true);
    expect(errors.map((error) => error.code)).toEqual([expect.stringMatching(/^(EPIPE|ECONNRESET)$/)]);
    expect(writeToSocket(server, Buffer.from('after'))).toBe(false);
  });

  it('an ended socket: the stream refuses the write as it would (write after end), no byte goes out', async () => {
    const { server, client, received } = await pair();
    const errors: Error[] = [];
    server.removeAllListeners('error');
    server.on('error', (error) => errors.push(error));
    server.end('bye');
    await once(client, 'end');
    writeToSocket(server, Buffer.from('more'));
    await until(() => errors.length === 1, 'the write-after-end error');
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ERR_STREAM_WRITE_AFTER_END');
    expect(received().toString()).toBe('bye');
  });
});
