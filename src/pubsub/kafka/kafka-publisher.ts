import { type IHeaders, type Message, Partitioners, type Producer } from 'kafkajs';
import { PublishHeldError } from '../errors.ts';
import { INTERNAL_HEADERS } from './kafka-consumer-feed.ts';
import { isRefusalOfOne, isTooLargeRefusal, ProduceBatchError } from './kafka-publish-errors.ts';
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

/** The messages of one topic-partition, written one request at a time. */
interface Lane {
  readonly topic: string;
  readonly partition: number;
  readonly queue: Array<{ pending: Pending; message: Message }>;
  sending: boolean;
}

/** Most messages one produce request carries. */
const MAX_BATCH = 1_000;

/**
 * Writes messages with one produce request per partition and batch instead of one per message:
 * what is published to a partition while its request is in flight goes into its next one. One
 * request at a time per partition keeps each subject's order without the idempotent producer
 * (whose endless retries would hang a publish during an outage). The partition is chosen here,
 * with kafkajs's Java-compatible partitioner, so each message's offset is known from the
 * request's base offset.
 *
 * **One partition per request.** Kafka writes each partition of a produce request on its own,
 * but kafkajs fails the whole request on the first partition's error and its retrier sends the
 * whole request again: a request that mixed partitions wrote the healthy partitions' messages
 * up to four times and still rejected them, and the device outbox then sent them once more,
 * after newer ones. So a request carries one partition; the partitions' requests run side by side.
 *
 * **A failure holds what waits behind it.** When a partition's request fails (other than a refusal
 * for good of one message), the messages queued behind it for that partition are rejected too
 * (PublishHeldError), never written ahead of the ones that failed: a caller that keeps the
 * rejected messages and sends them again in order (the device outbox) keeps each subject's order.
 */
export class KafkaPublisher {
  private incoming: Pending[] = [];
  private routing = false;
  private readonly lanes = new Map<string, Lane>();
  private readonly partitioner = Partitioners.DefaultPartitioner();

  constructor(
    private readonly producer: Producer,
    private readonly topics: KafkaTopicAdmin,
  ) {}

  publish(message: OutgoingMessage): Promise<WrittenMessage> {
    return new Promise((resolve, reject) => {
      this.incoming.push({ message, resolve, reject });
      if (!this.routing) {
        this.routing = true;
        setImmediate(() => void this.route());
      }
    });
  }

  /** Fails whatever has not been sent yet. */
  abandon(error: Error): void {
    for (const pending of this.incoming.splice(0)) pending.reject(error);
    for (const lane of this.lanes.values()) {
      for (const { pending } of lane.queue.splice(0)) pending.reject(error);
    }
  }

  /** Puts what was published into its partition's lane, in order, and starts the idle lanes. */
  private async route(): Promise<void> {
    while (this.incoming.length > 0) {
      const batch = this.incoming.splice(0);
      const touched = new Set<Lane>();
      /** The batch's lanes, in order; queued only once every message has one. */
      const lanes: Lane[] = new Array(batch.length);
      try {
        const topicNames = [...new Set(batch.map((pending) => pending.message.topic))];
        await this.topics.ensureTopics(topicNames);
        const metadata = new Map(
          await Promise.all(
            topicNames.map(async (topic) => [topic, await this.topics.partitionsOf(topic)] as const),
          ),
        );
        // A batch is mostly one subject (one device's): the lane of a keyed message is looked up
        // once per run of the same topic and key, not per message (murmur2 and a Map lookup).
        let last: { topic: string; key: string; lane: Lane } | undefined;
        for (let index = 0; index < batch.length; index++) {
          const { topic, key, value } = (batch[index] as Pending).message;
          let lane: Lane;
          if (key !== null && last?.key === key && last.topic === topic) lane = last.lane;
          else {
            const partition = this.partitioner({
              topic,
              partitionMetadata: metadata.get(topic) ?? [],
              message: { key, value },
            });
            lane = this.laneOf(topic, partition);
            if (key !== null) last = { topic, key, lane };
            touched.add(lane);
          }
          lanes[index] = lane;
        }
      } catch (error) {
        const failure = batch.length === 1 ? error : new ProduceBatchError(error, batch.length);
        for (const pending of batch) pending.reject(failure);
        continue;
      }
      for (let index = 0; index < batch.length; index++) {
        const pending = batch[index] as Pending;
        const lane = lanes[index] as Lane;
        const { key, value, headers, timestamp } = pending.message;
        lane.queue.push({
          pending,
          message: { key, value, headers, timestamp: String(timestamp), partition: lane.partition },
        });
      }
      for (const lane of touched) if (!lane.sending) void this.drain(lane);
    }
    this.routing = false;
  }

