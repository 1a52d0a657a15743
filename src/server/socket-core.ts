import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { createTokenBucket, type TokenBucket } from '../domain/limits/token-bucket.ts';
import { CLOSE_CODES } from './close-codes.ts';
import { TickFlush } from './delivery/tick-flush.ts';
import { slowConsumerReason } from './limits/bounded-send.ts';

/** What every WebSocket route shares: bounds, keep-alive, the incoming rate. */
export interface SocketCoreOptions {
  /** Bytes that may wait unsent toward one client before it is closed 4408 (MAX_CLIENT_BUFFER). */
  readonly maxBufferedBytes: number;
  /** MESSAGE_RATE / MESSAGE_BURST: frames a client may send, per socket. */
  readonly messageRate: number;
  readonly messageBurst: number;
  /** A ping every interval; a socket that has not answered the previous one is terminated. @default 12s */
  readonly keepAliveMs?: number;
  /** Called once per socket cut off as a slow consumer (count it, log it). */
  readonly onSlowConsumer?: (bufferedBytes: number) => void;
  /**
   * The close a slow consumer gets, in the route's own protocol (the legacy routes say 4413).
   * @default graphql-ws's 4408 `LIMIT_EXCEEDED: slow consumer: …`
   */
  readonly slowConsumerClose?: { readonly code: number; readonly reason: string };
  /**
   * How long a slow consumer's close frame may wait behind its unread data before the socket is
   * cut at TCP level (then the client sees 1006 instead of the close code). @default 1s
   */
  readonly slowConsumerGraceMs?: number;
}

/**
 * One open WebSocket as the protocols see it. Sends are gathered per tick: the first send of a
 * tick corks the TCP socket and one flush for every socket written in that tick uncorks them, so
 * a burst of frames to one client costs one write syscall (DESIGN.md decision 4). Nothing ever
 * waits for a client: past MAX_CLIENT_BUFFER unsent it is closed, so a slow client never slows
 * the others of its subscription group.
 */
export class CoreSocket {
  private corked = false;
  /** Answered the last keep-alive ping. */
  alive = true;
  /**
   * A text frame sent with every keep-alive ping, for protocols whose clients watch a message
   * rather than pings (the old Apollo protocol's `ka`); unset, only the ping goes.
   */
  keepAliveFrame: string | undefined;
  private bucket: TokenBucket | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly core: SocketCore,
  ) {}

  /** True while frames can still be sent. */
  get open(): boolean {
    return this.ws.readyState === 1;
  }

  /** Queues a text frame for this tick's write; false once the socket is not open. */
  send(data: string): boolean {
    if (this.ws.readyState !== 1) return false;
    if (!this.corked) {
      const raw = rawSocketOf(this.ws);
      if (raw) {
        raw.cork();
        this.corked = true;
        this.core.dirty(this);
      }
    }
    this.ws.send(data);
    return true;
  }

  /** Writes what this tick gathered, then cuts the client off if too much stays unsent. */
  flush(): void {
    if (this.corked) {
      this.corked = false;
      rawSocketOf(this.ws)?.uncork();
    }
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.core.options.maxBufferedBytes && this.ws.readyState === 1) this.cutSlow(buffered);
  }

  /** Closes with a code and reason after what is queued. */
  close(code: number, reason: string): void {
    this.flush();
    this.ws.close(code, reason);
  }

  /** One incoming frame against MESSAGE_RATE/MESSAGE_BURST; false when it is over the rate. */
  take(): boolean {
    this.bucket ??= createTokenBucket({
      ratePerSecond: this.core.options.messageRate,
      burst: this.core.options.messageBurst,
    });
    return this.bucket.take();
  }

  private cutSlow(buffered: number): void {
    const { onSlowConsumer, slowConsumerClose, maxBufferedBytes } = this.core.options;
    onSlowConsumer?.(buffered);
    if (slowConsumerClose) this.ws.close(slowConsumerClose.code, slowConsumerClose.reason);
    else this.ws.close(CLOSE_CODES.GRAPHQL_WS_SLOW_CONSUMER, slowConsumerReason(maxBufferedBytes));
    // The close frame waits behind the unread data; do not wait for a client that does not read.
    const terminate = setTimeout(() => this.ws.terminate(), this.core.options.slowConsumerGraceMs ?? 1_000);
    terminate.unref();
    this.ws.once('close', () => clearTimeout(terminate));
  }
}

/**
 * Keeps the sockets of one route: a single keep-alive timer and a single per-tick flush for all
 * of them, so an idle connection costs its socket and little else.
 */
export class SocketCore {
  private readonly sockets = new Set<CoreSocket>();
  private readonly written = new TickFlush<CoreSocket>();
  private readonly pinger: NodeJS.Timeout;

  constructor(readonly options: SocketCoreOptions) {
    this.pinger = setInterval(() => this.ping(), options.keepAliveMs ?? 12_000);
    this.pinger.unref();
  }

  /** Takes a newly opened socket under the core's care until it closes. */
  attach(ws: WebSocket): CoreSocket {
    const socket = new CoreSocket(ws, this);
    this.sockets.add(socket);
    ws.on('pong', () => {
      socket.alive = true;
    });
    ws.once('close', () => this.sockets.delete(socket));
    return socket;
  }

  /** Marks a socket written in this tick; one flush writes them all. */
  dirty(socket: CoreSocket): void {
    this.written.mark(socket);
  }

  /** Writes every socket gathered so far (also before closing sockets at shutdown). */
  flush(): void {
    this.written.flush();
  }

  /** Stops the keep-alive timer (the sockets themselves are closed by their route). */
  dispose(): void {
    clearInterval(this.pinger);
    this.flush();
  }

  private ping(): void {
    for (const socket of this.sockets) {
      if (!socket.alive) {
        socket.ws.terminate();
        continue;
      }
      socket.alive = false;
      socket.ws.ping();
      if (socket.keepAliveFrame !== undefined) socket.send(socket.keepAliveFrame);
    }
  }
}

/** ws keeps the TCP socket private; corking it is what gathers a tick's frames into one write. */
function rawSocketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}
