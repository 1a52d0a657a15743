import { randomUUID } from 'node:crypto';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import type { LimitsConfig } from '../config/limits.ts';
import type { AuthService } from '../domain/auth/auth-service.ts';
import { CONNECTION_KINDS, type ConnectionLimiter } from '../domain/limits/connection-limiter.ts';
import type { Viewer } from '../domain/viewer.ts';
import { ERROR_CODES, type ErrorCode, isAppError, LimitExceededError } from '../errors.ts';
import { type Logger, newCorrelationId } from '../log.ts';
import { operationViewer } from './auth/operation-token.ts';
import { onTokenExpiry, tokenExpiredError } from './auth/token-expiry.ts';
import { tokenFromAuthorization, tokenFromConnectionParams } from './auth/token-source.ts';
import { CLOSE_CODES, closeReason } from './close-codes.ts';
import { ACCEPTS_EVENT_PAGES } from './delivery/event-pages-plugin.ts';
import { groupRunContext } from './delivery/group-context.ts';
import { sharingKey } from './delivery/sharing-key.ts';
import {
  type GroupEvent,
  type GroupMember,
  type Membership,
  type SubscriptionGroups,
  serializeResult,
  withoutHttpExtension,
} from './delivery/subscription-groups.ts';
import { acquireConnectionSlot } from './limits/connection-slot.ts';
import { subscriptionLimitError } from './limits/subscription-slots.ts';
import { isResultStream, type OperationRunner, type RunContext } from './operation-runner.ts';
import type { OpenSubscriptions } from './ops/open-subscriptions.ts';
import { rootFieldOf } from './ops/root-field.ts';
import type { Transport, TransportStats } from './ops/transport-stats.ts';
import type { CoreSocket } from './socket-core.ts';
import { MANAGED_LIFECYCLE } from './subscription-lifecycle.ts';
import { lowWaterBytes, whenWritable } from './ws-writable.ts';

/** What a GraphQL WebSocket protocol on /graphql needs of the server. */
export interface OperationSocketOptions {
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
  /** Ping interval (and the old Apollo protocol's `ka`). @default 12s */
  readonly keepAliveMs?: number;
}

/** One operation as a protocol's start message carries it. */
export interface OperationPayload {
  readonly query: string;
  readonly operationName?: string | null;
  readonly variables?: Record<string, unknown> | null;
  readonly extensions?: Record<string, unknown> | null;
}

/** How one protocol frames what an operation sends: everything else is the same on every one. */
export interface OperationFrames {
  /** Counted under this name in /stats, /metrics and the open_subscriptions gauge. */
  readonly transport: Transport;
  /** The start of a result frame (`{"id":…,"type":"next","payload":`): the result and `}` end it. */
  resultHead(id: string): string;
  /** The operation is done. */
  complete(id: string): string;
  /** Refused before it ran (parse, validation, its own token, a limit, the rate): the frames to send. */
  refused(id: string, errors: readonly GraphQLFormattedError[]): readonly string[];
  /** A running subscription's source failed; nothing follows. */
  failed(id: string, errors: readonly GraphQLFormattedError[]): string;
}

/** Why `connect` refused a connection: the close code and the error to show the client. */
export interface ConnectionRefusal {
  readonly closeCode: number;
  readonly code: ErrorCode;
  readonly message: string;
}

const STATE = { NEW: 0, INIT_RECEIVED: 1, ACKNOWLEDGED: 2, CLOSED: 3 } as const;
type State = (typeof STATE)[keyof typeof STATE];

/** graphql-ws's close code for a socket that sent no `connection_init` in time; both protocols use it. */
const INIT_TIMEOUT_CLOSE = 4408;

/**
 * One GraphQL WebSocket connection, whatever its protocol (graphql-transport-ws in
 * graphql-ws.ts, the old Apollo protocol in legacy-apollo/): who it is (the token verified once,
 * at `connection_init`), its connection slot, its token expiry, its running operations, and how
 * an operation runs: through the execution seam, a subscription as a member of its group
 * (DESIGN.md decision 4) with its own gauge. A protocol reads its frames and says how results
 * look on the wire (`OperationFrames`); nothing else differs.
 */
