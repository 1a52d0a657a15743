import { GraphQLError } from 'graphql';
import { ERROR_CODES, type ErrorCode, isAppError, UnavailableError } from '../errors.ts';
import { type Logger, newCorrelationId } from '../log.ts';
import { withHttpStatus } from './auth/http-error.ts';

/**
 * The level a failure is logged at, by its code: a client's mistake is info or warn, so that
 * error stays for the server's own faults (and a dependency that is away).
 */
export const LOG_LEVEL_BY_CODE: Readonly<Record<ErrorCode, 'info' | 'warn' | 'error'>> = {
  UNAUTHENTICATED: 'warn',
  FORBIDDEN: 'warn',
  SUBSCRIPTION_DENIED: 'warn',
  BAD_USER_INPUT: 'info',
  NOT_FOUND: 'info',
  RATE_LIMITED: 'warn',
  LIMIT_EXCEEDED: 'warn',
  PAYLOAD_TOO_LARGE: 'warn',
  TIMEOUT: 'warn',
  NO_PROVIDER: 'warn',
  UNAVAILABLE: 'error',
  INTERNAL: 'error',
};

/**
 * The one masking function (DESIGN.md decision 6). AppErrors keep their message and code;
 * GraphQL's own syntax and validation errors become BAD_USER_INPUT; an unreachable database is
 * UNAVAILABLE (HTTP 503, Retry-After); everything else reaches the
 * client as INTERNAL with a correlation id, and the log gets the stack under that id. Every error
 * is logged here, once, at the level of its code (yoga's own log of masked errors is left out:
 * createYogaLogging). `isDatabaseUnavailable` comes from the composition root: only the database
 * layer knows its drivers' errors.
 */
export function createErrorMasker(
  log: Logger,
  isDatabaseUnavailable: (error: unknown) => boolean,
  /** Counts a refusal by the limit's name (limit_refusals_total): yoga's 413 is one. */
  onRefused: (limit: string) => void = () => undefined,
) {
  const logByCode = (code: ErrorCode, message: string, path: unknown) =>
    log[LOG_LEVEL_BY_CODE[code]]({ code, path }, message);
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
      logByCode(cause.code, message, graphqlError?.path);
      return new GraphQLError(message, {
        ...location,
        originalError: cause,
        // An AppError is the API's answer, not a crash: without an `http` extension yoga would
        // count it as unexpected and answer an SSE subscription refused at subscribe time with 500.
        extensions: { ...cause.extensions, http: { spec: true, ...http.http } },
      });
    }
    if (cause instanceof GraphQLError) {
      // Made by graphql-js or yoga about the request itself: syntax, validation, bad HTTP.
      const code = cause.extensions.code;
      if (graphqlError && typeof code === 'string' && code in ERROR_CODES) {
        logByCode(code as ErrorCode, graphqlError.message, graphqlError.path);
        return graphqlError;
      }
      // Yoga's own answer to a body over maxRequestBodySize (MAX_PAYLOAD_BYTES).
      if (code === 'REQUEST_ENTITY_TOO_LARGE') {
        onRefused('MAX_PAYLOAD_BYTES');
        logByCode(ERROR_CODES.PAYLOAD_TOO_LARGE, cause.message, undefined);
        return new GraphQLError('the request body is larger than MAX_PAYLOAD_BYTES allows', {
          extensions: { ...cause.extensions, code: ERROR_CODES.PAYLOAD_TOO_LARGE },
        });
      }
      logByCode(ERROR_CODES.BAD_USER_INPUT, graphqlError?.message ?? cause.message, graphqlError?.path);
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

/**
 * yoga's logger over ours. yoga logs every error the masker replaced, and some twice; the masker
 * has logged each once already, at its level, so yoga's copies of them go to debug.
 */
export function createYogaLogging(log: Logger) {
  const text = (args: unknown[]) => args.map(String).join(' ');
  return {
    debug: (...args: unknown[]) => log.debug(text(args)),
    info: (...args: unknown[]) => log.info(text(args)),
    warn: (...args: unknown[]) => log.warn(text(args)),
    error: (...args: unknown[]) => {
      if (args.length > 0 && args.every((arg) => arg instanceof Error)) log.debug(text(args));
      else log.error(text(args));
    },
  };
}
