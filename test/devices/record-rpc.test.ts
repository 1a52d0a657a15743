import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/pubsub/broker.ts';
import { createNatsBroker } from '../../src/pubsub/nats/nats-broker.ts';
import {
  backendOptions,
  DEVICE_BACKENDS,
  monitorEvents,
  postMonitor,
  uniqueDevice,
} from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { type PrivateService, startService } from '../setup/services.ts';

describe.each(DEVICE_BACKENDS)('record RPC on streams.record.rpc (%s)', (backend) => {
  let server: TestApp;
  // The ApiGear tooling: another client on the broker network (for memory, the same broker).
  let tool: Broker;
  // Every app on a NATS server answers the RPC (one queue group, as instances of one deployment
  // do); apps of other test files must not answer this file's requests, so NATS is private here.
  let nats: PrivateService | undefined;
  beforeAll(async () => {
    if (backend === 'nats') nats = await startService('nats');
    server = await startTestApp(backendOptions(backend, {}, nats?.url));
    tool =
      nats !== undefined
        ? await createNatsBroker({
            url: nats.url,
            name: 'apigear-tool',
            connectTimeoutMs: 5_000,
            reconnectMaxWaitMs: 500,
          })
        : server.app.services.broker;
  });
  afterAll(async () => {
    if (backend === 'nats') await tool?.close();
    await server?.stop();
    await nats?.stop();
  });

  async function rpc(request: unknown): Promise<Record<string, unknown>> {
    const payload = new TextEncoder().encode(typeof request === 'string' ? request : JSON.stringify(request));
    const reply = await tool.request('streams.record.rpc', payload, { timeoutMs: 10_000 });
    return JSON.parse(new TextDecoder().decode(reply.payload)) as Record<string, unknown>;
  }

  it('start with a session id and pre-roll, then stop: the legacy replies and a real recording', async () => {
    const device = uniqueDevice();
    const session = `sess-${uniqueDevice()}`;
    expect((await postMonitor(server, device, monitorEvents(4))).status).toBe(200);
    const started = await rpc({
      action: 'start',
      device_id: device,
      session_id: session,
      retention: '48h',
      pre_roll: '1m',
      note: 'from the tool',
    });
    expect(started).toMatchObject({
      ok: true,
      message: 'recording started',
      session_id: session,
      state: { session_id: session, device_id: device, status: 'running', message_count: 4 },
    });
    expect(Date.parse((started.state as { started_at: string }).started_at)).toBeGreaterThan(0);
    expect((await postMonitor(server, device, monitorEvents(2))).status).toBe(200);

    const stopped = await rpc({ action: 'stop', session_id: session });
    expect(stopped).toMatchObject({
      ok: true,
      message: 'recording stopped',
      state: { session_id: session, status: 'stopped', message_count: 6 },
    });
    const recording = await server.graphql<{ recording: { retention: string; note: string } }>(
      'query($id: ID!) { recording(id: $id) { retention note } }',
      { id: session },
    );
    expect(recording.data?.recording).toEqual({ retention: 'P2D', note: 'from the tool' });
  });

  it('stop by device id; without pre-roll the buffer is not copied', async () => {
    const device = uniqueDevice();
    expect((await postMonitor(server, device, monitorEvents(3))).status).toBe(200);
    const started = await rpc({ action: 'start', device_id: device });
    expect(started).toMatchObject({ ok: true, state: { message_count: 0 } });
    const stopped = await rpc({ action: 'stop', device_id: device });
    expect(stopped).toMatchObject({ ok: true, session_id: started.session_id, state: { status: 'stopped' } });
  });

  it.each([
    ['not JSON', '{nope', /invalid request: not JSON/],
    ['not an object', '[1,2]', /expected a JSON object/],
    ['an unknown action', { action: 'pause', device_id: 'x' }, /unknown action "pause"/],
    ['no action', { device_id: 'x' }, /missing action/],
    ['a start without device_id', { action: 'start' }, /missing device_id/],
    ['a stop without device_id or session_id', { action: 'stop' }, /missing device_id/],
    [
      'a bad retention',
      { action: 'start', device_id: 'x', retention: 'forever' },
      /retention "forever" is not a duration/,
    ],
    [
      'a pre-roll over the window',
      { action: 'start', device_id: 'DEV', pre_roll: '10m' },
      /pre-roll PT10M exceeds the buffer window PT5M/,
    ],
    [
      'a stop of an unknown session',
      { action: 'stop', session_id: 'sess-none' },
      /recording "sess-none" not found/,
    ],
    [
      'a stop of a device that is not recording',
      { action: 'stop', device_id: 'DEV' },
      /is not recording|not found/,
    ],
  ])('rejects %s', async (_name, request, message) => {
    const resolved =
      typeof request === 'object' && 'device_id' in request && request.device_id === 'DEV'
        ? { ...request, device_id: uniqueDevice() }
        : request;
    const reply = await rpc(resolved);
    expect(reply.ok).toBe(false);
    expect(reply.message).toMatch(message);
  });

  it('rejects a session that is already running, and a device that is already recording', async () => {
    const device = uniqueDevice();
    const session = `sess-${uniqueDevice()}`;
    expect(await rpc({ action: 'start', device_id: device, session_id: session })).toMatchObject({
      ok: true,
    });
    const again = await rpc({ action: 'start', device_id: uniqueDevice(), session_id: session });
    expect(again).toEqual({ ok: false, message: `recording "${session}" is already running` });
    const busy = await rpc({ action: 'start', device_id: device });
    expect(busy.ok).toBe(false);
    expect(busy.message).toMatch(
      new RegExp(`device "${device}" is already recording \\(recording "${session}"\\)`),
    );
  });
});
