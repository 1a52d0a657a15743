/**
 * Tenancy of states (DESIGN.md, "Identity and access"): a state records the tenant that created
 * it; a state with no tenant (created by the network through the sync store, or in a
 * single-tenant deployment) is shared. Another tenant's state is NOT_FOUND.
 */
export function isVisibleTo(state: { readonly tenantId: string | null }, tenant: string | null): boolean {
  return state.tenantId === null || state.tenantId === tenant;
}
