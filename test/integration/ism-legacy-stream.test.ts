import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AsyncQueue, waitUntil } from '../helpers/async-queue.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import {
  brokerNetwork,
  eventStream,
  type IsmNetwork,
  natsNetwork,
  primeStreams,
  textStream,
} from '../helpers/ism-network.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { serviceUrl } from '../setup/services.ts';

/** The frames of one model turn, as ISM processors stream them (legacy.md A), and JSON messages. */
const FRAMES = [
  'source text',
  '<<>>SOURCE<<>>',
  'input text',
  '<<>>INPUT<<>>',
  'The',
  ' answer',
  ' is 42.',
  '  spaces kept  ',
  'ünïcödé ✓ 🚀',
  '<<>>ASSISTANT<<>>',
  '{"type":"query_state_entry","state_id":"demo","session_id":null,"query_state":[{"a":1}]}',
  '{ "no_type" : true }',
  '<<>>ERROR<<>>',
];

/** A raw WebSocket client, as the old ISM clients are. */
function openLegacySocket(url: string, options: { autoPong?: boolean } = {}) {
  const socket = new WebSocket(url, { autoPong: options.autoPong ?? true });
  const frames = new AsyncQueue<string>();
  const closes = new AsyncQueue<{ code: number; reason: string }>();
  socket.on('message', (data, isBinary) => {
    if (isBinary) frames.push(`<binary ${String(data)}>`);
    else frames.push(String(data));
  });
  socket.on('close', (code, reason) => closes.push({ code, reason: reason.toString() }));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, frames, closes, opened };
}

const STREAM = `subscription($stateId: ID!, $sessionId: ID) {
  stateStream(stateId: $stateId, sessionId: $sessionId) { stateId sessionId type data raw timestamp }
}`;

