import { UnauthenticatedError } from '../../errors.ts';

/**
 * Why a token was refused, in the words of the legacy 254Carbon protocol (legacy.md D), so the
 * legacy adapters can answer `{"error": reason}` without parsing messages.
 */
export const TOKEN_ERROR_REASONS = {
  MISSING_TOKEN: 'MISSING_TOKEN',
  INVALID_TOKEN: 'INVALID_TOKEN',
} as const;
export type TokenErrorReason = (typeof TOKEN_ERROR_REASONS)[keyof typeof TOKEN_ERROR_REASONS];

/**
 * UNAUTHENTICATED because of the token: the message says what is wrong (missing, malformed, bad
 * signature, expired, ...) and never contains the token. `extensions.reason` carries the reason.
 */
export class TokenError extends UnauthenticatedError {
  readonly reason: TokenErrorReason;
  constructor(reason: TokenErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, { cause: options?.cause, details: { reason } });
    this.reason = reason;
  }
}

/** A TokenError for a request that carried no token. */
export function missingToken(what = 'this operation'): TokenError {
  return new TokenError(TOKEN_ERROR_REASONS.MISSING_TOKEN, `a token is required for ${what}`);
}

export function invalidToken(message: string, cause?: unknown): TokenError {
  return new TokenError(TOKEN_ERROR_REASONS.INVALID_TOKEN, message, { cause });
}
