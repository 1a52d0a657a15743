import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/**
 * Tokens for tests of any domain: `authEnv()` configures an app for HS256 tokens and
 * `signToken({ sub, tenantId, roles })` makes one it accepts; `startJwksServer()` does the same
 * for RS/ES tokens with a JWKS served on loopback.
 *
 *   const server = await startTestApp({ env: authEnv() });
 *   const token = await signToken({ sub: 'alice', tenantId: 'tenant-a', roles: ['writer'] });
 *   await server.graphql('{ viewer { userId } }', {}, { token });
 */

/** The HS256 secret of authEnv() (at least 32 bytes, as JWT_SECRET must be). */
export const TEST_JWT_SECRET = 'streamgate-test-secret-0123456789abcdef';
export const TEST_ISSUER = 'https://issuer.streamgate.test/';
export const TEST_AUDIENCE = 'streamgate';

/** Environment for an app that accepts signToken()'s tokens; `extra` adds or overrides variables. */
export function authEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { JWT_SECRET: TEST_JWT_SECRET, JWT_ISSUER: TEST_ISSUER, JWT_AUDIENCE: TEST_AUDIENCE, ...extra };
}

export interface TokenOptions {
  /** @default "alice" */
  readonly sub?: string | null;
  /** The tenant_id claim; null leaves it out. @default "tenant-a" */
  readonly tenantId?: string | null;
  /** @default [] */
  readonly roles?: readonly string[];
  /** Seconds from now (negative for an expired token) or a jose time span ("1h"). @default "1h" */
  readonly expiresIn?: number | string | null;
  /** Seconds from now before which the token is not valid. */
  readonly notBefore?: number;
  /** `iat` in seconds from now (positive: issued in the future). @default 0 */
  readonly issuedAt?: number;
  /** @default TEST_ISSUER; null leaves `iss` out */
  readonly issuer?: string | null;
  /** @default TEST_AUDIENCE; null leaves `aud` out */
  readonly audience?: string | readonly string[] | null;
  /** More claims (e.g. realm_access), merged over the above. */
  readonly claims?: Record<string, unknown>;
  /** HMAC secret. @default TEST_JWT_SECRET */
  readonly secret?: string;
  /** @default "HS256" */
  readonly alg?: 'HS256' | 'HS384' | 'HS512';
}

/** An HS-signed token that an app configured with authEnv() accepts (unless told otherwise). */
export function signToken(options: TokenOptions = {}): Promise<string> {
  const alg = options.alg ?? 'HS256';
  return buildJwt(options)
    .setProtectedHeader({ alg, typ: 'JWT' })
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** A token with `alg: none` and no signature, which must always be refused. */
export function unsignedToken(options: TokenOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
  const payload = base64url.encode(JSON.stringify({ ...claimsOf(options), iat: now, exp: now + 3600 }));
  return `${header}.${payload}.`;
}

/** A syntactically valid HS256 token of about `bytes` bytes (padded with a large claim). */
export function oversizedToken(bytes: number, options: TokenOptions = {}): Promise<string> {
  return signToken({ ...options, claims: { ...options.claims, padding: 'x'.repeat(bytes) } });
}

function claimsOf(options: TokenOptions): Record<string, unknown> {
  const claims: Record<string, unknown> = { roles: [...(options.roles ?? [])] };
  const sub = options.sub === undefined ? 'alice' : options.sub;
  if (sub !== null) claims.sub = sub;
  const tenantId = options.tenantId === undefined ? 'tenant-a' : options.tenantId;
  if (tenantId !== null) claims.tenant_id = tenantId;
  const issuer = options.issuer === undefined ? TEST_ISSUER : options.issuer;
  if (issuer !== null) claims.iss = issuer;
  const audience = options.audience === undefined ? TEST_AUDIENCE : options.audience;
  if (audience !== null) claims.aud = typeof audience === 'string' ? audience : [...audience];
  return { ...claims, ...options.claims };
}

function buildJwt(options: TokenOptions): SignJWT {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claimsOf(options)).setIssuedAt(now + (options.issuedAt ?? 0));
  const expiresIn = options.expiresIn === undefined ? '1h' : options.expiresIn;
  if (typeof expiresIn === 'number') jwt.setExpirationTime(now + expiresIn);
  else if (typeof expiresIn === 'string') jwt.setExpirationTime(expiresIn);
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  return jwt;
}

/** A JWKS endpoint on loopback with one signing key, for RS256 / ES256 / EdDSA tokens. */
export interface JwksServer {
  /** http://127.0.0.1:PORT/.well-known/jwks.json */
  readonly url: string;
  /** How many times the JWKS was fetched. */
  readonly fetches: number;
  /** Environment for an app that trusts this JWKS (issuer and audience as signToken's). */
  env(extra?: Record<string, string>): Record<string, string>;
  /** A token signed with the current key (kid set). */
  signToken(options?: Omit<TokenOptions, 'secret' | 'alg'>): Promise<string>;
  /** A token signed with a key that is not (yet) in the JWKS, under a new kid. */
  signWithUnknownKey(
    options?: Omit<TokenOptions, 'secret' | 'alg'>,
  ): Promise<{ token: string; publish(): void }>;
  /** A token under the current kid but signed with another key: its signature is invalid. */
  signForged(options?: Omit<TokenOptions, 'secret' | 'alg'>): Promise<string>;
  stop(): Promise<void>;
}

type JwksAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function newSigningKey(alg: JwksAlgorithm, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** Starts a JWKS server; `alg` picks the key type. @default "RS256" */
export async function startJwksServer(options: { alg?: JwksAlgorithm } = {}): Promise<JwksServer> {
  const alg = options.alg ?? 'RS256';
  const published: SigningKey[] = [await newSigningKey(alg, 'key-1')];
  let fetches = 0;
  const server: Server = createServer((request, response) => {
    if (request.url !== '/.well-known/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    fetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: published.map((key) => key.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/.well-known/jwks.json`;
  const sign = (key: SigningKey, tokenOptions: Omit<TokenOptions, 'secret' | 'alg'>) =>
    buildJwt(tokenOptions).setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
  let next = 2;
  return {
    url,
    get fetches() {
      return fetches;
    },
    env: (extra = {}) => ({
      JWT_JWKS_URL: url,
      JWT_ISSUER: TEST_ISSUER,
      JWT_AUDIENCE: TEST_AUDIENCE,
      ...extra,
    }),
    signToken: (tokenOptions = {}) => sign(published[published.length - 1] as SigningKey, tokenOptions),
    async signWithUnknownKey(tokenOptions = {}) {
      const key = await newSigningKey(alg, `key-${next++}`);
      return { token: await sign(key, tokenOptions), publish: () => published.push(key) };
    },
    async signForged(tokenOptions = {}) {
      const current = published[published.length - 1] as SigningKey;
      const impostor = await newSigningKey(alg, current.kid);
      return sign(impostor, tokenOptions);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
