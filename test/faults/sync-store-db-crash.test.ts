/**
 * The database killed (`pg_ctl -m immediate`: every backend gone at once, as in a crash) and
 * started again on the same port and data while a processor publishes `query_state_direct`
 * messages to the sync store over a real NATS. The broker keeps no copy of them, so the sync
 * store must not drop a message it could not write. What a user must see: every published entry
 * is stored once, in the order sent; past SYNC_STORE_BUFFER the newest are dropped and counted,
 * never more; and stopping the server while the database is still away returns (the waiting
 * messages counted as dropped) instead of hanging.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { uniqueDevice } from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { natsBackend, text, uniqueSubject } from '../pubsub/broker-backends.ts';
import { type PrivateService, requireDurableCommits, serviceUrl, startService } from '../setup/services.ts';

/** Resolves with what `work` resolves, or fails naming `what` after `ms`. */
async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the sync store across a database crash', { timeout: 120_000 }, () => {
  let postgres: PrivateService;
  let producer: Broker;
  const apps: TestApp[] = [];
  /** A server with a sync-store subject of its own (other apps on the shared NATS consume the default one). */
  const startServer = async (env: Record<string, string> = {}) => {
    const subject = `${uniqueSubject()}.sync`;
    const server = await startTestApp({
      env: {
        DATABASE_URL: postgres.url,
        SYNC_STORE_SUBJECT: subject,
        BROKER: 'nats',
        NATS_URL: serviceUrl('nats'),
        ...env,
      },
    });
    apps.push(server);
    return { server, subject, stats: () => server.app.services.syncStore.stats() };
  };
  type Server = Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    postgres = await startService('postgres');
    await requireDurableCommits(postgres.url);
    producer = await natsBackend().connect('sync-store-producer');
  }, 60_000);
  afterAll(async () => {
    await producer?.close();
    for (const app of apps) await app.stop();
    await postgres?.stop();
  });

  /**
   * A processor publishing one entry `{ n }` every 25 ms until `stop()` (about what the sync store
   * writes per second on a busy test machine); `sent` lists what the broker took.
   */
  const publishing = (subject: string, stateId: string) => {
    const sent: number[] = [];
    let running = true;
    const done = (async () => {
      for (let n = 0; running; n++) {
        const message = { type: 'query_state_direct', state_id: stateId, query_state: [{ n }] };
        await producer.publish(subject, text(JSON.stringify(message)));
        sent.push(n);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    return {
      sent,
      async stop() {
        running = false;
        await done;
      },
    };
  };
  const stored = async ({ server }: Server, stateId: string) => {
    const rows = await server.app.services.db.prisma.stateEntry.findMany({
      where: { stateId },
      orderBy: { seq: 'asc' },
      select: { data: true },
    });
    return rows.map((row) => (row.data as { n: number }).n);
  };
  /** Kills the database once `store` has written 20 entries and starts it again once `whileDown` is done. */
  const crashDuring = async (store: Server, whileDown: () => Promise<void>) => {
    await waitUntil(() => store.stats().persisted >= 20, 30_000, '20 entries persisted before the crash');
    await postgres.kill();
    await waitUntil(() => store.stats().retried > 0, 30_000, 'the sync store to find the database gone');
    await whileDown();
    await postgres.up();
    const after = store.stats().persisted;
    await waitUntil(() => store.stats().persisted >= after + 20, 60_000, '20 entries persisted after it');
  };

  it('stores every published entry once, in order, after the restart; stop() returns', async () => {
    const store = await startServer();
    const stateId = uniqueDevice('sync-crash');
    const producing = publishing(store.subject, stateId);
    try {
      await crashDuring(store, async () => {
        const during = producing.sent.length;
        await waitUntil(() => producing.sent.length >= during + 50, 30_000, '50 more published meanwhile');
      });
    } finally {
      await producing.stop();
    }
    await waitUntil(
      async () => (await stored(store, stateId)).length >= producing.sent.length,
      60_000,
      `all ${producing.sent.length} published entries stored`,
    );
    expect(await stored(store, stateId)).toEqual(producing.sent);
    expect(store.stats()).toMatchObject({ failed: 0, dropped: 0, rejected: {} });
    await within(store.server.stop(), 30_000, 'app.stop()');
  });

  it('past SYNC_STORE_BUFFER drops the newest messages, counted; what it kept is stored once, in order', async () => {
    // Each message is about 70 bytes: the buffer holds a dozen.
    const store = await startServer({ SYNC_STORE_BUFFER: '1kb' });
    const stateId = uniqueDevice('sync-full');
    const producing = publishing(store.subject, stateId);
    try {
      await crashDuring(store, () =>
        waitUntil(() => store.stats().dropped >= 20, 30_000, '20 messages dropped past the buffer'),
      );
    } finally {
      await producing.stop();
    }
    const { dropped } = store.stats();
    await waitUntil(
      async () => (await stored(store, stateId)).length >= producing.sent.length - dropped,
      60_000,
      `${producing.sent.length - dropped} entries stored (${JSON.stringify(store.stats())})`,
    );
    const kept = await stored(store, stateId);
    expect(kept).toHaveLength(producing.sent.length - dropped);
    // In order, none twice, nothing that was not sent.
    expect(kept).toEqual([...new Set(kept)].sort((a, b) => a - b));
    expect(kept.every((n) => producing.sent.includes(n))).toBe(true);
    expect(store.stats()).toMatchObject({ failed: 0, received: producing.sent.length });
    const metrics = await (await fetch(`${store.server.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`ism_sync_store_messages_total\\{result="dropped",reason="buffer_full"\\} ${dropped}\\b`),
    );
  });

  it('stopped while the database is still away: stop() returns and the waiting messages are counted dropped', async () => {
    const store = await startServer({ SHUTDOWN_TIMEOUT: '5s' });
    const stateId = uniqueDevice('sync-stop');
    const producing = publishing(store.subject, stateId);
    try {
      await waitUntil(() => store.stats().persisted >= 5, 30_000, '5 entries persisted');
      await postgres.kill();
      await waitUntil(() => store.stats().retried > 0, 30_000, 'the sync store to find the database gone');
      const during = producing.sent.length;
      await waitUntil(() => producing.sent.length >= during + 10, 30_000, '10 more published meanwhile');
    } finally {
      await producing.stop();
    }
    await waitUntil(
      () => store.stats().received === producing.sent.length,
      30_000,
      'every published message received',
    );
    await within(store.server.stop(), 30_000, 'app.stop() with the database away');
    const { persisted, dropped, failed, received } = store.stats();
    expect({ failed, accounted: persisted + dropped }).toEqual({ failed: 0, accounted: received });
    expect(dropped).toBeGreaterThan(0);
    await postgres.up();
  });
});
