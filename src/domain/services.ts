import type { Config } from '../config.ts';
import type { Database } from '../db/create-database.ts';
import type { Logger } from '../log.ts';
import type { Broker } from '../pubsub/broker.ts';
import type { HealthProbe } from './health.ts';

/**
 * Everything the domain needs from below, built once by buildApp and shared by every request.
 * Each domain issue adds its service here.
 */
export interface AppServices {
  readonly config: Config;
  readonly log: Logger;
  readonly db: Database;
  readonly broker: Broker;
  readonly healthProbes: readonly HealthProbe[];
  /** Epoch ms of start-up, for uptime. */
  readonly startedAt: number;
  /** Aborted when the server starts shutting down: live streams end on it. */
  readonly shutdownSignal: AbortSignal;
}
