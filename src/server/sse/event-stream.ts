import type { ServerResponse } from 'node:http';
import { pollUntil } from '../delivery/poll-until.ts';
import { TickFlush } from '../delivery/tick-flush.ts';
import { KeepAliveRounds } from '../keep-alive-rounds.ts';

/** What every SSE response of a route shares: the bound, keep-alive, the slow-consumer report. */
export interface EventStreamsOptions {
  /** Bytes that may wait unsent toward one client before it is cut off (MAX_CLIENT_BUFFER). */
  readonly maxBufferedBytes: number;
  /** A `:` comment on every stream that sent nothing for this long. @default 12s, as yoga */
  readonly keepAliveMs?: number;
  /** Called once per stream cut off as a slow consumer (count it, log it). */
  readonly onSlowConsumer?: (bufferedBytes: number) => void;
  /**
   * The first bytes of every stream. @default `:\n\n` (a comment at once, as yoga: some browsers
   * show nothing of a response until its first bytes); null: none (the legacy stream's first
   * frame is its `connection_established` event, legacy.md D).
   */
  readonly greeting?: EventFrame | null;
  /**
   * A heartbeat every stream gets every `keepAliveMs`, busy or idle (the legacy stream's
   * `: heartbeat <ms>` comment), made on each stream's turn. Without it, only a stream that sent
   * nothing since its last turn gets a bare `:` comment.
   */
  readonly heartbeat?: () => EventFrame;
  /** The last frame of a stream cut off as a slow consumer (the legacy SLOW_CONSUMER error event). */
  readonly slowConsumerFrame?: EventFrame;
}

/** A frame: shared bytes (the same for every member of a group) or one member's own text. */
export type EventFrame = Uint8Array | string;

const KEEP_ALIVE = Buffer.from(':\n\n');
/** Time a slow consumer's socket gets to take the end of its stream before it is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1_000;

/**
 * One text/event-stream response body. Frames sent in one tick are written together: the first
 * send of a tick marks the stream and one flush for every stream written in that tick writes a
 * single chunk each, so a burst of events costs one write per client (DESIGN.md decision 4);
 * behind the Node server, once the head is out, that chunk goes to the Node response itself. The
 * queue is bounded in bytes: past MAX_CLIENT_BUFFER unsent the stream is ended and its socket cut,
 * so a client that stops reading never slows the others of its subscription group.
 */
export class EventStream {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private pending: EventFrame[] = [];
  /** What `pending` holds (a string's length: a lower bound of its bytes). */
  private pendingBytes = 0;
  private state: 'open' | 'ending' | 'closed' = 'open';
  /** Wrote something since the last keep-alive round. */
  wrote = false;
  private readonly onClose: Array<() => void> = [];
  private response: ServerResponse | undefined;
  /** Chunks go to the Node response itself (see `write`). */
  private direct = false;

