/**
 * A broker server killed (SIGKILL) and started again on the same port and data while a
 * producer publishes and subscribers read, on a private server per backend. What a user must
 * see: every message the broker acknowledged reaches the subscriptions that were open — in
 * order, once — when they read a retained window (JetStream stream, Redis stream, Kafka
 * topic); those without one deliver again; responders answer again, and subscriptions made
 * after the restart work.
 */
import { describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { startAcknowledgedProducer } from '../helpers/acknowledged-producer.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import {
  type BackendUnderTest,
  type Collected,
  kafkaBackend,
  natsBackend,
  redisBackend,
  subscribed,
  text,
  textOf,
  uniqueSubject,
  usePrivateBrokerServer,
} from '../pubsub/broker-backends.ts';
import type { ServiceName } from '../setup/services.ts';

interface CrashCase {
  readonly service: ServiceName;
  readonly backend: (url: () => string) => BackendUnderTest;
  /**
   * How long the open subscription may take to catch up once the producer stopped. NATS's own
   * ordered consumer comes back, when at all, only after two missed 15 s heartbeats; ours must
   * not wait for that. Kafka's consumers rejoin their groups, which takes longer.
   */
  readonly catchUpMs: number;
}

const cases: CrashCase[] = [
  { service: 'nats', backend: natsBackend, catchUpMs: 20_000 },
  { service: 'redis', backend: redisBackend, catchUpMs: 20_000 },
  { service: 'kafka', backend: kafkaBackend, catchUpMs: 90_000 },
];

// Kafka takes seconds to come back after a crash (log recovery), and its clients to notice.
const CRASH_TEST_TIMEOUT_MS = 180_000;

/** Publishes numbered messages one after the other until stopped; remembers what was acknowledged. */
function startProducer(broker: Broker, subject: string) {
  return startAcknowledgedProducer(async (n) => {
    await broker.publish(subject, text(String(n)));
    return [n];
  }, 20);
}

/**
 * What a subscriber received must hold every acknowledged number, in order, once. A publish
 * that failed on the client side may still have reached the broker, so unacknowledged numbers
 * may appear too — but in their place, never twice.
 */
async function expectEveryAcknowledged(
  collected: Collected,
  acknowledged: readonly number[],
  what: string,
  timeoutMs: number,
) {
  const last = acknowledged.at(-1) as number;
  const received: number[] = [];
  await waitUntil(
    async () => {
      while (collected.messages.pending.length > 0)
        received.push(Number(textOf(await collected.messages.next())));
      return received.includes(last);
    },
    timeoutMs,
    `${what} to receive the last acknowledged message (${last}); it has ${received.length}, the last ${received.at(-1)}`,
  );
  const sorted = [...received].sort((a, b) => a - b);
  expect(received, `${what}: in order`).toEqual(sorted);
  expect(new Set(received).size, `${what}: no duplicates`).toBe(received.length);
  const missing = acknowledged.filter((n) => !received.includes(n));
  expect(missing, `${what}: acknowledged messages never delivered`).toEqual([]);
}

describe.each(cases)(
  'Broker crash: $service killed (SIGKILL) and restarted',
  { timeout: CRASH_TEST_TIMEOUT_MS },
  ({ service, backend: backendFor, catchUpMs }) => {
    const servers = usePrivateBrokerServer(service, backendFor);
    const connect = () => servers.connect();

    it('delivers every acknowledged message to open subscriptions, and new ones work', async () => {
      const subscriber = await connect();
      const publisher = await connect();
      const root = uniqueSubject();
      await subscriber.retain(`${root}.kept.>`, { maxAgeMs: 600_000 });
      const kept = await subscribed(subscriber.subscribe(`${root}.kept.>`));
      await subscriber.respond(`${root}.ask`, (request) => ({ payload: text(`re:${textOf(request)}`) }));
      const live = await subscribed(subscriber.subscribe(`${root}.live`));
      const keptProducer = startProducer(publisher, `${root}.kept.a`);
      const liveProducer = startProducer(publisher, `${root}.live`);
      try {
        await waitUntil(() => keptProducer.acknowledged.length >= 50, 30_000, 'acknowledged messages');

        await servers.server.crash();
        const before = keptProducer.acknowledged.length;
        await waitUntil(
          () => keptProducer.acknowledged.length >= before + 100 && liveProducer.acknowledged.length > 0,
          90_000,
          '100 more acknowledged messages after the restart',
        );
      } finally {
        await keptProducer.stop();
        await liveProducer.stop();
      }
      expect(keptProducer.refusedCount()).toBeGreaterThan(0);

      await expectEveryAcknowledged(kept, keptProducer.acknowledged, 'the retained subscription', catchUpMs);
      // Core pub/sub keeps nothing while the server is down: the live subscription only has
      // to be delivering again, in order and without duplicates.
      const liveReceived: number[] = [];
      await waitUntil(
        async () => {
          await publisher.publish(`${root}.live`, text('-1'));
          while (live.messages.pending.length > 0)
            liveReceived.push(Number(textOf(await live.messages.next())));
          return liveReceived.includes(-1);
        },
        60_000,
        'the live subscription to deliver again',
      );

      // The responder registered before the crash answers again (Kafka cannot tell "nobody
      // listens" from "not yet", so each try waits for its timeout).
      let answer: string | undefined;
      await waitUntil(
        async () => {
          answer = await publisher
            .request(`${root}.ask`, text('q'), { timeoutMs: 2_000 })
            .then(textOf)
            .catch(() => undefined);
          return answer !== undefined;
        },
        60_000,
        'the responder to answer again',
      );
      expect(answer).toBe('re:q');

      const fresh = await subscribed(subscriber.subscribe(`${root}.kept.>`));
      const freshOther = await subscribed((await connect()).subscribe(`${root}.kept.>`));
      await publisher.publish(`${root}.kept.b`, text('after'));
      expect(textOf(await fresh.messages.next(30_000))).toBe('after');
      expect(textOf(await freshOther.messages.next(30_000))).toBe('after');
    });
  },
);
