import type { KafkaRecord } from '../../pubsub/kafka/topic-consumer.ts';
import { BROKER_MESSAGE_PATHS, type BrokerMessageBounds } from '../broker-message-bounds.ts';
import { FilterIndex } from './filter-index.ts';
import { decodeValue, type FeedMessage } from './topic-message.ts';
import type { TopicSubscriber } from './topic-subscriber.ts';

/**
 * The subscribers of one KAFKA topic on this instance. The instance's one Kafka consumer hands
 * every record here; it is parsed once and matched once against the filter index. Subscribers
 * skip records they are already past, so a rewind for one of them costs the others nothing but
 * a comparison.
 */
export class KafkaTopicFeed {
  private readonly index = new FilterIndex<TopicSubscriber>();

  constructor(
    readonly topic: string,
    readonly kafkaTopic: string,
    private readonly bounds: BrokerMessageBounds,
  ) {}

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

  /**
   * Parses and dispatches one record; a tombstone (null value) carries no data and is skipped,
   * and so is a value out of bounds (logged and counted).
   */
  dispatch(record: KafkaRecord): void {
    if (record.value === null || this.index.size === 0) return;
    const data = decodeValue(record.value);
    if (!this.bounds.admits(BROKER_MESSAGE_PATHS.TOPIC, this.kafkaTopic, data)) return;
    const message: FeedMessage = {
      topic: this.topic,
      key: record.key === null ? null : record.key.toString('utf8'),
      data,
      timestamp: record.timestamp,
      partition: record.partition,
      kafkaOffset: record.offset,
      brokerPosition: undefined,
      bytes: record.value.byteLength,
    };
    this.index.match(message.data, (subscriber) => subscriber.deliver(message));
  }
}
