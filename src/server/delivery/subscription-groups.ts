import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import type { Audience } from '../../domain/audience.ts';
import { isResultStream, type OperationOutcome } from '../operation-runner.ts';
import type { Transport } from '../ops/transport-stats.ts';
import { eventPageOf } from './event-pages-plugin.ts';
import { SerializedResult } from './serialized-result.ts';

/**
 * One result of a group's execution, handed to every member. Its serialized form is made once,
 * by the first member that needs it; adapters that translate it (legacy frames) memoize their
 * translation here too, so the work per event is per group, not per subscriber.
 */
export class GroupEvent {
  private json: string | undefined;
  private bytes: Buffer | undefined;
  private translations: Map<unknown, unknown> | undefined;

  /**
   * `readers`: the members it goes to. A lone reader's frame takes the payload as text (`body`),
   * encoded once straight into its socket's write; several share one encoding of it.
   */
  constructor(
    readonly result: ExecutionResult,
    private readonly readers = 2,
  ) {
    // A rendered page's event is its payload already (event-pages-plugin.ts).
    if (result instanceof SerializedResult) this.json = result.payload;
  }

  /** The result as a graphql-ws `next` payload / GraphQL over SSE `data`, serialized once. */
  get payload(): string {
    this.json ??= serializeResult(this.result);
    return this.json;
  }

  /** `payload` as UTF-8, encoded once: the bytes every member's frame copies. */
  get payloadBytes(): Buffer {
    this.bytes ??= Buffer.from(this.payload);
    return this.bytes;
  }

  /** What a member's frame carries: the payload's text for a lone reader, else the shared bytes. */
  get body(): Buffer | string {
    return this.readers > 1 ? this.payloadBytes : this.payload;
  }

  /** `make()` once per event for `key` (an adapter's own frame format). */
  translated<T>(key: unknown, make: (result: ExecutionResult) => T): T {
    this.translations ??= new Map();
    if (this.translations.has(key)) return this.translations.get(key) as T;
    const value = make(this.result);
    this.translations.set(key, value);
    return value;
  }
}

/** A subscriber as a group sees it; each callback reaches this member alone. */
export interface GroupMember {
  /** Counted per transport in /stats and /metrics. */
  readonly transport: Transport | undefined;
  next(event: GroupEvent): void;
  /** The stream failed; nothing follows (graphql-ws `error`). */
  error(errors: readonly GraphQLFormattedError[]): void;
  /** The stream ended; nothing follows. */
  complete(): void;
  /**
   * The group's source stream runs (called at once when joining a running group): what a
   * protocol that confirms a subscribe before its first event (legacy topics) waits for.
   */
  started?(): void;
  /**
   * Undefined when the member's client can take more now, else a promise of that moment. Asked
   * only between the events of one page (event-pages-plugin.ts): a page's events go out no
   * faster than the client reads them. Paged fields never share a group, so no member waits on
   * another.
   */
  whenWritable?(): Promise<void> | undefined;
}

/** A member's place in its group. */
export interface Membership {
  /** Leaves without a `complete` (the client completed, or its connection closed); idempotent. */
  leave(): void;
}

export interface SubscriptionGroupsOptions {
  /** Deliveries per transport, once per event (not per member). */
  readonly onDelivered?: (transport: Transport, count: number) => void;
  /**
   * A start that threw instead of answering a result, or a source that failed after it started:
   * logged and masked (members get INTERNAL for anything but the API's own errors).
   */
  readonly onStartFailure?: (error: unknown) => GraphQLFormattedError;
}

/**
 * Subscriptions with equal sharing keys (sharing-key.ts) share one source stream and one
 * execution per event (DESIGN.md decision 4). The first member starts the execution; later ones
 * join it live; the last to leave ends it. A member never waits for another: `next` only queues
 * on the member's own socket, which is cut off alone when it does not read.
 */
