import type {
  ConnectionKind,
  ConnectionLease,
  ConnectionLimiter,
} from '../../domain/limits/connection-limiter.ts';
import { tenantOf, type Viewer } from '../../domain/viewer.ts';
import { LimitExceededError } from '../../errors.ts';

/**
 * Takes the connection slot of `viewer` (per instance, per user, per tenant: docs/limits.md).
 * Over a limit, the refusal is counted under the limit's name (`onRefused`, the
 * limit_refusals_total counter) and the LimitExceededError is thrown for the transport to answer
 * in its own words. Every transport that holds a connection open takes its slot here.
 */
export function acquireConnectionSlot(
  limiter: ConnectionLimiter,
  kind: ConnectionKind,
  viewer: Viewer | null,
  onRefused: (limit: string) => void,
): ConnectionLease {
  try {
    return limiter.acquire({ kind, userId: viewer?.userId ?? null, tenantId: tenantOf(viewer) });
  } catch (error) {
    if (error instanceof LimitExceededError) onRefused(String(error.details?.limit ?? 'connections'));
    throw error;
  }
}
