/**
 * Imports a recording exported as JSONL (formats/recording-jsonl.ts): `importRecording` creates a stopped
 * recording with the first chunk of messages, `appendImportedMessages` adds the next chunks, so a
 * large export travels in requests of bounded size.
 */
import type { Database } from '../../db/create-database.ts';
import { BadUserInputError, NotFoundError } from '../../errors.ts';
import { headerOf, MONITOR_HEADERS, parseRfc3339 } from '../../formats/monitor-message.ts';
import { parseMessageHeaders, type RecordedMessage } from '../../formats/recording-jsonl.ts';
import { tenantKey } from '../viewer.ts';
import { registerDeviceWithWindow } from './buffer-window.ts';
import type { DeviceScope } from './device-store.ts';
import { validateDeviceId } from './monitor-event.ts';
import { isPrismaUniqueViolation } from './prisma-errors.ts';
import {
  findRecording,
  insertRecordingMessages,
  type MessageToRecord,
  messagesOf,
  RECORDING_STATUS,
  type Recording,
  recordingKey,
  toRecording,
} from './recording-store.ts';
import {
  newRecordingId,
  type RecordingDependencies,
  retentionOrDefault,
  validateRecordingId,
} from './recordings.ts';

export interface ImportRecordingInput {
  readonly id?: string | null;
  readonly deviceId: string;
  readonly retentionMs?: number | null;
  readonly note?: string | null;
  /** @default the first message's time, else now */
  readonly startedAt?: Date | null;
  /** @default the last message's time, else now */
  readonly stoppedAt?: Date | null;
}

/**
 * Turns message lines into rows. Sequence: the line's X-Monitor-Seq when it continues the order,
 * else the next number, so that an export of any origin keeps its line order.
 */
function toRows(messages: readonly unknown[], lastSeq: number, deviceId: string): MessageToRecord[] {
  let seq = lastSeq;
  return messages.map((raw, index) => {
    const where = `message ${index}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new BadUserInputError(`${where}: not an object`, { details: { index } });
    }
    const line = raw as Partial<RecordedMessage>;
    const headers = parseMessageHeaders(line.headers ?? {}, where);
    const stamp = headerOf(headers, MONITOR_HEADERS.timestamp);
    const time = stamp === undefined ? undefined : parseRfc3339(stamp);
    if (!time) {
      throw new BadUserInputError(
        `${where}: header ${MONITOR_HEADERS.timestamp} must be an RFC3339 date-time`,
        {
          details: { index },
        },
      );
    }
    const own = Number(headerOf(headers, MONITOR_HEADERS.seq));
    seq = Number.isSafeInteger(own) && own > seq ? own : seq + 1;
    return {
      seq,
      time,
      eventId: headerOf(headers, MONITOR_HEADERS.id) ?? '',
      type: headerOf(headers, MONITOR_HEADERS.type) ?? '',
      symbol: headerOf(headers, MONITOR_HEADERS.symbol) ?? '',
      headers: { ...headers, [MONITOR_HEADERS.device]: deviceId },
      data: line.data ?? null,
    };
  });
}

/**
 * Creates a stopped recording from exported messages. Its retention counts from the import (not
 * from the original stop), so an old export is not swept at once.
 */
export async function importRecording(
  deps: RecordingDependencies,
  scope: DeviceScope,
  input: ImportRecordingInput,
  messages: readonly unknown[],
): Promise<Recording> {
  const deviceId = validateDeviceId(input.deviceId);
  const id = input.id == null || input.id === '' ? newRecordingId() : validateRecordingId(input.id);
  const retentionMs = retentionOrDefault(deps.config, input.retentionMs);
  const rows = toRows(messages, 0, deviceId);
  await registerDeviceWithWindow(deps, scope, deviceId);
  const now = new Date();
  try {
    const row = await deps.db.prisma.$transaction(async (tx) => {
      const created = await tx.recording.create({
        data: {
          id,
          deviceId,
          tenantId: tenantKey(scope.tenantId),
          status: RECORDING_STATUS.STOPPED,
          startedAt: input.startedAt ?? rows[0]?.time.date ?? now,
          stoppedAt: input.stoppedAt ?? rows.at(-1)?.time.date ?? now,
          retentionMs: BigInt(retentionMs),
          expiresAt: new Date(now.getTime() + retentionMs),
          note: input.note ?? null,
          bufferCopiedAt: now,
          imported: true,
        },
      });
      await insertRecordingMessages(tx, { tenantId: scope.tenantId, id }, rows);
      return created;
    });
    return toRecording(row);
  } catch (error) {
    if (isPrismaUniqueViolation(error)) {
      throw new BadUserInputError(`recording "${id}" already exists`, { details: { recordingId: id } });
    }
    throw error;
  }
}

/** Appends the next chunk of exported messages to an imported recording. */
export async function appendImportedMessages(
  db: Database,
  scope: DeviceScope,
  recordingId: string,
  messages: readonly unknown[],
): Promise<Recording> {
  const recording = await findRecording(db, scope, recordingId);
  if (!recording) throw new NotFoundError('recording', recordingId);
  if (!recording.imported) {
    throw new BadUserInputError(
      `recording "${recordingId}" was not imported; only imported recordings take appended messages`,
    );
  }
  await db.prisma.$transaction(async (tx) => {
    const last = await tx.recordingMessage.findFirst({
      where: messagesOf(recording),
      orderBy: { seq: 'desc' },
      select: { seq: true },
    });
    const rows = toRows(messages, Number(last?.seq ?? 0n), recording.deviceId);
    await insertRecordingMessages(tx, recording, rows);
    const lastTime = rows.at(-1)?.time.date;
    if (lastTime && recording.stoppedAt && lastTime > recording.stoppedAt) {
      await tx.recording.update({ where: recordingKey(recording), data: { stoppedAt: lastTime } });
    }
  });
  const updated = await db.prisma.recording.findUnique({ where: recordingKey(recording) });
  if (!updated) throw new NotFoundError('recording', recordingId);
  return toRecording(updated);
}
