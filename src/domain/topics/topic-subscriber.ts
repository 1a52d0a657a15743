import { LimitExceededError } from '../../errors.ts';
import { createDeliveryQueue, type DeliveryQueue } from './delivery-queue.ts';
import type { CompiledFilter } from './message-filter.ts';
import type { FeedMessage, TopicDelivery, TopicMessage } from './topic-message.ts';
import { encodePosition, type TopicCursor } from './topic-position.ts';

/**
 * One topicMessages subscription: its filter, its cursor in each topic, and its bounded
 * queue. Feeds call `deliver` for the messages that passed the filter; the cursor drops what
 * this subscriber has already had (after a Kafka rewind asked for by someone else) and gives
 * every delivered message the position to resume after it.
 */
export class TopicSubscriber {
  readonly filter: CompiledFilter;
  readonly queue: DeliveryQueue<TopicDelivery>;
  /**
   * Replaced, never changed, on every delivery: each message keeps the cursors as they were
   * after it, and only encodes them into a position if somebody reads it.
   */
  private cursors: ReadonlyMap<string, TopicCursor> = new Map();

  constructor(options: {
    filter: CompiledFilter;
    bufferBytes: number;
    onEnd: () => void;
    /** Called once when the buffer overflows and the subscription is ended (a counted refusal). */
    onOverflow?: () => void;
  }) {
    this.filter = options.filter;
    this.queue = createDeliveryQueue<TopicDelivery>({
      limitBytes: options.bufferBytes,
      overflow: () => {
        options.onOverflow?.();
        return {
          kind: 'failure',
          error: new LimitExceededError(
            `the subscription fell more than ${options.bufferBytes} bytes behind and was ended; resume with the last position`,
          ),
        };
      },
      onEnd: options.onEnd,
    });
  }

  /** Where this subscriber starts in `topic`. */
  start(topic: string, cursor: TopicCursor): void {
    this.cursors = new Map(this.cursors).set(topic, cursor);
  }

  /** Queues a message that passed the filter, unless this subscriber is already past it. */
  deliver(message: FeedMessage): void {
    const cursor = this.cursors.get(message.topic);
    if (cursor?.kind === 'kafka' && message.kafkaOffset !== null && message.partition !== null) {
      const next = cursor.next.get(message.partition);
      if (next !== undefined && message.kafkaOffset < next) return;
      const advanced = new Map(cursor.next).set(message.partition, message.kafkaOffset + 1n);
      this.cursors = new Map(this.cursors).set(message.topic, { kind: 'kafka', next: advanced });
    } else if (cursor?.kind === 'broker' && message.brokerPosition !== undefined) {
      this.cursors = new Map(this.cursors).set(message.topic, {
        kind: 'broker',
        after: message.brokerPosition,
      });
    }
    const delivered = new DeliveredMessage(message, this.cursors);
    this.queue.push({ kind: 'message', message: delivered }, message.bytes);
  }

  /** Ends the stream with an error the client sees (e.g. the source went away). */
  fail(error: TopicDelivery & { kind: 'failure' }): void {
    this.queue.push(error, 0);
    this.queue.end();
  }
}

/** A message as one subscriber got it; the position is encoded only if read. */
class DeliveredMessage implements TopicMessage {
  private encoded: string | undefined;
  constructor(
    private readonly source: FeedMessage,
    private readonly cursors: ReadonlyMap<string, TopicCursor>,
  ) {}
  get topic() {
    return this.source.topic;
  }
  get key() {
    return this.source.key;
  }
  get data() {
    return this.source.data;
  }
  get timestamp() {
    return this.source.timestamp;
  }
  get partition() {
    return this.source.partition;
  }
  get offset() {
    const { kafkaOffset, brokerPosition } = this.source;
    return kafkaOffset !== null ? kafkaOffset.toString() : (brokerPosition ?? null);
  }
  get position() {
    this.encoded ??= encodePosition(this.cursors);
    return this.encoded;
  }
}
