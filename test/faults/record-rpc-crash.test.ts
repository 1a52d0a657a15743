/**
 * The record RPC (`streams.record.rpc`, docs/devices.md) across crashes: a recording started by
 * the ApiGear tooling over the RPC while a device posts to `POST /monitor/{device}`, then NATS
 * killed (SIGKILL) and started again, then Postgres killed (`pg_ctl -m immediate`) and started
 * again, both mid-stream, streamgate never restarted. What the tooling and the device must see:
 * - every event the monitor acknowledged is in the recording once, in order; posts during either
 *   outage are refused (503), not half-recorded;
 * - an RPC during an outage is refused clearly — the tooling's own request fails at once while
 *   the broker is away; while Postgres is away the reply says the database is unavailable and nothing
 *   it asked for happens (no recording started, none stopped);
 * - after each restart the responder answers again by itself, and the stop over the RPC
 *   reports what the recording holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { BrokerUnavailableError } from '../../src/pubsub/errors.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { uniqueDevice } from '../helpers/devices.ts';
import { expectComplete, recordedNumbers, startMonitorProducer } from '../helpers/recorded-monitor.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { type BackendUnderTest, natsBackend, redisBackend, text, textOf } from '../pubsub/broker-backends.ts';
import {
  type PrivateService,
  requireDurableCommits,
  type ServiceName,
  startService,
} from '../setup/services.ts';

interface CrashCase {
  readonly service: ServiceName;
  /** The streamgate's environment for a broker at `url`. */
  readonly env: (url: string) => Record<string, string>;
  /** The ApiGear tooling's connection to the same broker. */
  readonly backend: (url: () => string) => BackendUnderTest;
}

// Kafka is left out: a crash of its JVM costs minutes here, and its request/reply across one is
// test/faults/ism-broker-crash.test.ts's (the data-source responders).
const cases: CrashCase[] = [
  { service: 'nats', env: (url) => ({ BROKER: 'nats', NATS_URL: url }), backend: natsBackend },
  { service: 'redis', env: (url) => ({ BROKER: 'redis', REDIS_URL: url }), backend: redisBackend },
];

interface RecordReply {
  readonly ok: boolean;
  readonly message: string;
  readonly session_id?: string;
  readonly state?: { readonly status: string; readonly message_count: number };
}

describe.each(cases)(
  'the record RPC across a $service and a Postgres crash',
  { timeout: 240_000 },
  ({ service, env, backend }) => {
    let broker: PrivateService;
    let postgres: PrivateService;
    let server: TestApp;
    /** The ApiGear tooling: another client of the broker network. */
    let tool: Broker;

    beforeAll(async () => {
      [broker, postgres] = await Promise.all([startService(service), startService('postgres')]);
      // The test servers trade durability for speed; this test counts what a crash kept.
      await requireDurableCommits(postgres.url);
      server = await startTestApp({
        env: {
          ...env(broker.url),
          DATABASE_URL: postgres.url,
          BROKER_RECONNECT_MAX_WAIT: '200ms',
          DATABASE_CONNECT_TIMEOUT: '2s',
        },
      });
      tool = await backend(() => broker.url).connect('apigear-tool');
    }, 120_000);
    afterAll(async () => {
      await tool?.close();
      await server?.stop();
      await Promise.all([broker?.stop(), postgres?.stop()]);
    });

    const rpc = async (request: Record<string, unknown>): Promise<RecordReply> =>
      JSON.parse(
        textOf(
          await tool.request('streams.record.rpc', text(JSON.stringify(request)), { timeoutMs: 15_000 }),
        ),
      ) as RecordReply;
    /** Asks until the responder answers (the connections may still be coming back). */
    const answered = async (request: Record<string, unknown>): Promise<RecordReply> => {
      let reply: RecordReply | undefined;
      await waitUntil(
        async () => {
          reply = await rpc(request).catch(() => undefined);
          return reply !== undefined;
        },
        60_000,
        `an answer to ${JSON.stringify(request)}`,
      );
      return reply as RecordReply;
    };
    const recordingOf = async (id: string) =>
      (
        await server.graphql<{ recording: { status: string } | null }>(
          'query($id: ID!) { recording(id: $id) { status } }',
          { id },
        )
      ).data?.recording ?? null;

    it('every acknowledged event is recorded once; RPCs during the outages are refused clearly; the responder answers again', async () => {
      const device = uniqueDevice('rpc-crash');
      const session = `sess-${device}`;
      const never = `sess-${uniqueDevice('rpc-never')}`;
      expect(await rpc({ action: 'start', device_id: device, session_id: session })).toMatchObject({
        ok: true,
        message: 'recording started',
        session_id: session,
        state: { status: 'running' },
      });
      const producer = startMonitorProducer(() => server.url, device);
      /** Waits until the device's posts have been refused a few more times: the outage is seen. */
      const refusedMore = async (what: string) => {
        const before = producer.refusedCount();
        await waitUntil(
          () => producer.refusedCount() >= before + 3,
          30_000,
          `posts refused while ${what} is down`,
        );
      };
      const acknowledgedMore = async (count: number, what: string) => {
        const before = producer.acknowledged.length;
        await waitUntil(() => producer.acknowledged.length >= before + count, 60_000, what);
      };
      try {
        await acknowledgedMore(100, '100 acknowledged events before the crashes');

        await broker.kill();
        await refusedMore(service);
        // The tooling's own connection is down too: its request fails at once, it does not hang.
        await waitUntil(
          () => tool.health().status === 'reconnecting',
          30_000,
          `the tool to see ${service} gone`,
        );
        await expect(rpc({ action: 'stop', session_id: session })).rejects.toBeInstanceOf(
          BrokerUnavailableError,
        );
        await broker.up();
        // Answered again by itself: the device is still recording (the stop never arrived).
        expect(await answered({ action: 'start', device_id: device })).toMatchObject({
          ok: false,
          message: expect.stringContaining(session),
        });
        await acknowledgedMore(100, `100 acknowledged events after the ${service} restart`);

        await postgres.kill();
        await refusedMore('Postgres');
        for (const request of [
          { action: 'stop', session_id: session },
          { action: 'start', device_id: uniqueDevice('rpc-other'), session_id: never },
        ]) {
          const reply = await rpc(request);
          expect(reply, JSON.stringify(request)).toMatchObject({ ok: false });
          expect(reply.message, JSON.stringify(request)).toMatch(/database/i);
          expect(reply.message).not.toMatch(/internal error|at .+\.ts:\d+/);
        }
        await postgres.up();
        await acknowledgedMore(100, '100 acknowledged events after the Postgres restart');
      } finally {
        await producer.stop();
      }

      // What was refused did not happen: the recording went on, the other never started.
      expect(await recordingOf(session)).toEqual({ status: 'RECORDING' });
      expect(await recordingOf(never)).toBeNull();
      const stopped = await answered({ action: 'stop', session_id: session });
      expect(stopped).toMatchObject({ ok: true, message: 'recording stopped', state: { status: 'stopped' } });
      const recorded = await recordedNumbers(server.url, session);
      expectComplete(recorded, producer.acknowledged);
      expect(stopped.state?.message_count).toBe(recorded.ns.length);
    });
  },
);
