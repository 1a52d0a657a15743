/**
 * The composition root (DESIGN.md, Layers): the one module that knows every layer. It builds
 * config → database → broker → domain services → transports, starts each through one lifecycle
 * registry and stops them in reverse, so the transports hold no database or broker of their own.
 */
import { setMaxListeners } from 'node:events';
import type { Config } from '../config/config.ts';
import { type Database, openDatabase } from '../db/create-database.ts';
import { isDatabaseUnavailable } from '../db/database-unavailable.ts';
import { createAuthService } from '../domain/auth/auth-service.ts';
import { createBrokerMessageBounds } from '../domain/broker-message-bounds.ts';
import { createDataSourceService } from '../domain/datasources/data-source-service.ts';
import { createDeviceService } from '../domain/devices/device-service.ts';
import { type HealthProbe, refreshedProbe } from '../domain/health.ts';
import { createConnectionLimiter } from '../domain/limits/connection-limiter.ts';
import { brokerRequestEndpoint } from '../domain/request-endpoint.ts';
import { createRouteService } from '../domain/routes/route-service.ts';
import { readRoutingFile } from '../domain/routes/routing-file.ts';
import type { AppServices } from '../domain/services.ts';
import { createStateService } from '../domain/states/state-service.ts';
import { createSyncStoreConsumer } from '../domain/states/sync-store-consumer.ts';
import { createTopicService } from '../domain/topics/topic-service.ts';
import { readTopicsFile } from '../domain/topics/topics-file.ts';
import { createLogger, type Logger } from '../log.ts';
import { createMetrics } from '../metrics.ts';
import type { Broker } from '../pubsub/broker.ts';
import { createBroker } from '../pubsub/create-broker.ts';
import { subjects } from '../pubsub/subjects.ts';
import { schema } from '../schema/index.ts';
import { checkMutationRoles } from '../server/auth/auth-guard-plugin.ts';
import { buildTransports, type Transports } from '../server/transports.ts';
import { brokerProbes, databaseProbe, mergeProbesByName } from './health-probes.ts';
import { Lifecycle } from './lifecycle.ts';

/** The domain services plus what they were built on, for the start path and tests to inspect. */
export interface WiredServices extends AppServices {
  readonly db: Database;
  readonly broker: Broker;
}

/** A wired streamgate: its transports and the services under them; not yet listening. */
export interface App extends Pick<Transports, 'yoga' | 'httpServer' | 'transportStats' | 'listen'> {
  readonly services: WiredServices;
  /**
   * Graceful stop in reverse order of start: the transports (live subscriptions complete,
   * graphql-ws sockets close with 1001, pending writes flush), then the domain services, the
   * broker and the database. Bounded by SHUTDOWN_TIMEOUT for the transports.
   */
  stop(): Promise<void>;
}

/** Dependencies a caller may bring (tests share a broker between two apps); the app leaves them open. */
export interface AppDependencies {
  readonly log?: Logger;
  readonly db?: Database;
  readonly broker?: Broker;
}

/** Wires and starts a streamgate from its config; `run-server.ts` only listens and drains. */
export async function buildApp(config: Config, dependencies: AppDependencies = {}): Promise<App> {
  // Before anything is opened: a MUTATION_ROLES typo is a config error (exit 2).
  checkMutationRoles(config.auth.mutationRoles, schema);
  const log = dependencies.log ?? createLogger(config);
  // Read before anything is opened: a bad routing file stops start-up with nothing to clean up.
  const fileRoutes = config.ism.routingFile ? await readRoutingFile(config.ism.routingFile) : undefined;
  const fileTopics = config.topics.file ? await readTopicsFile(config.topics.file) : undefined;
  const lifecycle = new Lifecycle(log);

  const { services, transports } = await lifecycle.building(async () => {
    const db = dependencies.db ?? (await openDatabase(config));
    lifecycle.adopt('database', dependencies.db ? undefined : () => db.close());
    const broker = dependencies.broker ?? (await createBroker(config, log));
    lifecycle.adopt('broker', dependencies.broker ? undefined : () => broker.close());

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
    const messageBounds = createBrokerMessageBounds({
      maxJsonDepth: config.limits.maxJsonDepth,
      log,
      metrics,
    });

    const topics = await lifecycle.start(
      'topics',
      createTopicService({ config, log, prisma: db.prisma, broker, metrics, messageBounds, fileTopics }),
    );
    const routes = createRouteService({ db, log, cacheTtlMs: config.ism.stateCacheTtlMs });
    if (fileRoutes) await routes.loadFileRoutes(fileRoutes);
    const states = createStateService({ config, db, broker, log, metrics, routes, messageBounds });
    await lifecycle.start('state outbox', states.outbox);
    const syncStore = createSyncStoreConsumer({
      broker,
      subject: config.ism.syncStoreSubject,
      states,
      routes,
      log,
      metrics,
      maxJsonDepth: config.limits.maxJsonDepth,
      bufferBytes: config.ism.syncStoreBufferBytes,
    });
    await lifecycle.start('sync store', syncStore);
    const dataSources = await lifecycle.start(
      'data sources',
      createDataSourceService({ config, db, broker, log }),
    );
    // Resuming recordings may wait on the broker: start() leaves that work in the background.
    const devices = await lifecycle.start(
      'devices',
      createDeviceService({ config, db, broker, log, metrics, messageBounds }),
    );

    // Round trips, refreshed in the background so that /health costs none.
    const refreshed = (probe: HealthProbe) => {
      const running = refreshedProbe(probe, config.http.healthProbeIntervalMs);
      lifecycle.adopt(`${probe.name} probe`, () => running.stop());
      return running;
    };
    const databaseHealth = refreshed(databaseProbe(db));
    const topicHealth = (await topics.healthProbes()).map(refreshed);
    const services: WiredServices = {
      config,
      log,
      db,
      broker,
      metrics,
      topics,
      auth,
      connectionLimiter,
      // The broker's probes read its connection state: free, asked on every request.
      healthProbes: mergeProbesByName([databaseHealth, ...brokerProbes(broker), ...topicHealth]),
      startedAt: Date.now(),
      shutdownSignal: shutdown.signal,
      states,
      routes,
      syncStore,
      devices,
      dataSources,
    };

    const transports = buildTransports({
      services,
      shutdown,
      isDatabaseUnavailable,
      ...(config.devices.recordRpc
        ? {
            recordRpc: brokerRequestEndpoint(broker, subjects.recordRpc, {
              // Instances answer as one queue group: a request is answered once however many run.
              queue: 'streamgate-record-rpc',
            }),
          }
        : {}),
    });
    // Last built, first stopped: clients are drained before anything they use goes away.
    await lifecycle.start('transports', transports);
    return { services, transports };
  });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down');
      // The transports take their share of SHUTDOWN_TIMEOUT; the services, the broker and the
      // database the rest, and a dependency that does not answer is not waited for past it.
      await lifecycle.stop(Date.now() + config.http.shutdownTimeoutMs);
      log.info('stopped');
    })();
    return stopping;
  };

  return {
    yoga: transports.yoga,
    httpServer: transports.httpServer,
    transportStats: transports.transportStats,
    listen: transports.listen,
    services,
    stop,
  };
}
