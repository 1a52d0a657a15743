import { untilDeadline } from '../deadline.ts';
import type { Logger } from '../log.ts';

/** Something that runs until it is stopped: a connection, a consumer, a timer, a server. */
export interface Stoppable {
  stop(): Promise<void> | void;
}

/**
 * The one lifecycle shape of the composition root: `start()` resolves when the service is ready
 * (work that may wait on a dependency continues in the background), `stop()` ends it and waits
 * for what it still has in flight.
 */
export interface Service extends Stoppable {
  start(): Promise<void> | void;
}

/**
 * The stop order derived from the build order: every service started (or opened) through it
 * pushes its stop, and `stop()` runs them in reverse, so nothing is stopped before what was built
 * on it. A failed start stops what had started before it (a half-built app holds nothing open).
 */
export class Lifecycle {
  readonly #log: Logger;
  readonly #running: Array<{ name: string; stop: () => Promise<void> | void }> = [];
  #stopping: Promise<void> | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Starts `service` and remembers to stop it; returns it for chaining. */
  async start<S extends Service>(name: string, service: S): Promise<S> {
    await service.start();
    this.#running.push({ name, stop: () => service.stop() });
    return service;
  }

  /**
   * Remembers to stop something that runs from the moment it is built (an open database, a
   * connected broker); `stop` undefined means someone else owns it (a test's shared broker).
   */
  adopt(name: string, stop: (() => Promise<void> | void) | undefined): void {
    if (stop) this.#running.push({ name, stop });
  }

  /**
   * Runs `build`; when it throws, stops what was started so far and rethrows. Start-up wraps
   * itself in this, so a bad TOPICS_FILE or an unreachable broker leaves no database open.
   */
  async building<T>(build: () => Promise<T>): Promise<T> {
    try {
      return await build();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Stops everything in reverse order of start, once; a failing stop is logged, the rest go on.
   * Past `deadline` (epoch ms) no stop is waited for any more: the rest are begun one after the
   * other without waiting, so a database that does not answer cannot hold the process.
   */
  stop(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    this.#stopping ??= this.#stopAll(deadline);
    return this.#stopping;
  }

  async #stopAll(deadline: number): Promise<void> {
    for (const { name, stop } of this.#running.splice(0).reverse()) {
      const stopping = (async () => stop())().catch((error: unknown) => {
        this.#log.error({ err: error, service: name }, 'stopping a service failed');
      });
      await (Number.isFinite(deadline) ? untilDeadline(stopping, deadline) : stopping);
    }
  }
}
