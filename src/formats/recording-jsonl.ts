/**
 * The JSONL export format of a recording (legacy.md C), shared by the CLI and the server:
 *
 *   {"metadata":{"session_id","device_id","start","end","message_count","retention","note"}}
 *   {"headers":{"X-Monitor-Device":…,"X-Monitor-Id":…,…},"data":<JSON>}
 *   …one line per message, in recorded order
 *
 * Times are RFC3339 (UTC); retention is a Go-style duration ("24h", "1h30m"), and on reading any
 * form parseDuration accepts ("PT24H", "7d") too.
 */
import { parseDuration } from '../config/duration.ts';
import { BadUserInputError, messageOf } from '../errors.ts';
import { isRecord } from '../type-guards.ts';
import { headerOf, MONITOR_HEADERS, monitorTimeOf, parseRfc3339 } from './monitor-message.ts';

/** The first line of an export. */
export interface RecordingMetadata {
  /** The recording id (ApiGear called it a session). */
  readonly sessionId: string;
  readonly deviceId: string;
  readonly start: Date | null;
  readonly end: Date | null;
  readonly messageCount: number;
  readonly retentionMs: number | null;
  readonly note: string | null;
}

/** One message line: the X-Monitor-* headers and the data. */
export interface RecordedMessage {
  readonly headers: Readonly<Record<string, string>>;
  readonly data: unknown;
}

/** A parsed line. */
export type JsonlLine =
  | { readonly kind: 'metadata'; readonly metadata: RecordingMetadata }
  | { readonly kind: 'message'; readonly message: RecordedMessage };

