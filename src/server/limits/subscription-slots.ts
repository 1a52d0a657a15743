import { GraphQLError } from 'graphql';
import { ERROR_CODES } from '../../errors.ts';

/**
 * The error a subscribe over MAX_SUBSCRIPTIONS_PER_CONNECTION gets; the connection stays. The
 * graphql-ws connection counts and reserves its place in one synchronous step (graphql-ws.ts), so
 * a burst of subscribes cannot overshoot the limit.
 */
export function subscriptionLimitError(max: number): GraphQLError {
  return new GraphQLError(
    `this connection runs its maximum of ${max} subscriptions (MAX_SUBSCRIPTIONS_PER_CONNECTION)`,
    { extensions: { code: ERROR_CODES.LIMIT_EXCEEDED, limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' } },
  );
}
