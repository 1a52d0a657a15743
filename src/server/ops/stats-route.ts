import type { AppServices } from '../../domain/services.ts';
import type { HttpRoute } from '../http-routes.ts';
import {
  SSE_TRANSPORTS,
  type TransportFigures,
  type TransportStats,
  WEBSOCKET_TRANSPORTS,
} from './transport-stats.ts';

/**
 * GET /stats in the shape of the old streaming service (legacy.md D). `websocket` adds up the
 * legacy socket and graphql-ws, `sse` the legacy stream and GraphQL over SSE; the rate is over
 * STATS_WINDOW. Figures are of this instance.
 */
export function statsRoute(services: AppServices, transports: TransportStats): HttpRoute {
  return {
    methods: ['GET'],
    path: '/stats',
    handle() {
      const topics = services.topics.stats();
      return Response.json({
        websocket: legacyFigures(transports.figures(WEBSOCKET_TRANSPORTS)),
        sse: legacyFigures(transports.figures(SSE_TRANSPORTS)),
        subscriptions: {
          total_topics: Object.keys(topics.topics).length,
          active_subscriptions: topics.activeSubscriptions,
          topics: topics.topics,
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
