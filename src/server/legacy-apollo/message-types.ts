/**
 * The old Apollo protocol (`subscriptions-transport-ws` 0.11, its PROTOCOL.md and
 * message-types.ts): the WebSocket subprotocol and the message types. Its pre-2017 names
 * (`subscription_start`, `init`, `keepalive`, …) were already translated by that library's own
 * server and are not spoken here.
 */
export const APOLLO_SUBPROTOCOL = 'graphql-ws';

export const APOLLO_MESSAGE = {
  /** client: the first message; `payload` is the client's `connectionParams` (the token). */
  CONNECTION_INIT: 'connection_init',
  /** server: the connection is accepted. */
  CONNECTION_ACK: 'connection_ack',
  /** server: the connection is refused (then closed), or a frame could not be read (ignored). */
  CONNECTION_ERROR: 'connection_error',
  /** server: keep-alive, right after the ack and then periodically; the client watches for it. */
  KEEP_ALIVE: 'ka',
  /** client: closes the connection. */
  CONNECTION_TERMINATE: 'connection_terminate',
  /** client: runs an operation `{ query, variables?, operationName? }` under `id`. */
  START: 'start',
  /** client: ends operation `id` (unsubscribe). */
  STOP: 'stop',
  /** server: one execution result of operation `id`. */
  DATA: 'data',
  /** server: operation `id` failed; nothing follows. */
  ERROR: 'error',
  /** server: operation `id` is done. */
  COMPLETE: 'complete',
} as const;
