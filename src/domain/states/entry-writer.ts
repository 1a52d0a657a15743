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
  const outbox = outboxMessagesOf(batch, limits);
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

/**
 * The outbox rows of one batch: one `query_state_entry` message on the state's subject, the
 * session's, and a copy per route. PAYLOAD_TOO_LARGE past STATE_MAX_MESSAGE_BYTES.
 */
function outboxMessagesOf(
  batch: Pick<EntryBatch, 'tenant' | 'stateId' | 'sessionId' | 'entries' | 'routes'>,
  limits: { maxMessageBytes: number },
): Array<{ subject: string; payload: Uint8Array }> {
  const { tenant, stateId, sessionId, entries } = batch;
  const stateMessage = encodeEntryMessage(stateId, sessionId, entries);
  if (stateMessage.byteLength > limits.maxMessageBytes) {
    throw new PayloadTooLargeError(
      `the entries make a ${stateMessage.byteLength}-byte message, at most ${limits.maxMessageBytes} bytes are allowed (STATE_MAX_MESSAGE_BYTES); publish them in smaller batches`,
      { details: { field: 'entries', limit: limits.maxMessageBytes } },
    );
  }
  return [
    { subject: subjects.state(tenant, stateId), payload: stateMessage },
    ...(sessionId === null
      ? []
      : [{ subject: subjects.stateSession(tenant, stateId, sessionId), payload: stateMessage }]),
    ...batch.routes.map((route) => ({
      subject: inTenant(tenant, route.subject),
      payload: encodeEntryMessage(stateId, sessionId, entries, route.id),
    })),
  ];
}

/** One message of a network batch (writeNetworkBatch): entries already validated. */
export interface NetworkWrite extends Pick<EntryBatch, 'stateId' | 'sessionId' | 'entries' | 'routes'> {
  /**
   * The message's own key where the broker may deliver it again (a Kafka queue group after a
   * crash): the id of its first entry, so a message whose key is stored already is skipped.
   */
  readonly key?: string | undefined;
}

/**
 * Persists several messages of the network (the sync store) in ONE transaction of plain SQL,
 * a fixed handful of statements whatever the batch's size: the default tenant's states (the
 * network has no tenants; created on first sight), their row locks in id order (several instances never deadlock), every entry with the next seq numbers of its
 * state in the order of `writes` (per-state order kept), and every message's outbox rows. All or
 * nothing. `retryKey` becomes the id of the batch's first entry: when it exists already, an
 * earlier attempt of this batch committed, and nothing is written again (returns 0).
 * Returns the ids of the states it wrote to, so a caller can drop cached lookups.
 */
export async function writeNetworkBatch(
  db: Database,
  writes: readonly NetworkWrite[],
  retryKey: string,
  limits: { maxMessageBytes: number },
): Promise<{ written: number; stateIds: readonly string[] }> {
  // The network writes the default tenant's states, as publish with tenant null.
  const tenant = null;
  const key = tenantKey(tenant);
  // Built (and refused, when too large) before the transaction; each write's own rows.
  const outboxOf = new Map(writes.map((write) => [write, outboxMessagesOf({ ...write, tenant }, limits)]));
  const stateIds = [...new Set(writes.map((write) => write.stateId))].sort();
  if (writes.length === 0) return { written: 0, stateIds };
  return db.transaction(async (sql) => {
    await sql.execute(
      `INSERT INTO "State" ("tenantId", id) SELECT $2, id FROM unnest($1::text[]) AS s(id)
       ON CONFLICT ("tenantId", id) DO NOTHING`,
      [stateIds, key],
    );
    // The row locks order concurrent writers of one state, so their seq ranges never overlap.
    await sql.query(
      `SELECT id FROM "State" WHERE "tenantId" = $2 AND id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
      [stateIds, key],
    );
    const [earlier] = await sql.query(`SELECT 1 AS found FROM "StateEntry" WHERE id = $1`, [
      entryId(retryKey),
    ]);
    // Its outbox rows were committed with it: the relay publishes them.
    if (earlier) return { written: 0, stateIds };
    // Messages delivered again (their key is an entry already) were written with their outbox
    // rows by whoever took them first; read after the locks, so a concurrent writer is done.
    const keys = writes.flatMap((write) => (write.key === undefined ? [] : [entryId(write.key)]));
    const stored =
      keys.length === 0
        ? new Set<string>()
        : new Set(
            (
              await sql.query<{ id: string }>(`SELECT id FROM "StateEntry" WHERE id = ANY($1::text[])`, [
                keys,
              ])
            ).map((row) => row.id),
          );
    const fresh = writes.filter((write) => write.key === undefined || !stored.has(entryId(write.key)));
    const outbox = fresh.flatMap((write) => outboxOf.get(write) ?? []);
    if (fresh.length === 0) return { written: 0, stateIds };
    const last = await sql.query<{ stateId: string; seq: unknown }>(
      `SELECT "stateId", MAX(seq) AS seq FROM "StateEntry"
       WHERE "tenantId" = $2 AND "stateId" = ANY($1::text[]) GROUP BY "stateId"`,
      [stateIds, key],
    );
    const nextSeq = new Map(last.map((row) => [row.stateId, BigInt(String(row.seq)) + 1n]));
    const rows: Array<{
      id: string;
      stateId: string;
      sessionId: string | null;
      seq: string;
      data: JsonObject;
    }> = [];
    // The batch's retry key goes to its first entry that has no key of its own (a batch of
    // keyed messages is retried safely by their keys).
    let retryKeyUsed = false;
    for (const write of fresh) {
      let seq = nextSeq.get(write.stateId) ?? 1n;
      for (const [index, data] of write.entries.entries()) {
        let id: string;
        if (index === 0 && write.key !== undefined) id = entryId(write.key);
        else if (!retryKeyUsed && write.key === undefined) {
          id = entryId(retryKey);
          retryKeyUsed = true;
        } else id = entryId(randomUUID());
        rows.push({ id, stateId: write.stateId, sessionId: write.sessionId, seq: seq.toString(), data });
        seq += 1n;
      }
      nextSeq.set(write.stateId, seq);
    }
    // The rows as one JSON text parameter: jsonb keeps every digit JSON.stringify wrote (the
    // 17th significant digit of a float survives), and one statement writes them all.
    await sql.execute(
      `INSERT INTO "StateEntry" (id, "tenantId", "stateId", "sessionId", seq, data, "createdAt")
       SELECT r.id, $3, r."stateId", r."sessionId", r.seq, r.data, $2::timestamp(3)
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, "stateId" text, "sessionId" text, seq bigint, data jsonb)`,
      [JSON.stringify(rows), new Date().toISOString(), key],
    );
    // In message order: the relay publishes by id, so each state's messages go out in order.
    await sql.execute(
      `INSERT INTO "OutboxMessage" (subject, payload)
       SELECT subject, decode(payload, 'base64')
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS batch(subject, payload, n) ORDER BY n`,
      [
        outbox.map((message) => message.subject),
        outbox.map((message) => Buffer.from(message.payload).toString('base64')),
      ],
    );
    return { written: fresh.length, stateIds };
  });
}

function entryId(key: string): string {
  return `entry:${key}`;
}
