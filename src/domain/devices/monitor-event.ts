/**
 * The ApiGear monitor event (legacy.md C): what POST /monitor/{device} and `ingest` accept, and the
 * X-Monitor-* headers it is published with on `monitor.{device}`. Input is `unknown` until
 * `validateMonitorEvents` has checked every event; nothing is published before that.
 */
import { BadUserInputError } from '../../errors.ts';
import { isSubjectToken } from '../../pubsub/subjects.ts';
import { unstorableTextIn } from '../json-bounds.ts';

/** Header names of a published monitor message. X-Monitor-Seq is streamgate's own addition. */
export const MONITOR_HEADERS = {
  device: 'X-Monitor-Device',
  id: 'X-Monitor-Id',
  type: 'X-Monitor-Type',
  timestamp: 'X-Monitor-Timestamp',
  symbol: 'X-Monitor-Symbol',
  seq: 'X-Monitor-Seq',
} as const;

/** @default 200: longest device id; ids appear in broker subjects, so they stay short. */
export const MAX_DEVICE_ID_LENGTH = 200;

/** A point in time with the nanoseconds RFC3339 allows; JS dates keep milliseconds only. */
export interface MonitorTime {
  readonly date: Date;
  /** RFC3339Nano in UTC, e.g. 2026-01-15T10:30:00.123456789Z (trailing zeros dropped, as Go does). */
  readonly text: string;
}

/** One checked monitor event; `id` is empty when the device left it to the per-device counter. */
export interface MonitorEvent {
  readonly id: string;
  readonly type: string;
  readonly symbol: string;
  /** Absent: the time of ingest. */
  readonly timestamp: MonitorTime | undefined;
  readonly data: unknown;
}

/** Throws BAD_USER_INPUT unless `deviceId` can be one token of `monitor.{device}`. */
export function validateDeviceId(deviceId: string): string {
  if (deviceId.length === 0) throw new BadUserInputError('the device id is empty');
  if (deviceId.length > MAX_DEVICE_ID_LENGTH) {
    throw new BadUserInputError(`the device id is longer than ${MAX_DEVICE_ID_LENGTH} characters`);
  }
  const unstorable = unstorableTextIn(deviceId);
  if (unstorable) {
    throw new BadUserInputError(
      `the device id ${unstorable === 'nul' ? 'contains a NUL character (\\u0000)' : 'contains an unpaired UTF-16 surrogate'}, which cannot be stored`,
    );
  }
  if (!isSubjectToken(deviceId)) {
    throw new BadUserInputError(
      `the device id "${deviceId}" may not contain dots, "*", ">" or white space (it names the subject monitor.{device})`,
    );
  }
  return deviceId;
}

function badEvent(index: number, reason: string, details: Record<string, unknown> = {}): BadUserInputError {
  return new BadUserInputError(`event ${index}: ${reason}`, { details: { index, ...details } });
}

/** The fields of a monitor event (legacy.md C); the payload goes under `data`. */
const EVENT_FIELDS: ReadonlySet<string> = new Set(['id', 'type', 'timestamp', 'symbol', 'data']);

/**
 * Any other field is refused rather than dropped: `[{"n":1}]` would otherwise be published as
 * `{}`, and the device would never learn that its payload was lost.
 */
function refuseUnknownFields(event: Record<string, unknown>, index: number): void {
  for (const field of Object.keys(event)) {
    if (EVENT_FIELDS.has(field)) continue;
    throw badEvent(
      index,
      `unknown field ${JSON.stringify(field.slice(0, 64))}: an event has only id, type, timestamp, symbol and data (the payload goes under "data")`,
      { field: field.slice(0, 64) },
    );
  }
}

