import type { Config } from '../config/config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { AuthService } from './auth/auth-service.ts';
import type { DataSourceService } from './datasources/data-source-service.ts';
import type { DeviceService } from './devices/device-service.ts';
import type { HealthProbe } from './health.ts';
import type { ConnectionLimiter } from './limits/connection-limiter.ts';
import type { RouteService } from './routes/route-service.ts';
import type { StateService } from './states/state-service.ts';
import type { SyncStoreConsumer } from './states/sync-store-consumer.ts';
import type { TopicService } from './topics/topic-service.ts';

/**
 * The domain as the transports and resolvers see it (GraphQLContext.services), built once by the
 * composition root (src/main/app.ts) and shared by every request. It holds no database and no
 * broker: those stay below the domain. Each domain issue adds its service here.
 */
export interface AppServices {
  readonly config: Config;
  readonly log: Logger;
  /** Prometheus metrics of this instance; any layer may add its own (src/metrics.ts). */
  readonly metrics: Metrics;
  /** Topics: registry, entitlements, filtered subscriptions, Kafka consumption (issue 6). */
  readonly topics: TopicService;
  /** Identity: token verification, mutation roles, the dev token (issue 4, docs/auth.md). */
  readonly auth: AuthService;
  /**
   * Connection slots (MAX_WS_CONNECTIONS, MAX_SSE_CONNECTIONS, per user, per tenant): every
   * transport that holds a connection open acquires one (docs/limits.md).
   */
  readonly connectionLimiter: ConnectionLimiter;
  readonly healthProbes: readonly HealthProbe[];
  /** Epoch ms of start-up, for uptime. */
  readonly startedAt: number;
  /** Aborted when the server starts shutting down: live streams end on it. */
  readonly shutdownSignal: AbortSignal;
  /** ISM: states, entries, the outbox relay (docs/ism.md). */
  readonly states: StateService;
  /** ISM: the routing table of the state router. */
  readonly routes: RouteService;
  /** ISM: the sync-store consumer; `stats()` has its counters. */
  readonly syncStore: SyncStoreConsumer;
  /** Devices: ingest, buffer windows, recordings, replay (docs/devices.md). */
  readonly devices: DeviceService;
  /** Data sources: requesters, providers and `datasource.{ds}` on the broker. */
  readonly dataSources: DataSourceService;
}
