import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { UnavailableError } from '../../errors.ts';
import type { Viewer } from '../viewer.ts';
import { type ClaimNames, viewerFromClaims } from './claims.ts';
import { invalidToken } from './token-error.ts';
import { VerifiedTokens } from './verified-tokens.ts';

/** What verification needs: a key source and the claims to check. */
export interface TokenVerifierOptions extends ClaimNames {
  /** An HMAC secret, or a JWKS URL whose keys are fetched, cached and refetched on an unknown kid. */
  readonly key:
    | { readonly secret: string }
    | { readonly jwksUrl: string; readonly cacheMaxAgeMs: number; readonly cooldownMs: number };
  readonly algorithms: readonly string[];
  readonly issuer?: string | undefined;
  readonly audience?: readonly string[];
  readonly clockSkewMs: number;
  readonly maxTokenBytes: number;
}

/** Verifies a token and names its Viewer; throws TokenError (or UnavailableError when the JWKS cannot be fetched). */
export type TokenVerifier = (token: string) => Promise<Viewer>;

// Compact JWS: three base64url parts. Checked before jose so the message can say "malformed".
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The WebCrypto hash of each HMAC algorithm a shared secret may sign with. */
const HMAC_HASHES: Readonly<Record<string, string>> = {
  HS256: 'SHA-256',
  HS384: 'SHA-384',
  HS512: 'SHA-512',
};

/**
 * A shared secret as a key source that imports it once per HMAC algorithm. Given the raw bytes,
 * jose imports them with WebCrypto on every verification: a thread-pool round trip and ~50–100 µs
 * of CPU on each authenticated request (a publish, a socket's connection_init). Any other
 * algorithm (one JWT_ALGORITHMS lets through by mistake) gets the raw bytes, which jose refuses
 * as before.
 */
function hmacKeySource(secret: string): JWTVerifyGetKey {
  const bytes = new TextEncoder().encode(secret);
  const imported = new Map<string, Promise<CryptoKey>>();
  return (header) => {
    const hash = HMAC_HASHES[header.alg ?? ''];
    if (hash === undefined) return bytes;
    let key = imported.get(hash);
    if (!key) {
      key = crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash }, false, ['verify']);
      imported.set(hash, key);
    }
    return key;
  };
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const key: JWTVerifyGetKey =
    'secret' in options.key
      ? hmacKeySource(options.key.secret)
      : createRemoteJWKSet(new URL(options.key.jwksUrl), {
          cacheMaxAge: options.key.cacheMaxAgeMs,
          cooldownDuration: options.key.cooldownMs,
        });
  const verifyOptions = {
    algorithms: [...options.algorithms],
    clockTolerance: Math.round(options.clockSkewMs / 1000),
    requiredClaims: ['sub', 'exp'],
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.audience && options.audience.length > 0 ? { audience: [...options.audience] } : {}),
  };

  // Under a shared secret a token that verified once is not verified again while its time
  // checks would still pass (verified-tokens.ts); a JWKS's keys change, so never for one.
  const verified =
    'secret' in options.key
      ? new VerifiedTokens(verifyOptions.clockTolerance, options.clockSkewMs)
      : undefined;

  return async function verifyToken(token) {
    const known = verified?.get(token);
    if (known !== undefined) return known;
    if (Buffer.byteLength(token) > options.maxTokenBytes) {
      throw invalidToken(`token is longer than ${options.maxTokenBytes} bytes`);
    }
    if (!COMPACT_JWS.test(token))
      throw invalidToken('token is malformed: expected a compact JWT (three base64url parts)');
    let payload: JWTPayload;
    try {
      payload = (await jwtVerify(token, key, verifyOptions)).payload;
    } catch (error) {
      throw describeFailure(error, token);
    }
    // jose checks `iat` only against a maximum token age, which we do not set: a token minted
    // ahead of our clock by more than the skew is refused here, as `nbf` would be.
    if (typeof payload.iat === 'number' && payload.iat * 1000 > Date.now() + options.clockSkewMs) {
      throw invalidToken(`token is issued in the future (${isoOf(payload.iat)})`);
    }
    const viewer = viewerFromClaims(payload, options);
    verified?.set(token, payload, viewer);
    return viewer;
  };
}

/** A jose failure as the error a client sees; the token itself never goes into a message. */
function describeFailure(error: unknown, token: string): Error {
  if (error instanceof errors.JWTExpired) {
    return invalidToken(`token expired at ${isoOf(error.payload.exp)}`, error);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return invalidToken(`token is not valid before ${isoOf(error.payload.nbf)}`, error);
      case 'iat':
        return invalidToken(`token claim "iat" is invalid`, error);
      case 'iss':
        return invalidToken('token has the wrong issuer', error);
      case 'aud':
        return invalidToken('token has the wrong audience', error);
      default:
        return error.reason === 'missing'
          ? invalidToken(`token has no "${error.claim}" claim`, error)
          : invalidToken(`token claim "${error.claim}" is invalid`, error);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return invalidToken('token signature is invalid', error);
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return invalidToken(`token algorithm ${algorithmOf(token)} is not accepted`, error);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return invalidToken('no key of the JWKS matches the token (kid or algorithm)', error);
  }
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || isFetchFailure(error)) {
    return new UnavailableError('the signing keys (JWT_JWKS_URL) could not be fetched', { cause: error });
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSEError
  ) {
    return invalidToken('token is malformed', error);
  }
  // jose's claim parser throws TypeErrors such as '"sub" claim must be a string'.
  if (error instanceof TypeError) return invalidToken('token claims are malformed', error);
  return invalidToken('token is invalid', error);
}

function isoOf(seconds: unknown): string {
  return typeof seconds === 'number' && Number.isFinite(seconds)
    ? new Date(seconds * 1000).toISOString()
    : 'an invalid time';
}

/** The header's alg, quoted and cut short: it comes from the client. */
function algorithmOf(token: string): string {
  try {
    const { alg } = decodeProtectedHeader(token);
    return typeof alg === 'string' ? JSON.stringify(alg.slice(0, 16)) : '(none)';
  } catch {
    return '(unreadable)';
  }
}

/** The JWKS host is unreachable (fetch's TypeError), answered non-200, or sent no JSON. */
function isFetchFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof TypeError) return error.message === 'fetch failed';
  return (
    error.name === 'AbortError' ||
    (error instanceof errors.JOSEError &&
      error.code === 'ERR_JOSE_GENERIC' &&
      /JSON Web Key Set HTTP response/.test(error.message))
  );
}
