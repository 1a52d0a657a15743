/**
 * The ISM messages on the broker (legacy.md B): what streamgate publishes for persisted entries
 * and what the sync store consumes. Like a wire-protocol module: the message types, their
 * builders, and `parseSyncMessage(bytes)` that narrows what arrives from the network.
 */

import { describeJsonViolation, findJsonViolation } from '../json-bounds.ts';

export const ISM_MESSAGE_TYPE = {
  /** Entries persisted by streamgate, published on the state's subject and along routes. */
  ENTRY: 'query_state_entry',
  /** A processor asks the sync store to persist entries of a state. */
  DIRECT: 'query_state_direct',
  /** Like DIRECT, with the state found through a route. */
  ROUTE: 'query_state_route',
} as const;

export type JsonObject = Record<string, unknown>;

/** `{"type":"query_state_entry","state_id","session_id","query_state":[…]}`, plus `route_id` when forwarded. */
export interface StateEntryMessage {
  readonly type: typeof ISM_MESSAGE_TYPE.ENTRY;
  readonly state_id: string;
  readonly session_id: string | null;
  readonly route_id?: string;
  readonly query_state: readonly JsonObject[];
}

/** The bytes of one `query_state_entry` message. */
export function encodeEntryMessage(
  stateId: string,
  sessionId: string | null,
  entries: readonly JsonObject[],
  routeId?: string,
): Uint8Array {
  const message: StateEntryMessage = {
    type: ISM_MESSAGE_TYPE.ENTRY,
    state_id: stateId,
    session_id: sessionId,
    ...(routeId === undefined ? {} : { route_id: routeId }),
    query_state: entries,
  };
  return Buffer.from(JSON.stringify(message), 'utf8');
}

/** Why a sync-store message was refused; also the label of its counter. */
export const SYNC_REJECTION = {
  NOT_JSON: 'not_json',
  NOT_AN_OBJECT: 'not_an_object',
  UNKNOWN_TYPE: 'unknown_type',
  MISSING_STATE_ID: 'missing_state_id',
  MISSING_ROUTE_ID: 'missing_route_id',
  BAD_ID: 'bad_id',
  EMPTY_QUERY_STATE: 'empty_query_state',
  BAD_ENTRY: 'bad_entry',
  TOO_LARGE: 'too_large',
  UNKNOWN_ROUTE: 'unknown_route',
  AMBIGUOUS_ROUTE: 'ambiguous_route',
  ROUTE_NOT_A_STATE: 'route_not_a_state',
  NOT_FOUND: 'not_found',
  /** Nested deeper than MAX_JSON_DEPTH, or text Postgres refuses (NUL, an unpaired surrogate). */
  UNBOUNDED: 'unbounded',
} as const;
export type SyncRejection = (typeof SYNC_REJECTION)[keyof typeof SYNC_REJECTION];

/** A sync-store message, narrowed. Entries are still unchecked: the writer validates them. */
export type SyncMessage =
  | {
      readonly kind: 'direct';
      readonly stateId: string;
      readonly sessionId: string | null;
      readonly entries: readonly unknown[];
    }
  | {
      readonly kind: 'route';
      readonly routeId: string;
      readonly stateId: string | null;
      readonly sessionId: string | null;
      readonly entries: readonly unknown[];
    }
  /** Our own forwarded `query_state_entry` arriving back on the sync subject: not an error. */
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'rejected'; readonly reason: SyncRejection; readonly message: string };

function reject(reason: SyncRejection, message: string): SyncMessage {
  return { kind: 'rejected', reason, message };
}

/** Narrows a message from the sync-store subject; never throws. */
export function parseSyncMessage(payload: Uint8Array, maxJsonDepth: number): SyncMessage {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch (error) {
    return reject(SYNC_REJECTION.NOT_JSON, `the body is not JSON: ${(error as Error).message}`);
  }
  // Before anything walks it: the entries go to Postgres, whose driver would overflow or refuse.
  const violation = findJsonViolation(body, maxJsonDepth);
  if (violation) {
    return reject(SYNC_REJECTION.UNBOUNDED, `the body ${describeJsonViolation(violation, maxJsonDepth)}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return reject(SYNC_REJECTION.NOT_AN_OBJECT, 'the body is not a JSON object');
  }
  const message = body as JsonObject;
  const type = message.type;
  if (type === ISM_MESSAGE_TYPE.ENTRY)
    return { kind: 'ignored', reason: 'query_state_entry is what streamgate publishes' };
  if (type !== ISM_MESSAGE_TYPE.DIRECT && type !== ISM_MESSAGE_TYPE.ROUTE) {
    return reject(
      SYNC_REJECTION.UNKNOWN_TYPE,
      `type ${JSON.stringify(type)} is not ${ISM_MESSAGE_TYPE.DIRECT} or ${ISM_MESSAGE_TYPE.ROUTE}`,
    );
  }
  const entries = message.query_state;
  if (!Array.isArray(entries) || entries.length === 0) {
    return reject(SYNC_REJECTION.EMPTY_QUERY_STATE, 'query_state is missing or empty');
  }
  const sessionId =
    typeof message.session_id === 'string' && message.session_id !== '' ? message.session_id : null;
  const stateId = typeof message.state_id === 'string' && message.state_id !== '' ? message.state_id : null;
  if (type === ISM_MESSAGE_TYPE.DIRECT) {
    if (stateId === null) return reject(SYNC_REJECTION.MISSING_STATE_ID, 'state_id is missing');
    return { kind: 'direct', stateId, sessionId, entries };
  }
  const routeId = message.route_id;
  if (typeof routeId !== 'string' || routeId === '') {
    return reject(SYNC_REJECTION.MISSING_ROUTE_ID, 'route_id is missing');
  }
  return { kind: 'route', routeId, stateId, sessionId, entries };
}
