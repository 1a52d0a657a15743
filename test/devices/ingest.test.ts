import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../../src/pubsub/memory/memory-broker.ts';
import { AsyncQueue } from '../helpers/async-queue.ts';
import {
  backendOptions,
  DEVICE_BACKENDS,
  monitorEvents,
  postMonitor,
  uniqueDevice,
} from '../helpers/devices.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const LIVE = `subscription($deviceId: ID!) {
  deviceMessages(deviceId: $deviceId) { deviceId seq timestamp eventId type symbol data headers }
}`;
const DEVICE = `query($id: ID!) { device(id: $id) { id firstSeenAt lastSeenAt messageCount bufferWindow } }`;
const INGEST = `mutation($deviceId: ID!, $messages: [JSON!]!) { ingest(deviceId: $deviceId, messages: $messages) { accepted position } }`;

describe.each(DEVICE_BACKENDS)('monitor ingest (%s)', (backend) => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp(backendOptions(backend));
  });
  afterAll(() => server?.stop());

  it('publishes each event to a live subscriber with the X-Monitor headers and a per-device sequence', async () => {
    const device = uniqueDevice();
    const { client } = connectWs(server.wsUrl);
    try {
      const baseline = server.app.services.broker.stats().subscriptions;
      const live = subscribeWs(client, LIVE, { deviceId: device });
      const raw = server.app.services.broker.subscribe(`monitor.${device}`);
      await raw.ready;
      // Post only once the GraphQL subscription has its broker subscription too.
      await waitForSubscribers(server, baseline + 2);
      const answer = await postMonitor(server, device, [
        {
          id: 'a1',
          type: 'call',
          timestamp: '2026-01-15T10:30:00.123456789+02:00',
          symbol: 'demo.Counter',
          data: { count: 1 },
        },
        { id: '', type: 'signal', symbol: 'demo.Counter', data: { count: 2 } },
        { type: 'state', data: { count: 3 } },
      ]);
      expect(answer).toEqual({ status: 200, body: { accepted: 3 } });

      const results = await live.results.take(3, 10_000, 'live device messages');
      const messages = results.map(
        (result) => (result.data as { deviceMessages: Record<string, unknown> }).deviceMessages,
      );
      expect(messages.map((message) => message.seq)).toEqual([1, 2, 3]);
      expect(messages[0]).toMatchObject({
        deviceId: device,
        eventId: 'a1',
        type: 'call',
        symbol: 'demo.Counter',
        timestamp: '2026-01-15T08:30:00.123Z',
        data: { count: 1 },
      });
      expect(messages[0]?.headers).toMatchObject({ 'X-Monitor-Timestamp': '2026-01-15T08:30:00.123456789Z' });
      // An empty id becomes the per-device counter; a missing timestamp becomes now.
      expect(messages[1]).toMatchObject({ eventId: '2', data: { count: 2 } });
      expect(Math.abs(Date.parse(messages[2]?.timestamp as string) - Date.now())).toBeLessThan(10_000);
      expect(messages[2]).toMatchObject({ eventId: '3', type: 'state', symbol: null });

      // On the broker: the payload is `data` only, the rest travels in headers (legacy.md C).
      const iterator = raw[Symbol.asyncIterator]();
      const first = await iterator.next();
      raw.unsubscribe();
      expect(JSON.parse(new TextDecoder().decode(first.value?.payload))).toEqual({ count: 1 });
      expect(first.value?.headers).toMatchObject({
        'X-Monitor-Device': device,
        'X-Monitor-Id': 'a1',
        'X-Monitor-Type': 'call',
        'X-Monitor-Timestamp': '2026-01-15T08:30:00.123456789Z',
        'X-Monitor-Symbol': 'demo.Counter',
        'X-Monitor-Seq': '1',
      });
      live.unsubscribe();
    } finally {
      await client.dispose();
    }
  });

  it('accepts NDJSON, one event per line', async () => {
    const device = uniqueDevice();
    const body = `${monitorEvents(3)
      .map((event) => JSON.stringify(event))
      .join('\n')}\n\n`;
    const answer = await postMonitor(server, device, body, { contentType: 'application/x-ndjson' });
    expect(answer).toEqual({ status: 200, body: { accepted: 3 } });
    const found = await server.graphql<{ device: { messageCount: number } }>(DEVICE, { id: device });
    expect(found.data?.device.messageCount).toBe(3);
  });

  it('answers JSON with its length, for an accepted body and a refused one alike', async () => {
    const device = uniqueDevice();
    for (const [body, status] of [
      [JSON.stringify(monitorEvents(1)), 200],
      ['[{"type": 7}]', 400],
    ] as const) {
      const response = await fetch(`${server.url}/monitor/${device}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await response.text();
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(text));
      expect(JSON.parse(text)).toMatchObject(status === 200 ? { accepted: 1 } : { error: 'BAD_USER_INPUT' });
    }
  });

  it('registers a device on first sight and counts its messages', async () => {
    const device = uniqueDevice();
    expect((await server.graphql(DEVICE, { id: device })).data).toEqual({ device: null });
    const before = Date.now();
    expect((await postMonitor(server, device, monitorEvents(5))).status).toBe(200);
    expect((await postMonitor(server, device, monitorEvents(2))).status).toBe(200);
    const found = await server.graphql<{ device: Record<string, unknown> }>(DEVICE, { id: device });
    expect(found.data?.device).toMatchObject({ id: device, messageCount: 7, bufferWindow: 'PT5M' });
    expect(Date.parse(found.data?.device.lastSeenAt as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(found.data?.device.firstSeenAt as string)).toBeLessThanOrEqual(
      Date.parse(found.data?.device.lastSeenAt as string),
    );
  });

  it('allocates sequences atomically: concurrent ingests never share one', async () => {
    const device = uniqueDevice();
    const raw = server.app.services.broker.subscribe(`monitor.${device}`);
    await raw.ready;
    const seen = new AsyncQueue<number>();
    void (async () => {
      for await (const message of raw) seen.push(Number(message.headers['X-Monitor-Seq']));
    })();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, batch) =>
        postMonitor(server, device, monitorEvents(25, { from: batch * 25 })),
      ),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const seqs = await seen.take(500, 20_000, 'published messages');
    raw.unsubscribe();
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, index) => index + 1));
  });

  it('ingest mutation: the GraphQL twin', async () => {
    const device = uniqueDevice();
    const result = await server.graphql<{ ingest: { accepted: number; position: string | null } }>(INGEST, {
      deviceId: device,
      messages: monitorEvents(4),
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.ingest.accepted).toBe(4);
    // The device has a buffer window, so the broker gives positions.
    expect(result.data?.ingest.position).toEqual(expect.any(String));
  });

  describe('bad input', () => {
    it.each([
      ['an empty device', '', '[]', 400, /device id is empty/],
      ['invalid JSON', 'DEV', '[{"id":', 400, /not valid JSON/],
      ['an object instead of an array', 'DEV', '{"id":"x"}', 400, /must be a JSON array/],
      ['an empty body', 'DEV', '', 400, /empty/],
      ['a number as an event', 'DEV', '[{"data":{}}, 42]', 400, /event 1: not an object/],
      ['null as an event', 'DEV', '[null]', 400, /event 0: not an object \(null\)/],
      ['an array as an event', 'DEV', '[{}, {}, []]', 400, /event 2: not an object \(an array\)/],
      [
        'a bad timestamp',
        'DEV',
        '[{"timestamp":"yesterday"}]',
        400,
        /event 0: "timestamp" must be an RFC3339/,
      ],
      [
        'a calendar date that does not exist',
        'DEV',
        '[{"timestamp":"2026-02-30T10:00:00Z"}]',
        400,
        /event 0/,
      ],
      ['a numeric type', 'DEV', '[{"type":7}]', 400, /event 0: "type" must be a string/],
      ['a device id with a dot', 'a.b', '[{}]', 400, /may not contain dots/],
      [
        'a field outside the event (payload not under "data")',
        'DEV',
        '[{"data":{"n":0}}, {"n":1}]',
        400,
        /^event 1: unknown field "n": an event has only id, type, timestamp, symbol and data/,
      ],
    ])('%s → %s', async (_name, deviceTemplate, body, status, message) => {
      const device = deviceTemplate === 'DEV' ? uniqueDevice() : deviceTemplate;
      const answer = await postMonitor(server, device, body, { raw: true });
      expect(answer.status).toBe(status);
      expect(answer.body.message).toMatch(message);
      if (deviceTemplate === 'DEV') {
        // Nothing happened: the device was not even registered.
        expect((await server.graphql(DEVICE, { id: device })).data).toEqual({ device: null });
      }
    });

    it('names the index of a bad event and publishes none of the batch', async () => {
      const device = uniqueDevice();
      const answer = await postMonitor(server, device, [...monitorEvents(3), 'oops', ...monitorEvents(2)]);
      expect(answer).toMatchObject({ status: 400, body: { error: 'BAD_USER_INPUT', index: 3 } });
      expect((await server.graphql(DEVICE, { id: device })).data).toEqual({ device: null });
    });

    it('a bad NDJSON line names the line', async () => {
      const answer = await postMonitor(server, uniqueDevice(), '{"data":{}}\n{nope}\n', {
        contentType: 'application/x-ndjson',
      });
      expect(answer).toMatchObject({ status: 400, body: { line: 2 } });
    });

    it('a body over the limit is 413', async () => {
      const limited = await startTestApp(backendOptions(backend, { MONITOR_MAX_BODY_BYTES: '1kb' }));
      try {
        const device = uniqueDevice();
        const answer = await postMonitor(limited, device, monitorEvents(50));
        expect(answer).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE' } });
        expect((await limited.graphql(DEVICE, { id: device })).data).toEqual({ device: null });
        // A chunked body without a Content-Length is cut off as it passes the limit too.
        const chunked = await fetch(`${limited.url}/monitor/${device}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: new ReadableStream({
            start(controller) {
              for (let index = 0; index < 10; index++)
                controller.enqueue(new TextEncoder().encode(' '.repeat(200)));
              controller.close();
            },
          }),
          duplex: 'half',
        } as RequestInit);
        expect(chunked.status).toBe(413);
      } finally {
        await limited.stop();
      }
    });

    it('a body that is not UTF-8 is 400, with a declared length or chunked, and the next one is read', async () => {
      const device = uniqueDevice();
      const invalid = Buffer.concat([
        Buffer.from('[{"data":"'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}]'),
      ]);
      const chunked = (bytes: Uint8Array) =>
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(bytes);
            controller.close();
          },
        });
      const post = (body: Uint8Array | ReadableStream<Uint8Array>) =>
        fetch(`${server.url}/monitor/${device}`, { method: 'POST', body, duplex: 'half' } as RequestInit);
      for (const body of [invalid, chunked(invalid)]) {
        const response = await post(body);
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ message: 'the body is not valid UTF-8' });
      }
      const valid = Buffer.from(JSON.stringify([{ data: { text: 'grüße €' } }]));
      for (const body of [valid, chunked(valid)])
        expect(await (await post(body)).json()).toEqual({ accepted: 1 });
    });

    it('GET has no body: 405; PUT with a body is accepted', async () => {
      const device = uniqueDevice();
      expect((await fetch(`${server.url}/monitor/${device}`)).status).toBe(405);
      expect((await postMonitor(server, device, monitorEvents(1), { method: 'PUT' })).status).toBe(200);
    });

    it('ingest mutation: bad arguments are BAD_USER_INPUT naming the problem', async () => {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ deviceId: '', messages: [] }, /device id is empty/],
        [{ deviceId: 'a b', messages: [{}] }, /may not contain/],
        [{ deviceId: uniqueDevice(), messages: [{}, 'text'] }, /event 1: not an object/],
        [{ deviceId: uniqueDevice(), messages: [{ timestamp: 12 }] }, /event 0: "timestamp"/],
        [{ deviceId: uniqueDevice(), messages: [{ data: 1 }, { n: 1 }] }, /^event 1: unknown field "n"/],
      ];
      for (const [variables, message] of cases) {
        const result = await server.graphql(INGEST, variables);
        expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(result.errors?.[0]?.message).toMatch(message);
      }
    });
  });
});

describe('monitor ingest while the broker is down', () => {
  it('answers 503 and neither publishes nor records nor counts anything', async () => {
    const broker = createMemoryBroker();
    const server = await startTestApp({ broker });
    try {
      const device = uniqueDevice();
      expect((await postMonitor(server, device, monitorEvents(2))).status).toBe(200);
      const recording = await server.graphql<{ startRecording: { id: string } }>(
        'mutation($d: ID!) { startRecording(deviceId: $d) { id } }',
        { d: device },
      );
      expect(recording.errors).toBeUndefined();
      await broker.close();
      const answer = await postMonitor(server, device, monitorEvents(3));
      expect(answer).toMatchObject({ status: 503, body: { error: 'UNAVAILABLE' } });
      const refused = await fetch(`${server.url}/monitor/${device}`, {
        method: 'POST',
        body: JSON.stringify(monitorEvents(1)),
      });
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await refused.json()).toMatchObject({ error: 'UNAVAILABLE' });
      const found = await server.graphql<{ device: { messageCount: number } }>(DEVICE, { id: device });
      expect(found.data?.device.messageCount).toBe(2);
      // The recording holds the two messages of its buffer window, nothing of the refused batch.
      const stored = await server.app.services.db.prisma.recordingMessage.findMany({
        where: { recordingId: recording.data?.startRecording.id },
        orderBy: { seq: 'asc' },
      });
      expect(stored.map((message) => Number(message.seq))).toEqual([1, 2]);
    } finally {
      await server.stop();
    }
  });
});

async function waitForSubscribers(server: TestApp, count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (server.app.services.broker.stats().subscriptions < count) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the subscriptions');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
