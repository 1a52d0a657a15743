/**
 * A publish to a subject the NATS user may not publish on, on a nats-server of this file's own
 * whose default user (`no_auth_user`) is denied `denied.>` and `mix.*.denied`. nats-server
 * answers such a PUB with `-ERR 'Permissions Violation for Publish to "<subject>"'` and nothing
 * else: a batched publish (PUBs written in one buffer, JetStream acks asked for the last
 * message of a chain only) heard nothing of it, so its JetStream messages waited for an ack
 * until the 5 s timeout and failed as transient (503, retried forever from the device outbox),
 * and its core messages were reported published. Now each is refused at once as not permitted
 * (PublishDeniedError: FORBIDDEN, `isPermanentRefusal`), alone: the other subjects of the same
 * batch, and other batches in flight, are stored and delivered as before.
 */
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker, PublishOutcome } from '../../src/pubsub/broker.ts';
import { isPermanentRefusal, PublishDeniedError } from '../../src/pubsub/errors.ts';
import { streamNameOf } from '../../src/pubsub/nats/nats-retained-window.ts';
import { natsConfigDenying } from '../helpers/nats-permissions.ts';
import { type PrivateService, startService } from '../setup/services.ts';
import { natsBackend, subscribed, text, textOf, uniqueSubject } from './broker-backends.ts';

/** What a refused outcome says, or a failure naming what came instead. */
function refusalOf(outcome: PublishOutcome | undefined): Error {
  if (outcome?.status !== 'rejected') throw new Error(`expected a refusal, got ${JSON.stringify(outcome)}`);
  return outcome.reason as Error;
}

/** The refusal a denied message gets: permanent, naming the subject and the permission. */
function expectDenied(outcome: PublishOutcome | undefined, subject: string): void {
  const reason = refusalOf(outcome);
  expect(reason).toBeInstanceOf(PublishDeniedError);
  expect(isPermanentRefusal(reason)).toBe(true);
  expect(reason.message).toBe(
    `the broker does not permit publishing on "${subject}": Permissions Violation for Publish to "${subject}"`,
  );
}

