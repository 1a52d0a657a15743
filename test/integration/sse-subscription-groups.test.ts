import { request as httpRequest, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { postMonitor, uniqueDevice } from '../helpers/devices.ts';
import { connectWs, subscribeWs, type WsResult } from '../helpers/graphql-ws-client.ts';
import { slowConsumerBudgetBytes } from '../helpers/slow-consumer.ts';
import { readSse } from '../helpers/sse-client.ts';
import { signToken } from '../helpers/tokens.ts';
import { useTopicGroupsApp } from '../helpers/topic-groups-app.ts';

/**
 * Subscription groups over GraphQL over SSE (Accept: text/event-stream on /graphql): members of
 * one group, on any transport, get every event in order; viewers who may see different data never
 * share; completion, expiry and a client that stops reading stay with their member.
 */
const OPEN_TOPIC = 'subscription { topicMessages(topics: ["ssegroup.open"]) { data } }';
const GOLD_TOPIC = 'subscription { topicMessages(topics: ["ssegroup.gold"]) { data } }';
const DEVICE = 'subscription Live($deviceId: ID!) { deviceMessages(deviceId: $deviceId) { seq data } }';

interface Result {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

/** The `n` of a topic message `{ n }`. */
const sequenceOf = (result: Result | WsResult) =>
  ((result.data?.topicMessages as { data: { n: number } } | undefined)?.data ?? { n: -1 }).n;

describe('subscription groups over SSE', () => {
  const stage = useTopicGroupsApp('ssegroup');
  const { publish, activeOn } = stage;

  /** A GraphQL-over-SSE subscription as a browser's fetch makes it; its results, in order. */
  async function subscribeSse(token: string, query: string, variables: Record<string, unknown> = {}) {
    const controller = new AbortController();
    const response = await fetch(`${stage.server.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { events, closed } = readSse(response);
    const next = async (what = 'the next result'): Promise<Result> => {
      const event = await events.next(10_000, what);
      expect(event.event).toBe('next');
      return JSON.parse(event.data) as Result;
    };
    const take = async (count: number, what: string) => {
      const results: Result[] = [];
      for (let index = 0; index < count; index++) results.push(await next(`${what} #${index}`));
      return results;
    };
    return {
      next,
      take,
      events,
      /** Resolves when the server ended the stream. */
      closed: closed.catch(() => undefined),
      stop: () => controller.abort(),
    };
  }

  it('gives every SSE member each event in order, and shares one group with graphql-ws', async () => {
    const baseline = stage.server.app.services.broker.stats().subscriptions;
    const ws = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'ws-reader' }) },
    });
    const members = [
      await subscribeSse(await signToken({ sub: 'reader' }), OPEN_TOPIC),
      await subscribeSse(await signToken({ sub: 'reader' }), OPEN_TOPIC),
      await subscribeSse(await signToken({ sub: 'other' }), OPEN_TOPIC),
    ];
    try {
      const overWs = subscribeWs(ws.client, OPEN_TOPIC);
      // One source stream serves the four clients; the topic counts the clients.
      await activeOn('ssegroup.open', 4);
      expect(stage.server.app.services.broker.stats().subscriptions).toBe(baseline + 1);
      // Published back to back: many events of one tick reach each stream in one write.
      for (let n = 0; n < 200; n++) await publish('ssegroup.open', { n });
      const expected = Array.from({ length: 200 }, (_, n) => n);
      for (const member of members)
        expect((await member.take(200, 'the burst')).map(sequenceOf)).toEqual(expected);
      expect((await overWs.results.take(200, 10_000, 'the burst over graphql-ws')).map(sequenceOf)).toEqual(
        expected,
      );
    } finally {
      for (const member of members) member.stop();
      await ws.client.dispose();
    }
    await activeOn('ssegroup.open', 0);
  });

  it("never shares a device stream between two tenants: the same id is each tenant's own device", async () => {
    const device = uniqueDevice('ssegrp');
    const baseline = stage.server.app.services.broker.stats().subscriptions;
    const owner = await subscribeSse(await signToken({ sub: 'owner', tenantId: 'tenant-a' }), DEVICE, {
      deviceId: device,
    });
    try {
      await waitUntil(
        () => stage.server.app.services.broker.stats().subscriptions > baseline,
        5_000,
        'the owner live',
      );
      // The same document and variables, from another tenant: its own device (ids are scoped
      // per tenant), on its own subject, so a broker subscription of its own.
      const stranger = await subscribeSse(
        await signToken({ sub: 'stranger', tenantId: 'tenant-b' }),
        DEVICE,
        {
          deviceId: device,
        },
      );
      await waitUntil(
        () => stage.server.app.services.broker.stats().subscriptions > baseline + 1,
        5_000,
        'the stranger live',
      );
      expect(
        await postMonitor(stage.server, device, [{ type: 'signal', data: { v: 1 } }], {
          token: await signToken({ sub: 'feeder', tenantId: 'tenant-a', roles: ['writer'] }),
        }),
      ).toEqual({ status: 200, body: { accepted: 1 } });
      expect((await owner.next('the owner data')).data?.deviceMessages).toMatchObject({
        seq: 1,
        data: { v: 1 },
      });
      expect(
        await postMonitor(stage.server, device, [{ type: 'signal', data: { v: 2 } }], {
          token: await signToken({ sub: 'feeder', tenantId: 'tenant-b', roles: ['writer'] }),
        }),
      ).toEqual({ status: 200, body: { accepted: 1 } });
      expect((await stranger.next('the stranger data')).data?.deviceMessages).toMatchObject({
        seq: 1,
        data: { v: 2 },
      });
      expect(stranger.events.pending).toEqual([]);
      expect(owner.events.pending).toEqual([]);
      stranger.stop();
    } finally {
      owner.stop();
    }
  });

  it('never shares a topic stream between an entitled and an unentitled viewer of one tenant', async () => {
    const entitled = await subscribeSse(await signToken({ sub: 'gold', roles: ['gold'] }), GOLD_TOPIC);
    try {
      await activeOn('ssegroup.gold', 1);
      const denied = await subscribeSse(await signToken({ sub: 'plain' }), GOLD_TOPIC);
      expect((await denied.next('the refusal')).errors?.[0]?.extensions?.code).toBe('SUBSCRIPTION_DENIED');
      await denied.closed;
      await publish('ssegroup.gold', { n: 7 });
      expect(sequenceOf(await entitled.next('the entitled data'))).toBe(7);
      expect(denied.events.pending.filter((event) => event.event === 'next')).toEqual([]);
    } finally {
      entitled.stop();
    }
  });

  it('a client that leaves and one whose token expires end alone; the group goes on', async () => {
    const staying = await subscribeSse(await signToken({ sub: 'stays' }), OPEN_TOPIC);
    const leaving = await subscribeSse(await signToken({ sub: 'leaves' }), OPEN_TOPIC);
    const expiring = await subscribeSse(await signToken({ sub: 'expires', expiresIn: 3 }), OPEN_TOPIC);
    try {
      await activeOn('ssegroup.open', 3);
      await publish('ssegroup.open', { n: 1 });
      for (const member of [staying, leaving, expiring]) expect(sequenceOf(await member.next())).toBe(1);

      leaving.stop();
      await activeOn('ssegroup.open', 2);
      await publish('ssegroup.open', { n: 2 });
      expect(sequenceOf(await staying.next())).toBe(2);
      expect(sequenceOf(await expiring.next())).toBe(2);

      const expired = await expiring.next('the expiry error');
      expect(expired.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await expiring.events.next(5_000, 'complete')).event).toBe('complete');
      await expiring.closed;
      await activeOn('ssegroup.open', 1);
      await publish('ssegroup.open', { n: 3 });
      expect(sequenceOf(await staying.next())).toBe(3);
    } finally {
      staying.stop();
      leaving.stop();
      expiring.stop();
    }
  });

  it('cuts off a member that stops reading at MAX_CLIENT_BUFFER while the others get every message', async () => {
    const readers = [
      await subscribeSse(await signToken({ sub: 'first' }), OPEN_TOPIC),
      await subscribeSse(await signToken({ sub: 'second' }), OPEN_TOPIC),
    ];
    const slow = await stalledSse(stage.server.url, await signToken({ sub: 'sleeper' }), OPEN_TOPIC);
    try {
      await activeOn('ssegroup.open', 3);
      // Large messages: the kernel's socket buffers (megabytes on loopback) fill first.
      const chunk = 'z'.repeat(128 * 1024);
      const budget = slowConsumerBudgetBytes();
      let n = 0;
      // The group goes at the readers' pace: each message reaches both before the next is sent.
      while (stage.server.app.services.topics.activeSubscriptions('ssegroup.open') === 3) {
        if (n * chunk.length >= budget)
          throw new Error(`the slow member was never cut off (${n} messages sent)`);
        await publish('ssegroup.open', { n, chunk });
        for (const reader of readers) expect(sequenceOf(await reader.next(`message ${n}`))).toBe(n);
        n += 1;
      }
      await activeOn('ssegroup.open', 2);
      // Its response ends (the socket is destroyed if it does not read): reading again, it sees the end.
      slow.resume();
      await slow.gone;
      for (let extra = 0; extra < 5; extra++, n++) {
        await publish('ssegroup.open', { n });
        for (const reader of readers) expect(sequenceOf(await reader.next('after the cut'))).toBe(n);
      }
    } finally {
      slow.destroy();
      for (const reader of readers) reader.stop();
    }
  }, 120_000);
});

/** An SSE subscription whose client reads the headers, then nothing more. */
async function stalledSse(base: string, token: string, query: string) {
  const url = new URL('/graphql', base);
  const body = JSON.stringify({ query });
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          accept: 'text/event-stream',
          authorization: `Bearer ${token}`,
        },
      },
      resolve,
    );
    request.on('error', reject);
    request.end(body);
  });
  expect(response.statusCode).toBe(200);
  response.pause();
  const gone = new Promise<void>((resolve) => {
    response.socket.once('close', () => resolve());
  });
  response.on('error', () => undefined); // the cut is what this client waits for
  return { gone, resume: () => response.resume(), destroy: () => response.destroy() };
}
