/**
 * Passes a stream through unchanged, calling `onEvent` per event and `onEnd` exactly once when it
 * finishes, fails or is cancelled. Hand-written rather than an async generator: a generator's
 * `return()` waits for a pending `next()`, so an idle stream could not be cancelled.
 */
export function observeStream<T>(
  source: AsyncIterable<T>,
  hooks: { onEvent?: () => void; onEnd: () => void },
): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    hooks.onEnd();
  };
  return {
    async next() {
      try {
        const result = await iterator.next();
        if (result.done) end();
        else hooks.onEvent?.();
        return result;
      } catch (error) {
        end();
        throw error;
      }
    },
    async return() {
      end();
      return (await iterator.return?.()) ?? { done: true, value: undefined };
    },
    async throw(error: unknown) {
      end();
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