export class SubscriptionGroups {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly options: SubscriptionGroupsOptions = {}) {}

  /**
   * Adds `member` to the group of `key` (a new one, started with `start`, when there is none);
   * a null key runs alone.
   */
  join(
    key: string | null,
    start: (audience: Audience) => Promise<OperationOutcome>,
    member: GroupMember,
  ): Membership {
    let group = key === null ? undefined : this.groups.get(key);
    if (!group) {
      group = new Group(key, this);
      if (key !== null) this.groups.set(key, group);
      group.add(member);
      void group.start(start);
    } else group.add(member);
    const joined = group;
    return { leave: () => joined.remove(member) };
  }

  /** Ends every group: each member gets `complete` (shutdown). */
  completeAll(): void {
    for (const group of [...this.groups.values()]) group.finish();
    for (const group of this.solo) group.finish();
  }

  /** Groups running now (for tests and /stats). */
  get size(): number {
    return this.groups.size;
  }

  /** @internal groups without a key, tracked only so that shutdown reaches them too. */
  readonly solo = new Set<Group>();

  /** @internal */
  forget(group: Group): void {
    if (group.key === null) this.solo.delete(group);
    else if (this.groups.get(group.key) === group) this.groups.delete(group.key);
  }

  /** @internal `events` events went to each member counted in `counts`. */
  delivered(counts: Map<Transport, number>, events = 1): void {
    const report = this.options.onDelivered;
    if (!report || events === 0) return;
    for (const [transport, count] of counts) report(transport, count * events);
  }

  /** @internal */
  startFailed(error: unknown): GraphQLFormattedError {
    return this.options.onStartFailure?.(error) ?? { message: 'Internal server error' };
  }

  /** @internal a source that failed after it started: masked as at the start, where a masker is set. */
  streamFailed(error: unknown): GraphQLFormattedError {
    if (this.options.onStartFailure) return this.options.onStartFailure(error);
    return { message: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Payload (in characters: up to 3 bytes each) a page hands its members between two questions of
 * whenWritable: what a client's buffer may grow past the transport's low water (ws-writable.ts:
 * a quarter of MAX_CLIENT_BUFFER) before the next question stops it, plus one event.
 */
const PAGE_CHECK_BYTES = 8 * 1024;

class Group {
  private readonly members = new Set<GroupMember>();
  /** Members per transport, for one stats call per event. */
  private readonly perTransport = new Map<Transport, number>();
  private source: AsyncIterableIterator<ExecutionResult> | undefined;
  private ended = false;

  constructor(
    readonly key: string | null,
    private readonly owner: SubscriptionGroups,
  ) {
    if (key === null) owner.solo.add(this);
  }

  add(member: GroupMember): void {
    this.members.add(member);
    if (member.transport)
      this.perTransport.set(member.transport, (this.perTransport.get(member.transport) ?? 0) + 1);
    if (this.source && !this.ended) member.started?.();
  }

  remove(member: GroupMember): void {
    if (!this.members.delete(member)) return;
    if (member.transport)
      this.perTransport.set(member.transport, (this.perTransport.get(member.transport) ?? 1) - 1);
    if (this.members.size > 0) return;
    // The last one left: no one may join a stream that is ending.
    this.ended = true;
    this.owner.forget(this);
    void this.source?.return?.();
  }

  /** The members: what the shared execution serves (Topic.activeSubscriptions counts them). */
  get size(): number {
    return this.members.size;
  }

  async start(start: (audience: Audience) => Promise<OperationOutcome>): Promise<void> {
    let outcome: OperationOutcome;
    try {
      outcome = await start(this);
    } catch (error) {
      this.fail([this.owner.startFailed(error)]);
      return;
    }
    if (!isResultStream(outcome)) {
      // Refused at start (NOT_FOUND, SUBSCRIPTION_DENIED): one result, then complete, as
      // graphql-ws does; no later member may join a group that never ran.
      this.owner.forget(this);
      const event = new GroupEvent(outcome);
      for (const member of this.drain()) {
        member.next(event);
        member.complete();
      }
      return;
    }
    this.source = outcome;
    if (this.ended) {
      void outcome.return?.();
      return;
    }
    // Ask for the first event before members hear that the stream started: a source that
    // subscribes upstream on its first next() is then listening before a client, told it is
    // subscribed, makes the publish it expects to see.
    const first = outcome.next();
    for (const member of [...this.members]) member.started?.();
    await this.pump(outcome, first);
  }

  /** Completes every member and ends the source. */
  finish(): void {
    this.owner.forget(this);
    this.ended = true;
    void this.source?.return?.();
    for (const member of this.drain()) member.complete();
  }

  private async pump(
    source: AsyncIterableIterator<ExecutionResult>,
    first: Promise<IteratorResult<ExecutionResult>>,
  ): Promise<void> {
    try {
      for (let pending = first; ; pending = source.next()) {
        const next = await pending;
        if (next.done || this.ended) break;
        const page = eventPageOf(next.value);
        if (page) await this.deliverPage(page);
        else this.deliver(next.value);
      }
    } catch (error) {
      // Masked as at the start: a source's own error (a driver's, a bug's) never reaches a client.
      this.fail([this.owner.streamFailed(error)]);
      return;
    }
    this.owner.forget(this);
    for (const member of this.drain()) member.complete();
  }

  private deliver(result: ExecutionResult): void {
    const event = new GroupEvent(result, this.members.size);
    for (const member of this.members) member.next(event);
    this.owner.delivered(this.perTransport);
  }

  /**
   * A page's events in order, no faster than every member reads: the members are asked before
   * the first event and again once PAGE_CHECK_BYTES of payload went out since the last time
   * (asking per event cost more than the frame). Counted once per page.
   */
  private async deliverPage(results: readonly ExecutionResult[]): Promise<void> {
    let delivered = 0;
    let sinceCheck = PAGE_CHECK_BYTES;
    for (const result of results) {
      if (sinceCheck >= PAGE_CHECK_BYTES) {
        sinceCheck = 0;
        const wait = this.whenWritable();
        if (wait) await wait;
      }
      if (this.ended) break;
      const event = new GroupEvent(result, this.members.size);
      for (const member of this.members) member.next(event);
      sinceCheck += event.payload.length;
      delivered += 1;
    }
    this.owner.delivered(this.perTransport, delivered);
  }

  private whenWritable(): Promise<void> | undefined {
    const waits: Promise<void>[] = [];
    for (const member of this.members) {
      const wait = member.whenWritable?.();
      if (wait) waits.push(wait);
    }
    if (waits.length === 0) return undefined;
    return Promise.all(waits).then(() => undefined);
  }

  private fail(errors: readonly GraphQLFormattedError[]): void {
    this.owner.forget(this);
    this.ended = true;
    for (const member of this.drain()) member.error(errors);
  }

  /** The members, removed from the group (each is told once). */
  private drain(): GroupMember[] {
    const members = [...this.members];
    this.members.clear();
    this.perTransport.clear();
    return members;
  }
}

/**
 * A result as graphql-ws 6.4 sends it: errors last and only when present, each as `toJSON()`
 * without yoga's `extensions.http` (an HTTP status means nothing on a socket).
 */
export function serializeResult(result: ExecutionResult): string {
  const { errors, ...rest } = result;
  if (!errors) return JSON.stringify(rest);
  return JSON.stringify({ ...rest, errors: errors.map(withoutHttpExtension) });
}

/** An error's JSON form without `extensions.http`. */
export function withoutHttpExtension(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const formatted =
    'toJSON' in error && typeof error.toJSON === 'function'
      ? error.toJSON()
      : (error as GraphQLFormattedError);
  if (!formatted.extensions || !('http' in formatted.extensions)) return formatted;
  const { http: _http, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}
