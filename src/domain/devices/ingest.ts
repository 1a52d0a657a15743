/**
 * Monitor ingest: the one path by which device messages enter (POST /monitor/{device} and the
 * `ingest` mutation). Guarantees, per request (docs/devices.md):
 * - every event is validated before anything happens; a bad one fails the request, naming it;
 * - sequences are allocated under the device row lock, so concurrent ingests never share one;
 * - the messages are appended to the device's active recording in the same transaction that
 *   allocates their sequences, and that transaction commits only after the broker took them:
 *   an acknowledged message is in the recording, whatever happens to the process or the broker;
 * - all or nothing on the broker: if nothing could be published the transaction rolls back (503,
 *   nothing recorded, no sequence used); if the broker fails part-way, the unpublished rest is
 *   kept in the device outbox and published before any newer message of the device;
 * - a message the broker refuses for good (over a stream's limit, not permitted) is no outage:
 *   a batch refused whole that way is answered with that refusal (4xx, nothing accepted); a
 *   refused part of a batch the broker took is kept as a dead letter (monitor-outbox.ts), never
 *   in the outbox, where it would stop every newer message of the device.
 */
import type { Config } from '../../config/config.ts';
import type { Database } from '../../db/create-database.ts';
import { NotFoundError, UnavailableError } from '../../errors.ts';
import { type MonitorTime, monitorHeaders, monitorTimeOf } from '../../formats/monitor-message.ts';
import type { Logger } from '../../log.ts';
import type { Broker, MessageToPublish, PublishOutcome } from '../../pubsub/broker.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { tenantKey } from '../viewer.ts';
import { assertBrokerTakes } from './broker-message-limit.ts';
import type { DeviceScope } from './device-store.ts';
import { type MonitorEvent, validateDeviceId, validateMonitorEvents } from './monitor-event.ts';
import { flushOutbox, type Outbox, type PendingMonitorMessage } from './monitor-outbox.ts';
import { keepUnpublished, refusalOfBatch } from './publish-failures.ts';
import { insertRecordingMessages, RECORDING_STATUS } from './recording-store.ts';

export interface IngestDependencies {
  readonly db: Database;
  readonly broker: Broker;
  readonly log: Logger;
  readonly config: Config['devices'];
  readonly outbox: Outbox;
}

/** What an ingest answers (PublishResult). */
export interface IngestResult {
  readonly accepted: number;
  /** Broker position of the last message, when the broker has one. */
  readonly position: string | null;
}

/** One message ready to publish (as it is: no copy per message for the broker) and record. */
export interface PreparedMessage extends PendingMonitorMessage {
  readonly subject: string;
  readonly handedOver: MessageToPublish['handedOver'];
  readonly time: MonitorTime;
  readonly eventId: string;
  readonly type: string;
  readonly symbol: string;
  readonly data: unknown;
  /** `data` as JSON text: the payload's text, recorded as the row's data. */
  readonly dataJson: string;
}

interface AllocatedDevice {
  /** int8: a string, bigint or number depending on the driver. */
  readonly lastSeq: bigint | string | number;
  readonly created: boolean;
  readonly bufferWindowMs: number | null;
}

