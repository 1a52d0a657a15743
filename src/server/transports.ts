import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { untilDeadline } from '../deadline.ts';
import type { RequestEndpoint } from '../domain/request-endpoint.ts';
import type { GraphQLContext } from '../domain/resolver-context.ts';
import type { AppServices } from '../domain/services.ts';
import { schema } from '../schema/index.ts';
import { useAuthGuard } from './auth/auth-guard-plugin.ts';
import { useEventPages } from './delivery/event-pages-plugin.ts';
import { SubscriptionGroups, withoutHttpExtension } from './delivery/subscription-groups.ts';
import { createErrorMasker, createYogaLogging } from './error-masking.ts';
import { createGraphiqlRenderer, GRAPHIQL_OPTIONS } from './graphiql/graphiql-page.ts';
import { createContextFactory, type InitialContext } from './graphql-context.ts';
import { createGraphqlSocketServer, GRAPHQL_SUBPROTOCOLS } from './graphql-socket-server.ts';
import { graphqlSseRoute } from './graphql-sse/single-connection-route.ts';
import { healthRoute } from './health-route.ts';
import { drainingListener } from './http-drain.ts';
import { type HttpRoute, useHttpRoutes } from './http-routes.ts';
import { monitorRoutes } from './legacy-apigear/monitor-route.ts';
import { createRecordRpc } from './legacy-apigear/record-rpc.ts';
import { createLegacyDataSourceRoute } from './legacy-datasource/socket.ts';
import { createIsmStreamRoutes } from './legacy-ism/stream-socket.ts';
import { createLegacyAccess } from './legacy-topics/legacy-access.ts';
import { useLegacySse } from './legacy-topics/sse-stream.ts';
import { useLegacyStreamSocket } from './legacy-topics/stream-socket.ts';
import { createTopicOperations } from './legacy-topics/topic-operations.ts';
import { useInputBounds } from './limits/input-bounds.ts';
import { limitRefusals, useDocumentLimits, useMutationRateLimit } from './limits/limits-plugins.ts';
import { createOperationRunner } from './operation-runner.ts';
import { useHttpMetrics } from './ops/http-metrics-plugin.ts';
import { liveRoute } from './ops/live-route.ts';
import { metricsRoute } from './ops/metrics-route.ts';
import { createOpenSubscriptions } from './ops/open-subscriptions.ts';
import { statsRoute } from './ops/stats-route.ts';
import { useSubscriptionRefusalLog } from './ops/subscription-refusal-log.ts';
import { createTransportStats, type TransportStats } from './ops/transport-stats.ts';
import { useOneRequestErrorCode } from './request-error-codes.ts';
import { EventStreams } from './sse/event-stream.ts';
import { useGraphqlOverSse } from './sse/graphql-over-sse.ts';
import type { SseDeliveryOptions } from './sse/sse-delivery.ts';
import { useManagedSubscriptionsOnly } from './subscription-lifecycle.ts';
import { topicPublishRoute } from './topic-publish-route.ts';
import { routeUpgrades } from './upgrade-router.ts';
import { useValidationLog } from './validation-log-plugin.ts';

/** Every transport of one streamgate: yoga for HTTP and SSE, graphql-ws, plain and legacy routes. */
export interface Transports {
  // biome-ignore lint/suspicious/noExplicitAny: the Node server context is untyped in yoga
  readonly yoga: YogaServerInstance<any, GraphQLContext>;
  readonly httpServer: Server;
  /** Connections and messages per transport, for /stats and /metrics. */
  readonly transportStats: TransportStats;
  /** Starts the inbound broker transports (the record RPC); HTTP waits for `listen`. */
  start(): Promise<void>;
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /**
   * Graceful stop of the transports: live subscriptions complete, graphql-ws sockets close with
   * 1001, pending writes flush, HTTP connections end. Bounded by SHUTDOWN_TIMEOUT (sockets the
   * first half, HTTP connections the third quarter; the services below get the rest).
   */
  stop(): Promise<void>;
}

/** What the transports are handed by the composition root: the domain, never a broker or a database. */
export interface TransportDependencies {
  readonly services: AppServices;
  /** Aborted by `stop` first thing: every live stream ends on `services.shutdownSignal`. */
  readonly shutdown: AbortController;
  /** The record RPC's endpoint (RECORD_RPC on); absent, the responder is not started. */
  readonly recordRpc?: RequestEndpoint;
  /** Tells "the database cannot be reached" (UNAVAILABLE, 503) from a bug (INTERNAL). */
  readonly isDatabaseUnavailable: (error: unknown) => boolean;
}

