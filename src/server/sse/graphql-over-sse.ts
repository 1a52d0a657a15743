import { type ExecutionResult, parse } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../../domain/resolver-context.ts';
import { isAppError } from '../../errors.ts';
import { withHttpStatus } from '../auth/http-error.ts';
import { selectedOperation } from '../auth/root-fields.ts';
import type { RunContext } from '../operation-runner.ts';
import { type EventStream, serverResponseOf } from './event-stream.ts';
import { createSseDelivery, type SseDeliveryOptions } from './sse-delivery.ts';
import { DISTINCT_FRAMING } from './sse-subscription.ts';

/**
 * GraphQL over HTTP with `Accept: text/event-stream` (distinct connections, what graphql-sse's
 * and urql's clients send to /graphql, or `*` / `*` as curl and a bare fetch do): a subscription is
 * taken off yoga's per-event response path and delivered through its group on a coalesced,
 * bounded stream. A subscription whose request accepts no event stream stays with yoga: a
 * refusal (bad variables) is answered as JSON, a stream is ended at once with 406
 * (useManagedSubscriptionsOnly; yoga alone would answer 406 and leave it running). Everything else, queries, mutations, documents that do not parse or validate and
 * bad tokens, stays with yoga, which answers as it always did (refusals as `next` + `complete`
 * under 200).
 */
export function useGraphqlOverSse(options: SseDeliveryOptions, maxDocumentTokens: number): Plugin {
  const delivery = createSseDelivery(options);
  const { runner, streams } = options;

  async function subscribe(
    request: Request,
    params: { query?: unknown; operationName?: unknown; variables?: unknown },
    serverContext: Record<string, unknown>,
  ): Promise<SseResult | undefined> {
    if (typeof params.query !== 'string') return undefined;
    const operationName = typeof params.operationName === 'string' ? params.operationName : null;
    // Yoga answers it (a refusal as JSON; a stream it cannot send: useManagedSubscriptionsOnly).
    if (!answersWithEventStream(request)) return undefined;
    // Everything but a subscription stays with yoga before any hook of ours sees it: the runner's
    // parse validates and logs, and yoga would validate and log the same mistake a second time.
    if (!selectsSubscription(params.query, operationName, maxDocumentTokens)) return undefined;
    const initial = { request, params } as RunContext;
    const parsed = runner.parse(
      {
        query: params.query,
        operationName,
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
    onParams({ params, paramsHandler, setParamsHandler }) {
      // Cheap before parsing: a document without the word holds no subscription.
      if (typeof params.query !== 'string' || !params.query.includes('subscription')) return;
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

/**
 * True when `query` parses (within MAX_DOCUMENT_TOKENS) and the operation it selects is a
 * subscription: graphql-js alone, no hook of yoga's, so nothing is logged or counted here.
 */
function selectsSubscription(query: string, operationName: string | null, maxTokens: number): boolean {
  try {
    return selectedOperation(parse(query, { maxTokens }), operationName)?.operation === 'subscription';
  } catch {
    return false; // a syntax error or too many tokens: yoga answers, logs and counts it once
  }
}

/** The result yoga carries from the params handler to the result processor: our own stream. */
class SseResult {
  constructor(private readonly stream: EventStream) {}

  response(): Response {
    return new Response(this.stream.body, { status: 200, headers: SSE_HEADERS });
  }
}

/**
 * True when yoga would answer a subscription of this request as an event stream: some media type
 * of its Accept header (in utf-8) matches text/event-stream, wildcards included; no header is
 * `*` / `*`. (A subscription's stream goes out as SSE or not at all: yoga's result processors.)
 */
export function answersWithEventStream(request: Request): boolean {
  const accepted = (request.headers.get('accept') || '*/*').replace(/\s/g, '').toLowerCase().split(',');
  return accepted.some((entry) => {
    const [mediaType = '', ...parameters] = entry.split(';');
    const charset = parameters.find((parameter) => parameter.startsWith('charset='));
    if (charset !== undefined && charset !== 'charset=utf-8') return false;
    const [type, subtype] = mediaType.split('/');
    return (type === '*' || type === 'text') && (subtype === '*' || subtype === 'event-stream');
  });
}

/** As yoga's SSE responses. */
const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  connection: 'keep-alive',
  'cache-control': 'no-cache',
  'content-encoding': 'none',
};
