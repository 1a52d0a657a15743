import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { monotonicMs } from '../../bench/support/bench-clock.ts';
import { buildGoClient, findGo, openGoSubscribers } from '../../bench/support/go-load-client.ts';
import {
  closeSubscribers,
  DeliveryTracker,
  openSubscribers,
  type Subscriber,
  type SubscriberSpec,
} from '../../bench/support/ws-subscribers.ts';

/**
 * The fan-out benchmark's Go load client (bench/support/go-load-client/) against a real `ws`
 * server speaking graphql-ws: it must count every delivery of every subscriber, tell probes apart,
 * sample latency on the shared clock only while sampling, each sample with the `sentAt` of the
 * message it timed (fanout.ts groups samples by message with it), answer pings, and fail the run
 * when a subscriber is lost or sent what it must not be, or the benchmark would time the wrong
 * thing. Skipped where there is no Go (npm test never needs it; the bench falls back to its Node
 * client, whose samples are checked the same way at the end).
 */
const go = findGo();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A graphql-ws server: acks connection_init, records what each socket sent. */
async function startServer() {
  const server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    handleProtocols: (offered: Set<string>) =>
      offered.has('graphql-transport-ws') ? 'graphql-transport-ws' : false,
  });
  await once(server, 'listening');
  const sockets: Array<{ ws: WebSocket; received: unknown[] }> = [];
  server.on('connection', (ws: WebSocket) => {
    const entry = { ws, received: [] as unknown[] };
    sockets.push(entry);
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as { type: string };
      entry.received.push(message);
      if (message.type === 'connection_init') ws.send('{"type":"connection_ack"}');
    });
  });
  cleanups.push(async () => {
    for (const ws of server.clients) ws.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { sockets, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` };
}

const payload = (pad: string, sentAt = monotonicMs()) =>
  JSON.stringify({ id: '1', type: 'next', payload: { data: { s: { sentAt, pad } } } });

const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe.skipIf(!go)('Go load client', () => {
  let binary = '';
  beforeAll(() => {
    binary = buildGoClient(go as string);
    // A fresh machine compiles the standard library first (18 s on an idle core, minutes beside
    // the rest of the suite on two cores).
  }, 600_000);

  async function open(url: string, count: number, tracker: DeliveryTracker): Promise<Subscriber> {
    const spec: SubscriberSpec = {
      kind: 'graphql-ws',
      url,
      query: 'subscription { s }',
      variables: { d: 'device-1' },
      connectionParams: { authorization: 'Bearer t' },
    };
    const subscriber = await openGoSubscribers(binary, new Array(count).fill(spec), tracker);
    cleanups.push(() => subscriber.close());
    return subscriber;
  }

  it('subscribes with the spec, counts probes and every delivery, samples latency only while sampling', async () => {
    const { sockets, url } = await startServer();
    const tracker = new DeliveryTracker(2);
    await open(url, 4, tracker);
    expect(sockets).toHaveLength(4);
    await until(() => sockets.every((socket) => socket.received.length === 2));
    expect(sockets[0]?.received).toEqual([
      { type: 'connection_init', payload: { authorization: 'Bearer t' } },
      { id: '1', type: 'subscribe', payload: { query: 'subscription { s }', variables: { d: 'device-1' } } },
    ]);

    for (const { ws } of sockets) ws.send(payload('probexxxx'));
    await until(() => tracker.live === 4 && tracker.probes === 4);
    expect(tracker.delivered).toBe(0);

    for (const { ws } of sockets) ws.send(payload('xxxx'));
    await tracker.waitFor(4, 5_000);
    expect(tracker.samples).toEqual([]);

    tracker.sampling = true;
    // Two messages in one write per socket: both counted, each sampled subscriber's both timed,
    // each sample carrying the exact sentAt its message was published with (full double precision).
    const first = monotonicMs();
    const second = first + 0.123456789;
    const sent = [first, second].map((sentAt) => ({ sentAt, frame: payload('xxxx', sentAt) }));
    for (const { ws } of sockets) for (const { frame } of sent) ws.send(frame);
    await tracker.waitFor(12, 5_000);
    const readBy = monotonicMs();
    tracker.sampling = false;
    // Subscribers 0 and 2, two deliveries each, in order per subscriber.
    expect(tracker.samples.map((sample) => sample.sentAt).sort((a, b) => a - b)).toEqual([
      first,
      first,
      second,
      second,
    ]);
    for (const { sentAt, latencyMs } of tracker.samples) {
      expect(latencyMs).toBeGreaterThanOrEqual(0);
      expect(latencyMs).toBeLessThanOrEqual(readBy - sentAt);
    }
    expect(tracker.clientCpuMicros()).toBeGreaterThan(0);
    expect(tracker.failure).toBeUndefined();
  }, 30_000);

  it('answers graphql-ws pings and WebSocket pings', async () => {
    const { sockets, url } = await startServer();
    await open(url, 1, new DeliveryTracker());
    const [socket] = sockets as [{ ws: WebSocket; received: unknown[] }];
    const pong = once(socket.ws, 'pong');
    socket.ws.ping(Buffer.from('hi'));
    expect(((await pong) as [Buffer])[0].toString()).toBe('hi');
    socket.ws.send('{"type":"ping"}');
    await until(() => socket.received.length === 3);
    expect(socket.received[2]).toEqual({ type: 'pong' });
  }, 30_000);

  it('fails the run when a subscriber is closed, sent an error, or sent a fragmented frame', async () => {
    const { sockets, url } = await startServer();
    for (const lose of [
      (ws: WebSocket) => ws.close(1011, 'gone'),
      (ws: WebSocket) => ws.send('{"id":"1","type":"error","payload":[{"message":"no"}]}'),
      (ws: WebSocket) => ws.send('part', { fin: false }),
    ]) {
      sockets.length = 0;
      const tracker = new DeliveryTracker();
      await open(url, 2, tracker);
      lose((sockets[1] as { ws: WebSocket }).ws);
      await expect(tracker.waitFor(1, 10_000)).rejects.toThrow(
        /Go load client: .*(1011 gone|error|opcode 1)/,
      );
    }
  }, 60_000);

  it('rejects when a subscriber cannot open (the server refuses the upgrade), after its retries', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', verifyClient: () => false });
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    await expect(openGoSubscribers(binary, [{ kind: 'raw', url }], new DeliveryTracker())).rejects.toThrow(
      /Go load client: WebSocket upgrade of .* refused: HTTP\/1.1 401/,
    );
  }, 30_000);
});

describe('Node load client (BENCH_CLIENT=node)', () => {
  it('samples latency only while sampling, each sample with the sentAt of its message', async () => {
    const { sockets, url } = await startServer();
    const tracker = new DeliveryTracker(2);
    const spec: SubscriberSpec = { kind: 'graphql-ws', url, query: 'subscription { s }', variables: {} };
    const subscribers = await openSubscribers(new Array(4).fill(spec), tracker);
    cleanups.push(() => closeSubscribers(subscribers));
    await until(() => sockets.length === 4 && sockets.every((socket) => socket.received.length === 2));

    for (const { ws } of sockets) ws.send(payload('xxxx'));
    await tracker.waitFor(4, 5_000);
    expect(tracker.samples).toEqual([]);

    tracker.sampling = true;
    const sentAt = monotonicMs();
    for (const { ws } of sockets) ws.send(payload('xxxx', sentAt));
    await tracker.waitFor(8, 5_000);
    const readBy = monotonicMs();
    tracker.sampling = false;
    expect(tracker.samples.map((sample) => sample.sentAt)).toEqual([sentAt, sentAt]); // subscribers 0 and 2
    for (const { latencyMs } of tracker.samples) {
      expect(latencyMs).toBeGreaterThanOrEqual(0);
      expect(latencyMs).toBeLessThanOrEqual(readBy - sentAt);
    }
    expect(tracker.failure).toBeUndefined();
  }, 30_000);
});
