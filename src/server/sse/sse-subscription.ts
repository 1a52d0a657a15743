import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import {
  type GroupEvent,
  type GroupMember,
  type Membership,
  serializeResult,
} from '../delivery/subscription-groups.ts';
import { TRANSPORTS } from '../ops/transport-stats.ts';
import type { EventFrame, EventStream } from './event-stream.ts';

/**
 * How a subscription's events look on its stream. GraphQL over SSE (distinct connections: one
 * stream per subscription) sends the group's result as is, so every member writes the same bytes,
 * encoded once per event; graphql-sse's single connection mode wraps it with the operation's id.
 */
export interface SseFraming {
  /** A group event. */
  next(event: GroupEvent): EventFrame;
  /** A result of this member's own (a refusal, token expiry), already serialized. */
  own(payload: string): string;
  readonly complete: string;
}

/** Shared `next` frames per group event, under this key of GroupEvent.translated. */
const SHARED_NEXT = Symbol('sse next');

/** Distinct connections: `event: next` with the result, `event: complete` with no data (as yoga). */
export const DISTINCT_FRAMING: SseFraming = {
  next: (event) =>
    event.translated(SHARED_NEXT, () => Buffer.from(`event: next\ndata: ${event.payload}\n\n`)),
  own: (payload) => `event: next\ndata: ${payload}\n\n`,
  complete: 'event: complete\ndata:\n\n',
};

/** graphql-sse single connection mode: every event names its operation. */
export function operationFraming(id: string): SseFraming {
  const quoted = JSON.stringify(id);
  const head = `event: next\ndata: {"id":${quoted},"payload":`;
  return {
    next: (event) => `${head}${event.payload}}\n\n`,
    own: (payload) => `${head}${payload}}\n\n`,
    complete: `event: complete\ndata: {"id":${quoted}}\n\n`,
  };
}

/**
 * One subscription over SSE: a member of its group. Its start and end are where the
 * cross-cutting concerns attach (the connection slot, the gauge, token expiry: `onEnd` undoes
 * them once); nothing is wrapped around its events. `endsStream`: the subscription is the whole
 * response (distinct connections), so its end ends the stream.
 */
export class SseSubscription implements GroupMember {
  readonly transport = TRANSPORTS.GRAPHQL_SSE;
  membership: Membership | undefined;
  private live = true;

  constructor(
    private readonly stream: EventStream,
    private readonly framing: SseFraming,
    private readonly onEnd: () => void,
    private readonly endsStream: boolean,
    /** Undefined while the stream can take more (a replay's page goes no faster than it reads). */
    private readonly paced: () => Promise<void> | undefined = () => undefined,
  ) {}

  whenWritable(): Promise<void> | undefined {
    return this.paced();
  }

  next(event: GroupEvent): void {
    if (this.live) this.stream.send(this.framing.next(event));
  }

  error(errors: readonly GraphQLFormattedError[]): void {
    // Over SSE a failed stream is a last result with the errors, then complete (as yoga does).
    this.finish(this.framing.own(serializeResult({ errors } as unknown as ExecutionResult)));
  }

  complete(): void {
    this.finish();
  }

  /** Ends with a result of its own (token expiry), leaving the group. */
  endWith(result: ExecutionResult): void {
    if (!this.live) return;
    this.membership?.leave();
    this.finish(this.framing.own(serializeResult(result)));
  }

  /**
   * Leaves the group and completes alone: the client stopped the operation and its protocol
   * still ends it with `complete` (graphql-sse's `DELETE`).
   */
  completeAlone(): void {
    if (!this.live) return;
    this.membership?.leave();
    this.finish();
  }

  /** Leaves the group without a word to the client (it went away, or stopped the operation). */
  leave(): void {
    if (!this.stop()) return;
    this.membership?.leave();
  }

  private finish(last?: string): void {
    if (!this.stop()) return;
    const frames = last === undefined ? this.framing.complete : `${last}${this.framing.complete}`;
    if (this.endsStream) this.stream.end(frames);
    else this.stream.send(frames);
  }

  /** True the first time: the end hooks run once. */
  private stop(): boolean {
    if (!this.live) return false;
    this.live = false;
    this.onEnd();
    return true;
  }
}