function optionalString(event: Record<string, unknown>, field: string, index: number): string {
  const value = event[field];
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  // Devices that count their own events often send the id as a number.
  if (field === 'id' && typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw badEvent(index, `"${field}" must be a string, got ${JSON.stringify(value)}`);
}

/** Throws BAD_USER_INPUT naming the first event that is not an object (as validateMonitorEvents would). */
export function checkEventsAreObjects(events: readonly unknown[]): void {
  for (let index = 0; index < events.length; index++) {
    const event = events[index];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw notAnObject(index, event);
  }
}

function notAnObject(index: number, event: unknown): BadUserInputError {
  return badEvent(
    index,
    `not an object (${event === null ? 'null' : Array.isArray(event) ? 'an array' : typeof event})`,
  );
}

/** Checks every event (all before any is used) and returns them typed; BAD_USER_INPUT names the index. */
export function validateMonitorEvents(events: readonly unknown[]): MonitorEvent[] {
  return events.map((event, index) => {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw notAnObject(index, event);
    const record = event as Record<string, unknown>;
    refuseUnknownFields(record, index);
    const rawTimestamp = record.timestamp;
    let timestamp: MonitorTime | undefined;
    if (rawTimestamp !== undefined && rawTimestamp !== null && rawTimestamp !== '') {
      timestamp = typeof rawTimestamp === 'string' ? parseRfc3339(rawTimestamp) : undefined;
      if (!timestamp) {
        throw badEvent(
          index,
          `"timestamp" must be an RFC3339 date-time such as 2026-01-15T10:30:00.123Z, got ${JSON.stringify(rawTimestamp)}`,
        );
      }
    }
    return {
      id: optionalString(record, 'id', index),
      type: optionalString(record, 'type', index),
      symbol: optionalString(record, 'symbol', index),
      timestamp,
      // The payload is `data` only; a missing one is published as an empty object.
      data: record.data ?? {},
    };
  });
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses RFC3339 (with up to nanoseconds); undefined when the text is not a valid date-time. */
export function parseRfc3339(text: string): MonitorTime | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [, day, time, fraction = '', zone = 'Z'] = match;
  if (zone === 'Z' || zone === 'z') return parseUtc(day as string, time as string, fraction);
  const wholeSeconds = new Date(`${day}T${time}${zone.toUpperCase()}`);
  if (Number.isNaN(wholeSeconds.getTime())) return undefined;
  // Date.parse rolls 2026-02-30 over into March; a real calendar date round-trips.
  const local = new Date(`${day}T${time}Z`);
  if (local.toISOString().slice(0, 19) !== `${day}T${time}`) return undefined;
  const nanos = Number(fraction.padEnd(9, '0'));
  return timeOf(wholeSeconds.getTime(), nanos);
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The common case, a UTC time (devices send `…Z`), without Date parsing and formatting: the
 * text is the input with its fraction trimmed, the date one Date.UTC. Same results as the
 * general path below (tested in monitor-event.test.ts); ingest runs it for every event.
 */
function parseUtc(day: string, time: string, fraction: string): MonitorTime | undefined {
  const year = Number(day.slice(0, 4));
  const month = Number(day.slice(5, 7));
  const dayOfMonth = Number(day.slice(8, 10));
  const hours = Number(time.slice(0, 2));
  const minutes = Number(time.slice(3, 5));
  const seconds = Number(time.slice(6, 8));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (dayOfMonth < 1 || dayOfMonth > days || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const wholeSeconds = Date.UTC(year, month - 1, dayOfMonth, hours, minutes, seconds);
  // Date.UTC maps years 0–99 onto 1900–1999; the general path handles those.
  if (year < 100) return timeOf(new Date(`${day}T${time}Z`).getTime(), Number(fraction.padEnd(9, '0')));
  const trimmed = fraction.replace(/0+$/, '');
  const millis = fraction.length >= 3 ? Number(fraction.slice(0, 3)) : Number(fraction.padEnd(3, '0'));
  return {
    date: new Date(wholeSeconds + millis),
    text: `${day}T${time}${trimmed === '' ? '' : `.${trimmed}`}Z`,
  };
}

/** A MonitorTime from a JS date (millisecond precision). */
export function monitorTimeOf(date: Date): MonitorTime {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000) * 1000;
  return timeOf(seconds, (ms - seconds) * 1_000_000);
}

function timeOf(wholeSecondsMs: number, nanos: number): MonitorTime {
  const base = new Date(wholeSecondsMs).toISOString().slice(0, 19);
  const fraction = nanos === 0 ? '' : `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`;
  return { date: new Date(wholeSecondsMs + Math.floor(nanos / 1_000_000)), text: `${base}${fraction}Z` };
}

/** The headers a monitor message is published with (legacy.md C), plus its device sequence. */
export function monitorHeaders(
  deviceId: string,
  event: { readonly id: string; readonly type: string; readonly symbol: string },
  time: MonitorTime,
  seq: number,
): Record<string, string> {
  return {
    [MONITOR_HEADERS.device]: deviceId,
    [MONITOR_HEADERS.id]: event.id === '' ? String(seq) : event.id,
    [MONITOR_HEADERS.type]: event.type,
    [MONITOR_HEADERS.timestamp]: time.text,
    [MONITOR_HEADERS.symbol]: event.symbol,
    [MONITOR_HEADERS.seq]: String(seq),
  };
}

/** A header by name, ignoring case (brokers differ in how they keep header case). */
export function headerOf(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const exact = headers[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === lower) return value;
  return undefined;
}
