import type { JsMsg } from '@nats-io/jetstream';
import { type Msg, type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import type { BrokerMessage, MessageHeaders } from '../broker.ts';
import { isPublishIdHeader } from './nats-publish-ids.ts';

/**
 * How a responder's failure travels back to the requester: the NATS micro-service convention,
 * so plain NATS requesters recognise it too.
 */
export const SERVICE_ERROR_HEADER = 'Nats-Service-Error';
export const SERVICE_ERROR_CODE_HEADER = 'Nats-Service-Error-Code';

/** Our headers as NATS headers (undefined when there are none, so the wire stays plain). */
export function toNatsHeaders(headers: MessageHeaders | undefined): MsgHdrs | undefined {
  if (!headers) return undefined;
  const entries = Object.entries(headers);
  if (entries.length === 0) return undefined;
  const result = natsHeaders();
  for (const [key, value] of entries) result.set(key, value);
  return result;
}

/** Names checked once (a batch repeats the same few); bounded so odd names cannot grow it. */
const checkedNames = new Set<string>();
const MAX_CHECKED_NAMES = 1_000;
const HEADER_NAME = /^[!-9;-~]+$/; // printable ASCII without ':' (RFC 822), as nats.js checks
const LINE_BREAK = /[\r\n]/;

/**
 * The same headers as `toNatsHeaders`, as the text of a header block without its first line and
 * its end (`\r\nName: value` per header; '' for none): a batch publish builds no MsgHdrs (a Map,
 * arrays and a validation pass per header) for every message, only the text, and may append
 * lines of its own (nats-publish-acks.ts). Names and values are checked as nats.js checks them.
 */
export function natsHeaderLines(headers: MessageHeaders | undefined): string {
  if (!headers) return '';
  let text = '';
  for (const name in headers) {
    const value = headers[name] as string;
    if (!checkedNames.has(name)) {
      if (!HEADER_NAME.test(name))
        throw new Error(`header: ${JSON.stringify(name)} is not a valid header name`);
      if (checkedNames.size < MAX_CHECKED_NAMES) checkedNames.add(name);
    }
    if (LINE_BREAK.test(value)) throw new Error('header: values cannot contain \\r or \\n');
    text += `\r\n${name}: ${value.trim()}`;
  }
  return text;
}

/** Header lines as the client sends them: it calls nothing but `encode()` on what it publishes with. */
export function wireHeaders(lines: string): MsgHdrs | undefined {
  if (lines === '') return undefined;
  const bytes = Buffer.from(`NATS/1.0${lines}\r\n\r\n`, 'utf8');
  return { encode: () => bytes } as unknown as MsgHdrs;
}

/** NATS headers as ours; a header sent several times becomes one value joined by ", " (as in HTTP). */
export function fromNatsHeaders(headers: MsgHdrs | undefined): MessageHeaders {
  const result: Record<string, string> = {};
  if (!headers) return result;
  for (const [key, values] of headers) {
    // The ids that chain a batch for JetStream are the broker's, not the publisher's headers.
    if (isPublishIdHeader(key, values)) continue;
    result[key] = values.join(', ');
  }
  return result;
}

/** A core NATS message: no broker timestamp or position exists, so it is stamped on receipt. */
export function fromCoreMessage(message: Msg): BrokerMessage {
  return {
    subject: message.subject,
    payload: message.data,
    headers: fromNatsHeaders(message.headers),
    timestamp: new Date(),
    position: undefined,
  };
}

/** A JetStream message: its position is the stream sequence, its timestamp the stream's. */
export function fromStreamMessage(message: JsMsg): BrokerMessage {
  return {
    subject: message.subject,
    payload: message.data,
    headers: fromNatsHeaders(message.headers),
    timestamp: message.time,
    position: String(message.seq),
  };
}
