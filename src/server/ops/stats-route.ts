import type { AppServices } from '../../domain/services.ts';
import { jsonResponse } from '../http-response.ts';
import type { HttpRoute } from '../http-routes.ts';
import type { OpenSubscriptions } from './open-subscriptions.ts';
import {
  SSE_TRANSPORTS,
  type TransportFigures,
  type TransportStats,
  WEBSOCKET_TRANSPORTS,
} from './transport-stats.ts';

/**
 * GET /stats in the shape of the old streaming service (legacy.md D). `websocket` adds up the
 * legacy socket and graphql-ws, `sse` the legacy stream and GraphQL over SSE; the rate is over
 * STATS_WINDOW. `graphql` counts the subscriptions of every transport. Figures are of this instance.
 */
export function statsRoute(
  services: AppServices,
  transports: TransportStats,
  open: OpenSubscriptions,
): HttpRoute {
  return {
    methods: ['GET'],
    path: '/stats',
    handle() {
      const topics = services.topics.stats();
      const graphql = open.figures();
      return jsonResponse({
        websocket: legacyFigures(transports.figures(WEBSOCKET_TRANSPORTS)),
        sse: legacyFigures(transports.figures(SSE_TRANSPORTS)),
        subscriptions: {
          total_topics: Object.keys(topics.topics).length,
          active_subscriptions: topics.activeSubscriptions,
          topics: topics.topics,
        },
        // Beyond legacy.md D: every subscription of every transport, not only topic subscribers.
        graphql: {
          active_subscriptions: graphql.active,
          total_subscriptions: graphql.total,
          by_transport: graphql.byTransport,
          by_root_field: graphql.byRootField,
        },
        kafka: {
          consumers: topics.kafka.consumers,
          topics: topics.kafka.topics,
          messages_consumed: topics.kafka.messagesConsumed,
          group_id: topics.kafka.groupId,
        },
      });
    },
  };
}

function legacyFigures(figures: TransportFigures) {
  return {
    total_connections: figures.totalConnections,
    active_connections: figures.activeConnections,
    total_messages: figures.totalMessages,
    messages_per_second: figures.messagesPerSecond,
  };
}
