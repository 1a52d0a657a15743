import { FilterIndex } from './filter-index.ts';
import type { FeedMessage, TopicDelivery } from './topic-message.ts';
import type { TopicSubscriber } from './topic-subscriber.ts';

/**
 * The subscribers of one topic on this instance, indexed by their filters: each message is
 * parsed once by the source (BrokerTopicFeed, KafkaTopicFeed) and matched once here.
 */
export class TopicFeed {
  protected readonly index = new FilterIndex<TopicSubscriber>();

  get size(): number {
    return this.index.size;
  }

  add(subscriber: TopicSubscriber): void {
    this.index.add(subscriber, subscriber.filter);
  }

  /** Returns true when no subscriber is left. */
  remove(subscriber: TopicSubscriber): boolean {
    this.index.remove(subscriber);
    return this.index.size === 0;
  }

  /** The source broke for good: every subscriber ends with this error (UNAVAILABLE). */
  failAll(failure: TopicDelivery & { kind: 'failure' }): void {
    for (const subscriber of this.index.subscribers()) subscriber.fail(failure);
  }

  /** Hands the message to every subscriber whose filter it matches. */
  protected deliver(message: FeedMessage): void {
    this.index.match(message.data, (subscriber) => subscriber.deliver(message));
  }
}
