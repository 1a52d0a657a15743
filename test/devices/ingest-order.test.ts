/**
 * Per-device order and all-or-none per request on the batched ingest path (one sequence range,
 * one transaction, one multi-row insert and pipelined publishes per request): many posters to one
 * device, and batches that fail part-way through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerMessage } from '../../src/pubsub/broker.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import {
  backendOptions,
  DEVICE_BACKENDS,
  monitorEvents,
  postMonitor,
  uniqueDevice,
} from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const START = 'mutation($d: ID!) { startRecording(deviceId: $d, includeBuffer: false) { id } }';
const MESSAGES = `query($id: ID!, $after: String) {
  recording(id: $id) { messages(first: 500, after: $after) { edges { cursor node { seq data } } pageInfo { hasNextPage } } }
}`;
const DEVICE = 'query($id: ID!) { device(id: $id) { messageCount } }';

interface Recorded {
  readonly seq: number;
  readonly data: { poster: number; n: number };
}

describe.each(DEVICE_BACKENDS)('batched ingest (%s)', (backend) => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp(backendOptions(backend));
  });
  afterAll(() => server?.stop());

  async function startRecording(device: string): Promise<string> {
    const started = await server.graphql<{ startRecording: { id: string } }>(START, { d: device });
    expect(started.errors).toBeUndefined();
    return started.data?.startRecording.id as string;
  }

  async function recorded(recordingId: string): Promise<Recorded[]> {
    const rows: Recorded[] = [];
    let after: string | null = null;
    for (;;) {
      type Page = {
        edges: Array<{ cursor: string; node: Recorded }>;
        pageInfo: { hasNextPage: boolean };
      };
      const page: { data?: { recording: { messages: Page } } | null; errors?: unknown } =
        await server.graphql<{
          recording: { messages: Page };
        }>(MESSAGES, { id: recordingId, after });
      expect(page.errors).toBeUndefined();
      const { edges, pageInfo } = page.data?.recording.messages ?? {
        edges: [],
        pageInfo: { hasNextPage: false },
      };
      rows.push(...edges.map((edge) => edge.node));
      if (!pageInfo.hasNextPage) return rows;
      after = edges.at(-1)?.cursor ?? null;
    }
  }

  function watch(device: string) {
    const seen = new AsyncQueue<BrokerMessage>();
    const subscription = server.app.services.broker.subscribe(`monitor.${device}`);
    void (async () => {
      for await (const message of subscription) seen.push(message);
    })();
    return { seen, ready: subscription.ready, stop: () => subscription.unsubscribe() };
  }

  it('8 concurrent posters to one device: sequences 1..N without gaps, each poster in its order, broker and recording alike', async () => {
    const device = uniqueDevice('order');
    const recordingId = await startRecording(device);
    const watcher = watch(device);
    await watcher.ready;
    const POSTERS = 8;
    const BATCHES = 5;
    const SIZE = 40;
    const answers = await Promise.all(
      Array.from({ length: POSTERS }, async (_, poster) => {
        const statuses: number[] = [];
        for (let batch = 0; batch < BATCHES; batch++) {
          const events = monitorEvents(SIZE).map((event, index) => ({
            ...event,
            data: { poster, n: batch * SIZE + index },
          }));
          statuses.push((await postMonitor(server, device, events)).status);
        }
        return statuses;
      }),
    );
    expect(answers.flat().every((status) => status === 200)).toBe(true);
    const total = POSTERS * BATCHES * SIZE;

    const published = (await watcher.seen.take(total, 30_000, 'published messages')).map((message) => ({
      seq: Number(message.headers['X-Monitor-Seq']),
      data: JSON.parse(Buffer.from(message.payload).toString('utf8')) as Recorded['data'],
    }));
    watcher.stop();
    // Published in sequence order, no gap, no duplicate.
    expect(published.map((message) => message.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // Every poster's events in the order it posted them.
    for (let poster = 0; poster < POSTERS; poster++) {
      const ns = published
        .filter((message) => message.data.poster === poster)
        .map((message) => message.data.n);
      expect(ns).toEqual(Array.from({ length: BATCHES * SIZE }, (_, i) => i));
    }
    // The recording holds exactly what was published, under the same sequences.
    expect(await recorded(recordingId)).toEqual(published);
  });

  it('a batch that fails half-way (its recording insert conflicts at index 50 of 100) publishes nothing and records nothing', async () => {
    const device = uniqueDevice('half');
    const recordingId = await startRecording(device);
    const first = await postMonitor(server, device, monitorEvents(10));
    expect(first.status).toBe(200);
    // A row already holding sequence 61 (another writer, a bad import): the batch's insert fails
    // on its 51st row, after the sequences were allocated and before anything was published.
    await server.app.services.db.prisma.recordingMessage.create({
      data: { recordingId, seq: 61, timestamp: new Date(), headers: {}, data: { n: -1 } },
    });
    const watcher = watch(device);
    await watcher.ready;
    const failed = await postMonitor(server, device, monitorEvents(100, { from: 10 }));
    expect(failed.status).toBeGreaterThanOrEqual(400);

    // The next batch gets the sequences right after the first: the failed one used none.
    const next = await postMonitor(server, device, monitorEvents(5, { from: 200 }));
    expect(next.status).toBe(200);
    const seen = await watcher.seen.take(5, 10_000, 'the next batch');
    watcher.stop();
    expect(seen.map((message) => Number(message.headers['X-Monitor-Seq']))).toEqual([11, 12, 13, 14, 15]);
    expect(seen.map((message) => JSON.parse(Buffer.from(message.payload).toString('utf8')).n)).toEqual([
      200, 201, 202, 203, 204,
    ]);
    const rows = (await recorded(recordingId)).filter((row) => row.data.n !== -1);
    expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(rows.some((row) => row.data.n >= 10 && row.data.n < 110)).toBe(false);
    const counted = await server.graphql<{ device: { messageCount: number } }>(DEVICE, { id: device });
    expect(counted.data?.device.messageCount).toBe(15);
  });
});
