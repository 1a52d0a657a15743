/**
 * Dead letters of the device outbox on the embedded backend (memory broker with injected
 * failures, PGlite): a message the broker refuses for good is answered or moved aside at once,
 * one that keeps failing without the broker saying why is tried MONITOR_OUTBOX_MAX_ATTEMPTS
 * times (its device waits meanwhile, with a 503 saying so) and then moved aside, so the device's
 * newer messages flow again. A transient failure that heals is covered by ingest-partial-failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerUnavailableError, MessageTooLargeError, PublishDeniedError } from '../../src/pubsub/errors.ts';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import { monitorEvents, postMonitor, uniqueDevice, watchSequences } from '../helpers/devices.ts';
import { type FaultyBroker, withPublishFaults } from '../helpers/faulty-broker.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const MAX_ATTEMPTS = 3;

describe('dead letters of the device outbox (memory broker with injected failures, PGlite)', () => {
  let broker: FaultyBroker;
  let server: TestApp;
  beforeAll(async () => {
    broker = withPublishFaults(createMemoryBroker());
    server = await startTestApp({ broker, env: { MONITOR_OUTBOX_MAX_ATTEMPTS: String(MAX_ATTEMPTS) } });
  });
  afterAll(async () => {
    await server?.stop();
    await broker?.close();
  });

  const prisma = () => server.app.services.db.prisma;
  const deadLettersOf = (device: string) =>
    prisma().monitorDeadLetter.findMany({ where: { deviceId: device }, orderBy: { seq: 'asc' } });
  const poison = (n: number) => ({ ...monitorEvents(1, { from: n })[0], data: { poison: n } });
  const metric = async (reason: string) => {
    const text = await server.app.services.metrics.registry.metrics();
    const line = new RegExp(`^monitor_outbox_dead_letters_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(
      text,
    );
    return Number(line?.[1] ?? 0);
  };

  const watch = (device: string) => watchSequences(broker, `monitor.${device}`);

  it('a message that keeps failing is tried a bounded number of times, then moved aside; the device goes on', async () => {
    const device = uniqueDevice();
    const live = watch(device);
    const before = await metric('attempts');
    broker.failMatching('"poison"', () => new BrokerUnavailableError('injected: this message keeps failing'));
    try {
      expect(await postMonitor(server, device, [...monitorEvents(2, { from: 1 }), poison(3)])).toEqual({
        status: 200,
        body: { accepted: 3 },
      });
      expect(await live.seen.take(2, 5_000, 'the two messages the broker took')).toEqual([1, 2]);
      // Meanwhile the device waits behind it, and its owner is told why.
      const waiting = await postMonitor(server, device, monitorEvents(1, { from: 4 }));
      expect(waiting).toMatchObject({ status: 503, body: { error: 'UNAVAILABLE' } });
      expect(String(waiting.body.message)).toMatch(
        /earlier message of the device is still waiting for the broker: .*keeps failing; retry later/,
      );

      await waitUntil(async () => (await deadLettersOf(device)).length === 1, 20_000, 'the dead letter');
      const [letter] = (await deadLettersOf(device)) as [Awaited<ReturnType<typeof deadLettersOf>>[number]];
      expect(Number(letter.seq)).toBe(3);
      expect(letter.attempts).toBe(MAX_ATTEMPTS + 1);
      expect(letter.reason).toMatch(
        new RegExp(`failed ${MAX_ATTEMPTS + 1} times while the broker was connected; last: .*keeps failing`),
      );
      expect(JSON.parse(Buffer.from(letter.payload).toString('utf8'))).toEqual({ poison: 3 });
      expect(await prisma().monitorOutbox.count({ where: { deviceId: device } })).toBe(0);
      expect(await metric('attempts')).toBe(before + 1);

      // The refused ingest left no trace: the next message takes sequence 4, and flows.
      expect(await postMonitor(server, device, monitorEvents(1, { from: 4 }))).toEqual({
        status: 200,
        body: { accepted: 1 },
      });
      expect(await live.seen.next(5_000, 'the newer message')).toBe(4);
    } finally {
      broker.heal();
      live.stop();
    }
  }, 60_000);

  it('refused for good: a whole batch is a 413 naming the event, a part of one a dead letter at once', async () => {
    const device = uniqueDevice();
    const live = watch(device);
    const before = await metric('refused');
    broker.failMatching('"poison"', () => new MessageTooLargeError(`monitor.${device}`, 12, 10, 'injected'));
    try {
      const refused = await postMonitor(server, device, [poison(0)]);
      expect(refused.status).toBe(413);
      expect(refused.body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
      expect(String(refused.body.message)).toMatch(
        /^event 0 was refused by the broker: .*larger than the broker accepts \(10 bytes\).*nothing was accepted$/,
      );
      expect(await deadLettersOf(device)).toEqual([]);

      expect(await postMonitor(server, device, [poison(1), ...monitorEvents(1, { from: 2 })])).toEqual({
        status: 200,
        body: { accepted: 2 },
      });
      expect(await live.seen.next(5_000, 'the message the broker took')).toBe(2);
      const dead = await deadLettersOf(device);
      expect(dead.map((row) => [Number(row.seq), row.attempts])).toEqual([[1, 1]]);
      expect(dead[0]?.reason).toMatch(/larger than the broker accepts \(10 bytes\): injected/);
      expect(await prisma().monitorOutbox.count({ where: { deviceId: device } })).toBe(0);
      expect(await metric('refused')).toBe(before + 1);
      expect(await postMonitor(server, device, monitorEvents(1, { from: 3 }))).toEqual({
        status: 200,
        body: { accepted: 1 },
      });
      expect(await live.seen.next(5_000, 'the newer message')).toBe(3);
    } finally {
      broker.heal();
      live.stop();
    }
  }, 60_000);

  it('a publish the broker does not permit is a 403, not a 503 to retry', async () => {
    const device = uniqueDevice();
    broker.failMatching(
      '"poison"',
      () => new PublishDeniedError(`monitor.${device}`, 'injected: no permission'),
    );
    try {
      const refused = await postMonitor(server, device, [poison(0)]);
      expect(refused).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
      expect(String(refused.body.message)).toMatch(
        /^event 0 was refused by the broker: .*not permit publishing/,
      );
    } finally {
      broker.heal();
    }
  });
});
