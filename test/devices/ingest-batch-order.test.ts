/**
 * A device's order when the broker fails one message in the middle of an ingest batch
 * (docs/devices.md, "Order after a broker failure"), on the memory broker and on real NATS, Redis
 * and Kafka, with one publish made to fail (test/helpers/faulty-broker.ts): the later messages of
 * the device in that batch are not published ahead of it. They wait in the device outbox behind
 * it and reach subscribers after it, in order, once each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { BrokerUnavailableError } from '../../src/pubsub/errors.ts';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { monitorEvents, postMonitor, uniqueDevice, watchSequences } from '../helpers/devices.ts';
import { type FaultyBroker, withPublishFaults } from '../helpers/faulty-broker.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { kafkaBackend, natsBackend, redisBackend } from '../pubsub/broker-backends.ts';

const backends: ReadonlyArray<{ name: string; connect: () => Promise<Broker> }> = [
  { name: 'memory', connect: async () => createMemoryBroker() },
  { name: 'nats', connect: () => natsBackend().connect() },
  { name: 'redis', connect: () => redisBackend().connect() },
  { name: 'kafka', connect: () => kafkaBackend().connect() },
];

describe.each(backends)('ingest order after a broker failure mid-batch ($name)', ({ connect }) => {
  let broker: FaultyBroker;
  let server: TestApp;
  beforeAll(async () => {
    broker = withPublishFaults(await connect());
    server = await startTestApp({ broker });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await broker?.close();
  });

  const outboxOf = (device: string) =>
    server.app.services.db.prisma.monitorOutbox.findMany({
      where: { deviceId: device },
      orderBy: { seq: 'asc' },
    });

  /** A device watched by a live subscriber, ready before anything is published. */
  const watched = async () => {
    const device = uniqueDevice();
    const live = watchSequences(broker, `monitor.${device}`);
    await live.ready;
    return { device, live };
  };

  it('a good batch reaches the subscriber whole, in order', async () => {
    const { device, live } = await watched();
    try {
      expect(await postMonitor(server, device, monitorEvents(6, { from: 1 }))).toEqual({
        status: 200,
        body: { accepted: 6 },
      });
      expect(await live.seen.take(6, 15_000, 'the batch')).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await outboxOf(device)).toEqual([]);
    } finally {
      live.stop();
    }
  }, 30_000);

  it('the later messages of a failed one wait behind it, then follow it in order, once each', async () => {
    const { device, live } = await watched();
    // The third event of six ({"n":3}, sequence 3) fails for now; the others would go through.
    broker.failMatching('"n":3}', () => new BrokerUnavailableError('injected: the broker failed this one'));
    try {
      expect(await postMonitor(server, device, monitorEvents(6, { from: 1 }))).toEqual({
        status: 200,
        body: { accepted: 6 },
      });
      expect(await live.seen.take(2, 15_000, 'the messages before the failed one')).toEqual([1, 2]);
      // The failed message and the three after it wait in the outbox, in order.
      expect((await outboxOf(device)).map((row) => Number(row.seq))).toEqual([3, 4, 5, 6]);

      broker.heal();
      expect(await live.seen.take(4, 20_000, 'the relay to publish the held messages')).toEqual([3, 4, 5, 6]);
      await waitUntil(async () => (await outboxOf(device)).length === 0, 10_000, 'the outbox to empty');
      // Nothing came twice: the next message of the device is the next one the subscriber sees.
      expect((await postMonitor(server, device, monitorEvents(1, { from: 7 }))).status).toBe(200);
      expect(await live.seen.next(15_000, 'the newer message')).toBe(7);
    } finally {
      broker.heal();
      live.stop();
    }
  }, 60_000);
});
