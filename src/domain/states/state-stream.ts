import type { Broker, BrokerMessage } from '../../pubsub/broker.ts';
import { mapSubscription } from '../../pubsub/map-subscription.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { BROKER_MESSAGE_PATHS, type BrokerMessageBounds } from '../broker-message-bounds.ts';

/** One message on a state's stream, as Subscription.stateStream returns it. */
export interface StateEvent {
  readonly stateId: string;
  readonly sessionId: string | null;
  /** The message's own `type`; "text" for a frame that is not JSON, "json" for JSON without a type. */
  readonly type: string;
  readonly data: unknown;
  readonly timestamp: Date;
  /** The frame exactly as it was on the broker, for the legacy routes. */
  readonly raw: string;
}

/** The event types streamgate gives frames that carry none of their own. */
export const STATE_EVENT_TYPE = { TEXT: 'text', JSON: 'json' } as const;

const decoder = new TextDecoder();

/**
 * Reads a broker message as a StateEvent: JSON objects keep their `type`, anything else is text.
 * A message out of bounds (nested deeper than MAX_JSON_DEPTH, text Postgres refuses) is
 * undefined: `bounds` logged and counted it, and the stream skips it.
 */
export function toStateEvent(
  stateId: string,
  sessionId: string | null,
  message: BrokerMessage,
  bounds: BrokerMessageBounds,
): StateEvent | undefined {
  const raw = decoder.decode(message.payload);
  const base = { stateId, timestamp: message.timestamp, raw };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = raw;
  }
  if (!bounds.admits(BROKER_MESSAGE_PATHS.STATE, message.subject, parsed)) return undefined;
  // A bare JSON string or number is still what the producer sent as text ("42" is a token too).
  if (typeof parsed !== 'object' || parsed === null) {
    return { ...base, sessionId, type: STATE_EVENT_TYPE.TEXT, data: raw };
  }
  const fields = Array.isArray(parsed) ? {} : (parsed as Record<string, unknown>);
  const type = typeof fields.type === 'string' && fields.type !== '' ? fields.type : STATE_EVENT_TYPE.JSON;
  const messageSession = typeof fields.session_id === 'string' ? fields.session_id : null;
  return { ...base, sessionId: sessionId ?? messageSession, type, data: parsed };
}

/**
 * Every message on the exact subject of a tenant's state (or of one session): no wildcard, so a
 * state-only stream does not see session messages. Each call subscribes once; the broker shares
 * one upstream subscription among all subscribers of a subject.
 */
export function streamStateEvents(
  broker: Broker,
  tenant: string | null,
  stateId: string,
  sessionId: string | null,
  bounds: BrokerMessageBounds,
): AsyncIterableIterator<StateEvent> {
  const subject =
    sessionId === null ? subjects.state(tenant, stateId) : subjects.stateSession(tenant, stateId, sessionId);
  return mapSubscription(broker.subscribe(subject), (message) =>
    toStateEvent(stateId, sessionId, message, bounds),
  );
}
