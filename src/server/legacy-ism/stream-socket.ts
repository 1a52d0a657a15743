import type { IncomingMessage } from 'node:http';
import { type DocumentNode, type ExecutionResult, parse } from 'graphql';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import {
  CONNECTION_KINDS,
  type ConnectionLease,
  type ConnectionLimiter,
} from '../../domain/limits/connection-limiter.ts';
import { tenantOf, type Viewer } from '../../domain/viewer.ts';
import { AppError, LimitExceededError } from '../../errors.ts';
import { type Logger, newCorrelationId } from '../../log.ts';
import { tokenFromIncomingMessage } from '../auth/token-source.ts';
import type { InitialContext } from '../graphql-context.ts';
import type { RouteParams } from '../http-routes.ts';
import { isResultStream, type OperationOutcome, type OperationRunner } from '../operation-runner.ts';
import type { LegacyTransportContext } from '../ops/subscription-metrics-plugin.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import type { UpgradeRoute } from '../upgrade-router.ts';
import {
  closeCodeFor,
  closeReason,
  STATE_STREAM_DOCUMENT,
  STREAM_CLOSE_CODES,
  type StreamPath,
} from './stream-protocol.ts';

export interface IsmStreamOptions {
  /** The execution seam the socket's subscription runs through. */
  readonly runner: OperationRunner;
  /** Verifies the socket's token (`?token=` or the Authorization header) once, at connect. */
  readonly auth: Pick<AuthService, 'authenticate'>;
  readonly log: Logger;
  readonly stats: TransportStats;
  /** A ping every interval; a client that has not answered the previous one is dropped. */
  readonly pingIntervalMs: number;
  /** What may wait unsent on one socket before it is closed as a slow consumer. */
  readonly maxBufferedBytes: number;
  /** Largest frame a client may send (they have nothing to say; this bounds what they try). */
  readonly maxPayloadBytes: number;
  /** Connection slots (per instance, user, tenant), as graphql-ws takes them (docs/limits.md). */
  readonly limiter: ConnectionLimiter;
  /** Counts a refusal by the limit's name (limit_refusals_total). */
  readonly onRefused: (limit: string) => void;
}

const DOCUMENT: DocumentNode = parse(STATE_STREAM_DOCUMENT);

/**
 * `/ws/stream/{state}` and `/ws/stream/{state}/{session}` (legacy.md A). Each socket is a
 * translator onto the `stateStream` GraphQL subscription, run through yoga's envelop like every
 * other transport (DESIGN.md decision 1): the socket gets each event's `raw` frame, unchanged.
 * Every socket on a subject subscribes through the same Broker, which shares one upstream
 * subscription per subject among them.
 */