  private laneOf(topic: string, partition: number): Lane {
    const slot = `${topic}\u0000${partition}`;
    let lane = this.lanes.get(slot);
    if (!lane) {
      lane = { topic, partition, queue: [], sending: false };
      this.lanes.set(slot, lane);
    }
    return lane;
  }

  private async drain(lane: Lane): Promise<void> {
    lane.sending = true;
    while (lane.queue.length > 0) {
      const batch = lane.queue.splice(0, MAX_BATCH);
      const failure = await this.send(lane, batch);
      if (failure !== undefined) this.hold(lane, failure);
    }
    lane.sending = false;
    this.lanes.delete(`${lane.topic}\u0000${lane.partition}`);
  }

  /** Rejects what waits in the lane behind a failed message (see the class comment). */
  private hold(lane: Lane, failure: unknown): void {
    for (const { pending, message } of lane.queue.splice(0)) {
      pending.reject(new PublishHeldError(subjectOf(message) ?? lane.topic, failure));
    }
  }

  /**
   * One request for the batch of one partition; settles each message. Returns the error that
   * stops the lane (a failure of the request, or of a message sent alone that was no refusal
   * for good); undefined when the lane goes on.
   */
  private async send(
    lane: Lane,
    batch: ReadonlyArray<{ pending: Pending; message: Message }>,
  ): Promise<unknown> {
    let base: number;
    try {
      const results = await this.producer.sendBatch({
        acks: -1,
        topicMessages: [{ topic: lane.topic, messages: batch.map(({ message }) => message) }],
      });
      const result = results.find((entry) => entry.partition === lane.partition) ?? results[0];
      base = Number(result?.baseOffset ?? result?.offset ?? Number.NaN);
    } catch (error) {
      // Kafka refused the partition's record batch whole as too large (its limit is on the
      // batch), so nothing of it was written: each message alone, in order, tells which are.
      if (batch.length > 1 && isTooLargeRefusal(error)) return this.sendEachAlone(lane, batch);
      const failure = batch.length === 1 ? error : new ProduceBatchError(error, batch.length);
      for (const { pending } of batch) pending.reject(failure);
      return failure;
    }
    // Messages of one partition in one request get consecutive offsets, in request order.
    batch.forEach(({ pending }, index) => {
      pending.resolve({ topic: lane.topic, partition: lane.partition, offset: base + index });
    });
    return undefined;
  }

  private async sendEachAlone(
    lane: Lane,
    batch: ReadonlyArray<{ pending: Pending; message: Message }>,
  ): Promise<unknown> {
    for (let index = 0; index < batch.length; index++) {
      const entry = batch[index] as { pending: Pending; message: Message };
      const failure = await this.send(lane, [entry]);
      // A refusal for good of this one message holds nothing back; anything else does.
      if (failure === undefined || isRefusalOfOne(failure)) continue;
      for (const { pending, message } of batch.slice(index + 1)) {
        pending.reject(new PublishHeldError(subjectOf(message) ?? lane.topic, failure));
      }
      return failure;
    }
    return undefined;
  }
}

/** The subject a message carries in its header (set by the broker's publish), if any. */
function subjectOf(message: Message): string | undefined {
  const value = message.headers?.[INTERNAL_HEADERS.subject];
  return typeof value === 'string' || Buffer.isBuffer(value) ? String(value) : undefined;
}
