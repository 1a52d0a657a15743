import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import type { GraphQLContext } from '../schema/context.ts';
import type { InitialContext } from './graphql-context.ts';

/** A subscription as a legacy adapter consumes it: results, or the errors that stopped it at once. */
export type SubscriptionOutcome = AsyncIterableIterator<ExecutionResult> | ExecutionResult;

/**
 * GraphQL execution for the legacy adapters (DESIGN.md decision 1): a legacy message becomes an
 * operation run through yoga's envelop, so context, auth, limits, shutdown and error masking are
 * those of every other transport.
 */
export interface LocalOperations {
  /** Runs a query or mutation. */
  execute(
    source: string,
    variables: Record<string, unknown>,
    initial: InitialContext,
  ): Promise<ExecutionResult>;
  /** Starts a subscription. */
  subscribe(
    source: string,
    variables: Record<string, unknown>,
    initial: InitialContext,
  ): Promise<SubscriptionOutcome>;
}

/** Executes operations against yoga's schema and plugins without an HTTP request. */
export function createLocalOperations(
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server context type is irrelevant here
  yoga: YogaServerInstance<any, GraphQLContext>,
  maskError: (error: unknown) => Error,
): LocalOperations {
  const prepare = async (
    source: string,
    variables: Record<string, unknown>,
    initial: InitialContext,
  ): Promise<
    { args: ExecutionArgs; run: ReturnType<typeof yoga.getEnveloped> } | { errors: readonly GraphQLError[] }
  > => {
    const enveloped = yoga.getEnveloped({ ...initial });
    let document: ReturnType<typeof enveloped.parse>;
    try {
      document = enveloped.parse(source);
    } catch (error) {
      return { errors: [maskError(error) as GraphQLError] };
    }
    const errors = enveloped.validate(enveloped.schema, document);
    if (errors.length > 0)
      return { errors: errors.map((error: GraphQLError) => maskError(error) as GraphQLError) };
    let contextValue: unknown;
    try {
      contextValue = await enveloped.contextFactory();
    } catch (error) {
      // The context factory refuses a bad token with UNAUTHENTICATED, for instance.
      return { errors: [maskError(error) as GraphQLError] };
    }
    return {
      run: enveloped,
      args: { schema: enveloped.schema, document, variableValues: variables, contextValue },
    };
  };

  return {
    async execute(source, variables, initial) {
      const prepared = await prepare(source, variables, initial);
      if ('errors' in prepared) return { errors: prepared.errors };
      return (await prepared.run.execute(prepared.args)) as ExecutionResult;
    },
    async subscribe(source, variables, initial) {
      const prepared = await prepare(source, variables, initial);
      if ('errors' in prepared) return { errors: prepared.errors };
      return (await prepared.run.subscribe(prepared.args)) as SubscriptionOutcome;
    },
  };
}