  constructor(
    private readonly streams: EventStreams,
    response: ServerResponse | undefined,
  ) {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        cancel: () => this.closed(),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: streams.options.maxBufferedBytes }),
    );
    streams.opened(this);
    this.attach(response);
    const { greeting = KEEP_ALIVE } = streams.options;
    if (greeting !== null) this.send(greeting);
  }

  /**
   * The Node response this body goes out on, when it is known only later (a graphql-sse stream
   * reserved by `PUT` gets its response at the `GET` that opens it). Behind the Node server a
   * client that goes away closes the response; in-process, the reader cancels.
   */
  attach(response: ServerResponse | undefined): void {
    if (!response) return;
    this.response = response;
    // A client that went away while its request was being answered (its token checked, under
    // load) closed the response already: 'close' will not come again.
    if (response.closed) this.closed();
    else response.once('close', () => this.closed());
  }

  /** True once chunks go to the Node response itself, not through the body (for tests). */
  get writesDirectly(): boolean {
    return this.direct;
  }

  /** True until the stream ended or the client went away. */
  get open(): boolean {
    return this.state === 'open';
  }

  /** Calls `callback` once when the stream is over, whoever ended it. */
  whenClosed(callback: () => void): void {
    if (this.state === 'closed') callback();
    else this.onClose.push(callback);
  }

  /** Queues a frame for this tick's write; false once the stream is ending. */
  send(frame: EventFrame): boolean {
    if (this.state !== 'open') return false;
    if (this.pending.length === 0) this.streams.dirty(this);
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    return true;
  }

  /** Queues `last` and ends the stream after what is queued (a `complete`, a refusal). */
  end(last?: EventFrame): void {
    if (this.state !== 'open') return;
    if (last !== undefined) this.pending.push(last);
    this.state = 'ending';
    this.flush();
    this.closeBody();
    this.closed();
  }

  /** Writes what this tick gathered as one chunk, then cuts the client off if too much waits. */
  flush(): void {
    if (this.pending.length === 0 || this.state === 'closed') return;
    const frames = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const [only] = frames;
    const chunk =
      frames.length === 1 && only !== undefined
        ? toBytes(only)
        : Buffer.concat(frames.map((frame) => toBytes(frame)));
    if (!this.write(chunk)) {
      this.closed(); // the reader is gone
      return;
    }
    this.wrote = true;
    const buffered = this.buffered();
    if (this.state === 'open' && buffered > this.streams.options.maxBufferedBytes) this.cutSlow(buffered);
  }

  /**
   * Undefined when at most `lowWaterBytes` wait unsent in this stream (or it is over), else a
   * promise of that moment: for streams that may go only as fast as the client reads (replay at
   * speed 0), which check it before each event.
   */
  whenWritable(lowWaterBytes: number): Promise<void> | undefined {
    // What this tick gathered is not written yet (a replay page gathers all its messages in one
    // tick): written now, so that the bound tells, instead of one page-sized write at the tick's
    // end that a client pausing for a moment could not take without being cut off.
    if (this.state === 'open' && this.pendingBytes > 0 && this.buffered() + this.pendingBytes > lowWaterBytes)
      this.flush();
    return pollUntil(() => this.state === 'closed' || this.buffered() <= lowWaterBytes);
  }

  /**
   * Hands a chunk on toward the client; false when it is gone. Once the Node server has sent the
   * response's head and taken every chunk of the body so far, chunks are written to the Node
   * response itself: the web stream's read, its promise and @whatwg-node's pump per chunk are
   * skipped (order is kept: nothing of the body waits before them). The body stays open until
   * the stream ends, when closing it lets the server end the response.
   */
  private write(chunk: Uint8Array): boolean {
    const response = this.response;
    if (!this.direct && response?.headersSent && this.controller.desiredSize === this.highWater()) {
      // Chunks enqueued in an earlier tick were written to the response in that tick's
      // microtasks (the server's pump reads as soon as a chunk is there): none is in flight.
      this.direct = true;
    }
    if (this.direct && response) {
      if (response.destroyed || response.writableEnded) return false;
      response.write(chunk);
      return true;
    }
    try {
      this.controller.enqueue(chunk);
      return true;
    } catch {
      return false;
    }
  }

  /** Bytes that wait unsent: in the Node response (and its socket) once direct, else in the body. */
  private buffered(): number {
    if (this.state === 'closed') return 0;
    if (this.direct && this.response) return this.response.writableLength;
    const limit = this.highWater();
    return limit - (this.controller.desiredSize ?? limit);
  }

  private highWater(): number {
    return this.streams.options.maxBufferedBytes;
  }

  private cutSlow(buffered: number): void {
    const { onSlowConsumer, slowConsumerFrame } = this.streams.options;
    onSlowConsumer?.(buffered);
    this.state = 'ending';
    // Past the bound by this one frame: it is the client's last word of why it was cut.
    if (slowConsumerFrame !== undefined) this.write(toBytes(slowConsumerFrame));
    this.closeBody();
    this.closed();
    // What is queued waits behind unread bytes; do not wait for a client that does not read
    // (destroyed, its queue goes with the response).
    const response = this.response;
    if (!response || response.writableFinished) return;
    const cut = setTimeout(() => response.destroy(), SLOW_CONSUMER_GRACE_MS);
    cut.unref();
    response.once('close', () => clearTimeout(cut));
  }

  private closeBody(): void {
    try {
      this.controller.close();
    } catch {
      // closed already (the client went away)
    }
  }

  /** The stream is over: the callbacks run once. */
  private closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pending = [];
    this.pendingBytes = 0;
    this.streams.closed(this);
    for (const callback of this.onClose.splice(0)) callback();
  }
}

/**
 * Keeps the SSE responses of a route: a single keep-alive timer and a single per-tick flush for
 * all of them, so an idle stream costs its response and little else.
 */
export class EventStreams {
  private readonly written = new TickFlush<EventStream>();
  /** The open streams, visited a slice at a time (keep-alive-rounds.ts). */
  private readonly streams: KeepAliveRounds<EventStream>;

  constructor(readonly options: EventStreamsOptions) {
    this.streams = new KeepAliveRounds(options.keepAliveMs ?? 12_000, (stream) => this.keepAlive(stream));
  }

  /** A new stream for a response (absent in-process, through `yoga.fetch`). */
  open(response: ServerResponse | undefined): EventStream {
    return new EventStream(this, response);
  }

  /** Open streams (for tests and /stats). */
  get size(): number {
    return this.streams.size;
  }

  /** @internal */
  opened(stream: EventStream): void {
    this.streams.add(stream);
  }

  /** @internal */
  closed(stream: EventStream): void {
    this.streams.delete(stream);
  }

  /** @internal marks a stream written in this tick; one flush writes them all. */
  dirty(stream: EventStream): void {
    this.written.mark(stream);
  }

  /** Writes every stream gathered so far. */
  flush(): void {
    this.written.flush();
  }

  /** Stops the keep-alive timer (the streams end with their subscriptions). */
  dispose(): void {
    this.streams.dispose();
    this.flush();
  }

  /** A stream's keep-alive turn: the heartbeat, or a comment if it wrote nothing since its last turn. */
  private keepAlive(stream: EventStream): void {
    const { heartbeat } = this.options;
    if (heartbeat) {
      stream.send(heartbeat());
      return;
    }
    if (!stream.wrote) stream.send(KEEP_ALIVE);
    stream.wrote = false;
  }
}

function toBytes(frame: EventFrame): Uint8Array {
  return typeof frame === 'string' ? Buffer.from(frame) : frame;
}

/** Behind the Node server yoga's server context holds the Node response; in-process it does not. */
export function serverResponseOf(
  serverContext: Readonly<Record<string, unknown>>,
): ServerResponse | undefined {
  const response = serverContext.res as ServerResponse | undefined;
  return typeof response?.destroy === 'function' && typeof response.once === 'function'
    ? response
    : undefined;
}
