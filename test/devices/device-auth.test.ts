/** Who may ingest, and whose devices and recordings a caller sees (docs/auth.md tenancy rules). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/async-queue.ts';
import { monitorEvents, postMonitor, uniqueDevice } from '../helpers/devices.ts';
import { connectWs, subscribeWs } from '../helpers/graphql-ws-client.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { authEnv, signToken } from '../helpers/tokens.ts';

const DEVICE = 'query($id: ID!) { device(id: $id) { id messageCount } }';
const DEVICES = '{ devices(first: 1000) { edges { node { id } } } }';
const START = 'mutation($d: ID!) { startRecording(deviceId: $d) { id } }';

describe('monitor ingest with auth configured', () => {
  let server: TestApp;
  let writerA: string;
  let writerB: string;
  let readerA: string;
  beforeAll(async () => {
    server = await startTestApp({ env: authEnv() });
    writerA = await signToken({ sub: 'device-a', tenantId: 'tenant-a', roles: ['writer'] });
    writerB = await signToken({ sub: 'device-b', tenantId: 'tenant-b', roles: ['writer'] });
    readerA = await signToken({ sub: 'viewer-a', tenantId: 'tenant-a', roles: [] });
  });
  afterAll(() => server?.stop());

  it('needs a token: 401 without one, 401 for a bad one, 403 without the writer role', async () => {
    const device = uniqueDevice();
    expect(await postMonitor(server, device, monitorEvents(1))).toMatchObject({
      status: 401,
      body: { error: 'UNAUTHENTICATED' },
    });
    expect(await postMonitor(server, device, monitorEvents(1), { token: 'not-a-jwt' })).toMatchObject({
      status: 401,
      body: { error: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' },
    });
    expect(await postMonitor(server, device, monitorEvents(1), { token: readerA })).toMatchObject({
      status: 403,
      body: { error: 'FORBIDDEN', message: 'mutation ingest needs the role "writer"' },
    });
    expect((await server.graphql(DEVICE, { id: device }, { token: writerA })).data).toEqual({ device: null });
  });

  it('?token= is verified as a Bearer header is; the header, when there is one, is the token', async () => {
    const device = uniqueDevice();
    expect(await postMonitor(server, device, monitorEvents(1), { query: '?token=not-a-jwt' })).toMatchObject({
      status: 401,
      body: { error: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' },
    });
    expect(await postMonitor(server, device, monitorEvents(1), { query: `?token=${readerA}` })).toMatchObject(
      {
        status: 403,
        body: { error: 'FORBIDDEN' },
      },
    );
    // A reader's header with a writer's ?token=: the header is what counts.
    const both = { token: readerA, query: `?token=${writerA}` };
    expect(await postMonitor(server, device, monitorEvents(1), both)).toMatchObject({ status: 403 });
    const swapped = { token: writerA, query: `?token=${readerA}` };
    expect(await postMonitor(server, device, monitorEvents(2), swapped)).toEqual({
      status: 200,
      body: { accepted: 2 },
    });
    expect((await server.graphql(DEVICE, { id: device }, { token: readerA })).data).toEqual({
      device: { id: device, messageCount: 2 },
    });
    const malformed = await fetch(`${server.url}/monitor/${device}?token=${writerA}`, {
      method: 'POST',
      headers: { authorization: `Basic ${writerA}` },
      body: JSON.stringify(monitorEvents(1)),
    });
    expect(malformed.status).toBe(401);
    expect(await malformed.json()).toMatchObject({ error: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' });
  });

  it('a writer token (Bearer or ?token=) ingests into its tenant; another tenant sees nothing of it', async () => {
    const device = uniqueDevice();
    expect((await postMonitor(server, device, monitorEvents(2), { token: writerA })).status).toBe(200);
    expect((await postMonitor(server, device, monitorEvents(1), { query: `?token=${writerA}` })).status).toBe(
      200,
    );
    expect((await server.graphql(DEVICE, { id: device }, { token: readerA })).data).toEqual({
      device: { id: device, messageCount: 3 },
    });
    expect((await server.graphql(DEVICE, { id: device }, { token: writerB })).data).toEqual({ device: null });
    const listedB = await server.graphql<{ devices: { edges: Array<{ node: { id: string } }> } }>(
      DEVICES,
      {},
      { token: writerB },
    );
    expect(listedB.data?.devices.edges.map((edge) => edge.node.id)).not.toContain(device);

    // Ids are scoped per tenant: B's device of the same id is B's own, created as for any free
    // id, and A's device is untouched by it.
    expect(await postMonitor(server, device, monitorEvents(1), { token: writerB })).toMatchObject({
      status: 200,
      body: { accepted: 1 },
    });
    expect((await server.graphql(DEVICE, { id: device }, { token: writerB })).data).toEqual({
      device: { id: device, messageCount: 1 },
    });
    expect((await server.graphql(DEVICE, { id: device }, { token: readerA })).data).toEqual({
      device: { id: device, messageCount: 3 },
    });
    const startA = await server.graphql<{ startRecording: { id: string } }>(
      START,
      { d: device },
      { token: writerA },
    );
    const recordingId = startA.data?.startRecording.id as string;
    // B records its own device while A's records: one active recording per device, per tenant.
    const startB = await server.graphql(START, { d: device }, { token: writerB });
    expect(startB.errors).toBeUndefined();
    // A's recording answers B exactly as an absent recording id does.
    const absent = `rec_absent_${uniqueDevice()}`;
    for (const query of [
      'mutation($id: ID!) { stopRecording(id: $id) { id } }',
      'mutation($id: ID!) { deleteRecording(id: $id) }',
      'query($id: ID!) { recording(id: $id) { id } }',
    ]) {
      const theirs = await server.graphql(query, { id: recordingId }, { token: writerB });
      const none = await server.graphql(query, { id: absent }, { token: writerB });
      expect(theirs.data, query).toEqual(none.data);
      expect(theirs.errors?.[0]?.extensions?.code, query).toBe(none.errors?.[0]?.extensions?.code);
      expect(theirs.errors?.[0]?.message.replace(recordingId, 'ID'), query).toBe(
        none.errors?.[0]?.message.replace(absent, 'ID'),
      );
    }

    const { client } = connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${writerB}` } });
    try {
      const replay = 'subscription($id: ID!) { replay(recordingId: $id, speed: 0) { progress } }';
      const theirs = await subscribeWs(client, replay, { id: recordingId }).results.next(
        10_000,
        'the refusal',
      );
      const none = await subscribeWs(client, replay, { id: absent }).results.next(10_000, 'the refusal');
      expect(theirs.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(none.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    } finally {
      await client.dispose();
    }
    // A's recording still runs, untouched by B.
    const mine = await server.graphql(
      'query($id: ID!) { recording(id: $id) { id status } }',
      { id: recordingId },
      { token: readerA },
    );
    expect(mine.data).toEqual({ recording: { id: recordingId, status: 'RECORDING' } });
  });

  it('a recording id taken in another tenant is free: B gets its own recording of that id', async () => {
    const startWithId =
      'mutation($d: ID!, $id: ID!) { startRecording(deviceId: $d, id: $id) { id deviceId } }';
    const id = `rec-${uniqueDevice()}`;
    const deviceA = uniqueDevice();
    const deviceB = uniqueDevice();
    const running = await server.graphql(startWithId, { d: deviceA, id }, { token: writerA });
    expect(running.errors).toBeUndefined();
    // The owner learns that its own recording runs.
    const again = await server.graphql(startWithId, { d: uniqueDevice(), id }, { token: writerA });
    expect(again.errors?.[0]?.message).toBe(`recording "${id}" is already running`);
    // Another tenant: exactly as for a free id.
    const other = await server.graphql(startWithId, { d: deviceB, id }, { token: writerB });
    expect(other.errors).toBeUndefined();
    expect(other.data).toEqual({ startRecording: { id, deviceId: deviceB } });
    const stopB = await server.graphql(
      'mutation($id: ID!) { stopRecording(id: $id) { deviceId status } }',
      { id },
      { token: writerB },
    );
    expect(stopB.data).toEqual({ stopRecording: { deviceId: deviceB, status: 'STOPPED' } });
    const stillA = await server.graphql(
      'query($id: ID!) { recording(id: $id) { deviceId status } }',
      { id },
      { token: writerA },
    );
    expect(stillA.data).toEqual({ recording: { deviceId: deviceA, status: 'RECORDING' } });
  });

  it("importRecording and appendRecordingMessages with an id taken in another tenant act on B's own recording", async () => {
    const importQuery = `mutation($input: ImportRecordingInput!, $messages: [RecordedMessageInput!]!) {
      importRecording(input: $input, messages: $messages) { id deviceId messageCount }
    }`;
    const append = `mutation($id: ID!, $messages: [RecordedMessageInput!]!) {
      appendRecordingMessages(recordingId: $id, messages: $messages) { id messageCount }
    }`;
    const line = (n: number) => ({
      headers: {
        'X-Monitor-Type': 'signal',
        'X-Monitor-Timestamp': new Date(1_700_000_000_000 + n).toISOString(),
      },
      data: { n },
    });
    const id = `rec-imported-${uniqueDevice()}`;
    const deviceA = uniqueDevice();
    const deviceB = uniqueDevice();
    const mine = await server.graphql(
      importQuery,
      { input: { id, deviceId: deviceA }, messages: [line(1), line(2)] },
      { token: writerA },
    );
    expect(mine.data).toEqual({ importRecording: { id, deviceId: deviceA, messageCount: 2 } });
    // Taken in the own tenant: refused as before.
    const again = await server.graphql(
      importQuery,
      { input: { id, deviceId: deviceA }, messages: [line(3)] },
      { token: writerA },
    );
    expect(again.errors?.[0]).toMatchObject({
      message: `recording "${id}" already exists`,
      extensions: { code: 'BAD_USER_INPUT' },
    });
    // Taken in another tenant: exactly as a free id.
    const theirs = await server.graphql(
      importQuery,
      { input: { id, deviceId: deviceB }, messages: [line(1)] },
      { token: writerB },
    );
    expect(theirs.data).toEqual({ importRecording: { id, deviceId: deviceB, messageCount: 1 } });
    expect(
      (await server.graphql(append, { id, messages: [line(2), line(3)] }, { token: writerB })).data,
    ).toEqual({
      appendRecordingMessages: { id, messageCount: 3 },
    });
    const stillA = await server.graphql(
      'query($id: ID!) { recording(id: $id) { deviceId messageCount } }',
      { id },
      { token: writerA },
    );
    expect(stillA.data).toEqual({ recording: { deviceId: deviceA, messageCount: 2 } });
  });

  it("the same device id in two tenants is two devices: A's live messages never reach B's subscribers", async () => {
    const device = uniqueDevice();
    const watch = 'subscription($d: ID!) { deviceMessages(deviceId: $d) { data } }';
    const connectionA = connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${writerA}` } });
    const connectionB = connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${writerB}` } });
    const watchA = subscribeWs(connectionA.client, watch, { d: device });
    const watchB = subscribeWs(connectionB.client, watch, { d: device });
    const dataOf = async (results: typeof watchA.results) =>
      ((await results.next(10_000, 'a device message')).data?.deviceMessages as { data: unknown } | undefined)
        ?.data;
    try {
      // Each subscriber is live once its own tenant's probe reaches it (subscribing is asynchronous).
      for (const [token, results] of [
        [writerA, watchA.results],
        [writerB, watchB.results],
      ] as const) {
        await waitUntil(
          async () => {
            await postMonitor(server, device, [{ type: 'signal', data: { probe: true } }], { token });
            return results.pending.length > 0;
          },
          10_000,
          'the subscriber to be live',
        );
      }
      // Everything a subscriber got so far is its own tenant's probes, up to its marker.
      for (const [token, results] of [
        [writerA, watchA.results],
        [writerB, watchB.results],
      ] as const) {
        await postMonitor(server, device, [{ type: 'signal', data: { marker: true } }], { token });
        for (;;) {
          const data = await dataOf(results);
          if (JSON.stringify(data) === '{"marker":true}') break;
          expect(data).toEqual({ probe: true });
        }
      }
      await postMonitor(server, device, [{ type: 'signal', data: { from: 'a' } }], { token: writerA });
      await postMonitor(server, device, [{ type: 'signal', data: { from: 'b' } }], { token: writerB });
      expect(await dataOf(watchA.results)).toEqual({ from: 'a' });
      expect(await dataOf(watchB.results)).toEqual({ from: 'b' });
      expect(
        (
          await postMonitor(server, device, [{ type: 'signal', data: { from: 'a', n: 2 } }], {
            token: writerA,
          })
        ).status,
      ).toBe(200);
      expect(await dataOf(watchA.results)).toEqual({ from: 'a', n: 2 });
      expect(watchB.results.pending).toEqual([]);
    } finally {
      await connectionA.client.dispose();
      await connectionB.client.dispose();
    }
  });

  it('the ingest mutation needs a token too', async () => {
    const result = await server.graphql('mutation { ingest(deviceId: "x", messages: [{}]) { accepted } }');
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('MONITOR_PUBLIC: unauthenticated devices go into MONITOR_TENANT', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp({ env: authEnv({ MONITOR_PUBLIC: 'true', MONITOR_TENANT: 'public' }) });
  });
  afterAll(() => server?.stop());

  it('accepts a device without a token into the public tenant; a token still counts as itself', async () => {
    const device = uniqueDevice();
    expect((await postMonitor(server, device, monitorEvents(2))).status).toBe(200);
    const publicViewer = await signToken({ sub: 'ops', tenantId: 'public', roles: [] });
    const otherViewer = await signToken({ sub: 'ops', tenantId: 'tenant-a', roles: ['writer'] });
    expect((await server.graphql(DEVICE, { id: device }, { token: publicViewer })).data).toEqual({
      device: { id: device, messageCount: 2 },
    });
    expect((await server.graphql(DEVICE, { id: device }, { token: otherViewer })).data).toEqual({
      device: null,
    });
    // A device that sends a token is its tenant's own device of that id, not the public one.
    expect(await postMonitor(server, device, monitorEvents(1), { token: otherViewer })).toMatchObject({
      status: 200,
    });
    expect((await server.graphql(DEVICE, { id: device }, { token: publicViewer })).data).toEqual({
      device: { id: device, messageCount: 2 },
    });
    expect((await server.graphql(DEVICE, { id: device }, { token: otherViewer })).data).toEqual({
      device: { id: device, messageCount: 1 },
    });
    // MONITOR_PUBLIC opens the legacy HTTP monitor only, not GraphQL.
    const result = await server.graphql('mutation { ingest(deviceId: "x", messages: [{}]) { accepted } }');
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
