import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AsyncQueue, waitUntil } from '../helpers/async-queue.ts';
import { postMonitor, uniqueDevice } from '../helpers/devices.ts';
import { connectWs, subscribeWs, type WsResult } from '../helpers/graphql-ws-client.ts';
import { slowConsumerBudgetBytes } from '../helpers/slow-consumer.ts';
import { signToken } from '../helpers/tokens.ts';
import { useTopicGroupsApp } from '../helpers/topic-groups-app.ts';

/**
 * Subscription groups (DESIGN.md decision 4) as clients see them: members of one group get every
 * event in order under their own id; viewers who may see different data never share; errors,
 * completion and a slow socket stay with their member.
 */
const OPEN_TOPIC = 'subscription { topicMessages(topics: ["group.open"]) { data } }';
const GOLD_TOPIC = 'subscription { topicMessages(topics: ["group.gold"]) { data } }';
const DEVICE = 'subscription Live($deviceId: ID!) { deviceMessages(deviceId: $deviceId) { seq data } }';

/** The `n` of a topic message `{ n }`. */
const sequenceOf = (result: WsResult) =>
  ((result.data?.topicMessages as { data: { n: number } } | undefined)?.data ?? { n: -1 }).n;

/** A raw graphql-transport-ws socket, for a client that stops reading. */
async function rawGraphqlWs(url: string, token: string) {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  const messages = new AsyncQueue<Record<string, unknown>>();
  const closed = new Promise<{ code: number }>((resolve) => {
    socket.on('close', (code) => resolve({ code }));
  });
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  socket.on('error', () => undefined); // the close event says what happened
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: { token } }));
  expect(await messages.next(5_000, 'connection_ack')).toEqual({ type: 'connection_ack' });
  return { socket, messages, closed };
}

