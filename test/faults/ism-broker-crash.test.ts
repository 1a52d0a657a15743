/**
 * The ISM network's consumers across a broker crash, one body over NATS, Redis and Kafka
 * (issue #14, item 2; docs/pubsub.md "A broker restart, as a client sees it"): two streamgates
 * (one deployment: one database, one queue group) on a private server that is killed (SIGKILL)
 * and started again on the same port and data, while a processor of the network publishes state
 * entries to the sync store and asks a data source. Neither streamgate is restarted. What the
 * network must see:
 * - data sources: a `/ws/ds` provider connected before the crash answers requests from the
 *   network and from the other instance again; requests during the outage fail cleanly (a
 *   GraphQL error saying the broker is away, within the request's time, never INTERNAL); a
 *   provider connecting after the restart is reached too;
 * - the sync store: every acknowledged entry is persisted once — all of them where the subject
 *   keeps what it was sent (Kafka), all from the first one stored after the restart where it
 *   does not (core NATS and Redis pub/sub keep nothing for a subscriber that is reconnecting) —
 *   and forwarded on the state's subject, at least once around the crash and once after it.
 *   Two instances share the subject as one queue group, so the stored order is not the
 *   publisher's (test/faults/sync-store-db-crash.test.ts checks the order of one instance).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { startAcknowledgedProducer } from '../helpers/acknowledged-producer.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { connectRaw, type RawWsClient } from '../helpers/raw-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
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
} from '../pubsub/broker-backends.ts';
import {
  createTestDatabase,
  type PrivateService,
  type ServiceName,
  startService,
} from '../setup/services.ts';

interface CrashCase {
  readonly service: ServiceName;
  /** The streamgates' environment for a server at `url`. */
  readonly env: (url: string) => Record<string, string>;
  /** The processor: another client of the network on the same server. */
  readonly backend: (url: () => string) => BackendUnderTest;
  /** The sync store's subject keeps what is published while its consumer is away (a Kafka topic). */
  readonly keepsWhileAway: boolean;
  /** How long one step may take: Kafka's consumers join their groups slowly, at start and after the restart. */
  readonly backMs: number;
}

const cases: CrashCase[] = [
  {
    service: 'nats',
    env: (url) => ({ BROKER: 'nats', NATS_URL: url }),
    backend: natsBackend,
    keepsWhileAway: false,
    backMs: 60_000,
  },
  {
    service: 'redis',
    env: (url) => ({ BROKER: 'redis', REDIS_URL: url }),
    backend: redisBackend,
    keepsWhileAway: false,
    backMs: 60_000,
  },
  {
    // Kafka takes seconds to recover its log after a crash, and its consumers to rejoin.
    service: 'kafka',
    env: (url) => ({ BROKER: 'kafka', KAFKA_BROKERS: url }),
    backend: kafkaBackend,
    keepsWhileAway: true,
    backMs: 150_000,
  },
];

const QUERY = `query Ask($id: ID!, $query: JSON!, $timeoutMs: Int) {
  queryDataSource(id: $id, query: $query, timeoutMs: $timeoutMs)
}`;
const LIST = '{ dataSources { id connectedProviders } }';

