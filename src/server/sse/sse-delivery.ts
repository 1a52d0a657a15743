import type { ConnectionLimiter } from '../../domain/limits/connection-limiter.ts';
import { CONNECTION_KINDS } from '../../domain/limits/connection-limiter.ts';
import type { GraphQLContext } from '../../domain/resolver-context.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { onTokenExpiry, tokenExpiredError } from '../auth/token-expiry.ts';
import { ACCEPTS_EVENT_PAGES } from '../delivery/event-pages-plugin.ts';
import { groupRunContext } from '../delivery/group-context.ts';
import { sharingKey } from '../delivery/sharing-key.ts';
import type { SubscriptionGroups } from '../delivery/subscription-groups.ts';
import type { InitialContext } from '../graphql-context.ts';
import { acquireConnectionSlot } from '../limits/connection-slot.ts';
import type { OperationRunner, ParsedOperation, RunContext } from '../operation-runner.ts';
import type { OpenSubscriptions } from '../ops/open-subscriptions.ts';
import { rootFieldOf } from '../ops/root-field.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import { MANAGED_LIFECYCLE } from '../subscription-lifecycle.ts';
import type { EventStream, EventStreams } from './event-stream.ts';
import { type SseFraming, SseSubscription } from './sse-subscription.ts';

export interface SseDeliveryOptions {
  readonly runner: OperationRunner;
  readonly groups: SubscriptionGroups;
  readonly streams: EventStreams;
  /** The GraphQL context factory: who the request is (a bad token throws UNAUTHENTICATED). */
  readonly buildContext: (initial: InitialContext) => Promise<GraphQLContext>;
  readonly limiter: ConnectionLimiter;
  readonly stats: TransportStats;
  readonly openSubscriptions: OpenSubscriptions;
  /** Counts a refusal by the limit's name (limit_refusals_total). */
  readonly onRefused: (limit: string) => void;
}

/** What a transport hands over to start one SSE subscription on a stream. */
export interface SseSubscriptionStart {
  readonly parsed: ParsedOperation;
  /** The document as the client sent it (part of the sharing key). */
  readonly source: string;
  readonly context: GraphQLContext;
  readonly stream: EventStream;
  readonly framing: SseFraming;
  /** The subscription is the whole response: its end ends the stream. */
  readonly endsStream: boolean;
  /** Undone when the subscription ends (a connection slot, for instance). */
  readonly onEnd?: () => void;
}

/**
 * Starts SSE subscriptions as members of their subscription group (DESIGN.md decision 4): one
 * execution and one serialization per event per group; each member writes the group's bytes on
 * its own stream. The gauge, /stats, token expiry and shutdown (the groups complete every
 * member) attach at start and end, not per event. Both SSE transports use it: GraphQL over SSE
 * on /graphql (graphql-over-sse.ts) and the graphql-sse protocol on /graphql/stream.
 */
export function createSseDelivery(options: SseDeliveryOptions) {
  const lowWaterBytes = Math.floor(options.streams.options.maxBufferedBytes / 4);
  return {
    /**
     * Takes the SSE connection slot of `viewer` (per instance, user, tenant) and counts the
     * connection in /stats; an SSE subscription is a connection of its own on both SSE routes.
     * Over a limit it throws the LimitExceededError, for the transport to answer in its words.
     * Returns what undoes both, to run when the subscription ends.
     */
    openConnection(viewer: Viewer | null): () => void {
      const lease = acquireConnectionSlot(options.limiter, CONNECTION_KINDS.SSE, viewer, options.onRefused);
      options.stats.connectionOpened(TRANSPORTS.GRAPHQL_SSE);
      return () => {
        lease.release();
        options.stats.connectionClosed(TRANSPORTS.GRAPHQL_SSE);
      };
    },

    start(start: SseSubscriptionStart): SseSubscription {
      const { parsed, context, stream } = start;
      const viewer = context.viewer;
      const closeGauge = options.openSubscriptions.opened(
        TRANSPORTS.GRAPHQL_SSE,
        rootFieldOf(parsed.document, parsed.operationName),
      );
      options.stats.subscriptionStarted(TRANSPORTS.GRAPHQL_SSE);
      let cancelExpiry: (() => void) | undefined;
      const subscription = new SseSubscription(
        stream,
        start.framing,
        () => {
          closeGauge();
          cancelExpiry?.();
          start.onEnd?.();
        },
        start.endsStream,
        () => stream.whenWritable(lowWaterBytes),
      );
      const key = sharingKey(parsed, start.source, viewer);
      const correlationId = context.correlationId;
      subscription.membership = options.groups.join(
        key,
        (audience) =>
          options.runner.run(
            parsed,
            key === null
              ? soloContext(viewer, correlationId, () => stream.whenWritable(lowWaterBytes))
              : groupRunContext(audience, viewer, correlationId),
          ),
        subscription,
      );
      // A client that goes away (or is cut off as a slow consumer) leaves its group. After the
      // join: a stream already closed leaves at once, and must not join afterwards.
      stream.whenClosed(() => subscription.leave());
      const expiresAt = viewer?.expiresAt;
      if (expiresAt !== undefined)
        cancelExpiry = onTokenExpiry(expiresAt, () =>
          subscription.endWith({ errors: [tokenExpiredError(expiresAt)] }),
        );
      return subscription;
    },
  };
}

export type SseDelivery = ReturnType<typeof createSseDelivery>;

/** A subscription that runs alone: the member's own viewer (with its expiry, which it manages). */
function soloContext(
  viewer: Viewer | null,
  correlationId: string,
  whenWritable: () => Promise<void> | undefined,
): RunContext {
  // A replay's pages come whole and rendered (event-pages-plugin.ts); the group paces them.
  return { extra: { viewer, correlationId, whenWritable }, ...MANAGED_LIFECYCLE, ...ACCEPTS_EVENT_PAGES };
}