describe('subscription groups over graphql-ws', () => {
  const stage = useTopicGroupsApp('group');
  const { publish, activeOn } = stage;

  it('gives every member each event in order under its own id, two on one connection', async () => {
    const token = await signToken({ sub: 'reader' });
    const one = connectWs(stage.server.wsUrl, { connectionParams: { token } });
    const two = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'other' }) },
    });
    try {
      const members = [
        subscribeWs(one.client, OPEN_TOPIC),
        subscribeWs(one.client, OPEN_TOPIC),
        subscribeWs(two.client, OPEN_TOPIC),
      ];
      await activeOn('group.open', 3);
      // Published back to back: many events in one tick reach each socket in one write.
      for (let n = 0; n < 200; n++) await publish('group.open', { n });
      for (const member of members) {
        const received = await member.results.take(200, 10_000, 'the burst');
        expect(received.map(sequenceOf)).toEqual(Array.from({ length: 200 }, (_, n) => n));
      }
    } finally {
      await one.client.dispose();
      await two.client.dispose();
    }
    await activeOn('group.open', 0);
  });

  it("never shares a device stream between two tenants: the same id is each tenant's own device", async () => {
    const device = uniqueDevice('grp');
    const ownerToken = await signToken({ sub: 'owner', tenantId: 'tenant-a' });
    const owner = connectWs(stage.server.wsUrl, { connectionParams: { token: ownerToken } });
    const stranger = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'stranger', tenantId: 'tenant-b' }) },
    });
    try {
      const baseline = stage.server.app.services.broker.stats().subscriptions;
      const owned = subscribeWs(owner.client, DEVICE, { deviceId: device });
      await waitUntil(
        () => stage.server.app.services.broker.stats().subscriptions > baseline,
        5_000,
        'the owner live',
      );
      // The same document and variables, from another tenant: its own device (ids are scoped
      // per tenant), on its own subject, so a broker subscription of its own.
      const foreign = subscribeWs(stranger.client, DEVICE, { deviceId: device });
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
      const delivered = await owned.results.next(5_000, 'the owner data');
      expect(delivered.data?.deviceMessages).toMatchObject({ seq: 1, data: { v: 1 } });
      expect(
        await postMonitor(stage.server, device, [{ type: 'signal', data: { v: 2 } }], {
          token: await signToken({ sub: 'feeder', tenantId: 'tenant-b', roles: ['writer'] }),
        }),
      ).toEqual({ status: 200, body: { accepted: 1 } });
      const theirs = await foreign.results.next(5_000, 'the stranger data');
      expect(theirs.data?.deviceMessages).toMatchObject({ seq: 1, data: { v: 2 } });
      expect(foreign.results.pending).toEqual([]);
      expect(owned.results.pending).toEqual([]);
    } finally {
      await owner.client.dispose();
      await stranger.client.dispose();
    }
  });

  it('never shares a topic stream between an entitled and an unentitled viewer of one tenant', async () => {
    const gold = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'gold', roles: ['gold'] }) },
    });
    const plain = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'plain' }) },
    });
    try {
      const entitled = subscribeWs(gold.client, GOLD_TOPIC);
      await activeOn('group.gold', 1);
      const denied = subscribeWs(plain.client, GOLD_TOPIC);
      const refusal = await denied.results.next(5_000, 'the refusal');
      expect(refusal.errors?.[0]?.extensions?.code).toBe('SUBSCRIPTION_DENIED');
      await denied.done;
      await publish('group.gold', { n: 7 });
      expect(sequenceOf(await entitled.results.next(5_000, 'the entitled data'))).toBe(7);
      expect(denied.results.pending).toEqual([]);
    } finally {
      await gold.client.dispose();
      await plain.client.dispose();
    }
  });

  it('completion and token expiry reach only their member; the group goes on', async () => {
    const stays = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'stays' }) },
    });
    const leaves = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'leaves' }) },
    });
    const expires = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'expires', expiresIn: 3 }) },
    });
    try {
      const staying = subscribeWs(stays.client, OPEN_TOPIC);
      const leaving = subscribeWs(leaves.client, OPEN_TOPIC);
      const expiring = subscribeWs(expires.client, OPEN_TOPIC);
      await activeOn('group.open', 3);
      await publish('group.open', { n: 1 });
      for (const member of [staying, leaving, expiring])
        expect(sequenceOf(await member.results.next())).toBe(1);

      leaving.unsubscribe();
      await activeOn('group.open', 2);
      await publish('group.open', { n: 2 });
      expect(sequenceOf(await staying.results.next())).toBe(2);
      expect(sequenceOf(await expiring.results.next())).toBe(2);

      const expired = await expiring.results.next(6_000, 'the expiry error');
      expect(expired.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await expires.closes.next(5_000, 'the close at expiry')).code).toBe(4403);
      await activeOn('group.open', 1);
      await publish('group.open', { n: 3 });
      expect(sequenceOf(await staying.results.next())).toBe(3);
      expect(leaving.results.pending).toEqual([]);
      expect(stays.closes.pending).toEqual([]);
    } finally {
      await stays.client.dispose();
      await leaves.client.dispose();
      await expires.client.dispose();
    }
  });

  it('closes a member that stops reading at MAX_CLIENT_BUFFER while the others get every message', async () => {
    const first = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'first' }) },
    });
    const second = connectWs(stage.server.wsUrl, {
      connectionParams: { token: await signToken({ sub: 'second' }) },
    });
    const slow = await rawGraphqlWs(stage.server.wsUrl, await signToken({ sub: 'sleeper' }));
    try {
      const readers = [subscribeWs(first.client, OPEN_TOPIC), subscribeWs(second.client, OPEN_TOPIC)];
      slow.socket.send(JSON.stringify({ id: 's', type: 'subscribe', payload: { query: OPEN_TOPIC } }));
      await activeOn('group.open', 3);
      slow.socket.pause();
      const chunk = 'z'.repeat(128 * 1024);
      const budget = slowConsumerBudgetBytes();
      let n = 0;
      let cut = false;
      void slow.closed.then(() => {
        cut = true;
      });
      // The group goes at the readers' pace: each message reaches both before the next is sent.
      while (!cut) {
        if (n * chunk.length >= budget)
          throw new Error(`the slow member was never cut off (${n} messages sent)`);
        await publish('group.open', { n, chunk });
        for (const reader of readers)
          expect(sequenceOf(await reader.results.next(5_000, `message ${n}`))).toBe(n);
        n += 1;
        if (stage.server.app.services.topics.activeSubscriptions('group.open') === 2) break;
      }
      slow.socket.resume();
      expect([4408, 1006]).toContain((await slow.closed).code);
      for (let extra = 0; extra < 5; extra++, n++) {
        await publish('group.open', { n });
        for (const reader of readers)
          expect(sequenceOf(await reader.results.next(5_000, 'after the cut'))).toBe(n);
      }
      expect(first.closes.pending).toEqual([]);
      expect(second.closes.pending).toEqual([]);
    } finally {
      slow.socket.terminate();
      await first.client.dispose();
      await second.client.dispose();
    }
  });
});
