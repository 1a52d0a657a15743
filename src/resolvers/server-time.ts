import type { GraphQLContext } from '../domain/resolver-context.ts';
import { serverTimeTicks } from '../domain/server-time.ts';

/** Subscription.serverTime: ends when the server starts shutting down. */
export function resolveServerTime(context: GraphQLContext, everyMs: number): AsyncGenerator<Date> {
  return serverTimeTicks(everyMs, context.services.shutdownSignal);
}
