import { LimitExceededError } from '../../errors.ts';
import { createDeliveryQueue, type DeliveryQueue } from './delivery-queue.ts';
import type { CompiledFilter } from './message-filter.ts';
import type { FeedMessage, TopicDelivery } from './topic-message.ts';
import { encodePosition, type TopicCursor } from './topic-position.ts';

type MutableCursor =
  | { kind: 'kafka'; next: Map<number, bigint> }
  | { kind: 'broker'; after: string }
  | { kind: 'broker'; since: Date };

/**
 * One topicMessages subscription: its filter, its cursor in each topic, and its bounded
 * queue. Feeds call `deliver` for the messages that passed the filter; the cursor drops what
 * this subscriber has already had (after a Kafka rewind asked for by someone else) and gives
 * every delivered message the position to resume after it.
 */
export class TopicSubscriber {
  readonly filter: CompiledFilter;
  readonly queue: DeliveryQueue<TopicDelivery>;
  private readonly cursors = new Map<string, MutableCursor>();

  constructor(options: { filter: CompiledFilter; bufferBytes: number; onEnd: () => void }) {
    this.filter = options.filter;
    this.queue = createDeliveryQueue<TopicDelivery>({
      limitBytes: options.bufferBytes,
      overflow: () => ({
        kind: 'failure',
        error: new LimitExceededError(
          `the subscription fell more than ${options.bufferBytes} bytes behind and was ended; resume with the last position`,
        ),
      }),
      onEnd: options.onEnd,
    });
  }

  /** Where this subscriber starts in `topic`. */
  start(topic: string, cursor: TopicCursor): void {
    this.cursors.set(
      topic,
      cursor.kind === 'kafka' ? { kind: 'kafka', next: new Map(cursor.next) } : { ...cursor },
    );
  }

  /** Queues a message that passed the filter, unless this subscriber is already past it. */
  deliver(message: FeedMessage): void {
    const cursor = this.cursors.get(message.topic);
    if (cursor?.kind === 'kafka' && message.kafkaOffset !== null && message.partition !== null) {
      const next = cursor.next.get(message.partition);
      if (next !== undefined && message.kafkaOffset < next) return;
      cursor.next.set(message.partition, message.kafkaOffset + 1n);
    } else if (cursor?.kind === 'broker' && message.brokerPosition !== undefined) {
      this.cursors.set(message.topic, { kind: 'broker', after: message.brokerPosition });
    }
    this.queue.push(
      {
        kind: 'message',
        message: {
          topic: message.topic,
          key: message.key,
          data: message.data,
          timestamp: message.timestamp,
          partition: message.partition,
          offset:
            message.kafkaOffset !== null ? message.kafkaOffset.toString() : (message.brokerPosition ?? null),
          position: encodePosition(this.cursors),
        },
      },
      message.bytes,
    );
  }

  /** Ends the stream with an error the client sees (e.g. the source went away). */
  fail(error: TopicDelivery & { kind: 'failure' }): void {
    this.queue.push(error, 0);
    this.queue.end();
  }
}
