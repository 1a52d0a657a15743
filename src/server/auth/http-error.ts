import { GraphQLError } from 'graphql';
import { type AppError, ERROR_CODES } from '../../errors.ts';

// What an HTTP response says for the auth failures; yoga reads `extensions.http` and strips it.
const HTTP_STATUS: Partial<Record<AppError['code'], number>> = {
  [ERROR_CODES.BAD_USER_INPUT]: 400,
  [ERROR_CODES.UNAUTHENTICATED]: 401,
  [ERROR_CODES.FORBIDDEN]: 403,
  [ERROR_CODES.UNAVAILABLE]: 503,
  [ERROR_CODES.LIMIT_EXCEEDED]: 429,
  [ERROR_CODES.RATE_LIMITED]: 429,
  [ERROR_CODES.PAYLOAD_TOO_LARGE]: 413,
};

/**
 * Seconds a client is told to wait (`Retry-After`) when a dependency (database, broker, JWKS) is
 * down: long enough not to hammer it while it restarts, short enough to notice it is back.
 */
export const RETRY_AFTER_SECONDS = 5;

/**
 * A request-level AppError as a GraphQLError that makes yoga answer with the matching HTTP status
 * (401 with `WWW-Authenticate: Bearer` per RFC 6750, 403, 429, 503 with `Retry-After`) when the
 * client accepts `application/graphql-response+json`; the code and message stay.
 */
export function withHttpStatus(error: AppError): GraphQLError {
  const status = HTTP_STATUS[error.code];
  const headers: Record<string, string> =
    status === 401
      ? {
          'WWW-Authenticate': `Bearer realm="streamgate"${'reason' in error && error.reason === 'INVALID_TOKEN' ? ', error="invalid_token"' : ''}`,
        }
      : status === 503
        ? { 'Retry-After': String(RETRY_AFTER_SECONDS) }
        : {};
  return new GraphQLError(error.message, {
    originalError: error,
    // `spec`: yoga applies the status to application/graphql-response+json only; application/json
    // and SSE answer 200 with the error, as the GraphQL-over-HTTP spec asks (docs/clients.md).
    extensions: { ...error.extensions, ...(status ? { http: { status, headers, spec: true } } : {}) },
  });
}
