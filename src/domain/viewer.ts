/** The caller, as its token names it. */
export interface Viewer {
  readonly userId: string;
  readonly tenantId: string | null;
  readonly roles: readonly string[];
}

/**
 * The tenant an operation acts in: the token's tenant, or null when there is none (dev mode, a
 * single-tenant deployment). Objects record it at creation; another tenant's object is NOT_FOUND.
 */
export function tenantOf(viewer: Viewer | null): string | null {
  return viewer?.tenantId ?? null;
}
