import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import {
  backendOptions,
  DEVICE_BACKENDS,
  monitorEvents,
  postMonitor,
  uniqueDevice,
} from '../helpers/devices.ts';
import { type GraphQLResponse, startTestApp, type TestApp } from '../helpers/test-app.ts';

const SET_WINDOW = `mutation($d: ID!, $w: Duration) { setBufferWindow(deviceId: $d, window: $w) { id bufferWindow buffered } }`;
const BUFFERED = `query($d: ID!) { device(id: $d) { buffered bufferWindow activeRecording { id } } }`;
const START = `mutation($d: ID!, $retention: Duration, $includeBuffer: Boolean, $preRoll: Duration, $id: ID, $note: String) {
  startRecording(deviceId: $d, retention: $retention, includeBuffer: $includeBuffer, preRoll: $preRoll, id: $id, note: $note) {
    id deviceId status startedAt stoppedAt expiresAt retention note
  }
}`;
const STOP = `mutation($id: ID!) { stopRecording(id: $id) { id status startedAt stoppedAt expiresAt retention messageCount firstMessageAt lastMessageAt } }`;
const RECORDING = `query($id: ID!) { recording(id: $id) { id status messageCount firstMessageAt lastMessageAt } }`;
const MESSAGES = `query($id: ID!, $first: Int, $after: String) {
  recording(id: $id) { messages(first: $first, after: $after) { edges { cursor node { seq timestamp eventId data } } pageInfo { hasNextPage endCursor } } }
}`;

interface Edge {
  readonly node: { seq: number; timestamp: string; eventId: string; data: { n: number } };
}

