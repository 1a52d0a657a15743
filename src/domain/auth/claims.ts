import type { JWTPayload } from 'jose';
import { tenantNameProblem } from '../../config/subject-syntax.ts';
import type { Viewer } from '../viewer.ts';
import { invalidToken } from './token-error.ts';

/** Where the Viewer's fields come from in a token's claims (AuthConfig). */
export interface ClaimNames {
  /** Dotted path, e.g. "tenant_id" or "org.tenant". */
  readonly tenantClaim: string;
  /** Dotted paths whose roles are united, e.g. ["roles", "realm_access.roles"]. */
  readonly rolesClaims: readonly string[];
}

/** The Viewer named by verified claims; a missing or non-string `sub` is INVALID_TOKEN. */
export function viewerFromClaims(payload: JWTPayload, names: ClaimNames): Viewer {
  const { sub } = payload;
  if (typeof sub !== 'string' || sub === '') throw invalidToken('token has no "sub" claim');
  const tenant = readPath(payload, names.tenantClaim);
  const tenantId =
    typeof tenant === 'string' && tenant !== '' ? tenant : typeof tenant === 'number' ? String(tenant) : null;
  // A tenant's objects live under the subjects `tenant.{tenant}.…`: a name that is not one
  // token would reach into other subjects (a dot, a wildcard), so the token is refused.
  const problem = tenantId === null ? undefined : tenantNameProblem(tenantId);
  if (problem !== undefined) throw invalidToken(`token has an invalid tenant claim: ${problem}`);
  const roles = new Set<string>();
  for (const path of names.rolesClaims) {
    for (const role of rolesIn(readPath(payload, path))) roles.add(role);
  }
  return {
    userId: sub,
    tenantId,
    roles: [...roles],
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
  };
}

/** Roles as a list of strings, or one string of space- or comma-separated roles (scope style). */
function rolesIn(value: unknown): string[] {
  if (Array.isArray(value))
    return value.filter((role): role is string => typeof role === 'string' && role !== '');
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((role) => role !== '');
  return [];
}

/** Reads own properties along a dotted path; anything else is undefined. */
function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const segment of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
