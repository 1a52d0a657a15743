import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Viewer } from '../domain/viewer.ts';
import { isResultStream, type OperationRunner, type RunContext } from './operation-runner.ts';

/**
 * Who an adapter's operation runs as: the HTTP request's token (`token` when the adapter already
 * took it from the request, as InitialContext.token), or an identity it vouches for.
 */
export type OperationCaller =
  | { readonly request: Request; readonly token?: string }
  | { readonly viewer: Viewer | null; readonly correlationId?: string };

/**
 * Executes a query or mutation for an adapter (the monitor route, the record RPC) through the
 * one execution seam (DESIGN.md decision 1): the same context, auth guard, mutation roles and
 * error masking as /graphql. A context that cannot be built (a bad token) comes back as a result
 * with that error, not as a throw.
 */
export async function executeOperation(
  runner: OperationRunner,
  caller: OperationCaller,
  document: DocumentNode,
  variables: Record<string, unknown>,
): Promise<ExecutionResult> {
  const initial: RunContext =
    'request' in caller
      ? { request: caller.request, ...(caller.token === undefined ? {} : { token: caller.token }) }
      : { extra: { viewer: caller.viewer, correlationId: caller.correlationId } };
  const outcome = await runner.perform({ query: document, variables }, initial);
  if (isResultStream(outcome)) {
    // Adapters run queries and mutations here; a subscription document is a programming error.
    await outcome.return?.();
    throw new Error('executeOperation runs queries and mutations, not subscriptions');
  }
  return outcome;
}

/** The code of a result error (extensions.code), INTERNAL when it has none. */
export function errorCodeOf(error: { readonly extensions?: Record<string, unknown> }): string {
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}
