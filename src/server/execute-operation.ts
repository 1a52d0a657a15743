import { type DocumentNode, type ExecutionResult, GraphQLError } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Viewer } from '../domain/viewer.ts';
import { isAppError } from '../errors.ts';
import type { GraphQLContext } from '../schema/context.ts';

// biome-ignore lint/suspicious/noExplicitAny: yoga's server context type is irrelevant here
export type Yoga = YogaServerInstance<any, GraphQLContext>;

/** Who an adapter's operation runs as: the HTTP request's token, or an identity it vouches for. */
export type OperationCaller =
  | { readonly request: Request }
  | { readonly viewer: Viewer | null; readonly correlationId?: string };

/**
 * Executes a query or mutation for a legacy adapter through yoga's envelop (DESIGN.md decision 1):
 * the same context, auth guard, mutation roles and error masking as /graphql. A context that
 * cannot be built (a bad token) comes back as a result with that error, not as a throw.
 */
export async function executeOperation(
  yoga: Yoga,
  caller: OperationCaller,
  document: DocumentNode,
  variableValues: Record<string, unknown>,
): Promise<ExecutionResult> {
  const initial =
    'request' in caller
      ? { request: caller.request }
      : { extra: { viewer: caller.viewer, correlationId: caller.correlationId } };
  const enveloped = yoga.getEnveloped(initial);
  let contextValue: unknown;
  try {
    contextValue = await enveloped.contextFactory();
  } catch (error) {
    if (error instanceof GraphQLError) return { errors: [error] };
    if (isAppError(error))
      return {
        errors: [new GraphQLError(error.message, { originalError: error, extensions: error.extensions })],
      };
    throw error;
  }
  return (await enveloped.execute({
    schema: enveloped.schema,
    document,
    variableValues,
    contextValue,
  })) as ExecutionResult;
}

/** The code of a result error (extensions.code), INTERNAL when it has none. */
export function errorCodeOf(error: { readonly extensions?: Record<string, unknown> }): string {
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}
