import type { DataSourceInfo } from '../domain/datasources/data-source-service.ts';
import type { DataSourceRequest, ProviderIdentity } from '../domain/datasources/provider.ts';
import { tenantOf } from '../domain/viewer.ts';
import type { GraphQLContext } from '../schema/context.ts';

/** @default 5000 ms, as the contract's `timeoutMs: Int = 5000` says. */
export const DEFAULT_QUERY_TIMEOUT_MS = 5_000;

/** Who the caller is, as a provider or as the sender of an answer. */
function identityOf(context: GraphQLContext): ProviderIdentity {
  return {
    tenantId: tenantOf(context.viewer),
    userId: context.viewer?.userId ?? null,
    connectionId: context.connectionId,
  };
}

/** Query.dataSources: the caller's tenant's data sources. */
export function listDataSources(context: GraphQLContext): Promise<DataSourceInfo[]> {
  return context.services.dataSources.list(tenantOf(context.viewer));
}

/** Query.queryDataSource: one request to one provider, through the broker. */
export function queryDataSource(
  context: GraphQLContext,
  args: { id: string; query?: unknown; timeoutMs?: number | null },
): Promise<unknown> {
  return context.services.dataSources.query(
    { tenantId: tenantOf(context.viewer), correlationId: context.correlationId },
    args.id,
    args.query,
    args.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
  );
}

/** Subscription.dataSourceRequests: the subscriber is a provider while subscribed. */
export function provideDataSource(
  context: GraphQLContext,
  id: string,
): Promise<AsyncIterable<DataSourceRequest>> {
  return context.services.dataSources.provide(identityOf(context), id);
}

/** Mutation.answerDataSource. */
export async function answerDataSource(
  context: GraphQLContext,
  args: { requestId: string; result?: unknown; error?: string | null; answerId?: string | null },
): Promise<boolean> {
  await context.services.dataSources.answer(identityOf(context), args.requestId, {
    answerId: args.answerId ?? crypto.randomUUID(),
    result: args.result ?? null,
    error: args.error ?? null,
  });
  return true;
}
