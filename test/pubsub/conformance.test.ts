/**
 * One Broker conformance suite, run unchanged over every backend against its real server
 * (DESIGN.md decision 2). What a subscriber, publisher, requester or responder sees must be
 * the same whichever broker sits behind streamgate.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerMessage } from '../../src/pubsub/broker.ts';
import {
  BrokerUnavailableError,
  InvalidPositionError,
  InvalidSubscribeOptionsError,
  NoRespondersError,
  NotRetainedError,
  RemoteError,
  RequestTimeoutError,
} from '../../src/pubsub/errors.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import {
  type BackendUnderTest,
  collect,
  kafkaBackend,
  memoryBackend,
  natsBackend,
  redisBackend,
  subscribed,
  text,
  textOf,
  uniqueName,
  uniqueSubject,
} from './broker-backends.ts';

const backends: BackendUnderTest[] = [memoryBackend, natsBackend(), redisBackend(), kafkaBackend()];

describe.each(backends)('Broker conformance: $kind', (backend) => {
  const opened: Broker[] = [];
  const connect = async (name?: string) => {
    const broker = await backend.connect(name);
    opened.push(broker);
    return broker;
  };
  const connectPeer = async (first: Broker) => {
    const broker = await backend.connectPeer(first);
    opened.push(broker);
    return broker;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((broker) => broker.close()));
  });

  describe('wildcards', () => {
    it('`*` matches one token, `>` one or more, a literal only itself', async () => {
      const broker = await connect();
      const root = uniqueSubject();
      const star = await subscribed(broker.subscribe(`${root}.*`));
      const rest = await subscribed(broker.subscribe(`${root}.>`));
      const exact = await subscribed(broker.subscribe(`${root}.b`));
      const middle = await subscribed(broker.subscribe(`${root}.*.c`));

      await broker.publish(`${root}.b`, text('one'));
      await broker.publish(`${root}.b.c`, text('two'));
      await broker.publish(`${root}`, text('bare'));
      await broker.publish(`${root}.x`, text('three'));

      // Order is promised per subject only: Kafka puts these subjects on different partitions.
      expect((await star.messages.take(2)).map(textOf).sort()).toEqual(['one', 'three']);
      expect((await rest.messages.take(3)).map(textOf).sort()).toEqual(['one', 'three', 'two']);
      expect((await exact.messages.take(1)).map(textOf)).toEqual(['one']);
      expect((await middle.messages.take(1)).map(textOf)).toEqual(['two']);
      // A marker on `root.b` proves nothing else is in flight for `*` (no `root.b.c`).
      await broker.publish(`${root}.b`, text('marker'));
      expect(textOf(await star.messages.next())).toBe('marker');
      expect(star.messages.pending).toEqual([]);
      expect(middle.messages.pending).toEqual([]);
    });

    it('tells the subject each message was published on', async () => {
      const broker = await connect();
      const root = uniqueSubject();
      const all = await subscribed(broker.subscribe(`${root}.>`));
      await broker.publish(`${root}.device.7`, text('x'));
      expect((await all.messages.next()).subject).toBe(`${root}.device.7`);
    });

    it.each([
      ['', 'empty'],
      ['a..b', 'empty token'],
      ['a.>.b', '">" must be last'],
      ['a.b*', 'wildcards must be whole tokens'],
      ['a b', 'white space'],
    ])('rejects the pattern %j (%s)', async (pattern, reason) => {
      const broker = await connect();
      expect(() => broker.subscribe(pattern)).toThrow(reason);
    });

    it('rejects publishing on a wildcard subject', async () => {
      const broker = await connect();
      await expect(broker.publish('a.*', text('x'))).rejects.toThrow(
        'wildcards are only allowed in patterns',
      );
    });
  });

  it('keeps the order of one subject', async () => {
    const broker = await connect();
    const subject = uniqueSubject();
    const subscriber = await subscribed(broker.subscribe(subject));
    const count = 200;
    await Promise.all(
      Array.from({ length: count }, (_, index) => broker.publish(subject, text(String(index)))),
    );
    const received = (await subscriber.messages.take(count, 10_000)).map(textOf);
    expect(received).toEqual(Array.from({ length: count }, (_, index) => String(index)));
  });

  describe('publishMany', () => {
    it('publishes a batch in order with its headers and answers one outcome per message, in order', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const subscriber = await subscribed(broker.subscribe(subject));
      const count = 500;
      const outcomes = await broker.publishMany(
        Array.from({ length: count }, (_, index) => ({
          subject,
          payload: text(String(index)),
          headers: { 'X-Index': String(index) },
        })),
      );
      expect(outcomes).toHaveLength(count);
      expect(outcomes.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
      const received = await subscriber.messages.take(count, 15_000);
      expect(received.map(textOf)).toEqual(Array.from({ length: count }, (_, index) => String(index)));
      expect(received.map((message) => message.headers['X-Index'])).toEqual(
        Array.from({ length: count }, (_, index) => String(index)),
      );
      expect(await broker.publishMany([])).toEqual([]);
    });

    it('on a retained subject: every message is in the window, each outcome a position to resume from', async () => {
      const broker = await connect();
      const root = uniqueSubject();
      await broker.retain(`${root}.>`, { maxAgeMs: 60_000 });
      const live = await subscribed(broker.subscribe(`${root}.a`));
      const outcomes = await broker.publishMany(
        ['one', 'two', 'three'].map((value) => ({ subject: `${root}.a`, payload: text(value) })),
      );
      const positions = outcomes.map((outcome) =>
        outcome.status === 'fulfilled' ? outcome.value.position : undefined,
      );
      expect(positions).toEqual([expect.any(String), expect.any(String), expect.any(String)]);
      expect((await live.messages.take(3)).map(textOf)).toEqual(['one', 'two', 'three']);
      // Acknowledged means retained: a reader resuming after the first finds the other two.
      const resumed = collect(broker.subscribe(`${root}.a`, { from: { after: positions[0] as string } }));
      expect((await resumed.messages.take(2, 10_000)).map(textOf)).toEqual(['two', 'three']);
    });

    it('a message the broker refuses is a rejected outcome; the rest of the batch is taken', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const subscriber = await subscribed(broker.subscribe(subject));
      const outcomes = await broker.publishMany([
        { subject, payload: text('before') },
        { subject: 'a.*', payload: text('wildcard') },
        { subject, payload: text('after') },
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((outcomes[1] as PromiseRejectedResult).reason)).toContain(
        'wildcards are only allowed in patterns',
      );
      expect((await subscriber.messages.take(2)).map(textOf)).toEqual(['before', 'after']);
    });

    it('handed-over messages arrive as published; a publisher that reuses what it did not hand over changes nothing', async () => {
      const broker = await connect();
      const root = uniqueSubject();
      await broker.retain(`${root}.>`, { maxAgeMs: 60_000 });
      const subscriber = await subscribed(broker.subscribe(`${root}.a`));
      const reused = text('kept');
      const reusedHeaders: Record<string, string> = { 'X-Kind': 'reused' };
      const outcomes = await broker.publishMany([
        { subject: `${root}.a`, payload: text('given'), headers: { 'X-Kind': 'given' }, handedOver: true },
        { subject: `${root}.a`, payload: reused, headers: reusedHeaders },
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
      reused.set(text('XXXX'));
      reusedHeaders['X-Kind'] = 'changed';
      const live = await subscriber.messages.take(2, 10_000);
      expect(live.map((message) => [textOf(message), message.headers['X-Kind']])).toEqual([
        ['given', 'given'],
        ['kept', 'reused'],
      ]);
      // The retained window holds the same: a reader from the start gets both as published.
      const first = await collect(
        broker.subscribe(`${root}.a`, { from: { time: new Date(0) } }),
      ).messages.take(2, 10_000);
      expect(first.map((message) => [textOf(message), message.headers['X-Kind']])).toEqual([
        ['given', 'given'],
        ['kept', 'reused'],
      ]);
    });

    it('once closed: every outcome is rejected with BrokerUnavailableError', async () => {
      const broker = await backend.connect();
      await broker.close();
      const outcomes = await broker.publishMany([
        { subject: uniqueSubject(), payload: text('x') },
        { subject: uniqueSubject(), payload: text('y') },
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
      for (const outcome of outcomes) {
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(BrokerUnavailableError);
      }
    });
  });

  it('fans out to many local subscribers over one broker subscription, dropped with the last', async () => {
    const name = uniqueName('fanout');
    const broker = await connect(name);
    const subject = uniqueSubject();
    const subscriptions = Array.from({ length: 25 }, () => broker.subscribe(subject));
    const subscribers = await Promise.all(subscriptions.map(subscribed));
    expect(broker.stats()).toMatchObject({ subscriptions: 25, brokerSubscriptions: 1 });
    if (backend.server) expect(await backend.server.subscribersOf(subject)).toBe(1);

    await broker.publish(subject, text('hello'));
    for (const subscriber of subscribers) expect(textOf(await subscriber.messages.next())).toBe('hello');

    for (const subscription of subscriptions.slice(1)) subscription.unsubscribe();
    expect(broker.stats()).toMatchObject({ subscriptions: 1, brokerSubscriptions: 1 });
    await broker.publish(subject, text('still'));
    expect(textOf(await (subscribers[0] as (typeof subscribers)[0]).messages.next())).toBe('still');

    subscriptions[0]?.unsubscribe();
    expect(broker.stats()).toMatchObject({ subscriptions: 0, brokerSubscriptions: 0 });
    const observer = backend.server;
    if (observer)
      await waitUntil(
        async () => (await observer.subscribersOf(subject)) === 0,
        5_000,
        'the server to drop the subscription',
      );
  });

  it('delivers each message of a queue group to one member across two broker connections', async () => {
    const first = await connect();
    const second = await connectPeer(first);
    const root = uniqueSubject();
    const members = [
      await subscribed(first.subscribe(`${root}.*`, { queue: 'workers' })),
      await subscribed(second.subscribe(`${root}.*`, { queue: 'workers' })),
    ];
    const everyone = await subscribed(second.subscribe(`${root}.*`));
    const count = 40;
    // Several subjects: Kafka spreads a group by partition, and one subject is one partition.
    for (let index = 0; index < count; index++)
      await first.publish(`${root}.s${index % 20}`, text(String(index)));

    await everyone.messages.take(count, 15_000);
    // `everyone` saw the last message, and the group members got theirs on the same path.
    await waitUntil(
      () => members.reduce((sum, member) => sum + member.messages.pending.length, 0) >= count,
      10_000,
      'the queue group to receive every message',
    );
    const received = members.flatMap((member) => member.messages.pending.map(textOf));
    expect(received.sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: count }, (_, index) => String(index)),
    );
    // Across connections NATS and Kafka spread the work; 40 messages all to one member would
    // mean the group is not shared. Redis promises no spread: whoever claims a message first
    // delivers it, and on a busy machine one connection can win every race.
    if (backend.kind === 'nats' || backend.kind === 'kafka') {
      for (const member of members) expect(member.messages.pending.length).toBeGreaterThan(0);
    }
  });

  describe('request/reply', () => {
    it('answers a request from another connection, payload and headers both ways', async () => {
      const server = await connect();
      const client = await connectPeer(server);
      const subject = `${uniqueSubject()}.echo`;
      const responder = await server.respond(subject, (request) => ({
        payload: text(`echo:${textOf(request)}`),
        headers: { 'X-Seen': request.headers['X-Asked'] ?? 'none' },
      }));
      const reply = await client.request(subject, text('ping'), {
        timeoutMs: 5_000,
        headers: { 'X-Asked': 'yes' },
      });
      expect(textOf(reply)).toBe('echo:ping');
      expect(reply.headers['X-Seen']).toBe('yes');
      expect(server.stats().responders).toBe(1);
      await responder.stop();
      expect(server.stats().responders).toBe(0);
    });

    it('answers once per request within a queue group of responders', async () => {
      const first = await connect();
      const second = await connectPeer(first);
      const subject = uniqueSubject();
      let answered = 0;
      const handler = () => {
        answered += 1;
        return { payload: text('ok') };
      };
      await first.respond(subject, handler, { queue: 'providers' });
      await second.respond(subject, handler, { queue: 'providers' });
      for (let index = 0; index < 10; index++) {
        expect(textOf(await first.request(subject, text('q'), { timeoutMs: 5_000 }))).toBe('ok');
      }
      expect(answered).toBe(10);
    });

    it(`fails a request nobody answers with ${backend.detectsNoResponders ? 'NoRespondersError at once' : 'RequestTimeoutError'}`, async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const timeoutMs = backend.detectsNoResponders ? 10_000 : 500;
      const failure = broker.request(subject, text('anyone?'), { timeoutMs });
      if (backend.detectsNoResponders) {
        await expect(failure).rejects.toBeInstanceOf(NoRespondersError);
        await expect(failure).rejects.toMatchObject({ code: 'NO_PROVIDER' });
      } else {
        await expect(failure).rejects.toBeInstanceOf(RequestTimeoutError);
      }
    });

    it('fails with RequestTimeoutError when the responder does not answer in time', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      await broker.respond(subject, async () => {
        await held;
        return { payload: text('late') };
      });
      const failure = broker.request(subject, text('q'), { timeoutMs: 300 });
      await expect(failure).rejects.toBeInstanceOf(RequestTimeoutError);
      await expect(failure).rejects.toMatchObject({ code: 'TIMEOUT' });
      release();
    });

    it('passes a responder failure to the requester as RemoteError', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      await broker.respond(subject, () => {
        throw new Error('provider exploded');
      });
      await expect(broker.request(subject, text('q'), { timeoutMs: 5_000 })).rejects.toThrow(RemoteError);
      await expect(broker.request(subject, text('q'), { timeoutMs: 5_000 })).rejects.toThrow(
        'provider exploded',
      );
    });

    it('stops answering once the responder stopped', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const responder = await broker.respond(subject, () => ({ payload: text('ok') }));
      await responder.stop();
      const timeoutMs = backend.detectsNoResponders ? 5_000 : 500;
      await expect(broker.request(subject, text('q'), { timeoutMs })).rejects.toBeInstanceOf(
        backend.detectsNoResponders ? NoRespondersError : RequestTimeoutError,
      );
    });
  });

  describe('retained windows', () => {
    it('replays after a position, then continues live with no gap and no duplicate at the seam', async () => {
      const publisher = await connect();
      const reader = await connectPeer(publisher);
      const root = uniqueSubject();
      await publisher.retain(`${root}.>`, { maxAgeMs: 60_000 });
      const positions: string[] = [];
      const count = 120;
      let resumed: ReturnType<typeof collect> | undefined;
      // Publish without pause while the reader joins mid-stream, so the seam falls among
      // messages in flight.
      for (let index = 0; index < count; index++) {
        const receipt = await publisher.publish(`${root}.s${index % 3}`, text(String(index)));
        expect(receipt.position).toEqual(expect.any(String));
        positions.push(receipt.position as string);
        if (index === 60) {
          resumed = collect(reader.subscribe(`${root}.>`, { from: { after: positions[29] as string } }));
        }
      }
      const received = await (resumed as NonNullable<typeof resumed>).messages.take(count - 30, 15_000);
      // Exactly the messages after the position: none missing, none twice.
      expect(received.map(textOf).sort((a, b) => Number(a) - Number(b))).toEqual(
        Array.from({ length: count - 30 }, (_, index) => String(index + 30)),
      );
      // In order per subject (across subjects only where the backend orders them: not Kafka's
      // partitions).
      for (const subject of ['s0', 's1', 's2']) {
        const values = received
          .filter((message) => message.subject.endsWith(subject))
          .map((m) => Number(textOf(m)));
        expect(values).toEqual([...values].sort((a, b) => a - b));
      }
      if (backend.kind !== 'kafka')
        expect(received.map(textOf)).toEqual(received.map(textOf).sort((a, b) => Number(a) - Number(b)));
      for (const message of received) expect(message.position).toEqual(expect.any(String));
      await publisher.publish(`${root}.s0`, text('after'));
      expect(textOf(await (resumed as NonNullable<typeof resumed>).messages.next())).toBe('after');
    });

    it('replays from a point in time', async () => {
      const broker = await connect();
      const root = uniqueSubject();
      await broker.retain(`${root}.>`, { maxAgeMs: 60_000 });
      for (const value of ['old-1', 'old-2']) await broker.publish(`${root}.a`, text(value));
      // Let the clock move past the old messages' millisecond before taking the time.
      const before = Date.now();
      await waitUntil(() => Date.now() > before + 2, 1_000, 'the clock to tick');
      const since = new Date();
      await waitUntil(() => Date.now() > since.getTime() + 2, 1_000, 'the clock to tick');
      for (const value of ['new-1', 'new-2']) await broker.publish(`${root}.a`, text(value));
      const replay = await subscribed(broker.subscribe(`${root}.a`, { from: { time: since } }));
      expect((await replay.messages.take(2)).map(textOf)).toEqual(['new-1', 'new-2']);
      await broker.publish(`${root}.a`, text('live'));
      expect(textOf(await replay.messages.next())).toBe('live');
      expect(replay.messages.pending).toEqual([]);
    });

    it('gives live messages of a retained subject a position to resume from', async () => {
      const broker = await connect();
      const root = uniqueSubject();
      await broker.retain(`${root}.>`, { maxAgeMs: 60_000 });
      const live = await subscribed(broker.subscribe(`${root}.x`));
      const receipt = await broker.publish(`${root}.x`, text('one'));
      expect(receipt.position).toEqual(expect.any(String));
      const message = await live.messages.next();
      expect(message.position).toEqual(expect.any(String));
      expect(message.timestamp).toBeInstanceOf(Date);
      await broker.publish(`${root}.x`, text('two'));
      for (const position of [message.position, receipt.position] as string[]) {
        const resumed = collect(broker.subscribe(`${root}.x`, { from: { after: position } }));
        expect(textOf(await resumed.messages.next(10_000))).toBe('two');
      }
    });

    it('keeps at most maxMessages', async () => {
      const broker = await connect();
      const root = uniqueSubject();
      await broker.retain(`${root}.>`, { maxAgeMs: 60_000, maxMessages: 3 });
      const first = await broker.publish(`${root}.a`, text('0'));
      for (let index = 1; index < 6; index++) await broker.publish(`${root}.a`, text(String(index)));
      const replay = collect(broker.subscribe(`${root}.a`, { from: { after: first.position as string } }));
      expect((await replay.messages.take(3)).map(textOf)).toEqual(['3', '4', '5']);
    });

    it('ends a `from` subscription on a pattern no window covers with NotRetainedError', async () => {
      const broker = await connect();
      const subscription = broker.subscribe(`${uniqueSubject()}.>`, { from: { time: new Date() } });
      const { ended } = collect(subscription);
      await expect(subscription.ready).rejects.toBeInstanceOf(NotRetainedError);
      expect(await ended).toBeInstanceOf(NotRetainedError);
    });

    it.each(['x', '-1', '1.5', ''])('rejects the position %j', async (after) => {
      const broker = await connect();
      const root = uniqueSubject();
      await broker.retain(`${root}.>`, { maxAgeMs: 60_000 });
      expect(() => broker.subscribe(`${root}.a`, { from: { after } })).toThrow(InvalidPositionError);
    });

    it('rejects `from` together with a queue group', async () => {
      const broker = await connect();
      expect(() => broker.subscribe('a.b', { queue: 'q', from: { time: new Date() } })).toThrow(
        InvalidSubscribeOptionsError,
      );
    });

    it.each([
      [{ maxAgeMs: 0 }, 'maxAgeMs'],
      [{ maxAgeMs: 1_000, maxMessages: 0 }, 'maxMessages'],
    ])('rejects the window %j', async (options, field) => {
      const broker = await connect();
      await expect(broker.retain(`${uniqueSubject()}.>`, options)).rejects.toThrow(field);
    });
  });

  describe('payloads and headers', () => {
    it('carries a 1 MiB payload unchanged', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const subscriber = await subscribed(broker.subscribe(subject));
      const payload = new Uint8Array(randomBytes(1024 * 1024));
      await broker.publish(subject, payload);
      const message = await subscriber.messages.next(10_000);
      expect(message.payload.byteLength).toBe(payload.byteLength);
      expect(Buffer.from(message.payload).equals(Buffer.from(payload))).toBe(true);
    });

    it('carries every byte value, including invalid UTF-8, and empty payloads', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const subscriber = await subscribed(broker.subscribe(subject));
      const binary = new Uint8Array([
        ...Array.from({ length: 256 }, (_, index) => index),
        0xc3,
        0x28,
        0xff,
        0x00,
      ]);
      await broker.publish(subject, binary);
      await broker.publish(subject, new Uint8Array(0));
      const [first, second] = (await subscriber.messages.take(2)) as [BrokerMessage, BrokerMessage];
      expect([...first.payload]).toEqual([...binary]);
      expect(second.payload.byteLength).toBe(0);
    });

    it('carries headers with their case and values', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const subscriber = await subscribed(broker.subscribe(subject));
      const headers = {
        'X-Monitor-Device': 'd-1',
        'X-Monitor-Timestamp': '2024-01-02T03:04:05.123456789Z',
        'lower-case': 'value with spaces, and commas',
      };
      await broker.publish(subject, text('h'), { headers });
      const message = await subscriber.messages.next();
      expect(message.headers).toMatchObject(headers);
    });

    it('does not let a publisher that reuses its buffer change what subscribers read', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const subscriber = await subscribed(broker.subscribe(subject));
      const buffer = text('first');
      await broker.publish(subject, buffer);
      buffer.set(text('XXXXX'));
      expect(textOf(await subscriber.messages.next())).toBe('first');
    });
  });

  describe('ending', () => {
    it('stops delivery on unsubscribe and ends the iteration', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const leaving = broker.subscribe(subject);
      const left = await subscribed(leaving);
      const staying = await subscribed(broker.subscribe(subject));
      await broker.publish(subject, text('before'));
      expect(textOf(await left.messages.next())).toBe('before');
      leaving.unsubscribe();
      expect(await left.ended).toBeUndefined();
      await broker.publish(subject, text('after'));
      expect((await staying.messages.take(2)).map(textOf)).toEqual(['before', 'after']);
      expect(left.messages.pending).toEqual([]);
    });

    it('unsubscribes when the consumer breaks out of the loop', async () => {
      const broker = await connect();
      const subject = uniqueSubject();
      const subscription = broker.subscribe(subject);
      await subscription.ready;
      const consumed = (async () => {
        for await (const message of subscription) return textOf(message);
        return undefined;
      })();
      await broker.publish(subject, text('only'));
      expect(await consumed).toBe('only');
      expect(broker.stats()).toMatchObject({ subscriptions: 0, brokerSubscriptions: 0 });
    });

    it('releases everything on close', async () => {
      const name = uniqueName('closing');
      const broker = await connect(name);
      const subject = uniqueSubject();
      const live = await subscribed(broker.subscribe(subject));
      await broker.respond(`${subject}.rpc`, () => ({ payload: text('ok') }));
      if (backend.server) expect(await backend.server.connections(name)).toBeGreaterThan(0);

      await broker.close();
      expect(await live.ended).toBeUndefined();
      expect(broker.health()).toMatchObject({ status: 'closed' });
      expect(broker.stats()).toEqual({ subscriptions: 0, brokerSubscriptions: 0, responders: 0 });
      await expect(broker.publish(subject, text('x'))).rejects.toBeInstanceOf(BrokerUnavailableError);
      expect(() => broker.subscribe(subject)).toThrow(BrokerUnavailableError);
      const observer = backend.server;
      if (observer)
        await waitUntil(
          async () => (await observer.connections(name)) === 0,
          5_000,
          'the connection to close',
        );
    });

    it('reports itself connected while open', async () => {
      const broker = await connect();
      expect(broker.health()).toEqual({ status: 'connected' });
      expect(broker.kind).toBe(backend.kind);
    });
  });
});
