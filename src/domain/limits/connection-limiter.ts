import { LimitExceededError } from '../../errors.ts';

/** The two kinds of long-lived connection that have their own instance-wide limit. */
export const CONNECTION_KINDS = { WEBSOCKET: 'websocket', SSE: 'sse' } as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[keyof typeof CONNECTION_KINDS];

export interface ConnectionLimits {
  readonly maxWebSocket: number;
  readonly maxSse: number;
  readonly maxPerUser: number;
  readonly maxPerTenant: number;
}

/** Who opens a connection; null user or tenant is not counted per user or per tenant. */
export interface ConnectionOwner {
  readonly kind: ConnectionKind;
  readonly userId: string | null;
  readonly tenantId: string | null;
}

/** A held connection slot; `release()` is idempotent. */
export interface ConnectionLease {
  release(): void;
}

/**
 * Counts open connections of this instance: per kind (MAX_WS_CONNECTIONS, MAX_SSE_CONNECTIONS),
 * per user and per tenant across kinds. Every transport that holds a connection open acquires a
 * lease first (graphql-ws, GraphQL over SSE, the legacy WebSocket and SSE adapters) and
 * releases it when the connection ends.
 */
export interface ConnectionLimiter {
  /** Takes a slot, or throws LimitExceededError naming the limit that was reached. */
  acquire(owner: ConnectionOwner): ConnectionLease;
  /** Open connections, for /stats and tests. */
  count(filter: { kind?: ConnectionKind; userId?: string; tenantId?: string | null }): number;
}

export function createConnectionLimiter(limits: ConnectionLimits): ConnectionLimiter {
  const byKind = new Map<ConnectionKind, number>();
  const byUser = new Map<string, number>();
  const byTenant = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, delta: number) => {
    const next = (map.get(key) ?? 0) + delta;
    if (next <= 0) map.delete(key);
    else map.set(key, next);
  };

  return {
    acquire(owner) {
      const kindLimit = owner.kind === CONNECTION_KINDS.WEBSOCKET ? limits.maxWebSocket : limits.maxSse;
      if ((byKind.get(owner.kind) ?? 0) >= kindLimit) {
        throw new LimitExceededError(
          `the server holds its maximum of ${kindLimit} ${owner.kind === 'sse' ? 'SSE' : 'WebSocket'} connections`,
          { details: { limit: owner.kind === 'sse' ? 'MAX_SSE_CONNECTIONS' : 'MAX_WS_CONNECTIONS' } },
        );
      }
      const userKey = owner.userId === null ? null : keyOfUser(owner.userId, owner.tenantId);
      if (userKey !== null && (byUser.get(userKey) ?? 0) >= limits.maxPerUser) {
        throw new LimitExceededError(`user has the maximum of ${limits.maxPerUser} open connections`, {
          details: { limit: 'MAX_CONNECTIONS_PER_USER' },
        });
      }
      if (owner.tenantId !== null && (byTenant.get(owner.tenantId) ?? 0) >= limits.maxPerTenant) {
        throw new LimitExceededError(`tenant has the maximum of ${limits.maxPerTenant} open connections`, {
          details: { limit: 'MAX_CONNECTIONS_PER_TENANT' },
        });
      }
      add(byKind as Map<string, number>, owner.kind, 1);
      if (userKey !== null) add(byUser, userKey, 1);
      if (owner.tenantId !== null) add(byTenant, owner.tenantId, 1);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          add(byKind as Map<string, number>, owner.kind, -1);
          if (userKey !== null) add(byUser, userKey, -1);
          if (owner.tenantId !== null) add(byTenant, owner.tenantId, -1);
        },
      };
    },
    count(filter) {
      if (filter.userId !== undefined)
        return byUser.get(keyOfUser(filter.userId, filter.tenantId ?? null)) ?? 0;
      if (filter.tenantId !== undefined && filter.tenantId !== null)
        return byTenant.get(filter.tenantId) ?? 0;
      if (filter.kind !== undefined) return byKind.get(filter.kind) ?? 0;
      return [...byKind.values()].reduce((sum, value) => sum + value, 0);
    },
  };
}

/** User ids are unique within a tenant only, so the per-user count is per (tenant, user). */
function keyOfUser(userId: string, tenantId: string | null): string {
  return `${tenantId ?? ''}\u0000${userId}`;
}
