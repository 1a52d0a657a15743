import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import { CONNECTION_KINDS, type ConnectionLimiter } from '../../domain/limits/connection-limiter.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { ERROR_CODES, isAppError } from '../../errors.ts';
import { type Logger, newCorrelationId } from '../../log.ts';
import { onTokenExpiry } from '../auth/token-expiry.ts';
import { tokenFromIncomingMessage } from '../auth/token-source.ts';
import { CLOSE_CODES, closeCodeFor, closeReason } from '../close-codes.ts';
import type { SubscriptionGroups } from '../delivery/subscription-groups.ts';
import type { RouteParams } from '../http-routes.ts';
import { acquireConnectionSlot } from '../limits/connection-slot.ts';
import type { OperationRunner } from '../operation-runner.ts';
import type { OpenSubscriptions } from '../ops/open-subscriptions.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import { type CoreSocket, SocketCore } from '../socket-core.ts';
import type { UpgradeRoute } from '../upgrade-router.ts';
import { errorFrame } from './protocol.ts';
import { LegacyDataSourceSession } from './session.ts';

/** @default 8 MiB: unsent request bytes at which a provider that does not read is closed. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface LegacyDataSourceRouteOptions {
  /** The execution seam the provider subscription and its answers run through. */
  readonly runner: OperationRunner;
  readonly groups: SubscriptionGroups;
  /** The open_subscriptions gauge. */
  readonly openSubscriptions: OpenSubscriptions;
  readonly log: Logger;
  readonly stats: TransportStats;
  /** Verifies the socket's token once, at connect (docs/auth.md, legacy adapters). */
  readonly auth: AuthService;
  /** Largest frame accepted (MAX_PAYLOAD_BYTES); `ws` closes with 1009 beyond it. */
  readonly maxPayloadBytes: number;
  /** DATASOURCE_WS_PING_INTERVAL. */
  readonly pingIntervalMs: number;
  /** MESSAGE_RATE / MESSAGE_BURST: an answer over the rate gets an error frame RATE_LIMITED. */
  readonly messageRate: number;
  readonly messageBurst: number;
  /** Connection slots (per instance, user, tenant). */
  readonly limiter: ConnectionLimiter;
  /** Counts a refusal by the limit's name (limit_refusals_total). */
  readonly onRefused: (limit: string) => void;
}

