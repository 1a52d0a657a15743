import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { createTokenBucket, type TokenBucket } from '../domain/limits/token-bucket.ts';
import { CLOSE_CODES } from './close-codes.ts';
import { TickFlush } from './delivery/tick-flush.ts';
import { KeepAliveRounds } from './keep-alive-rounds.ts';
import { slowConsumerReason } from './limits/bounded-send.ts';
import { writeToSocket } from './socket-write.ts';

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

/** A frame part that adds nothing (`send` of a whole frame, a frame without a tail). */
const NOTHING = Buffer.alloc(0);

/**
 * Unsent bytes a socket gathers before it writes them out within the tick (at most an eighth of
 * MAX_CLIENT_BUFFER): bounds the memory of one tick's burst and keeps `bufferedAmount`, which
 * paced streams read (they wait above a quarter of MAX_CLIENT_BUFFER, ws-writable.ts), at most
 * this far behind what was sent.
 */
const WRITE_AHEAD_BYTES = 64 * 1024;

/**
 * One open WebSocket as the protocols see it. Sends are gathered per tick and written by one
 * flush for every socket written in that tick: each socket's frames of the tick go out as one
 * buffer in one `write` (WebSocket framing done here, not per frame by `ws`), so a burst of frames
 * to one client costs one write syscall and one allocation (DESIGN.md decision 4). A frame may
 * come in parts (`sendParts`): a protocol's own head, the group's shared payload bytes and a
 * tail, copied once, into the socket's write. Nothing ever waits for a client: past
 * MAX_CLIENT_BUFFER unsent it is closed, so a slow client never slows the others of its group.
 */
