import { setMaxListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../config/config.ts';
import { type Database, openDatabase } from '../db/create-database.ts';
import { createAuthService } from '../domain/auth/auth-service.ts';
import { createBrokerMessageBounds } from '../domain/broker-message-bounds.ts';
import { createDataSourceService } from '../domain/datasources/data-source-service.ts';
import { createDeviceService } from '../domain/devices/device-service.ts';
import { HEALTH_STATUS, type HealthProbe, refreshedProbe } from '../domain/health.ts';
import { createConnectionLimiter } from '../domain/limits/connection-limiter.ts';
import { createRouteService } from '../domain/routes/route-service.ts';
import { readRoutingFile } from '../domain/routes/routing-file.ts';
import type { AppServices } from '../domain/services.ts';
import { createStateService } from '../domain/states/state-service.ts';
import { startSyncStoreConsumer } from '../domain/states/sync-store-consumer.ts';
import { createTopicService } from '../domain/topics/topic-service.ts';
import { readTopicsFile } from '../domain/topics/topics-file.ts';
import { createLogger, type Logger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import type { Broker } from '../pubsub/broker.ts';
import { createBroker } from '../pubsub/create-broker.ts';
import type { GraphQLContext } from '../schema/context.ts';
import { schema } from '../schema/index.ts';
import { checkMutationRoles, useAuthGuard } from './auth/auth-guard-plugin.ts';
import { useTokenExpiry } from './auth/token-expiry-plugin.ts';
import { brokerProbes, mergeProbesByName } from './broker-probes.ts';
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
import { startRecordRpc } from './legacy-apigear/record-rpc.ts';
import { createLegacyDataSourceRoute } from './legacy-datasource/socket.ts';
import { createIsmStreamRoutes } from './legacy-ism/stream-socket.ts';
import { createLegacyAccess } from './legacy-topics/legacy-access.ts';
import { useLegacySse } from './legacy-topics/sse-stream.ts';
import { useLegacyStreamSocket } from './legacy-topics/stream-socket.ts';
import { createTopicOperations } from './legacy-topics/topic-operations.ts';
import { useInputBounds } from './limits/input-bounds.ts';
import {
  limitRefusals,
  useDocumentLimits,
  useMutationRateLimit,
  useSseConnectionLimit,
} from './limits/limits-plugins.ts';
import { createOperationRunner } from './operation-runner.ts';
import { useHttpMetrics } from './ops/http-metrics-plugin.ts';
import { liveRoute } from './ops/live-route.ts';
import { metricsRoute } from './ops/metrics-route.ts';
import { createOpenSubscriptions } from './ops/open-subscriptions.ts';
import { statsRoute } from './ops/stats-route.ts';
import { useSubscriptionMetrics } from './ops/subscription-metrics-plugin.ts';
import { useSubscriptionRefusalLog } from './ops/subscription-refusal-log.ts';
import { createTransportStats, type TransportStats } from './ops/transport-stats.ts';
import { useOneRequestErrorCode } from './request-error-codes.ts';
import { useEndSubscriptionsOnShutdown } from './shutdown-plugin.ts';
import { EventStreams } from './sse/event-stream.ts';
import { useGraphqlOverSse } from './sse/graphql-over-sse.ts';
import { topicPublishRoute } from './topic-publish-route.ts';
import { routeUpgrades } from './upgrade-router.ts';
import { useValidationLog } from './validation-log-plugin.ts';

/** A wired streamgate: yoga for HTTP and SSE, graphql-ws, plain routes; not yet listening. */
export interface App {
  // biome-ignore lint/suspicious/noExplicitAny: the Node server context is untyped in yoga
  readonly yoga: YogaServerInstance<any, GraphQLContext>;
  readonly httpServer: Server;
  readonly services: AppServices;
  /** Connections and messages per transport, for /stats and /metrics. */
  readonly transportStats: TransportStats;
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /**
   * Graceful stop: live subscriptions complete, graphql-ws sockets close with 1001, pending
   * writes flush, then the broker and database close. Bounded by SHUTDOWN_TIMEOUT.
   */
  stop(): Promise<void>;
}

/** Dependencies a caller may bring (tests share a broker between two apps, for instance). */
export interface AppDependencies {
  readonly log?: Logger;
  readonly db?: Database;
  readonly broker?: Broker;
}

/** Wires a streamgate from its config; `main.ts` only listens and drains. */
export async function buildApp(config: Config, dependencies: AppDependencies = {}): Promise<App> {
  // Before anything is opened: a MUTATION_ROLES typo is a config error (exit 2).
  checkMutationRoles(config.auth.mutationRoles, schema);
  const log = dependencies.log ?? createLogger(config);
  // Read before anything is opened: a bad routing file stops start-up with nothing to clean up.
  const fileRoutes = config.ism.routingFile ? await readRoutingFile(config.ism.routingFile) : undefined;
  const fileTopics = config.topics.file ? await readTopicsFile(config.topics.file) : undefined;
  const db = dependencies.db ?? (await openDatabase(config));
  const broker = dependencies.broker ?? (await createBroker(config, log));
  const shutdown = new AbortController();
  // Every live subscription listens for shutdown; thousands of them are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const metrics = createMetrics();
  // The dev token may also subscribe to every topic of TOPICS_FILE.
  const topicRoles = fileTopics?.flatMap((topic) => topic.requiredRoles) ?? [];
  const auth = await createAuthService(config.auth, {
    extraRoles: [...config.topics.publisherRoles, ...topicRoles],
  });
  const connectionLimiter = createConnectionLimiter({
    maxWebSocket: config.limits.maxWsConnections,
    maxSse: config.limits.maxSseConnections,
    maxPerUser: config.limits.maxConnectionsPerUser,
    maxPerTenant: config.limits.maxConnectionsPerTenant,
  });
  // Messages other producers put on the broker: out of bounds, dropped, logged and counted.
  const messageBounds = createBrokerMessageBounds({ maxJsonDepth: config.limits.maxJsonDepth, log, metrics });
  const topics = createTopicService({ config, log, prisma: db.prisma, broker, metrics, messageBounds });
  await topics.start(fileTopics);

  const stateRoutes = createRouteService({ db, log, cacheTtlMs: config.ism.stateCacheTtlMs });
  if (fileRoutes) await stateRoutes.loadFileRoutes(fileRoutes);
  const states = createStateService({ config, db, broker, log, routes: stateRoutes, messageBounds });
  states.outbox.start();
  const syncStore = startSyncStoreConsumer({
    broker,
    subject: config.ism.syncStoreSubject,
    states,
    routes: stateRoutes,
    log,
    metrics,
    maxJsonDepth: config.limits.maxJsonDepth,
  });
  const dataSources = createDataSourceService({ config, db, broker, log });
  await dataSources.start();

  const databaseHealth = refreshedProbe(databaseProbe(db), config.http.healthProbeIntervalMs);
  const topicHealth = (await topics.healthProbes()).map((probe) =>
    refreshedProbe(probe, config.http.healthProbeIntervalMs),
  );
  const roundTripProbes = [databaseHealth, ...topicHealth];
  const services: AppServices = {
    config,
    log,
    db,
    broker,
    metrics,
    topics,
    auth,
    connectionLimiter,
    // The broker's probes read its connection state (free); the others are round trips,
    // refreshed in the background.
    healthProbes: mergeProbesByName([databaseHealth, ...brokerProbes(broker), ...topicHealth]),
    startedAt: Date.now(),
    shutdownSignal: shutdown.signal,
    states,
    routes: stateRoutes,
    syncStore,
    devices: createDeviceService({ config, db, broker, log, messageBounds }),
    dataSources,
  };
  const transportStats = createTransportStats(metrics, { windowMs: config.topics.statsWindowMs });
  const openSubscriptions = createOpenSubscriptions(metrics);
  const maskError = createErrorMasker(log);
  // Every transport runs its operations through this seam; yoga is built below, as it serves
  // the adapters' routes, hence the getter.
  const runner = createOperationRunner(() => yoga, maskError);
  const groups = new SubscriptionGroups({
    onDelivered: (transport, count) => transportStats.messageSent(transport, count),
    onStartFailure: (error) => {
      log.error({ err: error }, 'subscription failed to start');
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
    }),
    topicPublishRoute({ runner, maxBodyBytes: config.http.maxPayloadBytes }),
    ...legacySse.routes,
    graphqlSseRoute(runner, maskError),
  ];

  const buildContext = createContextFactory(services);
  const eventStreams = new EventStreams({
    maxBufferedBytes: config.limits.maxClientBufferBytes,
    onSlowConsumer: (buffered) => {
      limitRefusals(metrics).inc({ limit: 'MAX_CLIENT_BUFFER' });
      log.warn({ buffered }, 'SSE slow consumer cut off');
    },
  });
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
      useSseConnectionLimit(connectionLimiter, metrics),
      useGraphqlOverSse({
        runner,
        groups,
        streams: eventStreams,
        buildContext,
        limiter: connectionLimiter,
        stats: transportStats,
        openSubscriptions,
        onRefused: (limit) => limitRefusals(metrics).inc({ limit }),
      }),
      useTokenExpiry(),
      useSubscriptionMetrics(transportStats, openSubscriptions),
      useSubscriptionRefusalLog(log),
      useOneRequestErrorCode(),
      useEndSubscriptionsOnShutdown(shutdown.signal),
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
  const recordRpc = config.devices.recordRpc
    ? await startRecordRpc({ runner, broker, auth, config: config.devices, log })
    : undefined;
  // In the background: resuming recordings may wait on the broker; ingest does not depend on it.
  void services.devices.start();

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= gracefulStop();
    return stopping;
  };

  async function gracefulStop(): Promise<void> {
    const startedAt = Date.now();
    // Whatever the clients do, each phase has its share of SHUTDOWN_TIMEOUT: sockets the first
    // half, HTTP connections the third quarter, the broker and the database the rest.
    const socketsBy = startedAt + config.http.shutdownTimeoutMs / 2;
    const connectionsBy = startedAt + (config.http.shutdownTimeoutMs * 3) / 4;
    log.info('shutting down');
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
    eventStreams.dispose();
    httpServer.closeIdleConnections();
    // New requests on kept-alive connections are answered 503 + Connection: close meanwhile
    // (drainingListener); what is still open at connectionsBy is cut.
    await untilDeadline(closed, connectionsBy);
    httpServer.closeAllConnections();
    await yoga.dispose();
    for (const probe of roundTripProbes) probe.stop();
    await topics.close();
    await syncStore.stop();
    await states.outbox.stop();
    await recordRpc?.stop();
    await services.devices.stop();
    await dataSources.stop();
    if (!dependencies.broker) await broker.close();
    if (!dependencies.db) await db.close();
    log.info('stopped');
  }

  return {
    yoga,
    httpServer,
    services,
    transportStats,
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

/** Waits for `work`, but no later than `deadline` (epoch ms); whatever is left keeps going. */
async function untilDeadline(work: Promise<unknown>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work,
    new Promise((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    }),
  ]);
  clearTimeout(timer);
}

function databaseProbe(db: Database): HealthProbe {
  return {
    name: 'database',
    required: true,
    check: async () => ({ status: HEALTH_STATUS.OK, latencyMs: await db.ping() }),
  };
}
