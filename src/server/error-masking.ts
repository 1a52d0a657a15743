import { GraphQLError } from 'graphql';
import { ERROR_CODES, isAppError } from '../errors.ts';
import { type Logger, newCorrelationId } from '../log.ts';

/**
 * The one masking function (DESIGN.md decision 6). AppErrors keep their message and code;
 * GraphQL's own syntax and validation errors become BAD_USER_INPUT; everything else reaches the
 * client as INTERNAL with a correlation id, and the log gets the stack under that id.
 */
export function createErrorMasker(log: Logger) {
  return function maskError(error: unknown): Error {
    const graphqlError = error instanceof GraphQLError ? error : undefined;
    const original = graphqlError ? graphqlError.originalError : error;
    const location = graphqlError
      ? { nodes: graphqlError.nodes, source: graphqlError.source, positions: graphqlError.positions, path: graphqlError.path }
      : {};

    if (isAppError(original)) {
      // Coercion errors prefix the argument or variable that failed; keep that context.
      const message = graphqlError?.message ?? original.message;
      return new GraphQLError(message, { ...location, originalError: original, extensions: original.extensions });
    }
    if (graphqlError && isClientGraphQLError(graphqlError)) {
      const code = graphqlError.extensions.code;
      if (typeof code === 'string' && code in ERROR_CODES) return graphqlError;
      return new GraphQLError(graphqlError.message, {
        ...location,
        extensions: { ...graphqlError.extensions, code: ERROR_CODES.BAD_USER_INPUT },
      });
    }
    const correlationId = newCorrelationId();
    log.error({ err: original ?? error, correlationId, path: graphqlError?.path }, 'internal error');
    return new GraphQLError(`internal error (correlation id ${correlationId})`, {
      ...location,
      extensions: { code: ERROR_CODES.INTERNAL, correlationId },
    });
  };
}

/** Errors graphql-js or yoga made about the request itself, with no internal cause behind them. */
function isClientGraphQLError(error: GraphQLError): boolean {
  if (error.originalError === undefined || error.originalError === null) return true;
  // Yoga's HTTP-level errors (bad JSON, wrong method) are GraphQLErrors with http extensions.
  return error.originalError instanceof GraphQLError && isClientGraphQLError(error.originalError);
}
