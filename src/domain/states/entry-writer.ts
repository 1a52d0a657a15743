import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/create-database.ts';
import { NotFoundError, PayloadTooLargeError } from '../../errors.ts';
import { subjects } from '../../pubsub/subjects.ts';
import type { Route } from '../routes/route-matching.ts';
import { encodeEntryMessage, type JsonObject } from './state-messages.ts';
import { isVisibleTo } from './state-visibility.ts';

/** One batch to persist: entries already validated. */
export interface EntryBatch {
  readonly stateId: string;
  readonly sessionId: string | null;
  readonly entries: readonly JsonObject[];
  /** The caller's tenant: a new state is created in it; another tenant's state is NOT_FOUND. */
  readonly tenant: string | null;
  /** Writes into a state of any tenant (the sync store: the network has no tenants). */
  readonly anyTenant: boolean;
  /** Routes whose selector matches the state: each gets a copy of the message. */
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
  const { stateId, sessionId, entries } = batch;
  const stateMessage = encodeEntryMessage(stateId, sessionId, entries);
  if (stateMessage.byteLength > limits.maxMessageBytes) {
    throw new PayloadTooLargeError(
      `the entries make a ${stateMessage.byteLength}-byte message, at most ${limits.maxMessageBytes} bytes are allowed (STATE_MAX_MESSAGE_BYTES); publish them in smaller batches`,
      { details: { field: 'entries', limit: limits.maxMessageBytes } },
    );
  }
  const outbox = [
    { subject: subjects.state(stateId), payload: stateMessage },
    ...(sessionId === null
      ? []
      : [{ subject: subjects.stateSession(stateId, sessionId), payload: stateMessage }]),
    ...batch.routes.map((route) => ({
      subject: route.subject,
      payload: encodeEntryMessage(stateId, sessionId, entries, route.id),
    })),
  ];

  return db.prisma.$transaction(
    async (tx) => {
      const inserted = await tx.$executeRaw`
        INSERT INTO "State" (id, "tenantId") VALUES (${stateId}, ${batch.tenant}) ON CONFLICT (id) DO NOTHING`;
      // The row lock orders concurrent writers of one state, so their seq ranges never overlap.
      const [state] = await tx.$queryRaw<Array<{ tenantId: string | null }>>`
        SELECT "tenantId" FROM "State" WHERE id = ${stateId} FOR UPDATE`;
      if (!state || (!batch.anyTenant && !isVisibleTo(state, batch.tenant)))
        throw new NotFoundError('state', stateId);
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
        SELECT MAX(seq) AS seq FROM "StateEntry" WHERE "stateId" = ${stateId}`;
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
        INSERT INTO "StateEntry" (id, "stateId", "sessionId", seq, data, "createdAt")
        SELECT r.id, ${stateId}, ${sessionId}, r.seq, r.data, ${createdAt}::timestamp(3)
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
