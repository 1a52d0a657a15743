import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../../domain/resolver-context.ts';
import { isAppError } from '../../errors.ts';
import { withHttpStatus } from '../auth/http-error.ts';
import { acceptsEventStream } from '../auth/token-source.ts';
import type { RunContext } from '../operation-runner.ts';
import { type EventStream, serverResponseOf } from './event-stream.ts';
import { createSseDelivery, type SseDeliveryOptions } from './sse-delivery.ts';
import { DISTINCT_FRAMING } from './sse-subscription.ts';

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
    let close: () => void;
    try {
      close = delivery.openConnection(context.viewer);
    } catch (error) {
      if (!isAppError(error)) throw error;
      // Thrown: yoga answers it as a result in the stream, before any data.
      throw withHttpStatus(error);
    }
    const stream = streams.open(serverResponseOf(serverContext));
    delivery.start({
      parsed,
      source: params.query,
      context,
      stream,
      framing: DISTINCT_FRAMING,
      endsStream: true,
      // GraphQL over SSE has no connection beyond the subscription: each counts as one.
      onEnd: close,
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
