import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import type { OperationResult } from 'graphql-sse';
import { createHandler } from 'graphql-sse/lib/use/fetch';
import type { HttpRoute } from '../http-routes.ts';
import { isResultStream, type OperationRunner, type RunContext } from '../operation-runner.ts';
import { expireUnopenedReservations, RESERVATION_TIMEOUT_MS } from './stream-reservations.ts';

/** Where graphql-sse clients in single-connection mode (and distinct mode too) connect. */
export const GRAPHQL_SSE_PATH = '/graphql/stream';

/**
 * The graphql-sse protocol on /graphql/stream, both modes: single connection (`PUT` reserves a
 * stream and returns its token, `GET`/`POST` with `X-GraphQL-Event-Stream-Token` opens it, `POST`
 * operations run on it, `DELETE` stops one) and distinct connections. Every operation goes through
 * the execution seam, operation-runner.ts (DESIGN.md decision 1): the same context and token check, auth guard, limits,
 * metrics and error masking as `/graphql`. Like `@graphql-yoga/plugin-graphql-sse`, but anything
 * refused (a bad token, a limit, a parse error) is answered as a GraphQL result with its code
 * rather than thrown, which graphql-sse would turn into a 500.
 */
export function graphqlSseRoute(runner: OperationRunner, maskError: (error: unknown) => Error): HttpRoute {
  const refusal = (error: unknown): ExecutionResult => ({ errors: [maskError(error) as GraphQLError] });
  const handler = createHandler<undefined>({
    async onSubscribe(request, params) {
      try {
        const initial = { request: request.raw, params } as RunContext;
        const parsed = runner.parse(
          { query: params.query, operationName: params.operationName, variables: params.variables },
          initial,
        );
        if ('errors' in parsed) return refusedWith({ errors: parsed.errors });
        const result = await runner.run(parsed, initial);
        // Refused before execution (the auth guard, a limit): errors without `data`.
        if (isResultStream(result) || 'data' in result) return result as OperationResult;
        return refusedWith(result);
      } catch (error) {
        return refusedWith(refusal(error));
      }
    },
    onNext: (_ctx, _request, result) => clientResult(result as ExecutionResult),
  });
  const reserving = expireUnopenedReservations(handler, RESERVATION_TIMEOUT_MS);
  return { methods: '*', path: GRAPHQL_SSE_PATH, handle: (request) => reserving(request) };
}

/**
 * A refusal as a one-event stream: graphql-sse takes a plain result for operation arguments
 * unless it has `data`, and a request error has none; the client gets `next` then `complete`.
 */
async function* refusedWith(result: ExecutionResult): AsyncGenerator<ExecutionResult> {
  yield clientResult(result);
}

/** `extensions.http` tells yoga an HTTP status; an event in a stream has none to set. */
function clientResult(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result;
  const errors = result.errors.map((error) => {
    const formatted: GraphQLFormattedError = typeof error.toJSON === 'function' ? error.toJSON() : error;
    if (!formatted.extensions || !('http' in formatted.extensions)) return formatted;
    const { http: _http, ...extensions } = formatted.extensions;
    return { ...formatted, extensions };
  });
  return { ...result, errors: errors as unknown as ExecutionResult['errors'] };
}