export class CoreSocket {
  /*
   * The frames gathered this tick. The first one's parts are kept in fields (one frame per socket
   * per tick is the common case: one event to a group's members), the ones after it in `parts`,
   * three per frame (head, body, tail).
   */
  private frames = 0;
  private head: Buffer = NOTHING;
  private body: Buffer | string = NOTHING;
  private tail: Buffer = NOTHING;
  private parts: Array<Buffer | string> | undefined;
  private partBytes = 0;
  private marked = false;
  /**
   * A write left the TCP socket's queue at or past its high-water mark: only then can the unsent
   * bytes have reached MAX_CLIENT_BUFFER, and only then does the flush ask for them (see flush).
   */
  private pressed = false;
  /** Answered the last keep-alive ping. */
  alive = true;
  /**
   * A text frame sent with every keep-alive ping, for protocols whose clients watch a message
   * rather than pings (the old Apollo protocol's `ka`); unset, only the ping goes.
   */
  keepAliveFrame: string | undefined;
  private bucket: TokenBucket | undefined;
  /** The TCP socket, written directly; undefined when `ws` must frame (an extension is on). */
  private readonly raw: Socket | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly core: SocketCore,
  ) {
    this.raw = ws.extensions === '' ? rawSocketOf(ws) : undefined;
    this.pressed = this.alwaysAsk();
  }

  /** True while frames can still be sent. */
  get open(): boolean {
    return this.ws.readyState === 1;
  }

  /** Queues a text frame for this tick's write; false once the socket is not open. */
  send(data: string): boolean {
    return this.sendParts(NOTHING, data, NOTHING);
  }

  /** Queues a text frame already encoded (UTF-8), e.g. one a group's members all send. */
  sendBytes(frame: Buffer): boolean {
    return this.sendParts(NOTHING, frame, NOTHING);
  }

  /**
   * Queues one text frame made of `head`, `body` and `tail` (UTF-8) for this tick's write, the
   * parts copied only into that write: a group's payload is shared by every member, each adding
   * its own head (its operation id). A body that only this socket sends may stay a string: it is
   * then encoded once, straight into the write, instead of into a buffer of its own first.
   * False once the socket is not open.
   */
  sendParts(head: Buffer, body: Buffer | string, tail: Buffer): boolean {
    if (this.ws.readyState !== 1) return false;
    if (!this.raw) {
      this.ws.send(Buffer.concat([head, typeof body === 'string' ? Buffer.from(body) : body, tail]), {
        binary: false,
      });
      return true;
    }
    if (this.frames === 0) {
      this.head = head;
      this.body = body;
      this.tail = tail;
    } else {
      this.parts ??= [];
      this.parts.push(head, body, tail);
    }
    this.frames += 1;
    // A string's length is a lower bound of its bytes: enough to bound the tick's write-ahead.
    this.partBytes += head.length + body.length + tail.length;
    if (!this.marked) {
      this.marked = true;
      this.core.dirty(this);
    }
    if (this.partBytes > this.core.writeAheadBytes) this.write();
    return true;
  }

  /**
   * Writes what this tick gathered, then cuts the client off if too much stays unsent. The
   * unsent bytes are asked for only after a write that left the socket's queue at or past its
   * high-water mark (`write` returned false): below it they are under MAX_CLIENT_BUFFER.
   */
  flush(): void {
    this.marked = false;
    this.write();
    if (!this.pressed) return;
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.core.options.maxBufferedBytes && this.ws.readyState === 1) this.cutSlow(buffered);
    // Still at or past the high-water mark, the next write says so again.
    else this.pressed = this.alwaysAsk();
  }

  /**
   * Whether every flush must ask for the unsent bytes: when `ws` writes (an extension is on), or
   * when MAX_CLIENT_BUFFER is below the TCP socket's high-water mark, so that a write returning
   * true does not mean the bound holds.
   */
  private alwaysAsk(): boolean {
    return !this.raw || this.core.options.maxBufferedBytes < this.raw.writableHighWaterMark;
  }

  /** The gathered frames as one buffer, one write. */
  private write(): void {
    const count = this.frames;
    if (count === 0) return;
    // A close sent meanwhile (by ws itself) ends the stream: nothing may follow a close frame.
    const out =
      this.ws.readyState !== 1
        ? undefined
        : count === 1
          ? frameOne(this.head, this.body, this.tail)
          : frameAll(this.head, this.body, this.tail, this.parts ?? []);
    this.frames = 0;
    this.head = NOTHING;
    this.body = NOTHING;
    this.tail = NOTHING;
    if (count > 1 && this.parts) this.parts.length = 0; // the array is kept for the next tick
    this.partBytes = 0;
    if (!out || !this.raw) return;
    this.core.writes += 1;
    // Straight to the descriptor when nothing waits ahead (socket-write.ts).
    if (!writeToSocket(this.raw, out)) this.pressed = true;
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
 * Keeps the sockets of one route: a single keep-alive timer (pinging a slice of the sockets at a
 * time, keep-alive-rounds.ts) and a single per-tick flush for all of them, so an idle connection
 * costs its socket and little else.
 */
export class SocketCore {
  private readonly written = new TickFlush<CoreSocket>();
  private readonly keepAlive: KeepAliveRounds<CoreSocket>;

  /** @internal see WRITE_AHEAD_BYTES */
  readonly writeAheadBytes: number;

  /** Writes made to the sockets so far (one per socket per tick, more past the write-ahead bound). */
  writes = 0;

  constructor(readonly options: SocketCoreOptions) {
    this.writeAheadBytes = Math.min(WRITE_AHEAD_BYTES, Math.floor(options.maxBufferedBytes / 8));
    this.keepAlive = new KeepAliveRounds(options.keepAliveMs ?? 12_000, (socket) => this.ping(socket));
  }

  /** Takes a newly opened socket under the core's care until it closes. */
  attach(ws: WebSocket): CoreSocket {
    const socket = new CoreSocket(ws, this);
    this.keepAlive.add(socket);
    ws.on('pong', () => {
      socket.alive = true;
    });
    ws.once('close', () => this.keepAlive.delete(socket));
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
    this.keepAlive.dispose();
    this.flush();
  }

  /** A socket's keep-alive turn: cut off if it did not answer the last ping, else pinged. */
  private ping(socket: CoreSocket): void {
    if (!socket.alive) {
      socket.ws.terminate();
      return;
    }
    socket.alive = false;
    socket.ws.ping();
    if (socket.keepAliveFrame !== undefined) socket.send(socket.keepAliveFrame);
  }
}

/** Bytes of a frame's parts: a string body counts its UTF-8 bytes. */
function partsLength(head: Buffer, body: Buffer | string, tail: Buffer): number {
  return head.length + (typeof body === 'string' ? Buffer.byteLength(body) : body.length) + tail.length;
}

/** Writes an unmasked text frame's header (FIN, text, the length) at `at`; returns where its payload starts. */
function writeHeader(out: Buffer, at: number, length: number): number {
  out[at] = 0x81; // FIN, text
  if (length < 126) {
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at + 1] = 126;
    out.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  out[at + 1] = 127;
  out.writeUInt32BE(Math.floor(length / 0x100000000), at + 2);
  out.writeUInt32BE(length >>> 0, at + 6);
  return at + 10;
}

/** Copies one part at `at` (a string encoded in place); returns the end. */
function writePart(out: Buffer, at: number, bytes: Buffer | string): number {
  if (typeof bytes === 'string') return at + out.write(bytes, at);
  const length = bytes.length;
  if (length < 16) {
    // A head's or tail's few bytes: a loop is cheaper than a call into set().
    for (let index = 0; index < length; index++) out[at + index] = bytes[index] as number;
  } else out.set(bytes, at);
  return at + length;
}

/** One unmasked text frame (a server's, RFC 6455 5.2) of head, body and tail, in one buffer. */
function frameOne(head: Buffer, body: Buffer | string, tail: Buffer): Buffer {
  const length = partsLength(head, body, tail);
  const out = Buffer.allocUnsafe(headerLength(length) + length);
  writePart(out, writePart(out, writePart(out, writeHeader(out, 0, length), head), body), tail);
  return out;
}

/**
 * Unmasked text frames of the first frame's parts and then of `more` (three parts per frame), in
 * one buffer: each frame's header, then its head, body and tail.
 */
function frameAll(
  head: Buffer,
  body: Buffer | string,
  tail: Buffer,
  more: readonly (Buffer | string)[],
): Buffer {
  const first = partsLength(head, body, tail);
  const lengths = new Array<number>(more.length / 3);
  let total = headerLength(first) + first;
  for (let index = 0; index < more.length; index += 3) {
    const length = partsLength(
      more[index] as Buffer,
      more[index + 1] as Buffer | string,
      more[index + 2] as Buffer,
    );
    lengths[index / 3] = length;
    total += headerLength(length) + length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = writePart(out, writePart(out, writePart(out, writeHeader(out, 0, first), head), body), tail);
  for (let index = 0; index < more.length; index += 3) {
    at = writeHeader(out, at, lengths[index / 3] as number);
    for (let part = index; part < index + 3; part++) at = writePart(out, at, more[part] as Buffer | string);
  }
  return out;
}

function headerLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
}

/** ws keeps the TCP socket private; writing to it directly is what makes a tick's frames one write. */
function rawSocketOf(ws: WebSocket): Socket | undefined {
  return (ws as unknown as { _socket?: Socket })._socket;
}
