import { get as httpGet, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { limitRefusals } from '../../src/metrics.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { slowConsumerBudgetBytes } from '../helpers/slow-consumer.ts';
import { readSse } from '../helpers/sse-client.ts';
import { signToken } from '../helpers/tokens.ts';
import { useTopicGroupsApp } from '../helpers/topic-groups-app.ts';

/**
 * The legacy `/sse/stream` on the SSE delivery core and in subscription groups, as its clients
 * (fetch, a raw HTTP client) see it: members of one group get every message in order, as the
 * same events with the same `id:`; a member that stops reading is cut at MAX_CLIENT_BUFFER with
 * the SLOW_CONSUMER error event while the others of its group keep getting every message.
 */
/** The `n` of a legacy SSE data event `{"topic",…,"data":{"n":…}}`. */
const sequenceOf = (data: string) => (JSON.parse(data) as { data: { n: number } }).data.n;

describe('legacy /sse/stream in subscription groups', () => {
  const stage = useTopicGroupsApp('lsse');
  const { publish, activeOn } = stage;

  /** Subscribes `connectionId`'s stream to `topic` with POST /sse/subscribe. */
  async function subscribe(token: string, connectionId: string, topic: string) {
    const response = await fetch(`${stage.server.url}/sse/subscribe?token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ connection_id: connectionId, topic }),
    });
    expect(response.status).toBe(200);
  }

  /** A legacy SSE stream read as EventSource would, subscribed to `topic`. */
  async function reader(sub: string, topic: string) {
    const token = await signToken({ sub, tenantId: 'tenant-1' });
    const controller = new AbortController();
    const response = await fetch(`${stage.server.url}/sse/stream?token=${token}`, {
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const { events } = readSse(response);
    const hello = await events.next(5_000, 'connection_established');
    expect(hello.event).toBe('connection_established');
    const { connection_id } = JSON.parse(hello.data) as { connection_id: string };
    await subscribe(token, connection_id, topic);
    const next = async (what: string) => {
      const event = await events.next(10_000, what);
      expect(event.event).toBe('data');
      return event;
    };
    return { next, stop: () => controller.abort() };
  }

  it('ends a stream whose token expires with the INVALID_TOKEN error event; its group goes on', async () => {
    const staying = await reader('stays', 'lsse.open');
    const token = await signToken({ sub: 'expires', tenantId: 'tenant-1', expiresIn: 3 });
    const response = await fetch(`${stage.server.url}/sse/stream?token=${token}`);
    const { events, closed } = readSse(response);
    const { connection_id } = JSON.parse((await events.next(5_000, 'connection_established')).data) as {
      connection_id: string;
    };
    await subscribe(token, connection_id, 'lsse.open');
    const active = async () =>
      ((await (await fetch(`${stage.server.url}/stats`)).json()) as { sse: { active_connections: number } })
        .sse.active_connections;
    try {
      await activeOn('lsse.open', 2);
      const during = await active();
      expect(during).toBeGreaterThanOrEqual(2);
      await publish('lsse.open', { n: 1 });
      // The data may come before the expiry or not (under load the setup takes a while): every
      // event up to the error is this topic's, and the error is the stream's last.
      let expired = await events.next(10_000, 'the data or the expiry error');
      if (expired.event === 'data') {
        expect(sequenceOf(expired.data)).toBe(1);
        expired = await events.next(10_000, 'the expiry error');
      }
      expect(expired.event).toBe('error');
      expect(JSON.parse(expired.data)).toMatchObject({ error: 'INVALID_TOKEN' });
      await closed;
      await activeOn('lsse.open', 1);
      // /stats counts the stream closed (its slot and count are given back when it ends).
      await waitUntil(async () => (await active()) === during - 1, 5_000, 'the stream to leave /stats');
      expect(sequenceOf((await staying.next('the first data')).data)).toBe(1);
      await publish('lsse.open', { n: 2 });
      expect(sequenceOf((await staying.next('the data after expiry')).data)).toBe(2);
    } finally {
      staying.stop();
    }
  });

  /** A legacy SSE stream whose client reads connection_established, subscribes, then reads nothing. */
  async function stalled(sub: string, topic: string) {
    const token = await signToken({ sub, tenantId: 'tenant-1' });
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(`${stage.server.url}/sse/stream?token=${token}`, resolve).on('error', reject);
    });
    expect(response.statusCode).toBe(200);
    const first = await new Promise<string>((resolve) =>
      response.once('data', (chunk) => resolve(`${chunk}`)),
    );
    response.pause();
    const { connection_id } = JSON.parse(first.split('data: ')[1] ?? '{}') as { connection_id: string };
    await subscribe(token, connection_id, topic);
    let received = '';
    const gone = new Promise<void>((resolve) => response.socket.once('close', () => resolve()));
    response.on('data', (chunk) => {
      received = `${received.slice(-4_096)}${chunk}`;
    });
    response.on('error', () => undefined); // the cut is what this client waits for
    return {
      gone,
      /** The tail of what it read after resuming. */
      tail: () => received,
      resume: () => response.resume(),
      destroy: () => response.destroy(),
    };
  }

  it('gives every member each message in order, with the same id:', async () => {
    const members = [
      await reader('a', 'lsse.open'),
      await reader('b', 'lsse.open'),
      await reader('c', 'lsse.open'),
    ];
    try {
      await activeOn('lsse.open', 3);
      for (let n = 0; n < 30; n++) await publish('lsse.open', { n });
      const seen = [];
      for (const member of members) {
        const events = [];
        for (let n = 0; n < 30; n++) events.push(await member.next(`message ${n}`));
        expect(events.map((event) => sequenceOf(event.data))).toEqual(
          Array.from({ length: 30 }, (_, n) => n),
        );
        seen.push(events);
      }
      expect(seen[1]).toEqual(seen[0]);
      expect(seen[2]).toEqual(seen[0]);
      expect(seen[0]?.every((event) => typeof event.id === 'string' && event.id.length > 0)).toBe(true);
    } finally {
      for (const member of members) member.stop();
    }
  });

  it('cuts off a member that stops reading at MAX_CLIENT_BUFFER while the others get every message', async () => {
    const readers = [await reader('first', 'lsse.open'), await reader('second', 'lsse.open')];
    const slow = await stalled('sleeper', 'lsse.open');
    try {
      await activeOn('lsse.open', 3);
      // Large messages: the kernel's socket buffers (megabytes on loopback) fill first.
      const chunk = 'z'.repeat(128 * 1024);
      const budget = slowConsumerBudgetBytes();
      let n = 0;
      // The group goes at the readers' pace: each message reaches both before the next is sent.
      while (stage.server.app.services.topics.activeSubscriptions('lsse.open') === 3) {
        if (n * chunk.length >= budget)
          throw new Error(`the slow member was never cut off (${n} messages sent)`);
        await publish('lsse.open', { n, chunk });
        for (const member of readers) expect(sequenceOf((await member.next(`message ${n}`)).data)).toBe(n);
        n += 1;
      }
      await activeOn('lsse.open', 2);
      // Its stream ends (the socket is destroyed if it still does not read).
      slow.resume();
      await slow.gone;
      const tail = slow.tail();
      // Its last event says why (unless it read too slowly even then: after a second of grace
      // the socket is destroyed with the rest of its queue, and the stream's end is lost).
      if (tail.includes('event: error'))
        expect(tail.slice(tail.lastIndexOf('event: error'))).toContain('"error":"SLOW_CONSUMER"');
      for (let extra = 0; extra < 5; extra++, n++) {
        await publish('lsse.open', { n });
        for (const member of readers) expect(sequenceOf((await member.next('after the cut')).data)).toBe(n);
      }
      const refusals = (await limitRefusals(stage.server.app.services.metrics).get()).values;
      expect(refusals.find((value) => value.labels.limit === 'MAX_CLIENT_BUFFER')?.value).toBeGreaterThan(0);
    } finally {
      slow.destroy();
      for (const member of readers) member.stop();
    }
  }, 120_000);
});
