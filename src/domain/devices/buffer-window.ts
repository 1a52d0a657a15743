/**
 * Buffer windows: the broker keeps each device's last `window` of messages on `monitor.{device}`
 * (Broker.retain), so a recording can start in the past and `Device.buffered` can count them.
 */
import type { Config } from '../../config/config.ts';
import { formatDuration } from '../../config/duration.ts';
import type { Database } from '../../db/create-database.ts';
import { BadUserInputError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Broker } from '../../pubsub/broker.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { tenantOfKey } from '../viewer.ts';
import { nextWithin, withSubscription } from './broker-reading.ts';
import { deviceMessageFromBroker } from './device-message.ts';
import { type Device, type DeviceScope, deviceKey, registerDevice, toDevice } from './device-store.ts';
import { validateDeviceId } from './monitor-event.ts';

export interface BufferWindowDependencies {
  readonly db: Database;
  readonly broker: Broker;
  readonly log: Logger;
  readonly config: Config['devices'];
}

/**
 * `lastSeenAt` is written when ingest persists, before the outbox publishes, so a message's broker
 * timestamp (what the window keeps) can trail it. Deciding from `lastSeenAt` alone that nothing is
 * in a window must leave this much room, or the tail of a batch is missed.
 */
export const PUBLISH_LAG_ALLOWANCE_MS = 5_000;

/** How long to wait for the first buffered message before calling the window empty. */
const FIRST_MESSAGE_WAIT_MS = 1_000;

/**
 * Registers the device for the scope if it is new, applying its default window on the broker
 * first, so that its very first messages are retained.
 */
export async function registerDeviceWithWindow(
  deps: BufferWindowDependencies,
  scope: DeviceScope,
  deviceId: string,
): Promise<Device> {
  const registered = await registerDevice(deps.db, scope, deviceId, deps.config.bufferWindowDefaultMs);
  const window = registered.device.bufferWindowMs;
  if (registered.created && window !== null) {
    await deps.broker.retain(subjects.monitor(scope.tenantId, deviceId), { maxAgeMs: window });
  }
  return registered.device;
}

/**
 * Sets the device's buffer window: `undefined` = the configured default, `null` = off. The device
 * is registered if new. The window is applied on the broker before it is stored.
 */
export async function setBufferWindow(
  deps: BufferWindowDependencies,
  scope: DeviceScope,
  deviceId: string,
  windowMs: number | null | undefined,
): Promise<Device> {
  validateDeviceId(deviceId);
  const window = windowMs === undefined ? deps.config.bufferWindowDefaultMs : windowMs;
  if (window !== null) {
    if (window <= 0) throw new BadUserInputError('window must be longer than 0 (null turns the buffer off)');
    if (window > deps.config.bufferWindowMaxMs) {
      throw new BadUserInputError(
        `window ${formatDuration(window)} is longer than the maximum ${formatDuration(deps.config.bufferWindowMaxMs)} (BUFFER_WINDOW_MAX)`,
      );
    }
  }
  await registerDevice(deps.db, scope, deviceId, deps.config.bufferWindowDefaultMs);
  if (window !== null)
    await deps.broker.retain(subjects.monitor(scope.tenantId, deviceId), { maxAgeMs: window });
  // Turning the window off stops streamgate from using it; the Broker interface has no way to
  // drop a retained window, so the broker ages out what it holds (docs/devices.md).
  const row = await deps.db.prisma.device.update({
    where: deviceKey(scope, deviceId),
    data: { bufferWindowMs: window },
  });
  return toDevice(row);
}

/** Applies every device's stored window on the broker again (a memory broker starts empty). */
export async function reapplyBufferWindows(deps: BufferWindowDependencies): Promise<number> {
  let applied = 0;
  let after: { tenantId: string; id: string } | undefined;
  for (;;) {
    const rows = await deps.db.prisma.device.findMany({
      where: {
        bufferWindowMs: { not: null },
        ...(after === undefined
          ? {}
          : {
              OR: [{ tenantId: { gt: after.tenantId } }, { tenantId: after.tenantId, id: { gt: after.id } }],
            }),
      },
      orderBy: [{ tenantId: 'asc' }, { id: 'asc' }],
      select: { tenantId: true, id: true, bufferWindowMs: true },
      take: 500,
    });
    for (const row of rows) {
      await deps.broker.retain(subjects.monitor(tenantOfKey(row.tenantId), row.id), {
        maxAgeMs: row.bufferWindowMs as number,
      });
      applied += 1;
    }
    if (rows.length < 500) return applied;
    after = rows.at(-1);
  }
}

/**
 * Messages in the device's buffer window now: the sequence of the oldest one still retained
 * (read from the broker) to the device's last sequence. Messages published on `monitor.{device}`
 * by anything other than streamgate's ingest carry no sequence and are not counted.
 */
export async function bufferedCount(deps: BufferWindowDependencies, device: Device): Promise<number> {
  const window = device.bufferWindowMs;
  if (window === null || device.lastSeq === 0) return 0;
  const since = new Date(Date.now() - window);
  if (device.lastSeenAt === null || device.lastSeenAt.getTime() < since.getTime() - PUBLISH_LAG_ALLOWANCE_MS)
    return 0;
  const oldestSeq = await withSubscription(
    deps.broker.subscribe(subjects.monitor(device.tenantId, device.id), { from: { time: since } }),
    async (iterator) => {
      for (;;) {
        const message = await nextWithin(iterator, FIRST_MESSAGE_WAIT_MS);
        if (!message) return undefined;
        const { seq } = deviceMessageFromBroker(device.id, message);
        if (seq > 0) return seq;
      }
    },
  );
  if (oldestSeq === undefined) return 0;
  const current = await deps.db.prisma.device.findUnique({
    where: deviceKey(device, device.id),
    select: { lastSeq: true },
  });
  const lastSeq = current ? Number(current.lastSeq) : device.lastSeq;
  return Math.max(0, lastSeq - oldestSeq + 1);
}
