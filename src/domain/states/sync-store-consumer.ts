import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDatabaseUnavailable } from '../../db/database-unavailable.ts';
import { AppError, ERROR_CODES, UnavailableError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import type { Broker, BrokerMessage, Subscription } from '../../pubsub/broker.ts';
import { Fifo } from '../../pubsub/message-fifo.ts';
import { AmbiguousRouteError } from '../routes/route-matching.ts';
import type { RouteService } from '../routes/route-service.ts';
import { parseSyncMessage, SYNC_REJECTION, type SyncRejection } from './state-messages.ts';
import type { StateService } from './state-service.ts';

/** The longest wait between two attempts to persist a message while the database is away. */
const RETRY_MAX_WAIT_MS = 2_000;
/** The first wait; it doubles up to RETRY_MAX_WAIT_MS. */
const RETRY_FIRST_WAIT_MS = 100;

/**
 * Bounds of one batch: the messages waiting when the writer comes round are written in one
 * transaction, at most this many of them and about this many bytes of payload (a transaction
 * that stays short, and a retry that rewrites a bounded amount).
 */
const BATCH_MAX_MESSAGES = 500;
const BATCH_MAX_BYTES = 1024 * 1024;

/** One message's target and entries, resolved from its state_id or route. */
interface NetworkMessage {
  readonly stateId: string;
  readonly sessionId: string | null;
  readonly entries: readonly unknown[];
  /**
   * The message's own key where the broker may deliver it again to another instance (Kafka's
   * queue group after a crash): the first entry's id, so it is written once however often it
   * comes (entry-writer.ts).
   */
  readonly key: string | undefined;
}

/** The entry key of a message the broker may deliver again (BrokerMessage.redeliveryKey). */
function keyOf(message: BrokerMessage): string | undefined {
  return message.redeliveryKey === undefined ? undefined : `sync/${message.redeliveryKey}`;
}

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
  /** Messages that could not be persisted for a reason of ours other than an unreachable database. */
  readonly failed: number;
  /** Attempts that found the database unreachable; the message was tried again until it was back. */
  readonly retried: number;
  /**
   * Messages never written because the store could not keep them: received while SYNC_STORE_BUFFER
   * was full (the database away for long), or still waiting when the server stopped.
   */
  readonly dropped: number;
  /** Messages received and waiting for their turn now (their bytes count toward SYNC_STORE_BUFFER). */
  readonly waiting: number;
}

export interface SyncStoreConsumer {
  readonly subject: string;
  stats(): SyncStoreStats;
  /** Subscribes to the subject (as one queue group with the other instances) and begins writing. */
  start(): void;
  /**
   * Unsubscribes, writes what is waiting while the database answers (a message that finds it
   * unreachable now is dropped and counted), and resolves when done. The caller bounds the wait.
   */
  stop(): Promise<void>;
}

/** publish's UNAVAILABLE for a broker that is away: the entries were persisted, the outbox publishes them. */
function persistedUnpublished(error: unknown): boolean {
  return error instanceof UnavailableError && error.details?.step === 'publish';
}

// The subject of a state, and of one of its sessions: where a route may lead.
const STATE_SUBJECT = /^processor\.state\.([^.]+)(?:\.([^.]+))?$/;

type Result = 'persisted' | 'ignored' | 'failed' | 'retried' | 'dropped';

/**
 * The state sync store (legacy.md B): consumes `query_state_direct` and `query_state_route` on
 * the sync-store subject and persists them like publishStateEntries does. A malformed message is
 * logged with its reason and counted; nothing is written for it.
 *
 * Core NATS keeps no copy of what it delivered, so a message the database could not take is
 * not given up: it is written again until the database is back, and the messages behind it wait,
 * in order, in a buffer bounded by `bufferBytes` (SYNC_STORE_BUFFER). Past that bound the newest
 * messages are dropped, counted (`dropped`) and logged: the subject has no flow control to push
 * back on, and the alternative, growing without bound, would end the process instead.
 */
