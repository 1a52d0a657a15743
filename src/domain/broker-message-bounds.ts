/**
 * The bounds of a message that another producer put on the broker (a Kafka-sourced topic, a
 * NATS or Redis subject streamgate reads). Such a message never passed our input checks: nested
 * deeper than MAX_JSON_DEPTH it would overflow the stack of whatever serialises it for a client,
 * and text Postgres refuses (NUL, an unpaired surrogate) would fail a recording or the sync store.
 * It is dropped, logged and counted, and the stream goes on with the next message: one bad
 * producer must not end every subscriber's stream.
 */
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { describeJsonViolation, findJsonViolation } from './json-bounds.ts';

/** Where the message was read: the `path` label of broker_messages_dropped_total. */
export const BROKER_MESSAGE_PATHS = {
  DEVICE: 'device',
  TOPIC: 'topic',
  STATE: 'state',
} as const;
export type BrokerMessagePath = (typeof BROKER_MESSAGE_PATHS)[keyof typeof BROKER_MESSAGE_PATHS];

export interface BrokerMessageBounds {
  readonly maxJsonDepth: number;
  /**
   * True when `data` (the message as parsed: JSON, or its text) may be delivered; otherwise the
   * message is logged with `source` (subject or Kafka topic), counted, and must be skipped.
   */
  admits(path: BrokerMessagePath, source: string, data: unknown): boolean;
}

export function createBrokerMessageBounds(options: {
  readonly maxJsonDepth: number;
  readonly log: Logger;
  readonly metrics: Metrics;
}): BrokerMessageBounds {
  const { maxJsonDepth } = options;
  const log = options.log.child({ component: 'broker-message-bounds' });
  const dropped = options.metrics.counter({
    name: 'broker_messages_dropped_total',
    help: 'Messages read from a broker and dropped for a bound (MAX_JSON_DEPTH, text Postgres refuses), by path and reason.',
    labelNames: ['path', 'reason'],
  });
  return {
    maxJsonDepth,
    admits(path, source, data) {
      if (typeof data !== 'object' && typeof data !== 'string') return true;
      const violation = findJsonViolation(data, maxJsonDepth);
      if (!violation) return true;
      dropped.inc({ path, reason: violation.kind });
      log.warn(
        { path, source, reason: violation.kind },
        `broker message dropped: it ${describeJsonViolation(violation, maxJsonDepth)}`,
      );
      return false;
    },
  };
}