export abstract class OperationSocket {
  protected state: State = STATE.NEW;
  private viewer: Viewer | null = null;
  private correlationId: string | undefined;
  private connectionId: string | undefined;
  /** Operations by id: the subscription while one runs, a Pending while a query runs or one starts. */
  private readonly operations = new Map<string, SocketSubscription | Pending>();
  private initTimer: NodeJS.Timeout | undefined;
  private releaseSlot: (() => void) | undefined;
  private cancelExpiry: (() => void) | undefined;
  /** The first frame is never rate-limited: it is `connection_init`. */
  private received = false;

  constructor(
    protected readonly socket: CoreSocket,
    private readonly authorization: string | undefined,
    protected readonly options: OperationSocketOptions,
    private readonly frames: OperationFrames,
  ) {
    const ws = socket.ws;
    options.stats.connectionOpened(frames.transport);
    ws.once('error', (error: Error & { code?: string }) => {
      // ws has already closed with 1009 for an oversized frame (the socket guard counts it in
      // limit_refusals_total); anything else is ours to close.
      if (error.code !== 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
        options.log.warn({ err: error }, `${frames.transport} socket error`);
      this.closeForInternalError();
    });
    ws.once('close', () => this.closed());
    const waitMs = options.connectionInitWaitMs ?? 3_000;
    this.initTimer = setTimeout(() => {
      if (this.state === STATE.NEW) this.close(INIT_TIMEOUT_CLOSE, 'Connection initialisation timeout');
    }, waitMs);
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      const text = isBinary ? raw.toString('utf8') : String(raw);
      this.received ? this.receive(text) : this.first(text);
    });
  }

  /** One frame of the protocol, within the rate. */
  protected abstract dispatch(text: string): void;
  /** The protocol's close for a fault of the server's own. */
  protected abstract closeForInternalError(): void;
  /** A frame over MESSAGE_RATE that must still be handled (it frees resources: complete, stop). */
  protected abstract isFreeing(text: string): boolean;
  /** The `type` of the protocol's start message, which an answer to a dropped one names. */
  protected abstract readonly startType: string;

  private first(text: string): void {
    this.received = true;
    this.dispatch(text);
  }

  private receive(text: string): void {
    if (!this.socket.take() && !this.isFreeing(text)) {
      this.options.onRefused('MESSAGE_RATE');
      this.answerRateLimited(text);
      return;
    }
    this.dispatch(text);
  }

  /** True once `connection_init` arrived. */
  protected get initialised(): boolean {
    return this.state !== STATE.NEW;
  }

  /** True once `connection_init` was accepted. */
  protected get acknowledged(): boolean {
    return this.state === STATE.ACKNOWLEDGED;
  }

  protected get isClosed(): boolean {
    return this.state === STATE.CLOSED;
  }

  /** True while an operation of this id runs (or starts). */
  protected running(id: string): boolean {
    return this.operations.has(id);
  }

  /**
   * `connection_init` arrived: verifies the token (`payload` first, then the upgrade's
   * Authorization header) and takes a connection slot. Undefined once connected; a refusal the
   * protocol reports before it closes; or 'gone' when the client left meanwhile.
   */
  protected async connect(
    payload: Readonly<Record<string, unknown>> | undefined,
  ): Promise<ConnectionRefusal | 'gone' | undefined> {
    const { options } = this;
    this.state = STATE.INIT_RECEIVED;
    clearTimeout(this.initTimer);
    this.initTimer = undefined;
    this.correlationId = newCorrelationId();
    const log = options.log.child({ correlationId: this.correlationId, transport: this.frames.transport });
    let viewer: Viewer | null;
    try {
      const token = tokenFromConnectionParams(payload) ?? tokenFromAuthorization(this.authorization);
      viewer = await options.auth.identify(token);
    } catch (error) {
      log.info({ reason: isAppError(error) ? error.message : 'internal' }, 'connection refused');
      if (!isAppError(error)) {
        log.error({ err: error }, 'authentication failed');
        return {
          closeCode: CLOSE_CODES.GRAPHQL_WS_UNAVAILABLE,
          code: ERROR_CODES.INTERNAL,
          message: 'authentication failed',
        };
      }
      return {
        closeCode:
          error.code === ERROR_CODES.UNAUTHENTICATED
            ? CLOSE_CODES.GRAPHQL_WS_UNAUTHENTICATED
            : CLOSE_CODES.GRAPHQL_WS_UNAVAILABLE,
        code: error.code,
        message: error.message,
      };
    }
    // The client may have gone while the token was verified; then 'close' has fired already.
    if (this.isClosed || !this.socket.open) return 'gone';
    try {
      const lease = acquireConnectionSlot(
        options.limiter,
        CONNECTION_KINDS.WEBSOCKET,
        viewer,
        options.onRefused,
      );
      this.releaseSlot = () => lease.release();
    } catch (error) {
      if (!(error instanceof LimitExceededError)) throw error;
      return { closeCode: CLOSE_CODES.LIMIT_EXCEEDED, code: error.code, message: error.message };
    }
    this.viewer = viewer;
    this.state = STATE.ACKNOWLEDGED;
    if (viewer?.expiresAt !== undefined) {
      const expiresAt = viewer.expiresAt;
      this.cancelExpiry = onTokenExpiry(expiresAt, () => this.expire(expiresAt));
    }
    log.debug({ userId: viewer?.userId }, 'connection');
    return undefined;
  }

  /** Closes with a refusal's code, its reason starting with the error code. */
  protected closeRefused(refusal: ConnectionRefusal): void {
    this.close(refusal.closeCode, closeReason(`${refusal.code}: ${refusal.message}`));
  }

  /**
   * Runs one operation of an acknowledged connection (the protocol has checked its state and
   * id): a query or mutation answers one result and completes; a subscription joins its group.
   */
  protected async start(id: string, payload: OperationPayload): Promise<void> {
    const { runner, limits } = this.options;
    let viewer = this.viewer;
    if (payload.extensions) {
      // GraphiQL's Headers tab arrives per operation, not in connection_init.
      const verifying = new Pending();
      this.operations.set(id, verifying);
      const own = await operationViewer(this.options.auth, payload.extensions);
      if (this.operations.get(id) !== verifying) return; // completed, replaced or closed meanwhile
      this.operations.delete(id);
      if (own && 'error' in own) {
        this.sendRefused(id, [own.error]);
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
      this.sendRefused(id, parsed.errors);
      return;
    }
    if (parsed.kind !== 'subscription') {
      const running = new Pending();
      this.operations.set(id, running);
      try {
        const result = await runner.run(parsed, initial);
        if (this.operations.get(id) !== running || isResultStream(result)) return;
        this.socket.send(`${this.frames.resultHead(id)}${serializeResult(result)}}`);
        this.socket.send(this.frames.complete(id));
      } finally {
        // Unless the client stopped it and started another under the same id (the old protocol may).
        if (this.operations.get(id) === running) this.operations.delete(id);
      }
      return;
    }
    // Counted and taken in one synchronous step: a burst of subscribes cannot overshoot the limit.
    let running = 0;
    for (const operation of this.operations.values()) if (operation instanceof SocketSubscription) running++;
    if (running >= limits.maxSubscriptionsPerConnection) {
      this.options.onRefused('MAX_SUBSCRIPTIONS_PER_CONNECTION');
      this.sendRefused(id, [subscriptionLimitError(limits.maxSubscriptionsPerConnection)]);
      return;
    }
    const key = sharingKey(parsed, payload.query, viewer);
    const subscription = new SocketSubscription(
      id,
      this,
      this.socket,
      this.frames,
      this.options.openSubscriptions.opened(
        this.frames.transport,
        rootFieldOf(parsed.document, parsed.operationName),
      ),
    );
    this.operations.set(id, subscription);
    this.options.stats.subscriptionStarted(this.frames.transport);
    // A shared execution runs under the group's context: the viewer's scope, no socket of anyone's.
    subscription.membership = this.options.groups.join(
      key,
      (audience) =>
        runner.run(parsed, key === null ? initial : groupRunContext(audience, viewer, this.correlationId)),
      subscription,
    );
  }

  /** The client ended operation `id`: it leaves its group silently; false when none ran. */
  protected stop(id: string): boolean {
    const operation = this.operations.get(id);
    if (operation === undefined) return false;
    this.operations.delete(id);
    if (operation instanceof SocketSubscription) operation.end();
    return true;
  }

  /** Undefined while the socket can take more, else a promise of that moment (paced streams). */
  whenWritable(): Promise<void> | undefined {
    return whenWritable(this.socket.ws, lowWaterBytes(this.options.limits.maxClientBufferBytes));
  }

  /** The group ended `subscription` with an error or a complete: frees its id, unless gone already. */
  ended(subscription: SocketSubscription, frame: string): void {
    if (this.operations.get(subscription.id) !== subscription) return;
    this.operations.delete(subscription.id);
    this.socket.send(frame);
  }

  protected sendRefused(id: string, errors: readonly (GraphQLError | GraphQLFormattedError)[]): void {
    for (const frame of this.frames.refused(id, errors.map(withoutHttpExtension))) this.socket.send(frame);
  }

  private initialContext(payload: OperationPayload, viewer: Viewer | null): RunContext {
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
      ...ACCEPTS_EVENT_PAGES,
    };
  }

  private connectionIdOf(): string {
    this.connectionId ??= randomUUID();
    return this.connectionId;
  }

  /** The token expired: each subscription gets the error and completes, then the socket closes. */
  private expire(expiresAt: number): void {
    this.options.log.info(
      { correlationId: this.correlationId, transport: this.frames.transport },
      'token expired',
    );
    const payload = serializeResult({ errors: [tokenExpiredError(expiresAt)] });
    for (const [id, subscription] of [...this.operations]) {
      if (!(subscription instanceof SocketSubscription)) continue;
      this.operations.delete(id);
      subscription.end();
      this.socket.send(`${this.frames.resultHead(id)}${payload}}`);
      this.socket.send(this.frames.complete(id));
    }
    this.close(
      CLOSE_CODES.GRAPHQL_WS_UNAUTHENTICATED,
      closeReason(`UNAUTHENTICATED: token expired at ${new Date(expiresAt).toISOString()}`),
    );
  }

  protected close(code: number, reason: string): void {
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
    for (const operation of running) if (operation instanceof SocketSubscription) operation.end();
    this.options.stats.connectionClosed(this.frames.transport);
  }

  /**
   * The limited message is dropped; a start message gets its refusal so the client learns why
   * (unless that id is already running, which the protocol would refuse anyway).
   */
  private answerRateLimited(text: string): void {
    if (text.length > 16 * 1024) return; // not worth parsing to answer
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    const { type, id } = message as { type?: unknown; id?: unknown };
    if (type !== this.startType || typeof id !== 'string' || this.operations.has(id)) return;
    const { messageRate, messageBurst } = this.options.limits;
    this.sendRefused(id, [
      {
        message: `more than ${messageRate} messages per second (burst ${messageBurst}); this one was dropped`,
        extensions: { code: ERROR_CODES.RATE_LIMITED },
      },
    ]);
  }
}

