/**
 * Copies the buffer window in front of a recording's seam. Messages up to `seamSeq` were all
 * published before the recording started (their transactions committed first, under the device
 * row lock), so the retained window holds them; messages after the seam are appended by the
 * ingest path. The two sets are disjoint by sequence: no gap, no duplicate. The copy is
 * idempotent (keyed by sequence), so a restart simply repeats it.
 */
import type { Database } from '../../db/create-database.ts';
import { MONITOR_HEADERS } from '../../formats/monitor-message.ts';
import type { Logger } from '../../log.ts';
import type { Broker } from '../../pubsub/broker.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { BROKER_MESSAGE_PATHS, type BrokerMessageBounds } from '../broker-message-bounds.ts';
import { nextWithin, withSubscription } from './broker-reading.ts';
import { deviceMessageFromBroker } from './device-message.ts';
import {
  insertRecordingMessages,
  type MessageToRecord,
  type Recording,
  recordingKey,
} from './recording-store.ts';

export interface BufferCopyDependencies {
  readonly db: Database;
  readonly broker: Broker;
  readonly log: Logger;
  /** A message another producer put in the window out of bounds is not recorded (logged, counted). */
  readonly messageBounds: BrokerMessageBounds;
}

/**
 * How long the window may stay silent before its retained part is taken as over: only when the
 * seam message itself has aged out of the window is this wait needed at all.
 */
const IDLE_MS = 2_000;
const BATCH = 500;

/** Copies the pre-roll of `recording` from the broker's window into Postgres and marks it done. */
export async function copyBuffer(deps: BufferCopyDependencies, recording: Recording): Promise<number> {
  let copied = 0;
  if (recording.preRollMs > 0 && recording.seamSeq > 0) {
    const from = new Date(recording.startedAt.getTime() - recording.preRollMs);
    copied = await withSubscription(
      deps.broker.subscribe(subjects.monitor(recording.tenantId, recording.deviceId), {
        from: { time: from },
      }),
      async (iterator) => {
        let batch: MessageToRecord[] = [];
        let total = 0;
        const flush = async () => {
          total += await insertRecordingMessages(deps.db.prisma, recording, batch, {
            skipDuplicates: true,
          });
          batch = [];
        };
        for (;;) {
          const message = await nextWithin(iterator, IDLE_MS);
          if (!message) break;
          const deviceMessage = deviceMessageFromBroker(recording.deviceId, message);
          const { seq } = deviceMessage;
          if (seq > recording.seamSeq) break; // live traffic past the seam: the ingest path has it
          if (seq === 0) continue; // not from streamgate's ingest: no place in the sequence
          if (!deps.messageBounds.admits(BROKER_MESSAGE_PATHS.DEVICE, message.subject, deviceMessage.data)) {
            if (seq === recording.seamSeq) break;
            continue;
          }
          batch.push({
            seq,
            time: { date: deviceMessage.timestamp },
            eventId: deviceMessage.eventId ?? '',
            type: deviceMessage.type ?? '',
            symbol: deviceMessage.symbol ?? '',
            headers: { ...deviceMessage.headers, [MONITOR_HEADERS.seq]: String(seq) },
            data: deviceMessage.data,
          });
          if (batch.length >= BATCH) await flush();
          if (seq === recording.seamSeq) break;
        }
        await flush();
        return total;
      },
    );
  }
  await deps.db.prisma.recording.updateMany({
    where: recordingKey(recording).tenantId_id,
    data: { bufferCopiedAt: new Date() },
  });
  deps.log.debug({ recordingId: recording.id, copied }, 'buffer window copied into the recording');
  return copied;
}
