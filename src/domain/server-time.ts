import { setTimeout as sleep } from 'node:timers/promises';
import { BadUserInputError } from '../errors.ts';

/** @default 100 ms: a shorter tick would be a load generator, not a liveness probe. */
export const MIN_TICK_MS = 100;

/** The server's clock (Subscription.serverTime), first at once, then every `everyMs` until `signal`. */
export async function* serverTimeTicks(everyMs: number, signal: AbortSignal): AsyncGenerator<Date> {
  if (everyMs < MIN_TICK_MS)
    throw new BadUserInputError(`every must be at least ${MIN_TICK_MS}ms, got ${everyMs}ms`);
  while (!signal.aborted) {
    yield new Date();
    try {
      await sleep(everyMs, undefined, { signal });
    } catch {
      return; // shutdown: end the stream so the client sees it complete
    }
  }
}
