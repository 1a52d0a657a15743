import { ERROR_CODES, type ErrorCode } from '../errors.ts';

/**
 * Every WebSocket close code streamgate sends on its own account, on every route. The legacy
 * routes (/ws/stream and /ws/session, the data-source socket, the topics socket: legacy.md) mirror
 * the HTTP status of the error that ended the socket: 4401 for a bad token, 4403, 4404, 4429, 4503.
 * The graphql-ws route (/graphql, and Apollo's subprotocol on it) keeps graphql-ws's meanings
 * beside its own protocol codes (4400, 4401 unauthorized before ack, 4408 init timeout, 4409,
 * 4429, 4500), so three entries differ there: the GRAPHQL_WS_* ones.
 * A reason text starts with the API error code, e.g. "UNAUTHENTICATED: token expired".
 */
export const CLOSE_CODES = {
  /** Server shutting down, or the stream ended. */
  GOING_AWAY: 1001,
  /** A frame over MAX_PAYLOAD_BYTES (sent by `ws` itself). */
  TOO_BIG: 1009,
  /** Something failed on our side; the log has it under the reason's correlation id. */
  INTERNAL: 1011,
  /** A path parameter (state, session or data source id) is not one subject token. */
  BAD_REQUEST: 4400,
  /** Missing (where one is required), invalid or expired token. */
  UNAUTHENTICATED: 4401,
  /** The token may not do this. */
  FORBIDDEN: 4403,
  /** Another tenant's object. */
  NOT_FOUND: 4404,
  /** No pong for a ping (/ws/stream), or nothing at all for ACCESS_HEARTBEAT_TIMEOUT (topics socket). */
  TIMEOUT: 4408,
  /** The client does not read fast enough: its outbound queue passed the limit. */
  SLOW_CONSUMER: 4413,
  /** Over a connection or rate limit (total, per user, per tenant). */
  LIMIT_EXCEEDED: 4429,
  /** A dependency (broker, database, key server) is away; try again later. */
  UNAVAILABLE: 4503,
  /** graphql-ws route: bad or expired token (graphql-ws's Forbidden). */
  GRAPHQL_WS_UNAUTHENTICATED: 4403,
  /** graphql-ws route: the outbound buffer passed MAX_CLIENT_BUFFER. */
  GRAPHQL_WS_SLOW_CONSUMER: 4408,
  /** graphql-ws route: the signing keys could not be fetched, or the server failed. */
  GRAPHQL_WS_UNAVAILABLE: 1011,
} as const;

const LEGACY_CLOSE_CODE_OF: Partial<Record<ErrorCode, number>> = {
  [ERROR_CODES.BAD_USER_INPUT]: CLOSE_CODES.BAD_REQUEST,
  [ERROR_CODES.UNAUTHENTICATED]: CLOSE_CODES.UNAUTHENTICATED,
  [ERROR_CODES.FORBIDDEN]: CLOSE_CODES.FORBIDDEN,
  [ERROR_CODES.SUBSCRIPTION_DENIED]: CLOSE_CODES.FORBIDDEN,
  [ERROR_CODES.NOT_FOUND]: CLOSE_CODES.NOT_FOUND,
  [ERROR_CODES.RATE_LIMITED]: CLOSE_CODES.LIMIT_EXCEEDED,
  [ERROR_CODES.LIMIT_EXCEEDED]: CLOSE_CODES.LIMIT_EXCEEDED,
  [ERROR_CODES.UNAVAILABLE]: CLOSE_CODES.UNAVAILABLE,
};

/** The legacy routes' close code for the API error (`extensions.code`) that ended a socket. */
export function closeCodeFor(code: unknown): number {
  return LEGACY_CLOSE_CODE_OF[code as ErrorCode] ?? CLOSE_CODES.INTERNAL;
}

// RFC 6455: a close reason is at most 123 bytes of UTF-8.
const MAX_REASON_BYTES = 123;

/** A close reason cut to what a close frame can carry. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= MAX_REASON_BYTES) return text;
  let cut = text.slice(0, MAX_REASON_BYTES);
  while (Buffer.byteLength(`${cut}…`) > MAX_REASON_BYTES) cut = cut.slice(0, -1);
  return `${cut}…`;
}
