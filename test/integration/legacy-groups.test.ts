import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limitRefusals } from '../../src/metrics.ts';
import { connectRaw, type RawWsClient } from '../helpers/raw-ws-client.ts';
import { slowConsumerBudgetBytes } from '../helpers/slow-consumer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';
import { useTopicGroupsApp } from '../helpers/topic-groups-app.ts';

/**
 * The legacy WebSocket routes on the socket core and in subscription groups, as their raw `ws`
 * clients see it: members of one group get every message in order and the same bytes; viewers
 * who may see different data never share; a member that stops reading is cut alone; a client
 * that floods frames is refused in its route's own words.
 */
/** The `n` of a legacy data frame `{"type":"data","data":{"n":…}}`. */
const sequenceOf = (frame: string) => (JSON.parse(frame) as { data: { n: number } }).data.n;

describe('legacy /ws/stream topic sockets in subscription groups', () => {
  const stage = useTopicGroupsApp('lg');
  const { publish, activeOn } = stage;

  /** A connected /ws/stream client subscribed to `topic`, with the subscribe's reply. */
  async function subscriber(sub: string, topic: string, roles: string[] = []) {
    const token = await signToken({ sub, tenantId: 'tenant-1', roles });
    const client = await connectRaw(`${stage.server.url.replace(/^http/, 'ws')}/ws/stream?token=${token}`);
    expect(await client.nextJson(5_000, 'connection_established')).toMatchObject({
      type: 'connection_established',
    });
    client.send({ action: 'subscribe', data: { topics: [topic] } });
    const reply = await client.nextJson<Record<string, unknown>>(5_000, 'the subscribe reply');
    return { client, reply };
  }

  it('gives every member each message in order, as the same bytes', async () => {
    const a = await subscriber('reader-a', 'lg.open');
    const b = await subscriber('reader-b', 'lg.open');
    try {
      expect(a.reply).toMatchObject({ type: 'subscription_confirmed', subscribed_topics: ['lg.open'] });
      expect(b.reply).toMatchObject({ type: 'subscription_confirmed', subscribed_topics: ['lg.open'] });
      await activeOn('lg.open', 2);
      for (let n = 0; n < 50; n++) await publish('lg.open', { n });
      const framesA = await a.client.frames.take(50, 10_000, "a's messages");
      const framesB = await b.client.frames.take(50, 10_000, "b's messages");
      expect(framesA.map(sequenceOf)).toEqual(Array.from({ length: 50 }, (_, n) => n));
      expect(framesB).toEqual(framesA);
      expect(JSON.parse(framesA[0] ?? '{}')).toMatchObject({
        type: 'data',
        topic: 'lg.open',
        data: { n: 0 },
        timestamp: expect.any(Number),
      });
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  it('never shares a topic between an entitled and an unentitled viewer: one is denied, the other reads', async () => {
    const gold = await subscriber('gold', 'lg.gold', ['gold']);
    const plain = await subscriber('plain', 'lg.gold');
    try {
      expect(gold.reply).toMatchObject({ subscribed_topics: ['lg.gold'], success: true });
      expect(plain.reply).toMatchObject({
        subscribed_topics: [],
        failed_topics: [{ topic: 'lg.gold', error: 'SUBSCRIPTION_DENIED' }],
        success: false,
      });
      await activeOn('lg.gold', 1);
      await publish('lg.gold', { n: 7 });
      expect(sequenceOf(await gold.client.frames.next(5_000, 'the entitled data'))).toBe(7);
      // The unentitled socket still answers, and has received nothing of the topic.
      plain.client.send({ action: 'ping' });
      expect(await plain.client.nextJson(5_000, 'the pong')).toMatchObject({ type: 'pong' });
    } finally {
      await gold.client.close();
      await plain.client.close();
    }
  });

  it('answers bad frames next to good ones and keeps delivering', async () => {
    const reader = await subscriber('mixed', 'lg.open');
    try {
      await activeOn('lg.open', 1);
      reader.client.send('{not json');
      reader.client.send({ action: 'dance' });
      reader.client.send({ action: 'ping' });
      const replies = await reader.client.frames.take(3, 5_000, 'the three replies');
      expect(replies.map((frame) => JSON.parse(frame))).toEqual([
        expect.objectContaining({ type: 'error', error: 'INVALID_JSON' }),
        expect.objectContaining({ type: 'error', error: 'UNKNOWN_ACTION' }),
        expect.objectContaining({ type: 'pong' }),
      ]);
      await publish('lg.open', { n: 1 });
      expect(sequenceOf(await reader.client.frames.next(5_000, 'the data after'))).toBe(1);
    } finally {
      await reader.client.close();
    }
  });

  it('closes a member that stops reading at MAX_CLIENT_BUFFER (4413) while the others get every message', async () => {
    const readers = [await subscriber('first', 'lg.open'), await subscriber('second', 'lg.open')];
    const slow = await subscriber('sleeper', 'lg.open');
    let cut = false;
    const closed = slow.client.closes.next(60_000, 'the slow member to be closed');
    void closed.then(() => {
      cut = true;
    });
    try {
      await activeOn('lg.open', 3);
      slow.client.socket.pause();
      const chunk = 'z'.repeat(128 * 1024);
      const budget = slowConsumerBudgetBytes();
      let n = 0;
      // The group goes at the readers' pace: each message reaches both before the next is sent.
      while (!cut) {
        if (n * chunk.length >= budget)
          throw new Error(`the slow member was never cut off (${n} messages sent)`);
        await publish('lg.open', { n, chunk });
        for (const reader of readers)
          expect(sequenceOf(await reader.client.frames.next(5_000, `message ${n}`))).toBe(n);
        n += 1;
        if (stage.server.app.services.topics.activeSubscriptions('lg.open') === 2) break;
      }
      slow.client.socket.resume();
      const close = await closed;
      expect([4413, 1006]).toContain(close.code);
      if (close.code === 4413) expect(close.reason).toContain('SLOW_CONSUMER');
      for (let extra = 0; extra < 5; extra++, n++) {
        await publish('lg.open', { n });
        for (const reader of readers)
          expect(sequenceOf(await reader.client.frames.next(5_000, 'after the cut'))).toBe(n);
      }
      for (const reader of readers) expect(reader.client.closes.pending).toEqual([]);
      const refusals = (await limitRefusals(stage.server.app.services.metrics).get()).values;
      expect(refusals.find((value) => value.labels.limit === 'MAX_CLIENT_BUFFER')?.value).toBeGreaterThan(0);
    } finally {
      slow.client.socket.terminate();
      for (const reader of readers) await reader.client.close();
    }
  });
});

describe('a client that floods frames on the legacy ISM and data-source sockets', () => {
  let server: TestApp;
  let token: string;
  beforeAll(async () => {
    server = await startTestApp({ env: authEnv({ MESSAGE_RATE: '1', MESSAGE_BURST: '3' }) });
    token = await signToken({ sub: 'flooder', roles: ['writer'] });
    const created = await server.graphql(
      'mutation { createState(input: { id: "flood" }) { id } }',
      {},
      { token },
    );
    expect(created.errors).toBeUndefined();
  });
  afterAll(() => server.stop());

  const wsBase = () => server.url.replace(/^http/, 'ws');
  const refusedFrames = async () =>
    (await limitRefusals(server.app.services.metrics).get()).values.find(
      (value) => value.labels.limit === 'MESSAGE_RATE',
    )?.value ?? 0;

  it('/ws/stream/{state}: within the burst the socket stays; past it, close 4429 RATE_LIMITED', async () => {
    const before = await refusedFrames();
    const calm: RawWsClient = await connectRaw(`${wsBase()}/ws/stream/flood?token=${token}`);
    const flooder: RawWsClient = await connectRaw(`${wsBase()}/ws/stream/flood?token=${token}`);
    try {
      for (let i = 0; i < 3; i++) calm.send('hello');
      for (let i = 0; i < 20; i++) flooder.send('hello');
      const close = await flooder.closes.next(5_000, 'the flood to be closed');
      expect(close).toEqual({ code: 4429, reason: 'RATE_LIMITED: more than 1 frames per second (burst 3)' });
      expect(await refusedFrames()).toBeGreaterThan(before);
      // The calm client, within its burst, still gets the state's frames.
      await server.graphql(
        'mutation { publishStateEntries(stateId: "flood", entries: [{ a: 1 }]) { accepted } }',
        {},
        { token },
      );
      expect(JSON.parse(await calm.frames.next(5_000, 'the state frame'))).toMatchObject({
        type: 'query_state_entry',
        state_id: 'flood',
      });
      expect(calm.closes.pending).toEqual([]);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    } finally {
      await calm.close();
      await flooder.close();
    }
  });

  it('/ws/ds/{ds}: answers past the rate get an error frame RATE_LIMITED each; the provider stays', async () => {
    const provider = await connectRaw(`${wsBase()}/ws/ds/floodsource?token=${token}`);
    try {
      const answer = (i: number) => ({ id: `a${i}`, requestId: `unknown-${i}`, payload: [i] });
      for (let i = 0; i < 6; i++) provider.send(answer(i));
      const replies = await provider.frames.take(6, 5_000, 'the replies to the flood');
      const parsed = replies.map((frame) => JSON.parse(frame) as Record<string, unknown>);
      // Within the burst each answer is handled (an unknown request: NOT_FOUND naming it) …
      expect(parsed.filter((frame) => frame.error === 'NOT_FOUND')).toEqual(
        [0, 1, 2].map((i) => expect.objectContaining({ type: 'error', requestId: `unknown-${i}` })),
      );
      // … past it each is refused alone.
      expect(parsed.filter((frame) => frame.error === 'RATE_LIMITED')).toHaveLength(3);
      expect(provider.closes.pending).toEqual([]);
      expect(provider.socket.readyState).toBe(provider.socket.OPEN);
    } finally {
      await provider.close();
    }
  });
});
