import type { SubscribeOptions } from './broker.ts';
import { InvalidPositionError, InvalidSubscribeOptionsError } from './errors.ts';

/**
 * Reads a position made of one sequence number (memory: the broker's sequence; NATS: the
 * JetStream stream sequence). 0 means "before the first message".
 */
export function parseSequencePosition(position: string): number {
  if (!/^\d{1,15}$/.test(position)) throw new InvalidPositionError(position, 'a sequence number');
  return Number(position);
}

/** A replay is per subscriber, a queue group shares messages: the two do not combine. */
export function rejectQueueWithFrom(options: SubscribeOptions | undefined): void {
  if (options?.from !== undefined && options.queue !== undefined) {
    throw new InvalidSubscribeOptionsError('a subscription with `from` cannot be in a queue group');
  }
}
