import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ERROR_CODES } from '../errors.ts';
import { isAsyncIterable } from '../type-guards.ts';

/**
 * Marks an operation whose transport attaches the cross-cutting concerns to the subscription's
 * start and end itself (DESIGN.md decision 4): the connection slot, the open_subscriptions gauge
 * and /stats, token expiry, and shutdown (SubscriptionGroups.completeAll). No async-iterator layer
 * is put around its events: between the source and the group's members there is nothing else.
 * Every transport runs its subscriptions so (group-context.ts, or a solo context with this mark).
 */
export const MANAGED_LIFECYCLE = { managedLifecycle: true } as const;

/** True when the operation's context comes from a transport that manages its lifecycle. */
export function hasManagedLifecycle(context: unknown): boolean {
  return (context as { managedLifecycle?: unknown } | null)?.managedLifecycle === true;
}

/**
 * A subscription run without MANAGED_LIFECYCLE would have no connection slot, gauge, token expiry
 * or end at shutdown: its stream is ended at once and answered with an error (HTTP 406). Only
 * yoga's own HTTP path does that today, for a request that accepts no event stream (GraphQL over
 * SSE takes every other: sse/graphql-over-sse.ts), where yoga alone would answer 406 and leave
 * the stream running; a refusal (bad variables, an unknown device) is still answered as is. A new
 * transport that forgets its lifecycle fails the same way, loudly, in its first test.
 */
export function useManagedSubscriptionsOnly(): Plugin {
  return {
    onSubscribe({ args }) {
      if (hasManagedLifecycle(args.contextValue)) return undefined;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          void (result as AsyncIterator<unknown>).return?.();
          setResult({ errors: [notDelivered()] });
        },
      };
    },
  };
}

function notDelivered(): GraphQLError {
  return new GraphQLError(
    'a subscription is delivered over graphql-ws or as an event stream: send Accept: text/event-stream',
    { extensions: { code: ERROR_CODES.BAD_USER_INPUT, http: { status: 406, spec: true } } },
  );
}
