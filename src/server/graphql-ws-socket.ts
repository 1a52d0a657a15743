import type { IncomingMessage } from 'node:http';
import { CloseCode, type Server } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import { createTokenBucket } from '../domain/limits/token-bucket.ts';
import { ERROR_CODES } from '../errors.ts';
import type { Logger } from '../log.ts';
import { CLOSE_CODES, closeReason } from './close-codes.ts';
import { sendBounded } from './limits/bounded-send.ts';

/** What graphql-ws's `extra` holds for every connection of this adapter. */
export interface SocketExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
  /** Subscription ids in flight, set by graphql-ws.ts at connect; used to answer a limited `subscribe`. */
  activeIds?: () => readonly string[];
}

export interface SocketAdapterOptions {
  readonly log: Logger;
  /** Open sockets (before and after connection_init) beyond which new ones are closed 4429. */
  readonly maxSockets: number;
  /** MAX_CLIENT_BUFFER. */
  readonly maxBufferedBytes: number;
  /** MESSAGE_RATE / MESSAGE_BURST per connection. */
  readonly messageRate: number;
  readonly messageBurst: number;
  /** Ping interval; a client that has not answered the previous ping is dropped. @default 12s */
  readonly keepAliveMs?: number;
  readonly onRefused: (limit: string) => void;
}

/**
 * The socket side of graphql-ws, like graphql-ws's own `use/ws` but with streamgate's bounds:
 * sends never wait for the client (its unsent bytes are bounded by MAX_CLIENT_BUFFER, past which
 * it is closed 4408), incoming messages pass a token bucket (a `subscribe` over the rate gets an
 * `error` RATE_LIMITED for its id, the socket stays open; `complete` is never limited), and a
 * socket over MAX_WS_CONNECTIONS is closed 4429 before it can initialise.
 */
export function serveGraphqlWs(
  server: Server<SocketExtra>,
  wss: WebSocketServer,
  options: SocketAdapterOptions,
): void {
  const keepAliveMs = options.keepAliveMs ?? 12_000;
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    if (wss.clients.size > options.maxSockets) {
      options.onRefused('MAX_WS_CONNECTIONS');
      socket.close(
        CLOSE_CODES.LIMIT_EXCEEDED,
        closeReason(
          `LIMIT_EXCEEDED: the server holds its maximum of ${options.maxSockets} WebSocket connections`,
        ),
      );
      return;
    }
    const log = options.log;
    socket.once('error', (error: Error & { code?: string }) => {
      // ws has already closed with 1009 for an oversized frame; anything else is ours to close.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') options.onRefused('MAX_PAYLOAD_BYTES');
      else log.warn({ err: error }, 'graphql-ws socket error');
      socket.close(CloseCode.InternalServerError, 'Internal server error');
    });

    let alive = true;
    socket.on('pong', () => {
      alive = true;
    });
    const pinger = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, keepAliveMs);

    const bucket = createTokenBucket({ ratePerSecond: options.messageRate, burst: options.messageBurst });
    const extra: SocketExtra = { socket, request };
    let initialised = false;
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: async (data) => {
          sendBounded(socket, data, {
            maxBufferedBytes: options.maxBufferedBytes,
            onSlowConsumer: (buffered) => {
              options.onRefused('MAX_CLIENT_BUFFER');
              log.warn({ buffered }, 'graphql-ws slow consumer closed');
            },
          });
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', async (raw: Buffer, isBinary: boolean) => {
            const text = isBinary ? raw.toString('utf8') : String(raw);
            if (initialised && !bucket.take() && !isComplete(text)) {
              options.onRefused('MESSAGE_RATE');
              answerRateLimited(socket, text, extra, options);
              return;
            }
            initialised = true;
            try {
              await handle(text);
            } catch (error) {
              log.error({ err: error }, 'graphql-ws message failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            }
          }),
      },
      extra,
    );
    socket.once('close', (code: number, reason: Buffer) => {
      clearInterval(pinger);
      void closed(code, String(reason));
    });
  });
}

/** Cheap check before parsing: `complete` frees resources and is never limited. */
function isComplete(text: string): boolean {
  return text.length < 200 && /"type"\s*:\s*"complete"/.test(text);
}

/**
 * The limited message is dropped; a `subscribe` gets an `error` for its id so the client learns
 * why (unless that id is already running, which graphql-ws would refuse anyway).
 */
function answerRateLimited(
  socket: WebSocket,
  text: string,
  extra: SocketExtra,
  options: SocketAdapterOptions,
): void {
  if (text.length > 16 * 1024) return; // not worth parsing to answer
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return;
  }
  if (typeof message !== 'object' || message === null) return;
  const { type, id } = message as { type?: unknown; id?: unknown };
  if (type !== 'subscribe' || typeof id !== 'string' || extra.activeIds?.().includes(id)) return;
  const payload = [
    {
      message: `more than ${options.messageRate} messages per second (burst ${options.messageBurst}); this one was dropped`,
      extensions: { code: ERROR_CODES.RATE_LIMITED },
    },
  ];
  sendBounded(socket, JSON.stringify({ id, type: 'error', payload }), {
    maxBufferedBytes: options.maxBufferedBytes,
  });
}
