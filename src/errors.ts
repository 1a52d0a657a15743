/**
 * The one error tree of streamgate (DESIGN.md decision 6). Every failure a client may see is an
 * AppError with a code from ERROR_CODES; anything else is internal and reaches the client masked
 * as INTERNAL with a correlation id.
 */

export const ERROR_CODES = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  SUBSCRIPTION_DENIED: 'SUBSCRIPTION_DENIED',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  RATE_LIMITED: 'RATE_LIMITED',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  TIMEOUT: 'TIMEOUT',
  NO_PROVIDER: 'NO_PROVIDER',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** Base of every error whose message is safe to show to a client. */
export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts for the client, e.g. the index of a bad entry. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details;
  }

  /**
   * What a GraphQL error built from this one carries. graphql-js copies `extensions` from an
   * original error, so argument and variable coercion failures keep their code this way.
   */
  get extensions(): Record<string, unknown> {
    return { code: this.code, ...this.details };
  }
}

type ErrorOptions = { cause?: unknown; details?: Record<string, unknown> };

export class UnauthenticatedError extends AppError {
  constructor(message = 'a valid token is required', options?: ErrorOptions) {
    super(ERROR_CODES.UNAUTHENTICATED, message, options);
  }
}
export class ForbiddenError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.FORBIDDEN, message, options);
  }
}
export class SubscriptionDeniedError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.SUBSCRIPTION_DENIED, message, options);
  }
}
export class BadUserInputError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.BAD_USER_INPUT, message, options);
  }
}
export class NotFoundError extends AppError {
  constructor(what: string, id: string, options?: ErrorOptions) {
    super(ERROR_CODES.NOT_FOUND, `${what} "${id}" not found`, options);
  }
}
export class RateLimitedError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.RATE_LIMITED, message, options);
  }
}
export class LimitExceededError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.LIMIT_EXCEEDED, message, options);
  }
}
export class PayloadTooLargeError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.PAYLOAD_TOO_LARGE, message, options);
  }
}
export class TimeoutError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.TIMEOUT, message, options);
  }
}
export class NoProviderError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.NO_PROVIDER, message, options);
  }
}
export class UnavailableError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ERROR_CODES.UNAVAILABLE, message, options);
  }
}

/**
 * Base of streamgate's own failures (start-up, migrations, broker set-up, the command line): never
 * an API error: a client sees INTERNAL with a correlation id; the log (or the CLI's stderr) gets the
 * message and the cause. ConfigError alone stays outside (src/config imports nothing of the project).
 */
export class ServerFault extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** The message of anything thrown, to name a cause in another error, a log line or stderr. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** True when the error is one whose message may be shown to a client. */
export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