describe('NATS publish to a subject the server denies (own nats-server with permissions)', () => {
  let nats: PrivateService;
  let broker: Broker;
  let plain: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    nats = await startService('nats', { config: natsConfigDenying(['denied.>', 'mix.*.denied']) });
    broker = await natsBackend(() => nats.url).connect();
    plain = await connect({ servers: nats.url });
    jsm = await jetstreamManager(plain);
  }, 60_000);
  afterAll(async () => {
    await broker?.close();
    await plain?.close();
    await nats?.stop();
  });

  /** Every payload a stream holds, in stream order. */
  const storedIn = async (stream: string): Promise<string[]> => {
    const info = await jsm.streams.info(stream);
    const payloads: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq });
      if (message) payloads.push(message.string());
    }
    return payloads;
  };

  it('core subjects: the denied messages of a batch are refused, the others delivered', async () => {
    const allowed = `ok.${uniqueSubject()}`;
    const denied = `denied.${uniqueSubject()}`;
    const subscription = broker.subscribe(allowed);
    const live = await subscribed(subscription);
    try {
      const outcomes = await broker.publishMany([
        { subject: allowed, payload: text('a1') },
        { subject: denied, payload: text('d1') },
        { subject: allowed, payload: text('a2') },
        { subject: denied, payload: text('d2') },
      ]);
      expect(outcomes[0]).toEqual({ status: 'fulfilled', value: { position: undefined } });
      expect(outcomes[2]).toEqual({ status: 'fulfilled', value: { position: undefined } });
      expectDenied(outcomes[1], denied);
      expectDenied(outcomes[3], denied);
      expect((await live.messages.take(2, 5_000, 'the allowed messages')).map(textOf)).toEqual(['a1', 'a2']);
    } finally {
      subscription.unsubscribe();
    }
  });

  it('a single core publish to a denied subject is refused (before: reported published)', async () => {
    const denied = `denied.${uniqueSubject()}`;
    const refused = await broker.publish(denied, text('d')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expectDenied({ status: 'rejected', reason: refused }, denied);
    // The connection goes on.
    const allowed = `ok.${uniqueSubject()}`;
    expect(await broker.publish(allowed, text('a'))).toEqual({ position: undefined });
  });

  it('a chain into one stream with a denied subject in it: the denied message is refused, the others stored once, in order', async () => {
    const id = uniqueSubject();
    await broker.retain(`mix.${id}.>`, { maxAgeMs: 60_000 });
    const ok = `mix.${id}.ok`;
    const denied = `mix.${id}.denied`;
    const outcomes = await broker.publishMany([
      { subject: ok, payload: text('a1') },
      { subject: denied, payload: text('d1') },
      { subject: ok, payload: text('a2') },
      { subject: ok, payload: text('a3') },
      // The last of the chain, which alone asks for an ack: no ack ever comes for it.
      { subject: denied, payload: text('d2') },
    ]);
    expectDenied(outcomes[1], denied);
    expectDenied(outcomes[4], denied);
    const positions = [outcomes[0], outcomes[2], outcomes[3]].map((outcome) => {
      if (outcome?.status !== 'fulfilled') throw new Error(`rejected: ${String(refusalOf(outcome))}`);
      return Number(outcome.value.position);
    });
    const stream = streamNameOf(`mix.${id}.>`);
    expect(await storedIn(stream)).toEqual(['a1', 'a2', 'a3']);
    const info = await jsm.streams.info(stream);
    expect(positions).toEqual([info.state.first_seq, info.state.first_seq + 1, info.state.first_seq + 2]);
  });

  it('a batch of a denied retained subject only is refused whole; the stream stays empty', async () => {
    const id = uniqueSubject();
    const denied = `mix.${id}.denied`;
    await broker.retain(denied, { maxAgeMs: 60_000 });
    const outcomes = await broker.publishMany(
      Array.from({ length: 500 }, (_, n) => ({ subject: denied, payload: text(`d${n}`) })),
    );
    for (const outcome of outcomes) expectDenied(outcome, denied);
    expect(await storedIn(streamNameOf(denied))).toEqual([]);
    // A single publish there is refused the same way (js.publish, one request).
    const single = await broker.publish(denied, text('one')).then(
      () => undefined,
      (error: unknown) => error,
    );
    expectDenied({ status: 'rejected', reason: single }, denied);
  });

  it('concurrent batches are not confused: a denial answers only its own subject', async () => {
    const id = uniqueSubject();
    await broker.retain(`mix.${id}.>`, { maxAgeMs: 60_000 });
    const okA = `mix.${id}.a`;
    const okB = `mix.${id}.b`;
    const denied = `mix.${id}.denied`;
    const coreOk = `ok.${id}`;
    const subscription = broker.subscribe(coreOk);
    const live = await subscribed(subscription);
    try {
      const payloads = (prefix: string, count: number) =>
        Array.from({ length: count }, (_, n) => `${prefix}${n}`);
      const batch = (subject: string, prefix: string, count: number) =>
        payloads(prefix, count).map((payload) => ({ subject, payload: text(payload) }));
      const [first, second, third] = await Promise.all([
        broker.publishMany([...batch(okA, 'a', 20), ...batch(denied, 'd', 3), ...batch(coreOk, 'c', 5)]),
        broker.publishMany(batch(okB, 'b', 20)),
        broker.publishMany([...batch(coreOk, 'k', 5), ...batch(denied, 'e', 2)]),
      ]);
      expect(first.slice(0, 20).every((outcome) => outcome.status === 'fulfilled')).toBe(true);
      for (const outcome of first.slice(20, 23)) expectDenied(outcome, denied);
      expect(first.slice(23).every((outcome) => outcome.status === 'fulfilled')).toBe(true);
      expect(second.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
      expect(third.slice(0, 5).every((outcome) => outcome.status === 'fulfilled')).toBe(true);
      for (const outcome of third.slice(5)) expectDenied(outcome, denied);
      const stored = await storedIn(streamNameOf(`mix.${id}.>`));
      expect(stored.filter((payload) => payload.startsWith('a'))).toEqual(payloads('a', 20));
      expect(stored.filter((payload) => payload.startsWith('b'))).toEqual(payloads('b', 20));
      expect(stored).toHaveLength(40);
      const delivered = (await live.messages.take(10, 5_000, 'the core messages')).map(textOf);
      expect(delivered.filter((payload) => payload.startsWith('c'))).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
      expect(delivered.filter((payload) => payload.startsWith('k'))).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    } finally {
      subscription.unsubscribe();
    }
  });
});
