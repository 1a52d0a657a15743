import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../log.ts';
import { limitRefusals, type Metrics } from '../metrics.ts';

/**
 * The RFC 6455 close codes of a client's protocol fault. `ws` has already sent the close frame
 * with one of these when it emits 'error'; the table names them for the metric and the log.
 */
export const PROTOCOL_CLOSE_CODES = {
  /** Reserved opcode, unmasked client frame, bad continuation, invalid close code, RSV bits, control frame over 125 bytes. */
  PROTOCOL_ERROR: 1002,
  /** A text frame or a close reason that is not valid UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** A frame or message over the route's maxPayload (MAX_PAYLOAD_BYTES). */
  MESSAGE_TOO_BIG: 1009,
  /** Not a protocol fault: the socket failed otherwise and was cut without a close frame. */
  ABNORMAL: 1006,
} as const;

const CLOSE_CODE_OF_WS_ERROR: Readonly<Record<string, number>> = {
  WS_ERR_INVALID_UTF8: PROTOCOL_CLOSE_CODES.INVALID_PAYLOAD,
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: PROTOCOL_CLOSE_CODES.MESSAGE_TOO_BIG,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: PROTOCOL_CLOSE_CODES.MESSAGE_TOO_BIG,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: PROTOCOL_CLOSE_CODES.MESSAGE_TOO_BIG,
};

/** The close code `ws` sent for one of its errors (every other WS_ERR_* is 1002), or 1006. */
export function protocolCloseCode(error: Error & { code?: unknown }): number {
  const code = typeof error.code === 'string' ? error.code : '';
  if (!code.startsWith('WS_ERR_')) return PROTOCOL_CLOSE_CODES.ABNORMAL;
  return CLOSE_CODE_OF_WS_ERROR[code] ?? PROTOCOL_CLOSE_CODES.PROTOCOL_ERROR;
}

/** `ws_protocol_errors_total{route,code}`: client sockets closed for a protocol fault. */
export function wsProtocolErrors(metrics: Metrics) {
  return metrics.counter({
    name: 'ws_protocol_errors_total',
    help: 'WebSocket clients closed for a protocol fault (1002, 1007, 1009) or a socket error (1006), by route and close code.',
    labelNames: ['route', 'code'],
  });
}

export interface SocketGuardOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
}

/**
 * How long a faulty client may take to finish the closing handshake before it is cut. `ws` stops
 * reading a socket after a protocol fault, so without this it would hold the socket for 30 s.
 */
const CLOSE_GRACE_MS = 1_000;

/**
 * Attaches the 'error' handler every WebSocket must have from the moment it exists: `ws` emits
 * 'error' for a client's protocol fault (after sending the close frame), and an EventEmitter
 * without a listener would throw it and stop the process. The fault is counted and logged at
 * debug (it is the client's, not ours); anything else is logged as a warning and the socket cut.
 * Call it once per socket, before authentication; per-route listeners may be added beside it.
 */
export function guardSocket(socket: WebSocket, route: string, options: SocketGuardOptions): void {
  const errors = wsProtocolErrors(options.metrics);
  socket.on('error', (error: Error & { code?: unknown }) => {
    const code = protocolCloseCode(error);
    errors.inc({ route, code: String(code) });
    // A frame over the route's maxPayload is also a refusal of MAX_PAYLOAD_BYTES, on every route.
    if (code === PROTOCOL_CLOSE_CODES.MESSAGE_TOO_BIG)
      limitRefusals(options.metrics).inc({ limit: 'MAX_PAYLOAD_BYTES' });
    if (code === PROTOCOL_CLOSE_CODES.ABNORMAL) {
      options.log.warn({ err: error, route }, 'WebSocket error: connection cut');
      socket.terminate();
      return;
    }
    options.log.debug({ route, code, reason: error.message }, 'WebSocket protocol fault: client closed');
    const cut = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
    cut.unref();
    socket.once('close', () => clearTimeout(cut));
  });
}

/**
 * Node removes the HTTP server's own 'error' listener from an upgraded socket; until `ws` takes
 * it over (or while it is answered 400/404), a reset from the client must not become an uncaught
 * 'error'. The listener stays harmlessly beside `ws`'s own.
 */
export function guardUpgradeSocket(socket: Duplex, log: Logger): void {
  socket.on('error', (error) => log.debug({ err: error }, 'upgrade socket error'));
}

/**
 * Refuses an upgrade with a plain HTTP answer and closes the socket; `details` join the JSON body
 * (the subprotocols a route speaks, for instance).
 */
export function refuseUpgrade(
  socket: Duplex,
  status: 400 | 404,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
): void {
  const statusText = status === 400 ? 'Bad Request' : 'Not Found';
  const body = JSON.stringify({
    error: status === 400 ? 'BAD_USER_INPUT' : 'NOT_FOUND',
    message,
    ...details,
  });
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
