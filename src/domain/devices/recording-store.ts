/** Recordings and their messages in Postgres. */
import type { Database } from '../../db/create-database.ts';
import { prismaSql, type SqlClient } from '../../db/sql-client.ts';
import { BadUserInputError } from '../../errors.ts';
import type { Prisma, Recording as RecordingRow } from '../../generated/prisma/client.ts';
import { JsonText } from '../json-text.ts';
import { type Page, pageArgs, toPage } from '../pagination.ts';
import { tenantKey, tenantOfKey } from '../viewer.ts';
import { type DeviceMessage, deviceMessageFromRow, RecordedMessage, UNREAD } from './device-message.ts';
import type { DeviceScope } from './device-store.ts';

export const RECORDING_STATUS = { RECORDING: 'RECORDING', STOPPED: 'STOPPED' } as const;
export type RecordingStatus = (typeof RECORDING_STATUS)[keyof typeof RECORDING_STATUS];

/** A recording as the domain hands it out (Recording in the API). */
export interface Recording {
  readonly id: string;
  readonly deviceId: string;
  readonly tenantId: string | null;
  readonly status: RecordingStatus;
  readonly startedAt: Date;
  readonly stoppedAt: Date | null;
  readonly retentionMs: number;
  readonly expiresAt: Date | null;
  readonly note: string | null;
  readonly seamSeq: number;
  readonly preRollMs: number;
  readonly bufferCopied: boolean;
  readonly imported: boolean;
}

/**
 * Names one recording: ids are scoped per tenant, so a recording is (tenant, id), and its
 * device is the tenant's device of `deviceId`. A Recording is one.
 */
export interface RecordingKey {
  readonly tenantId: string | null;
  readonly id: string;
}

/** The unique key of a recording, for Prisma. */
export function recordingKey(recording: RecordingKey) {
  return { tenantId_id: { tenantId: tenantKey(recording.tenantId), id: recording.id } };
}

/** The messages of one recording, for Prisma's where. */
export function messagesOf(recording: RecordingKey) {
  return { tenantId: tenantKey(recording.tenantId), recordingId: recording.id };
}

export function toRecording(row: RecordingRow): Recording {
  return {
    id: row.id,
    deviceId: row.deviceId,
    tenantId: tenantOfKey(row.tenantId),
    status: row.status === RECORDING_STATUS.STOPPED ? RECORDING_STATUS.STOPPED : RECORDING_STATUS.RECORDING,
    startedAt: row.startedAt,
    stoppedAt: row.stoppedAt,
    retentionMs: Number(row.retentionMs),
    expiresAt: row.expiresAt,
    note: row.note,
    seamSeq: Number(row.seamSeq),
    preRollMs: row.preRollMs,
    bufferCopied: row.bufferCopiedAt !== null,
    imported: row.imported,
  };
}

/** A message to store in a recording. */
export interface MessageToRecord {
  readonly seq: number;
  readonly time: { readonly date: Date };
  readonly eventId: string;
  readonly type: string;
  readonly symbol: string;
  readonly headers: Record<string, string>;
  readonly data: unknown;
  /** `data` as JSON text as JSON.stringify wrote it, when the caller has it already. */
  readonly dataJson?: string;
}

/**
 * Inserts messages into a recording; with `skipDuplicates` a message already there is left as it
 * is. One statement for the whole batch, with the rows as one JSON parameter: several times
 * faster than createMany, which binds every column of every row separately.
 */
export function insertRecordingMessages(
  client: Prisma.TransactionClient | Database['prisma'] | SqlClient,
  recording: RecordingKey,
  messages: readonly MessageToRecord[],
  options: { skipDuplicates?: boolean } = {},
): Promise<number> {
  if (messages.length === 0) return Promise.resolve(0);
  const sql = '$executeRawUnsafe' in client ? prismaSql(client) : client;
  const tenant = tenantKey(recording.tenantId);
  // COPY where the driver streams it (pg): no JSON array to take apart row by row in Postgres.
  // ON CONFLICT needs an INSERT.
  if (sql.copyFrom && !options.skipDuplicates)
    return sql.copyFrom(COPY_MESSAGES, recordingRowsCopy(tenant, recording.id, messages));
  return sql.execute(options.skipDuplicates ? INSERT_SKIPPING_DUPLICATES : INSERT_MESSAGES, [
    recording.id,
    recordingRowsJson(messages),
    tenant,
  ]);
}

const INSERT_MESSAGES = `
  INSERT INTO "RecordingMessage" ("tenantId", "recordingId", "seq", "timestamp", "eventId", "type", "symbol", "headers", "data")
  SELECT $3, $1, r."seq", r."timestamp", r."eventId", r."type", r."symbol", r."headers", COALESCE(r."data", 'null'::jsonb)
  FROM jsonb_to_recordset($2::jsonb)
    AS r("seq" bigint, "timestamp" timestamp(3), "eventId" text, "type" text, "symbol" text, "headers" jsonb, "data" jsonb)`;
