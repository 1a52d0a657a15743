/**
 * `publishMany` on NATS to a retained window: the messages of one stream of ours are chained
 * (`Nats-Msg-Id` / `Nats-Expected-Last-Msg-Id`) and only the last one is acknowledged
 * (src/pubsub/nats/nats-publish-acks.ts). What a user relies on is checked against the stream
 * itself, read with a plain JetStream client: an acknowledged message is stored, once, at the
 * position its outcome names; a message the stream refuses is rejected alone; readers never see
 * the chaining headers.
 */
import {
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker, PublishOutcome } from '../../src/pubsub/broker.ts';
import { MessageTooLargeError } from '../../src/pubsub/errors.ts';
import { streamNameOf } from '../../src/pubsub/nats/nats-retained-window.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { serviceUrl } from '../setup/services.ts';
import { collect, natsBackend, subscribed, text, textOf, uniqueSubject } from './broker-backends.ts';

const positionsOf = (outcomes: readonly PublishOutcome[]): string[] =>
  outcomes.map((outcome) => {
    if (outcome.status !== 'fulfilled') throw new Error(`rejected: ${String(outcome.reason)}`);
    return outcome.value.position as string;
  });

describe('NATS publishMany to a retained window', () => {
  let broker: Broker;
  let plain: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    broker = await natsBackend().connect();
    plain = await connect({ servers: serviceUrl('nats') });
    jsm = await jetstreamManager(plain);
  });
  afterAll(async () => {
    await broker?.close();
    await plain?.close();
  });

  /** What the stream holds at each position: payload and headers as stored. */
  const stored = async (stream: string, position: string) => {
    const message = await jsm.streams.getMessage(stream, { seq: Number(position) });
    if (!message) throw new Error(`nothing stored at ${position}`);
    return {
      data: message.string(),
      headers: Object.fromEntries([...message.header].map(([k, v]) => [k, v.join(',')])),
    };
  };

  it('stores every message once, each at the position its outcome names; readers see only its own headers', async () => {
    const subject = uniqueSubject();
    await broker.retain(subject, { maxAgeMs: 60_000 });
    const live = await subscribed(broker.subscribe(subject));
    const count = 300;
    const outcomes = await broker.publishMany(
      Array.from({ length: count }, (_, index) => ({
        subject,
        payload: text(String(index)),
        headers: { 'X-Index': String(index) },
      })),
    );
    const positions = positionsOf(outcomes);
    const stream = streamNameOf(subject);
    expect((await jsm.streams.info(stream)).state.messages).toBe(count);
    for (const index of [0, 1, 150, count - 1]) {
      const message = await stored(stream, positions[index] as string);
      expect(message.data).toBe(String(index));
      expect(message.headers['X-Index']).toBe(String(index));
    }
    // Chained: each message names the id of the one before it, so one ack covers the batch.
    const [first, second] = [
      await stored(stream, positions[0] as string),
      await stored(stream, positions[1] as string),
    ];
    expect(second.headers['Nats-Expected-Last-Msg-Id']).toBe(first.headers['Nats-Msg-Id']);
    const received = await live.messages.take(count, 15_000);
    expect(received.map(textOf)).toEqual(Array.from({ length: count }, (_, index) => String(index)));
    expect(received.map((message) => message.position)).toEqual(positions);
    expect(received[count - 1]?.headers).toEqual({ 'X-Index': String(count - 1) });
    // A reader resuming after any acknowledged position finds the rest.
    const resumed = collect(broker.subscribe(subject, { from: { after: positions[count - 3] as string } }));
    expect((await resumed.messages.take(2, 10_000)).map(textOf)).toEqual([
      String(count - 2),
      String(count - 1),
    ]);
  });

  it('a message the stream refuses mid-batch is rejected alone; the others are stored once, in order', async () => {
    const subject = uniqueSubject();
    await broker.retain(subject, { maxAgeMs: 60_000 });
    const stream = streamNameOf(subject);
    // An operator's limit on the stream: the 4th message is over it.
    const { config } = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...config, max_msg_size: 1_000 });
    const payloads = ['a', 'b', 'c', 'x'.repeat(2_000), 'e', 'f', 'g'];
    const outcomes = await broker.publishMany(
      payloads.map((payload) => ({ subject, payload: text(payload) })),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(String((outcomes[3] as PromiseRejectedResult).reason)).toMatch(/maximum/i);
    expect((await jsm.streams.info(stream)).state.messages).toBe(6);
    const accepted = outcomes.flatMap((outcome, index) =>
      outcome.status === 'fulfilled' ? [{ payload: payloads[index], position: outcome.value.position }] : [],
    );
    for (const { payload, position } of accepted) {
      expect((await stored(stream, position as string)).data).toBe(payload);
    }
    const all = collect(broker.subscribe(subject, { from: { time: new Date(0) } }));
    expect((await all.messages.take(6, 10_000)).map(textOf)).toEqual(['a', 'b', 'c', 'e', 'f', 'g']);
  });

  it("a message over the server's max_payload is refused alone, retained or not; the rest is published", async () => {
    const retainedSubject = uniqueSubject();
    await broker.retain(retainedSubject, { maxAgeMs: 60_000 });
    const liveSubject = uniqueSubject();
    const live = await subscribed(broker.subscribe(liveSubject));
    const huge = 'x'.repeat(1_100_000); // nats-server's default max_payload is 1 MiB
    for (const subject of [retainedSubject, liveSubject]) {
      const outcomes = await broker.publishMany(
        ['one', huge, 'three'].map((payload) => ({ subject, payload: text(payload) })),
      );
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(MessageTooLargeError);
    }
    expect((await jsm.streams.info(streamNameOf(retainedSubject))).state.messages).toBe(2);
    expect((await live.messages.take(2, 10_000)).map(textOf)).toEqual(['one', 'three']);
  });

  it('another publisher writing to the stream meanwhile: each message of ours stored once, at its position', async () => {
    const subject = uniqueSubject();
    await broker.retain(subject, { maxAgeMs: 60_000 });
    // A legacy device (or another instance) publishing on the same subject all along.
    let publishing = true;
    let others = 0;
    const otherPublisher = (async () => {
      while (publishing) {
        for (let index = 0; index < 20; index++) plain.publish(subject, `other-${others++}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const sent: Array<{ payload: string; position: string }> = [];
    try {
      for (let round = 0; round < 10; round++) {
        const payloads = Array.from({ length: 200 }, (_, index) => `ours-${round}-${index}`);
        const positions = positionsOf(
          await broker.publishMany(payloads.map((payload) => ({ subject, payload: text(payload) }))),
        );
        for (const [index, payload] of payloads.entries())
          sent.push({ payload, position: positions[index] as string });
      }
    } finally {
      publishing = false;
      await otherPublisher;
    }
    const stream = streamNameOf(subject);
    // The other publisher's last messages are not acknowledged: wait until the stream has them.
    await waitUntil(
      async () => (await jsm.streams.info(stream)).state.messages === sent.length + others,
      10_000,
      'every message in the stream',
    );
    expect(new Set(sent.map((message) => message.position)).size).toBe(sent.length);
    for (const message of sent) expect((await stored(stream, message.position)).data).toBe(message.payload);
  });

  it('on a stream that is not ours, each message is acknowledged on its own and stored without ids of ours', async () => {
    const subject = uniqueSubject();
    const stream = `LEGACY_${subject.replaceAll('.', '_')}`;
    await jsm.streams.add({
      name: stream,
      subjects: [subject],
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      storage: StorageType.Memory,
      num_replicas: 1,
    });
    try {
      await broker.retain(subject, { maxAgeMs: 60_000 }); // uses the legacy stream as it is
      const positions = positionsOf(
        await broker.publishMany(['one', 'two', 'three'].map((value) => ({ subject, payload: text(value) }))),
      );
      expect(
        await Promise.all(positions.map(async (position) => (await stored(stream, position)).data)),
      ).toEqual(['one', 'two', 'three']);
      expect((await stored(stream, positions[1] as string)).headers).toEqual({});
    } finally {
      await jsm.streams.delete(stream);
    }
  });

  it("a publisher's own Nats-Msg-Id is honoured: JetStream de-duplicates it, readers see it", async () => {
    const subject = uniqueSubject();
    await broker.retain(subject, { maxAgeMs: 60_000 });
    const live = await subscribed(broker.subscribe(subject));
    const outcomes = await broker.publishMany(
      ['first', 'again', 'other'].map((value, index) => ({
        subject,
        payload: text(value),
        headers: { 'Nats-Msg-Id': index < 2 ? 'order-17' : 'order-18' },
      })),
    );
    const positions = positionsOf(outcomes);
    expect(positions[1]).toBe(positions[0]);
    expect((await jsm.streams.info(streamNameOf(subject))).state.messages).toBe(2);
    const received = await live.messages.take(2, 10_000);
    expect(received.map(textOf)).toEqual(['first', 'other']);
    expect(received.map((message) => message.headers['Nats-Msg-Id'])).toEqual(['order-17', 'order-18']);
  });
});
