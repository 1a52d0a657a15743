import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import {
  CloseCode,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  handleProtocols,
  type Message,
  MessageType,
  parseMessage,
  type SubscribePayload,
} from 'graphql-ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { LimitsConfig } from '../config/limits.ts';
import type { Audience } from '../domain/audience.ts';
import type { AuthService } from '../domain/auth/auth-service.ts';
import { CONNECTION_KINDS, type ConnectionLimiter } from '../domain/limits/connection-limiter.ts';
import { tenantOf, type Viewer } from '../domain/viewer.ts';
import { ERROR_CODES, isAppError, LimitExceededError } from '../errors.ts';
import { type Logger, newCorrelationId } from '../log.ts';
import { operationViewer } from './auth/operation-token.ts';
import { onTokenExpiry, tokenExpiredError } from './auth/token-expiry-plugin.ts';
import { tokenFromAuthorization, tokenFromConnectionParams } from './auth/token-source.ts';
import { CLOSE_CODES, closeReason } from './close-codes.ts';
import { sharingKey } from './delivery/sharing-key.ts';
import {
  type GroupEvent,
  type GroupMember,
  type Membership,
  type SubscriptionGroups,
  serializeResult,
  withoutHttpExtension,
} from './delivery/subscription-groups.ts';
import { subscriptionLimitError } from './limits/subscription-slots.ts';
import { isResultStream, type OperationRunner, type RunContext } from './operation-runner.ts';
import type { OpenSubscriptions } from './ops/open-subscriptions.ts';
import { rootFieldOf } from './ops/subscription-metrics-plugin.ts';
import { TRANSPORTS, type TransportStats } from './ops/transport-stats.ts';
import { type CoreSocket, SocketCore } from './socket-core.ts';
import { MANAGED_LIFECYCLE } from './subscription-lifecycle.ts';

export interface GraphqlWsOptions {
  readonly log: Logger;
  readonly maxPayloadBytes: number;
  readonly auth: AuthService;
  readonly limiter: ConnectionLimiter;
  readonly limits: LimitsConfig;
  readonly runner: OperationRunner;
  readonly groups: SubscriptionGroups;
  readonly stats: TransportStats;
  /** The open_subscriptions gauge and the /stats `graphql` section. */
  readonly openSubscriptions: OpenSubscriptions;
  /** Counts a refusal or cut-off by the limit's name (limit_refusals_total). */
  readonly onRefused: (limit: string) => void;
  /** Time a socket has to send `connection_init`. @default 3s, as graphql-ws */
  readonly connectionInitWaitMs?: number;
  /** Ping interval. @default 12s */
  readonly keepAliveMs?: number;
}

/**
 * The graphql-transport-ws protocol (graphql-ws 6.4's `makeServer`, message for message and close
 * code for close code) on streamgate's socket core. It is written here rather than taken from
 * graphql-ws because makeServer runs and serializes every subscription on its own; here a
 * subscription joins its group (DESIGN.md decision 4) and receives the group's serialized
 * payload with its own id spliced in. The token is verified once, at `connection_init`: a bad
 * one closes with 4403 before any data, and the socket is closed with 4403 when it expires.
 */
