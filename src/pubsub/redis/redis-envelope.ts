import { isRecord } from '../../type-guards.ts';
import type { MessageHeaders } from '../broker.ts';

/**
 * Redis pub/sub carries one binary string per message, so headers, ids and positions travel
 * in a small envelope in front of the payload:
 *
 *   MAGIC (4 bytes "\0SG\1") | meta length (uint32 BE) | meta (JSON) | payload (raw bytes)
 *
 * A message without the magic (a plain `PUBLISH` from another client) is taken as a bare
 * payload, so plain Redis publishers interoperate.
 */
export const ENVELOPE_MAGIC = Buffer.from([0x00, 0x53, 0x47, 0x01]);
const HEADER_BYTES = ENVELOPE_MAGIC.length + 4;

/** What the envelope says about a message. Every field is optional on the wire. */
export interface EnvelopeMeta {
  /** Subject (in stream entries, which hold many subjects). */
  readonly s?: string;
  readonly h?: MessageHeaders;
  /** Message id, unique per publish: what a queue group claims. */
  readonly i?: string;
  /** Server time of the publish, epoch ms. */
  readonly t?: number;
  /** Positions by retained window pattern: the stream id in each window that kept it. */
  readonly p?: Readonly<Record<string, string>>;
  /** Request: the reply channel. */
  readonly r?: string;
  /** Request/reply: correlation id. */
  readonly c?: string;
  /** Reply: the responder's error message. */
  readonly e?: string;
}

export interface Envelope {
  readonly meta: EnvelopeMeta;
  readonly payload: Uint8Array;
}

export function encodeEnvelope(meta: EnvelopeMeta, payload: Uint8Array): Buffer {
  const metaBytes = Buffer.from(JSON.stringify(meta));
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  ENVELOPE_MAGIC.copy(header, 0);
  header.writeUInt32BE(metaBytes.length, ENVELOPE_MAGIC.length);
  return Buffer.concat([header, metaBytes, payload]);
}

/** Reads an envelope; anything that is not one is a bare payload with empty meta. */
export function decodeEnvelope(message: Buffer): Envelope {
  const bare = { meta: {}, payload: new Uint8Array(message.buffer, message.byteOffset, message.byteLength) };
  if (message.length < HEADER_BYTES || !message.subarray(0, ENVELOPE_MAGIC.length).equals(ENVELOPE_MAGIC)) {
    return bare;
  }
  const metaLength = message.readUInt32BE(ENVELOPE_MAGIC.length);
  const payloadStart = HEADER_BYTES + metaLength;
  if (payloadStart > message.length) return bare;
  const meta = parseMeta(message.subarray(HEADER_BYTES, payloadStart).toString('utf8'));
  if (!meta) return bare;
  const payload = message.subarray(payloadStart);
  return { meta, payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) };
}

/** Narrows the JSON meta from the wire; undefined when it is not an envelope meta. */
export function parseMeta(text: string): EnvelopeMeta | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  const meta: Record<string, unknown> = {};
  for (const key of ['s', 'i', 'r', 'c', 'e'] as const) {
    if (typeof value[key] === 'string') meta[key] = value[key];
  }
  if (typeof value.t === 'number') meta.t = value.t;
  const headers = stringRecord(value.h);
  if (headers) meta.h = headers;
  const positions = stringRecord(value.p);
  if (positions) meta.p = positions;
  return meta as EnvelopeMeta;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) if (typeof item === 'string') result[key] = item;
  return result;
}
