import type { IncomingMessage } from 'node:http';
import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AuthService } from '../../domain/auth/auth-service.ts';
import { CONNECTION_KINDS, type ConnectionLimiter } from '../../domain/limits/connection-limiter.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { AppError } from '../../errors.ts';
import { type Logger, newCorrelationId } from '../../log.ts';
import { onTokenExpiry, tokenExpiredError } from '../auth/token-expiry.ts';
import { tokenFromIncomingMessage } from '../auth/token-source.ts';
import { CLOSE_CODES, closeCodeFor, closeReason } from '../close-codes.ts';
import { groupRunContext } from '../delivery/group-context.ts';
import { sharingKey } from '../delivery/sharing-key.ts';
import type {
  GroupEvent,
  GroupMember,
  Membership,
  SubscriptionGroups,
} from '../delivery/subscription-groups.ts';
import type { RouteParams } from '../http-routes.ts';
import { acquireConnectionSlot } from '../limits/connection-slot.ts';
import type { OperationRunner, RunContext } from '../operation-runner.ts';
import type { OpenSubscriptions } from '../ops/open-subscriptions.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import { type CoreSocket, SocketCore } from '../socket-core.ts';
import { MANAGED_LIFECYCLE } from '../subscription-lifecycle.ts';
import { dataOf, typedRequest } from '../typed-operation.ts';
import type { UpgradeRoute } from '../upgrade-router.ts';
import { LegacyStateStreamDocument } from './documents.ts';
import type { StreamPath } from './stream-protocol.ts';

export interface IsmStreamOptions {
  /** The execution seam the socket's subscription runs through. */
  readonly runner: OperationRunner;
  /** Sockets on one state (and viewer scope) share one execution per event. */
  readonly groups: SubscriptionGroups;
  /** The open_subscriptions gauge. */
  readonly openSubscriptions: OpenSubscriptions;
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
  /** MESSAGE_RATE / MESSAGE_BURST: a client sending faster is closed 4429 (it has nothing to say). */
  readonly messageRate: number;
  readonly messageBurst: number;
  /** Connection slots (per instance, user, tenant), as graphql-ws takes them (docs/limits.md). */
  readonly limiter: ConnectionLimiter;
  /** Counts a refusal by the limit's name (limit_refusals_total). */
  readonly onRefused: (limit: string) => void;
}

/**
 * `/ws/stream/{state}` and `/ws/stream/{state}/{session}` (legacy.md A). Each socket is a
 * translator onto the `stateStream` GraphQL subscription, run through the execution seam like
 * every other transport (DESIGN.md decision 1), on the socket core (keep-alive, frame rate,
 * bounded buffer, one write per tick). Sockets on one state whose viewers have the same scope are
 * one subscription group: one execution per event, and each gets the event's `raw` frame as is.
 */
