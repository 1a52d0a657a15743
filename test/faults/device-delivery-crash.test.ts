/**
 * The outage of issue #14 as a user meets it: a device subscriber on graphql-ws is receiving,
 * a producer posts to `POST /monitor/{device}`, and the broker is killed (SIGKILL) and started
 * again on the same port and data. Ingest answers 503 meanwhile; afterwards every event the
 * monitor acknowledged reaches the subscriber that stayed open — in order, once — and a
 * subscriber that comes after the restart receives too.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { monitorEvents, uniqueDevice } from '../helpers/devices.ts';
import { connectWs, subscribeWs, type WsResult, type WsSubscription } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { type PrivateService, type ServiceName, startService } from '../setup/services.ts';

const SUBSCRIBE = 'subscription($d: ID!) { deviceMessages(deviceId: $d) { seq data } }';

interface CrashCase {
  readonly service: ServiceName;
  readonly env: (url: string) => Record<string, string>;
}

const cases: CrashCase[] = [
  { service: 'nats', env: (url) => ({ BROKER: 'nats', NATS_URL: url }) },
  { service: 'redis', env: (url) => ({ BROKER: 'redis', REDIS_URL: url }) },
];

/** Posts numbered batches of 10 until stopped; remembers which numbers were acknowledged (200). */
function startProducer(url: string, device: string) {
  const acknowledged: number[] = [];
  const statuses = new Map<number, number>();
  let next = 1_000;
  let running = true;
  const done = (async () => {
    while (running) {
      const batch = monitorEvents(10, { from: next });
      next += 10;
      const status = await fetch(`${url}/monitor/${device}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch),
      }).then(
        (response) => response.status,
        () => 0,
      );
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 200) acknowledged.push(...batch.map((event) => (event.data as { n: number }).n));
      else await new Promise((resolve) => setTimeout(resolve, 20)); // refused: do not spin
    }
  })();
  return {
    acknowledged,
    statuses,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** The producer's number in a deviceMessages result; a result with errors fails the test here. */
function numberOf(result: WsResult): number {
  const message = result.data?.deviceMessages as { data: { n: number } } | undefined;
  if (!message) throw new Error(`a result without a message: ${JSON.stringify(result)}`);
  return message.data.n;
}

describe.each(cases)(
  'Device delivery: $service killed (SIGKILL) and restarted',
  { timeout: 120_000 },
  ({ service, env }) => {
    let server: PrivateService;
    let app: TestApp;
    const clients: Array<{ dispose(): void | Promise<void> }> = [];

    beforeAll(async () => {
      server = await startService(service);
      app = await startTestApp({ env: { ...env(server.url), BROKER_RECONNECT_MAX_WAIT: '200ms' } });
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((client) => client.dispose()));
    });
    afterAll(async () => {
      await app?.stop();
      await server?.stop();
    });

    const subscribe = async (device: string): Promise<WsSubscription> => {
      const { client } = connectWs(app.wsUrl);
      clients.push(client);
      const subscription = subscribeWs(client, SUBSCRIBE, { d: device });
      // Subscribed once a posted warm-up event (number 0) arrives; drop whatever came of them.
      await waitUntil(
        async () => {
          const response = await fetch(`${app.url}/monitor/${device}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(monitorEvents(1, { from: 0 })),
          });
          expect(response.status).toBe(200);
          return subscription.results.next(500).then(
            () => true,
            () => false,
          );
        },
        30_000,
        'the subscription to receive',
      );
      while (subscription.results.pending.length > 0) await subscription.results.next();
      return subscription;
    };

    it('every acknowledged event reaches the open subscriber, in order, once; a new one receives', async () => {
      const device = uniqueDevice('crash');
      const open = await subscribe(device);
      const producer = startProducer(app.url, device);
      try {
        await waitUntil(() => producer.acknowledged.length >= 200, 30_000, '200 acknowledged events');
        // Killed, and started again only once ingest has answered 503 while it was away: a restart
        // faster than the next request would leave the outage unobserved (no 503 at all).
        await server.kill();
        await waitUntil(
          () => (producer.statuses.get(503) ?? 0) > 0,
          30_000,
          'ingest refused while the broker is down',
        );
        await server.up();
        const atRestart = producer.acknowledged.length;
        await waitUntil(
          () => producer.acknowledged.length >= atRestart + 300,
          60_000,
          '300 more acknowledged events after the restart',
        );
      } finally {
        await producer.stop();
      }
      expect(producer.statuses.get(503), 'ingest refused while the broker was down').toBeGreaterThan(0);

      const last = producer.acknowledged.at(-1) as number;
      const received: number[] = [];
      await waitUntil(
        async () => {
          while (open.results.pending.length > 0) {
            const n = numberOf(await open.results.next());
            if (n !== 0) received.push(n);
          }
          return received.includes(last);
        },
        20_000,
        `the open subscriber to receive the last acknowledged event (${last})`,
      );
      expect(received, 'in order').toEqual([...received].sort((a, b) => a - b));
      expect(new Set(received).size, 'no duplicates').toBe(received.length);
      expect(producer.acknowledged.filter((n) => !received.includes(n))).toEqual([]);

      // A subscriber after the restart: `subscribe` waits until it receives.
      const fresh = await subscribe(device);
      const after = await fetch(`${app.url}/monitor/${device}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(monitorEvents(1, { from: 99_999 })),
      });
      expect(after.status).toBe(200);
      expect(numberOf(await fresh.results.next(10_000))).toBe(99_999);
    });
  },
);
