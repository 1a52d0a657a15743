import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { AuthConfig, AuthMode } from '../../config/auth.ts';
import type { Viewer } from '../viewer.ts';
import { missingToken } from './token-error.ts';
import { createTokenVerifier, type TokenVerifier } from './token-verifier.ts';

/** Lifetime of the token printed in dev mode. */
const DEV_TOKEN_LIFETIME_S = 24 * 60 * 60;

/**
 * Identity for every transport (docs/auth.md). The transports take the token from where their
 * protocol carries it (src/server/auth/token-source.ts) and ask this service who it names.
 */
export interface AuthService {
  readonly mode: AuthMode;
  /**
   * True when a caller without a token may use every operation (dev mode, AUTH_DISABLED); false
   * when only the public operations (`health`, `serverTime`, `viewer`) are open to it.
   */
  readonly anonymousAllowed: boolean;
  /**
   * For connection-oriented transports (legacy WebSocket and SSE): the Viewer of the token.
   * Without a token: MISSING_TOKEN when auth is configured, null in dev mode and with
   * AUTH_DISABLED. A bad token is always a TokenError (INVALID_TOKEN), except with AUTH_DISABLED
   * where tokens are ignored and the result is null.
   */
  authenticate(token: string | undefined): Promise<Viewer | null>;
  /**
   * For GraphQL operations: like `authenticate`, but a missing token is null in every mode, since
   * the public operations need none; the guard refuses the others centrally.
   */
  identify(token: string | undefined): Promise<Viewer | null>;
  /** Roles of which a caller needs one for this mutation; empty when any authenticated caller may. */
  rolesFor(mutation: string): readonly string[];
  /** In dev mode, a token for user "dev" with every role the config names; else undefined. */
  readonly devToken: string | undefined;
}

/** Builds the auth service of one process; in dev mode it signs with a random per-process secret. */
export async function createAuthService(
  config: AuthConfig,
  options: { extraRoles?: readonly string[] } = {},
): Promise<AuthService> {
  let verify: TokenVerifier | undefined;
  let devToken: string | undefined;
  const claimNames = { tenantClaim: config.tenantClaim, rolesClaims: config.rolesClaims };
  if (config.mode === 'jwt') {
    verify = createTokenVerifier({
      ...claimNames,
      key:
        config.secret !== undefined
          ? { secret: config.secret }
          : {
              jwksUrl: config.jwksUrl as string,
              cacheMaxAgeMs: config.jwksCacheMaxAgeMs,
              cooldownMs: config.jwksCooldownMs,
            },
      algorithms: config.algorithms,
      issuer: config.issuer,
      audience: config.audience,
      clockSkewMs: config.clockSkewMs,
      maxTokenBytes: config.maxTokenBytes,
    });
  } else if (config.mode === 'dev') {
    const secret = randomBytes(32).toString('base64url');
    verify = createTokenVerifier({
      ...claimNames,
      key: { secret },
      algorithms: ['HS256'],
      clockSkewMs: config.clockSkewMs,
      maxTokenBytes: config.maxTokenBytes,
    });
    const roles = new Set([...Object.values(config.mutationRoles).flat(), ...(options.extraRoles ?? [])]);
    devToken = await new SignJWT(claimAt(config.rolesClaims[0] ?? 'roles', [...roles].sort()))
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('dev')
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + DEV_TOKEN_LIFETIME_S)
      .sign(new TextEncoder().encode(secret));
  }

  const identify = async (token: string | undefined): Promise<Viewer | null> => {
    if (!verify || token === undefined) return null;
    return verify(token);
  };

  return {
    mode: config.mode,
    anonymousAllowed: config.mode !== 'jwt',
    devToken,
    identify,
    async authenticate(token) {
      if (config.mode === 'jwt' && token === undefined) throw missingToken('this connection');
      return identify(token);
    },
    rolesFor: (mutation) => config.mutationRoles[mutation] ?? [],
  };
}

/** `{a: {b: value}}` for the dotted path "a.b": the dev token carries its roles where the config reads them. */
function claimAt(path: string, value: unknown): Record<string, unknown> {
  let claim: unknown = value;
  for (const segment of path.split('.').reverse()) claim = { [segment]: claim };
  return claim as Record<string, unknown>;
}