/** A line that is not in the export format; `line` is 1-based. */
export class JsonlFormatError extends BadUserInputError {
  readonly line: number;
  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`, { details: { line } });
    this.line = line;
  }
}

/** The metadata line (without the newline). */
export function formatMetadataLine(metadata: RecordingMetadata): string {
  return JSON.stringify({
    metadata: {
      session_id: metadata.sessionId,
      device_id: metadata.deviceId,
      start: metadata.start?.toISOString() ?? null,
      end: metadata.end?.toISOString() ?? null,
      message_count: metadata.messageCount,
      retention: metadata.retentionMs === null ? null : formatGoDuration(metadata.retentionMs),
      note: metadata.note ?? '',
    },
  });
}

/** A message line (without the newline). */
export function formatMessageLine(message: RecordedMessage): string {
  return JSON.stringify({ headers: message.headers, data: message.data ?? null });
}

/** What a device message carries, as the API's DeviceMessage has it. */
export interface DeviceMessageFields {
  readonly deviceId: string;
  readonly seq: number;
  /** A Date or an ISO-8601/RFC3339 string. */
  readonly timestamp: Date | string;
  readonly eventId?: string | null;
  readonly type?: string | null;
  readonly symbol?: string | null;
  readonly data: unknown;
  /** The headers it was published with; the X-Monitor-* fields fill in what is missing. */
  readonly headers?: Readonly<Record<string, unknown>> | null;
}

/** The export line of a device message. */
export function recordedMessageOf(message: DeviceMessageFields): RecordedMessage {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined && value !== null) headers[key] = String(value);
  }
  const fill = (name: string, value: string) => {
    if (headerOf(headers, name) === undefined) headers[name] = value;
  };
  const timestamp = typeof message.timestamp === 'string' ? new Date(message.timestamp) : message.timestamp;
  fill(MONITOR_HEADERS.device, message.deviceId);
  fill(MONITOR_HEADERS.id, message.eventId ?? '');
  fill(MONITOR_HEADERS.type, message.type ?? '');
  fill(MONITOR_HEADERS.timestamp, monitorTimeOf(timestamp).text);
  fill(MONITOR_HEADERS.symbol, message.symbol ?? '');
  if (message.seq > 0) fill(MONITOR_HEADERS.seq, String(message.seq));
  return { headers, data: message.data };
}

/** A monitor event (the body element of POST /monitor/{device}) that republishes an exported message. */
export function monitorEventOf(message: RecordedMessage): {
  id: string;
  type: string;
  timestamp: string;
  symbol: string;
  data: unknown;
} {
  return {
    id: headerOf(message.headers, MONITOR_HEADERS.id) ?? '',
    type: headerOf(message.headers, MONITOR_HEADERS.type) ?? '',
    timestamp: headerOf(message.headers, MONITOR_HEADERS.timestamp) ?? '',
    symbol: headerOf(message.headers, MONITOR_HEADERS.symbol) ?? '',
    data: message.data,
  };
}

function optionalTime(line: number, field: string, value: unknown): Date | null {
  if (value === undefined || value === null || value === '') return null;
  const parsed = typeof value === 'string' ? parseRfc3339(value) : undefined;
  if (!parsed)
    throw new JsonlFormatError(
      line,
      `metadata.${field} must be an RFC3339 date-time, got ${JSON.stringify(value)}`,
    );
  return parsed.date;
}

/** Checks the headers of a message line: an object of strings (numbers and booleans are turned into text). */
export function parseMessageHeaders(value: unknown, where: string): Record<string, string> {
  if (!isRecord(value)) throw new BadUserInputError(`${where}: "headers" must be an object`);
  const headers: Record<string, string> = {};
  for (const [key, header] of Object.entries(value)) {
    if (typeof header === 'string') headers[key] = header;
    else if (typeof header === 'number' || typeof header === 'boolean') headers[key] = String(header);
    else throw new BadUserInputError(`${where}: header "${key}" must be a string`);
  }
  return headers;
}

/** Parses one line (1-based `line` for messages); throws JsonlFormatError naming the line. */
export function parseJsonlLine(text: string, line: number): JsonlLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new JsonlFormatError(line, `not JSON (${messageOf(error)})`);
  }
  if (!isRecord(value)) throw new JsonlFormatError(line, 'not a JSON object');
  if ('metadata' in value) {
    const metadata = value.metadata;
    if (!isRecord(metadata)) throw new JsonlFormatError(line, '"metadata" must be an object');
    const text = (field: string): string | null => {
      const field_value = metadata[field];
      if (field_value === undefined || field_value === null) return null;
      if (typeof field_value !== 'string')
        throw new JsonlFormatError(line, `metadata.${field} must be a string`);
      return field_value;
    };
    const deviceId = text('device_id');
    if (!deviceId) throw new JsonlFormatError(line, 'metadata.device_id is missing');
    const count = metadata.message_count;
    if (count !== undefined && count !== null && !(Number.isSafeInteger(count) && (count as number) >= 0)) {
      throw new JsonlFormatError(line, 'metadata.message_count must be a whole number');
    }
    const retention = text('retention');
    const retentionMs = retention === null || retention === '' ? null : parseRetention(retention);
    if (retentionMs === undefined) {
      throw new JsonlFormatError(line, `metadata.retention "${retention}" is not a duration such as "24h"`);
    }
    return {
      kind: 'metadata',
      metadata: {
        sessionId: text('session_id') ?? '',
        deviceId,
        start: optionalTime(line, 'start', metadata.start),
        end: optionalTime(line, 'end', metadata.end),
        messageCount: typeof count === 'number' ? count : 0,
        retentionMs,
        note: text('note') || null,
      },
    };
  }
  if (!('data' in value)) throw new JsonlFormatError(line, 'neither "metadata" nor "data"');
  let headers: Record<string, string>;
  try {
    headers = parseMessageHeaders(value.headers ?? {}, `line ${line}`);
  } catch (error) {
    throw new JsonlFormatError(
      line,
      error instanceof Error ? error.message.replace(/^line \d+: /, '') : String(error),
    );
  }
  return { kind: 'message', message: { headers, data: value.data } };
}

/**
 * Reads an export line by line: the metadata line first (blank lines are skipped), then messages.
 * Throws JsonlFormatError at the first bad line.
 */
export async function* readRecordingJsonl(
  lines: AsyncIterable<string> | Iterable<string>,
): AsyncGenerator<JsonlLine> {
  let number = 0;
  let sawMetadata = false;
  for await (const raw of lines) {
    number += 1;
    const text = raw.trim();
    if (text === '') continue;
    const parsed = parseJsonlLine(text, number);
    if (!sawMetadata) {
      if (parsed.kind !== 'metadata')
        throw new JsonlFormatError(number, 'the first line must be {"metadata":{…}}');
      sawMetadata = true;
    } else if (parsed.kind === 'metadata') {
      throw new JsonlFormatError(number, 'a second metadata line');
    }
    yield parsed;
  }
  if (!sawMetadata) throw new JsonlFormatError(Math.max(1, number), 'empty export: no metadata line');
}

const GO_UNITS: Array<[string, number]> = [
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

/** A duration as Go writes it, shortened: 86400000 → "24h", 5400000 → "1h30m", 1500 → "1.5s". */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let text = '';
  for (const [unit, size] of GO_UNITS.slice(0, 2)) {
    const whole = Math.floor(rest / size);
    if (whole > 0) text += `${whole}${unit}`;
    rest -= whole * size;
  }
  if (rest > 0) text += `${rest / 1000}s`;
  return text;
}

const GO_DURATION = /^(?:\d+(?:\.\d+)?(?:h|m|s|ms|us|µs|ns))+$/;

/** Parses a retention: Go durations ("24h0m0s", "1h30m") or the API's forms ("7d", "PT24H"). */
export function parseRetention(text: string): number | undefined {
  const short = parseDuration(text);
  if (short !== undefined) return short;
  if (!GO_DURATION.test(text)) return undefined;
  const scale: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1_000,
    ms: 1,
    us: 1e-3,
    µs: 1e-3,
    ns: 1e-6,
  };
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)) {
    total += Number(amount) * (scale[unit as string] ?? 0);
  }
  return Math.round(total);
}
