import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { createTokenBucket } from '../../domain/limits/token-bucket.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { onTokenExpiry } from '../auth/token-expiry-plugin.ts';
import { limitRefusals } from '../limits/limits-plugins.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import type { UpgradeRoute } from '../upgrade-router.ts';
import type { LegacyAccess } from './legacy-access.ts';
import { dataFrame, frames, LEGACY_CLOSE_CODES, LEGACY_ERRORS, validate } from './protocol.ts';
import type { TopicOperations } from './topic-operations.ts';
import { TopicSession } from './topic-session.ts';

export interface LegacyStreamSocketOptions {
  readonly operations: TopicOperations;
  readonly access: LegacyAccess;
  readonly stats: TransportStats;
  readonly log: Logger;
  /** Largest client frame; a larger one gets an error frame and the socket stays open. */
  readonly maxPayloadBytes: number;
  /** A client silent for this long is closed. */
  readonly heartbeatTimeoutMs: number;
  /** Client frames per second and burst before RATE_LIMITED (MESSAGE_RATE, MESSAGE_BURST). */
  readonly messageRate: { readonly ratePerSecond: number; readonly burst: number };
  /** What may wait unsent on one socket before it is closed as a slow consumer (MAX_CLIENT_BUFFER). */
  readonly outboundLimitBytes: number;
  /** For `limit_refusals_total`. */
  readonly metrics: Metrics;
}

/** A route plus the means to close every socket on shutdown. */
export interface LegacyStreamSocket extends UpgradeRoute {
  dispose(): Promise<void>;
}

/**
 * WebSocket `/ws/stream?token=` of the old streaming service (legacy.md D): the action
 * protocol over a TopicSession, i.e. over GraphQL `topicMessages` (STYLE.md example 2: this file
 * only wires a `ws` socket to the protocol and the session).
 */
