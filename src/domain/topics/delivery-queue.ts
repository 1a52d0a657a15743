/**
 * The buffer between a topic feed and one subscription: feeds push synchronously, the
 * transport pulls at its own pace. Bounded in bytes (DESIGN.md decision 5): a subscriber that
 * falls further behind is sent `overflow` as its last item and ended, never allowed to grow.
 */
export interface DeliveryQueue<T> {
  /** Queues an item; false once the queue has ended (the caller may drop the subscriber). */
  push(item: T, bytes: number): boolean;
  /** Ends the stream after what is queued. */
  end(): void;
  readonly ended: boolean;
  readonly iterator: AsyncIterableIterator<T>;
}

export function createDeliveryQueue<T>(options: {
  readonly limitBytes: number;
  /** The last item a subscriber that fell behind receives. */
  readonly overflow: () => T;
  /** Called once when the stream is over, whichever side ended it. */
  readonly onEnd: () => void;
}): DeliveryQueue<T> {
  const items: T[] = [];
  const sizes: number[] = [];
  let head = 0;
  let bytes = 0;
  let ended = false;
  let finished = false;
  let waiting: ((result: IteratorResult<T>) => void) | undefined;

  const finish = () => {
    if (finished) return;
    finished = true;
    options.onEnd();
  };

  const take = (): T | undefined => {
    if (head >= items.length) return undefined;
    const item = items[head] as T;
    bytes -= sizes[head] ?? 0;
    head += 1;
    // Compact now and then so that a long-lived queue does not keep consumed slots.
    if (head > 1024 && head * 2 > items.length) {
      items.splice(0, head);
      sizes.splice(0, head);
      head = 0;
    }
    return item;
  };

  const iterator: AsyncIterableIterator<T> = {
    next() {
      const item = take();
      if (item !== undefined) return Promise.resolve({ value: item, done: false });
      if (ended) {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    return() {
      ended = true;
      items.length = 0;
      sizes.length = 0;
      head = 0;
      bytes = 0;
      const resolve = waiting;
      waiting = undefined;
      resolve?.({ value: undefined, done: true });
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };

  const deliver = (item: T, size: number) => {
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve({ value: item, done: false });
      return;
    }
    items.push(item);
    sizes.push(size);
    bytes += size;
  };

  return {
    push(item, size) {
      if (ended) return false;
      if (bytes + size > options.limitBytes && head < items.length) {
        items.length = 0;
        sizes.length = 0;
        head = 0;
        bytes = 0;
        deliver(options.overflow(), 0);
        ended = true;
        return false;
      }
      deliver(item, size);
      return true;
    },
    end() {
      if (ended) return;
      ended = true;
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        resolve({ value: undefined, done: true });
        finish();
      }
    },
    get ended() {
      return ended;
    },
    iterator,
  };
}
