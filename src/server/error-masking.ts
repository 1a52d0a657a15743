import { GraphQLError } from 'graphql';
import { isDatabaseUnavailable } from '../db/database-unavailable.ts';
import { ERROR_CODES, isAppError, UnavailableError } from '../errors.ts';
import { type Logger, newCorrelationId } from '../log.ts';
import { withHttpStatus } from './auth/http-error.ts';

/**
 * The one masking function (DESIGN.md decision 6). AppErrors keep their message and code;
 * GraphQL's own syntax and validation errors become BAD_USER_INPUT; an unreachable database is
 * UNAVAILABLE (HTTP 503, Retry-After); everything else reaches the
 * client as INTERNAL with a correlation id, and the log gets the stack under that id.
 */
export function createErrorMasker(log: Logger) {
  return function maskError(error: unknown): Error {
    const graphqlError = error instanceof GraphQLError ? error : undefined;
    const cause = innermostCause(error);
    const location = graphqlError
      ? {
          nodes: graphqlError.nodes,
          source: graphqlError.source,
          positions: graphqlError.positions,
          path: graphqlError.path,
        }
      : {};
    // Yoga marks request errors with an HTTP status (400 for bad variables); keep it.
    const http = graphqlError?.extensions.http ? { http: graphqlError.extensions.http } : {};

    if (isAppError(cause)) {
      // Coercion errors prefix the argument or variable that failed; keep that context.
      const message = graphqlError?.message ?? cause.message;
      return new GraphQLError(message, {
        ...location,
        originalError: cause,
        extensions: { ...cause.extensions, ...http },
      });
    }
    if (cause instanceof GraphQLError) {
      // Made by graphql-js or yoga about the request itself: syntax, validation, bad HTTP.
      const code = cause.extensions.code;
      if (graphqlError && typeof code === 'string' && code in ERROR_CODES) return graphqlError;
      // Yoga's own answer to a body over maxRequestBodySize (MAX_PAYLOAD_BYTES).
      if (code === 'REQUEST_ENTITY_TOO_LARGE') {
        return new GraphQLError('the request body is larger than MAX_PAYLOAD_BYTES allows', {
          extensions: { ...cause.extensions, code: ERROR_CODES.PAYLOAD_TOO_LARGE },
        });
      }
      return new GraphQLError(graphqlError?.message ?? cause.message, {
        ...location,
        extensions: { ...cause.extensions, ...http, code: ERROR_CODES.BAD_USER_INPUT },
      });
    }
    const correlationId = newCorrelationId();
    if (isDatabaseUnavailable(cause)) {
      // Not the caller's fault and not a bug: refused like a broker outage, retried by the client.
      log.warn({ err: cause, correlationId, path: graphqlError?.path }, 'database unavailable');
      const unavailable = withHttpStatus(
        new UnavailableError(
          `the database is unavailable; try again shortly (correlation id ${correlationId})`,
          { details: { correlationId } },
        ),
      );
      return new GraphQLError(unavailable.message, {
        ...location,
        originalError: unavailable.originalError,
        extensions: unavailable.extensions,
      });
    }
    log.error({ err: cause, correlationId, path: graphqlError?.path }, 'internal error');
    return new GraphQLError(`internal error (correlation id ${correlationId})`, {
      ...location,
      extensions: { code: ERROR_CODES.INTERNAL, correlationId },
    });
  };
}

/**
 * Follows `originalError` down through the GraphQLErrors that graphql-js and the executor wrap
 * around a failure: the first AppError found, else the innermost error.
 */
function innermostCause(error: unknown): unknown {
  let current: unknown = error;
  while (current instanceof GraphQLError && current.originalError != null) {
    if (isAppError(current.originalError)) return current.originalError;
    current = current.originalError;
  }
  return current;
}
