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

/** A column a replay did not read (replay.ts reads only what its consumer selects). */
export const UNREAD = Symbol('streamgate.unread');
type Column<T> = T | typeof UNREAD;

/**
 * A recorded message as a replay reads it: one object made straight from its row's columns (no
 * row object in between), its timestamp and headers made only when read. Reading a column the
 * replay did not fetch throws: a consumer that selects a field must name it in the replay's
 * `messageFields`, and the error says so instead of a wrong null.
 */
export class RecordedMessage implements DeviceMessage {
  private date: Date | undefined;
  private headerValues: Readonly<Record<string, string>> | undefined;

  constructor(
    readonly deviceId: string,
    readonly seq: number,
    readonly data: unknown,
    /** Milliseconds since the epoch. */
    private readonly epoch: Column<number>,
    private readonly eventIdColumn: Column<string | null>,
    private readonly typeColumn: Column<string | null>,
    private readonly symbolColumn: Column<string | null>,
    /** The stored headers' JSON text. */
    private readonly headersText: Column<string>,
  ) {}

  /** Milliseconds since the epoch of its timestamp (what replay paces by). */
  get epochMs(): number {
    return read(this.epoch, 'timestamp');
  }

  get timestamp(): Date {
    this.date ??= new Date(this.epochMs);
    return this.date;
  }

  get eventId(): string | null {
    return read(this.eventIdColumn, 'eventId');
  }

  get type(): string | null {
    return read(this.typeColumn, 'type');
  }

  get symbol(): string | null {
    return read(this.symbolColumn, 'symbol');
  }

  get headers(): Readonly<Record<string, string>> {
    this.headerValues ??= stringHeaders(JSON.parse(read(this.headersText, 'headers')));
    return this.headerValues;
  }
}

function read<T>(value: Column<T>, field: string): T {
  if (value === UNREAD) throw new Error(`this replay did not read the recorded messages' ${field}`);
  return value;
}
