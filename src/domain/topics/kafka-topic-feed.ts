import type { PartitionRecord } from '../../pubsub/partitioned-log.ts';
import { BROKER_MESSAGE_PATHS, type BrokerMessageBounds } from '../broker-message-bounds.ts';
import { TopicFeed } from './topic-feed.ts';
import { decodeValue, type FeedMessage } from './topic-message.ts';

/**
 * The subscribers of one KAFKA topic on this instance. The instance's one Kafka consumer hands
 * every record here; it is parsed once and matched once against the filter index. Subscribers
 * skip records they are already past, so a rewind for one of them costs the others nothing but
 * a comparison.
 */
export class KafkaTopicFeed extends TopicFeed {
  constructor(
    readonly topic: string,
    readonly kafkaTopic: string,
    private readonly bounds: BrokerMessageBounds,
  ) {
    super();
  }

  /**
   * Parses and dispatches one record; a tombstone (null value) carries no data and is skipped,
   * and so is a value out of bounds (logged and counted).
   */
  dispatch(record: PartitionRecord): void {
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
    this.deliver(message);
  }
}
