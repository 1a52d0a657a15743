import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { Viewer } from '../../domain/viewer.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { onTokenExpiry } from '../auth/token-expiry.ts';
import { CLOSE_CODES } from '../close-codes.ts';
import { limitRefusals } from '../limits/limits-plugins.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import { type CoreSocket, SocketCore } from '../socket-core.ts';
import type { UpgradeRoute } from '../upgrade-router.ts';
import { toFetchRequest } from './fetch-request.ts';
import type { LegacyAccess } from './legacy-access.ts';
import { type ClientMessage, frames, LEGACY_ERRORS, validate } from './protocol.ts';
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
  /** WebSocket ping interval (the socket core's keep-alive). @default 12s */
  readonly keepAliveMs?: number;
}

/** A route plus the means to close every socket on shutdown. */
export interface LegacyStreamSocket extends UpgradeRoute {
  dispose(): Promise<void>;
}

/**
 * WebSocket `/ws/stream?token=` of the old streaming service (legacy.md D): the action
 * protocol over a TopicSession, i.e. over GraphQL `topicMessages` in subscription groups, on the
 * socket core (keep-alive, frame rate, bounded buffer, one write per tick). This file only wires
 * a socket to the protocol and the session (STYLE.md example 2).
 */
export function useLegacyStreamSocket(options: LegacyStreamSocketOptions): LegacyStreamSocket {
  // Frames up to four times the limit are read so that an oversized one can be answered with an
  // error frame; beyond that `ws` closes with 1009 before buffering it all.
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes * 4 });
  const connections = new Set<LegacyTopicConnection>();
  const refusals = limitRefusals(options.metrics);
  const core = new SocketCore({
    maxBufferedBytes: options.outboundLimitBytes,
    messageRate: options.messageRate.ratePerSecond,
    messageBurst: options.messageRate.burst,
    keepAliveMs: options.keepAliveMs,
    onSlowConsumer: () => refusals.inc({ limit: 'MAX_CLIENT_BUFFER' }),
    slowConsumerClose: {
      code: CLOSE_CODES.SLOW_CONSUMER,
      reason: `SLOW_CONSUMER: more than ${options.outboundLimitBytes} bytes waiting to be sent`,
    },
  });

  server.on('connection', (ws: WebSocket, request: IncomingMessage) => {
    const connection = new LegacyTopicConnection(core.attach(ws), options, refusals);
    connections.add(connection);
    ws.once('close', () => connections.delete(connection));
    connection.accept(request).catch((error: unknown) => {
      options.log.error({ err: error }, 'legacy stream socket failed');
      ws.terminate();
    });
  });

  return {
    path: '/ws/stream',
    server,
    async dispose() {
      await Promise.all([...connections].map((connection) => connection.end()));
      core.flush();
      for (const client of server.clients) client.close(CLOSE_CODES.GOING_AWAY, 'server shutting down');
      core.dispose();
    },
  };
}

/** One /ws/stream connection: its token, its slot, its topic session and its heartbeat. */
class LegacyTopicConnection {
  /** Frames that arrive while the token is checked, handled in order afterwards. */
  private early: RawData[] | undefined = [];
  private session: TopicSession | undefined;
  private viewer: Viewer | undefined;
  private request: Request | undefined;
  private log: Logger;
  /** Frames are handled one after the other, so replies keep the order of the requests. */
  private queue = Promise.resolve();
  private lastReceived = Date.now();
  private heartbeat: NodeJS.Timeout | undefined;
  private cancelExpiry: (() => void) | undefined;
  private ended = false;

  constructor(
    private readonly socket: CoreSocket,
    private readonly options: LegacyStreamSocketOptions,
    private readonly refusals: ReturnType<typeof limitRefusals>,
  ) {
    this.log = options.log;
    socket.ws.on('message', (data: RawData) => this.received(data));
  }

  private send(frame: object): void {
    this.socket.send(JSON.stringify(frame));
  }