/** What closes a result frame after its payload. */
const RESULT_TAIL = Buffer.from('}');

/** A query running, or an operation whose own token is being verified: it holds its id. */
class Pending {}

/**
 * One running subscription: a member of its group. What it keeps is what the protocol needs: its
 * id (pre-spliced into the result frame's head), its connection, its group place and its gauge.
 */
class SocketSubscription implements GroupMember {
  readonly transport: Transport;
  membership: Membership | undefined;
  live = true;
  /** The result frame up to its payload, as bytes: the group's payload bytes and `}` complete it. */
  private readonly head: Buffer;

  constructor(
    readonly id: string,
    private readonly connection: OperationSocket,
    /** The connection's socket: a result frame goes straight to it, the hot path of a group event. */
    private readonly socket: CoreSocket,
    private readonly frames: OperationFrames,
    private readonly closeGauge: () => void,
  ) {
    this.transport = frames.transport;
    this.head = Buffer.from(frames.resultHead(id));
  }

  /** Queues a result frame (its head, the group's payload, `}`), unless it has ended. */
  next(event: GroupEvent): void {
    if (this.live) this.socket.sendParts(this.head, event.body, RESULT_TAIL);
  }

  whenWritable(): Promise<void> | undefined {
    return this.connection.whenWritable();
  }

  error(errors: readonly GraphQLFormattedError[]): void {
    this.stop();
    this.connection.ended(this, this.frames.failed(this.id, errors.map(withoutHttpExtension)));
  }

  complete(): void {
    this.stop();
    this.connection.ended(this, this.frames.complete(this.id));
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
