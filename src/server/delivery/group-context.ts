import type { Audience } from '../../domain/audience.ts';
import type { Viewer } from '../../domain/viewer.ts';
import type { RunContext } from '../operation-runner.ts';
import { MANAGED_LIFECYCLE } from '../subscription-lifecycle.ts';

/**
 * The initial context a group's shared execution runs under, on every transport: the part of the
 * viewer its sharing key was made of (user, tenant, roles; not the token's expiry, which is each
 * member's own business), no socket or request of anyone's, and the audience it serves.
 */
export function groupRunContext(
  audience: Audience,
  viewer: Viewer | null,
  correlationId: string | undefined,
): RunContext {
  return {
    extra: {
      viewer: viewer && { userId: viewer.userId, tenantId: viewer.tenantId, roles: viewer.roles },
      correlationId,
      audience,
    },
    ...MANAGED_LIFECYCLE,
  };
}
