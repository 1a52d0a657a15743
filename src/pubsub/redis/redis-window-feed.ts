import { isAppError, messageOf } from '../../errors.ts';
import type { BrokerMessage } from '../broker.ts';
import { reconnectDelayMs } from '../connection-health.ts';
import { BrokerUnavailableError, NotRetainedError } from '../errors.ts';
import type { BrokerFeed, FeedSink } from '../shared-subscriptions.ts';
import type { ChannelListening } from './redis-channel-dispatcher.ts';
import { compareStreamIds, type RedisRetainedWindows } from './redis-retained-window.ts';

/** Where a window feed starts: after a stream id, at a time, or after what the window holds now. */
export type WindowStart = { readonly after: string } | { readonly time: Date } | 'now';

/** What a window feed needs of the Redis broker that opens it. */
export interface WindowFeedContext {
  readonly windows: RedisRetainedWindows;
  /** Listens to the channels of `pattern`, messages carrying their id in `window`. */
  listen(pattern: string, window: string, onMessage: (message: BrokerMessage) => void): ChannelListening;
  /**
   * Calls `listener` when the subscriber connection is back, before its first message;
   * `confirmed` resolves once it is subscribed again. Returns the unsubscribe.
   */
  onResubscribed(listener: (confirmed: Promise<void>) => void): () => void;
  /** How long a catch-up may keep failing before the feed fails. */
  readonly catchUpTimeoutMs: number;
  /** Longest wait between two catch-up attempts. */
  readonly retryMaxWaitMs: number;
}

/**
 * A feed over a retained window (a Redis Stream), stitched by stream id: listen first
 * (buffering), read the window from the start, then pass on the buffered and later live
 * messages newer than the last one delivered. The publish script makes "in the stream" and
 * "published" one step, so nothing falls between.
 *
 * Pub/sub keeps nothing for a subscriber that is away, so the same catch-up runs again each
 * time the subscriber connection is back (a restarted Redis, a dropped connection): what the
 * window took in meanwhile is read after the last delivered id. Nothing acknowledged is
 * missed, nothing is delivered twice. A catch-up that cannot read the window within
 * `catchUpTimeoutMs` fails the feed (UNAVAILABLE) rather than going on with a hole.
 */
export function openWindowFeed(
  context: WindowFeedContext,
  pattern: string,
  start: WindowStart,
  sink: FeedSink,
): BrokerFeed {
  const notBefore = typeof start === 'object' && 'time' in start ? start.time.getTime() : undefined;
  let stopped = false;
  let window: string | undefined;
  /** The exclusive (`(id`) or inclusive (`ms-0`) start of the next read of the window. */
  let readFrom = '';
  let lastId: string | undefined;
  let catchingUp = true;
  let catchUpAgain = false;
  const buffered: BrokerMessage[] = [];
  let listening: ChannelListening | undefined;

  const pass = (message: BrokerMessage) => {
    if (message.position !== undefined) {
      if (lastId !== undefined && compareStreamIds(message.position, lastId) <= 0) return;
      lastId = message.position;
      readFrom = `(${lastId}`;
    }
    if (notBefore !== undefined && message.timestamp.getTime() < notBefore) return;
    sink.deliver(message);
  };

  const catchUp = async (): Promise<void> => {
    catchingUp = true;
    for (const message of await context.windows.replay(window as string, pattern, readFrom)) pass(message);
    for (const message of buffered.splice(0)) pass(message);
    catchingUp = false;
  };

  /** Catches up after a reconnect, retrying while the commands connection is not back yet. */
  const catchUpAfterReconnect = async (): Promise<void> => {
    const since = Date.now();
    for (let attempt = 1; !stopped; attempt++) {
      try {
        await catchUp();
        return;
      } catch (error) {
        if (Date.now() - since > context.catchUpTimeoutMs) {
          throw new BrokerUnavailableError(
            `cannot read the retained window of "${pattern}" after a reconnect: ${messageOf(error)}`,
            { cause: error },
          );
        }
        await new Promise((resolve) =>
          setTimeout(resolve, reconnectDelayMs(attempt, context.retryMaxWaitMs)),
        );
      }
    }
  };

  let opened = false;
  let running: Promise<void> | undefined;
  const resume = (): void => {
    if (stopped) return;
    catchingUp = true; // buffer live messages from now on, until the window has been read
    if (running || !opened) {
      catchUpAgain = true;
      return;
    }
    running = (async () => {
      try {
        do {
          catchUpAgain = false;
          await catchUpAfterReconnect();
        } while (catchUpAgain && !stopped);
      } catch (error) {
        stop();
        sink.fail(error as Error);
      } finally {
        running = undefined;
      }
    })();
  };

  const stopListening = context.onResubscribed((confirmed) => {
    // Live messages of the new connection wait until the window has been read: one of them
    // passing first would move the last id past what was missed.
    catchingUp = true;
    confirmed.then(resume, () => undefined);
  });
  const stop = () => {
    stopped = true;
    stopListening();
    listening?.close();
  };

  const ready = (async () => {
    try {
      window = await context.windows.find(pattern);
      if (window === undefined) throw new NotRetainedError(pattern);
      const found = window;
      readFrom =
        start === 'now'
          ? `(${await context.windows.lastId(found)}`
          : 'after' in start
            ? `(${start.after}`
            : `${start.time.getTime()}-0`;
      if (stopped) return;
      listening = context.listen(pattern, found, (message) => {
        if (catchingUp) buffered.push(message);
        else pass(message);
      });
      await listening.ready;
      await catchUp();
      opened = true;
      // Reconnected while the window was being read: read what came meanwhile.
      if (catchUpAgain) resume();
    } catch (error) {
      stop();
      if (isAppError(error)) throw error;
      throw new BrokerUnavailableError(`cannot subscribe to "${pattern}" on Redis: ${messageOf(error)}`, {
        cause: error,
      });
    }
  })();

  return { ready, close: stop };
}