  async accept(incoming: IncomingMessage): Promise<void> {
    const { options, socket } = this;
    const ws = socket.ws;
    // The upgrade request is read here, once; the connection keeps a copy without its token.
    const request = toFetchRequest(incoming);
    const access = await options.access.authenticate(incoming);
    if (!access.ok) {
      this.send(frames.error(access.error, access.message));
      socket.close(CLOSE_CODES.UNAUTHENTICATED, access.error);
      return;
    }
    const slot = options.access.openConnection(access.viewer, 'websocket');
    if (!slot.ok) {
      this.send(frames.error(LEGACY_ERRORS.CONNECTION_LIMIT_EXCEEDED, slot.message));
      socket.close(CLOSE_CODES.LIMIT_EXCEEDED, LEGACY_ERRORS.CONNECTION_LIMIT_EXCEEDED);
      return;
    }
    if (!socket.open) {
      slot.release();
      return;
    }
    const { viewer } = access;
    const connectionId = randomUUID();
    this.log = options.log.child({ connectionId, transport: TRANSPORTS.LEGACY_WS });
    this.viewer = viewer;
    this.request = request;
    options.stats.connectionOpened(TRANSPORTS.LEGACY_WS);
    const session = new TopicSession({
      viewer,
      transport: TRANSPORTS.LEGACY_WS,
      request,
      operations: options.operations,
      log: this.log,
      // The group serialized the frame once; every member sends the same bytes.
      onData: (delivery) => socket.sendBytes(delivery.wsFrame),
      onStreamError: (topic, error) => this.send(frames.error(error.code, error.message, { topic })),
    });
    this.session = session;
    // The socket lives no longer than its token (docs/auth.md).
    if (viewer.expiresAt !== undefined) {
      this.cancelExpiry = onTokenExpiry(viewer.expiresAt, () => {
        this.send(frames.error(LEGACY_ERRORS.INVALID_TOKEN, 'the token expired; reconnect with a new one'));
        socket.close(CLOSE_CODES.UNAUTHENTICATED, LEGACY_ERRORS.INVALID_TOKEN);
      });
    }
    ws.once('close', () => {
      options.stats.connectionClosed(TRANSPORTS.LEGACY_WS);
      slot.release();
      void this.end();
    });
    this.send(frames.connectionEstablished(connectionId, viewer.userId, viewer.tenantId));
    this.lastReceived = Date.now();
    this.armHeartbeat(options.heartbeatTimeoutMs);
    const early = this.early ?? [];
    this.early = undefined;
    for (const data of early) this.handleFrame(data);
  }

  /** Ends the session (the socket closed, or the server shuts down). */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.heartbeat);
    this.cancelExpiry?.();
    await this.session?.close();
  }

  private received(data: RawData): void {
    if (this.early) {
      this.early.push(data);
      return;
    }
    this.handleFrame(data);
  }

  private handleFrame(data: RawData): void {
    const { options } = this;
    options.stats.messageReceived(TRANSPORTS.LEGACY_WS);
    this.lastReceived = Date.now();
    // Counted as frames arrive, not as they are handled, so a slow reply cannot hide a flood.
    if (!this.socket.take()) {
      this.refusals.inc({ limit: 'MESSAGE_RATE' });
      const { ratePerSecond, burst } = options.messageRate;
      this.queue = this.queue.then(() =>
        this.send(
          frames.error(
            LEGACY_ERRORS.RATE_LIMITED,
            `more than ${ratePerSecond} frames per second (burst ${burst}); slow down`,
          ),
        ),
      );
      return;
    }
    this.queue = this.queue
      .then(() => this.handle(data))
      .catch((error: unknown) => this.log.error({ err: error }, 'legacy frame failed'));
  }

  private async handle(data: RawData): Promise<void> {
    const { options } = this;
    const size = Array.isArray(data) ? data.reduce((sum, part) => sum + part.byteLength, 0) : data.byteLength;
    if (size > options.maxPayloadBytes) {
      this.refusals.inc({ limit: 'MAX_PAYLOAD_BYTES' });
      this.send(
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
      this.send(frames.error(LEGACY_ERRORS.INVALID_JSON, 'the frame is not valid JSON'));
      return;
    }
    const validation = validate(parsed);
    if (!validation.ok) {
      this.send(frames.error(validation.error, validation.message));
      return;
    }
    await this.act(validation.message);
  }

  private async act(message: ClientMessage): Promise<void> {
    const session = this.session;
    if (!session || !this.viewer || !this.request) return;
    switch (message.action) {
      case 'ping':
        this.send(frames.pong(Date.now()));
        return;
      case 'list_topics': {
        const available = await this.options.operations.availableTopics(this.viewer, this.request);
        this.send(frames.topics(session.topics, available));
        return;
      }
      case 'unsubscribe':
        await session.unsubscribe(message.topics);
        this.send(frames.unsubscribed(message.topics));
        return;
      case 'subscribe': {
        const outcome = await session.subscribe(message.topics, message.filters);
        if (!outcome.ok) {
          this.send(frames.error(LEGACY_ERRORS.INVALID_FORMAT, outcome.problem));
          return;
        }
        this.send(frames.subscriptionConfirmed(outcome.subscribed, outcome.failed));
        return;
      }
    }
  }

  /**
   * ACCESS_HEARTBEAT_TIMEOUT: one timer per connection, re-armed only when it fires (a frame just
   * stamps `lastReceived`), so a busy client costs no timer work per frame.
   */
  private armHeartbeat(delayMs: number): void {
    this.heartbeat = setTimeout(() => {
      const { heartbeatTimeoutMs } = this.options;
      const silentFor = Date.now() - this.lastReceived;
      if (silentFor < heartbeatTimeoutMs) {
        this.armHeartbeat(heartbeatTimeoutMs - silentFor);
        return;
      }
      this.send(
        frames.error(
          LEGACY_ERRORS.ACCESS_HEARTBEAT_TIMEOUT,
          `nothing received for ${heartbeatTimeoutMs} ms; send a ping to stay connected`,
        ),
      );
      this.socket.close(CLOSE_CODES.TIMEOUT, LEGACY_ERRORS.ACCESS_HEARTBEAT_TIMEOUT);
    }, delayMs);
    this.heartbeat.unref();
  }
}

function toBuffers(data: RawData): Buffer[] {
  if (Array.isArray(data)) return data;
  return [Buffer.from(data as ArrayBuffer)];
}
