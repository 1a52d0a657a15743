import {
  answeredReply,
  errorReply,
  NETWORK_ERRORS,
  type NetworkReply,
  type NetworkRequest,
} from './network-protocol.ts';
import type { AttemptOutcome, PendingRequests } from './pending-requests.ts';
import type { DataSourceRef } from './provider.ts';
import type { ProviderRegistry } from './provider-registry.ts';

/** A provider that did not answer (too slow, or gone) is followed by at most this many others. */
export const MAX_RETRIES = 1;

export interface DispatchDependencies {
  readonly registry: ProviderRegistry;
  readonly pending: PendingRequests;
  /** How long one provider's turn lasts (DATASOURCE_PROVIDER_TIMEOUT). */
  readonly providerTimeoutMs: number;
}

/**
 * Serves one request with this instance's providers of the tenant's data source: the least busy one first;
 * if it is too slow or disconnects, one other provider is tried; then NO_PROVIDER (nobody left,
 * or the last one disconnected) or TIMEOUT (the last one was too slow, or `budgetMs` ran out).
 */
export async function dispatchRequest(
  deps: DispatchDependencies,
  dataSource: DataSourceRef,
  request: NetworkRequest,
  budgetMs: number,
): Promise<NetworkReply> {
  const { dataSourceId } = dataSource;
  const deadline = Date.now() + budgetMs;
  const tried = new Set<string>();
  let last: AttemptOutcome | undefined;
  while (tried.size <= MAX_RETRIES) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0)
      return errorReply(NETWORK_ERRORS.TIMEOUT, request, timeoutMessage(dataSourceId, tried));
    const provider = deps.registry.pick(dataSource, tried);
    if (!provider) break;
    tried.add(provider.id);
    last = await deps.pending.ask(
      provider,
      { operation: request.operation, query: request.payload },
      Math.min(deps.providerTimeoutMs, remainingMs),
    );
    if (last.kind === 'answer') return answeredReply(request, last.answer);
  }
  if (last?.kind === 'timeout')
    return errorReply(NETWORK_ERRORS.TIMEOUT, request, timeoutMessage(dataSourceId, tried));
  return errorReply(
    NETWORK_ERRORS.NO_PROVIDER,
    request,
    last === undefined
      ? `no provider of data source "${dataSourceId}" is connected`
      : `the provider of data source "${dataSourceId}" disconnected and no other could take the request`,
  );
}

function timeoutMessage(dataSourceId: string, tried: ReadonlySet<string>): string {
  return `${tried.size} provider(s) of data source "${dataSourceId}" did not answer in time`;
}
