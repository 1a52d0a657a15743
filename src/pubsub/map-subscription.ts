import type { BrokerMessage, Subscription } from './broker.ts';

/**
 * A subscription's messages, each turned into `T`; a message mapped to `undefined` is skipped
 * (a message dropped for a bound: the stream goes on with the next one). Hand-written rather than an async generator:
 * a generator's return() waits for a pending next(), so a client leaving an idle stream would
 * hold the broker subscription until the next message; here return() ends it at once.
 */
export function mapSubscription<T>(
  subscription: Subscription,
  map: (message: BrokerMessage) => T | undefined,
): AsyncIterableIterator<T> {
  const messages = subscription[Symbol.asyncIterator]();
  return {
    async next() {
      for (;;) {
        const result = await messages.next();
        if (result.done) return { done: true, value: undefined };
        const value = map(result.value);
        if (value !== undefined) return { done: false, value };
      }
    },
    async return() {
      subscription.unsubscribe();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      subscription.unsubscribe();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
