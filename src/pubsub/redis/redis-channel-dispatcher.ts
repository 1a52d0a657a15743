import type { Redis } from 'ioredis';

/** What a subscriber connection delivers: the channel and the raw message. */
export type ChannelListener = (channel: string, message: Buffer) => void;

/** A channel by name (SUBSCRIBE) or a glob of channels (PSUBSCRIBE). */
export type ChannelTarget = { readonly channel: string } | { readonly glob: string };

export interface ChannelListening {
  /** Resolves once Redis confirmed the (P)SUBSCRIBE. */
  readonly ready: Promise<void>;
  close(): void;
}

interface Entry {
  readonly listeners: Set<ChannelListener>;
  readonly ready: Promise<void>;
}

/**
 * Routes the messages of one Redis subscriber connection to listeners, with one SUBSCRIBE or
 * PSUBSCRIBE per channel or glob however many listeners share it, and none left behind once
 * the last one leaves. ioredis subscribes again by itself after a reconnect.
 */
export class RedisChannelDispatcher {
  private readonly channels = new Map<string, Entry>();
  private readonly globs = new Map<string, Entry>();
  private readonly resubscribedListeners = new Set<(confirmed: Promise<void>) => void>();

  /** `redis` must be connected already: every later 'ready' is a reconnect. */
  constructor(private readonly redis: Redis) {
    redis.on('ready', () => {
      // ioredis sends the SUBSCRIBEs again just before 'ready' reaches us, so no message of the
      // new connection has arrived yet; Redis answers in order, so once this PING is answered
      // the subscriptions are in place. A PING that fails means lost again: the next 'ready' tells.
      const confirmed = redis.ping().then(() => undefined);
      confirmed.catch(() => undefined);
      for (const listener of [...this.resubscribedListeners]) listener(confirmed);
    });
    redis.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      this.dispatch(this.channels.get(channel.toString()), channel, message);
    });
    redis.on('pmessageBuffer', (glob: string, channel: Buffer, message: Buffer) => {
      this.dispatch(this.globs.get(glob), channel, message);
    });
  }

  /** Channels and globs subscribed at Redis. */
  get size(): number {
    return this.channels.size + this.globs.size;
  }

  /**
   * Calls `listener` each time the connection is back after a loss, before any message of the
   * new connection is dispatched; `confirmed` resolves once the subscriptions are in place
   * again. What was published meanwhile never reached them. Returns the unsubscribe.
   */
  onResubscribed(listener: (confirmed: Promise<void>) => void): () => void {
    this.resubscribedListeners.add(listener);
    return () => this.resubscribedListeners.delete(listener);
  }

  listen(target: ChannelTarget, listener: ChannelListener): ChannelListening {
    const isGlob = 'glob' in target;
    const name = isGlob ? target.glob : target.channel;
    const entries = isGlob ? this.globs : this.channels;
    let entry = entries.get(name);
    if (!entry) {
      const subscribed = isGlob ? this.redis.psubscribe(name) : this.redis.subscribe(name);
      const listeners = new Set<ChannelListener>();
      const ready = subscribed.then(
        () => undefined,
        (error: unknown) => {
          // Forget the failed subscription so that the next listener tries again.
          if (entries.get(name)?.listeners === listeners) entries.delete(name);
          throw error;
        },
      );
      ready.catch(() => undefined);
      entry = { listeners, ready };
      entries.set(name, entry);
    }
    const current = entry;
    current.listeners.add(listener);
    return {
      ready: current.ready,
      close: () => {
        if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
        if (entries.get(name) !== current) return;
        entries.delete(name);
        const unsubscribed = isGlob ? this.redis.punsubscribe(name) : this.redis.unsubscribe(name);
        // A connection that is closing or down has no subscription left to drop.
        unsubscribed.catch(() => undefined);
      },
    };
  }

  private dispatch(entry: Entry | undefined, channel: Buffer, message: Buffer): void {
    if (!entry) return;
    const name = channel.toString();
    for (const listener of entry.listeners) listener(name, message);
  }
}