describe.each(cases)(
  'the ISM consumers: $service killed (SIGKILL) and restarted',
  { timeout: 360_000 },
  ({ service, env, backend, keepsWhileAway, backMs }) => {
    const syncSubject = `${uniqueSubject()}.sync`;
    let server: PrivateService;
    let appA: TestApp;
    let appB: TestApp;
    let processor: Broker;
    const sockets: RawWsClient[] = [];

    beforeAll(async () => {
      server = await startService(service);
      const appEnv = {
        ...env(server.url),
        DATABASE_URL: await createTestDatabase(),
        SYNC_STORE_SUBJECT: syncSubject,
        BROKER_RECONNECT_MAX_WAIT: '200ms',
      };
      // One after the other: the first creates the schema of the shared database.
      appA = await startTestApp({ env: appEnv });
      appB = await startTestApp({ env: appEnv });
      processor = await backend(() => server.url).connect('ism-processor');
    }, 180_000);
    afterAll(async () => {
      for (const socket of sockets) await socket.close();
      await processor?.close();
      await Promise.all([appA?.stop(), appB?.stop()]);
      await server?.stop();
    });

    /** A /ws/ds provider that answers every request with its own name and the query. */
    async function echoProvider(app: TestApp, dataSourceId: string, name: string) {
      const client = await connectRaw(`${app.url.replace(/^http/, 'ws')}/ws/ds/${dataSourceId}`);
      sockets.push(client);
      client.socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { id: string; payload: unknown };
        client.send({ id: name, payload: [name, frame.payload], requestId: frame.id });
      });
      await waitUntil(
        async () =>
          (
            await app.graphql<{ dataSources: Array<{ id: string; connectedProviders: number }> }>(LIST)
          ).data?.dataSources.some((source) => source.id === dataSourceId && source.connectedProviders > 0) ??
          false,
        backMs,
        `provider ${name} of ${dataSourceId} registered`,
      );
    }

    /** Asks over GraphQL until answered (the broker may still be coming back); returns the answer. */
    async function answerOf(app: TestApp, dataSourceId: string, query: string) {
      let answer: unknown;
      await waitUntil(
        async () => {
          const result = await app.graphql(QUERY, { id: dataSourceId, query, timeoutMs: 3_000 });
          answer = result.data?.queryDataSource;
          return answer !== undefined && answer !== null;
        },
        backMs,
        `an answer from ${dataSourceId} through ${app.url}`,
      );
      return answer;
    }

    /** Asks `datasource.{ds}` as a processor of the network does, until answered. */
    async function networkAnswerOf(dataSourceId: string, id: string) {
      let reply: Record<string, unknown> | undefined;
      await waitUntil(
        async () => {
          reply = await processor
            .request(
              `datasource.${dataSourceId}`,
              text(JSON.stringify({ id, operation: 'lookup', payload: id })),
              { timeoutMs: 3_000 },
            )
            .then((message) => JSON.parse(textOf(message)) as Record<string, unknown>)
            .catch(() => undefined);
          return reply !== undefined;
        },
        backMs,
        `the network's request to datasource.${dataSourceId} answered`,
      );
      return reply;
    }

    /** The numbers stored for the state, in stored order (both instances write one database). */
    const storedOf = async (stateId: string) =>
      (
        await appA.app.services.db.prisma.stateEntry.findMany({
          where: { stateId },
          orderBy: { seq: 'asc' },
          select: { data: true },
        })
      ).map((row) => (row.data as { n: number }).n);

    /** The numbers forwarded on the state's subject so far (query_state_entry messages). */
    const forwarded: number[] = [];
    const drainForwarded = async (routed: Collected) => {
      while (routed.messages.pending.length > 0) {
        const message = JSON.parse(textOf(await routed.messages.next())) as {
          query_state: Array<{ n: number }>;
        };
        forwarded.push(...message.query_state.map((entry) => entry.n));
      }
      return forwarded;
    };

    it('data sources answer again and fail cleanly meanwhile; the sync store persists each acknowledged entry once and forwards it', async () => {
      const dataSourceId = `ds-${randomUUID().slice(0, 8)}`;
      const stateId = `crash-${randomUUID().slice(0, 8)}`;
      const routed = await subscribed(processor.subscribe(`processor.state.${stateId}`));
      await echoProvider(appA, dataSourceId, 'A');
      // Asked until answered: Kafka's responders answer once their consumers joined their groups.
      expect(await answerOf(appB, dataSourceId, 'q1')).toEqual(['A', 'q1']);
      expect(await networkAnswerOf(dataSourceId, 'n1')).toMatchObject({
        requestId: 'n1',
        payload: ['A', 'n1'],
      });

      // A processor publishing one entry a message, paced (core pub/sub would take thousands a second).
      const producer = startAcknowledgedProducer(async (n) => {
        await processor.publish(
          syncSubject,
          text(JSON.stringify({ type: 'query_state_direct', state_id: stateId, query_state: [{ n }] })),
        );
        await sleep(10);
        return [n];
      }, 50);
      let storedAfterRestart: number | undefined;
      let marker = 0;
      try {
        await waitUntil(
          async () => (await storedOf(stateId)).length >= 20,
          backMs,
          '20 entries stored before the crash',
        );

        await server.kill();
        // During the outage (once the instance has noticed it: a query sent before then goes out
        // on a connection not yet known dead and ends in TIMEOUT) a query fails, within its time,
        // as the broker's absence.
        await waitUntil(
          async () => appB.app.services.broker.health().status !== 'connected',
          30_000,
          'the instance to notice that the broker is gone',
        );
        const startedAt = Date.now();
        const during = await appB.graphql(QUERY, { id: dataSourceId, query: 'down', timeoutMs: 2_000 });
        expect(Date.now() - startedAt, "answered before the request's own 2 s ran out").toBeLessThan(2_000);
        expect(during.data?.queryDataSource ?? null).toBeNull();
        expect(during.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
        await server.up();

        // The first entry stored after the restart marks the moment the sync store is back.
        const atRestart = producer.acknowledged.length;
        await waitUntil(
          async () => {
            const stored = await storedOf(stateId);
            storedAfterRestart = stored.find((n) => n >= (producer.acknowledged[atRestart] ?? Infinity));
            return storedAfterRestart !== undefined;
          },
          backMs,
          'an entry published after the restart stored',
        );
        marker = producer.acknowledged.length;
        await waitUntil(
          () => producer.acknowledged.length >= marker + 50,
          30_000,
          '50 more acknowledged entries',
        );
      } finally {
        await producer.stop();
      }
      expect(producer.refusedCount(), 'publishes refused while the broker was down').toBeGreaterThan(0);

      // Which acknowledged entries must be there: every one where the subject keeps them.
      const from = keepsWhileAway ? 0 : (storedAfterRestart as number);
      const required = producer.acknowledged.filter((n) => n >= from);
      const last = producer.acknowledged.at(-1) as number;
      // Each instance writes what it took in its own time: wait for all of them, not the last.
      await waitUntil(
        async () => {
          const stored = new Set(await storedOf(stateId));
          return required.every((n) => stored.has(n));
        },
        backMs,
        `every acknowledged entry (the last ${last}) stored`,
      );
      // Both instances take turns in the queue group, so the stored order is theirs, not the
      // publisher's; and a publish the processor saw fail may still have reached the broker.
      const stored = await storedOf(stateId);
      expect(new Set(stored).size, 'an entry stored twice').toBe(stored.length);
      expect(
        required.filter((n) => !stored.includes(n)),
        'acknowledged entries never stored',
      ).toEqual([]);
      for (const app of [appA, appB])
        expect(app.app.services.syncStore.stats()).toMatchObject({ dropped: 0 });

      // Forwarded on the state's subject by the outbox: every stored entry, where the processor's
      // own subscription was there to see it (core pub/sub: from a moment after the sync store
      // was back, since its subscriber connection may come back later). At least once
      // (docs/ism.md): a publish whose answer the crash cut off goes again, so an entry forwarded
      // around the crash may come twice; none after it.
      const marked = producer.acknowledged[marker] as number;
      const routedFrom = keepsWhileAway ? 0 : marked;
      await waitUntil(
        async () => {
          const seen = new Set(await drainForwarded(routed));
          return stored.every((n) => n < routedFrom || seen.has(n));
        },
        backMs,
        `every stored entry forwarded on processor.state.${stateId}`,
      );
      const afterwards = forwarded.filter((n) => n >= marked);
      expect(new Set(afterwards).size, 'an entry forwarded twice after the restart').toBe(afterwards.length);

      // The provider that stayed connected answers the other instance and the network again.
      expect(await answerOf(appB, dataSourceId, 'q2')).toEqual(['A', 'q2']);
      expect(await networkAnswerOf(dataSourceId, 'n2')).toMatchObject({
        requestId: 'n2',
        payload: ['A', 'n2'],
      });
      // A provider connecting after the restart is reached from the other instance.
      const later = `ds-${randomUUID().slice(0, 8)}`;
      await echoProvider(appB, later, 'B');
      expect(await answerOf(appA, later, 'q3')).toEqual(['B', 'q3']);
    });
  },
);
