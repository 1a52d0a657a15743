/**
 * A monitor event that the broker can never take (over NATS's max_payload, 1 MiB), posted in a
 * batch beside events it takes, with MONITOR_MAX_BODY_BYTES raised above that as an operator may.
 * Before, the batch was acknowledged, the big event waited in the device outbox, and every later
 * ingest of the device failed with it, for good. Now it is refused whole, naming the event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendOptions, monitorEvents, postMonitor, uniqueDevice } from '../helpers/devices.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

describe('an event over the broker message limit in a batch (NATS + Postgres)', () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startTestApp(backendOptions('nats', { MONITOR_MAX_BODY_BYTES: '4mib' }));
  }, 60_000);
  afterAll(() => server?.stop());

  const outboxOf = (device: string) =>
    server.app.services.db.prisma.monitorOutbox.count({ where: { deviceId: device } });

  it('is refused with 413 naming the event, nothing of the batch is accepted, and the device goes on', async () => {
    const device = uniqueDevice('oversized');
    const [small, big] = monitorEvents(2);
    const oversized = { ...big, data: { text: 'x'.repeat(1_500_000) } };
    const refused = await postMonitor(server, device, [small, oversized]);
    expect(refused.status).toBe(413);
    expect(JSON.stringify(refused.body)).toMatch(/event 1 .*more than the broker accepts \(1048576 bytes\)/);
    expect(await outboxOf(device)).toBe(0);
    expect(await postMonitor(server, device, monitorEvents(2, { from: 10 }))).toEqual({
      status: 200,
      body: { accepted: 2 },
    });
    expect(await postMonitor(server, device, monitorEvents(2, { from: 20 }))).toEqual({
      status: 200,
      body: { accepted: 2 },
    });
    expect(await outboxOf(device)).toBe(0);
  }, 60_000);

  it('an event under the limit in the same body is accepted', async () => {
    const device = uniqueDevice('large');
    const [small, big] = monitorEvents(2);
    const large = { ...big, data: { text: 'x'.repeat(900_000) } };
    expect(await postMonitor(server, device, [small, large])).toEqual({ status: 200, body: { accepted: 2 } });
    expect(await outboxOf(device)).toBe(0);
  }, 60_000);
});
