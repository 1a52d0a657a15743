import type { DataSourceRequest } from './provider.ts';

/**
 * @default 1000: requests a provider may have waiting unread. A provider that far behind would
 * only answer after the deadlines; further requests go to another provider instead.
 */
export const MAX_UNREAD_REQUESTS = 1000;

/** The requests of one provider as an async iterable (what `dataSourceRequests` yields). */
export interface ProviderStream {
  readonly iterable: AsyncIterableIterator<DataSourceRequest>;
  /** False when the stream has ended or holds MAX_UNREAD_REQUESTS unread. */
  push(request: DataSourceRequest): boolean;
}

/**
 * A hand-written iterator rather than an async generator: a generator's `return()` waits for a
 * pending `next()`, so an idle provider could not be unsubscribed until its next request.
 * `onEnd` runs once, however the stream ends.
 */
export function createProviderStream(onEnd: () => void, maxUnread = MAX_UNREAD_REQUESTS): ProviderStream {
  const unread: DataSourceRequest[] = [];
  let waiting: ((result: IteratorResult<DataSourceRequest>) => void) | undefined;
  let ended = false;

  const end = () => {
    if (ended) return;
    ended = true;
    unread.length = 0;
    onEnd();
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  };

  const iterable: AsyncIterableIterator<DataSourceRequest> = {
    next() {
      // A request whose turn is over has gone to another provider meanwhile: skip it.
      while (unread.length > 0) {
        const request = unread.shift() as DataSourceRequest;
        if (request.deadline.getTime() > Date.now()) return Promise.resolve({ value: request, done: false });
      }
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    return() {
      end();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error: unknown) {
      end();
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };

  return {
    iterable,
    push(request) {
      if (ended) return false;
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        resolve({ value: request, done: false });
        return true;
      }
      if (unread.length >= maxUnread) return false;
      unread.push(request);
      return true;
    },
  };
}