describe.each([
  { variant: 'NATS + Postgres', nats: true },
  { variant: 'memory broker + PGlite', nats: false },
])('legacy /ws/stream routes ($variant)', ({ nats }) => {
  let server: TestApp;
  let network: IsmNetwork;
  let wsBase: string;
  /** Local broker subscriptions of an app with no client: the sync store's and the like. */
  let idleSubscriptions: number;

  beforeAll(async () => {
    server = nats
      ? await startTestApp({
          database: 'postgres',
          env: { BROKER: 'nats', NATS_URL: serviceUrl('nats'), STREAM_WS_PING_INTERVAL: '200ms' },
        })
      : await startTestApp({ env: { STREAM_WS_PING_INTERVAL: '200ms' } });
    network = nats ? await natsNetwork(serviceUrl('nats')) : brokerNetwork(server.app.services.broker);
    wsBase = server.url.replace(/^http/, 'ws');
    idleSubscriptions = server.app.services.broker.stats().subscriptions;
  });
  afterAll(async () => {
    await network.close();
    await server.stop();
  });

  it('passes every frame of a producer unchanged and in order to /ws/stream clients and as StateEvents to stateStream', async () => {
    const state = `demo${nats ? 'N' : 'M'}`;
    const publishOnState = (text: string) => network.publish(`processor.state.${state}`, text);
    const first = openLegacySocket(`${wsBase}/ws/stream/${state}`);
    const second = openLegacySocket(`${wsBase}/ws/stream/${state}`);
    const session = openLegacySocket(`${wsBase}/ws/stream/${state}/s1`);
    const { client } = connectWs(server.wsUrl);
    try {
      await Promise.all([first.opened, second.opened, session.opened]);
      const graphql = subscribeWs(client, STREAM, { stateId: state });
      await primeStreams(
        [textStream(first.frames), textStream(second.frames), eventStream(graphql.results)],
        publishOnState,
      );
      await primeStreams([textStream(session.frames)], (text) =>
        network.publish(`processor.state.${state}.s1`, text),
      );

      await network.publish(`processor.state.${state}.s1`, 'for the session only');
      for (const frame of FRAMES) await publishOnState(frame);

      expect(await first.frames.take(FRAMES.length, 10_000, 'frames on the first socket')).toEqual(FRAMES);
      expect(await second.frames.take(FRAMES.length, 10_000, 'frames on the second socket')).toEqual(FRAMES);
      expect(await session.frames.next(5_000, 'the session frame')).toBe('for the session only');

      const events = await graphql.results.take(FRAMES.length, 10_000, 'StateEvents');
      const streamed = events.map((event) => event.data?.stateStream as Record<string, unknown>);
      expect(streamed.map((event) => event.raw)).toEqual(FRAMES);
      expect(streamed[1]).toMatchObject({
        stateId: state,
        sessionId: null,
        type: 'text',
        data: '<<>>SOURCE<<>>',
      });
      expect(streamed[5]).toMatchObject({ type: 'text', data: ' answer' });
      expect(streamed[10]).toMatchObject({
        type: 'query_state_entry',
        data: { type: 'query_state_entry', state_id: 'demo', query_state: [{ a: 1 }] },
      });
      expect(streamed[11]).toMatchObject({ type: 'json', data: { no_type: true } });
      expect(streamed.every((event) => !Number.isNaN(Date.parse(String(event.timestamp))))).toBe(true);

      // Nothing of the session reached the state-only clients.
      expect(first.frames.pending).toEqual([]);
      expect(graphql.results.pending).toEqual([]);
      graphql.unsubscribe();
    } finally {
      for (const socket of [first, second, session]) socket.socket.close();
      await client.dispose();
    }
  });

  it('delivers entries published through the API on the state and the session socket', async () => {
    const state = `api${nats ? 'N' : 'M'}`;
    const stateSocket = openLegacySocket(`${wsBase}/ws/stream/${state}`);
    const sessionSocket = openLegacySocket(`${wsBase}/ws/stream/${state}/run1`);
    try {
      await Promise.all([stateSocket.opened, sessionSocket.opened]);
      await primeStreams([textStream(stateSocket.frames)], (text) =>
        network.publish(`processor.state.${state}`, text),
      );
      await primeStreams([textStream(sessionSocket.frames)], (text) =>
        network.publish(`processor.state.${state}.run1`, text),
      );
      const result = await server.graphql(
        'mutation($e: [JSONObject!]!) { publishStateEntries(stateId: "' +
          state +
          '", sessionId: "run1", entries: $e) { accepted } }',
        { e: [{ token: 'hi' }] },
      );
      expect(result.errors).toBeUndefined();
      const expected = JSON.stringify({
        type: 'query_state_entry',
        state_id: state,
        session_id: 'run1',
        query_state: [{ token: 'hi' }],
      });
      expect(await stateSocket.frames.next(5_000, 'the state frame')).toBe(expected);
      expect(await sessionSocket.frames.next(5_000, 'the session frame')).toBe(expected);
    } finally {
      stateSocket.socket.close();
      sessionSocket.socket.close();
    }
  });

  it('closes a client that stops answering pings, and keeps one that answers', async () => {
    const state = `ping${nats ? 'N' : 'M'}`;
    const dead = openLegacySocket(`${wsBase}/ws/stream/${state}`, { autoPong: false });
    const alive = openLegacySocket(`${wsBase}/ws/stream/${state}`);
    try {
      await Promise.all([dead.opened, alive.opened]);
      // The server gives up on the silent client after one unanswered ping (interval 200 ms).
      const close = await dead.closes.next(5_000, 'the silent client to be dropped');
      expect(close.code).toBe(1006); // terminated: a dead peer gets no close frame
      await primeStreams([textStream(alive.frames)], (text) =>
        network.publish(`processor.state.${state}`, text),
      );
      expect(alive.socket.readyState).toBe(WebSocket.OPEN);
    } finally {
      alive.socket.close();
    }
  });

  it('shares one broker subscription per subject among all sockets, dropped when the last leaves', async () => {
    const broker = server.app.services.broker;
    const state = `shared${nats ? 'N' : 'M'}`;
    // Earlier tests' sockets are closed; wait until their subscriptions are gone too.
    await waitUntil(() => broker.stats().subscriptions === idleSubscriptions, 5_000, 'an idle broker');
    const before = broker.stats().brokerSubscriptions;
    const sockets = [1, 2, 3].map(() => openLegacySocket(`${wsBase}/ws/stream/${state}`));
    await Promise.all(sockets.map((socket) => socket.opened));
    await primeStreams(
      sockets.map((socket) => textStream(socket.frames)),
      (text) => network.publish(`processor.state.${state}`, text),
    );
    expect(broker.stats().brokerSubscriptions).toBe(before + 1);
    for (const socket of sockets) socket.socket.close();
    await waitUntil(
      () => broker.stats().brokerSubscriptions === before,
      5_000,
      'the shared subscription to be dropped',
    );
  });

  it('closes with 4400 for a state id that is not one subject token', async () => {
    const socket = openLegacySocket(`${wsBase}/ws/stream/${encodeURIComponent('a*b')}`);
    const close = await socket.closes.next(5_000, 'the close');
    expect(close.code).toBe(4400);
    expect(close.reason).toContain('no dots');
  });

  it('closes a client that does not read with 4413 once its outbound queue passes 1 MiB', async () => {
    // A paused client cannot answer pings either: on this suite's 200 ms ping interval it would be
    // dropped as dead (1006) before its queue fills, so it gets a server with the default interval.
    const slowServer = nats
      ? await startTestApp({ database: 'postgres', env: { BROKER: 'nats', NATS_URL: serviceUrl('nats') } })
      : await startTestApp();
    const slowNetwork = nats ? network : brokerNetwork(slowServer.app.services.broker);
    try {
      const state = `slow${nats ? 'N' : 'M'}`;
      const slow = openLegacySocket(`${slowServer.url.replace(/^http/, 'ws')}/ws/stream/${state}`);
      await slow.opened;
      await primeStreams([textStream(slow.frames)], (text) =>
        slowNetwork.publish(`processor.state.${state}`, text),
      );
      const rawSocket = (slow.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      rawSocket.pause();
      const big = 'x'.repeat(512 * 1024);
      // Enough to fill the loopback buffers and the 1 MiB limit several times over.
      for (let index = 0; index < 60 && slow.closes.pending.length === 0; index++) {
        await slowNetwork.publish(`processor.state.${state}`, big);
        if (index % 10 === 9 && slowServer.app.services.broker.kind === 'memory')
          await new Promise(setImmediate);
      }
      rawSocket.resume();
      const close = await slow.closes.next(20_000, 'the slow consumer to be closed');
      expect(close.code).toBe(4413);
      expect(close.reason).toContain('too slow');
    } finally {
      await slowServer.stop();
    }
  });
});
