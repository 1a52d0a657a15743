/**
 * Recording lifecycle: start (with the seam and the buffer copy), stop, delete, the retention
 * sweeper, resuming after a restart, and importing exported recordings.
 *
 * Durability (docs/devices.md): a recording does not consume the broker. The ingest path appends
 * every message to the device's active recording in the transaction that allocates its sequence,
 * before acknowledging, so a restart of streamgate or of the broker cannot lose an acknowledged
 * message, and any number of instances can ingest for one recording.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config/config.ts';
import { formatDuration } from '../../config/duration.ts';
import type { Database } from '../../db/create-database.ts';
import { prismaSql } from '../../db/sql-client.ts';
import { BadUserInputError, NotFoundError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Broker } from '../../pubsub/broker.ts';
import type { BrokerMessageBounds } from '../broker-message-bounds.ts';
import { tenantKey } from '../viewer.ts';
import { copyBuffer } from './buffer-copy.ts';
import { PUBLISH_LAG_ALLOWANCE_MS, registerDeviceWithWindow } from './buffer-window.ts';
import type { DeviceScope } from './device-store.ts';
import { validateDeviceId } from './monitor-event.ts';
import { flushOutbox, type Outbox } from './monitor-outbox.ts';
import { isPrismaUniqueViolation } from './prisma-errors.ts';
import {
  findActiveRecording,
  findRecording,
  RECORDING_STATUS,
  type Recording,
  recordingKey,
  toRecording,
} from './recording-store.ts';

export interface RecordingDependencies {
  readonly db: Database;
  readonly broker: Broker;
  readonly log: Logger;
  readonly config: Config['devices'];
  readonly messageBounds: BrokerMessageBounds;
  readonly outbox: Outbox;
}

export interface StartRecordingInput {
  readonly deviceId: string;
  /** Kept this long after stopping. @default RECORDING_RETENTION_DEFAULT */
  readonly retentionMs?: number | null;
  /** Copy the buffer window first. @default true */
  readonly includeBuffer?: boolean | null;
  /** Copy only this much of the window (the legacy RPC's pre_roll); at most the window. @default the whole window */
  readonly preRollMs?: number | null;
  /** The recording id (the legacy session_id); generated when absent. */
  readonly id?: string | null;
  readonly note?: string | null;
}

/** @default 200: longest recording id a client may choose. */
const MAX_RECORDING_ID_LENGTH = 200;

/** Throws BAD_USER_INPUT unless `id` can name a recording. */
export function validateRecordingId(id: string): string {
  if (id.length === 0 || id.length > MAX_RECORDING_ID_LENGTH || /[\s\p{Cc}]/u.test(id)) {
    throw new BadUserInputError(
      `recording id "${id}" must be 1 to ${MAX_RECORDING_ID_LENGTH} characters without white space`,
    );
  }
  return id;
}

/** Checks a retention, or returns the configured default. */
export function retentionOrDefault(
  config: Config['devices'],
  retentionMs: number | null | undefined,
): number {
  if (retentionMs == null) return config.retentionDefaultMs;
  if (retentionMs <= 0) throw new BadUserInputError('retention must be longer than 0');
  return retentionMs;
}

/** A new recording id. */
export function newRecordingId(): string {
  return `rec_${randomUUID()}`;
}

/**
 * Starts recording a device. Under the device row lock: one active recording per device, and the
 * seam (the device's last sequence) is fixed; then the buffer copy fills in what came before.
 */
