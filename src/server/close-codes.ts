/**
 * WebSocket close codes streamgate sends on its own account, beside graphql-ws's protocol codes
 * (4400 bad request, 4401 unauthorized before ack, 4408 init timeout, 4409, 4429 too many inits,
 * 4500). The reason text always starts with the error code, e.g. "UNAUTHENTICATED: token expired".
 */
export const CLOSE_CODES = {
  /** Bad or expired token (graphql-ws's Forbidden); legacy /ws/stream uses 4401 per legacy.md. */
  UNAUTHENTICATED: 4403,
  /** Over a connection limit (total, per user, per tenant). */
  LIMIT_EXCEEDED: 4429,
  /** The client did not read fast enough: its outbound buffer passed MAX_CLIENT_BUFFER. */
  SLOW_CONSUMER: 4408,
  /** The signing keys could not be fetched; try again later. */
  UNAVAILABLE: 1011,
  /** Server shutting down. */
  GOING_AWAY: 1001,
} as const;

// RFC 6455: a close reason is at most 123 bytes of UTF-8.
const MAX_REASON_BYTES = 123;

/** A close reason cut to what a close frame can carry. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= MAX_REASON_BYTES) return text;
  let cut = text.slice(0, MAX_REASON_BYTES);
  while (Buffer.byteLength(`${cut}…`) > MAX_REASON_BYTES) cut = cut.slice(0, -1);
  return `${cut}…`;
}
