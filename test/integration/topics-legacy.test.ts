import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectLegacy } from '../helpers/legacy-ws-client.ts';
import { readSse } from '../helpers/sse-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken, unsignedToken } from '../helpers/tokens.ts';

describe('legacy topic protocol (WebSocket /ws/stream and SSE, memory broker)', () => {
  let server: TestApp;
  let dir: string;
  let trader: string;
  let guest: string;
  beforeAll(async () => {
    trader = await signToken({ sub: 'trader', tenantId: 'tenant-1', roles: ['market_data', 'publisher'] });
    guest = await signToken({ sub: 'guest', tenantId: 'tenant-1', roles: [] });
    dir = await mkdtemp(join(tmpdir(), 'streamgate-legacy-'));
    const file = join(dir, 'topics.yaml');
    await writeFile(
      file,
      [
        'topics:',
        '  - name: pricing.updates',
        '    requiredRoles: [market_data]',
        '  - name: news.v1',
        '  - name: secret.v1',
        '    requiredRoles: [admin]',
      ].join('\n'),
    );
    server = await startTestApp({
      env: authEnv({ TOPICS_FILE: file, ACCESS_HEARTBEAT_TIMEOUT: '1s', SSE_HEARTBEAT_INTERVAL: '200ms' }),
    });
  });
  afterAll(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const wsUrl = (tokenText?: string) =>
    `${server.url.replace(/^http/, 'ws')}/ws/stream${tokenText === undefined ? '' : `?token=${tokenText}`}`;
  const publish = (topic: string, data: unknown) =>
    server.app.services.broker.publish(`topic.${topic}`, Buffer.from(JSON.stringify(data)));
  const activeOn = (topic: string, count: number) =>
    waitUntil(
      () => server.app.services.topics.activeSubscriptions(topic) === count,
      5_000,
      `${count} on ${topic}`,
    );

  it('greets with connection_established and answers the action protocol with type and action', async () => {
    const client = await connectLegacy(wsUrl(trader));
    const hello = await client.next('connection_established');
    expect(hello).toMatchObject({
      user_id: 'trader',
      tenant_id: 'tenant-1',
      connection_id: expect.any(String),
    });

    client.send({ action: 'ping' });
    const pong = await client.next('pong');
    expect(pong).toMatchObject({ action: 'pong' });
    expect(Math.abs((pong.timestamp as number) - Date.now())).toBeLessThan(5_000);

    client.send({
      action: 'subscribe',
      data: { topics: ['pricing.updates', 'secret.v1', 'no.such', 'bad topic!'] },
    });
    expect(await client.next('subscription_confirmed')).toEqual({
      type: 'subscription_confirmed',
      action: 'subscribe_response',
      subscribed_topics: ['pricing.updates'],
      failed_topics: [
        { topic: 'secret.v1', error: 'SUBSCRIPTION_DENIED', message: expect.stringContaining('admin') },
        { topic: 'no.such', error: 'UNKNOWN_TOPIC', message: expect.any(String) },
        { topic: 'bad topic!', error: 'INVALID_TOPIC_FORMAT', message: expect.any(String) },
      ],
      success: false,
    });

    client.send({ action: 'list_topics' });
    expect(await client.next('topics')).toEqual({
      type: 'topics',
      action: 'topics_list',
      subscribed_topics: ['pricing.updates'],
      available_topics: ['news.v1', 'pricing.updates'],
    });

    await publish('pricing.updates', { commodity: 'oil', price: 80 });
    const data = await client.next('data');
    expect(data).toMatchObject({
      topic: 'pricing.updates',
      data: { commodity: 'oil', price: 80 },
      partition: null,
    });
    expect(typeof data.offset).toBe('number');
    expect(Math.abs((data.timestamp as number) - Date.now())).toBeLessThan(5_000);

    client.send({ action: 'unsubscribe', data: { topics: ['pricing.updates'] } });
    expect(await client.next('unsubscribed')).toEqual({
      type: 'unsubscribed',
      action: 'unsubscribe_response',
      topics: ['pricing.updates'],
    });
    await activeOn('pricing.updates', 0);
    await client.close();
  });

  it('applies legacy filters: scalar, list, {min,max}, shared or per topic; a missing key rejects', async () => {
    const client = await connectLegacy(wsUrl(trader));
    await client.next('connection_established');
    client.send({
      action: 'subscribe',
      data: {
        topics: ['pricing.updates', 'news.v1'],
        filters: {
          'pricing.updates': { commodity: ['oil', 'gas'], price: { min: 10, max: 20 }, venue: 'ICE' },
          'news.v1': { lang: 'en' },
        },
      },
    });
    expect(await client.next('subscription_confirmed')).toMatchObject({ success: true });
    await publish('pricing.updates', { commodity: 'oil', price: 25, venue: 'ICE' }); // over max
    await publish('pricing.updates', { commodity: 'coal', price: 15, venue: 'ICE' }); // not in list
    await publish('pricing.updates', { commodity: 'gas', price: 15 }); // no venue
    await publish('pricing.updates', { commodity: 'gas', price: 20, venue: 'ICE' }); // passes, max inclusive
    await publish('news.v1', { lang: 'de', n: 1 });
    await publish('news.v1', { lang: 'en', n: 2 });
    const first = await client.next('data');
    const second = await client.next('data');
    expect([first.data, second.data]).toEqual(
      expect.arrayContaining([
        { commodity: 'gas', price: 20, venue: 'ICE' },
        { lang: 'en', n: 2 },
      ]),
    );

    // One shared filter for every topic.
    client.send({ action: 'subscribe', data: { topics: ['news.v1'], filters: { lang: 'fr' } } });
    expect(await client.next('subscription_confirmed')).toMatchObject({ subscribed_topics: ['news.v1'] });
    await publish('news.v1', { lang: 'en', n: 3 });
    await publish('news.v1', { lang: 'fr', n: 4 });
    expect((await client.next('data')).data).toEqual({ lang: 'fr', n: 4 });

    client.send({ action: 'subscribe', data: { topics: ['news.v1'], filters: { price: { min: 'cheap' } } } });
    expect(await client.next('error')).toMatchObject({
      error: 'INVALID_FORMAT',
      message: expect.stringContaining('min must be a number'),
    });
    await client.close();
  });

  it.each([
    ['not JSON', 'this is not json', 'INVALID_JSON'],
    ['no action', { data: {} }, 'INVALID_FORMAT'],
    ['an unknown action', { action: 'explode' }, 'UNKNOWN_ACTION'],
    ['subscribe without topics', { action: 'subscribe', data: {} }, 'MISSING_TOPICS'],
    ['an empty topic list', { action: 'unsubscribe', data: { topics: [] } }, 'MISSING_TOPICS'],
    ['topics that are not names', { action: 'subscribe', data: { topics: [1, 2] } }, 'INVALID_FORMAT'],
    [
      'a 1 MiB frame',
      JSON.stringify({ action: 'ping', data: { pad: 'x'.repeat(1024 * 1024) } }),
      'INVALID_FORMAT',
    ],
  ])('answers %s with an error frame and stays usable', async (_name, frame, error) => {
    const client = await connectLegacy(wsUrl(trader));
    await client.next('connection_established');
    client.send(frame);
    const reply = await client.next('error');
    expect(reply).toMatchObject({ type: 'error', error, message: expect.any(String) });
    client.send({ action: 'ping' });
    expect(await client.next('pong')).toMatchObject({ type: 'pong' });
    await client.close();
  });

  it.each([
    ['missing', () => Promise.resolve(undefined), 'MISSING_TOKEN'],
    ['garbage', () => Promise.resolve('not-a-token'), 'INVALID_TOKEN'],
    [
      'unsigned (alg none)',
      () => Promise.resolve(unsignedToken({ roles: ['market_data'] })),
      'INVALID_TOKEN',
    ],
    ['expired', () => signToken({ expiresIn: -3600 }), 'INVALID_TOKEN'],
    ['wrongly signed', () => signToken({ secret: 'another-secret-of-at-least-32-bytes!!' }), 'INVALID_TOKEN'],
  ])('sends an error frame and closes 4401 on a %s token', async (_name, makeToken, error) => {
    const client = await connectLegacy(wsUrl(await makeToken()));
    expect(await client.next('error')).toMatchObject({ type: 'error', error, message: expect.any(String) });
    expect(await client.closed).toMatchObject({ code: 4401 });
  });

  it('ends a legacy socket when its token expires', async () => {
    const shortLived = await signToken({
      sub: 'trader',
      tenantId: 'tenant-1',
      roles: ['market_data'],
      expiresIn: 2,
    });
    const client = await connectLegacy(wsUrl(shortLived));
    await client.next('connection_established');
    const pinger = setInterval(() => client.send({ action: 'ping' }), 300);
    try {
      expect(await client.next('error', 5_000)).toMatchObject({ error: 'INVALID_TOKEN' });
      expect(await client.closed).toMatchObject({ code: 4401 });
    } finally {
      clearInterval(pinger);
    }
  });

  it('closes a client that sends nothing for ACCESS_HEARTBEAT_TIMEOUT, and keeps one that pings', async () => {
    const silent = await connectLegacy(wsUrl(trader));
    const chatty = await connectLegacy(wsUrl(trader));
    await silent.next('connection_established');
    await chatty.next('connection_established');
    const pinger = setInterval(() => chatty.send({ action: 'ping' }), 300);
    try {
      expect(await silent.next('error', 3_000)).toMatchObject({ error: 'ACCESS_HEARTBEAT_TIMEOUT' });
      expect(await silent.closed).toMatchObject({ code: 4408 });
      expect(chatty.socket.readyState).toBe(chatty.socket.OPEN);
    } finally {
      clearInterval(pinger);
      await chatty.close();
    }
  });

  it('streams over SSE: connection_established, data with id:, heartbeats, subscribe by form or JSON', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/sse/stream?token=${trader}`, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const { events, comments } = readSse(response);
    const hello = await events.next();
    expect(hello.event).toBe('connection_established');
    const { connection_id } = JSON.parse(hello.data) as { connection_id: string };
    expect(JSON.parse(hello.data)).toMatchObject({ user_id: 'trader', tenant_id: 'tenant-1' });
    expect(await comments.next(2_000, 'a heartbeat comment')).toMatch(/^heartbeat/);

    const form = new URLSearchParams({
      connection_id,
      topic: 'news.v1',
      filters: JSON.stringify({ lang: 'en' }),
    });
    const subscribed = await fetch(`${server.url}/sse/subscribe?token=${trader}`, {
      method: 'POST',
      body: form,
    });
    expect(subscribed.status).toBe(200);
    expect(await subscribed.json()).toEqual({
      success: true,
      topic: 'news.v1',
      filters: { lang: 'en' },
      connection_id,
    });
    await publish('news.v1', { lang: 'de' });
    await publish('news.v1', { lang: 'en', n: 1 });
    const data = await events.next();
    expect(data.event).toBe('data');
    expect(data.id).toEqual(expect.any(String));
    expect(JSON.parse(data.data)).toMatchObject({ topic: 'news.v1', data: { lang: 'en', n: 1 } });
    controller.abort();
  });

  it.each([
    ['no token', {}, false, 401, 'MISSING_TOKEN'],
    ['an unknown connection', { connection_id: 'nope', topic: 'news.v1' }, true, 404, 'CONNECTION_NOT_FOUND'],
  ])('POST /sse/subscribe with %s is %i', async (_name, body, withToken, status, error) => {
    const response = await fetch(`${server.url}/sse/subscribe${withToken ? `?token=${trader}` : ''}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error });
  });

  it('POST /sse/subscribe answers 400 for a bad topic or filters and 403 when denied', async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/sse/stream?token=${guest}`, { signal: controller.signal });
    const { events } = readSse(response);
    const { connection_id } = JSON.parse((await events.next()).data) as { connection_id: string };
    const post = (body: object) =>
      fetch(`${server.url}/sse/subscribe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${guest}` },
        body: JSON.stringify({ connection_id, ...body }),
      });
    const denied = await post({ topic: 'pricing.updates' });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: 'SUBSCRIPTION_DENIED' });
    const badTopic = await post({ topic: 'bad topic' });
    expect(badTopic.status).toBe(400);
    expect(await badTopic.json()).toMatchObject({ error: 'INVALID_TOPIC_FORMAT' });
    const badFilters = await post({ topic: 'news.v1', filters: { x: { min: 'a' } } });
    expect(badFilters.status).toBe(400);
    expect(await badFilters.json()).toMatchObject({ error: 'INVALID_FILTERS' });
    controller.abort();
  });

  it('answers GET /sse/stream without a token with 401 JSON', async () => {
    const response = await fetch(`${server.url}/sse/stream`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'MISSING_TOKEN', message: expect.any(String) });
  });

  it('resumes an SSE stream with Last-Event-ID: all missed messages, in order, no duplicate', async () => {
    const open = async (lastEventId?: string) => {
      const controller = new AbortController();
      const response = await fetch(`${server.url}/sse/stream?token=${trader}`, {
        signal: controller.signal,
        headers: lastEventId ? { 'last-event-id': lastEventId } : {},
      });
      const { events } = readSse(response);
      const { connection_id } = JSON.parse((await events.next()).data) as { connection_id: string };
      const subscribe = await fetch(`${server.url}/sse/subscribe?token=${trader}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ connection_id, topic: 'news.v1' }),
      });
      expect(subscribe.status).toBe(200);
      return { events, close: () => controller.abort() };
    };
    const first = await open();
    await publish('news.v1', { seq: 0 });
    const last = await first.events.next();
    first.close();
    await activeOn('news.v1', 0);
    for (let seq = 1; seq <= 100; seq++) await publish('news.v1', { seq });
    const second = await open(last.id);
    const resumed = await second.events.take(100, 10_000, 'the 100 missed messages');
    expect(resumed.map((event) => (JSON.parse(event.data) as { data: { seq: number } }).data.seq)).toEqual(
      Array.from({ length: 100 }, (_, index) => index + 1),
    );
    await publish('news.v1', { seq: 101 });
    expect(JSON.parse((await second.events.next()).data)).toMatchObject({ data: { seq: 101 } });
    second.close();
  });
});