const INSERT_SKIPPING_DUPLICATES = `${INSERT_MESSAGES} ON CONFLICT DO NOTHING`;

const COPY_MESSAGES = `COPY "RecordingMessage" ("tenantId", "recordingId", "seq", "timestamp", "eventId", "type", "symbol", "headers", "data") FROM STDIN`;

/** COPY text format: backslash, tab, newline and carriage return escaped; `\N` is NULL. */
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
function copyField(text: string): string {
  return COPY_SPECIAL.test(text) ? text.replace(/[\\\t\n\r]/g, (char) => COPY_ESCAPES[char] as string) : text;
}
const copyTextOrNull = (value: string): string => (value === '' ? '\\N' : copyField(value));
/**
 * A JSON text as JSON.stringify writes it, as a COPY field: such text has no raw tab, newline or
 * carriage return (JSON escapes control characters), so only backslashes are doubled, and most
 * rows have none: a search for one character instead of a regex over every row's data.
 */
const copyJson = (json: string): string => (json.includes('\\') ? json.replaceAll('\\', '\\\\') : json);

/** The rows as COPY text, one line each (the same columns and NULLs as the JSON form below). */
function recordingRowsCopy(
  tenant: string,
  recordingId: string,
  messages: readonly MessageToRecord[],
): string {
  const id = `${copyField(tenant)}\t${copyField(recordingId)}`;
  const lines: string[] = [];
  for (const message of messages) {
    const data = message.dataJson ?? JSON.stringify(message.data ?? null);
    lines.push(
      // UTC, as Prisma keeps DateTime in a timestamp column without time zone.
      `${id}\t${message.seq}\t${message.time.date.toISOString()}\t${copyTextOrNull(message.eventId)}\t` +
        `${copyTextOrNull(message.type)}\t${copyTextOrNull(message.symbol)}\t` +
        `${copyJson(JSON.stringify(message.headers))}\t${copyJson(data)}\n`,
    );
  }
  return lines.join('');
}

/** The rows as one JSON text, built by hand: one JSON.stringify per value, no object per row. */
function recordingRowsJson(messages: readonly MessageToRecord[]): string {
  const parts: string[] = [];
  for (const message of messages) {
    parts.push(
      // UTC, as Prisma keeps DateTime in a timestamp column without time zone.
      `{"seq":${message.seq},"timestamp":"${message.time.date.toISOString()}","eventId":${textOrNull(message.eventId)},` +
        `"type":${textOrNull(message.type)},"symbol":${textOrNull(message.symbol)},` +
        `"headers":${JSON.stringify(message.headers)},"data":${message.dataJson ?? JSON.stringify(message.data ?? null)}}`,
    );
  }
  return `[${parts.join(',')}]`;
}

const textOrNull = (value: string): string => (value === '' ? 'null' : JSON.stringify(value));

/** The scope's recording of that id, or null. */
export async function findRecording(db: Database, scope: DeviceScope, id: string): Promise<Recording | null> {
  const row = await db.prisma.recording.findUnique({ where: recordingKey({ tenantId: scope.tenantId, id }) });
  return row ? toRecording(row) : null;
}

/** The active recording of the scope's device, if any. */
export async function findActiveRecording(
  client: Prisma.TransactionClient | Database['prisma'],
  scope: DeviceScope,
  deviceId: string,
): Promise<Recording | null> {
  const row = await client.recording.findFirst({
    where: { tenantId: tenantKey(scope.tenantId), deviceId, status: RECORDING_STATUS.RECORDING },
  });
  return row ? toRecording(row) : null;
}

/** Recordings of the scope (of one device, when given), newest first. */
export async function listRecordings(
  db: Database,
  scope: DeviceScope,
  deviceId: string | null | undefined,
  first: number | null | undefined,
  after: string | null | undefined,
  fallbackFirst: number,
): Promise<Page<Recording>> {
  const page = pageArgs(first, after, fallbackFirst);
  const cursor = page.after === undefined ? undefined : parseRecordingCursor(page.after);
  const rows = await db.prisma.recording.findMany({
    where: {
      tenantId: tenantKey(scope.tenantId),
      ...(deviceId == null ? {} : { deviceId }),
      ...(cursor
        ? {
            OR: [
              { startedAt: { lt: cursor.startedAt } },
              { startedAt: cursor.startedAt, id: { lt: cursor.id } },
            ],
          }
        : {}),
    },
    orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
    take: page.first + 1,
  });
  return toPage(rows, page.first, (row) => `${row.startedAt.getTime()}:${row.id}`, toRecording);
}

function parseRecordingCursor(key: string): { startedAt: Date; id: string } {
  const match = /^(\d+):(.+)$/.exec(key);
  if (!match) throw new BadUserInputError('after: not a cursor of this list');
  return { startedAt: new Date(Number(match[1])), id: match[2] as string };
}

