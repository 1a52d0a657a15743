/**
 * A one-shot event that can cut a pending `iterator.next()` short: what the shutdown and token
 * expiry plugins need. `Promise.race([next(), longLivedPromise])` would leak: every race leaves a
 * reaction on the long-lived promise that holds that event's result until the promise settles,
 * so a busy subscription grows memory by one event per message. Here each race forgets its
 * waiter as soon as it is decided.
 */
export interface Interruption<V> {
  /** Decides every pending and future race with `value`; later calls do nothing. */
  fire(value: V): void;
  readonly fired: boolean;
  /** `promise`'s outcome, or the interruption's value if it fires first. */
  race<T>(promise: Promise<T>): Promise<T | V>;
}

export function createInterruption<V>(): Interruption<V> {
  let fired: { readonly value: V } | undefined;
  const waiters = new Set<(value: V) => void>();
  return {
    fire(value) {
      if (fired) return;
      fired = { value };
      for (const waiter of waiters) waiter(value);
      waiters.clear();
    },
    get fired() {
      return fired !== undefined;
    },
    race<T>(promise: Promise<T>): Promise<T | V> {
      if (fired) {
        promise.catch(() => undefined); // decided already; its outcome is not wanted
        return Promise.resolve(fired.value);
      }
      return new Promise<T | V>((resolve, reject) => {
        const waiter = (value: V) => resolve(value);
        waiters.add(waiter);
        promise.then(
          (value) => {
            waiters.delete(waiter);
            resolve(value);
          },
          (error: unknown) => {
            waiters.delete(waiter);
            reject(error);
          },
        );
      });
    },
  };
}
