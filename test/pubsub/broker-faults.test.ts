/**
 * Broker server restarts during live subscriptions, on private servers (the shared ones serve
 * other test files): delivery resumes, health() goes through `reconnecting`, and a subscriber
 * resuming from its last position over a retained window misses nothing.
 */
import { describe, expect, it } from 'vitest';
import type { BrokerHealth } from '../../src/pubsub/broker.ts';
import { BrokerUnavailableError } from '../../src/pubsub/errors.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { startTestApp } from '../helpers/test-app.ts';
import type { ServiceName } from '../setup/services.ts';
import {
  type BackendUnderTest,
  kafkaBackend,
  natsBackend,
  redisBackend,
  subscribed,
  text,
  textOf,
  uniqueSubject,
  usePrivateBrokerServer,
} from './broker-backends.ts';

interface FaultCase {
  readonly service: ServiceName;
  readonly backend: (url: () => string) => BackendUnderTest;
  /** The environment of a streamgate on this server. */
  readonly env: (url: string) => Record<string, string>;
}

const cases: FaultCase[] = [
  { service: 'nats', backend: natsBackend, env: (url) => ({ BROKER: 'nats', NATS_URL: url }) },
  { service: 'redis', backend: redisBackend, env: (url) => ({ BROKER: 'redis', REDIS_URL: url }) },
  { service: 'kafka', backend: kafkaBackend, env: (url) => ({ BROKER: 'kafka', KAFKA_BROKERS: url }) },
];

// Kafka takes seconds to stop and start, and its clients seconds to notice.
const FAULT_TEST_TIMEOUT_MS = 120_000;

describe.each(cases)(
  'Broker faults: $service restarts',
  { timeout: FAULT_TEST_TIMEOUT_MS },
  ({ service, backend: backendFor, env }) => {
    const servers = usePrivateBrokerServer(service, backendFor);
    const connect = () => servers.connect();

    it('resumes live and retained subscriptions after a restart, reporting reconnecting meanwhile', async () => {
      const subscriber = await connect();
      const publisher = await connect();
      const root = uniqueSubject();
      await subscriber.retain(`${root}.kept.>`, { maxAgeMs: 120_000 });
      const live = await subscribed(subscriber.subscribe(`${root}.live`));
      const kept = await subscribed(subscriber.subscribe(`${root}.kept.>`));

      await publisher.publish(`${root}.live`, text('live-1'));
      await publisher.publish(`${root}.kept.a`, text('kept-1'));
      expect(textOf(await live.messages.next())).toBe('live-1');
      const lastKept = await kept.messages.next();
      expect(textOf(lastKept)).toBe('kept-1');

      const seen: BrokerHealth[] = [];
      await servers.server.down();
      await waitUntil(
        () => {
          const health = subscriber.health();
          seen.push(health);
          return health.status === 'reconnecting' && health.attempt >= 2;
        },
        30_000,
        'health to show reconnect attempts',
      );
      await expect(publisher.publish(`${root}.live`, text('lost'))).rejects.toBeInstanceOf(
        BrokerUnavailableError,
      );
      await servers.server.up();
      await waitUntil(
        () => subscriber.health().status === 'connected' && publisher.health().status === 'connected',
        60_000,
        'both brokers to reconnect',
      );
      expect(seen.some((health) => health.status === 'reconnecting')).toBe(true);

      // Published after the restart, while the resuming reader is not subscribed yet.
      for (const value of ['kept-2', 'kept-3']) await publisher.publish(`${root}.kept.a`, text(value));
      await waitUntil(
        async () => {
          await publisher.publish(`${root}.live`, text('probe'));
          return live.messages.pending.length > 0;
        },
        60_000,
        'live delivery to resume',
      );
      expect(textOf(await live.messages.next())).toBe('probe');

      const resumed = await subscribed(
        subscriber.subscribe(`${root}.kept.>`, { from: { after: lastKept.position as string } }),
      );
      await publisher.publish(`${root}.kept.b`, text('kept-4'));
      expect((await resumed.messages.take(3, 30_000)).map(textOf)).toEqual(['kept-2', 'kept-3', 'kept-4']);
      // The retained subscription that lived through the restart missed nothing either.
      expect((await kept.messages.take(3, 60_000)).map(textOf)).toEqual(['kept-2', 'kept-3', 'kept-4']);
    });

    it('keeps answering requests after a restart', async () => {
      const responderSide = await connect();
      const requester = await connect();
      const subject = uniqueSubject();
      await responderSide.respond(subject, (request) => ({ payload: text(`re:${textOf(request)}`) }));
      expect(textOf(await requester.request(subject, text('a'), { timeoutMs: 5_000 }))).toBe('re:a');

      await servers.server.restart();
      await waitUntil(
        () => responderSide.health().status === 'connected' && requester.health().status === 'connected',
        60_000,
        'both brokers to reconnect',
      );
      let answer: string | undefined;
      await waitUntil(
        async () => {
          answer = await requester
            .request(subject, text('b'), { timeoutMs: 1_000 })
            .then(textOf)
            .catch(() => undefined);
          return answer !== undefined;
        },
        60_000,
        'the responder to answer again',
      );
      expect(answer).toBe('re:b');
    });

    it('answers /health with 503 while the broker is down, and 200 again after', async () => {
      const app = await startTestApp({
        env: { ...env(servers.server.url), BROKER_RECONNECT_MAX_WAIT: '500ms' },
      });
      try {
        expect((await fetch(`${app.url}/health`)).status).toBe(200);
        await servers.server.down();
        await waitUntil(
          () => app.app.services.broker.health().status === 'reconnecting',
          30_000,
          'the app to notice',
        );
        const down = await fetch(`${app.url}/health`);
        expect(down.status).toBe(503);
        expect(await down.json()).toMatchObject({ status: 'error', dependencies: { broker: 'error' } });
        const graphql = await app.graphql<{
          health: { dependencies: Array<{ name: string; error: string | null }> };
        }>('{ health { dependencies { name error } } }');
        const broker = graphql.data?.health.dependencies.find((dependency) => dependency.name === 'broker');
        expect(broker?.error).toMatch(new RegExp(`^${service} broker reconnecting \\(attempt \\d+\\)`));
        await servers.server.up();
        await waitUntil(
          async () => (await fetch(`${app.url}/health`)).status === 200,
          60_000,
          '/health to recover',
        );
      } finally {
        await app.stop();
      }
    });
  },
);