/** Count and first/last message time of a recording (first and last in recorded order). */
export async function recordingStats(
  db: Database,
  recording: RecordingKey,
): Promise<{ messageCount: number; firstMessageAt: Date | null; lastMessageAt: Date | null }> {
  const where = messagesOf(recording);
  const [messageCount, first, last] = await Promise.all([
    db.prisma.recordingMessage.count({ where }),
    db.prisma.recordingMessage.findFirst({
      where,
      orderBy: { seq: 'asc' },
      select: { timestamp: true },
    }),
    db.prisma.recordingMessage.findFirst({
      where,
      orderBy: { seq: 'desc' },
      select: { timestamp: true },
    }),
  ]);
  return { messageCount, firstMessageAt: first?.timestamp ?? null, lastMessageAt: last?.timestamp ?? null };
}

/** One page of a recording's messages, in recorded order. */
export async function recordingMessagesPage(
  db: Database,
  recording: Recording,
  first: number | null | undefined,
  after: string | null | undefined,
): Promise<Page<DeviceMessage>> {
  const page = pageArgs(first, after, 100);
  const afterSeq = page.after === undefined ? undefined : parseSeqCursor(page.after);
  const rows = await db.prisma.recordingMessage.findMany({
    where: { ...messagesOf(recording), ...(afterSeq === undefined ? {} : { seq: { gt: afterSeq } }) },
    orderBy: { seq: 'asc' },
    take: page.first + 1,
  });
  return toPage(
    rows,
    page.first,
    (row) => String(row.seq),
    (row) => deviceMessageFromRow(recording.deviceId, row),
  );
}

function parseSeqCursor(key: string): bigint {
  if (!/^\d+$/.test(key)) throw new BadUserInputError('after: not a cursor of this list');
  return BigInt(key);
}

/** The stored columns a replay reads besides seq and data: only those its consumer shows. */
export interface ReplayColumns {
  readonly timestamp: boolean;
  readonly eventId: boolean;
  readonly type: boolean;
  readonly symbol: boolean;
  readonly headers: boolean;
}

/** One page of a replay: its messages and the seq of the last (where the next page starts). */
export interface RecordingPage {
  readonly messages: RecordedMessage[];
  readonly lastSeq: bigint | undefined;
}

/**
 * Reads a recording's messages in order, one page at a time (never the whole recording): keyset
 * on (recordingId, seq), in plain SQL, rows as arrays and only the `columns` asked for (a replay
 * reads every row: Prisma's row mapping, then pg's per-row objects and unused columns, cost more
 * than the rest of the read).
 */
export async function readRecordingPage(
  db: Database,
  recording: RecordingKey & { readonly deviceId: string },
  afterSeq: bigint,
  take: number,
  columns: ReplayColumns,
): Promise<RecordingPage> {
  // The timestamp column has no time zone and holds UTC: its epoch is read as such by every
  // driver, as a number (cheaper to read than a timestamp). Headers come as text, parsed only if
  // read; data as text too, which replay sends as it is (JsonText) and the JSON scalar parses.
  const rows = await db.sql.queryArrays(
    `SELECT "seq"::text, "data"::text${columns.timestamp ? `, (extract(epoch FROM "timestamp") * 1000)::float8` : ''}${
      columns.eventId ? ', "eventId"' : ''
    }${columns.type ? ', "type"' : ''}${columns.symbol ? ', "symbol"' : ''}${columns.headers ? ', "headers"::text' : ''}
     FROM "RecordingMessage" m WHERE m."tenantId" = $4 AND m."recordingId" = $1 AND m."seq" > $2::bigint
     ORDER BY m."seq" LIMIT $3`,
    [recording.id, afterSeq.toString(), take, tenantKey(recording.tenantId)],
  );
  // Where each optional column is in a row (after seq and data), -1 when not read.
  let next = 2;
  const at = (read: boolean) => (read ? next++ : -1);
  const [epochAt, eventIdAt, typeAt, symbolAt, headersAt] = [
    at(columns.timestamp),
    at(columns.eventId),
    at(columns.type),
    at(columns.symbol),
    at(columns.headers),
  ];
  const { deviceId } = recording;
  const messages = new Array<RecordedMessage>(rows.length);
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as unknown[];
    messages[index] = new RecordedMessage(
      deviceId,
      Number(row[0]),
      new JsonText(row[1] as string),
      epochAt < 0 ? UNREAD : Number(row[epochAt]),
      eventIdAt < 0 ? UNREAD : (row[eventIdAt] as string | null),
      typeAt < 0 ? UNREAD : (row[typeAt] as string | null),
      symbolAt < 0 ? UNREAD : (row[symbolAt] as string | null),
      headersAt < 0 ? UNREAD : (row[headersAt] as string),
    );
  }
  const last = rows.at(-1);
  return { messages, lastSeq: last ? BigInt(last[0] as string) : undefined };
}