export async function startRecording(
  deps: RecordingDependencies,
  scope: DeviceScope,
  input: StartRecordingInput,
): Promise<Recording> {
  const deviceId = validateDeviceId(input.deviceId);
  const retentionMs = retentionOrDefault(deps.config, input.retentionMs);
  const id = input.id == null ? newRecordingId() : validateRecordingId(input.id);
  if (input.preRollMs != null && input.preRollMs < 0)
    throw new BadUserInputError('preRoll may not be negative');
  if (input.id != null) {
    // Ids are scoped per tenant: only the caller's tenant's recordings can hold this one.
    const existing = await deps.db.prisma.recording.findUnique({
      where: recordingKey({ tenantId: scope.tenantId, id }),
      select: { status: true },
    });
    if (existing) {
      throw new BadUserInputError(
        existing.status === RECORDING_STATUS.RECORDING
          ? `recording "${id}" is already running`
          : `recording "${id}" already exists`,
        { details: { recordingId: id } },
      );
    }
  }
  await registerDeviceWithWindow(deps, scope, deviceId);
  const tenant = tenantKey(scope.tenantId);

  const recording = await deps.db.prisma
    .$transaction(
      async (tx) => {
        const [device] = await tx.$queryRaw<
          Array<{ lastSeq: bigint; lastSeenAt: Date | null; bufferWindowMs: number | null }>
        >`SELECT "lastSeq", "lastSeenAt", "bufferWindowMs" FROM "Device"
          WHERE "tenantId" = ${tenant} AND "id" = ${deviceId} FOR UPDATE`;
        if (!device) throw new NotFoundError('device', deviceId);
        const active = await findActiveRecording(tx, scope, deviceId);
        if (active) {
          throw new BadUserInputError(
            `device "${deviceId}" is already recording (recording "${active.id}")`,
            {
              details: { activeRecordingId: active.id },
            },
          );
        }
        const window = device.bufferWindowMs;
        let preRollMs = 0;
        if (input.includeBuffer !== false) {
          if (input.preRollMs != null && input.preRollMs > (window ?? 0)) {
            throw new BadUserInputError(
              window === null
                ? `pre-roll ${formatDuration(input.preRollMs)}: device "${deviceId}" has no buffer window`
                : `pre-roll ${formatDuration(input.preRollMs)} exceeds the buffer window ${formatDuration(window)}`,
            );
          }
          preRollMs = input.preRollMs ?? window ?? 0;
        }
        // Everything up to the seam must be on the broker before the buffer is read.
        await flushOutbox(prismaSql(tx), deps.outbox, scope, deviceId);
        const startedAt = new Date();
        const nothingToCopy =
          preRollMs === 0 ||
          device.lastSeq === 0n ||
          device.lastSeenAt === null ||
          device.lastSeenAt.getTime() < startedAt.getTime() - preRollMs - PUBLISH_LAG_ALLOWANCE_MS;
        const row = await tx.recording.create({
          data: {
            id,
            deviceId,
            tenantId: tenant,
            status: RECORDING_STATUS.RECORDING,
            startedAt,
            retentionMs: BigInt(retentionMs),
            note: input.note ?? null,
            seamSeq: device.lastSeq,
            preRollMs,
            bufferCopiedAt: nothingToCopy ? startedAt : null,
          },
        });
        return toRecording(row);
      },
      { maxWait: 10_000, timeout: 30_000 },
    )
    .catch((error: unknown) => {
      // Two starts with the same explicit id raced past the check above.
      if (isPrismaUniqueViolation(error)) {
        throw new BadUserInputError(`recording "${id}" already exists`, { details: { recordingId: id } });
      }
      throw error;
    });
  if (!recording.bufferCopied) await copyBuffer(deps, recording);
  deps.log.info({ recordingId: recording.id, deviceId }, 'recording started');
  return { ...recording, bufferCopied: true };
}

/**
 * Stops a recording: finishes its buffer copy if a restart interrupted it, then, under the device
 * row lock (after every ingest already recording into it), sets stoppedAt and expiresAt. Stopping
 * a stopped recording returns it unchanged.
 */
export async function stopRecording(
  deps: RecordingDependencies,
  scope: DeviceScope,
  id: string,
): Promise<Recording> {
  const recording = await findRecording(deps.db, scope, id);
  if (!recording) throw new NotFoundError('recording', id);
  if (recording.status === RECORDING_STATUS.STOPPED) return recording;
  if (!recording.bufferCopied) await copyBuffer(deps, recording);
  const stopped = await deps.db.prisma.$transaction(
    async (tx) => {
      const tenant = tenantKey(recording.tenantId);
      await tx.$queryRaw`SELECT 1 FROM "Device" WHERE "tenantId" = ${tenant} AND "id" = ${recording.deviceId} FOR UPDATE`;
      const stoppedAt = new Date();
      await tx.recording.updateMany({
        where: { tenantId: tenant, id, status: RECORDING_STATUS.RECORDING },
        data: {
          status: RECORDING_STATUS.STOPPED,
          stoppedAt,
          expiresAt: new Date(stoppedAt.getTime() + recording.retentionMs),
        },
      });
      return tx.recording.findUnique({ where: recordingKey(recording) });
    },
    { maxWait: 10_000, timeout: 30_000 },
  );
  if (!stopped) throw new NotFoundError('recording', id);
  deps.log.info({ recordingId: id, deviceId: recording.deviceId }, 'recording stopped');
  return toRecording(stopped);
}

/** Deletes a recording and its messages (an active one stops recording). */
export async function deleteRecording(
  deps: RecordingDependencies,
  scope: DeviceScope,
  id: string,
): Promise<boolean> {
  const recording = await findRecording(deps.db, scope, id);
  if (!recording) throw new NotFoundError('recording', id);
  await deps.db.prisma.recording.deleteMany({ where: recordingKey(recording).tenantId_id });
  return true;
}

/** Deletes the recordings whose retention has passed; returns how many. */
export async function sweepExpiredRecordings(db: Database, now = new Date()): Promise<number> {
  const { count } = await db.prisma.recording.deleteMany({
    where: { status: RECORDING_STATUS.STOPPED, expiresAt: { lt: now } },
  });
  return count;
}

/**
 * Resumes the recordings that were running when streamgate stopped. Their live part needs
 * nothing (the ingest path records it); a buffer copy that a restart cut short is repeated.
 */
export async function resumeRecordings(deps: RecordingDependencies): Promise<number> {
  const rows = await deps.db.prisma.recording.findMany({
    where: { status: RECORDING_STATUS.RECORDING, bufferCopiedAt: null },
  });
  for (const row of rows) await copyBuffer(deps, toRecording(row));
  const running = await deps.db.prisma.recording.count({ where: { status: RECORDING_STATUS.RECORDING } });
  if (running > 0) deps.log.info({ running, bufferCopiesRepeated: rows.length }, 'recordings resumed');
  return running;
}
