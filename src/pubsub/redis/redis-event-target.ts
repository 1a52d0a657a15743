import { EventEmitter } from 'node:events';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import type { TypedEvent } from '@graphql-yoga/typed-event-target';
import type { Redis } from 'ioredis';
import type { ChannelListening, RedisChannelDispatcher } from './redis-channel-dispatcher.ts';
import { hasWildcards, type RedisNames } from './redis-subject-mapping.ts';

/** What one event carries: the channel it came on (a glob spans many) and its raw bytes. */
interface RawDelivery {
  readonly channel: string;
  readonly raw: Buffer;
}

type DeliveryEvent = TypedEvent<string, RawDelivery>;

/** Live subscriptions to subjects and patterns of the Redis broker. */
export interface RedisLiveTarget {
  /** Calls `onMessage` with each message on the channels of `pattern`, as raw bytes. */
  listen(pattern: string, onMessage: (channel: string, raw: Buffer) => void): ChannelListening;
}

/**
 * The Redis backend's live subscriptions through `@graphql-yoga/redis-event-target` (the design
 * card's Redis pub/sub): one event listener per local feed, one (P)SUBSCRIBE per pattern.
 * The event target is handed a subscriber that stands on the broker's channel dispatcher, for
 * three things the bare ioredis client would lose: binary payloads (the dispatcher reads
 * `messageBuffer`), NATS patterns (a pattern with wildcards is a PSUBSCRIBE glob, its events
 * typed by the pattern) and knowing when Redis confirmed a subscription (`ready`).
 * Publishing stays on the retained windows' script, which adds to the window streams and
 * publishes in one step so that every message carries its positions.
 */
export function createRedisLiveTarget(
  dispatcher: RedisChannelDispatcher,
  names: RedisNames,
): RedisLiveTarget {
  const messages = new EventEmitter();
  const subscriptions = new Map<string, ChannelListening>();
  // The event target's subscriber side: `subscribe(topic)` and `on('message')`, over the dispatcher.
  const subscribeClient = {
    on(event: string, listener: (...args: unknown[]) => void) {
      messages.on(event, listener);
      return subscribeClient;
    },
    subscribe(pattern: string) {
      const target = hasWildcards(pattern)
        ? { glob: names.glob(pattern) }
        : { channel: names.channel(pattern) };
      const listening = dispatcher.listen(target, (channel, raw) => {
        const delivery: RawDelivery = { channel, raw };
        messages.emit('message', pattern, delivery);
      });
      subscriptions.set(pattern, listening);
      return listening.ready;
    },
    unsubscribe(pattern: string) {
      subscriptions.get(pattern)?.close();
      subscriptions.delete(pattern);
      return Promise.resolve();
    },
  };
  const target = createRedisEventTarget<DeliveryEvent>({
    // Never used: nothing is published through dispatchEvent (see above).
    publishClient: subscribeClient as unknown as Redis,
    subscribeClient: subscribeClient as unknown as Redis,
    // The dispatcher already hands over { channel, raw }: nothing to parse.
    serializer: { stringify: () => '', parse: (delivery) => delivery },
  });

  return {
    listen(pattern, onMessage) {
      const listener = (event: DeliveryEvent) => onMessage(event.detail.channel, event.detail.raw);
      target.addEventListener(pattern, listener);
      // Present from the first listener of the pattern until its last one leaves.
      const subscription = subscriptions.get(pattern) as ChannelListening;
      return {
        ready: subscription.ready,
        close: () => target.removeEventListener(pattern, listener),
      };
    },
  };
}
