import { AppError, ERROR_CODES, UnavailableError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import type { Broker, BrokerMessage, Subscription } from '../../pubsub/broker.ts';
import { AmbiguousRouteError } from '../routes/route-matching.ts';
import type { RouteService } from '../routes/route-service.ts';
import { parseSyncMessage, SYNC_REJECTION, type SyncRejection } from './state-messages.ts';
import type { StateService } from './state-service.ts';

/** The queue group of the sync store: with several instances each message is persisted once. */
export const SYNC_STORE_QUEUE = 'streamgate-sync-store';

/** Counters of the sync store since start-up; /metrics has them as ism_sync_store_messages_total. */
export interface SyncStoreStats {
  readonly received: number;
  readonly persisted: number;
  /** Our own forwarded `query_state_entry` messages seen on the subject. */
  readonly ignored: number;
  /** Malformed or unusable messages, by reason: nothing was written for them. */
  readonly rejected: Readonly<Partial<Record<SyncRejection, number>>>;
  /** Messages that could not be persisted for a reason of ours (the database was away). */
  readonly failed: number;
}

export interface SyncStoreConsumer {
  readonly subject: string;
  stats(): SyncStoreStats;
  /** Resolves once the subscription is gone and the message in hand is finished. */
  stop(): Promise<void>;
}

// The subject of a state, and of one of its sessions: where a route may lead.
const STATE_SUBJECT = /^processor\.state\.([^.]+)(?:\.([^.]+))?$/;

/**
 * The state sync store (legacy.md B): consumes `query_state_direct` and `query_state_route` on
 * the sync-store subject and persists them like publishStateEntries does. A malformed message is
 * logged with its reason and counted; nothing is written for it.
 */
export function startSyncStoreConsumer(options: {
  broker: Broker;
  subject: string;
  states: StateService;
  routes: RouteService;
  log: Logger;
  metrics: Metrics;
  /** MAX_JSON_DEPTH: deeper messages are rejected before anything walks them. */
  maxJsonDepth: number;
}): SyncStoreConsumer {
  const { subject, states, routes } = options;
  const log = options.log.child({ component: 'sync-store', subject });
  const counts = { received: 0, persisted: 0, ignored: 0, failed: 0 };
  const rejected: Partial<Record<SyncRejection, number>> = {};
  const counter = options.metrics.counter({
    name: 'ism_sync_store_messages_total',
    help: 'Messages the ISM sync store took from its subject, by result (persisted, ignored, rejected, failed) and rejection reason.',
    labelNames: ['result', 'reason'],
  });
  const count = (result: 'persisted' | 'ignored' | 'failed', reason = '') => {
    counts[result] += 1;
    counter.inc({ result, reason });
  };
  const reject = (reason: SyncRejection, message: string) => {
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    counter.inc({ result: 'rejected', reason });
    log.warn({ reason }, `sync store: message rejected, nothing written: ${message}`);
  };

  const handle = async (message: BrokerMessage): Promise<void> => {
    counts.received += 1;
    const parsed = parseSyncMessage(message.payload, options.maxJsonDepth);
    if (parsed.kind === 'ignored') {
      count('ignored');
      log.debug(`sync store: ignored (${parsed.reason})`);
      return;
    }
    if (parsed.kind === 'rejected') return reject(parsed.reason, parsed.message);

    let stateId = parsed.stateId;
    let sessionId = parsed.sessionId;
    if (parsed.kind === 'route') {
      try {
        const route = (await routes.table()).resolve(parsed.routeId);
        const target = STATE_SUBJECT.exec(route.subject);
        if (stateId === null && (!target || route.subject === subject)) {
          return reject(
            SYNC_REJECTION.ROUTE_NOT_A_STATE,
            `route "${route.id}" leads to "${route.subject}", which is not a state's subject, and the message has no state_id`,
          );
        }
        stateId ??= target?.[1] ?? null;
        sessionId ??= target?.[2] ?? null;
      } catch (error) {
        if (error instanceof AmbiguousRouteError)
          return reject(SYNC_REJECTION.AMBIGUOUS_ROUTE, error.message);
        if (error instanceof AppError && error.code === ERROR_CODES.NOT_FOUND) {
          return reject(SYNC_REJECTION.UNKNOWN_ROUTE, `no route for route_id "${parsed.routeId}"`);
        }
        throw error;
      }
    }
    if (stateId === null) return reject(SYNC_REJECTION.MISSING_STATE_ID, 'state_id is missing');

    try {
      await states.publish(stateId, sessionId, parsed.entries, null, { fromNetwork: true });
      count('persisted');
    } catch (error) {
      if (error instanceof UnavailableError) {
        // Persisted; the outbox publishes it when the broker is back.
        count('persisted');
        return;
      }
      if (error instanceof AppError) {
        const reason =
          error.code === ERROR_CODES.PAYLOAD_TOO_LARGE || error.code === ERROR_CODES.LIMIT_EXCEEDED
            ? SYNC_REJECTION.TOO_LARGE
            : error.code === ERROR_CODES.NOT_FOUND
              ? SYNC_REJECTION.NOT_FOUND
              : /^entries/.test(error.message)
                ? SYNC_REJECTION.BAD_ENTRY
                : SYNC_REJECTION.BAD_ID;
        return reject(reason, error.message.replace(/^entries/, 'query_state'));
      }
      count('failed');
      log.error({ err: error, stateId }, 'sync store: could not persist a message');
    }
  };

  let stopped = false;
  let subscription: Subscription = options.broker.subscribe(subject, { queue: SYNC_STORE_QUEUE });
  const running = (async () => {
    while (!stopped) {
      try {
        for await (const message of subscription) {
          try {
            await handle(message);
          } catch (error) {
            count('failed');
            log.error({ err: error }, 'sync store: could not handle a message');
          }
        }
      } catch (error) {
        log.error({ err: error }, 'sync store: the subscription ended with an error; subscribing again');
      }
      if (stopped) break;
      // Ended without stop(): the broker dropped us (slow consumer, closed). Come back.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (stopped) break;
      try {
        subscription = options.broker.subscribe(subject, { queue: SYNC_STORE_QUEUE });
      } catch (error) {
        log.error({ err: error }, 'sync store: cannot subscribe; stopping');
        break;
      }
    }
  })();

  return {
    subject,
    stats: () => ({ ...counts, rejected: { ...rejected } }),
    async stop() {
      stopped = true;
      subscription.unsubscribe();
      await running;
    },
  };
}
