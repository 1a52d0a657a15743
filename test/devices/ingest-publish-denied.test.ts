/**
 * A device whose subject the NATS user may not publish on (a nats-server of this file's own
 * whose default user is denied the subjects of a few devices; Postgres), with the device's
 * buffer window on JetStream (the default) and without one (core NATS). Before, the batched
 * publish heard nothing of the server's permission violation: on JetStream the ingest waited for
 * acks that never came (10 s: the broken chain sent again) and answered 503, as if the broker
 * were down, for every retry; on core NATS it answered 200 and the messages were silently
 * dropped, and so were the device outbox's. Now the ingest is a 403 naming the subject and the
 * permission, nothing accepted, and a message of the device outbox becomes a dead letter at
 * once, as for the other refusals for good (docs/devices.md "Dead letters").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjects } from '../../src/pubsub/subjects.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import {
  backendOptions,
  monitorEvents,
  postMonitor,
  uniqueDevice,
  watchSequences,
} from '../helpers/devices.ts';
import { natsConfigDenying } from '../helpers/nats-permissions.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { type PrivateService, startService } from '../setup/services.ts';

/** The devices NATS denies (NATS permissions name whole subject tokens, so each one by name). */
const deniedDevices = Array.from({ length: 4 }, () => uniqueDevice('denied'));
const nextDeniedDevice = () => {
  const device = deniedDevices.shift();
  if (device === undefined) throw new Error('add a device to deniedDevices');
  return device;
};

let nats: PrivateService;
beforeAll(async () => {
  const denied = deniedDevices.map((device) => subjects.monitor(null, device));
  nats = await startService('nats', { config: natsConfigDenying(denied) });
}, 60_000);
afterAll(async () => {
  await nats?.stop();
});

/** What the broker answers for a denied device, as the HTTP client and the dead letter read it. */
const deniedReason = (device: string) => {
  const subject = subjects.monitor(null, device).replace(/\./g, '\\.');
  return `the broker does not permit publishing on "${subject}": Permissions Violation for Publish to "${subject}"`;
};

describe.each([
  { mode: 'JetStream (buffer window)', bufferWindow: '5m' },
  { mode: 'core NATS (no buffer window)', bufferWindow: 'off' },
])('a device NATS does not permit publishing for, on $mode (own NATS, Postgres)', ({ bufferWindow }) => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp(backendOptions('nats', { BUFFER_WINDOW_DEFAULT: bufferWindow }, nats.url));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const prisma = () => server.app.services.db.prisma;
  const outboxOf = (device: string) => prisma().monitorOutbox.count({ where: { deviceId: device } });
  const deadLettersOf = (device: string) =>
    prisma().monitorDeadLetter.findMany({ where: { deviceId: device }, orderBy: { seq: 'asc' } });
  const refusedMetric = async () => {
    const text = await server.app.services.metrics.registry.metrics();
    return Number(/^monitor_outbox_dead_letters_total\{reason="refused"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const watch = (device: string) =>
    watchSequences(server.app.services.broker, subjects.monitor(null, device));

  it('an ingest is a 403 naming the subject and the permission, nothing accepted; an allowed device flows', async () => {
    const denied = nextDeniedDevice();
    const refused = await postMonitor(server, denied, monitorEvents(3));
    expect(refused).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
    expect(String(refused.body.message)).toMatch(
      new RegExp(`^event 0 was refused by the broker: ${deniedReason(denied)}.*nothing was accepted$`),
    );
    expect(await outboxOf(denied)).toBe(0);
    expect(await deadLettersOf(denied)).toEqual([]);
    expect(await prisma().device.findMany({ where: { id: denied } })).toEqual([]);

    // The good case next to it, on the same server and connection.
    const allowed = uniqueDevice('allowed');
    const live = watch(allowed);
    try {
      await live.ready;
      expect(await postMonitor(server, allowed, monitorEvents(3))).toEqual({
        status: 200,
        body: { accepted: 3 },
      });
      expect(await live.seen.take(3, 10_000, 'the allowed device’s messages')).toEqual([1, 2, 3]);
    } finally {
      live.stop();
    }
  }, 60_000);

  it("the device outbox's messages on a denied subject become dead letters at once, not retried forever", async () => {
    const device = nextDeniedDevice();
    // Its first ingest makes the device's stream (buffer window), then is refused as above.
    expect((await postMonitor(server, device, monitorEvents(1))).status).toBe(403);
    const before = await refusedMetric();
    // What an earlier version left behind (or a permission withdrawn after the messages were
    // acknowledged): seq 1-3 held back in the device outbox.
    await prisma().$transaction([
      prisma().device.create({ data: { id: device, lastSeq: 3, messageCount: 3 } }),
      prisma().monitorOutbox.createMany({
        data: [1, 2, 3].map((seq) => ({
          deviceId: device,
          seq,
          headers: { 'X-Monitor-Seq': String(seq), 'X-Monitor-Device': device },
          payload: Buffer.from(JSON.stringify({ n: seq })),
          lastError: 'NATS did not confirm the message in time',
        })),
      }),
    ]);
    await waitUntil(async () => (await outboxOf(device)) === 0, 20_000, 'the relay to empty the outbox');
    const dead = await deadLettersOf(device);
    expect(dead.map((row) => [Number(row.seq), row.attempts])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    for (const letter of dead) expect(letter.reason).toMatch(new RegExp(`^${deniedReason(device)}$`));
    expect(JSON.parse(Buffer.from(dead[2]?.payload ?? []).toString('utf8'))).toEqual({ n: 3 });
    expect(await refusedMetric()).toBe(before + 3);
    // The device's next ingest is refused the same way, not held behind the outbox with a 503.
    const next = await postMonitor(server, device, monitorEvents(1, { from: 4 }));
    expect(next).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
  }, 60_000);
});
