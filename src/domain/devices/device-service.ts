/**
 * The device domain as one service (AppServices.devices): ingest, devices, buffer windows,
 * recordings, replay, and the background work (retention sweeper, outbox relay, resuming
 * recordings after a restart).
 */
import type { Config } from '../../config/config.ts';
import type { Database } from '../../db/create-database.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import type { Broker } from '../../pubsub/broker.ts';
import type { BrokerMessageBounds } from '../broker-message-bounds.ts';
import type { Page } from '../pagination.ts';
import { tenantOf, type Viewer } from '../viewer.ts';
import {
  bufferedCount,
  reapplyBufferWindows,
  registerDeviceWithWindow,
  setBufferWindow,
} from './buffer-window.ts';
import type { DeviceMessage } from './device-message.ts';
import { type Device, type DeviceScope, findDevice, listDevices } from './device-store.ts';
import { type IngestResult, ingestMonitorEvents } from './ingest.ts';
import { liveDeviceMessages } from './live-messages.ts';
import { validateDeviceId } from './monitor-event.ts';
import { createOutbox, relayOutbox } from './monitor-outbox.ts';
import { appendImportedMessages, type ImportRecordingInput, importRecording } from './recording-import.ts';
import {
  findActiveRecording,
  findRecording,
  listRecordings,
  type Recording,
  recordingMessagesPage,
  recordingStats,
} from './recording-store.ts';
import {
  deleteRecording,
  resumeRecordings,
  type StartRecordingInput,
  startRecording,
  stopRecording,
  sweepExpiredRecordings,
} from './recordings.ts';
import { openReplay, type ReplayOptions, type ReplayPage } from './replay.ts';

export interface DeviceServiceDependencies {
  readonly config: Config;
  readonly db: Database;
  readonly broker: Broker;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** What a message read from the broker must hold to be delivered or recorded. */
  readonly messageBounds: BrokerMessageBounds;
}

/** @default 1s: how often the outbox relay looks for messages a broker failure held back. */
const RELAY_INTERVAL_MS = 1_000;

export type DeviceService = ReturnType<typeof createDeviceService>;

/** Builds the device service; `start` runs the start-up work and timers, `stop` ends them. */
export function createDeviceService(deps: DeviceServiceDependencies) {
  const log = deps.log.child({ component: 'devices' });
  const inner = {
    db: deps.db,
    broker: deps.broker,
    log,
    config: deps.config.devices,
    messageBounds: deps.messageBounds,
    outbox: createOutbox(deps.broker, log, deps.metrics, deps.config.devices.outboxMaxAttempts),
  };
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  let startup: Promise<void> | undefined;

  /** Runs `task` every `intervalMs`, never two at once, logging failures. */
  const every = (intervalMs: number, name: string, task: () => Promise<unknown>) => {
    let running = false;
    const timer = setInterval(() => {
      if (running || stopped) return;
      running = true;
      task()
        .catch((error: unknown) => log.warn({ err: error }, `${name} failed`))
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    timer.unref();
    timers.push(timer);
  };

  return {
    /** The tenant an operation acts in. */
    scopeOf(viewer: Viewer | null): DeviceScope {
      return { tenantId: tenantOf(viewer) };
    },
    ingest: (scope: DeviceScope, deviceId: string, events: readonly unknown[]): Promise<IngestResult> =>
      ingestMonitorEvents(inner, scope, deviceId, events),
    device: (scope: DeviceScope, id: string): Promise<Device | null> => findDevice(deps.db, scope, id),
    devices: (scope: DeviceScope, first?: number | null, after?: string | null): Promise<Page<Device>> =>
      listDevices(deps.db, scope, first, after),
    buffered: (device: Device): Promise<number> => bufferedCount(inner, device),
    setBufferWindow: (scope: DeviceScope, deviceId: string, windowMs: number | null | undefined) =>
      setBufferWindow(inner, scope, deviceId, windowMs),
    /**
     * Live messages of a device. An unknown device is registered for the caller (a device may be
     * watched before it first sends); ids are the tenant's own (another tenant's device of the
     * same id is another device on another subject).
     */
    async liveMessages(scope: DeviceScope, deviceId: string): Promise<AsyncIterableIterator<DeviceMessage>> {
      validateDeviceId(deviceId);
      await registerDeviceWithWindow(inner, scope, deviceId);
      return liveDeviceMessages(deps.broker, scope.tenantId, deviceId, deps.messageBounds);
    },

    startRecording: (scope: DeviceScope, input: StartRecordingInput): Promise<Recording> =>
      startRecording(inner, scope, input),
    stopRecording: (scope: DeviceScope, id: string): Promise<Recording> => stopRecording(inner, scope, id),
    deleteRecording: (scope: DeviceScope, id: string): Promise<boolean> => deleteRecording(inner, scope, id),
    activeRecording: (device: Device): Promise<Recording | null> =>
      findActiveRecording(deps.db.prisma, device, device.id),
    recording: (scope: DeviceScope, id: string): Promise<Recording | null> =>
      findRecording(deps.db, scope, id),
    recordings: (
      scope: DeviceScope,
      deviceId: string | null | undefined,
      first: number | null | undefined,
      after: string | null | undefined,
      fallbackFirst = 50,
    ): Promise<Page<Recording>> => listRecordings(deps.db, scope, deviceId, first, after, fallbackFirst),
    recordingStats: (recording: Recording) => recordingStats(deps.db, recording),
    recordingMessages: (recording: Recording, first?: number | null, after?: string | null) =>
      recordingMessagesPage(deps.db, recording, first, after),
    importRecording: (scope: DeviceScope, input: ImportRecordingInput, messages: readonly unknown[]) =>
      importRecording(inner, scope, input, messages),
    appendImportedMessages: (scope: DeviceScope, recordingId: string, messages: readonly unknown[]) =>
      appendImportedMessages(deps.db, scope, recordingId, messages),
    replay: (scope: DeviceScope, options: ReplayOptions): Promise<AsyncIterableIterator<ReplayPage>> =>
      openReplay(deps.db, scope, options),

    /**
     * Starts the start-up work in the background, as it may wait on the broker and ingest does
     * not depend on it: buffer windows applied on the broker again, interrupted buffer copies
     * repeated, then the sweeper and the relay on their timers. Failures are logged, not fatal
     * (the next start repeats them). Resolves at once; `stop` waits for the work.
     */
    async start(): Promise<void> {
      startup ??= (async () => {
        try {
          await reapplyBufferWindows(inner);
          await relayOutbox(deps.db, inner.outbox);
          await resumeRecordings(inner);
        } catch (error) {
          log.error({ err: error }, 'device start-up work failed');
        }
        if (stopped) return;
        every(deps.config.devices.sweepIntervalMs, 'recording sweeper', async () => {
          const deleted = await sweepExpiredRecordings(deps.db);
          if (deleted > 0) log.info({ deleted }, 'expired recordings deleted');
        });
        every(RELAY_INTERVAL_MS, 'monitor outbox relay', () => relayOutbox(deps.db, inner.outbox));
      })();
    },
    /** Ends the timers; waits for the start-up work so nothing uses the database after it closes. */
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await startup;
    },
  };
}
