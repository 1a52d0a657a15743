import type { ExecutionResult } from 'graphql';
import type { InitialContext } from './graphql-context.ts';
import { isResultStream, type OperationOutcome, type OperationRunner } from './operation-runner.ts';

/** A subscription as a legacy adapter consumes it: results, or the errors that stopped it at once. */
export type SubscriptionOutcome = OperationOutcome;

/**
 * GraphQL execution for the legacy adapters (DESIGN.md decision 1): a legacy message becomes an
 * operation run through the one execution seam, so context, auth, limits, shutdown and error
 * masking are those of every other transport.
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

/** Operations from source text, run by `runner`. */
export function createLocalOperations(runner: OperationRunner): LocalOperations {
  return {
    async execute(source, variables, initial) {
      const outcome = await runner.perform({ query: source, variables }, initial);
      if (!isResultStream(outcome)) return outcome;
      await outcome.return?.();
      throw new Error('execute runs queries and mutations, not subscriptions');
    },
    subscribe: (source, variables, initial) => runner.perform({ query: source, variables }, initial),
  };
}
