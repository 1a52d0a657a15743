import type { EnvReader } from './env-reader.ts';

/**
 * How callers are identified (docs/auth.md):
 * - `jwt`: JWT_SECRET or JWT_JWKS_URL is set; every operation but the public ones needs a token.
 * - `dev`: nothing set; loopback only, anonymous callers allowed, a dev token is printed at start-up.
 * - `disabled`: AUTH_DISABLED=true; nobody is identified, tokens are ignored.
 */
export const AUTH_MODES = ['jwt', 'dev', 'disabled'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/**
 * The roles a mutation needs (one of them), by mutation field name. A mutation not listed needs
 * only an authenticated caller. MUTATION_ROLES entries replace these defaults one by one.
 */
export const DEFAULT_MUTATION_ROLES: Readonly<Record<string, readonly string[]>> = {
  createState: ['writer'],
  publishStateEntries: ['writer'],
  setRoute: ['admin'],
  deleteRoute: ['admin'],
  ingest: ['writer'],
  setBufferWindow: ['writer'],
  startRecording: ['writer'],
  stopRecording: ['writer'],
  deleteRecording: ['writer'],
  importRecording: ['writer'],
  appendRecordingMessages: ['writer'],
};

/** Identity: token verification and the claims that make a Viewer. */
export interface AuthConfig {
  /** Derived from JWT_SECRET / JWT_JWKS_URL / AUTH_DISABLED. */
  readonly mode: AuthMode;
  /** HMAC secret, at least 32 bytes. (JWT_SECRET) */
  readonly secret: string | undefined;
  /** JWKS of the identity provider, for RS/PS/ES/EdDSA tokens. (JWT_JWKS_URL) */
  readonly jwksUrl: string | undefined;
  /** Required `iss` when set. (JWT_ISSUER) */
  readonly issuer: string | undefined;
  /** Accepted `aud` values when set (comma-separated; one must match). (JWT_AUDIENCE) */
  readonly audience: readonly string[];
  /** Tolerance on `exp`, `nbf` and an `iat` in the future. @default 30s (JWT_CLOCK_SKEW) */
  readonly clockSkewMs: number;
  /** Accepted `alg` values. @default HS256,HS384,HS512 with a secret; RS/PS/ES/EdDSA with a JWKS (JWT_ALGORITHMS) */
  readonly algorithms: readonly string[];
  /** Claim (dotted path) holding the tenant. @default "tenant_id" (JWT_TENANT_CLAIM) */
  readonly tenantClaim: string;
  /** Claims (dotted paths) whose roles are united. @default ["roles", "realm_access.roles"] (JWT_ROLES_CLAIMS) */
  readonly rolesClaims: readonly string[];
  /** How long fetched JWKS keys are trusted. @default 10m (JWT_JWKS_CACHE_MAX_AGE) */
  readonly jwksCacheMaxAgeMs: number;
  /** Least time between two JWKS fetches triggered by an unknown `kid`. @default 30s (JWT_JWKS_COOLDOWN) */
  readonly jwksCooldownMs: number;
  /** Longest token accepted; longer ones are refused before any parsing. @default 8 KiB (JWT_MAX_TOKEN_BYTES) */
  readonly maxTokenBytes: number;
  /** Roles of which a caller needs one, by mutation name. @default DEFAULT_MUTATION_ROLES (MUTATION_ROLES) */
  readonly mutationRoles: Readonly<Record<string, readonly string[]>>;
}

const MIN_SECRET_BYTES = 32;

/** True for 127.0.0.0/8, ::1 and localhost: the addresses dev mode may bind. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare) || bare === '::ffff:127.0.0.1'
  );
}

/** Reads the auth section; `host` is the HOST already read, for the dev-mode loopback rule. */
export function readAuthConfig(read: EnvReader, host: string): AuthConfig {
  const secret = read.optionalString('JWT_SECRET');
  const jwksUrl = read.url('JWT_JWKS_URL', ['https', 'http']);
  const disabled = read.boolean('AUTH_DISABLED', false);
  const mode: AuthMode =
    secret !== undefined || jwksUrl !== undefined ? 'jwt' : disabled ? 'disabled' : 'dev';

  if (secret !== undefined && read.raw('JWT_JWKS_URL') !== undefined) {
    read.report(
      'JWT_JWKS_URL',
      read.raw('JWT_JWKS_URL') ?? '',
      'unset when JWT_SECRET is set (one key source only)',
    );
  }
  if (secret !== undefined && Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    // The secret itself is never printed, only its length.
    read.report('JWT_SECRET', `(${Buffer.byteLength(secret)} bytes)`, `at least ${MIN_SECRET_BYTES} bytes`);
  }
  if (disabled && mode === 'jwt') {
    read.report('AUTH_DISABLED', 'true', 'unset or false when JWT_SECRET or JWT_JWKS_URL is set');
  }
  if (mode === 'dev' && !isLoopbackHost(host)) {
    read.report(
      'HOST',
      host,
      'a loopback address (127.0.0.1, ::1, localhost) without auth: set JWT_SECRET or JWT_JWKS_URL, or AUTH_DISABLED=true to serve without identity',
    );
  }

  const allowed: readonly string[] = jwksUrl !== undefined ? ASYMMETRIC_ALGORITHMS : HMAC_ALGORITHMS;
  const algorithms = read.list('JWT_ALGORITHMS', allowed);
  const refused = algorithms.filter((algorithm) => !allowed.includes(algorithm));
  if (refused.length > 0) {
    read.report(
      'JWT_ALGORITHMS',
      read.raw('JWT_ALGORITHMS') ?? '',
      `a list of ${allowed.join(', ')} (${jwksUrl !== undefined ? 'JWT_JWKS_URL' : 'JWT_SECRET'} is set)`,
    );
  }

  return {
    mode,
    secret,
    jwksUrl,
    issuer: read.optionalString('JWT_ISSUER'),
    audience: read.list('JWT_AUDIENCE', []),
    clockSkewMs: read.duration('JWT_CLOCK_SKEW', 30_000),
    algorithms: refused.length > 0 ? allowed : algorithms,
    tenantClaim: read.string('JWT_TENANT_CLAIM', 'tenant_id'),
    rolesClaims: read.list('JWT_ROLES_CLAIMS', ['roles', 'realm_access.roles']),
    jwksCacheMaxAgeMs: read.duration('JWT_JWKS_CACHE_MAX_AGE', 10 * 60_000),
    jwksCooldownMs: read.duration('JWT_JWKS_COOLDOWN', 30_000),
    maxTokenBytes: read.bytes('JWT_MAX_TOKEN_BYTES', 8 * 1024),
    mutationRoles: readMutationRoles(read),
  };
}

/** MUTATION_ROLES="publishStateEntries=writer|admin;setRoute=admin;ingest=" (empty = no role). */
function readMutationRoles(read: EnvReader): Record<string, readonly string[]> {
  const roles: Record<string, readonly string[]> = { ...DEFAULT_MUTATION_ROLES };
  const value = read.raw('MUTATION_ROLES');
  if (value === undefined) return roles;
  for (const entry of value.split(';').map((part) => part.trim())) {
    if (entry === '') continue;
    const match = /^([_A-Za-z][_0-9A-Za-z]*)\s*=\s*(.*)$/.exec(entry);
    if (!match) {
      read.report(
        'MUTATION_ROLES',
        value,
        `entries "mutation=role|role" separated by ";" (bad entry ${JSON.stringify(entry)})`,
      );
      continue;
    }
    roles[match[1] as string] = (match[2] as string)
      .split('|')
      .map((role) => role.trim())
      .filter((role) => role !== '');
  }
  return roles;
}
