import type { DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isAsyncIterable } from '../../type-guards.ts';
import { rootFieldNames, selectedOperation } from '../auth/root-fields.ts';
import { observeStream } from '../observed-stream.ts';
import { hasManagedLifecycle } from '../subscription-lifecycle.ts';
import type { OpenSubscriptions } from './open-subscriptions.ts';
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
export function useSubscriptionMetrics(stats: TransportStats, open: OpenSubscriptions): Plugin {
  return {
    onSubscribe({ args }) {
      const transport = transportOf(args.contextValue as unknown as Record<string, unknown>);
      // Managed transports (graphql-ws) count at a subscription's start and end, and per group event.
      if (hasManagedLifecycle(args.contextValue)) return;
      const rootField = rootFieldOf(args.document, args.operationName);
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          // Operations an adapter runs on its own account (the record RPC) have no client transport.
          const closeGauge = open.opened(transport ?? 'internal', rootField);
          if (!transport) {
            setResult(observeStream(result, { onEnd: closeGauge }));
            return;
          }
          stats.subscriptionStarted(transport);
          const perRequest = transport === TRANSPORTS.GRAPHQL_SSE;
          if (perRequest) stats.connectionOpened(transport);
          setResult(
            observeStream(result, {
              onEvent: () => stats.messageSent(transport),
              onEnd: () => {
                closeGauge();
                if (perRequest) stats.connectionClosed(transport);
              },
            }),
          );
        },
      };
    },
  };
}

/** The subscription's root field (a subscription selects exactly one). */
export function rootFieldOf(document: DocumentNode, operationName: string | null | undefined): string {
  const operation = selectedOperation(document, operationName);
  const [first] = operation ? rootFieldNames(document, operation) : [];
  return first ?? 'unknown';
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

function isFetchRequest(value: unknown): value is Request {
  return (
    value instanceof Request ||
    (typeof value === 'object' && value !== null && typeof (value as Request).headers?.get === 'function')
  );
}