export function createIsmStreamRoutes(options: IsmStreamOptions): {
  readonly routes: UpgradeRoute[];
  /** Closes every socket with 1001 (shutdown). */
  dispose(): Promise<void>;
} {
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  const core = new SocketCore({
    maxBufferedBytes: options.maxBufferedBytes,
    messageRate: options.messageRate,
    messageBurst: options.messageBurst,
    keepAliveMs: options.pingIntervalMs,
    onSlowConsumer: (buffered) => {
      options.onRefused('MAX_CLIENT_BUFFER');
      options.log.warn({ buffered, route: 'ws/stream' }, 'slow consumer: closing');
    },
    slowConsumerClose: {
      code: CLOSE_CODES.SLOW_CONSUMER,
      reason: closeReason(`client too slow: more than ${options.maxBufferedBytes} bytes waiting to be sent`),
    },
    // Old ISM clients were given the closing handshake (ws's 30 s); a client that stalls for a
    // moment and reads on still learns why with 4413, and a dead one is cut after this.
    slowConsumerGraceMs: 10_000,
  });
  server.on('connection', (ws: WebSocket, request: IncomingMessage, params: RouteParams) => {
    const path: StreamPath = { state: params.state ?? '', session: params.session ?? null };
    new IsmStreamConnection(core.attach(ws), request, path, options);
  });
  return {
    routes: [
      { path: '/ws/stream/:state', server },
      { path: '/ws/stream/:state/:session', server },
    ],
    async dispose() {
      core.flush();
      for (const client of server.clients) client.close(CLOSE_CODES.GOING_AWAY, 'server shutting down');
      core.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The translation of one group event, made once for every socket of the group. */
type IsmFrame = { readonly raw: Buffer | undefined } | { readonly code: number; readonly message: string };

const ISM_FRAME = Symbol('ism frame');

function ismFrame(result: ExecutionResult): IsmFrame {
  const error = result.errors?.[0];
  if (error) return { code: closeCodeFor(error.extensions?.code), message: error.message };
  const raw = dataOf(LegacyStateStreamDocument, result)?.stateStream.raw;
  return { raw: raw === undefined ? undefined : Buffer.from(raw) };
}

/** One /ws/stream socket: authenticated once, one slot, one membership, until either side ends it. */
class IsmStreamConnection implements GroupMember {
  readonly transport = TRANSPORTS.LEGACY_WS;
  private closed = false;
  private membership: Membership | undefined;
  private closeGauge: (() => void) | undefined;
  private releaseSlot: (() => void) | undefined;
  private cancelExpiry: (() => void) | undefined;
  private readonly log: Logger;

  constructor(
    private readonly socket: CoreSocket,
    incoming: IncomingMessage,
    private readonly path: StreamPath,
    private readonly options: IsmStreamOptions,
  ) {
    this.log = options.log.child({ route: 'ws/stream', state: path.state, session: path.session });
    options.stats.connectionOpened(TRANSPORTS.LEGACY_WS);
    const ws = socket.ws;
    ws.on('message', () => this.received());
    ws.once('close', () => this.ended());
    // The token is read here, once; the upgrade request is not retained.
    const token = tokenFromIncomingMessage(incoming, { allowQuery: true });
    this.start(token).catch((error: unknown) => {
      const code = error instanceof AppError ? closeCodeFor(error.code) : CLOSE_CODES.INTERNAL;
      if (code === CLOSE_CODES.INTERNAL) this.log.error({ err: error }, 'stream failed');
      this.close(code, error instanceof AppError ? error.message : 'internal error');
    });
  }

  /** Clients have nothing to say on this route; one that floods is closed 4429 RATE_LIMITED. */
  private received(): void {
    this.options.stats.messageReceived(TRANSPORTS.LEGACY_WS);
    if (this.socket.take()) return;
    this.options.onRefused('MESSAGE_RATE');
    const { messageRate, messageBurst } = this.options;
    this.close(
      CLOSE_CODES.LIMIT_EXCEEDED,
      `RATE_LIMITED: more than ${messageRate} frames per second (burst ${messageBurst})`,
    );
  }

  private async start(token: string | undefined): Promise<void> {
    const { options } = this;
    const viewer = await options.auth.authenticate(token);
    if (this.closed) return;
    // A slot after authentication, before anything is sent; over a limit: 4429 and its message.
    const lease = acquireConnectionSlot(
      options.limiter,
      CONNECTION_KINDS.WEBSOCKET,
      viewer,
      options.onRefused,
    );
    this.releaseSlot = () => lease.release();
    // The socket lives no longer than its token: closed 4401 at expiry (docs/auth.md).
    if (viewer?.expiresAt !== undefined) {
      const expiresAt = viewer.expiresAt;
      this.cancelExpiry = onTokenExpiry(expiresAt, () =>
        this.close(CLOSE_CODES.UNAUTHENTICATED, tokenExpiredError(expiresAt).message),
      );
    }
    this.join(viewer);
  }

  private join(viewer: Viewer | null): void {
    const { runner, groups, openSubscriptions, stats } = this.options;
    const correlationId = newCorrelationId();
    const initial: RunContext = { extra: { viewer, correlationId }, ...MANAGED_LIFECYCLE };
    const parsed = runner.parse(
      typedRequest(LegacyStateStreamDocument, { stateId: this.path.state, sessionId: this.path.session }),
      initial,
    );
    if ('errors' in parsed) {
      const error = parsed.errors[0];
      this.close(closeCodeFor(error?.extensions?.code), error?.message ?? 'the stream could not start');
      return;
    }
    const key = sharingKey(parsed, LegacyStateStreamDocument, viewer);
    this.closeGauge = openSubscriptions.opened(TRANSPORTS.LEGACY_WS, 'stateStream');
    stats.subscriptionStarted(TRANSPORTS.LEGACY_WS);
    this.membership = groups.join(
      key,
      (audience) =>
        runner.run(parsed, key === null ? initial : groupRunContext(audience, viewer, correlationId)),
      this,
    );
  }

  next(event: GroupEvent): void {
    if (this.closed) return;
    const frame = event.translated(ISM_FRAME, ismFrame);
    if ('code' in frame) this.close(frame.code, frame.message);
    else if (frame.raw !== undefined) this.socket.sendBytes(frame.raw);
  }

  error(errors: readonly GraphQLFormattedError[]): void {
    const error = errors[0];
    this.close(closeCodeFor(error?.extensions?.code), error?.message ?? 'the stream failed');
  }

  /** The stream ended (the server is shutting down). */
  complete(): void {
    this.close(CLOSE_CODES.GOING_AWAY, 'the stream ended');
  }

  private close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close(code, closeReason(reason));
  }

  private ended(): void {
    this.closed = true;
    this.cancelExpiry?.();
    this.releaseSlot?.();
    this.membership?.leave();
    this.closeGauge?.();
    this.options.stats.connectionClosed(TRANSPORTS.LEGACY_WS);
  }
}
