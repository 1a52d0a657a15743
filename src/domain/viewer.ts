/** The caller, as its token names it. */
export interface Viewer {
  readonly userId: string;
  readonly tenantId: string | null;
  readonly roles: readonly string[];
}
