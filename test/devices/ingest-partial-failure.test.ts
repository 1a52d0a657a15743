/**
 * A broker that fails in the middle of one batch (docs/devices.md, "all or nothing"): the batch is
 * acknowledged as a whole, the unpublished rest waits in the device outbox and reaches the broker
 * before any newer message of the device; a batch of which nothing could be published is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import {
  monitorEvents,
  postMonitor,
  startRecordingOf,
  uniqueDevice,
  watchSequences,
} from '../helpers/devices.ts';
import { type FaultyBroker, withPublishFaults } from '../helpers/faulty-broker.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

describe('a broker failing part-way through a batch (memory broker with injected publish failures)', () => {
  let broker: FaultyBroker;
  let server: TestApp;
  beforeAll(async () => {
    broker = withPublishFaults(createMemoryBroker());
    server = await startTestApp({ broker });
  });
  afterAll(async () => {
    await server?.stop();
    await broker?.close();
  });

  const watch = (device: string) => watchSequences(broker, `monitor.${device}`);

  it('acknowledges the batch, records it whole, and publishes the rest first once the broker is back', async () => {
    const device = uniqueDevice();
    const recordingId = await startRecordingOf(server, device);
    const live = watch(device);
    try {
      broker.failAfter(4);
      expect(await postMonitor(server, device, monitorEvents(10))).toEqual({
        status: 200,
        body: { accepted: 10 },
      });
      expect(await live.seen.take(4, 5_000, 'the 4 published messages')).toEqual([1, 2, 3, 4]);
      expect(await server.app.services.db.prisma.monitorOutbox.count({ where: { deviceId: device } })).toBe(
        6,
      );
      // The recording has the whole acknowledged batch already.
      expect(await server.app.services.db.prisma.recordingMessage.count({ where: { recordingId } })).toBe(10);

      // The broker is back before the relay's next round: the next ingest publishes the held-back
      // messages before its own, so the device's order holds on the broker.
      broker.heal();
      expect((await postMonitor(server, device, monitorEvents(2))).status).toBe(200);
      expect(await live.seen.take(8, 5_000, 'the rest, then the new batch')).toEqual([
        5, 6, 7, 8, 9, 10, 11, 12,
      ]);
      expect(await server.app.services.db.prisma.monitorOutbox.count({ where: { deviceId: device } })).toBe(
        0,
      );
    } finally {
      live.stop();
    }
  });

  it('the relay publishes what a failure held back without waiting for new traffic', async () => {
    const device = uniqueDevice();
    const live = watch(device);
    try {
      broker.failAfter(1);
      expect((await postMonitor(server, device, monitorEvents(3))).status).toBe(200);
      expect(await live.seen.next(5_000, 'the one published message')).toBe(1);
      broker.heal();
      expect(await live.seen.take(2, 10_000, 'the relay to publish the rest')).toEqual([2, 3]);
      await waitUntil(
        async () =>
          (await server.app.services.db.prisma.monitorOutbox.count({ where: { deviceId: device } })) === 0,
        5_000,
        'the outbox to empty',
      );
    } finally {
      live.stop();
    }
  });

  it('refuses (503) a batch of which nothing could be published: no sequence used, nothing recorded', async () => {
    const device = uniqueDevice();
    expect((await postMonitor(server, device, monitorEvents(2))).status).toBe(200);
    broker.failAfter(0);
    try {
      expect(await postMonitor(server, device, monitorEvents(3))).toMatchObject({
        status: 503,
        body: { error: 'UNAVAILABLE' },
      });
    } finally {
      broker.heal();
    }
    const live = watch(device);
    try {
      expect((await postMonitor(server, device, monitorEvents(1))).status).toBe(200);
      // The refused batch left no trace: the next message takes the next sequence.
      expect(await live.seen.next(5_000, 'the next message')).toBe(3);
    } finally {
      live.stop();
    }
  });
});
