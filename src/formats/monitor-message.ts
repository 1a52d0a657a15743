/**
 * The wire shape of an ApiGear monitor message (legacy.md C) that the server, the CLI and the
 * JSONL export share: the X-Monitor-* header names and RFC3339(Nano) times. The rules about
 * events (what ingest accepts) stay in the devices domain (domain/devices/monitor-event.ts).
 */

/** Header names of a published monitor message. X-Monitor-Seq is streamgate's own addition. */
export const MONITOR_HEADERS = {
  device: 'X-Monitor-Device',
  id: 'X-Monitor-Id',
  type: 'X-Monitor-Type',
  timestamp: 'X-Monitor-Timestamp',
  symbol: 'X-Monitor-Symbol',
  seq: 'X-Monitor-Seq',
} as const;

/** The headers of a published monitor message, by MONITOR_HEADERS name. */
export type MonitorHeaders = Record<(typeof MONITOR_HEADERS)[keyof typeof MONITOR_HEADERS], string>;

/** A point in time with the nanoseconds RFC3339 allows; JS dates keep milliseconds only. */
export interface MonitorTime {
  readonly date: Date;
  /** RFC3339Nano in UTC, e.g. 2026-01-15T10:30:00.123456789Z (trailing zeros dropped, as Go does). */
  readonly text: string;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses RFC3339 (with up to nanoseconds); undefined when the text is not a valid date-time. */
export function parseRfc3339(text: string): MonitorTime | undefined {
  const canonical = parseCanonicalUtc(text);
  if (canonical) return canonical;
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

const ZERO = 48;
/** The digit at `at`, or -1 when that character is not one. */
function digitAt(text: string, at: number): number {
  const digit = text.charCodeAt(at) - ZERO;
  return digit >= 0 && digit <= 9 ? digit : -1;
}
/** The number of `count` digits from `at`, or -1 when one of them is not a digit. */
function numberAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let index = at; index < at + count; index++) {
    const digit = digitAt(text, index);
    if (digit < 0) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * What devices send almost always, `2026-01-15T10:30:00.123Z` (upper-case T and Z, a year from
 * 100): read by character codes, and the text is the input itself when it has no trailing zeros
 * in its fraction (the form parseUtc writes). Ingest reads one per event; the regex, its
 * match and the slices of the general path were 8 % of an ingest's CPU. Undefined for anything
 * else, which the general path then reads (or refuses).
 */
function parseCanonicalUtc(text: string): MonitorTime | undefined {
  const length = text.length;
  if (length < 20 || length > 30 || text.charCodeAt(length - 1) !== 90 /* Z */) return undefined;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') {
    return undefined;
  }
  const year = numberAt(text, 0, 4);
  const month = numberAt(text, 5, 2);
  const dayOfMonth = numberAt(text, 8, 2);
  const hours = numberAt(text, 11, 2);
  const minutes = numberAt(text, 14, 2);
  const seconds = numberAt(text, 17, 2);
  if (year < 100 || month < 1 || month > 12 || dayOfMonth < 1 || hours < 0 || minutes < 0 || seconds < 0) {
    return undefined;
  }
  let millis = 0;
  let canonical = text;
  if (length > 20) {
    // `.` and 1–9 digits; trailing zeros are dropped from the text (as Go writes RFC3339Nano).
    const digits = length - 21;
    if (text[19] !== '.' || digits < 1 || numberAt(text, 20, digits) < 0) return undefined;
    for (let index = 0; index < 3; index++)
      millis = millis * 10 + (index < digits ? digitAt(text, 20 + index) : 0);
    let last = length - 2;
    while (last >= 20 && text.charCodeAt(last) === ZERO) last--;
    if (last < length - 2) canonical = last < 20 ? `${text.slice(0, 19)}Z` : `${text.slice(0, last + 1)}Z`;
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] as number);
  if (dayOfMonth > days || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  return new EpochTime(canonical, Date.UTC(year, month - 1, dayOfMonth, hours, minutes, seconds, millis));
}

/**
 * A MonitorTime whose Date is made when asked for: ingest publishes the text alone and needs the
 * Date only for a recorded row, so an unrecorded event allocates none.
 */
class EpochTime implements MonitorTime {
  constructor(
    readonly text: string,
    private readonly epochMs: number,
  ) {}

  get date(): Date {
    return new Date(this.epochMs);
  }
}

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
): MonitorHeaders {
  // One text of the sequence for both headers (a retained message keeps its headers), and the
  // names written out so that every message's headers share one object shape.
  const seqText = String(seq);
  return {
    'X-Monitor-Device': deviceId,
    'X-Monitor-Id': event.id === '' ? seqText : event.id,
    'X-Monitor-Type': event.type,
    'X-Monitor-Timestamp': time.text,
    'X-Monitor-Symbol': event.symbol,
    'X-Monitor-Seq': seqText,
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
