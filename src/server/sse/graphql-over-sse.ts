import type { ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { CONNECTION_KINDS, type ConnectionLimiter } from '../../domain/limits/connection-limiter.ts';
import type { Viewer } from '../../domain/viewer.ts';
import { isAppError } from '../../errors.ts';
import type { GraphQLContext } from '../../schema/context.ts';
import { withHttpStatus } from '../auth/http-error.ts';
import { onTokenExpiry, tokenExpiredError } from '../auth/token-expiry-plugin.ts';
import { acceptsEventStream } from '../auth/token-source.ts';
import { groupRunContext } from '../delivery/group-context.ts';
import { sharingKey } from '../delivery/sharing-key.ts';
import type { SubscriptionGroups } from '../delivery/subscription-groups.ts';
import type { InitialContext } from '../graphql-context.ts';
import { acquireConnectionSlot } from '../limits/connection-slot.ts';
import type { OperationRunner, ParsedOperation, RunContext } from '../operation-runner.ts';
import type { OpenSubscriptions } from '../ops/open-subscriptions.ts';
import { rootFieldOf } from '../ops/subscription-metrics-plugin.ts';
import { TRANSPORTS, type TransportStats } from '../ops/transport-stats.ts';
import { MANAGED_LIFECYCLE } from '../subscription-lifecycle.ts';
import type { EventStream, EventStreams } from './event-stream.ts';
import { DISTINCT_FRAMING, type SseFraming, SseSubscription } from './sse-subscription.ts';

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
 * member) attach at start and end, not per event.
 */
export function createSseDelivery(options: SseDeliveryOptions) {
  const lowWaterBytes = Math.floor(options.streams.options.maxBufferedBytes / 4);
  return {
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
      );
      // A client that goes away (or is cut off as a slow consumer) leaves its group.
      stream.whenClosed(() => subscription.leave());
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

/**
 * GraphQL over HTTP with `Accept: text/event-stream` (distinct connections, what graphql-sse's
 * and urql's clients send to /graphql): a subscription is taken off yoga's per-event response path
 * and delivered through its group on a coalesced, bounded stream. Everything else, queries,
 * mutations, documents that do not parse or validate and bad tokens, stays with yoga, which
 * answers as it always did (refusals as `next` + `complete` under 200).
 */
export function useGraphqlOverSse(options: SseDeliveryOptions): Plugin {
  const delivery = createSseDelivery(options);
  const { runner, streams } = options;

  async function subscribe(
    request: Request,
    params: { query?: unknown; operationName?: unknown; variables?: unknown },
    serverContext: Record<string, unknown>,
  ): Promise<SseResult | undefined> {
    if (typeof params.query !== 'string') return undefined;
    const initial = { request, params } as RunContext;
    const parsed = runner.parse(
      {
        query: params.query,
        operationName: typeof params.operationName === 'string' ? params.operationName : null,
        variables: (params.variables ?? null) as Record<string, unknown> | null,
      },
      initial,
    );
    if ('errors' in parsed || parsed.kind !== 'subscription') return undefined;
    let context: GraphQLContext;
    try {
      context = await options.buildContext(initial);
    } catch {
      return undefined; // yoga answers the bad token as before
    }
    const viewer = context.viewer;
    let release: () => void;
    try {
      const lease = acquireConnectionSlot(options.limiter, CONNECTION_KINDS.SSE, viewer, options.onRefused);
      release = () => lease.release();
    } catch (error) {
      if (!isAppError(error)) throw error;
      // Thrown: yoga answers it as a result in the stream, before any data.
      throw withHttpStatus(error);
    }
    const stream = streams.open(serverResponseOf(serverContext));
    // GraphQL over SSE has no connection beyond the subscription: each counts as one.
    options.stats.connectionOpened(TRANSPORTS.GRAPHQL_SSE);
    delivery.start({
      parsed,
      source: params.query,
      context,
      stream,
      framing: DISTINCT_FRAMING,
      endsStream: true,
      onEnd: () => {
        release();
        options.stats.connectionClosed(TRANSPORTS.GRAPHQL_SSE);
      },
    });
    return new SseResult(stream);
  }

  return {
    onParams({ request, params, paramsHandler, setParamsHandler }) {
      if (!acceptsEventStream(request)) return;
      setParamsHandler(async (payload) => {
        const started = await subscribe(
          payload.request,
          params,
          payload.context as unknown as Record<string, unknown>,
        );
        return started ? (started as unknown as ExecutionResult) : paramsHandler(payload);
      });
    },
    onResultProcess({ result, setResultProcessor }) {
      if (result instanceof SseResult) setResultProcessor(() => result.response(), 'text/event-stream');
    },
  };
}

/** The result yoga carries from the params handler to the result processor: our own stream. */
class SseResult {
  constructor(private readonly stream: EventStream) {}

  response(): Response {
    return new Response(this.stream.body, { status: 200, headers: SSE_HEADERS });
  }
}

/** As yoga's SSE responses. */
const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  connection: 'keep-alive',
  'cache-control': 'no-cache',
  'content-encoding': 'none',
};

/** A subscription that runs alone: the member's own viewer (with its expiry, which it manages). */
function soloContext(
  viewer: Viewer | null,
  correlationId: string,
  whenWritable: () => Promise<void> | undefined,
): RunContext {
  return { extra: { viewer, correlationId, whenWritable }, ...MANAGED_LIFECYCLE };
}

/** Behind the Node server yoga's server context holds the Node response; in-process it does not. */
function serverResponseOf(serverContext: Record<string, unknown>): ServerResponse | undefined {
  const response = serverContext.res as ServerResponse | undefined;
  return typeof response?.destroy === 'function' && typeof response.once === 'function'
    ? response
    : undefined;
}
