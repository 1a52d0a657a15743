import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateSpeed } from '../../src/domain/devices/replay.ts';
import { backendOptions, DEVICE_BACKENDS, postMonitor, uniqueDevice } from '../helpers/devices.ts';
import { connectWs, subscribeWs, type WsResult } from '../helpers/graphql-ws-client.ts';
import { readSse } from '../helpers/sse-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const IMPORT = `mutation($input: ImportRecordingInput!, $messages: [RecordedMessageInput!]!) {
  importRecording(input: $input, messages: $messages) { id messageCount }
}`;
const APPEND = `mutation($id: ID!, $messages: [RecordedMessageInput!]!) {
  appendRecordingMessages(recordingId: $id, messages: $messages) { id messageCount }
}`;
const REPLAY = `subscription($id: ID!, $from: DateTime, $speed: Float, $loop: Boolean) {
  replay(recordingId: $id, from: $from, speed: $speed, loop: $loop) { recordingId progress message { seq timestamp data } }
}`;

interface ReplayEvent {
  readonly recordingId: string;
  readonly progress: number;
  readonly message: { seq: number; timestamp: string; data: { n: number } };
}

const START = Date.parse('2026-01-15T10:00:00Z');

/** Exported message lines: `count` messages `stepMs` apart from START, numbered from `from`. */
function lines(count: number, stepMs: number, from = 0) {
  return Array.from({ length: count }, (_, index) => ({
    headers: {
      'X-Monitor-Id': `e${from + index}`,
      'X-Monitor-Type': 'signal',
      'X-Monitor-Symbol': 'demo.Counter',
      'X-Monitor-Timestamp': new Date(START + (from + index) * stepMs).toISOString(),
    },
    data: { n: from + index },
  }));
}

/** Imports a recording of `count` messages `stepMs` apart, in chunks. */
async function importRecording(server: TestApp, count: number, stepMs: number): Promise<string> {
  const chunk = 5_000;
  const first = await server.graphql<{ importRecording: { id: string } }>(IMPORT, {
    input: { deviceId: uniqueDevice('replay') },
    messages: lines(Math.min(chunk, count), stepMs),
  });
  if (first.errors) throw new Error(JSON.stringify(first.errors));
  const id = first.data?.importRecording.id as string;
  for (let from = chunk; from < count; from += chunk) {
    const next = await server.graphql(APPEND, {
      id,
      messages: lines(Math.min(chunk, count - from), stepMs, from),
    });
    if (next.errors) throw new Error(JSON.stringify(next.errors));
  }
  return id;
}

const eventOf = (result: WsResult) => (result.data as { replay: ReplayEvent }).replay;

describe.each(DEVICE_BACKENDS)('replay (%s)', (backend) => {
  let server: TestApp;
  let tenSeconds: string;
  beforeAll(async () => {
    server = await startTestApp(backendOptions(backend));
    // 101 messages 100 ms apart: the recording spans exactly 10 s.
    tenSeconds = await importRecording(server, 101, 100);
  });
  afterAll(() => server?.stop());

  /** Replays and records when each event arrived (performance.now()). */
  async function timedReplay(variables: Record<string, unknown>, count: number) {
    const { client } = connectWs(server.wsUrl);
    try {
      const subscribedAt = performance.now();
      const replay = subscribeWs(client, REPLAY, variables);
      const arrivals: number[] = [];
      const events: ReplayEvent[] = [];
      for (let index = 0; index < count; index++) {
        events.push(eventOf(await replay.results.next(30_000, `replayed message ${index}`)));
        arrivals.push(performance.now());
      }
      await replay.done;
      return { events, arrivals, subscribedAt };
    } finally {
      await client.dispose();
    }
  }

  it('speed 1 over a 10 s recording takes 10 s ± 2 %, in original order, progress to 1, then completes', async () => {
    const { events, arrivals } = await timedReplay({ id: tenSeconds }, 101);
    const took = (arrivals.at(-1) as number) - (arrivals[0] as number);
    expect(took).toBeGreaterThanOrEqual(9_800);
    expect(took).toBeLessThanOrEqual(10_200);
    expect(events.map((event) => event.message.data.n)).toEqual(
      Array.from({ length: 101 }, (_, index) => index),
    );
    expect(events.at(-1)?.progress).toBe(1);
    expect(events[0]?.progress).toBeCloseTo(1 / 101, 6);
    expect(
      events.every((event, index) => index === 0 || event.progress > (events[index - 1]?.progress ?? 0)),
    ).toBe(true);
    // Each gap tracks the recorded 100 ms (against the start, so no drift accumulates).
    const lateness = arrivals.map((arrival, index) => arrival - (arrivals[0] as number) - index * 100);
    expect(Math.max(...lateness.map(Math.abs))).toBeLessThan(200);
  }, 40_000);

  it('speed 10 over the same recording takes 1 s: never early, at most 5 % late', async () => {
    const { arrivals, subscribedAt } = await timedReplay({ id: tenSeconds, speed: 10 }, 101);
    // The lower bound counts from the subscribe: a first frame delayed by a busy machine would
    // shorten first-to-last, but nothing can make the last frame arrive before its time.
    expect((arrivals.at(-1) as number) - subscribedAt).toBeGreaterThanOrEqual(995);
    expect((arrivals.at(-1) as number) - (arrivals[0] as number)).toBeLessThanOrEqual(1_050);
  });

  it('from skips to that instant; progress counts from the start of the recording', async () => {
    const from = new Date(START + 9_000).toISOString();
    const { events } = await timedReplay({ id: tenSeconds, from, speed: 0 }, 11);
    expect(events.map((event) => event.message.data.n)).toEqual([
      90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100,
    ]);
    expect(events[0]?.progress).toBeCloseTo(91 / 101, 6);
    expect(events[0]?.message.timestamp).toBe(from);
  });

  it('speed 0 sends every message at once, in order, progress to 1, then completes', async () => {
    const { events } = await timedReplay({ id: tenSeconds, speed: 0 }, 101);
    expect(events.map((event) => event.message.data.n)).toEqual(
      Array.from({ length: 101 }, (_, index) => index),
    );
    expect(events.map((event) => event.message.seq)).toEqual(
      Array.from({ length: 101 }, (_, index) => index + 1),
    );
    expect(events.every((event) => event.recordingId === tenSeconds)).toBe(true);
    expect(events.at(-1)?.progress).toBe(1);
    expect(events[50]?.message.timestamp).toBe(new Date(START + 5_000).toISOString());
  });

  it('stored numbers keep every digit: replayed a page at a time and per event, 0.30000000000000004 is not 0.3', async () => {
    const precise = {
      sum: 0.30000000000000004,
      max: 9007199254740991,
      tiny: 1e-300,
      neg: -2.2250738585072014e-308,
    };
    const device = uniqueDevice('precise');
    const started = await server.graphql<{ startRecording: { id: string } }>(
      'mutation($d: ID!) { startRecording(deviceId: $d, includeBuffer: false) { id } }',
      { d: device },
    );
    const id = started.data?.startRecording.id as string;
    const events = [{ n: 1 }, precise].map((data, index) => ({ id: `p${index}`, type: 'signal', data }));
    expect((await postMonitor(server, device, events)).status).toBe(200);
    await server.graphql('mutation($id: ID!) { stopRecording(id: $id) { id } }', { id });
    const { client } = connectWs(server.wsUrl);
    try {
      // The second runs the selection per event (a directive on the field), the first a page at a time.
      for (const directive of ['', ' @include(if: true)']) {
        const replay = subscribeWs(
          client,
          `subscription($id: ID!) { replay(recordingId: $id, speed: 0)${directive} { message { data } } }`,
          { id },
        );
        const results = await replay.results.take(2, 30_000, 'the replayed messages');
        await replay.done;
        const data = results.map(
          (result) =>
            (result.data as { replay: { message: { data: Record<string, number> } } }).replay.message.data,
        );
        expect(data).toEqual([{ n: 1 }, precise]);
        for (const [key, value] of Object.entries(precise))
          expect(Object.is(data[1]?.[key], value)).toBe(true);
      }
    } finally {
      await client.dispose();
    }
  });

  it('reads only the columns of the fields selected, through aliases and fragments: each field is the recorded value, a page at a time and per event', async () => {
    // Every message field, some only behind a named fragment on the event, an inline fragment on
    // the message or an alias: none may come back missing or null for want of its column.
    const document = `subscription($id: ID!, $speed: Float) {
      replay(recordingId: $id, speed: $speed)DIRECTIVE { progress ...OnEvent message { seq when: timestamp ... on DeviceMessage { eventId } } }
    }
    fragment OnEvent on ReplayEvent { message { kind: type ...Rest } }
    fragment Rest on DeviceMessage { symbol headers deviceId data }`;
    const { client } = connectWs(server.wsUrl);
    try {
      for (const directive of ['', ' @include(if: true)']) {
        const replay = subscribeWs(client, document.replace('DIRECTIVE', directive), {
          id: tenSeconds,
          speed: 0,
        });
        const results = await replay.results.take(101, 30_000, 'messages of every field');
        await replay.done;
        expect(results.every((result) => result.errors === undefined)).toBe(true);
        const messages = results.map(
          (result) => (result.data as { replay: { message: Record<string, unknown> } }).replay.message,
        );
        expect(messages[7]).toEqual({
          seq: expect.any(Number),
          when: new Date(START + 700).toISOString(),
          eventId: 'e7',
          kind: 'signal',
          symbol: 'demo.Counter',
          headers: expect.objectContaining({ 'X-Monitor-Id': 'e7', 'X-Monitor-Symbol': 'demo.Counter' }),
          deviceId: expect.any(String),
          data: { n: 7 },
        });
        expect(messages.every((message, index) => message.eventId === `e${index}`)).toBe(true);
      }
      // Only the seq: the other columns are not needed, and nothing else shows.
      const bare = subscribeWs(
        client,
        'subscription($id: ID!) { replay(recordingId: $id, speed: 0) { message { seq } } }',
        { id: tenSeconds },
      );
      const seqs = (await bare.results.take(101, 30_000, 'messages with their seq')).map(
        (result) => (result.data as { replay: { message: { seq: number } } }).replay.message,
      );
      await bare.done;
      expect(Object.keys(seqs[0] ?? {})).toEqual(['seq']);
      expect(seqs.map((message) => message.seq)).toEqual(
        Array.from({ length: 101 }, (_, index) => (seqs[0]?.seq ?? 0) + index),
      );
    } finally {
      await client.dispose();
    }
  });

  it('headers, when selected, are the recorded X-Monitor-* headers of each message', async () => {
    const { client } = connectWs(server.wsUrl);
    try {
      const replay = subscribeWs(
        client,
        'subscription($id: ID!) { replay(recordingId: $id, speed: 0) { message { seq headers } } }',
        { id: tenSeconds },
      );
      const results = await replay.results.take(101, 30_000, 'messages with headers');
      await replay.done;
      const headers = results.map(
        (result) =>
          (result.data as { replay: { message: { headers: Record<string, string> } } }).replay.message
            .headers,
      );
      expect(headers[7]).toMatchObject({
        'X-Monitor-Id': 'e7',
        'X-Monitor-Type': 'signal',
        'X-Monitor-Symbol': 'demo.Counter',
        'X-Monitor-Timestamp': new Date(START + 700).toISOString(),
      });
      expect(headers.every((each, index) => each['X-Monitor-Id'] === `e${index}`)).toBe(true);
    } finally {
      await client.dispose();
    }
  });

  it('from beyond the last message completes at once, with no message', async () => {
    const { client } = connectWs(server.wsUrl);
    try {
      const from = new Date(START + 60_000).toISOString();
      const replay = subscribeWs(client, REPLAY, { id: tenSeconds, from, speed: 0 });
      await replay.done;
      expect(replay.results.pending).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('a directive on the field runs the selection per event: the same messages as a page at a time', async () => {
    const PER_EVENT = `subscription($id: ID!, $speed: Float) {
      replay(recordingId: $id, speed: $speed) @include(if: true) { recordingId progress message { seq timestamp data } }
    }`;
    const { client } = connectWs(server.wsUrl);
    try {
      const paged = subscribeWs(client, REPLAY, { id: tenSeconds, speed: 0 });
      const perEvent = subscribeWs(client, PER_EVENT, { id: tenSeconds, speed: 0 });
      const pagedEvents = await paged.results.take(101, 30_000, 'paged messages');
      const perEventEvents = await perEvent.results.take(101, 30_000, 'per-event messages');
      await Promise.all([paged.done, perEvent.done]);
      expect(perEventEvents).toEqual(pagedEvents);
      expect(eventOf(perEventEvents[100] as WsResult).progress).toBe(1);
    } finally {
      await client.dispose();
    }
  });

  it('over GraphQL over SSE, one result per message too: the same messages as over graphql-ws, then the stream ends', async () => {
    const { client } = connectWs(server.wsUrl);
    let overWs: WsResult[];
    try {
      const replay = subscribeWs(client, REPLAY, { id: tenSeconds, speed: 0 });
      overWs = await replay.results.take(101, 30_000, 'messages over graphql-ws');
      await replay.done;
    } finally {
      await client.dispose();
    }
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: REPLAY, variables: { id: tenSeconds, speed: 0 } }),
    });
    expect(response.status).toBe(200);
    const { events, closed } = readSse(response);
    const overSse: WsResult[] = [];
    for (let index = 0; index < 101; index++) {
      const event = await events.next(30_000, `message ${index} over SSE`);
      expect(event.event).toBe('next');
      overSse.push(JSON.parse(event.data) as WsResult);
    }
    expect(overSse).toEqual(overWs);
    expect((await events.next(10_000, 'the end of the stream')).event).toBe('complete');
    await closed;
  });

  it('loop starts again at the end instead of completing', async () => {
    const id = await importRecording(server, 3, 10);
    const { client } = connectWs(server.wsUrl);
    try {
      const replay = subscribeWs(client, REPLAY, { id, speed: 0, loop: true });
      const events = (await replay.results.take(9, 10_000, 'looped messages')).map(eventOf);
      expect(events.map((event) => event.message.data.n)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
      replay.unsubscribe();
    } finally {
      await client.dispose();
    }
  });

  it.each([
    [{ speed: -1 }, 'BAD_USER_INPUT', /speed must be a finite number ≥ 0/],
    [{ from: 'yesterday' }, 'BAD_USER_INPUT', /ISO-8601/],
    [{ id: 'rec_missing' }, 'NOT_FOUND', /recording "rec_missing" not found/],
  ])('bad arguments %j: %s before any message', async (variables, code, message) => {
    const { client } = connectWs(server.wsUrl);
    try {
      const replay = subscribeWs(client, REPLAY, { id: tenSeconds, ...variables });
      const result = await replay.results.next(10_000, 'the error result');
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0]?.extensions?.code).toBe(code);
      expect(result.errors?.[0]?.message).toMatch(message);
      await replay.done;
      expect(replay.results.pending).toEqual([]);
    } finally {
      await client.dispose();
    }
  });
});

describe('replay speed checks', () => {
  it.each([Number.NaN, Number.POSITIVE_INFINITY, -0.5])('refuses %s', (speed) => {
    expect(() => validateSpeed(speed)).toThrow(/speed must be a finite number/);
  });
  it.each([0, 0.5, 1, 100])('accepts %s', (speed) => {
    expect(validateSpeed(speed)).toBe(speed);
  });
});
