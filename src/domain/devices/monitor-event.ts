/**
 * The ApiGear monitor event (legacy.md C): what POST /monitor/{device} and `ingest` accept, and the
 * X-Monitor-* headers it is published with on `monitor.{device}`. Input is `unknown` until
 * `validateMonitorEvents` has checked every event; nothing is published before that.
 */
import { BadUserInputError } from '../../errors.ts';
import { type MonitorTime, parseRfc3339 } from '../../formats/monitor-message.ts';
import { isSubjectToken } from '../../pubsub/subjects.ts';
import { unstorableTextIn } from '../json-bounds.ts';

/** @default 200: longest device id; ids appear in broker subjects, so they stay short. */
export const MAX_DEVICE_ID_LENGTH = 200;

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
  // for…in, not Object.keys: no array per event (JSON.parse's objects have no inherited keys).
  for (const field in event) {
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
