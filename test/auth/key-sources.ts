import {
  authEnv,
  type JwksServer,
  oversizedToken,
  signToken,
  startJwksServer,
  type TokenOptions,
  unsignedToken,
} from '../helpers/tokens.ts';

/** One way an app gets its keys, with the means to sign good and bad tokens for it. */
export interface KeySource {
  readonly name: 'JWT_SECRET (HS256)' | 'JWT_JWKS_URL (RS256)';
  readonly env: Record<string, string>;
  /** A token this app accepts. */
  sign(options?: TokenOptions): Promise<string>;
  /** A token under the right key id but signed with another key. */
  forged(): Promise<string>;
  /** A token of the other key family: RS-signed for a secret, HS-signed for a JWKS. */
  otherFamily(): Promise<string>;
  stop(): Promise<void>;
}

export async function hmacKeySource(): Promise<KeySource> {
  const jwks = await startJwksServer();
  return {
    name: 'JWT_SECRET (HS256)',
    env: authEnv(),
    sign: (options) => signToken(options),
    forged: () => signToken({ secret: 'another-secret-that-is-long-enough-0123456789' }),
    otherFamily: () => jwks.signToken(),
    stop: () => jwks.stop(),
  };
}

export async function jwksKeySource(
  extraEnv: Record<string, string> = {},
): Promise<KeySource & { jwks: JwksServer }> {
  const jwks = await startJwksServer();
  return {
    name: 'JWT_JWKS_URL (RS256)',
    jwks,
    env: jwks.env(extraEnv),
    sign: (options) => jwks.signToken(options),
    forged: () => jwks.signForged(),
    otherFamily: () => signToken(),
    stop: () => jwks.stop(),
  };
}

/**
 * Every token the security suite tries on every transport, with what the refusal must say
 * (UNAUTHENTICATED, reason INVALID_TOKEN). `alg` names the other family's algorithm.
 */
export const BAD_TOKENS: ReadonlyArray<
  readonly [string, (source: KeySource) => Promise<string>, (source: KeySource) => RegExp]
> = [
  ['a malformed token', async () => 'not-a-jwt', () => /^token is malformed/],
  ['a token of three garbage parts', async () => 'abc.def.ghi', () => /^token is malformed/],
  ['a wrong signature', (source) => source.forged(), () => /^token signature is invalid$/],
  ['alg: none', async () => unsignedToken(), () => /^token algorithm "none" is not accepted$/],
  [
    'a token of the other key family (HS against a JWKS, RS against a secret)',
    (source) => source.otherFamily(),
    (source) =>
      source.name.startsWith('JWT_JWKS')
        ? /^token algorithm "HS256" is not accepted$/
        : /^token algorithm "RS256" is not accepted$/,
  ],
  [
    'an expired token',
    (source) => source.sign({ expiresIn: -120 }),
    () => /^token expired at \d{4}-\d\d-\d\dT/,
  ],
  [
    'a not-yet-valid token',
    (source) => source.sign({ notBefore: 600 }),
    () => /^token is not valid before \d{4}-/,
  ],
  [
    'a token issued in the future (beyond JWT_CLOCK_SKEW)',
    (source) => source.sign({ issuedAt: 600 }),
    () => /^token is issued in the future \(\d{4}-/,
  ],
  [
    'a wrong issuer',
    (source) => source.sign({ issuer: 'https://evil.example/' }),
    () => /^token has the wrong issuer$/,
  ],
  [
    'a wrong audience',
    (source) => source.sign({ audience: 'someone-else' }),
    () => /^token has the wrong audience$/,
  ],
  ['a token without sub', (source) => source.sign({ sub: null }), () => /^token has no "sub" claim$/],
  ['a token without exp', (source) => source.sign({ expiresIn: null }), () => /^token has no "exp" claim$/],
  // A tenant is one token of its objects' subjects (tenant.{tenant}.…): no dots or wildcards.
  [
    'a tenant with a dot (reaching into other subjects)',
    (source) => source.sign({ tenantId: 'acme.processor' }),
    () =>
      /^token has an invalid tenant claim: it may not contain "\.", "\*", ">", white space or control characters$/,
  ],
  [
    'a tenant that is a wildcard',
    (source) => source.sign({ tenantId: '>' }),
    () => /^token has an invalid tenant claim: it may not contain/,
  ],
  ['a 100 KB token', () => oversizedToken(100 * 1024), () => /^token is longer than 8192 bytes$/],
];
