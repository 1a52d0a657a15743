import { setTimeout as sleep } from 'node:timers/promises';
import { BadUserInputError } from '../errors.ts';
import type { GraphQLContext } from '../schema/context.ts';

/** @default 100 ms: a shorter tick would be a load generator, not a liveness probe. */
export const MIN_TICK_MS = 100;

/** Subscription.serverTime: the server's clock, first at once, then every `everyMs`. */
export async function* serverTimeTicks(everyMs: number, context: GraphQLContext): AsyncGenerator<Date> {
  if (everyMs < MIN_TICK_MS)
    throw new BadUserInputError(`every must be at least ${MIN_TICK_MS}ms, got ${everyMs}ms`);
  const signal = context.services.shutdownSignal;
  while (!signal.aborted) {
    yield new Date();
    try {
      await sleep(everyMs, undefined, { signal });
    } catch {
      return; // shutdown: end the stream so the client sees it complete
    }
  }
}
