/**
 * Chained JetStream batches (src/pubsub/nats/nats-publish-acks.ts) where chains break: two
 * streamgate instances chaining into one stream at once, a stream full with discard new, and a
 * NATS kill -9 mid-batch. What a user relies on is read back from the stream itself: every
 * acknowledged message is stored exactly once, at the position its outcome names, and the
 * acknowledged messages of one publisher are stored in the order it sent them.
 */
import { DiscardPolicy, type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker, PublishOutcome } from '../../src/pubsub/broker.ts';
import { isPermanentRefusal, PublishHeldError } from '../../src/pubsub/errors.ts';
import { streamNameOf } from '../../src/pubsub/nats/nats-retained-window.ts';
import { type PrivateService, serviceUrl, startService } from '../setup/services.ts';
import { natsBackend, subscribed, text, textOf, uniqueSubject } from './broker-backends.ts';

/** Every message of a stream, in stream order: payload by sequence. */
async function streamContents(jsm: JetStreamManager, stream: string): Promise<Map<number, string>> {
  const info = await jsm.streams.info(stream);
  const contents = new Map<number, string>();
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq });
    if (message) contents.set(seq, message.string());
  }
  return contents;
}

/** The acknowledged payloads of a publish, with their positions. */
function acknowledged(payloads: readonly string[], outcomes: readonly PublishOutcome[]) {
  return outcomes.flatMap((outcome, index) =>
    outcome.status === 'fulfilled'
      ? [{ payload: payloads[index] as string, position: Number(outcome.value.position) }]
      : [],
  );
}

/** Each acknowledged payload is in the stream once, at its position; per publisher in send order. */
function expectExactlyOnceInOrder(
  contents: Map<number, string>,
  acked: ReadonlyArray<{ payload: string; position: number }>,
  publisherOf: (payload: string) => string,
): void {
  const occurrences = new Map<string, number>();
  for (const payload of contents.values()) occurrences.set(payload, (occurrences.get(payload) ?? 0) + 1);
  for (const { payload, position } of acked) {
    expect(contents.get(position), `position of ${payload}`).toBe(payload);
    expect(occurrences.get(payload), `copies of ${payload}`).toBe(1);
  }
  // In stream order, the acknowledged messages of each publisher come in the order it sent them.
  const ackedSet = new Set(acked.map((message) => message.payload));
  const byPublisher = new Map<string, number[]>();
  for (const payload of contents.values()) {
    if (!ackedSet.has(payload)) continue;
    const publisher = publisherOf(payload);
    const list = byPublisher.get(publisher) ?? [];
    list.push(Number(payload.split('-').at(-1)));
    byPublisher.set(publisher, list);
  }
  for (const [publisher, order] of byPublisher) {
    expect(
      order.every((value, index) => index === 0 || value > (order[index - 1] as number)),
      `${publisher} in order`,
    ).toBe(true);
  }
}

describe('NATS chained batches where chains break', () => {
  let first: Broker;
  let second: Broker;
  let plain: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    first = await natsBackend().connect();
    second = await natsBackend().connect();
    plain = await connect({ servers: serviceUrl('nats') });
    jsm = await jetstreamManager(plain);
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await plain?.close();
  });

  it('two instances chaining into one stream at once: every message acknowledged, stored once, each in its order', async () => {
    const subject = uniqueSubject();
    await first.retain(subject, { maxAgeMs: 60_000 });
    await second.retain(subject, { maxAgeMs: 60_000 });
    const acked: Array<{ payload: string; position: number }> = [];
    const publisher = async (broker: Broker, name: string) => {
      let counter = 0;
      for (let round = 0; round < 15; round++) {
        const payloads = Array.from({ length: 150 }, () => `${name}-${counter++}`);
        const outcomes = await broker.publishMany(
          payloads.map((payload) => ({ subject, payload: text(payload) })),
        );
        expect(outcomes.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
        acked.push(...acknowledged(payloads, outcomes));
      }
    };
    // Two batches in flight on each instance too, so chains interleave at the server.
    await Promise.all([
      publisher(first, 'a'),
      publisher(second, 'b'),
      publisher(first, 'c'),
      publisher(second, 'd'),
    ]);
    const contents = await streamContents(jsm, streamNameOf(subject));
    expect(contents.size).toBe(4 * 15 * 150);
    expectExactlyOnceInOrder(contents, acked, (payload) => payload.split('-')[0] as string);
  });

  it('a stream full with discard new: the messages it takes are acknowledged, the rest refused, none stored twice', async () => {
    const subject = uniqueSubject();
    await first.retain(subject, { maxAgeMs: 60_000 });
    const stream = streamNameOf(subject);
    const { config } = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...config, max_msgs: 25, discard: DiscardPolicy.New });
    const payloads = Array.from({ length: 40 }, (_, index) => `p-${index}`);
    const outcomes = await first.publishMany(
      payloads.map((payload) => ({ subject, payload: text(payload) })),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      ...Array(25).fill('fulfilled'),
      ...Array(15).fill('rejected'),
    ]);
    expect(String((outcomes[30] as PromiseRejectedResult).reason)).toMatch(/maximum messages/i);
    const contents = await streamContents(jsm, stream);
    expect([...contents.values()]).toEqual(payloads.slice(0, 25));
    expectExactlyOnceInOrder(contents, acknowledged(payloads, outcomes), () => 'p');
  });
});