/** Ingests monitor events for a device; see the guarantees above. */
export async function ingestMonitorEvents(
  deps: IngestDependencies,
  scope: DeviceScope,
  deviceId: string,
  rawEvents: readonly unknown[],
): Promise<IngestResult> {
  validateDeviceId(deviceId);
  const events = validateMonitorEvents(rawEvents);
  if (events.length === 0) return { accepted: 0, position: null };
  // Fail fast and whole while the broker is known to be down: nothing is published or written.
  const health = deps.broker.health();
  if (health.status !== 'connected') {
    throw new UnavailableError(`the broker is ${health.status}; nothing was accepted, retry later`);
  }
  // The JSON text serves twice: published as the payload, recorded as the row's data.
  const texts = events.map((event) => JSON.stringify(event.data));
  assertBrokerTakes(deps.broker, deviceId, events, texts);
  const ingestTime = monitorTimeOf(new Date());
  const count = events.length;

  // Plain SQL (src/db/sql-client.ts): three statements per request whatever its size, and
  // Prisma's per-query cost was most of the server's CPU per event.
  return deps.db.transaction(async (sql) => {
    // The upsert takes the device row lock until commit: this serializes ingests, recording
    // starts and stops of one device, across instances. The pending check is a statement of its
    // own, after the upsert: it must see a recording start or an outbox row committed while this
    // transaction waited for the lock (the upsert's snapshot is older). Both go in one round trip
    // (with BEGIN): Postgres starts the second, and takes its snapshot, once the first is done.
    // Both are prepared once per connection (named): Postgres plans them once, not per request.
    const [allocated, checked] = await sql.queryEach([
      {
        name: 'streamgate_monitor_allocate',
        text: ALLOCATE,
        params: [
          deviceId,
          tenantKey(scope.tenantId),
          ingestTime.date.toISOString(),
          count,
          deps.config.bufferWindowDefaultMs,
        ],
      },
      {
        name: 'streamgate_monitor_pending',
        text: PENDING,
        params: [deviceId, RECORDING_STATUS.RECORDING, tenantKey(scope.tenantId)],
      },
    ]);
    const device = allocated?.[0] as AllocatedDevice | undefined;
    if (!device) throw new NotFoundError('device', deviceId);
    const firstSeq = Number(device.lastSeq) - count + 1;
    const subject = subjects.monitor(scope.tenantId, deviceId);
    const messages: PreparedMessage[] = new Array(count);
    for (let index = 0; index < count; index++) {
      const event = events[index] as MonitorEvent;
      const seq = firstSeq + index;
      const time = event.timestamp ?? ingestTime;
      const headers = monitorHeaders(deviceId, event, time, seq);
      const dataJson = texts[index] as string;
      messages[index] = {
        subject,
        seq,
        time,
        headers,
        payload: Buffer.from(dataJson, 'utf8'),
        // Built here for this message only and never changed: the memory broker keeps these
        // headers and bytes in the device's window as they are.
        handedOver: true,
        dataJson,
        eventId: headers['X-Monitor-Id'],
        type: event.type,
        symbol: event.symbol,
        data: event.data,
      };
    }

    if (device.created && device.bufferWindowMs !== null) {
      await deps.broker.retain(subjects.monitor(scope.tenantId, deviceId), {
        maxAgeMs: device.bufferWindowMs,
      });
    }
    const pending = checked?.[0] as { recordingId: string | null; hasOutbox: boolean } | undefined;
    // Messages held back by an earlier broker failure go first, so the device's order holds.
    if (pending?.hasOutbox) await flushOutbox(sql, deps.outbox, scope, deviceId);
    if (pending?.recordingId)
      await insertRecordingMessages(sql, { tenantId: scope.tenantId, id: pending.recordingId }, messages);

    // In order as one batch: the broker pipelines it and awaits the acks together.
    const receipts = await deps.broker.publishMany(messages);
    const failed = messages.filter((_, index) => receipts[index]?.status === 'rejected');
    if (failed.length === count) {
      const refused = refusalOfBatch(receipts);
      if (refused) throw refused;
      const reason = firstRejection(receipts);
      throw new UnavailableError('the broker did not take the messages; nothing was accepted, retry later', {
        cause: reason,
      });
    }
    if (failed.length > 0) await keepUnpublished(sql, deps, scope, deviceId, messages, receipts);
    return { accepted: count, position: lastPosition(receipts) };
  });
}

/**
 * Registers the tenant's device or allocates `count` sequences; holds the device row lock until
 * commit. Keyed by (tenant, id): another tenant's device of the same id is another row.
 */
const ALLOCATE = `
  INSERT INTO "Device" ("id", "tenantId", "firstSeenAt", "lastSeenAt", "messageCount", "lastSeq", "bufferWindowMs")
  VALUES ($1, $2::text, $3::timestamp(3), $3::timestamp(3), $4, $4, $5::integer)
  ON CONFLICT ("tenantId", "id") DO UPDATE SET
    "lastSeq" = "Device"."lastSeq" + $4,
    "messageCount" = "Device"."messageCount" + $4,
    "lastSeenAt" = $3::timestamp(3)
  RETURNING "lastSeq", (xmax = 0) AS "created", "bufferWindowMs"`;

/** The device's active recording and whether its outbox holds messages. */
const PENDING = `
  SELECT
    (SELECT "id" FROM "Recording" WHERE "tenantId" = $3 AND "deviceId" = $1 AND "status" = $2 LIMIT 1)
      AS "recordingId",
    EXISTS (SELECT 1 FROM "MonitorOutbox" WHERE "tenantId" = $3 AND "deviceId" = $1) AS "hasOutbox"`;

function firstRejection(results: readonly PromiseSettledResult<unknown>[]): unknown {
  for (const result of results) if (result.status === 'rejected') return result.reason;
  return undefined;
}

function lastPosition(results: readonly PublishOutcome[]): string | null {
  for (let index = results.length - 1; index >= 0; index--) {
    const result = results[index];
    if (result?.status === 'fulfilled') return result.value.position ?? null;
  }
  return null;
}
