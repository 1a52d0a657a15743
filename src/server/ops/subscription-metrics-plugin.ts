import type { Plugin } from 'graphql-yoga';
import { TRANSPORTS, type Transport, type TransportStats } from './transport-stats.ts';

/**
 * Marks an operation run by a legacy adapter, which names its own transport in the initial
 * context it hands to `yoga.getEnveloped`.
 */
export interface LegacyTransportContext {
  readonly legacyTransport?: Transport;
}

/**
 * Counts subscriptions and the events they send, per transport, at the one place every
 * transport passes (DESIGN.md decision 1): the envelop subscribe hook. GraphQL over SSE has no
 * connection of its own beyond the subscription, so each one counts as an SSE connection.
 */
export function useSubscriptionMetrics(stats: TransportStats): Plugin {
  return {
    onSubscribe({ args }) {
      const transport = transportOf(args.contextValue as unknown as Record<string, unknown>);
      if (!transport) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          stats.subscriptionStarted(transport);
          const perRequest = transport === TRANSPORTS.GRAPHQL_SSE;
          if (perRequest) stats.connectionOpened(transport);
          setResult(
            counted(
              result,
              () => stats.messageSent(transport),
              () => {
                if (perRequest) stats.connectionClosed(transport);
              },
            ),
          );
        },
      };
    },
  };
}

/** The transport an operation arrived on, from its context (legacy adapters name theirs). */
export function transportOf(context: Record<string, unknown>): Transport | undefined {
  const legacy = (context as LegacyTransportContext).legacyTransport;
  if (legacy) return legacy;
  if (context.socket !== undefined) return TRANSPORTS.GRAPHQL_WS;
  // Behind the Node server yoga's request is whatwg-node's PonyfillRequest, not a global Request.
  if (isFetchRequest(context.request)) return TRANSPORTS.GRAPHQL_SSE;
  return undefined;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** Passes the stream through, calling `onEvent` per event and `onEnd` once when it is over. */
function counted<T>(
  source: AsyncIterable<T>,
  onEvent: () => void,
  onEnd: () => void,
): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  return {
    async next() {
      try {
        const result = await iterator.next();
        if (result.done) end();
        else onEvent();
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

function isFetchRequest(value: unknown): value is Request {
  return (
    value instanceof Request ||
    (typeof value === 'object' && value !== null && typeof (value as Request).headers?.get === 'function')
  );
}