describe('NATS chained batches: a message failing for now on the second send holds its subject', () => {
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

  /**
   * A stream full by bytes with discard new refuses a message too big for the room left (for now:
   * room comes back as messages age out) and takes the small ones after it. In the chain the
   * refusal breaks every later link; the broken chain is then sent again message by message, where
   * the big one is refused again. Before, that second send was pipelined: 4, 5 and 6 were stored
   * ahead of 3, the device outbox sent 3 again after them, and a subscriber saw 1, 2, 4, 5, 6, 3.
   */
  it('a subscriber sees 1, 2, then — once the stream has room and the rest is sent again — 3, 4, 5, 6', async () => {
    const subject = uniqueSubject();
    await broker.retain(subject, { maxAgeMs: 60_000 });
    const stream = streamNameOf(subject);
    const { config } = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...config, max_bytes: 4_000, discard: DiscardPolicy.New });
    const live = await subscribed(broker.subscribe(subject));

    const payloads = ['m-1', 'm-2', `m-3 ${'x'.repeat(5_000)}`, 'm-4', 'm-5', 'm-6'];
    const outcomes = await broker.publishMany(
      payloads.map((payload) => ({ subject, payload: text(payload) })),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
    ]);
    const refusal = (outcomes[2] as PromiseRejectedResult).reason;
    // Not a refusal for good (those hold nothing back): the stream has no room for now.
    expect(isPermanentRefusal(refusal)).toBe(false);
    expect(String(refusal)).toMatch(/maximum bytes/i);
    for (const held of outcomes.slice(3)) {
      expect((held as PromiseRejectedResult).reason).toBeInstanceOf(PublishHeldError);
    }
    expect([...(await streamContents(jsm, stream)).values()]).toEqual(['m-1', 'm-2']);

    // Room again; the caller (the device outbox) sends what was rejected, in order.
    await jsm.streams.update(stream, { ...config, max_bytes: -1, discard: DiscardPolicy.Old });
    const again = await broker.publishMany(
      payloads.slice(2).map((payload) => ({ subject, payload: text(payload) })),
    );
    expect(again.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    const seen = (await live.messages.take(6, 10_000, 'the subscriber')).map((message) =>
      textOf(message).slice(0, 3),
    );
    expect(seen).toEqual(['m-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6']);
  });

  it('another subject of the same stream is not held: its messages are stored in order past the failure', async () => {
    const prefix = uniqueSubject();
    await broker.retain(`${prefix}.>`, { maxAgeMs: 60_000 });
    const stream = streamNameOf(`${prefix}.>`);
    const { config } = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...config, max_bytes: 4_000, discard: DiscardPolicy.New });
    const batch = [
      ['a', 'a-1'],
      ['b', 'b-1'],
      ['a', `a-2 ${'x'.repeat(5_000)}`],
      ['b', 'b-2'],
      ['a', 'a-3'],
      ['b', 'b-3'],
    ] as const;
    const outcomes = await broker.publishMany(
      batch.map(([device, payload]) => ({ subject: `${prefix}.${device}`, payload: text(payload) })),
    );
    const failures = outcomes.map((outcome) =>
      outcome.status === 'fulfilled'
        ? 'stored'
        : outcome.reason instanceof PublishHeldError
          ? 'held'
          : 'failed',
    );
    expect(failures).toEqual(['stored', 'stored', 'failed', 'stored', 'held', 'stored']);
    const contents = [...(await streamContents(jsm, stream)).values()];
    expect(contents).toEqual(['a-1', 'b-1', 'b-2', 'b-3']);
  });
});

describe('NATS chained batches across a NATS kill -9', () => {
  let nats: PrivateService;
  let broker: Broker;
  let plain: NatsConnection | undefined;
  beforeAll(async () => {
    nats = await startService('nats');
    broker = await natsBackend(() => nats.url).connect();
  }, 60_000);
  afterAll(async () => {
    await broker?.close();
    await plain?.close();
    await nats?.stop();
  });

  it('every acknowledged message is stored once and in order; publishing goes on after the restart', async () => {
    const subject = uniqueSubject();
    await broker.retain(subject, { maxAgeMs: 600_000 });
    const acked: Array<{ payload: string; position: number }> = [];
    let counter = 0;
    let crashed = false;
    let ackedAfterCrash = 0;
    const publishing = (async () => {
      while (ackedAfterCrash < 2_000) {
        const payloads = Array.from({ length: 200 }, () => `m-${counter++}`);
        const outcomes = await broker.publishMany(
          payloads.map((payload) => ({ subject, payload: text(payload) })),
        );
        const ok = acknowledged(payloads, outcomes);
        acked.push(...ok);
        if (crashed) ackedAfterCrash += ok.length;
        // While the broker is away publishMany refuses at once: do not spin.
        if (ok.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    // Mid-stream: once some batches are in, kill it while batches are in flight.
    while (acked.length < 2_000) await new Promise((resolve) => setImmediate(resolve));
    await nats.crash();
    crashed = true;
    await publishing;
    plain = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(plain);
    const contents = await streamContents(jsm, streamNameOf(subject));
    expect(acked.length).toBeGreaterThan(4_000);
    expectExactlyOnceInOrder(contents, acked, () => 'm');
    // A refused message may or may not be stored (its ack was lost; a broken chain is sent again
    // after the reconnect), but never twice.
    const copies = new Map<string, number>();
    for (const payload of contents.values()) copies.set(payload, (copies.get(payload) ?? 0) + 1);
    expect([...copies.values()].filter((count) => count > 1)).toEqual([]);
  }, 120_000);
});
