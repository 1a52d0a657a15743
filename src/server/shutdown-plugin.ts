import type { Plugin } from 'graphql-yoga';
import { isAsyncIterable } from '../type-guards.ts';
import { createInterruption } from './interruption.ts';
import { hasManagedLifecycle } from './subscription-lifecycle.ts';

/**
 * Ends every live subscription when the server shuts down, on every transport: graphql-ws sends
 * `complete`, SSE sends its complete event, and the client sees a clean end instead of a cut.
 */
export function useEndSubscriptionsOnShutdown(signal: AbortSignal): Plugin {
  return {
    onSubscribe({ args }) {
      if (hasManagedLifecycle(args.contextValue)) return undefined;
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(endOnAbort(result, signal));
        },
      };
    },
  };
}

/**
 * A hand-written iterator rather than an async generator: a generator's `return()` waits for a
 * pending `next()`, so an idle subscription could not be cancelled until its next event.
 */
function endOnAbort<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const aborted = createInterruption<IteratorResult<T>>();
  const onAbort = () => aborted.fire({ done: true, value: undefined });
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  const finish = async (): Promise<IteratorResult<T>> => {
    signal.removeEventListener('abort', onAbort);
    await iterator.return?.();
    return { done: true, value: undefined };
  };
  return {
    async next() {
      const result = await aborted.race(iterator.next());
      return result.done ? finish() : result;
    },
    return: finish,
    async throw(error: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
