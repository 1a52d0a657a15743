import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../../log.ts';
import { isAsyncIterable } from '../../type-guards.ts';
import { errorCodeOf } from '../execute-operation.ts';

/**
 * A subscription refused at subscribe time (SUBSCRIPTION_DENIED, NOT_FOUND, UNAUTHENTICATED, a
 * limit) is the API answering a client, logged at info with its codes, on every transport. A
 * real failure is masked to INTERNAL and logged as an error by the error masker instead.
 */
export function useSubscriptionRefusalLog(log: Logger): Plugin {
  return {
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result }) {
          if (isAsyncIterable(result)) return;
          const errors = (result as ExecutionResult).errors ?? [];
          if (errors.length === 0) return;
          log.info(
            { operationName: args.operationName, codes: errors.map((error) => errorCodeOf(error)) },
            'subscription refused',
          );
        },
      };
    },
  };
}
