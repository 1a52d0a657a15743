import { UnavailableError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Broker, BrokerMessage, ResumeFrom, Subscription } from '../../pubsub/broker.ts';
import { subjects } from '../../pubsub/subjects.ts';
import { BROKER_MESSAGE_PATHS, type BrokerMessageBounds } from '../broker-message-bounds.ts';
import { matchesFilter } from './message-filter.ts';
import { TopicFeed } from './topic-feed.ts';
import { decodeValue, type FeedMessage } from './topic-message.ts';
import type { TopicSubscriber } from './topic-subscriber.ts';

/** Header carrying the message key of a broker topic. */
export const TOPIC_KEY_HEADER = 'X-Topic-Key';

/**
 * A broker message of a topic, parsed once for every subscriber; undefined when it is out of
 * `bounds` (logged and counted there) and must be skipped.
 */
export function toFeedMessage(
  topic: string,
  message: BrokerMessage,
  bounds: BrokerMessageBounds,
): FeedMessage | undefined {
  const data = decodeValue(message.payload);
  if (!bounds.admits(BROKER_MESSAGE_PATHS.TOPIC, message.subject, data)) return undefined;
  return {
    topic,
    key: message.headers[TOPIC_KEY_HEADER] ?? null,
    data,
    timestamp: message.timestamp,
    partition: null,
    kafkaOffset: null,
    brokerPosition: message.position,
    bytes: message.payload.byteLength,
  };
}

/**
 * The live messages of one BROKER topic on this instance: one broker subscription, shared by
 * every subscriber, each message matched once against the filter index.
 */
export class BrokerTopicFeed extends TopicFeed {
  private readonly subscription: Subscription;

  constructor(
    readonly topic: string,
    broker: Broker,
    private readonly log: Logger,
    private readonly bounds: BrokerMessageBounds,
  ) {
    super();
    this.subscription = broker.subscribe(subjects.topic(topic));
    void this.pump();
  }

  /** Returns true when the feed has no subscriber left and was stopped. */
  override remove(subscriber: TopicSubscriber): boolean {
    if (!super.remove(subscriber)) return false;
    this.subscription.unsubscribe();
    return true;
  }

  private async pump(): Promise<void> {
    try {
      for await (const message of this.subscription) {
        const feedMessage = toFeedMessage(this.topic, message, this.bounds);
        if (feedMessage) this.deliver(feedMessage);
      }
    } catch (error) {
      this.log.warn({ err: error, topic: this.topic }, 'broker subscription of a topic failed');
      const failure = new UnavailableError(`the broker subscription of topic "${this.topic}" failed`);
      this.failAll({ kind: 'failure', error: failure });
    }
  }
}

/**
 * A subscriber resuming a BROKER topic from a position: it gets its own broker subscription,
 * which replays the retained window after that position and continues live with no gap and
 * no duplicate (the Broker's promise). Broker positions are opaque, so it cannot be merged
 * into the shared feed; its filter is checked here, per message.
 */
export class ResumedBrokerFeed {
  private readonly subscription: Subscription;

  constructor(
    readonly topic: string,
    broker: Broker,
    from: ResumeFrom,
    private readonly subscriber: TopicSubscriber,
    private readonly log: Logger,
    private readonly bounds: BrokerMessageBounds,
  ) {
    this.subscription = broker.subscribe(subjects.topic(topic), { from });
    void this.pump();
  }

  stop(): void {
    this.subscription.unsubscribe();
  }

  private async pump(): Promise<void> {
    try {
      for await (const message of this.subscription) {
        const feedMessage = toFeedMessage(this.topic, message, this.bounds);
        if (!feedMessage) continue;
        if (matchesFilter(this.subscriber.filter, feedMessage.data)) this.subscriber.deliver(feedMessage);
      }
    } catch (error) {
      this.log.warn({ err: error, topic: this.topic }, 'resumed broker subscription of a topic failed');
      this.subscriber.fail({
        kind: 'failure',
        error: new UnavailableError(`the broker subscription of topic "${this.topic}" failed`),
      });
    }
  }
}
