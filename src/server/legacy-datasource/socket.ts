import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import { CONNECTION_KINDS, type ConnectionLimiter } from '../../domain/limits/connection-limiter.ts';
import { tenantOf, type Viewer } from '../../domain/viewer.ts';
import { ERROR_CODES, isAppError, LimitExceededError } from '../../errors.ts';
import { type Logger, newCorrelationId } from '../../log.ts';
import { onTokenExpiry } from '../auth/token-expiry-plugin.ts';
import { tokenFromIncomingMessage } from '../auth/token-source.ts';
import type { InitialContext } from '../graphql-context.ts';
import type { RouteParams } from '../http-routes.ts';
import { toFetchRequest } from '../legacy-ism/stream-socket.ts';
import type { LocalOperations } from '../local-operations.ts';
import type { LegacyTransportContext } from '../ops/subscription-metrics-plugin.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import { keepAlive } from '../socket-liveness.ts';
import type { UpgradeRoute } from '../upgrade-router.ts';
import { CLOSE_CODES, closeCodeOf, closeReason, errorFrame } from './protocol.ts';
import { type LegacyDataSourceSession, startLegacyDataSourceSession } from './session.ts';

/** @default 8 MiB: unsent request bytes at which a provider that does not read is closed. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface LegacyDataSourceRouteOptions {
  readonly operations: LocalOperations;
  readonly log: Logger;
  readonly stats: TransportStats;
  /** Verifies the socket's token once, at connect (docs/auth.md, legacy adapters). */
  readonly auth: AuthService;
  /** Largest frame accepted (MAX_PAYLOAD_BYTES); `ws` closes with 1009 beyond it. */
  readonly maxPayloadBytes: number;
  /** DATASOURCE_WS_PING_INTERVAL. */
  readonly pingIntervalMs: number;
  /** Connection slots (per instance, user, tenant). */
  readonly limiter: ConnectionLimiter;
  /** Counts a refusal by the limit's name (limit_refusals_total). */
  readonly onRefused: (limit: string) => void;
}

/** `GET /ws/ds/:ds`: the socket is a provider of data source `ds` (legacy.md A). */
export function createLegacyDataSourceRoute(options: LegacyDataSourceRouteOptions): {
  readonly route: UpgradeRoute;
  /** Closes every provider socket with 1001 (graceful shutdown). */
  dispose(): Promise<void>;
} {
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });

  server.on('connection', (socket: WebSocket, request: IncomingMessage, params: RouteParams) => {
    const dataSourceId = params.ds ?? '';
    const correlationId = newCorrelationId();
    const log = options.log.child({ correlationId, route: 'ws/ds', dataSourceId });
    const { stats } = options;
    stats.connectionOpened(TRANSPORTS.LEGACY_WS);
    keepAlive(socket, options.pingIntervalMs);
    const session = openSession(socket, request, dataSourceId, correlationId, log);
    // Frames that arrive while the token is checked wait for the session, in order.
    socket.on('message', (data: RawData, isBinary: boolean) => {
      stats.messageReceived(TRANSPORTS.LEGACY_WS);
      void session.then((opened) => opened?.receive(isBinary ? toBytes(data) : data.toString()));
    });
    socket.once('close', (code: number) => {
      stats.connectionClosed(TRANSPORTS.LEGACY_WS);
      log.debug({ code }, 'data source provider socket closed');
      void session.then((opened) => opened?.end());
    });
    log.debug('data source provider socket opened');
  });

  /** Identifies the caller by its `?token=` (or header), then starts translating. */
  async function openSession(
    socket: WebSocket,
    request: IncomingMessage,
    dataSourceId: string,
    correlationId: string,
    log: Logger,
  ): Promise<LegacyDataSourceSession | undefined> {
    let viewer: Viewer | null;
    try {
      viewer = await options.auth.authenticate(tokenFromIncomingMessage(request, { allowQuery: true }));
      // A connection slot like graphql-ws's (docs/limits.md); over a limit: error frame, 4429.
      const lease = options.limiter.acquire({
        kind: CONNECTION_KINDS.WEBSOCKET,
        userId: viewer?.userId ?? null,
        tenantId: tenantOf(viewer),
      });
      if (socket.readyState === socket.OPEN) socket.once('close', () => lease.release());
      else lease.release();
    } catch (error) {
      if (error instanceof LimitExceededError)
        options.onRefused(String(error.details?.limit ?? 'connections'));
      const code = isAppError(error) ? error.code : ERROR_CODES.INTERNAL;
      const message = isAppError(error) ? error.message : 'the token could not be checked';
      if (!isAppError(error)) log.error({ err: error }, 'authenticating a data source provider failed');
      socket.send(errorFrame(code, message));
      socket.close(closeCodeOf(code), closeReason(`${code}: ${message}`));
      return undefined;
    }
    if (socket.readyState !== socket.OPEN) return undefined;
    if (viewer?.expiresAt !== undefined) {
      const expiresAt = viewer.expiresAt;
      const cancel = onTokenExpiry(expiresAt, () =>
        socket.close(
          CLOSE_CODES.UNAUTHENTICATED,
          closeReason(`UNAUTHENTICATED: token expired at ${new Date(expiresAt).toISOString()}`),
        ),
      );
      socket.once('close', cancel);
    }
    // Every operation of the socket runs with this viewer and connection id, and with the upgrade
    // request (as a POST: yoga refuses the answerDataSource mutation on a GET request).
    const initial: InitialContext & LegacyTransportContext = {
      request: new Request(toFetchRequest(request), { method: 'POST' }),
      legacyTransport: TRANSPORTS.LEGACY_WS,
      extra: { correlationId, connectionId: randomUUID(), viewer },
    };
    return startLegacyDataSourceSession({
      dataSourceId,
      socket,
      operations: options.operations,
      initial,
      log,
      maxBufferedBytes: MAX_BUFFERED_BYTES,
    });
  }

  return {
    route: { path: '/ws/ds/:ds', server },
    async dispose() {
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
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
