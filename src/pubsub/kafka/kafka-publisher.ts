import { type IHeaders, type Message, Partitioners, type Producer } from 'kafkajs';
import { isTooLargeRefusal, ProduceBatchError } from './kafka-publish-errors.ts';
import type { KafkaTopicAdmin } from './kafka-topic-admin.ts';

/** One message to write, and where it went once Kafka has it. */
export interface OutgoingMessage {
  readonly topic: string;
  /** null: no key, the partitioner spreads such messages. */
  readonly key: string | null;
  readonly value: Buffer;
  readonly headers: IHeaders;
  readonly timestamp: number;
}

export interface WrittenMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

interface Pending {
  readonly message: OutgoingMessage;
  resolve(written: WrittenMessage): void;
  reject(error: unknown): void;
}

/** Most messages one produce request carries. */
const MAX_BATCH = 1_000;

/**
 * Writes messages with one produce request per batch instead of one per message: what is
 * published while a request is in flight goes into the next one. One request at a time keeps
 * each subject's order without the idempotent producer (whose endless retries would hang a
 * publish during an outage). The partition is chosen here, with kafkajs's Java-compatible
 * partitioner, so each message's offset is known from the batch's base offset.
 */
export class KafkaPublisher {
  private queue: Pending[] = [];
  private flushing = false;
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(
    private readonly producer: Producer,
    private readonly topics: KafkaTopicAdmin,
  ) {}

  publish(message: OutgoingMessage): Promise<WrittenMessage> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Fails whatever has not been sent yet. */
  abandon(error: Error): void {
    for (const pending of this.queue.splice(0)) pending.reject(error);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.send(batch);
      } catch (error) {
        const failure = batch.length === 1 ? error : new ProduceBatchError(error, batch.length);
        for (const pending of batch) pending.reject(failure);
      }
    }
    this.flushing = false;
  }

  private async sendAlone(pending: Pending): Promise<void> {
    try {
      await this.send([pending]);
    } catch (error) {
      pending.reject(error);
    }
  }

  private async send(batch: readonly Pending[]): Promise<void> {
    const topicNames = [...new Set(batch.map((pending) => pending.message.topic))];
    await this.topics.ensureTopics(topicNames);
    const byTopicPartition = new Map<string, Pending[]>();
    const topicMessages = new Map<string, Message[]>();
    for (const pending of batch) {
      const { topic, key, value, headers, timestamp } = pending.message;
      const partitionMetadata = await this.topics.partitionsOf(topic);
      const message: Message = { key, value, headers, timestamp: String(timestamp) };
      const partition = this.partitioner({ topic, partitionMetadata, message });
      const slot = `${topic}\u0000${partition}`;
      appendTo(byTopicPartition, slot, pending);
      appendTo(topicMessages, topic, { ...message, partition });
    }
    let results: Awaited<ReturnType<Producer['sendBatch']>>;
    try {
      results = await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...topicMessages].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (error) {
      // Kafka refused the record batch of the one partition whole as too large (its limit is on
      // the batch), so nothing of it was written: each message alone, in order, tells which are.
      if (batch.length > 1 && byTopicPartition.size === 1 && isTooLargeRefusal(error)) {
        for (const pending of batch) await this.sendAlone(pending);
        return;
      }
      throw error;
    }
    for (const result of results) {
      const written = byTopicPartition.get(`${result.topicName}\u0000${result.partition}`) ?? [];
      const base = Number(result.baseOffset ?? result.offset ?? Number.NaN);
      // Messages of one partition in one request get consecutive offsets, in request order.
      written.forEach((pending, index) => {
        pending.resolve({ topic: result.topicName, partition: result.partition, offset: base + index });
      });
      byTopicPartition.delete(`${result.topicName}\u0000${result.partition}`);
    }
    for (const leftover of byTopicPartition.values()) {
      for (const pending of leftover) pending.reject(new Error('Kafka did not acknowledge the message'));
    }
  }
}

function appendTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
