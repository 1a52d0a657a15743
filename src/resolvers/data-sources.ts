import type { DataSourceInfo } from '../domain/datasources/data-source-service.ts';
import type { DataSourceRequest, ProviderIdentity } from '../domain/datasources/provider.ts';
import type { GraphQLContext } from '../domain/resolver-context.ts';
import { tenantOf } from '../domain/viewer.ts';

/** Who the caller is, as a provider or as the sender of an answer. */
function identityOf(context: GraphQLContext): ProviderIdentity {
  return {
    tenantId: tenantOf(context.viewer),
    userId: context.viewer?.userId ?? null,
    connectionId: context.connectionId,
  };
}

/** Query.dataSources: the caller's tenant's data sources. */
export function resolveDataSources(context: GraphQLContext): Promise<DataSourceInfo[]> {
  return context.services.dataSources.list(tenantOf(context.viewer));
}

/** Query.queryDataSource: one request to one provider, through the broker. */
export function resolveQueryDataSource(
  context: GraphQLContext,
  args: { id: string; query?: unknown; timeoutMs?: number | null },
): Promise<unknown> {
  return context.services.dataSources.query(
    { tenantId: tenantOf(context.viewer), correlationId: context.correlationId },
    args.id,
    args.query,
    args.timeoutMs,
  );
}

/** Subscription.dataSourceRequests: the subscriber is a provider while subscribed. */
export function resolveDataSourceRequests(
  context: GraphQLContext,
  id: string,
): Promise<AsyncIterable<DataSourceRequest>> {
  return context.services.dataSources.provide(identityOf(context), id);
}

/** Mutation.answerDataSource. */
export async function resolveAnswerDataSource(
  context: GraphQLContext,
  args: { requestId: string; result?: unknown; error?: string | null; answerId?: string | null },
): Promise<boolean> {
  await context.services.dataSources.answer(identityOf(context), args.requestId, {
    answerId: args.answerId ?? null,
    result: args.result ?? null,
    error: args.error ?? null,
  });
  return true;
}