interface MessagePage {
  readonly edges: Edge[];
  readonly pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Every message of a recording, page by page. */
async function allMessages(server: TestApp, id: string): Promise<Edge['node'][]> {
  const nodes: Edge['node'][] = [];
  let after: string | null = null;
  for (;;) {
    const page: GraphQLResponse<{ recording: { messages: MessagePage } }> = await server.graphql(MESSAGES, {
      id,
      first: 1000,
      after,
    });
    if (page.errors) throw new Error(JSON.stringify(page.errors));
    const connection: MessagePage | undefined = page.data?.recording.messages;
    nodes.push(...(connection?.edges ?? []).map((edge) => edge.node));
    if (!connection?.pageInfo.hasNextPage) return nodes;
    after = connection.pageInfo.endCursor;
  }
}

describe.each(DEVICE_BACKENDS)('buffer windows and recordings (%s)', (backend) => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp(
      backendOptions(backend, { RECORDING_SWEEP_INTERVAL: '200ms', BUFFER_WINDOW_MAX: '10m' }),
    );
  });
  afterAll(() => server?.stop());

  it('buffer (2 s) → start with includeBuffer while a producer posts: the exact messages, in order, once', async () => {
    const device = uniqueDevice();
    expect((await server.graphql(SET_WINDOW, { d: device, w: '2s' })).errors).toBeUndefined();
    // Batch A ages out of the window before the recording starts: it must not be in it.
    expect((await postMonitor(server, device, monitorEvents(20, { from: 0 }))).status).toBe(200);
    await waitUntil(
      async () =>
        (await server.graphql<{ device: { buffered: number } }>(BUFFERED, { d: device })).data?.device
          .buffered === 0,
      10_000,
      'batch A to leave the 2 s window',
    );
    // Batch B is in the window when the recording starts.
    expect((await postMonitor(server, device, monitorEvents(30, { from: 20 }))).status).toBe(200);
    const buffered = await server.graphql<{ device: { buffered: number } }>(BUFFERED, { d: device });
    expect(buffered.data?.device.buffered).toBe(30);

    // A producer keeps posting across the start, so some batches land on either side of the seam.
    let next = 50;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        const answer = await postMonitor(server, device, monitorEvents(5, { from: next }));
        expect(answer.status).toBe(200);
        next += 5;
      }
    })();
    await waitUntil(() => next >= 70, 10_000, 'the producer to get going');
    const started = await server.graphql<{ startRecording: { id: string; status: string } }>(START, {
      d: device,
    });
    expect(started.errors).toBeUndefined();
    const id = started.data?.startRecording.id as string;
    expect(started.data?.startRecording.status).toBe('RECORDING');
    const atStart = next;
    await waitUntil(() => next >= atStart + 30, 10_000, 'more batches after the start');
    producing = false;
    await producer;

    const stopped = await server.graphql<{ stopRecording: Record<string, unknown> }>(STOP, { id });
    expect(stopped.errors).toBeUndefined();
    const messages = await allMessages(server, id);
    const ns = messages.map((message) => message.data.n);
    // Everything from batch B on, each once, in order: no gap and no duplicate at the seam.
    expect(ns).toEqual(Array.from({ length: next - 20 }, (_, index) => 20 + index));
    expect(messages.map((message) => message.seq)).toEqual(
      Array.from({ length: next - 20 }, (_, index) => 21 + index),
    );
    expect(stopped.data?.stopRecording).toMatchObject({ status: 'STOPPED', messageCount: next - 20 });
  });

  it('a device first named by startRecording has its buffer window on the broker from its first message', async () => {
    const device = uniqueDevice();
    const started = await server.graphql<{ startRecording: { id: string } }>(START, { d: device });
    expect((await postMonitor(server, device, monitorEvents(3))).status).toBe(200);
    await server.graphql(STOP, { id: started.data?.startRecording.id });
    const buffered = await server.graphql<{ device: { buffered: number; bufferWindow: string } }>(BUFFERED, {
      d: device,
    });
    expect(buffered.data?.device).toMatchObject({ buffered: 3, bufferWindow: 'PT5M' });
  });

  it('one active recording per device: a second start names the active one', async () => {
    const device = uniqueDevice();
    const first = await server.graphql<{ startRecording: { id: string } }>(START, {
      d: device,
      includeBuffer: false,
    });
    const id = first.data?.startRecording.id as string;
    const second = await server.graphql(START, { d: device });
    expect(second.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', activeRecordingId: id });
    expect(second.errors?.[0]?.message).toContain(id);
    const active = await server.graphql<{ device: { activeRecording: { id: string } } }>(BUFFERED, {
      d: device,
    });
    expect(active.data?.device.activeRecording.id).toBe(id);
    await server.graphql(STOP, { id });
    // Once stopped, a new one may start.
    expect((await server.graphql(START, { d: device })).errors).toBeUndefined();
  });

  it('stop: expiresAt = stoppedAt + retention, counts and times; messages page by page; stop again is a no-op', async () => {
    const device = uniqueDevice();
    const started = await server.graphql<{ startRecording: { id: string; retention: string; note: string } }>(
      START,
      {
        d: device,
        retention: '2h',
        note: 'bench run',
      },
    );
    expect(started.data?.startRecording).toMatchObject({ retention: 'PT2H', note: 'bench run' });
    const id = started.data?.startRecording.id as string;
    const start = new Date('2026-01-15T10:00:00Z');
    expect((await postMonitor(server, device, monitorEvents(5, { start, stepMs: 1000 }))).status).toBe(200);
    const stopped = await server.graphql<{ stopRecording: Record<string, string | number> }>(STOP, { id });
    const recording = stopped.data?.stopRecording as Record<string, string | number>;
    expect(recording).toMatchObject({
      status: 'STOPPED',
      messageCount: 5,
      firstMessageAt: '2026-01-15T10:00:00.000Z',
      lastMessageAt: '2026-01-15T10:00:04.000Z',
    });
    expect(Date.parse(recording.expiresAt as string) - Date.parse(recording.stoppedAt as string)).toBe(
      7_200_000,
    );

    const page1 = await server.graphql<{
      recording: { messages: { edges: Edge[]; pageInfo: { hasNextPage: boolean; endCursor: string } } };
    }>(MESSAGES, { id, first: 2 });
    expect(page1.data?.recording.messages.edges.map((edge) => edge.node.data.n)).toEqual([0, 1]);
    expect(page1.data?.recording.messages.pageInfo.hasNextPage).toBe(true);
    const page2 = await server.graphql<{
      recording: { messages: { edges: Edge[]; pageInfo: { hasNextPage: boolean } } };
    }>(MESSAGES, { id, first: 10, after: page1.data?.recording.messages.pageInfo.endCursor });
    expect(page2.data?.recording.messages.edges.map((edge) => edge.node.data.n)).toEqual([2, 3, 4]);
    expect(page2.data?.recording.messages.pageInfo.hasNextPage).toBe(false);

    // After the stop nothing more is recorded, and stopping again changes nothing.
    expect((await postMonitor(server, device, monitorEvents(3))).status).toBe(200);
    const again = await server.graphql<{ stopRecording: Record<string, unknown> }>(STOP, { id });
    expect(again.data?.stopRecording).toMatchObject({ messageCount: 5, stoppedAt: recording.stoppedAt });
  });

  it('the sweeper deletes a recording once its retention has passed', async () => {
    const device = uniqueDevice();
    const started = await server.graphql<{ startRecording: { id: string } }>(START, {
      d: device,
      retention: '300ms',
    });
    const id = started.data?.startRecording.id as string;
    await postMonitor(server, device, monitorEvents(3));
    await server.graphql(STOP, { id });
    await waitUntil(
      async () => (await server.graphql<{ recording: null }>(RECORDING, { id })).data?.recording === null,
      10_000,
      'the sweeper to delete the expired recording',
    );
    expect(await server.app.services.db.prisma.recordingMessage.count({ where: { recordingId: id } })).toBe(
      0,
    );
  });

  it('deleteRecording, recordings(deviceId) newest first, Device.recordings', async () => {
    const device = uniqueDevice();
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      const started = await server.graphql<{ startRecording: { id: string } }>(START, { d: device });
      ids.push(started.data?.startRecording.id as string);
      await server.graphql(STOP, { id: ids.at(-1) });
    }
    const listed = await server.graphql<{ recordings: { edges: Array<{ node: { id: string } }> } }>(
      'query($d: ID) { recordings(deviceId: $d) { edges { node { id } } } }',
      { d: device },
    );
    expect(listed.data?.recordings.edges.map((edge) => edge.node.id)).toEqual([...ids].reverse());
    const deleted = await server.graphql<{ deleteRecording: boolean }>(
      'mutation($id: ID!) { deleteRecording(id: $id) }',
      {
        id: ids[1],
      },
    );
    expect(deleted.data?.deleteRecording).toBe(true);
    const viaDevice = await server.graphql<{
      device: { recordings: { edges: Array<{ node: { id: string } }> } };
    }>('query($d: ID!) { device(id: $d) { recordings(first: 5) { edges { node { id } } } } }', { d: device });
    expect(viaDevice.data?.device.recordings.edges.map((edge) => edge.node.id)).toEqual([ids[2], ids[0]]);
  });

  describe('bad input', () => {
    it.each([
      [
        'setBufferWindow over the maximum',
        SET_WINDOW,
        { d: 'DEV', w: '11m' },
        'BAD_USER_INPUT',
        /longer than the maximum PT10M/,
      ],
      ['setBufferWindow of 0', SET_WINDOW, { d: 'DEV', w: '0s' }, 'BAD_USER_INPUT', /longer than 0/],
      [
        'setBufferWindow of nonsense',
        SET_WINDOW,
        { d: 'DEV', w: 'soon' },
        'BAD_USER_INPUT',
        /expected a duration/,
      ],
      [
        'setBufferWindow on a bad device id',
        SET_WINDOW,
        { d: 'a.b', w: '1m' },
        'BAD_USER_INPUT',
        /may not contain dots/,
      ],
      [
        'startRecording with retention 0',
        START,
        { d: 'DEV', retention: '0s' },
        'BAD_USER_INPUT',
        /retention must be longer/,
      ],
      [
        'startRecording with a pre-roll over the window',
        START,
        { d: 'DEV', preRoll: '6m' },
        'BAD_USER_INPUT',
        /exceeds the buffer window PT5M/,
      ],
      [
        'startRecording with an id with spaces',
        START,
        { d: 'DEV', id: 'a b' },
        'BAD_USER_INPUT',
        /recording id/,
      ],
      ['startRecording on an empty device id', START, { d: '' }, 'BAD_USER_INPUT', /device id is empty/],
      [
        'stopRecording of an unknown id',
        STOP,
        { id: 'rec_nope' },
        'NOT_FOUND',
        /recording "rec_nope" not found/,
      ],
      [
        'deleteRecording of an unknown id',
        'mutation($id: ID!) { deleteRecording(id: $id) }',
        { id: 'nope' },
        'NOT_FOUND',
        /not found/,
      ],
      [
        'messages with a bad cursor',
        MESSAGES,
        { id: 'ID', after: 'bogus' },
        'BAD_USER_INPUT',
        /not a cursor/,
      ],
      [
        'messages with first over the maximum',
        MESSAGES,
        { id: 'ID', first: 5000 },
        'BAD_USER_INPUT',
        /first must be/,
      ],
    ])('%s', async (_name, query, variables, code, message) => {
      const resolved: Record<string, unknown> = { ...variables };
      if (resolved.d === 'DEV') resolved.d = uniqueDevice();
      if (resolved.id === 'ID') {
        const started = await server.graphql<{ startRecording: { id: string } }>(START, {
          d: uniqueDevice(),
        });
        resolved.id = started.data?.startRecording.id;
      }
      const result = await server.graphql(query, resolved);
      expect(result.errors?.[0]?.extensions?.code).toBe(code);
      expect(result.errors?.[0]?.message).toMatch(message);
    });

    it('a recording id that is taken', async () => {
      const id = `rec-${uniqueDevice()}`;
      expect((await server.graphql(START, { d: uniqueDevice(), id })).errors).toBeUndefined();
      const again = await server.graphql(START, { d: uniqueDevice(), id });
      expect(again.errors?.[0]?.message).toBe(`recording "${id}" is already running`);
    });
  });

  it('setBufferWindow: null turns it off, no window falls back to the default', async () => {
    const device = uniqueDevice();
    const off = await server.graphql<{ setBufferWindow: { bufferWindow: string | null; buffered: number } }>(
      SET_WINDOW,
      {
        d: device,
        w: null,
      },
    );
    expect(off.data?.setBufferWindow).toEqual({ id: device, bufferWindow: null, buffered: 0 });
    await postMonitor(server, device, monitorEvents(3));
    const still = await server.graphql<{ device: { buffered: number } }>(BUFFERED, { d: device });
    expect(still.data?.device.buffered).toBe(0);
    const back = await server.graphql<{ setBufferWindow: { bufferWindow: string } }>(
      'mutation($d: ID!) { setBufferWindow(deviceId: $d) { bufferWindow } }',
      { d: device },
    );
    expect(back.data?.setBufferWindow.bufferWindow).toBe('PT5M');
  });
});
