/**
 * A message the broker refuses for good (an operator's JetStream stream `max_msg_size` below
 * the server's max_payload), on real NATS + Postgres. Before, such a message of a batch the
 * broker took part of waited in the device outbox, which publishes it before every newer message
 * of the device: every later ingest of the device answered 503, for good, and the relay retried
 * it every second. Now it is moved aside as a dead letter (kept with its reason, logged, counted)
 * and the device's newer messages flow in order; a batch the broker refuses whole for that reason
 * is a 413 naming the limit, not a 503 to retry forever.
 */
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamNameOf } from '../../src/pubsub/nats/nats-retained-window.ts';
import { subjects } from '../../src/pubsub/subjects.ts';
import { waitUntil } from '../helpers/async-queue.ts';
import {
  backendOptions,
  monitorEvents,
  postMonitor,
  startRecordingOf,
  uniqueDevice,
  watchSequences,
} from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { serviceUrl } from '../setup/services.ts';

/** The operator's limit on the device's stream, far below NATS's max_payload (1 MiB). */
const STREAM_MAX_MSG_SIZE = 2_000;

describe('a message the broker refuses for good (NATS stream max_msg_size, Postgres)', () => {
  let server: TestApp;
  let plain: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    server = await startTestApp(backendOptions('nats'));
    plain = await connect({ servers: serviceUrl('nats') });
    jsm = await jetstreamManager(plain);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await plain?.close();
  });

  const prisma = () => server.app.services.db.prisma;
  const outboxOf = (device: string) => prisma().monitorOutbox.count({ where: { deviceId: device } });
  const deadLettersOf = (device: string) =>
    prisma().monitorDeadLetter.findMany({ where: { deviceId: device }, orderBy: { seq: 'asc' } });

  /** A device seen once (its stream exists), then the operator shrinks the stream's max_msg_size. */
  async function deviceWithSmallStream(): Promise<string> {
    const device = uniqueDevice('poison');
    expect(await postMonitor(server, device, monitorEvents(1))).toEqual({
      status: 200,
      body: { accepted: 1 },
    });
    const stream = streamNameOf(subjects.monitor(null, device));
    const { config } = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...config, max_msg_size: STREAM_MAX_MSG_SIZE });
    return device;
  }

  /** Sequences of the device's messages as a live subscriber on the broker sees them. */
  const watch = (device: string) =>
    watchSequences(server.app.services.broker, subjects.monitor(null, device));

  const big = (n: number) => ({ ...monitorEvents(1, { from: n })[0], data: { text: 'x'.repeat(5_000) } });

  it('a refused message of a batch is moved aside; the device goes on, in order, nothing lost', async () => {
    const device = await deviceWithSmallStream();
    const recordingId = await startRecordingOf(server, device);
    const live = watch(device);
    try {
      await live.ready;
      // seq 2, 3 (refused for good), 4: the broker takes 2 and 4.
      const [small1, , small2] = monitorEvents(3, { from: 1 });
      expect(await postMonitor(server, device, [small1, big(2), small2])).toEqual({
        status: 200,
        body: { accepted: 3 },
      });
      expect(await live.seen.take(2, 10_000, 'the two messages the broker took')).toEqual([2, 4]);
      // The device's next ingest is answered and delivered (before: 503, for good).
      expect(await postMonitor(server, device, monitorEvents(2, { from: 10 }))).toEqual({
        status: 200,
        body: { accepted: 2 },
      });
      expect(await live.seen.take(2, 10_000, 'the newer messages')).toEqual([5, 6]);
      await waitUntil(async () => (await outboxOf(device)) === 0, 10_000, 'the outbox to be empty');
      // Nothing lost: the refused message is kept with its reason, and is in the recording.
      const dead = await deadLettersOf(device);
      expect(dead.map((row) => Number(row.seq))).toEqual([3]);
      const [letter] = dead as [(typeof dead)[number]];
      expect(letter.reason).toMatch(/maximum allowed/i);
      expect(letter.reason).toContain(`(${STREAM_MAX_MSG_SIZE} bytes)`);
      expect(JSON.parse(Buffer.from(letter.payload).toString('utf8'))).toEqual(big(2).data);
      expect((letter.headers as Record<string, string>)['X-Monitor-Seq']).toBe('3');
      // seq 1 (copied from the buffer window when the recording started) to 6.
      const recorded = await prisma().recordingMessage.findMany({
        where: { recordingId },
        orderBy: { seq: 'asc' },
      });
      expect(recorded.map((row) => Number(row.seq))).toEqual([1, 2, 3, 4, 5, 6]);
      const metrics = await server.app.services.metrics.registry.metrics();
      expect(metrics).toMatch(/^monitor_outbox_dead_letters_total\{reason="refused"\} [1-9]/m);
    } finally {
      live.stop();
    }
  }, 60_000);

  it('an outbox left poisoned (as before this fix): the relay moves the refused message aside, the rest flows in order', async () => {
    const device = await deviceWithSmallStream();
    const live = watch(device);
    try {
      await live.ready;
      // What an earlier version left: seq 2-4 acknowledged, held back, 3 over the stream's limit.
      const held = [
        { seq: 2, data: { n: 2 } },
        { seq: 3, data: big(3).data },
        { seq: 4, data: { n: 4 } },
      ];
      await prisma().$transaction([
        prisma().device.update({
          where: { tenantId_id: { tenantId: '', id: device } },
          data: { lastSeq: 4, messageCount: 4 },
        }),
        prisma().monitorOutbox.createMany({
          data: held.map(({ seq, data }) => ({
            deviceId: device,
            seq,
            headers: { 'X-Monitor-Seq': String(seq), 'X-Monitor-Device': device },
            payload: Buffer.from(JSON.stringify(data)),
            lastError: 'NATS did not confirm the message in time',
          })),
        }),
      ]);
      expect(await live.seen.take(2, 10_000, 'the relay to publish the others')).toEqual([2, 4]);
      await waitUntil(async () => (await outboxOf(device)) === 0, 10_000, 'the outbox to be empty');
      const dead = await deadLettersOf(device);
      expect(dead.map((row) => [Number(row.seq), row.attempts])).toEqual([[3, 1]]);
      expect(dead[0]?.reason).toMatch(/larger than the broker accepts \(2000 bytes\).*maximum allowed/);
      expect(await postMonitor(server, device, monitorEvents(1, { from: 5 }))).toEqual({
        status: 200,
        body: { accepted: 1 },
      });
      expect(await live.seen.next(10_000, 'the newer message')).toBe(5);
    } finally {
      live.stop();
    }
  }, 60_000);

  it('an ingest the broker refuses whole for good is a 413 naming the refusal; nothing is accepted', async () => {
    const device = await deviceWithSmallStream();
    const live = watch(device);
    try {
      await live.ready;
      const refused = await postMonitor(server, device, [big(1)]);
      expect(refused.status).toBe(413);
      expect(refused.body).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
      expect(JSON.stringify(refused.body)).toMatch(/event 0 .*maximum allowed/i);
      expect(await outboxOf(device)).toBe(0);
      expect(await deadLettersOf(device)).toEqual([]);
      // The bad input next to the good one: the same device takes the next event, with the next sequence.
      expect(await postMonitor(server, device, monitorEvents(1, { from: 5 }))).toEqual({
        status: 200,
        body: { accepted: 1 },
      });
      expect(await live.seen.next(10_000, 'the next message')).toBe(2);
    } finally {
      live.stop();
    }
  }, 60_000);
});