export function createGraphqlWsServer(options: GraphqlWsOptions): {
  server: WebSocketServer;
  dispose(): Promise<void>;
} {
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    handleProtocols,
  });
  const core = new SocketCore({
    maxBufferedBytes: options.limits.maxClientBufferBytes,
    messageRate: options.limits.messageRate,
    messageBurst: options.limits.messageBurst,
    keepAliveMs: options.keepAliveMs,
    onSlowConsumer: (buffered) => {
      options.onRefused('MAX_CLIENT_BUFFER');
      options.log.warn({ buffered }, 'graphql-ws slow consumer closed');
    },
  });
  server.on('connection', (ws: WebSocket, _request: IncomingMessage) => {
    if (server.clients.size > options.limits.maxWsConnections) {
      options.onRefused('MAX_WS_CONNECTIONS');
      ws.close(
        CLOSE_CODES.LIMIT_EXCEEDED,
        closeReason(
          `LIMIT_EXCEEDED: the server holds its maximum of ${options.limits.maxWsConnections} WebSocket connections`,
        ),
      );
      return;
    }
    // The upgrade request is read here, once, and not retained: a connection holds only its socket.
    new GraphqlWsConnection(core.attach(ws), authorizationHeader(_request), options);
  });
  return {
    server,
    async dispose() {
      core.flush();
      for (const client of server.clients) client.close(CLOSE_CODES.GOING_AWAY, 'Going away');
      core.dispose();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorizationHeader(request: IncomingMessage): string | undefined {
  return request.headers.authorization;
}

const STATE = { NEW: 0, INIT_RECEIVED: 1, ACKNOWLEDGED: 2, CLOSED: 3 } as const;

/** Pre-built frames: the same bytes for every connection. */
const ACK_FRAME = stringify({ type: MessageType.ConnectionAck });
const PONG_FRAME = stringify({ type: MessageType.Pong });

/** One graphql-ws connection: its socket, who it is, and its running operations. */
class GraphqlWsConnection {
  private state: (typeof STATE)[keyof typeof STATE] = STATE.NEW;
  private viewer: Viewer | null = null;
  private correlationId: string | undefined;
  private connectionId: string | undefined;
  /** Operations by id: the subscription while one runs, null while a query runs or one starts. */
  private readonly operations = new Map<string, WsSubscription | null>();
  private initTimer: NodeJS.Timeout | undefined;
  private releaseSlot: (() => void) | undefined;
  private cancelExpiry: (() => void) | undefined;
  /** The first frame is never rate-limited: it is `connection_init`. */
  private received = false;

  constructor(
    private readonly socket: CoreSocket,
    private readonly authorization: string | undefined,
    private readonly options: GraphqlWsOptions,
  ) {
    const ws = socket.ws;
    options.stats.connectionOpened(TRANSPORTS.GRAPHQL_WS);
    ws.once('error', (error: Error & { code?: string }) => {
      // ws has already closed with 1009 for an oversized frame; anything else is ours to close.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') options.onRefused('MAX_PAYLOAD_BYTES');
      else options.log.warn({ err: error }, 'graphql-ws socket error');
      ws.close(CloseCode.InternalServerError, 'Internal server error');
    });
    ws.once('close', () => this.closed());
    if (ws.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      ws.close(CloseCode.SubprotocolNotAcceptable, 'Subprotocol not acceptable');
      return;
    }
    const waitMs = options.connectionInitWaitMs ?? 3_000;
    this.initTimer = setTimeout(() => {
      if (this.state === STATE.NEW)
        ws.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
    }, waitMs);
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      const text = isBinary ? raw.toString('utf8') : String(raw);
      this.received ? this.receive(text) : this.first(text);
    });
  }

  private first(text: string): void {
    this.received = true;
    this.dispatch(text);
  }

  private receive(text: string): void {
    if (!this.socket.take() && !isComplete(text)) {
      this.options.onRefused('MESSAGE_RATE');
      this.answerRateLimited(text);
      return;
    }
    this.dispatch(text);
  }

  private dispatch(text: string): void {
    let message: Message;
    try {
      message = parseMessage(text);
    } catch {
      this.close(CloseCode.BadRequest, 'Invalid message received');
      return;
    }
    this.handle(message).catch((error: unknown) => {
      this.options.log.error({ err: error }, 'graphql-ws message failed');
      this.close(CloseCode.InternalServerError, 'Internal server error');
    });
  }

  private async handle(message: Message): Promise<void> {
    switch (message.type) {
      case MessageType.ConnectionInit: {
        if (this.state !== STATE.NEW) {
          this.close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests');
          return;
        }
        this.state = STATE.INIT_RECEIVED;
        clearTimeout(this.initTimer);
        this.initTimer = undefined;
        const params = isObject(message.payload) ? message.payload : undefined;
        if (!(await this.connect(params))) {
          // Closed already with the reason; this close is then a no-op, as in graphql-ws.
          this.close(CloseCode.Forbidden, 'Forbidden');
          return;
        }
        this.state = STATE.ACKNOWLEDGED;
        this.socket.send(ACK_FRAME);
        return;
      }
      case MessageType.Ping:
        this.socket.send(
          message.payload ? stringify({ type: MessageType.Pong, payload: message.payload }) : PONG_FRAME,
        );
        return;
      case MessageType.Pong:
        return;
      case MessageType.Subscribe:
        await this.subscribe(message.id, message.payload);
        return;
      case MessageType.Complete: {
        const subscription = this.operations.get(message.id);
        this.operations.delete(message.id);
        subscription?.end();
        return;
      }
      default:
        throw new Error(`Unexpected message of type ${message.type} received`);
    }
  }

  /** Verifies the token and takes a connection slot; false once the socket is closed for it. */
  private async connect(params: Record<string, unknown> | undefined): Promise<boolean> {
    const { options } = this;
    const ws = this.socket.ws;
    this.correlationId = newCorrelationId();
    const log = options.log.child({ correlationId: this.correlationId });
    let viewer: Viewer | null;
    try {
      const token = tokenFromConnectionParams(params) ?? tokenFromAuthorization(this.authorization);
      viewer = await options.auth.identify(token);
    } catch (error) {
      const refused = isAppError(error) && error.code === ERROR_CODES.UNAUTHENTICATED;
      log.info({ reason: isAppError(error) ? error.message : 'internal' }, 'graphql-ws connection refused');
      if (!isAppError(error)) log.error({ err: error }, 'authentication failed');
      ws.close(
        refused ? CLOSE_CODES.UNAUTHENTICATED : CLOSE_CODES.UNAVAILABLE,
        closeReason(
          isAppError(error) ? `${error.code}: ${error.message}` : 'INTERNAL: authentication failed',
        ),
      );
      return false;
    }
    // The client may have gone while the token was verified; then 'close' has fired already.
    if (this.state === STATE.CLOSED || !this.socket.open) return false;
    try {
      const lease = options.limiter.acquire({
        kind: CONNECTION_KINDS.WEBSOCKET,
        userId: viewer?.userId ?? null,
        tenantId: tenantOf(viewer),
      });
      this.releaseSlot = () => lease.release();
    } catch (error) {
      if (!(error instanceof LimitExceededError)) throw error;
      options.onRefused(String(error.details?.limit ?? 'connections'));
      ws.close(CLOSE_CODES.LIMIT_EXCEEDED, closeReason(`${error.code}: ${error.message}`));
      return false;
    }
    this.viewer = viewer;
    if (viewer?.expiresAt !== undefined) {
      const expiresAt = viewer.expiresAt;
      this.cancelExpiry = onTokenExpiry(expiresAt, () => this.expire(expiresAt));
    }
    log.debug({ userId: viewer?.userId }, 'graphql-ws connection');
    return true;
  }

  private async subscribe(id: string, payload: SubscribePayload): Promise<void> {
    if (this.state !== STATE.ACKNOWLEDGED) {
      this.close(CloseCode.Unauthorized, 'Unauthorized');
      return;
    }
    if (this.operations.has(id)) {
      this.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
      return;
    }
    const { runner, limits } = this.options;
    let viewer = this.viewer;
    if (payload.extensions) {
      // GraphiQL's Headers tab arrives per operation, not in connection_init.
      this.operations.set(id, null);
      const own = await operationViewer(this.options.auth, payload.extensions);
      if (!this.operations.has(id)) return; // completed or closed meanwhile
      this.operations.delete(id);
      if (own && 'error' in own) {
        this.sendError(id, [own.error]);
        return;
      }
      if (own) viewer = own.viewer;
    }
    const initial = this.initialContext(payload, viewer);
    const parsed = runner.parse(
      { query: payload.query, operationName: payload.operationName, variables: payload.variables },
      initial,
    );
    if ('errors' in parsed) {
      this.sendError(id, parsed.errors);
      return;
    }
    if (parsed.kind !== 'subscription') {
      this.operations.set(id, null);
      try {
        const result = await runner.run(parsed, initial);
        if (!this.operations.has(id) || isResultStream(result)) return;
        this.sendNext(id, serializeResult(result));
        this.sendComplete(id);
      } finally {
        this.operations.delete(id);
      }
      return;
    }
    // Counted and taken in one synchronous step: a burst of subscribes cannot overshoot the limit.
    let running = 0;
    for (const subscription of this.operations.values()) if (subscription !== null) running++;
    if (running >= limits.maxSubscriptionsPerConnection) {
      this.options.onRefused('MAX_SUBSCRIPTIONS_PER_CONNECTION');
      this.sendError(id, [subscriptionLimitError(limits.maxSubscriptionsPerConnection)]);
      return;
    }
    const key = sharingKey(parsed, payload.query, viewer);
    const subscription = new WsSubscription(
      id,
      this,
      this.options.openSubscriptions.opened(
        TRANSPORTS.GRAPHQL_WS,
        rootFieldOf(parsed.document, parsed.operationName),
      ),
    );
    this.operations.set(id, subscription);
    this.options.stats.subscriptionStarted(TRANSPORTS.GRAPHQL_WS);
    // A shared execution runs under the group's context: the viewer's scope, no socket of anyone's.
    subscription.membership = this.options.groups.join(
      key,
      (audience) => runner.run(parsed, key === null ? initial : this.groupContext(audience, viewer)),
      subscription,
    );
  }

  /** Queues a frame of `subscription` on this socket, unless it has ended. */
  deliver(subscription: WsSubscription, frame: string): void {
    if (subscription.live) this.socket.send(frame);
  }

  /** The group ended `subscription` with an error or a complete: frees its id; false if gone already. */
  ended(subscription: WsSubscription, frame: string): void {
    if (this.operations.get(subscription.id) !== subscription) return;
    this.operations.delete(subscription.id);
    this.socket.send(frame);
  }

  private initialContext(payload: SubscribePayload, viewer: Viewer | null): RunContext {
    return {
      extra: {
        viewer,
        correlationId: this.correlationId,
        connectionId: this.connectionIdOf(),
        socket: this.socket.ws,
      },
      socket: this.socket.ws,
      params: payload,
      ...MANAGED_LIFECYCLE,
    };
  }

  private groupContext(audience: Audience, viewer: Viewer | null): RunContext {
    return {
      extra: {
        // The scope the sharing key was made of; expiry is each connection's own business.
        viewer: viewer && { userId: viewer.userId, tenantId: viewer.tenantId, roles: viewer.roles },
        correlationId: this.correlationId,
        audience,
      },
      ...MANAGED_LIFECYCLE,
    };
  }

  private connectionIdOf(): string {
    this.connectionId ??= randomUUID();
    return this.connectionId;
  }

  private sendNext(id: string, payload: string): void {
    this.socket.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`);
  }

  private sendComplete(id: string): void {
    this.socket.send(stringify({ id, type: MessageType.Complete }));
  }

  private sendError(id: string, errors: readonly (GraphQLError | GraphQLFormattedError)[]): void {
    this.socket.send(stringify({ id, type: MessageType.Error, payload: errors.map(withoutHttpExtension) }));
  }

  /** The token expired: each subscription gets the error and completes, then the socket closes. */
  private expire(expiresAt: number): void {
    this.options.log.info({ correlationId: this.correlationId }, 'graphql-ws token expired');
    const payload = serializeResult({ errors: [tokenExpiredError(expiresAt)] });
    for (const [id, subscription] of [...this.operations]) {
      if (subscription === null) continue;
      this.operations.delete(id);
      subscription.end();
      this.sendNext(id, payload);
      this.sendComplete(id);
    }
    this.close(
      CLOSE_CODES.UNAUTHENTICATED,
      closeReason(`UNAUTHENTICATED: token expired at ${new Date(expiresAt).toISOString()}`),
    );
  }

  private close(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  private closed(): void {
    if (this.state === STATE.CLOSED) return;
    this.state = STATE.CLOSED;
    clearTimeout(this.initTimer);
    this.cancelExpiry?.();
    this.releaseSlot?.();
    const running = [...this.operations.values()];
    this.operations.clear();
    for (const subscription of running) subscription?.end();
    this.options.stats.connectionClosed(TRANSPORTS.GRAPHQL_WS);
  }

  /**
   * The limited message is dropped; a `subscribe` gets an `error` for its id so the client learns
   * why (unless that id is already running, which the protocol would refuse anyway).
   */
  private answerRateLimited(text: string): void {
    if (text.length > 16 * 1024) return; // not worth parsing to answer
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!isObject(message)) return;
    const { type, id } = message as { type?: unknown; id?: unknown };
    if (type !== 'subscribe' || typeof id !== 'string' || this.operations.has(id)) return;
    const { messageRate, messageBurst } = this.options.limits;
    this.sendError(id, [
      {
        message: `more than ${messageRate} messages per second (burst ${messageBurst}); this one was dropped`,
        extensions: { code: ERROR_CODES.RATE_LIMITED },
      },
    ]);
  }
}

/**
 * One running subscription: a member of its group. What it keeps is what the protocol needs: its
 * id (pre-spliced into the `next` frame's head), its connection, its group place and its gauge.
 */
class WsSubscription implements GroupMember {
  readonly transport = TRANSPORTS.GRAPHQL_WS;
  membership: Membership | undefined;
  live = true;
  /** `{"id":…,"type":"next","payload":`: the group's payload and `}` complete the frame. */
  private readonly head: string;

  constructor(
    readonly id: string,
    private readonly connection: GraphqlWsConnection,
    private readonly closeGauge: () => void,
  ) {
    this.head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  next(event: GroupEvent): void {
    this.connection.deliver(this, `${this.head}${event.payload}}`);
  }

  error(errors: readonly GraphQLFormattedError[]): void {
    this.stop();
    this.connection.ended(
      this,
      stringify({ id: this.id, type: MessageType.Error, payload: errors.map(withoutHttpExtension) }),
    );
  }

  complete(): void {
    this.stop();
    this.connection.ended(this, stringify({ id: this.id, type: MessageType.Complete }));
  }

  /** Leaves the group without a word to the client (it completed, expired or went away). */
  end(): void {
    this.stop();
    this.membership?.leave();
  }

  private stop(): void {
    if (!this.live) return;
    this.live = false;
    this.closeGauge();
  }
}

/** Cheap check before parsing: `complete` frees resources and is never limited. */
function isComplete(text: string): boolean {
  return text.length < 200 && /"type"\s*:\s*"complete"/.test(text);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function stringify(message: Record<string, unknown>): string {
  return JSON.stringify(message);
}