describe('legacy topic routes under limits', () => {
  let server: TestApp;
  let alice: string;
  beforeAll(async () => {
    alice = await signToken({ sub: 'alice', tenantId: 'tenant-1', roles: [] });
    server = await startTestApp({
      env: authEnv({ MAX_CONNECTIONS_PER_USER: '1', MESSAGE_RATE: '1', MESSAGE_BURST: '3' }),
    });
  });
  afterAll(() => server.stop());

  const wsUrl = (token: string) => `${server.url.replace(/^http/, 'ws')}/ws/stream?token=${token}`;

  it('refuses a connection over the limit: CONNECTION_LIMIT_EXCEEDED and 4429 (SSE: 429)', async () => {
    const first = await connectLegacy(wsUrl(alice));
    await first.next('connection_established');
    const second = await connectLegacy(wsUrl(alice));
    expect(await second.next('error')).toMatchObject({
      error: 'CONNECTION_LIMIT_EXCEEDED',
      message: expect.stringContaining('user has the maximum of 1 open connections'),
    });
    expect(await second.closed).toMatchObject({ code: 4429 });
    const sse = await fetch(`${server.url}/sse/stream?token=${alice}`);
    expect(sse.status).toBe(429);
    expect(await sse.json()).toMatchObject({ error: 'CONNECTION_LIMIT_EXCEEDED' });
    await first.close();
    // The slot is free again once the first connection is gone.
    await waitUntil(
      async () => {
        const again = await connectLegacy(wsUrl(alice));
        const frame = await again.frames.next(5_000);
        await again.close();
        return frame.type === 'connection_established';
      },
      5_000,
      'the slot to be released',
    );
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/limit_refusals_total\{limit="MAX_CONNECTIONS_PER_USER"\} [1-9]/);
  });

  it('answers a flood of frames with RATE_LIMITED and keeps the socket', async () => {
    const client = await connectLegacy(wsUrl(alice));
    await client.next('connection_established');
    for (let i = 0; i < 6; i++) client.send({ action: 'ping' });
    const replies = await client.frames.take(6, 5_000, 'the replies to the flood');
    expect(replies.filter((frame) => frame.type === 'pong')).toHaveLength(3);
    expect(replies.filter((frame) => frame.type === 'error')).toEqual(
      Array.from({ length: 3 }, () => expect.objectContaining({ error: 'RATE_LIMITED' })),
    );
    // The budget refills at MESSAGE_RATE: a later ping is answered again on the same socket.
    const seen: string[] = [];
    await waitUntil(
      async () => {
        client.send({ action: 'ping' });
        const frame = await client.frames.next(5_000);
        seen.push(String(frame.type));
        return frame.type === 'pong';
      },
      10_000,
      'a pong after the flood',
    );
    expect(seen.at(-1)).toBe('pong');
    await client.close();
  });
});
