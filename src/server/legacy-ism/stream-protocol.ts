/**
 * The ISM Stream API WebSocket (legacy.md A), as one protocol module: no envelope, every message
 * on the state's subject is one text frame, bytes unchanged. What streamgate adds is said with
 * close codes, since the old protocol has no error frame: the table below.
 */
import { ERROR_CODES, type ErrorCode } from '../../errors.ts';

/** Close codes of /ws/stream sockets. */
export const STREAM_CLOSE_CODES = {
  /** The server is shutting down, or the stream ended. */
  GOING_AWAY: 1001,
  /** Something failed on our side; the log has it under the reason's correlation id. */
  INTERNAL: 1011,
  /** The state or session id in the path is not one subject token. */
  BAD_REQUEST: 4400,
  /** Missing or invalid token where one is required. */
  UNAUTHENTICATED: 4401,
  /** The token may not read this stream. */
  FORBIDDEN: 4403,
  /** Another tenant's state. */
  NOT_FOUND: 4404,
  /** No pong came back for a ping within the ping interval. */
  PING_TIMEOUT: 4408,
  /** The client does not read fast enough: its outbound queue passed the limit. */
  SLOW_CONSUMER: 4413,
  /** Over a connection or rate limit. */
  LIMITED: 4429,
  /** The broker is away. */
  UNAVAILABLE: 4503,
} as const;

const BY_ERROR_CODE: Partial<Record<ErrorCode, number>> = {
  [ERROR_CODES.BAD_USER_INPUT]: STREAM_CLOSE_CODES.BAD_REQUEST,
  [ERROR_CODES.UNAUTHENTICATED]: STREAM_CLOSE_CODES.UNAUTHENTICATED,
  [ERROR_CODES.FORBIDDEN]: STREAM_CLOSE_CODES.FORBIDDEN,
  [ERROR_CODES.SUBSCRIPTION_DENIED]: STREAM_CLOSE_CODES.FORBIDDEN,
  [ERROR_CODES.NOT_FOUND]: STREAM_CLOSE_CODES.NOT_FOUND,
  [ERROR_CODES.RATE_LIMITED]: STREAM_CLOSE_CODES.LIMITED,
  [ERROR_CODES.LIMIT_EXCEEDED]: STREAM_CLOSE_CODES.LIMITED,
  [ERROR_CODES.UNAVAILABLE]: STREAM_CLOSE_CODES.UNAVAILABLE,
};

/** The close code for a GraphQL error's `extensions.code`. */
export function closeCodeFor(code: unknown): number {
  return BY_ERROR_CODE[code as ErrorCode] ?? STREAM_CLOSE_CODES.INTERNAL;
}

/** A close reason fits in 123 bytes (RFC 6455); longer ones are cut. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.byteLength <= 123) return text;
  return `${bytes
    .subarray(0, 120)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}...`;
}

/** The path parameters of the two routes. */
export interface StreamPath {
  readonly state: string;
  readonly session: string | null;
}
