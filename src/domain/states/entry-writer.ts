import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/create-database.ts';
import { PayloadTooLargeError } from '../../errors.ts';
import { inTenant, subjects } from '../../pubsub/subjects.ts';
import type { Route } from '../routes/route-matching.ts';
import { tenantKey } from '../viewer.ts';
import { encodeEntryMessage, type JsonObject } from './state-messages.ts';

/** One batch to persist: entries already validated. */
export interface EntryBatch {
  readonly stateId: string;
  readonly sessionId: string | null;
  readonly entries: readonly JsonObject[];
  /** The caller's tenant: the state is the tenant's state of that id, created in it if new. */
  readonly tenant: string | null;
  /**
   * Routes whose selector matches the state: each gets a copy of the message, on the route's
   * subject in the tenant's subjects (inTenant), so a tenant's entries never reach another's.
   */
  readonly routes: readonly Route[];
  /**
   * The id of the batch's first entry, for a caller that may write the same batch again after
   * an unknown outcome: when an entry with this id exists, the batch was written by an earlier
   * attempt (its COMMIT went through) and nothing is written again.
   */
  readonly retryKey?: string | undefined;
}

/** What was written: the entries' seq range and the outbox rows that will carry them. */
export interface WrittenBatch {
  readonly firstSeq: bigint;
  readonly lastSeq: bigint;
  /** The outbox row of the state subject first, then the session's, then one per route. */
  readonly outboxIds: readonly bigint[];
  /** True when the state did not exist before and was created by this write. */
  readonly createdState: boolean;
}

/**
 * Persists a batch in one transaction: the state (created on first sight), every entry with the
 * next seq numbers of the state, and the outbox rows of the one `query_state_entry` message for
 * the state's subject, the session's subject and each route. All or nothing.
 */
export async function writeEntries(
  db: Database,
  batch: EntryBatch,
  limits: { maxMessageBytes: number },
): Promise<WrittenBatch> {
  const { stateId, sessionId, entries, tenant } = batch;
  const key = tenantKey(tenant);
  const stateMessage = encodeEntryMessage(stateId, sessionId, entries);
  if (stateMessage.byteLength > limits.maxMessageBytes) {
    throw new PayloadTooLargeError(
      `the entries make a ${stateMessage.byteLength}-byte message, at most ${limits.maxMessageBytes} bytes are allowed (STATE_MAX_MESSAGE_BYTES); publish them in smaller batches`,
      { details: { field: 'entries', limit: limits.maxMessageBytes } },
    );
  }
  const outbox = [
    { subject: subjects.state(tenant, stateId), payload: stateMessage },
    ...(sessionId === null
      ? []
      : [{ subject: subjects.stateSession(tenant, stateId, sessionId), payload: stateMessage }]),
    ...batch.routes.map((route) => ({
      subject: inTenant(tenant, route.subject),
      payload: encodeEntryMessage(stateId, sessionId, entries, route.id),
    })),
  ];

  return db.prisma.$transaction(
    async (tx) => {
      const inserted = await tx.$executeRaw`
        INSERT INTO "State" ("tenantId", id) VALUES (${key}, ${stateId}) ON CONFLICT ("tenantId", id) DO NOTHING`;
      // The row lock orders concurrent writers of one state, so their seq ranges never overlap.
      await tx.$queryRaw`SELECT 1 FROM "State" WHERE "tenantId" = ${key} AND id = ${stateId} FOR UPDATE`;
      if (batch.retryKey !== undefined) {
        const [earlier] = await tx.$queryRaw<Array<{ seq: bigint }>>`
          SELECT seq FROM "StateEntry" WHERE id = ${entryId(batch.retryKey)}`;
        if (earlier) {
          const firstSeq = BigInt(earlier.seq);
          // Its outbox rows were committed with it: the relay publishes them.
          return {
            firstSeq,
            lastSeq: firstSeq + BigInt(entries.length - 1),
            outboxIds: [],
            createdState: false,
          };
        }
      }
      const [last] = await tx.$queryRaw<Array<{ seq: bigint | null }>>`
        SELECT MAX(seq) AS seq FROM "StateEntry" WHERE "tenantId" = ${key} AND "stateId" = ${stateId}`;
      const firstSeq = BigInt(last?.seq ?? 0) + 1n;
      // One statement with the rows as one JSON parameter, as recordings are written: Prisma's
      // Json input drops the 17th significant digit of a float (0.30000000000000004 became 0.3),
      // while jsonb keeps the digits of the text JSON.stringify wrote.
      const createdAt = new Date().toISOString();
      const entryRows = JSON.stringify(
        entries.map((data, index) => ({
          id: entryId(index === 0 && batch.retryKey !== undefined ? batch.retryKey : randomUUID()),
          seq: (firstSeq + BigInt(index)).toString(),
          data,
        })),
      );
      await tx.$executeRaw`
        INSERT INTO "StateEntry" (id, "tenantId", "stateId", "sessionId", seq, data, "createdAt")
        SELECT r.id, ${key}, ${stateId}, ${sessionId}, r.seq, r.data, ${createdAt}::timestamp(3)
        FROM jsonb_to_recordset(${entryRows}::jsonb) AS r(id text, seq bigint, data jsonb)`;
      // Raw SQL with base64 text: the PGlite adapter does not convert Prisma's Bytes arguments.
      const rows = await tx.$queryRaw<Array<{ id: bigint }>>`
        INSERT INTO "OutboxMessage" (subject, payload)
        SELECT subject, decode(payload, 'base64')
        FROM unnest(${outbox.map((message) => message.subject)}::text[],
                    ${outbox.map((message) => Buffer.from(message.payload).toString('base64'))}::text[])
             AS batch(subject, payload)
        RETURNING id`;
      return {
        firstSeq,
        lastSeq: firstSeq + BigInt(entries.length - 1),
        outboxIds: rows.map((row) => row.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
        createdState: inserted > 0,
      };
    },
    { timeout: 30_000, maxWait: 10_000 },
  );
}

function entryId(key: string): string {
  return `entry:${key}`;
}