/** `GET /ws/ds/:ds`: the socket is a provider of data source `ds` (legacy.md A), on the socket core. */
export function createLegacyDataSourceRoute(options: LegacyDataSourceRouteOptions): {
  readonly route: UpgradeRoute;
  /** Closes every provider socket with 1001 (graceful shutdown). */
  dispose(): Promise<void>;
} {
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  const core = new SocketCore({
    maxBufferedBytes: MAX_BUFFERED_BYTES,
    messageRate: options.messageRate,
    messageBurst: options.messageBurst,
    keepAliveMs: options.pingIntervalMs,
    onSlowConsumer: (buffered) => {
      options.onRefused('MAX_CLIENT_BUFFER');
      options.log.warn({ buffered, route: 'ws/ds' }, 'slow data source provider closed');
    },
    slowConsumerClose: {
      code: CLOSE_CODES.SLOW_CONSUMER,
      reason: closeReason(`SLOW_CONSUMER: more than ${MAX_BUFFERED_BYTES} bytes of requests unread`),
    },
  });

  server.on('connection', (ws: WebSocket, request: IncomingMessage, params: RouteParams) => {
    const socket = core.attach(ws);
    const dataSourceId = params.ds ?? '';
    const correlationId = newCorrelationId();
    const log = options.log.child({ correlationId, route: 'ws/ds', dataSourceId });
    const { stats } = options;
    stats.connectionOpened(TRANSPORTS.LEGACY_WS);
    // The token is read here, once; the upgrade request is not retained.
    const token = tokenFromIncomingMessage(request, { allowQuery: true });
    const session = openSession(socket, token, dataSourceId, correlationId, log);
    // Frames that arrive while the token is checked wait for the session, in order.
    ws.on('message', (data: RawData, isBinary: boolean) => {
      stats.messageReceived(TRANSPORTS.LEGACY_WS);
      if (!socket.take()) {
        // Counted as frames arrive; the request stays pending until a valid answer or its deadline.
        options.onRefused('MESSAGE_RATE');
        socket.send(
          errorFrame(
            ERROR_CODES.RATE_LIMITED,
            `more than ${options.messageRate} frames per second (burst ${options.messageBurst}); this one was dropped`,
          ),
        );
        return;
      }
      const text = isBinary ? toBytes(data) : data.toString();
      void session
        .then((opened) => opened?.receive(text))
        .catch((error: unknown) => log.error({ err: error }, 'a data source answer failed'));
    });
    ws.once('close', (code: number) => {
      stats.connectionClosed(TRANSPORTS.LEGACY_WS);
      log.debug({ code }, 'data source provider socket closed');
      void session.then((opened) => opened?.end());
    });
    log.debug('data source provider socket opened');
  });

  /** Identifies the caller by its `?token=` (or header), then starts translating. */
  async function openSession(
    socket: CoreSocket,
    token: string | undefined,
    dataSourceId: string,
    correlationId: string,
    log: Logger,
  ): Promise<LegacyDataSourceSession | undefined> {
    const ws = socket.ws;
    let viewer: Viewer | null;
    try {
      viewer = await options.auth.authenticate(token);
      // A connection slot like graphql-ws's (docs/limits.md); over a limit: error frame, 4429.
      const lease = acquireConnectionSlot(
        options.limiter,
        CONNECTION_KINDS.WEBSOCKET,
        viewer,
        options.onRefused,
      );
      if (socket.open) ws.once('close', () => lease.release());
      else lease.release();
    } catch (error) {
      const code = isAppError(error) ? error.code : ERROR_CODES.INTERNAL;
      const message = isAppError(error) ? error.message : 'the token could not be checked';
      if (!isAppError(error)) log.error({ err: error }, 'authenticating a data source provider failed');
      socket.send(errorFrame(code, message));
      socket.close(closeCodeFor(code), closeReason(`${code}: ${message}`));
      return undefined;
    }
    if (!socket.open) return undefined;
    if (viewer?.expiresAt !== undefined) {
      const expiresAt = viewer.expiresAt;
      const cancel = onTokenExpiry(expiresAt, () =>
        socket.close(
          CLOSE_CODES.UNAUTHENTICATED,
          closeReason(`UNAUTHENTICATED: token expired at ${new Date(expiresAt).toISOString()}`),
        ),
      );
      ws.once('close', cancel);
    }
    const closeGauge = options.openSubscriptions.opened(TRANSPORTS.LEGACY_WS, 'dataSourceRequests');
    ws.once('close', closeGauge);
    options.stats.subscriptionStarted(TRANSPORTS.LEGACY_WS);
    return new LegacyDataSourceSession({
      dataSourceId,
      socket,
      runner: options.runner,
      groups: options.groups,
      viewer,
      correlationId,
      connectionId: randomUUID(),
      log,
    });
  }

  return {
    route: { path: '/ws/ds/:ds', server },
    async dispose() {
      core.flush();
      const closed = [...server.clients].map(
        (socket) =>
          new Promise<void>((resolve) => {
            socket.once('close', () => resolve());
            socket.close(CLOSE_CODES.GOING_AWAY, 'GOING_AWAY: the server is shutting down');
          }),
      );
      // A peer that does not complete the closing handshake is cut after a moment.
      const cut = setTimeout(() => {
        for (const socket of server.clients) socket.terminate();
      }, 1_000);
      await Promise.all(closed);
      clearTimeout(cut);
      core.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
