/**
 * The ISM network's consumers of core NATS across a NATS crash (SIGKILL, started again on the same
 * port): the sync store's queue subscription and a data-source provider's responder. Core NATS
 * keeps nothing while it is down, so what a user must see is that both work again by themselves
 * once it is back: a processor's `query_state_direct` is stored again — every one published after
 * the first that got through, in order — and a request on `datasource.{ds}` reaches the provider
 * that stayed connected, and its answer the requester.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { uniqueDevice } from '../helpers/devices.ts';
import { connectRaw } from '../helpers/raw-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { natsBackend, text, textOf, uniqueSubject } from '../pubsub/broker-backends.ts';
import { type PrivateService, startService } from '../setup/services.ts';

describe('the ISM consumers of core NATS across a NATS crash', { timeout: 120_000 }, () => {
  const syncSubject = `${uniqueSubject()}.sync`;
  let nats: PrivateService;
  let server: TestApp;
  /** A processor on the network: publishes sync messages and asks data sources. */
  let processor: Broker;
  beforeAll(async () => {
    nats = await startService('nats');
    server = await startTestApp({
      env: { BROKER: 'nats', NATS_URL: nats.url, SYNC_STORE_SUBJECT: syncSubject },
    });
    processor = await natsBackend(() => nats.url).connect('ism-processor');
  }, 60_000);
  afterAll(async () => {
    await processor?.close();
    await server?.stop();
    await nats?.stop();
  });

  const storedOf = async (stateId: string) => {
    const rows = await server.app.services.db.prisma.stateEntry.findMany({
      where: { stateId },
      orderBy: { seq: 'asc' },
      select: { data: true },
    });
    return rows.map((row) => (row.data as { n: number }).n);
  };
  const sync = (stateId: string, n: number) =>
    processor.publish(
      syncSubject,
      text(JSON.stringify({ type: 'query_state_direct', state_id: stateId, query_state: [{ n }] })),
    );
  const ask = async (dataSourceId: string, id: string) =>
    JSON.parse(
      textOf(
        await processor.request(
          `datasource.${dataSourceId}`,
          text(JSON.stringify({ id, operation: 'lookup', payload: [id] })),
          { timeoutMs: 2_000 },
        ),
      ),
    ) as Record<string, unknown>;

  it('the sync store stores again and a connected provider answers again, by themselves', async () => {
    const stateId = uniqueDevice('sync-nats');
    const dataSourceId = `ds-${randomUUID().slice(0, 8)}`;
    const provider = await connectRaw(`${server.url.replace(/^http/, 'ws')}/ws/ds/${dataSourceId}`);
    try {
      /** Answers the next request the provider gets, echoing its payload. */
      const answerNext = async () => {
        const frame = await provider.nextJson<{ id: string; payload: unknown }>(10_000, 'a request');
        provider.send({ id: `answer-${frame.id}`, requestId: frame.id, payload: frame.payload });
      };

      // Before the crash: both work.
      await sync(stateId, 0);
      await waitUntil(async () => (await storedOf(stateId)).includes(0), 10_000, 'entry 0 stored');
      const [before] = await Promise.all([ask(dataSourceId, 'before'), answerNext()]);
      expect(before).toMatchObject({ requestId: 'before', payload: ['before'] });

      await nats.crash();
      await waitUntil(
        () => server.app.services.broker.health().status === 'connected',
        30_000,
        'streamgate connected to NATS again',
      );

      // Core NATS held nothing meanwhile and the sync store's subscription is made again by
      // the client: the first message that gets through marks the moment it is back.
      let n = 1;
      await waitUntil(
        async () => {
          await sync(stateId, n++).catch(() => undefined);
          return (await storedOf(stateId)).length > 1;
        },
        30_000,
        'a sync message stored after the restart',
      );
      const resumedAt = n;
      for (let last = resumedAt; last < resumedAt + 20; last++) await sync(stateId, last);
      const expected = Array.from({ length: 20 }, (_, index) => resumedAt + index);
      await waitUntil(
        async () => {
          const got = await storedOf(stateId);
          return expected.every((value) => got.includes(value));
        },
        30_000,
        'the 20 entries published after the restart stored',
      );
      const stored = await storedOf(stateId);
      expect(stored.slice(-20)).toEqual(expected);
      expect(new Set(stored).size).toBe(stored.length);
      expect(server.app.services.syncStore.stats()).toMatchObject({ failed: 0, dropped: 0 });

      // The provider that stayed connected through the crash answers again.
      let after: Record<string, unknown> | undefined;
      await waitUntil(
        async () => {
          const [answer] = await Promise.all([
            ask(dataSourceId, 'after').catch(() => undefined),
            answerNext().catch(() => undefined),
          ]);
          after = answer;
          return answer !== undefined;
        },
        30_000,
        'the provider to answer a request after the restart',
      );
      expect(after).toMatchObject({ requestId: 'after', payload: ['after'] });
    } finally {
      await provider.close();
    }
  });
});
