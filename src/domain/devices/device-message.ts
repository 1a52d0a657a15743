import { headerOf, MONITOR_HEADERS, monitorTimeOf, parseRfc3339 } from '../../formats/monitor-message.ts';
import type { BrokerMessage } from '../../pubsub/broker.ts';

/** One device message as the API shows it (DeviceMessage), live or from a recording. */
export interface DeviceMessage {
  readonly deviceId: string;
  /** Per-device sequence, from 1; 0 for a message that did not come through streamgate's ingest. */
  readonly seq: number;
  readonly timestamp: Date;
  readonly eventId: string | null;
  readonly type: string | null;
  readonly symbol: string | null;
  readonly data: unknown;
  /** The X-Monitor-* headers the message was published with. */
  readonly headers: Readonly<Record<string, string>>;
}

const emptyToNull = (value: string | undefined): string | null =>
  value === undefined || value === '' ? null : value;

/**
 * A message read from `monitor.{device}`. Producers other than streamgate may publish there too:
 * a payload that is not JSON is shown as a string, a missing timestamp as the broker's time.
 */
export function deviceMessageFromBroker(deviceId: string, message: BrokerMessage): DeviceMessage {
  const text = Buffer.from(message.payload).toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  const headers = message.headers;
  const seq = Number(headerOf(headers, MONITOR_HEADERS.seq));
  const stampText = headerOf(headers, MONITOR_HEADERS.timestamp);
  const stamp = stampText === undefined ? undefined : parseRfc3339(stampText);
  return {
    deviceId,
    seq: Number.isSafeInteger(seq) && seq > 0 ? seq : 0,
    timestamp: stamp?.date ?? message.timestamp,
    eventId: emptyToNull(headerOf(headers, MONITOR_HEADERS.id)),
    type: emptyToNull(headerOf(headers, MONITOR_HEADERS.type)),
    symbol: emptyToNull(headerOf(headers, MONITOR_HEADERS.symbol)),
    data,
    headers:
      stampText === undefined
        ? { ...headers, [MONITOR_HEADERS.timestamp]: monitorTimeOf(message.timestamp).text }
        : headers,
  };
}

/** The stored shape of a recorded message (RecordingMessage). */
export interface RecordingMessageRow {
  readonly seq: bigint;
  readonly timestamp: Date;
  readonly eventId: string | null;
  readonly type: string | null;
  readonly symbol: string | null;
  /** The stored JSON object, or its text (parsed only when the headers are read). */
  readonly headers: unknown;
  readonly data: unknown;
}

/** A recorded message as a DeviceMessage. */
export function deviceMessageFromRow(deviceId: string, row: RecordingMessageRow): DeviceMessage {
  const raw = row.headers;
  let headers: Readonly<Record<string, string>> | undefined;
  return {
    deviceId,
    seq: Number(row.seq),
    timestamp: row.timestamp,
    eventId: row.eventId,
    type: row.type,
    symbol: row.symbol,
    data: row.data,
    // Made when read: a replay whose selection has no headers never parses or copies them.
    get headers() {
      headers ??= stringHeaders(typeof raw === 'string' ? JSON.parse(raw) : raw);
      return headers;
    },
  };
}

/** Stored headers as strings; the object itself when they are already (what ingest stores). */
function stringHeaders(value: unknown): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (typeof record[key] !== 'string')
      return Object.fromEntries(Object.entries(record).map(([name, text]) => [name, String(text)]));
  }
  return record as Record<string, string>;
}