/** Builds every transport over the domain services; `main/app.ts` starts and stops them. */
export function buildTransports(dependencies: TransportDependencies): Transports {
  const { services, shutdown } = dependencies;
  const { config, log, metrics, auth, connectionLimiter } = services;
  const transportStats = createTransportStats(metrics, { windowMs: config.topics.statsWindowMs });
  const openSubscriptions = createOpenSubscriptions(metrics);
  const countRefusal = (limit: string) => limitRefusals(metrics).inc({ limit });
  const maskError = createErrorMasker(log, dependencies.isDatabaseUnavailable, countRefusal);
  // Every transport runs its operations through this seam; yoga is built below, as it serves
  // the adapters' routes, hence the getter.
  const runner = createOperationRunner(() => yoga, maskError);
  const groups = new SubscriptionGroups({
    onDelivered: (transport, count) => transportStats.messageSent(transport, count),
    onStartFailure: (error) => {
      log.error({ err: error }, 'subscription failed');
      return withoutHttpExtension(maskError(error) as GraphQLError);
    },
  });
  // Shutdown ends every group once: its members get `complete` before their sockets close.
  shutdown.signal.addEventListener('abort', () => groups.completeAll(), { once: true });
  const topicOperations = createTopicOperations({
    runner,
    groups,
    stats: transportStats,
    openSubscriptions,
  });
  const buildContext = createContextFactory(services);
  // Both SSE transports (GraphQL over SSE on /graphql, graphql-sse on /graphql/stream) write
  // their streams here and deliver through the groups.
  const eventStreams = new EventStreams({
    maxBufferedBytes: config.limits.maxClientBufferBytes,
    onSlowConsumer: (buffered) => {
      limitRefusals(metrics).inc({ limit: 'MAX_CLIENT_BUFFER' });
      log.warn({ buffered }, 'SSE slow consumer cut off');
    },
  });
  const sseDelivery: SseDeliveryOptions = {
    runner,
    groups,
    streams: eventStreams,
    buildContext,
    limiter: connectionLimiter,
    stats: transportStats,
    openSubscriptions,
    onRefused: (limit) => limitRefusals(metrics).inc({ limit }),
  };
  const graphqlSse = graphqlSseRoute({ ...sseDelivery, maskError });
  const legacyAccess = createLegacyAccess({ auth, limiter: connectionLimiter, metrics });
  const legacySse = useLegacySse({
    operations: topicOperations,
    access: legacyAccess,
    stats: transportStats,
    log,
    heartbeatMs: config.topics.sseHeartbeatMs,
    outboundLimitBytes: config.limits.maxClientBufferBytes,
    maxPayloadBytes: config.http.maxPayloadBytes,
    metrics,
  });
  const legacySocket = useLegacyStreamSocket({
    operations: topicOperations,
    access: legacyAccess,
    stats: transportStats,
    log,
    maxPayloadBytes: config.http.maxPayloadBytes,
    heartbeatTimeoutMs: config.topics.heartbeatTimeoutMs,
    messageRate: { ratePerSecond: config.limits.messageRate, burst: config.limits.messageBurst },
    outboundLimitBytes: config.limits.maxClientBufferBytes,
    metrics,
  });
  const routes: HttpRoute[] = [
    healthRoute(services),
    liveRoute(),
    metricsRoute(metrics),
    statsRoute(services, transportStats, openSubscriptions),
    ...monitorRoutes({
      runner,
      auth,
      config: config.devices,
      maxJsonDepth: config.limits.maxJsonDepth,
      onRefused: countRefusal,
    }),
    topicPublishRoute({ runner, maxBodyBytes: config.http.maxPayloadBytes, onRefused: countRefusal }),
    ...legacySse.routes,
    graphqlSse,
  ];
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.http.graphiql ? GRAPHIQL_OPTIONS : false,
    renderGraphiQL: createGraphiqlRenderer(),
    landingPage: false,
    // Yoga answers its own empty 200 on /health; ours has the legacy body and the 503 rule.
    healthCheckEndpoint: '/__yoga/health',
    context: (initial) => buildContext(initial as InitialContext),
    maskedErrors: { maskError },
    // MAX_PAYLOAD_BYTES: yoga answers 413 past it, also for chunked bodies.
    maxRequestBodySize: config.http.maxPayloadBytes,
    logging: createYogaLogging(log),
    plugins: [
      useHttpMetrics(metrics, ['/graphql', ...routes.map((route) => route.path)]),
      useHttpRoutes(routes, log),
      useValidationLog(log),
      useDocumentLimits(config.limits, metrics),
      useInputBounds(config.limits, metrics),
      useAuthGuard(auth),
      useMutationRateLimit(config.limits, metrics),
      useGraphqlOverSse(sseDelivery, config.limits.maxDocumentTokens),
      // Slot, gauge, /stats, token expiry and shutdown attach at a subscription's start and end,
      // in each transport (subscription-lifecycle.ts): no plugin wraps a subscription's events.
      useManagedSubscriptionsOnly(),
      useSubscriptionRefusalLog(log),
      useOneRequestErrorCode(),
      // Last: it replaces the subscribe function of paged fields, inside every other plugin's hooks.
      useEventPages(),
    ],
  });

  let draining = false;
  const httpServer = createServer(drainingListener(yoga, () => draining));
  const graphqlWs = createGraphqlSocketServer({
    log,
    maxPayloadBytes: config.http.maxPayloadBytes,
    runner,
    groups,
    stats: transportStats,
    openSubscriptions,
    auth,
    limiter: connectionLimiter,
    limits: config.limits,
    onRefused: (limit) => limitRefusals(metrics).inc({ limit }),
  });
  const ismStreams = createIsmStreamRoutes({
    runner,
    groups,
    openSubscriptions,
    auth,
    log,
    stats: transportStats,
    pingIntervalMs: config.ism.streamPingIntervalMs,
    maxBufferedBytes: config.limits.maxClientBufferBytes,
    maxPayloadBytes: config.http.maxPayloadBytes,
    messageRate: config.limits.messageRate,
    messageBurst: config.limits.messageBurst,
    limiter: connectionLimiter,
    onRefused: (limit) => limitRefusals(metrics).inc({ limit }),
  });
  const legacyDataSources = createLegacyDataSourceRoute({
    runner,
    groups,
    openSubscriptions,
    messageRate: config.limits.messageRate,
    messageBurst: config.limits.messageBurst,
    log,
    maxPayloadBytes: config.http.maxPayloadBytes,
    pingIntervalMs: config.dataSources.pingIntervalMs,
    stats: transportStats,
    auth,
    limiter: connectionLimiter,
    onRefused: (limit) => limitRefusals(metrics).inc({ limit }),
  });
  const upgradeRoutes = [
    { path: '/graphql', server: graphqlWs.server, subprotocols: GRAPHQL_SUBPROTOCOLS },
    ...ismStreams.routes,
    legacyDataSources.route,
    legacySocket,
  ];
  routeUpgrades(httpServer, upgradeRoutes, { log, metrics });
  const recordRpc = dependencies.recordRpc
    ? createRecordRpc({ runner, endpoint: dependencies.recordRpc, auth, config: config.devices, log })
    : undefined;

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= gracefulStop();
    return stopping;
  };

  async function gracefulStop(): Promise<void> {
    const startedAt = Date.now();
    // Whatever the clients do, each phase has its share of SHUTDOWN_TIMEOUT: sockets the first
    // half, HTTP connections the third quarter, the services, the broker and the database the rest.
    const socketsBy = startedAt + config.http.shutdownTimeoutMs / 2;
    const connectionsBy = startedAt + (config.http.shutdownTimeoutMs * 3) / 4;
    draining = true;
    const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    shutdown.abort();
    // Let the `complete` messages of the ended subscriptions reach the sockets before closing.
    await new Promise((resolve) => setImmediate(resolve));
    // A client that never answers its close frame is cut (ws alone would wait 30 s for it).
    await untilDeadline(
      Promise.all([
        graphqlWs.dispose(),
        ismStreams.dispose(),
        legacyDataSources.dispose(),
        legacySocket.dispose(),
      ]),
      socketsBy,
    );
    for (const route of upgradeRoutes) for (const socket of route.server.clients) socket.terminate();
    legacySse.dispose();
    graphqlSse.dispose();
    eventStreams.dispose();
    httpServer.closeIdleConnections();
    // New requests on kept-alive connections are answered 503 + Connection: close meanwhile
    // (drainingListener); what is still open at connectionsBy is cut.
    await untilDeadline(closed, connectionsBy);
    httpServer.closeAllConnections();
    await recordRpc?.stop();
    await yoga.dispose();
  }

  return {
    yoga,
    httpServer,
    transportStats,
    start: async () => {
      await recordRpc?.start();
    },
    listen: (port = config.http.port, host = config.http.host) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const address = httpServer.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ port: address.port, url: `http://${shownHost}:${address.port}` });
        });
      }),
    stop,
  };
}
