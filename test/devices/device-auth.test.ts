/** Who may ingest, and whose devices and recordings a caller sees (docs/auth.md tenancy rules). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

    // Tenant B cannot write to, record, replay, or watch tenant A's device: NOT_FOUND, no leak.
    expect(await postMonitor(server, device, monitorEvents(1), { token: writerB })).toMatchObject({
      status: 404,
      body: { error: 'NOT_FOUND' },
    });
    const startB = await server.graphql(START, { d: device }, { token: writerB });
    expect(startB.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const startA = await server.graphql<{ startRecording: { id: string } }>(
      START,
      { d: device },
      { token: writerA },
    );
    const recordingId = startA.data?.startRecording.id as string;
    for (const [query, variables] of [
      ['mutation($id: ID!) { stopRecording(id: $id) { id } }', { id: recordingId }],
      ['mutation($id: ID!) { deleteRecording(id: $id) }', { id: recordingId }],
      ['mutation($d: ID!) { setBufferWindow(deviceId: $d, window: "1m") { id } }', { d: device }],
    ] as const) {
      const result = await server.graphql(query, variables, { token: writerB });
      expect(result.errors?.[0]?.extensions?.code, query).toBe('NOT_FOUND');
    }
    expect(
      (
        await server.graphql(
          'query($id: ID!) { recording(id: $id) { id } }',
          { id: recordingId },
          { token: writerB },
        )
      ).data,
    ).toEqual({
      recording: null,
    });

    const { client } = connectWs(server.wsUrl, { connectionParams: { authorization: `Bearer ${writerB}` } });
    try {
      for (const [query, variables] of [
        ['subscription($d: ID!) { deviceMessages(deviceId: $d) { seq } }', { d: device }],
        ['subscription($id: ID!) { replay(recordingId: $id, speed: 0) { progress } }', { id: recordingId }],
      ] as const) {
        const subscription = subscribeWs(client, query, variables);
        const result = await subscription.results.next(10_000, 'the refusal');
        expect(result.errors?.[0]?.extensions?.code, query).toBe('NOT_FOUND');
      }
    } finally {
      await client.dispose();
    }
  });

  it('a recording id taken in another tenant says only that it is taken, not whether it runs', async () => {
    const startWithId = 'mutation($d: ID!, $id: ID!) { startRecording(deviceId: $d, id: $id) { id } }';
    const id = `rec-${uniqueDevice()}`;
    const running = await server.graphql(startWithId, { d: uniqueDevice(), id }, { token: writerA });
    expect(running.errors).toBeUndefined();
    // The owner learns that its own recording runs; another tenant, only that the id is taken.
    const again = await server.graphql(startWithId, { d: uniqueDevice(), id }, { token: writerA });
    expect(again.errors?.[0]?.message).toBe(`recording "${id}" is already running`);
    const other = await server.graphql(startWithId, { d: uniqueDevice(), id }, { token: writerB });
    expect(other.errors?.[0]).toMatchObject({
      message: `recording "${id}" already exists`,
      extensions: { code: 'BAD_USER_INPUT' },
    });
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
    // A device that sends a token is its tenant's, not the public one.
    expect(await postMonitor(server, device, monitorEvents(1), { token: otherViewer })).toMatchObject({
      status: 404,
    });
    // MONITOR_PUBLIC opens the legacy HTTP monitor only, not GraphQL.
    const result = await server.graphql('mutation { ingest(deviceId: "x", messages: [{}]) { accepted } }');
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
