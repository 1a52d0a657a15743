/** @default 10 ms: how often a congested socket or response is looked at again. */
const POLL_MS = 10;

/**
 * Undefined when `ready()` holds now, else a promise of the moment it does. For streams that may
 * go only as fast as the client reads (replay at speed 0): neither ws nor a web stream tells when
 * its buffer has drained below a level, so a congested one is polled; an idle one costs nothing.
 */
export function pollUntil(ready: () => boolean): Promise<void> | undefined {
  if (ready()) return undefined;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!ready()) return;
      clearInterval(timer);
      resolve();
    }, POLL_MS);
  });
}