export function useLegacyStreamSocket(options: LegacyStreamSocketOptions): LegacyStreamSocket {
  // Frames up to four times the limit are read so that an oversized one can be answered with an
  // error frame; beyond that `ws` closes with 1009 before buffering it all.
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes * 4 });
  const sessions = new Set<() => Promise<void>>();
  const refusals = limitRefusals(options.metrics);

  server.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    void accept(socket, request).catch((error: unknown) => {
      options.log.error({ err: error }, 'legacy stream socket failed');
      socket.terminate();
    });
  });

  async function accept(socket: WebSocket, incoming: IncomingMessage): Promise<void> {
    const url = new URL(incoming.url ?? '/', 'http://streamgate.local');
    const send = (frame: object) => {
      if (socket.readyState !== socket.OPEN) return;
      socket.send(JSON.stringify(frame));
      if (socket.bufferedAmount <= options.outboundLimitBytes) return;
      refusals.inc({ limit: 'MAX_CLIENT_BUFFER' });
      socket.close(
        LEGACY_CLOSE_CODES.SLOW_CONSUMER,
        `SLOW_CONSUMER: more than ${options.outboundLimitBytes} bytes waiting to be sent`,
      );
      // The close frame waits behind the unread data; do not wait for a client that does not read.
      setTimeout(() => socket.terminate(), 1_000).unref();
    };
    // Frames that arrive while the token is checked are kept and handled in order afterwards.
    const early: RawData[] = [];
    const keepEarly = (data: RawData) => early.push(data);
    socket.on('message', keepEarly);

    const access = await options.access.authenticate(incoming);
    if (!access.ok) {
      send(frames.error(access.error, access.message));
      socket.close(LEGACY_CLOSE_CODES.UNAUTHORIZED, access.error);
      return;
    }
    const slot = options.access.openConnection(access.viewer, 'websocket');
    if (!slot.ok) {
      send(frames.error(LEGACY_ERRORS.CONNECTION_LIMIT_EXCEEDED, slot.message));
      socket.close(LEGACY_CLOSE_CODES.CONNECTION_LIMIT_EXCEEDED, LEGACY_ERRORS.CONNECTION_LIMIT_EXCEEDED);
      return;
    }
    if (socket.readyState !== socket.OPEN) {
      slot.release();
      return;
    }

    const { viewer } = access;
    const connectionId = randomUUID();
    const log = options.log.child({ connectionId, transport: TRANSPORTS.LEGACY_WS });
    options.stats.connectionOpened(TRANSPORTS.LEGACY_WS);
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    const request = new Request(url, { headers });
    const session = new TopicSession({
      viewer,
      transport: TRANSPORTS.LEGACY_WS,
      request,
      operations: options.operations,
      log,
      onData: (message) => send(dataFrame(message)),
      onStreamError: (topic, error) => send(frames.error(error.code, error.message, { topic })),
    });

    let heartbeat: NodeJS.Timeout | undefined;
    const refreshHeartbeat = () => {
      clearTimeout(heartbeat);
      heartbeat = setTimeout(() => {
        send(
          frames.error(
            LEGACY_ERRORS.ACCESS_HEARTBEAT_TIMEOUT,
            `nothing received for ${options.heartbeatTimeoutMs} ms; send a ping to stay connected`,
          ),
        );
        socket.close(LEGACY_CLOSE_CODES.HEARTBEAT_TIMEOUT, LEGACY_ERRORS.ACCESS_HEARTBEAT_TIMEOUT);
      }, options.heartbeatTimeoutMs);
    };

    const frameBudget = createTokenBucket(options.messageRate);

    // Frames are handled one after the other, so replies keep the order of the requests.
    let queue = Promise.resolve();
    const onFrame = (data: RawData) => {
      options.stats.messageReceived(TRANSPORTS.LEGACY_WS);
      refreshHeartbeat();
      // Counted as frames arrive, not as they are handled, so a slow reply cannot hide a flood.
      if (!frameBudget.take()) {
        refusals.inc({ limit: 'MESSAGE_RATE' });
        const { ratePerSecond, burst } = options.messageRate;
        queue = queue.then(() =>
          send(
            frames.error(
              LEGACY_ERRORS.RATE_LIMITED,
              `more than ${ratePerSecond} frames per second (burst ${burst}); slow down`,
            ),
          ),
        );
        return;
      }
      queue = queue
        .then(() => handle(data))
        .catch((error: unknown) => log.error({ err: error }, 'legacy frame failed'));
    };

    const handle = async (data: RawData) => {
      const size = Array.isArray(data)
        ? data.reduce((sum, part) => sum + part.byteLength, 0)
        : data.byteLength;
      if (size > options.maxPayloadBytes) {
        send(
          frames.error(
            LEGACY_ERRORS.INVALID_FORMAT,
            `a frame of ${size} bytes is over the limit of ${options.maxPayloadBytes} (MAX_PAYLOAD_BYTES)`,
          ),
        );
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(
          Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(toBuffers(data)).toString('utf8'),
        );
      } catch {
        send(frames.error(LEGACY_ERRORS.INVALID_JSON, 'the frame is not valid JSON'));
        return;
      }
      const validation = validate(parsed);
      if (!validation.ok) {
        send(frames.error(validation.error, validation.message));
        return;
      }
      const message = validation.message;
      switch (message.action) {
        case 'ping':
          send(frames.pong(Date.now()));
          return;
        case 'list_topics': {
          const available = await options.operations.availableTopics(viewer, TRANSPORTS.LEGACY_WS, request);
          send(frames.topics(session.topics, available));
          return;
        }
        case 'unsubscribe':
          await session.unsubscribe(message.topics);
          send(frames.unsubscribed(message.topics));
          return;
        case 'subscribe': {
          const outcome = await session.subscribe(message.topics, message.filters);
          if (!outcome.ok) {
            send(frames.error(LEGACY_ERRORS.INVALID_FORMAT, outcome.problem));
            return;
          }
          send(frames.subscriptionConfirmed(outcome.subscribed, outcome.failed));
          return;
        }
      }
    };

    // The socket lives no longer than its token (docs/auth.md).
    const cancelExpiry =
      viewer.expiresAt === undefined
        ? () => undefined
        : onTokenExpiry(viewer.expiresAt, () => {
            send(frames.error(LEGACY_ERRORS.INVALID_TOKEN, 'the token expired; reconnect with a new one'));
            socket.close(LEGACY_CLOSE_CODES.UNAUTHORIZED, LEGACY_ERRORS.INVALID_TOKEN);
          });
    const end = async () => {
      clearTimeout(heartbeat);
      cancelExpiry();
      sessions.delete(end);
      await session.close();
    };
    sessions.add(end);
    socket.off('message', keepEarly);
    socket.on('message', onFrame);
    socket.once('close', () => {
      options.stats.connectionClosed(TRANSPORTS.LEGACY_WS);
      slot.release();
      void end();
    });
    send(frames.connectionEstablished(connectionId, viewer.userId, viewer.tenantId));
    refreshHeartbeat();
    for (const data of early) onFrame(data);
  }

  return {
    path: '/ws/stream',
    server,
    async dispose() {
      await Promise.all([...sessions].map((end) => end()));
      for (const client of server.clients)
        client.close(LEGACY_CLOSE_CODES.GOING_AWAY, 'server shutting down');
    },
  };
}

function toBuffers(data: RawData): Buffer[] {
  if (Array.isArray(data)) return data;
  return [Buffer.from(data as ArrayBuffer)];
}
