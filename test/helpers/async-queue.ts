/**
 * Collects values pushed by a callback API (a socket, a subscription) so that a test can wait
 * for the next one with a time-out instead of sleeping.
 */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<{ resolve: (value: T) => void; reject: (error: Error) => void }> = [];
  private failure: Error | undefined;

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(item);
    else this.items.push(item);
  }

  /** Fails every pending and future `next` with this error. */
  fail(error: Error): void {
    this.failure = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** Items received and not yet taken. */
  get pending(): readonly T[] {
    return this.items;
  }

  /** The next item; rejects after `timeoutMs` naming what was awaited. */
  next(timeoutMs = 5_000, what = 'the next item'): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve: (value: T) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next `count` items, in order. */
  async take(count: number, timeoutMs = 5_000, what = 'items'): Promise<T[]> {
    const taken: T[] = [];
    const deadline = Date.now() + timeoutMs;
    while (taken.length < count) {
      taken.push(
        await this.next(Math.max(1, deadline - Date.now()), `${what} (${taken.length}/${count} so far)`),
      );
    }
    return taken;
  }
}

/** Resolves when `check` returns true, polling every 20 ms; rejects after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'a condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
