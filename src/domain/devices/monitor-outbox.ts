/**
 * The device outbox: messages of an acknowledged batch whose publish failed part-way. They are
 * published before any newer message of the same device (whoever holds the device row lock
 * flushes them first: the next ingest, startRecording, or the relay below).
 *
 * A message the broker refuses for good (pubsub/errors.ts `isPermanentRefusal`: over a stream's
 * max_msg_size, not permitted) is moved to the dead letters instead, with why: published again
 * before every newer message of its device, it would have failed them all, for good. So is one
 * that failed `maxAttempts` times while the broker was connected (an error no backend
 * classifies). Nothing is lost: the dead letter keeps payload, headers and reason (and the
 * message is in the device's recording when one was running); docs/devices.md tells operators
 * how to read and drop them.
 */

import type { Counter } from 'prom-client';
import type { Database } from '../../db/create-database.ts';
import { prismaSql, type SqlClient } from '../../db/sql-client.ts';
import { AppError, messageOf, UnavailableError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import type { Broker } from '../../pubsub/broker.ts';
import { isPermanentRefusal } from '../../pubsub/errors.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { tenantKey, tenantOfKey } from '../viewer.ts';
import type { DeviceScope } from './device-store.ts';

/** One message that still has to reach the broker. */
export interface PendingMonitorMessage {
  readonly seq: number;
  readonly headers: Record<string, string>;
  readonly payload: Uint8Array;
}

/** What the outbox works with besides the transaction. */
export interface Outbox {
  readonly broker: Broker;
  readonly log: Logger;
  /**
   * Failures of one message, counted by the relay while the broker is connected, after which its
   * next failure makes it a dead letter (MONITOR_OUTBOX_MAX_ATTEMPTS).
   */
  readonly maxAttempts: number;
  /** Messages moved to the dead letters, by why: `refused` (the broker said so) or `attempts`. */
  readonly deadLetters: Counter<'reason'>;
}

export type DeadLetterCause = 'refused' | 'attempts';

export function createOutbox(broker: Broker, log: Logger, metrics: Metrics, maxAttempts: number): Outbox {
  const deadLetters = metrics.counter({
    name: 'monitor_outbox_dead_letters_total',
    help: 'Device messages the broker refused for good (refused) or that failed too often (attempts), moved out of the device outbox to the dead letters.',
    labelNames: ['reason'],
  });
  return { broker, log, maxAttempts, deadLetters };
}

/**
 * The broker did not take a message of the device's outbox, for now: the device's newer messages
 * wait behind it (503). `seq` names the message, for the relay's attempt count.
 */
export class OutboxBlockedError extends UnavailableError {
  readonly seq: number;
  constructor(seq: number, cause: unknown) {
    const why = cause instanceof AppError ? `: ${cause.message}` : '';
    super(`an earlier message of the device is still waiting for the broker${why}; retry later`, { cause });
    this.seq = seq;
  }
}

/** Keeps messages for the relay; call inside the ingest transaction, before it commits. */
export async function storeInOutbox(
  sql: SqlClient,
  scope: DeviceScope,
  deviceId: string,
  messages: readonly PendingMonitorMessage[],
  error: string,
): Promise<void> {
  await sql.execute(
    `INSERT INTO "MonitorOutbox" ("tenantId", "deviceId", "seq", "headers", "payload", "lastError")
     SELECT $4, $1, r."seq", r."headers", decode(r."payload", 'base64'), $2
     FROM jsonb_to_recordset($3::jsonb) AS r("seq" bigint, "headers" jsonb, "payload" text)`,
    [deviceId, error, recordSet(messages), tenantKey(scope.tenantId)],
  );
}

/**
 * Keeps messages of a fresh batch that the broker refused for good as dead letters (never in the
 * outbox: nothing would ever publish them); inside the ingest transaction. Logged and counted.
 */
export async function storeDeadLetters(
  sql: SqlClient,
  outbox: Outbox,
  scope: DeviceScope,
  deviceId: string,
  messages: readonly PendingMonitorMessage[],
  reason: string,
): Promise<void> {
  await sql.execute(
    `INSERT INTO "MonitorDeadLetter" ("tenantId", "deviceId", "seq", "headers", "payload", "attempts", "reason")
     SELECT $4, $1, r."seq", r."headers", decode(r."payload", 'base64'), 1, $2
     FROM jsonb_to_recordset($3::jsonb) AS r("seq" bigint, "headers" jsonb, "payload" text)
     ON CONFLICT ("tenantId", "deviceId", "seq") DO NOTHING`,
    [deviceId, reason, recordSet(messages), tenantKey(scope.tenantId)],
  );
  for (const message of messages) told(outbox, scope, deviceId, message.seq, 'refused', reason);
}

/** The messages as a JSON record set; bytes as base64 text (the PGlite driver adapter refuses Buffers for bytea). */
function recordSet(messages: readonly PendingMonitorMessage[]): string {
  return JSON.stringify(
    messages.map((message) => ({
      seq: message.seq,
      headers: message.headers,
      payload: Buffer.from(message.payload).toString('base64'),
    })),
  );
}

/**
 * Publishes the device's outbox in order (up to `limit` messages) and removes what was published;
 * a message the broker refuses for good (or that failed too often) becomes a dead letter and the
 * next one goes on. The caller holds the device row lock, so no newer message of the device is
 * published meanwhile. Throws OutboxBlockedError when the broker fails for now; the transaction
 * then rolls back and the messages stay for the next attempt (at least once, never reordered).
 * Returns how many messages it took out of the outbox.
 */
export async function flushOutbox(
  sql: SqlClient,
  outbox: Outbox,
  scope: DeviceScope,
  deviceId: string,
  limit?: number,
): Promise<number> {
  const tenant = tenantKey(scope.tenantId);
  const pending = await sql.query<{
    seq: bigint | string | number;
    headers: Record<string, string>;
    payload: string;
    attempts: number;
  }>(
    `SELECT "seq", "headers", encode("payload", 'base64') AS "payload", "attempts" FROM "MonitorOutbox"
     WHERE "tenantId" = $3 AND "deviceId" = $1 ORDER BY "seq" LIMIT $2`,
    [deviceId, limit ?? 2_147_483_647, tenant],
  );
  const last = pending.at(-1);
  if (!last) return 0;
  const subject = subjects.monitor(scope.tenantId, deviceId);
  const dead: Array<{ seq: number; cause: DeadLetterCause; reason: string }> = [];
  for (const row of pending) {
    const seq = Number(row.seq);
    try {
      await outbox.broker.publish(subject, Buffer.from(row.payload, 'base64'), { headers: row.headers });
    } catch (error) {
      const cause = deadLetterCause(outbox, row.attempts, error);
      if (cause === undefined) throw new OutboxBlockedError(seq, error);
      const reason =
        cause === 'refused'
          ? messageOf(error)
          : `failed ${row.attempts + 1} times while the broker was connected; last: ${messageOf(error)}`;
      await sql.execute(MOVE_TO_DEAD_LETTERS, [tenant, deviceId, seq, reason]);
      dead.push({ seq, cause, reason });
    }
  }
  await sql.execute(`DELETE FROM "MonitorOutbox" WHERE "tenantId" = $3 AND "deviceId" = $1 AND "seq" <= $2`, [
    deviceId,
    Number(last.seq),
    tenant,
  ]);
  // Told once the whole chunk went through (a later failure rolls the moves back, to be redone).
  for (const { seq, cause, reason } of dead) told(outbox, scope, deviceId, seq, cause, reason);
  return pending.length;
}

/** Why a failed outbox message is a dead letter now; undefined: it is tried again later. */
function deadLetterCause(outbox: Outbox, attempts: number, error: unknown): DeadLetterCause | undefined {
  if (isPermanentRefusal(error)) return 'refused';
  if (attempts >= outbox.maxAttempts && outbox.broker.health().status === 'connected') return 'attempts';
  return undefined;
}

const MOVE_TO_DEAD_LETTERS = `
  WITH moved AS (
    DELETE FROM "MonitorOutbox" WHERE "tenantId" = $1 AND "deviceId" = $2 AND "seq" = $3
    RETURNING "tenantId", "deviceId", "seq", "headers", "payload", "createdAt", "attempts"
  )
  INSERT INTO "MonitorDeadLetter" ("tenantId", "deviceId", "seq", "headers", "payload", "createdAt", "attempts", "reason")
  SELECT "tenantId", "deviceId", "seq", "headers", "payload", "createdAt", "attempts" + 1, $4 FROM moved
  ON CONFLICT ("tenantId", "deviceId", "seq") DO NOTHING`;

function told(
  outbox: Outbox,
  scope: DeviceScope,
  deviceId: string,
  seq: number,
  cause: DeadLetterCause,
  reason: string,
): void {
  outbox.deadLetters.inc({ reason: cause });
  outbox.log.warn(
    { tenantId: scope.tenantId, deviceId, seq, reason },
    cause === 'refused'
      ? 'monitor message refused by the broker for good; kept as a dead letter, the device goes on'
      : 'monitor message failed too often; kept as a dead letter, the device goes on',
  );
}

const RELAY_CHUNK = 200;

/**
 * Flushes every device's outbox in chunks, each in its own transaction under the device row lock,
 * so a failure repeats at most one chunk. A message that failed while the broker was connected
 * counts one attempt (see Outbox.maxAttempts). Returns how many messages left the outbox.
 */
export async function relayOutbox(db: Database, outbox: Outbox): Promise<number> {
  // Plain SQL: this runs every second on an idle server too, where Prisma's per-query CPU was
  // a burst that delayed whatever the server was delivering at that moment.
  const devices = await db.sql.query<{ tenantId: string; deviceId: string }>(
    'SELECT DISTINCT "tenantId", "deviceId" FROM "MonitorOutbox"',
  );
  let total = 0;
  for (const { tenantId, deviceId } of devices) {
    const scope = { tenantId: tenantOfKey(tenantId) };
    try {
      for (;;) {
        const flushed = await db.prisma.$transaction(
          async (tx) => {
            await tx.$queryRaw`SELECT 1 FROM "Device" WHERE "tenantId" = ${tenantId} AND "id" = ${deviceId} FOR UPDATE`;
            return flushOutbox(prismaSql(tx), outbox, scope, deviceId, RELAY_CHUNK);
          },
          { maxWait: 10_000, timeout: 60_000 },
        );
        total += flushed;
        if (flushed < RELAY_CHUNK) break;
      }
    } catch (error) {
      outbox.log.warn({ err: error, deviceId }, 'monitor outbox: publishing failed; will retry');
      const connected = outbox.broker.health().status === 'connected';
      await db.prisma.monitorOutbox.updateMany({
        where: {
          tenantId,
          deviceId,
          ...(error instanceof OutboxBlockedError ? { seq: BigInt(error.seq) } : {}),
        },
        data: {
          ...(connected && error instanceof OutboxBlockedError ? { attempts: { increment: 1 } } : {}),
          lastError: messageOf(error instanceof OutboxBlockedError ? error.cause : error),
        },
      });
    }
  }
  if (total > 0)
    outbox.log.info({ handled: total }, 'monitor outbox: messages held back by a broker failure left it');
  return total;
}
