import { scopedKey } from '../viewer.ts';

/**
 * A data source of one tenant. Data sources are scoped per tenant (docs/auth.md "Tenancy"): the
 * same id in two tenants is two data sources with their own providers and subjects.
 */
export interface DataSourceRef {
  /** `tenantOf(viewer)`; null is the default tenant (the ISM network, legacy clients). */
  readonly tenantId: string | null;
  readonly dataSourceId: string;
}

/** One string per (tenant, data source), for the tables of this instance. */
export function dataSourceKey(ref: DataSourceRef): string {
  return scopedKey(ref.tenantId, ref.dataSourceId);
}

/** The data source a provider provides: its id, in the provider's tenant. */
export function dataSourceOf(provider: Provider): DataSourceRef {
  return { tenantId: provider.identity.tenantId, dataSourceId: provider.dataSourceId };
}

/** Who a provider (or the sender of an answer) is: enough to tell whether it was asked. */
export interface ProviderIdentity {
  /** `tenantOf(viewer)`: the tenant the provider acts in. */
  readonly tenantId: string | null;
  /** The token's user; null when unauthenticated (dev mode). */
  readonly userId: string | null;
  /** The graphql-ws or /ws/ds connection it came over; null over HTTP and SSE. */
  readonly connectionId: string | null;
}

/** One request as a provider receives it (the GraphQL type DataSourceRequest). */
export interface DataSourceRequest {
  /** A new UUID per provider asked; the provider answers with it as `requestId`. */
  readonly id: string;
  readonly dataSourceId: string;
  /** The requester's `operation`, when it sent one. */
  readonly operation: string | null;
  /** The requester's `payload` (queryDataSource's `query`). */
  readonly query: unknown;
  /** When this provider's turn ends: after it the request goes to another provider or fails. */
  readonly deadline: Date;
}

/** A connected client answering the requests of one data source of its tenant on this instance. */
export interface Provider {
  readonly id: string;
  readonly dataSourceId: string;
  readonly identity: ProviderIdentity;
  /** Requests sent to it and not yet answered, timed out or retried. */
  inFlight: number;
  /** Hands a request over; false when the provider cannot take it (ended, or too far behind). */
  deliver(request: DataSourceRequest): boolean;
}

/**
 * May `answerer` answer a request that was sent to `provider`? Over the provider's own connection,
 * yes; else only the same authenticated user, or (anonymous, dev mode) an answer over plain HTTP,
 * where the unguessable request id is the only credential there is. Another connection is another
 * provider, and is refused. The tenant is checked before this (another tenant's is NOT_FOUND).
 */
export function mayAnswer(provider: ProviderIdentity, answerer: ProviderIdentity): boolean {
  if (answerer.connectionId !== null && answerer.connectionId === provider.connectionId) return true;
  if (provider.userId !== null) return answerer.userId === provider.userId;
  return answerer.userId === null && answerer.connectionId === null;
}