export function createIsmStreamRoutes(options: IsmStreamOptions): {
  readonly routes: UpgradeRoute[];
  /** Closes every socket with 1001 (shutdown). */
  dispose(): Promise<void>;
} {
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  server.on('connection', (socket: WebSocket, request: IncomingMessage, params: RouteParams) => {
    const path: StreamPath = { state: params.state ?? '', session: params.session ?? null };
    useLegacyStreamSocket(socket, request, path, options);
  });
  return {
    routes: [
      { path: '/ws/stream/:state', server },
      { path: '/ws/stream/:state/:session', server },
    ],
    async dispose() {
      for (const client of server.clients)
        client.close(STREAM_CLOSE_CODES.GOING_AWAY, 'server shutting down');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Runs one /ws/stream socket until either side ends it. */
export function useLegacyStreamSocket(
  socket: WebSocket,
  incoming: IncomingMessage,
  path: StreamPath,
  options: IsmStreamOptions,
): void {
  const { stats } = options;
  const log = options.log.child({ route: 'ws/stream', state: path.state, session: path.session });
  stats.connectionOpened(TRANSPORTS.LEGACY_WS);
  let events: AsyncIterator<ExecutionResult> | undefined;
  let closed = false;

  const close = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    socket.close(code, closeReason(reason));
  };

  // Liveness: a ping per interval; no pong since the last one means the client is gone.
  let alive = true;
  socket.on('pong', () => {
    alive = true;
  });
  const pinger = setInterval(() => {
    if (!alive) {
      log.debug('no pong: closing');
      closed = true;
      socket.terminate();
      return;
    }
    alive = false;
    socket.ping();
  }, options.pingIntervalMs);

  socket.on('message', () => stats.messageReceived(TRANSPORTS.LEGACY_WS));
  socket.once('close', () => {
    closed = true;
    clearInterval(pinger);
    stats.connectionClosed(TRANSPORTS.LEGACY_WS);
    void events?.return?.();
  });

  const run = async () => {
    const viewer = await options.auth.authenticate(tokenFromIncomingMessage(incoming, { allowQuery: true }));
    if (closed) return;
    // A slot after authentication, before anything is sent; over a limit: 4429 LIMIT_EXCEEDED.
    let lease: ConnectionLease;
    try {
      lease = options.limiter.acquire({
        kind: CONNECTION_KINDS.WEBSOCKET,
        userId: viewer?.userId ?? null,
        tenantId: tenantOf(viewer),
      });
    } catch (error) {
      if (error instanceof LimitExceededError)
        options.onRefused(String(error.details?.limit ?? 'connections'));
      throw error;
    }
    if (closed) lease.release();
    else socket.once('close', () => lease.release());
    if (closed) return;
    const result = await subscribe(options.runner, incoming, path, viewer);
    if (!isResultStream(result)) {
      const error = result.errors?.[0];
      close(closeCodeFor(error?.extensions?.code), error?.message ?? 'the stream could not start');
      return;
    }
    events = result;
    if (closed) {
      await events.return?.();
      return;
    }
    for (;;) {
      const next = await events.next();
      if (next.done) break;
      const error = next.value.errors?.[0];
      if (error) {
        close(closeCodeFor(error.extensions?.code), error.message);
        await events.return?.();
        return;
      }
      const raw = (next.value.data as { stateStream?: { raw?: unknown } } | null | undefined)?.stateStream
        ?.raw;
      if (typeof raw !== 'string' || closed) continue;
      socket.send(raw);
      if (socket.bufferedAmount > options.maxBufferedBytes) {
        log.warn({ buffered: socket.bufferedAmount }, 'slow consumer: closing');
        close(
          STREAM_CLOSE_CODES.SLOW_CONSUMER,
          `client too slow: more than ${options.maxBufferedBytes} bytes waiting to be sent`,
        );
        await events.return?.();
        return;
      }
    }
    close(STREAM_CLOSE_CODES.GOING_AWAY, 'the stream ended');
  };

  run().catch((error: unknown) => {
    const code = error instanceof AppError ? closeCodeFor(error.code) : STREAM_CLOSE_CODES.INTERNAL;
    if (code === STREAM_CLOSE_CODES.INTERNAL) log.error({ err: error }, 'stream failed');
    close(code, error instanceof AppError ? error.message : 'internal error');
  });
}

/**
 * Runs Subscription.stateStream for the socket's path. The context carries the viewer verified
 * at connect (as graphql-ws does), so the auth guard, tenancy and token expiry apply.
 */
function subscribe(
  runner: OperationRunner,
  incoming: IncomingMessage,
  path: StreamPath,
  viewer: Viewer | null,
): Promise<OperationOutcome> {
  const initial: LegacyTransportContext & InitialContext = {
    request: toFetchRequest(incoming),
    extra: { viewer, correlationId: newCorrelationId() },
    legacyTransport: TRANSPORTS.LEGACY_WS,
  };
  return runner.perform(
    { query: DOCUMENT, variables: { stateId: path.state, sessionId: path.session } },
    initial,
  );
}

/** The upgrade request as a Fetch Request, for plugins that read one (metrics, logging). */
export function toFetchRequest(incoming: IncomingMessage): Request {
  // The Host header is the client's to write: one that is no valid host must not fail the socket.
  const url =
    URL.parse(incoming.url ?? '/', `http://${incoming.headers.host ?? 'localhost'}`) ??
    new URL(pathOf(incoming.url), 'http://localhost');
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return new Request(url, { headers });
}

/** The path of a request target that did not parse against its Host: what a router saw. */
function pathOf(target: string | undefined): string {
  return URL.parse(target ?? '/', 'http://localhost')?.pathname ?? '/';
}
