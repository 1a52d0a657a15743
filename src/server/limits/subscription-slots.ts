import { GraphQLError } from 'graphql';
import { ERROR_CODES } from '../../errors.ts';
import { isAsyncIterable, observeStream } from '../observed-stream.ts';

/** One reserved place of a connection's subscriptions; `release()` may be called more than once. */
export interface SubscriptionSlot {
  release(): void;
}

/**
 * The running subscriptions of one connection (MAX_SUBSCRIPTIONS_PER_CONNECTION). A place is
 * reserved synchronously when the subscribe is accepted, not counted from the subscriptions that
 * have started: a burst of subscribes all passed a count taken before any of them had registered
 * (101–120 ran with a limit of 100).
 */
export function createSubscriptionSlots(max: number) {
  let inUse = 0;
  return {
    get inUse() {
      return inUse;
    },
    /** A slot, or undefined when all `max` are taken. */
    tryReserve(): SubscriptionSlot | undefined {
      if (inUse >= max) return undefined;
      inUse += 1;
      let held = true;
      return {
        release() {
          if (!held) return;
          held = false;
          inUse -= 1;
        },
      };
    },
  };
}

export type SubscriptionSlots = ReturnType<typeof createSubscriptionSlots>;

/** The error a subscribe over the limit gets; the connection stays. */
export function subscriptionLimitError(max: number): GraphQLError {
  return new GraphQLError(
    `this connection runs its maximum of ${max} subscriptions (MAX_SUBSCRIPTIONS_PER_CONNECTION)`,
    { extensions: { code: ERROR_CODES.LIMIT_EXCEEDED, limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' } },
  );
}

/**
 * Wraps a subscribe function so that `slot` is held exactly as long as its stream runs: released
 * when the stream ends, fails or is cancelled (also when cancelled before its first event), and at
 * once when the subscribe answers with a single result or throws.
 */
export function holdingSlot<Args>(
  subscribe: (args: Args) => unknown,
  slot: SubscriptionSlot,
): (args: Args) => Promise<unknown> {
  return async (args) => {
    let result: unknown;
    try {
      result = await subscribe(args);
    } catch (error) {
      slot.release();
      throw error;
    }
    if (!isAsyncIterable(result)) {
      slot.release();
      return result;
    }
    return observeStream(result, { onEnd: () => slot.release() });
  };
}
