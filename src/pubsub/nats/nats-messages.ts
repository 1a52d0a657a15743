import type { JsMsg } from '@nats-io/jetstream';
import { type Msg, type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import type { BrokerMessage, MessageHeaders } from '../broker.ts';

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

/** NATS headers as ours; a header sent several times becomes one value joined by ", " (as in HTTP). */
export function fromNatsHeaders(headers: MsgHdrs | undefined): MessageHeaders {
  const result: Record<string, string> = {};
  if (!headers) return result;
  for (const [key, values] of headers) result[key] = values.join(', ');
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