export function createSyncStoreConsumer(options: {
  broker: Broker;
  subject: string;
  states: StateService;
  routes: RouteService;
  log: Logger;
  metrics: Metrics;
  /** MAX_JSON_DEPTH: deeper messages are rejected before anything walks them. */
  maxJsonDepth: number;
  /** SYNC_STORE_BUFFER: bytes of received messages that may wait for the database. */
  bufferBytes: number;
}): SyncStoreConsumer {
  const { subject, states, routes } = options;
  const log = options.log.child({ component: 'sync-store', subject });
  const counts = { received: 0, persisted: 0, ignored: 0, failed: 0, retried: 0, dropped: 0 };
  const rejected: Partial<Record<SyncRejection, number>> = {};
  const counter = options.metrics.counter({
    name: 'ism_sync_store_messages_total',
    help: 'Messages the ISM sync store took from its subject, by result (persisted, ignored, rejected, failed; dropped: not kept, SYNC_STORE_BUFFER full or shutdown; retried: an attempt that found the database unreachable) and rejection reason.',
    labelNames: ['result', 'reason'],
  });
  const count = (result: Result, reason = '', by = 1) => {
    counts[result] += by;
    counter.inc({ result, reason }, by);
  };
  const reject = (reason: SyncRejection, message: string): undefined => {
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    counter.inc({ result: 'rejected', reason });
    log.warn({ reason }, `sync store: message rejected, nothing written: ${message}`);
  };

  let stopped = false;
  const stopping = new AbortController();
  /** A pause that stop() cuts short. */
  const nap = (ms: number) => sleep(ms, undefined, { signal: stopping.signal }).catch(() => undefined);

  /**
   * Runs `attempt` again while the database is unreachable (a restart, a failover) instead of
   * dropping the message: the broker acknowledged it to its producer and holds no copy, so this
   * is its only chance. After stop() an unreachable database ends the wait with the error.
   */
  const whileUnreachable = async <T>(attempt: () => Promise<T>): Promise<T> => {
    for (let failures = 0; ; failures++) {
      try {
        const result = await attempt();
        if (failures > 0) log.info({ attempts: failures + 1 }, 'sync store: the database is back');
        return result;
      } catch (error) {
        if (stopped || persistedUnpublished(error) || !isDatabaseUnavailable(error)) throw error;
        count('retried');
        if (failures === 0)
          log.warn({ err: error }, 'sync store: the database is unreachable; retrying the message');
        await nap(Math.min(RETRY_MAX_WAIT_MS, RETRY_FIRST_WAIT_MS * 2 ** failures));
      }
    }
  };

  /** The state a message writes to, or undefined when it is ignored or rejected (counted here). */
  const resolveTarget = async (message: BrokerMessage): Promise<NetworkMessage | undefined> => {
    const parsed = parseSyncMessage(message.payload, options.maxJsonDepth);
    if (parsed.kind === 'ignored') {
      count('ignored');
      log.debug(`sync store: ignored (${parsed.reason})`);
      return undefined;
    }
    if (parsed.kind === 'rejected') return reject(parsed.reason, parsed.message);

    let stateId = parsed.stateId;
    let sessionId = parsed.sessionId;
    if (parsed.kind === 'route') {
      try {
        const route = (await whileUnreachable(() => routes.table())).resolve(parsed.routeId);
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
    return { stateId, sessionId, entries: parsed.entries, key: keyOf(message) };
  };

  /** One message on its own, rejected with its reason when the state service refuses it. */
  const writeOne = async (target: NetworkMessage): Promise<void> => {
    // One key for every attempt: an attempt whose COMMIT went through although its answer was
    // lost (the database died right then) makes the next one a no-op instead of a duplicate;
    // the message's own key does the same for a delivery of it again.
    const retryKey = target.key ?? randomUUID();
    try {
      await whileUnreachable(() =>
        states.publish(target.stateId, target.sessionId, target.entries, null, { retryKey }),
      );
      count('persisted');
    } catch (error) {
      if (persistedUnpublished(error)) {
        // Persisted; the outbox publishes it when the broker is back.
        count('persisted');
        return;
      }
      if (error instanceof AppError && !isDatabaseUnavailable(error)) {
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
      throw error;
    }
  };

  /**
   * A batch of waiting messages in one transaction (StateService.publishFromNetwork): one key
   * for every attempt of the batch, as for one message. When the state service refuses the
   * batch for a reason of one message's (bad entry, too large…), nothing was written, and the
   * messages are written one by one, so only that one is rejected, with its reason.
   */
  const writeBatch = async (targets: readonly NetworkMessage[]): Promise<void> => {
    if (targets.length === 1) return writeOne(targets[0] as NetworkMessage);
    const retryKey = randomUUID();
    try {
      await whileUnreachable(() => states.publishFromNetwork(targets, retryKey));
    } catch (error) {
      if (!persistedUnpublished(error)) {
        if (error instanceof AppError && !isDatabaseUnavailable(error)) {
          for (const target of targets) {
            try {
              await writeOne(target);
            } catch (single) {
              if (stopped && isDatabaseUnavailable(single)) throw single;
              count('failed');
              log.error({ err: single }, 'sync store: could not persist a message');
            }
          }
          return;
        }
        throw error;
      }
    }
    count('persisted', '', targets.length);
  };

  // Received messages wait here for their turn, bounded in bytes: the subscription is read at
  // once whatever the database does, so it never falls behind at the broker.
  const waiting = new Fifo<BrokerMessage>();
  let waitingBytes = 0;
  let dropping = false;
  let wakeWriter: (() => void) | undefined;
  const admit = (message: BrokerMessage) => {
    counts.received += 1;
    const bytes = message.payload.byteLength;
    if (waitingBytes + bytes > options.bufferBytes && waiting.length > 0) {
      count('dropped', 'buffer_full');
      if (!dropping) {
        dropping = true;
        log.error(
          { waiting: waiting.length, waitingBytes, limitBytes: options.bufferBytes },
          'sync store: SYNC_STORE_BUFFER is full (the database has been away too long); dropping new messages until it drains',
        );
      }
      return;
    }
    if (dropping) {
      dropping = false;
      log.warn({ dropped: counts.dropped }, 'sync store: keeping messages again');
    }
    waiting.push(message);
    waitingBytes += bytes;
    wakeWriter?.();
  };

  const write = async (): Promise<void> => {
    for (;;) {
      const message = waiting.shift();
      if (!message) {
        if (stopped) return;
        await new Promise<void>((resolve) => {
          wakeWriter = resolve;
        });
        wakeWriter = undefined;
        continue;
      }
      waitingBytes -= message.payload.byteLength;
      // What waits behind it joins it, up to the batch's bounds: one transaction for them all.
      const batch = [message];
      let batchBytes = message.payload.byteLength;
      while (batch.length < BATCH_MAX_MESSAGES && batchBytes < BATCH_MAX_BYTES) {
        const next = waiting.shift();
        if (!next) break;
        waitingBytes -= next.payload.byteLength;
        batchBytes += next.payload.byteLength;
        batch.push(next);
      }
      try {
        const targets: NetworkMessage[] = [];
        for (const received of batch) {
          const target = await resolveTarget(received);
          if (target) targets.push(target);
        }
        if (targets.length > 0) await writeBatch(targets);
      } catch (error) {
        if (stopped && isDatabaseUnavailable(error)) {
          // Shutting down with the database away: what waits cannot be written either.
          const lost = batch.length + waiting.length;
          waiting.clear();
          waitingBytes = 0;
          count('dropped', 'shutdown', lost);
          log.error(
            { err: error, dropped: lost },
            'sync store: stopped while the database is unreachable; the waiting messages are dropped',
          );
        } else {
          count('failed', '', batch.length);
          log.error(
            { err: error, messages: batch.length },
            'sync store: could not persist a batch of messages',
          );
        }
      }
    }
  };

  let subscription: Subscription | undefined;
  const read = async (): Promise<void> => {
    while (subscription && !stopped) {
      try {
        for await (const message of subscription) admit(message);
      } catch (error) {
        log.error({ err: error }, 'sync store: the subscription ended with an error; subscribing again');
      }
      if (stopped) break;
      // Ended without stop(): the broker dropped us (slow consumer, closed). Come back.
      await nap(1_000);
      if (stopped) break;
      try {
        subscription = options.broker.subscribe(subject, { queue: SYNC_STORE_QUEUE });
      } catch (error) {
        log.error({ err: error }, 'sync store: cannot subscribe; stopping');
        break;
      }
    }
  };

  let writing: Promise<void> | undefined;
  let reading: Promise<void> | undefined;
  return {
    subject,
    stats: () => ({ ...counts, rejected: { ...rejected }, waiting: waiting.length }),
    start() {
      if (subscription || stopped) return;
      // Subscribed here, not in the loop: a subject the broker refuses fails the start-up.
      subscription = options.broker.subscribe(subject, { queue: SYNC_STORE_QUEUE });
      writing = write();
      reading = read();
    },
    async stop() {
      stopped = true;
      stopping.abort();
      subscription?.unsubscribe();
      wakeWriter?.();
      await reading;
      await writing;
    },
  };
}
