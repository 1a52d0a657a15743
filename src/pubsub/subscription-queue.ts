import type { BrokerMessage, Subscription } from './broker.ts';
import { BrokerUnavailableError } from './errors.ts';
import { Fifo } from './message-fifo.ts';

/** A subscriber let its queue grow past the byte limit; it is ended rather than grow memory. */
export class SlowConsumerError extends BrokerUnavailableError {
  constructor(pattern: string, limitBytes: number) {
    super(`subscriber of "${pattern}" fell more than ${limitBytes} bytes behind and was ended`);
  }
}

/** @default 16 MiB: what one local subscriber may hold unread before it is ended. */
export const DEFAULT_SUBSCRIBER_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * The push side of a subscription: a backend pushes messages in, the consumer iterates them.
 * The buffer between the two is bounded in bytes (DESIGN.md decision 5).
 */
export interface SubscriptionQueue {
  readonly subscription: Subscription;
  /** False once the subscription has ended; pushing then is a no-op. */
  readonly active: boolean;
  push(message: BrokerMessage): void;
  /** Ends the iteration, with an error for the consumer when one is given. */
  end(error?: Error): void;
  /** Settles `subscription.ready` like `setup` settles (the first call wins). */
  settleReady(setup: Promise<void>): void;
}

export function createSubscriptionQueue(
  pattern: string,
  onEnd: () => void,
  limitBytes = DEFAULT_SUBSCRIBER_BUFFER_BYTES,
): SubscriptionQueue {
  const buffered = new Fifo<BrokerMessage>();
  let bufferedBytes = 0;
  let waiting: ((result: IteratorResult<BrokerMessage>) => void) | undefined;
  let failWaiting: ((error: Error) => void) | undefined;
  let ended = false;
  let endError: Error | undefined;
  let resolveReady: () => void = () => undefined;
  let rejectReady: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nobody has to await `ready`; an unobserved failure must not become an unhandled rejection.
  ready.catch(() => undefined);

  const finish = (error?: Error) => {
    if (ended) return;
    ended = true;
    endError = error;
    if (error) rejectReady(error);
    else resolveReady();
    onEnd();
    if (waiting) {
      const resolve = waiting;
      const reject = failWaiting;
      waiting = undefined;
      failWaiting = undefined;
      if (error && reject) reject(error);
      else resolve({ value: undefined, done: true });
    }
  };

  const iterator: AsyncIterator<BrokerMessage> = {
    next() {
      const message = buffered.shift();
      if (message) {
        bufferedBytes -= message.payload.byteLength;
        return Promise.resolve({ value: message, done: false });
      }
      if (ended) {
        if (endError) {
          const error = endError;
          endError = undefined; // report once, then behave as finished
          return Promise.reject(error);
        }
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve, reject) => {
        waiting = resolve;
        failWaiting = reject;
      });
    },
    return() {
      buffered.clear();
      bufferedBytes = 0;
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
  };

  const subscription: Subscription = {
    pattern,
    ready,
    unsubscribe: () => {
      buffered.clear();
      bufferedBytes = 0;
      finish();
    },
    [Symbol.asyncIterator]: () => iterator,
  };

  return {
    subscription,
    get active() {
      return !ended;
    },
    push(message) {
      if (ended) return;
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        failWaiting = undefined;
        resolve({ value: message, done: false });
        return;
      }
      buffered.push(message);
      bufferedBytes += message.payload.byteLength;
      if (bufferedBytes > limitBytes) {
        buffered.clear();
        bufferedBytes = 0;
        finish(new SlowConsumerError(pattern, limitBytes));
      }
    },
    end: finish,
    settleReady(setup) {
      setup.then(resolveReady, (error: unknown) =>
        rejectReady(error instanceof Error ? error : new Error(String(error))),
      );
    },
  };
}
