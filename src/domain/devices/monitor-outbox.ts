/**
 * The device outbox: messages of an acknowledged batch whose publish failed part-way. They are
 * published before any newer message of the same device (whoever holds the device row lock
 * flushes them first: the next ingest, startRecording, or the relay below).
 */

import type { Database } from '../../db/create-database.ts';
import { prismaSql, type SqlClient } from '../../db/sql-client.ts';
import { messageOf } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Broker } from '../../pubsub/broker.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { tenantKey, tenantOfKey } from '../viewer.ts';
import type { DeviceScope } from './device-store.ts';

/** One message that still has to reach the broker. */
export interface PendingMonitorMessage {
  readonly seq: number;
  readonly headers: Record<string, string>;
  readonly payload: Uint8Array;
}

/** Keeps messages for the relay; call inside the ingest transaction, before it commits. */
export async function storeInOutbox(
  sql: SqlClient,
  scope: DeviceScope,
  deviceId: string,
  messages: readonly PendingMonitorMessage[],
  error: string,
): Promise<void> {
  // Bytes travel as base64 text: the PGlite driver adapter refuses Buffers for bytea.
  const rows = JSON.stringify(
    messages.map((message) => ({
      seq: message.seq,
      headers: message.headers,
      payload: Buffer.from(message.payload).toString('base64'),
    })),
  );
  await sql.execute(
    `INSERT INTO "MonitorOutbox" ("tenantId", "deviceId", "seq", "headers", "payload", "lastError")
     SELECT $4, $1, r."seq", r."headers", decode(r."payload", 'base64'), $2
     FROM jsonb_to_recordset($3::jsonb) AS r("seq" bigint, "headers" jsonb, "payload" text)`,
    [deviceId, error, rows, tenantKey(scope.tenantId)],
  );
}

/**
 * Publishes the device's outbox in order (up to `limit` messages) and removes what was published.
 * The caller holds the device row lock, so no newer message of the device is published
 * meanwhile. Throws when the broker fails; the transaction then rolls back and the messages stay
 * for the next attempt (at least once, never reordered).
 */
export async function flushOutbox(
  sql: SqlClient,
  broker: Broker,
  scope: DeviceScope,
  deviceId: string,
  limit?: number,
): Promise<number> {
  const pending = await sql.query<{
    seq: bigint | string | number;
    headers: Record<string, string>;
    payload: string;
  }>(
    `SELECT "seq", "headers", encode("payload", 'base64') AS "payload" FROM "MonitorOutbox"
     WHERE "tenantId" = $3 AND "deviceId" = $1 ORDER BY "seq" LIMIT $2`,
    [deviceId, limit ?? 2_147_483_647, tenantKey(scope.tenantId)],
  );
  const last = pending.at(-1);
  if (!last) return 0;
  for (const row of pending) {
    await broker.publish(subjects.monitor(scope.tenantId, deviceId), Buffer.from(row.payload, 'base64'), {
      headers: row.headers,
    });
  }
  await sql.execute(`DELETE FROM "MonitorOutbox" WHERE "tenantId" = $3 AND "deviceId" = $1 AND "seq" <= $2`, [
    deviceId,
    Number(last.seq),
    tenantKey(scope.tenantId),
  ]);
  return pending.length;
}

const RELAY_CHUNK = 200;

/**
 * Flushes every device's outbox in chunks, each in its own transaction under the device row lock,
 * so a failure repeats at most one chunk. Returns how many messages were published.
 */
export async function relayOutbox(db: Database, broker: Broker, log: Logger): Promise<number> {
  const devices = await db.prisma.monitorOutbox.findMany({
    distinct: ['tenantId', 'deviceId'],
    select: { tenantId: true, deviceId: true },
  });
  let total = 0;
  for (const { tenantId, deviceId } of devices) {
    const scope = { tenantId: tenantOfKey(tenantId) };
    try {
      for (;;) {
        const published = await db.prisma.$transaction(
          async (tx) => {
            await tx.$queryRaw`SELECT 1 FROM "Device" WHERE "tenantId" = ${tenantId} AND "id" = ${deviceId} FOR UPDATE`;
            return flushOutbox(prismaSql(tx), broker, scope, deviceId, RELAY_CHUNK);
          },
          { maxWait: 10_000, timeout: 60_000 },
        );
        total += published;
        if (published < RELAY_CHUNK) break;
      }
    } catch (error) {
      log.warn({ err: error, deviceId }, 'monitor outbox: publishing failed; will retry');
      await db.prisma.monitorOutbox.updateMany({
        where: { tenantId, deviceId },
        data: {
          attempts: { increment: 1 },
          lastError: messageOf(error),
        },
      });
    }
  }
  if (total > 0)
    log.info({ published: total }, 'monitor outbox: published messages held back by a broker failure');
  return total;
}
