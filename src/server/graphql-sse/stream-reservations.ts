import type { ServerResponse } from 'node:http';
import type { EventStream, EventStreams } from '../sse/event-stream.ts';
import type { SseSubscription } from '../sse/sse-subscription.ts';

/** How long a stream reserved with `PUT /graphql/stream` may wait for its `GET` (docs/limits.md). */
export const RESERVATION_TIMEOUT_MS = 30_000;

/** One operation of a reserved stream: its subscription once started (a query has none). */
export interface StreamOperation {
  subscription?: SseSubscription;
}

/**
 * A stream of graphql-sse's single-connection mode: reserved by `PUT`, opened once by `GET`,
 * carrying the operations `POST`ed with its token, each named by its id. Operations may start
 * before the `GET` (the protocol allows it): their events wait, bounded, in the stream's body.
 */
export class ReservedStream {
  /** Operations by id, from their `POST` until they end or are stopped. */
  readonly operations = new Map<string, StreamOperation>();
  private stream: EventStream | undefined;
  private opened = false;
  private disposed = false;
  /** @internal the reservation's expiry, until the `GET`. */
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly token: string,
    private readonly table: StreamReservations,
  ) {}

  /** True once a `GET` opened it: only one may. */
  get isOpen(): boolean {
    return this.opened;
  }

  /** The stream its operations write on; when the client goes away, the reservation ends. */
  events(): EventStream {
    if (!this.stream) {
      const stream = this.table.streams.open(undefined);
      this.stream = stream;
      stream.whenClosed(() => this.dispose());
    }
    return this.stream;
  }

  /** The `GET`: the body to answer with (what operations already sent comes first). */
  open(response: ServerResponse | undefined): EventStream {
    this.opened = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const stream = this.events();
    stream.attach(response);
    return stream;
  }

  /**
   * A `DELETE`: the operation stops. A subscription still ends with `complete`, as graphql-sse's
   * does; an operation still starting is forgotten and its start sends nothing.
   */
  stop(id: string): void {
    const operation = this.operations.get(id);
    this.operations.delete(id);
    operation?.subscription?.completeAlone();
  }

  /** The operation `id` ended on its own (its result sent, its subscription over). */
  ended(id: string, operation: StreamOperation): void {
    if (this.operations.get(id) === operation) this.operations.delete(id);
  }

  /** Ends the reservation: its subscriptions leave their groups, the stream ends, the token is free. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    this.table.forget(this);
    const operations = [...this.operations.values()];
    this.operations.clear();
    for (const operation of operations) operation.subscription?.leave();
    this.stream?.end();
  }
}

/**
 * The reserved streams of /graphql/stream by token. A reservation that no `GET` opens within
 * `timeoutMs` is dropped: `PUT` needs no token, so without this any client (or one that gave up
 * between its `PUT` and its `GET`, as the soak in bench/soak.ts found) could grow the table
 * without bound.
 */
export class StreamReservations {
  private readonly reserved = new Map<string, ReservedStream>();

  constructor(
    readonly streams: EventStreams,
    private readonly timeoutMs = RESERVATION_TIMEOUT_MS,
  ) {}

  get(token: string): ReservedStream | undefined {
    return this.reserved.get(token);
  }

  /**
   * A new reservation of `token`; undefined while an operation runs on the stream that holds it.
   * A stream of that token with nothing running is ended and replaced: graphql-sse's client,
   * given its headers as an object, sends the token of its last stream with the `PUT` of the
   * next (it writes the token into that object), right after it aborted the last stream's `GET`
   * because its operations were done (lazy mode), so the `PUT` can come before the server has
   * seen that `GET` close. Only the client that was given the token can name it.
   */
  reserve(token: string): ReservedStream | undefined {
    const held = this.reserved.get(token);
    if (held) {
      if (held.operations.size > 0) return undefined;
      held.dispose();
    }
    const reservation = new ReservedStream(token, this);
    this.reserved.set(token, reservation);
    // A constant delay: unref'd is fine (see onTokenExpiry for why per-connection delays are not).
    reservation.timer = setTimeout(() => reservation.dispose(), this.timeoutMs);
    reservation.timer.unref();
    return reservation;
  }

  /** Reservations made and not yet opened (nor expired). */
  get waiting(): number {
    let count = 0;
    for (const reservation of this.reserved.values()) if (!reservation.isOpen) count++;
    return count;
  }

  /** Streams reserved, open or not. */
  get size(): number {
    return this.reserved.size;
  }

  /** @internal */
  forget(reservation: ReservedStream): void {
    if (this.reserved.get(reservation.token) === reservation) this.reserved.delete(reservation.token);
  }

  /** Ends every stream (shutdown: their subscriptions have completed through their groups). */
  dispose(): void {
    for (const reservation of [...this.reserved.values()]) reservation.dispose();
  }
}
