/** The caller, as its token names it. */
export interface Viewer {
  readonly userId: string;
  readonly tenantId: string | null;
  readonly roles: readonly string[];
  /**
   * Epoch ms at which the token stops being valid (its `exp`); long-lived connections end then
   * (docs/auth.md). Absent for identities that do not come from a token.
   */
  readonly expiresAt?: number;
}

/**
 * The tenant an operation acts in: the token's tenant, or null when there is none (dev mode, a
 * single-tenant deployment). Objects record it at creation; another tenant's object is NOT_FOUND.
 */
export function tenantOf(viewer: Viewer | null): string | null {
  return viewer?.tenantId ?? null;
}

/**
 * The value of the `tenantId` key column for a tenant: objects are keyed by (tenant, id), and
 * the default tenant (no tenant) is "" there, which no tenant name can be.
 */
export function tenantKey(tenant: string | null): string {
  return tenant ?? '';
}

/** The tenant a `tenantId` key column names (the inverse of tenantKey). */
export function tenantOfKey(key: string): string | null {
  return key === '' ? null : key;
}

/**
 * One string for (tenant, id), as a map key of in-memory tables of tenant-scoped objects: a
 * tenant name holds no white space, so "\n" parts them, and the default tenant is "".
 */
export function scopedKey(tenant: string | null, id: string): string {
  return `${tenantKey(tenant)}\n${id}`;
}

/** True when the viewer holds at least one of `roles` (an empty list needs none). */
export function hasAnyRole(viewer: Viewer, roles: readonly string[]): boolean {
  return roles.length === 0 || roles.some((role) => viewer.roles.includes(role));
}
